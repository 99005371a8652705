//! Account plumbing for health checks: the caller passes `(bank, oracle)` in remaining accounts
//! for every active position, in slot order. This module validates that list (each mistake has
//! its own error), reads the prices, and hands plain numbers to the pure `health` module.

use anchor_lang::prelude::*;
use anchor_lang::Discriminator;

use crate::error::MarginError;
use crate::health::{
    find_position, AccountTotals, BankRisk, Health, PositionShares, PricedPosition,
};
use crate::oracle::{
    normalise_last_sides, read_bank_last_raw, read_bank_price_sides, OracleAccount, PriceSide,
};
use crate::state::{Bank, Group, MarginAccount};

/// A bank the instruction already holds (mutably) and that must not be loaded again.
pub struct LoadedBank<'a> {
    pub key: Pubkey,
    pub bank: &'a Bank,
}

/// Health of `account`, and (if asked for) its per-position breakdown in slot order.
#[derive(Default)]
pub struct HealthReport {
    pub health: Health,
    pub positions: Vec<PricedPosition>,
    /// `Breakdown::Collateral` only: the deposits at their asset prices (quote native units).
    pub deposits_value: u64,
    /// `Breakdown::Collateral` only: whether any borrow remains.
    pub has_debt: bool,
}

impl HealthReport {
    pub fn position(&self, bank_index: u16) -> Option<&PricedPosition> {
        find_position(&self.positions, bank_index)
    }

    /// `Breakdown::PerPosition` only: the account's totals (health, maint-weighted liabilities,
    /// the deposits' and debts' values, whether debt remains).
    pub fn totals(&self) -> Result<AccountTotals> {
        AccountTotals::of(self.positions.iter().map(|p| &p.health))
            .map_err(|_| error!(MarginError::MathOverflow))
    }
}

/// What the caller needs from the health accounts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// Init health only (the borrow gate and the liquidator's check, which saves the
    /// bookkeeping and the maint-side prices): `health.maint` is left 0.
    Totals,
    /// As `Totals`, for a withdrawal: a bank whose init weights were tightened at once still
    /// lends its pre-tightening weights to withdrawals for one delay ([`Bank::exit_init_weights`]),
    /// so a tightening cannot lock users in while a queued change runs down.
    Withdrawal,
    /// Totals plus each position priced at all three prices (the `health` view, liquidation,
    /// write-off), a dust position with an unusable price let through
    /// (`PricedPosition::at_last_price`).
    PerPosition,
    /// The deposits' value (priced as in `PerPosition`) and whether debt remains, for the
    /// bankruptcy test. Borrows are not priced, so a dead liability oracle cannot block a
    /// write-off.
    Collateral,
}

/// Validates the health accounts and computes the account's health at unix time `now`.
///
/// `Breakdown::Totals` (the init-health gate, the account's own owner or liquidator acting) needs
/// the list exactly: one `(bank, oracle)` pair per active position, in slot order. For the other
/// breakdowns (liquidation, write-off, the view) the account's owner is not the one listing, so a
/// race must not break the list (finding L-5): pairs no position needs are skipped, and a deposit
/// opened in the current slot may be missing (it then counts for nothing, as if the instruction
/// had landed first). Every pair passed must still be a bank of the group.
pub fn compute_account_health(
    account: &MarginAccount,
    group_key: &Pubkey,
    group: &Group,
    remaining: &[AccountInfo],
    now: i64,
    loaded: &[LoadedBank],
    breakdown: Breakdown,
) -> Result<HealthReport> {
    let active_count = account.active_count();
    let exact = matches!(breakdown, Breakdown::Totals | Breakdown::Withdrawal);
    if exact {
        let needed = active_count * 2;
        require_gte!(remaining.len(), needed, MarginError::HealthAccountsMissing);
        require_eq!(remaining.len(), needed, MarginError::HealthAccountsExtra);
    } else {
        require!(remaining.len().is_multiple_of(2), MarginError::HealthAccountsExtra);
    }

    let mut report = HealthReport::default();
    if breakdown == Breakdown::PerPosition {
        report.positions.reserve_exact(active_count);
    }
    let active = account.positions.iter().enumerate().filter(|(_, p)| p.is_active());
    let mut next_pair = 0;
    for (i, (slot_index, position)) in active.enumerate() {
        let Some(shares) = position.shares() else { continue };
        let pair = if exact {
            i
        } else {
            match find_pair(remaining, next_pair, position.bank_index, group_key, loaded)? {
                Some(pair) => pair,
                None => {
                    let raced = matches!(shares, PositionShares::Deposit(_))
                        && account.opened_in(slot_index, Clock::get()?.slot);
                    require!(raced, MarginError::HealthAccountsMissing);
                    continue;
                }
            }
        };
        next_pair = pair + 1;
        let bank_info = &remaining[2 * pair];
        let oracle_info = &remaining[2 * pair + 1];
        // The bank: the instruction's own (already loaded, maybe modified) or decoded here.
        let data;
        let held = loaded.iter().find(|l| l.key == *bank_info.key);
        let bank: &Bank = match held {
            Some(loaded) => loaded.bank,
            None => {
                data = bank_info.try_borrow_data()?;
                decode_bank(bank_info.owner, &data)?
            }
        };
        require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
        if bank.bank_index != position.bank_index {
            // Only on this error path: tell a repeated bank from a wrong one.
            let repeated = remaining[..2 * pair].iter().step_by(2).any(|e| e.key == bank_info.key);
            return Err(if repeated {
                MarginError::HealthBankDuplicate
            } else {
                MarginError::HealthBankMismatch
            }
            .into());
        }
        if exact {
            let withdrawal = breakdown == Breakdown::Withdrawal;
            let init = init_contribution(bank, group, oracle_info, now, shares, withdrawal)?;
            report.health.init =
                report.health.init.checked_add(init).ok_or(MarginError::MathOverflow)?;
            continue;
        }
        // Liquidation and write-off: a dust position with an unusable price does not block them
        // (finding M-2, `PricedPosition::at_last_price`).
        if breakdown == Breakdown::Collateral {
            if let PositionShares::Borrow(_) = shares {
                report.has_debt = true;
                continue;
            }
        }
        let exchanged = held.is_some();
        let priced =
            price_at_last(bank, group, oracle_info, now, exchanged, position.bank_index, shares)?;
        if breakdown == Breakdown::Collateral {
            report.deposits_value = report
                .deposits_value
                .checked_add(priced.health.value)
                .ok_or(MarginError::MathOverflow)?;
            continue;
        }
        report.health.add(&priced.health).map_err(|_| MarginError::MathOverflow)?;
        report.positions.push(priced);
    }
    Ok(report)
}

