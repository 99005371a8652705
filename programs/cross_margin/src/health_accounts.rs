//! Account plumbing for health checks: the caller passes `(bank, oracle)` in remaining accounts
//! for every active position, in slot order. This module validates that list (each mistake has
//! its own error), reads the prices, and hands plain numbers to the pure `health` module.

use anchor_lang::prelude::*;
use anchor_lang::Discriminator;

use crate::error::MarginError;
use crate::health::{BankRisk, Health, PositionHealth, PositionShares};
use crate::oracle::{read_bank_price_side, OracleAccount, PriceSide};
use crate::state::{Bank, Group, MarginAccount};

/// A bank the instruction already holds (mutably) and that must not be loaded again.
pub struct LoadedBank<'a> {
    pub key: Pubkey,
    pub bank: &'a Bank,
}

/// One position as the health check priced it.
#[derive(Debug, Clone, Copy)]
pub struct PricedPosition {
    pub bank_index: u16,
    pub bank: Pubkey,
    /// The bank's risk inputs at the prices read (only this position's side is priced).
    pub risk: BankRisk,
    pub shares: PositionShares,
    pub health: PositionHealth,
}

/// Health of `account`, and (if asked for) its per-position breakdown in slot order.
pub struct HealthReport {
    pub health: Health,
    pub positions: Vec<PricedPosition>,
}

impl HealthReport {
    /// Maint-weighted liabilities (positive quote units).
    pub fn maint_weighted_liabs(&self) -> i128 {
        self.positions.iter().filter(|p| p.health.is_liability).map(|p| -p.health.maint).sum()
    }

    pub fn position(&self, bank: &Pubkey) -> Option<&PricedPosition> {
        self.positions.iter().find(|p| p.bank == *bank)
    }
}

/// Whether the caller needs the per-position breakdown (the `health` view) or only the totals
/// (the withdraw/borrow gate, which saves the bookkeeping).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    Totals,
    PerPosition,
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

    let mut report = HealthReport { health: Health::default(), positions: Vec::new() };
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
        let (risk, position_health) = position_health(bank, group, oracle_info, now, shares)?;
        report.health.add(&position_health).map_err(|_| MarginError::MathOverflow)?;
        if breakdown == Breakdown::PerPosition {
            report.positions.push(PricedPosition {
                bank_index: position.bank_index,
                bank: *bank_info.key,
                risk,
                shares,
                health: position_health,
            });
        }
    }
    Ok(report)
}

fn position_health(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shares: PositionShares,
) -> Result<(BankRisk, PositionHealth)> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    // A position is priced on one side only: deposits at the asset price, borrows at the
    // liability price. The other side is never read for it.
    let (asset_price, liab_price) = match shares {
        PositionShares::Deposit(_) => {
            (read_bank_price_side(bank, group, oracle, now, PriceSide::Asset)?, 0)
        }
        PositionShares::Borrow(_) => {
            (0, read_bank_price_side(bank, group, oracle, now, PriceSide::Liability)?)
        }
    };
    let risk = bank.risk(asset_price, liab_price).map_err(|_| MarginError::MathOverflow)?;
    let health = risk.position_health(shares).map_err(|_| MarginError::MathOverflow)?;
    Ok((risk, health))
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
