//! Account plumbing for health checks: the caller passes `(bank, oracle)` in remaining accounts
//! for every active position, in slot order. This module validates that list (each mistake has
//! its own error), reads the prices, and hands plain numbers to the pure `health` module.

use anchor_lang::prelude::*;
use anchor_lang::Discriminator;

use crate::error::MarginError;
use crate::health::{
    find_position, AccountTotals, BankRisk, Health, PositionHealth, PositionShares, PricedPosition,
};
use crate::oracle::{read_bank_price_sides, OracleAccount, PriceSide};
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
    /// Init health only (the withdraw/borrow gate and the liquidator's check, which saves the
    /// bookkeeping and the maint-side prices): `health.maint` is left 0.
    Totals,
    /// Totals plus each position priced (the `health` view, liquidation).
    PerPosition,
    /// The deposits' value and whether debt remains, for the bankruptcy test. Borrows are not
    /// priced, so a dead liability oracle cannot block a write-off.
    Collateral,
}

/// Validates the health accounts and computes the account's health at unix time `now`.
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
    let needed = active_count * 2;
    require_gte!(remaining.len(), needed, MarginError::HealthAccountsMissing);
    require_eq!(remaining.len(), needed, MarginError::HealthAccountsExtra);

    let mut report = HealthReport::default();
    if breakdown == Breakdown::PerPosition {
        report.positions.reserve_exact(active_count);
    }
    for (i, position) in account.active_positions().enumerate() {
        let bank_info = &remaining[2 * i];
        let oracle_info = &remaining[2 * i + 1];
        let Some(shares) = position.shares() else { continue };
        // The bank: the instruction's own (already loaded, maybe modified) or decoded here.
        let data;
        let bank: &Bank = match loaded.iter().find(|l| l.key == *bank_info.key) {
            Some(loaded) => loaded.bank,
            None => {
                data = bank_info.try_borrow_data()?;
                decode_bank(bank_info.owner, &data)?
            }
        };
        require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
        if bank.bank_index != position.bank_index {
            // Only on this error path: tell a repeated bank from a wrong one.
            let repeated = remaining[..2 * i].iter().step_by(2).any(|e| e.key == bank_info.key);
            return Err(if repeated {
                MarginError::HealthBankDuplicate
            } else {
                MarginError::HealthBankMismatch
            }
            .into());
        }
        if breakdown == Breakdown::Totals {
            let init = init_contribution(bank, group, oracle_info, now, shares)?;
            report.health.init =
                report.health.init.checked_add(init).ok_or(MarginError::MathOverflow)?;
            continue;
        }
        if breakdown == Breakdown::Collateral {
            if let PositionShares::Borrow(_) = shares {
                report.has_debt = true;
                continue;
            }
            let position_health = position_health(bank, group, oracle_info, now, shares)?;
            report.deposits_value = report
                .deposits_value
                .checked_add(position_health.value)
                .ok_or(MarginError::MathOverflow)?;
            continue;
        }
        let risk = price_position(bank, group, oracle_info, now, shares)?;
        let position_health =
            risk.position_health(shares).map_err(|_| MarginError::MathOverflow)?;
        report.health.add(&position_health).map_err(|_| MarginError::MathOverflow)?;
        report.positions.push(PricedPosition {
            bank_index: position.bank_index,
            risk,
            shares,
            health: position_health,
        });
    }
    Ok(report)
}

/// What a position contributes, without keeping its risk inputs (the bankruptcy collateral).
#[inline(always)]
fn position_health(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shares: PositionShares,
) -> Result<PositionHealth> {
    let risk = price_position(bank, group, oracle_info, now, shares)?;
    Ok(risk.position_health(shares).map_err(|_| MarginError::MathOverflow)?)
}

/// A position's init health contribution, pricing only its init side (one normalisation).
#[inline(always)]
fn init_contribution(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shares: PositionShares,
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
    let risk = risk.map_err(|_| MarginError::MathOverflow)?;
    Ok(risk.init_contribution(shares).map_err(|_| MarginError::MathOverflow)?)
}

/// The bank's risk inputs with this position's side priced from its oracle, maint and init
/// (stable-price) sides. A position is priced on one side only: deposits at the asset prices,
/// borrows at the liability prices; the other side is never read for it.
#[inline(always)]
fn price_position(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shares: PositionShares,
) -> Result<BankRisk> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let risk = match shares {
        PositionShares::Deposit(_) => {
            let sides = [PriceSide::Asset, PriceSide::InitAsset];
            let [asset, init] = read_bank_price_sides(bank, group, oracle, now, sides)?;
            bank.risk(asset, 0, init, 0)
        }
        PositionShares::Borrow(_) => {
            let sides = [PriceSide::Liability, PriceSide::InitLiability];
            let [liab, init] = read_bank_price_sides(bank, group, oracle, now, sides)?;
            bank.risk(0, liab, 0, init)
        }
    };
    Ok(risk.map_err(|_| MarginError::MathOverflow)?)
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