/// The first pair at or after `from` whose bank is `bank_index`'s, checking every bank it passes
/// (a bank of another group, or an account that is not a bank, is still an error).
fn find_pair(
    remaining: &[AccountInfo],
    from: usize,
    bank_index: u16,
    group_key: &Pubkey,
    loaded: &[LoadedBank],
) -> Result<Option<usize>> {
    for pair in from..remaining.len() / 2 {
        let bank_info = &remaining[2 * pair];
        let index = match loaded.iter().find(|l| l.key == *bank_info.key) {
            Some(held) => held.bank.bank_index,
            None => {
                let data = bank_info.try_borrow_data()?;
                let bank = decode_bank(bank_info.owner, &data)?;
                require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
                bank.bank_index
            }
        };
        if index == bank_index {
            return Ok(Some(pair));
        }
    }
    Ok(None)
}

/// A position's init health contribution, pricing only its init side (one normalisation).
#[inline(always)]
fn init_contribution(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shares: PositionShares,
    withdrawal: bool,
) -> Result<i128> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let risk = match shares {
        PositionShares::Deposit(_) => {
            let [init] = read_bank_price_sides(bank, group, oracle, now, [PriceSide::InitAsset])?;
            bank.risk(0, 0, init, 0)
        }
        PositionShares::Borrow(_) => {
            let sides = [PriceSide::InitLiability];
            let [init] = read_bank_price_sides(bank, group, oracle, now, sides)?;
            bank.risk(0, 0, 0, init)
        }
    };
    let mut risk = risk.map_err(|_| MarginError::MathOverflow)?;
    if withdrawal {
        if let Some((asset, liab)) = bank.exit_init_weights(now) {
            (risk.init_asset_weight_bps, risk.init_liab_weight_bps) = (asset, liab);
        }
    }
    Ok(risk.init_contribution(shares).map_err(|_| MarginError::MathOverflow)?)
}

/// A position priced as liquidation and write-off price it, a dust position with an unusable
/// price let through. Only its own side is normalised (maint and init), and the oracle price only where a
/// liquidation may exchange it (`exchanged`: a bank the instruction holds) or the dust test needs
/// it; elsewhere it stays 0.
fn price_at_last(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    exchanged: bool,
    bank_index: u16,
    shares: PositionShares,
) -> Result<PricedPosition> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let (raw, unusable) = read_bank_last_raw(bank, group, oracle, now)?;
    let risk = match shares {
        PositionShares::Deposit(_) => {
            let sides = [PriceSide::Asset, PriceSide::InitAsset];
            let [asset, init] = normalise_last_sides(&raw, bank, sides)?;
            bank.risk(asset, 0, init, 0)
        }
        PositionShares::Borrow(_) => {
            let sides = [PriceSide::Liability, PriceSide::InitLiability];
            let [liab, init] = normalise_last_sides(&raw, bank, sides)?;
            bank.risk(0, liab, 0, init)
        }
    };
    let risk = risk.map_err(|_| MarginError::MathOverflow)?;
    let oracle_price = if exchanged || unusable.is_some() {
        normalise_last_sides(&raw, bank, [PriceSide::Mid])?[0]
    } else {
        0
    };
    let risk = BankRisk { oracle_price, ..risk };
    let dust = group.bankruptcy_dust_quote;
    Ok(PricedPosition::at_last_price(bank_index, risk, shares, unusable, dust)?)
}

/// A `Bank` from raw account data, checking owner and discriminator.
pub fn decode_bank<'a>(owner: &Pubkey, data: &'a [u8]) -> Result<&'a Bank> {
    require_keys_eq!(*owner, crate::ID, MarginError::HealthBankInvalid);
    let disc = Bank::DISCRIMINATOR;
    if data.len() < disc.len() + Bank::SIZE || &data[..disc.len()] != disc {
        return err!(MarginError::HealthBankInvalid);
    }
    bytemuck::try_from_bytes(&data[disc.len()..disc.len() + Bank::SIZE])
        .map_err(|_| error!(MarginError::HealthBankInvalid))
}
