//! Account health: pure, deterministic risk maths, the single source of truth.
//!
//! The program, the keeper and the simulator all call this module (off chain through the
//! program crate with `no-entrypoint`); nothing else computes health. It knows nothing about
//! accounts or oracles: callers hand it plain numbers ([`BankRisk`], [`PositionShares`]).
//!
//! ```text
//! health = Σ floor(asset_value × asset_weight) − Σ ceil(liab_value × liab_weight)
//! ```
//! in quote native units (micro-USD), for the init and maint weights. Maint asset values use the
//! bank's conservative asset price (oracle price − k·conf) and liability values its liability
//! price (oracle price + k·conf). Init values use the stable-price sides instead:
//! min(price − k·conf, ema − k·ema_conf) for assets and max(price + k·conf, ema + k·ema_conf)
//! for liabilities (docs/DESIGN.md, "Stable price"). Deposits convert shares to tokens rounding down, borrows
//! rounding up. An account is liquidatable iff its maint health is < 0.

use crate::error::MarginError;
use crate::math::{mul_bps, mul_div, mul_q64, MathResult, Overflow, Round};

pub mod shock;
pub use shock::{PriceShock, Shocks};

/// The risk inputs of one bank, already normalised: indices and prices are Q64.64, prices in
/// quote native units per native token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BankRisk {
    pub deposit_index: u128,
    pub borrow_index: u128,
    /// The oracle (mid) price, rounded down: what a liquidation exchanges at. Read only where a
    /// liquidation needs it (`Breakdown::PerPosition`, the keeper); 0 where it is not read.
    pub oracle_price: u128,
    /// Conservative price for deposits (oracle price − k·conf, floored at 0).
    pub asset_price: u128,
    /// Conservative price for borrows (oracle price + k·conf).
    pub liab_price: u128,
    /// Init health's price for deposits: min(asset price, stable ema − k·ema_conf).
    pub init_asset_price: u128,
    /// Init health's price for borrows: max(liab price, stable ema + k·ema_conf).
    pub init_liab_price: u128,
    pub init_asset_weight_bps: u32,
    pub maint_asset_weight_bps: u32,
    pub init_liab_weight_bps: u32,
    pub maint_liab_weight_bps: u32,
    /// Size-aware init asset weight: once the bank's deposits are worth more than this (quote
    /// native units), the init asset weight shrinks in proportion. 0 disables it.
    pub deposit_weight_scale_start_quote: u64,
    /// All deposits of the bank, in native tokens (for the size-aware weight).
    pub total_deposits_native: u64,
}

/// One position as stored: a deposit or a borrow of `shares` in a bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionShares {
    Deposit(u64),
    Borrow(u64),
}

/// What one position contributes to health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PositionHealth {
    /// Tokens (native units): deposits rounded down, borrows rounded up.
    pub native: u64,
    pub is_liability: bool,
    /// Value at the conservative price, unweighted (quote native units).
    pub value: u64,
    /// Signed contribution to init health (assets positive, liabilities negative).
    pub init: i128,
    /// Signed contribution to maint health.
    pub maint: i128,
}

/// Init and maint health of one account, in quote native units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    pub init: i128,
    pub maint: i128,
}

impl Health {
    pub fn is_liquidatable(&self) -> bool {
        self.maint < 0
    }

    pub fn add(&mut self, position: &PositionHealth) -> MathResult<()> {
        self.init = self.init.checked_add(position.init).ok_or(Overflow)?;
        self.maint = self.maint.checked_add(position.maint).ok_or(Overflow)?;
        Ok(())
    }
}

impl BankRisk {
    /// Tokens behind deposit shares, rounded down.
    pub fn deposit_native(&self, shares: u64) -> MathResult<u64> {
        mul_q64(shares, self.deposit_index, Round::Down)
    }

    /// Tokens owed for borrow shares, rounded up.
    pub fn borrow_native(&self, shares: u64) -> MathResult<u64> {
        mul_q64(shares, self.borrow_index, Round::Up)
    }

    /// The init asset weight after the size-aware scaling: unchanged while the bank's deposits
    /// (at the init asset price, rounded up, as Mango v4 does) are worth at most `start`,
    /// otherwise `floor(weight × start / deposits_value)`, truncated to whole bps.
    pub fn scaled_init_asset_weight_bps(&self) -> MathResult<u32> {
        let start = self.deposit_weight_scale_start_quote;
        if start == 0 {
            return Ok(self.init_asset_weight_bps);
        }
        let deposits_value = mul_q64(self.total_deposits_native, self.init_asset_price, Round::Up)?;
        if deposits_value <= start {
            return Ok(self.init_asset_weight_bps);
        }
        // weight × start / deposits_value < weight, so it fits in u32.
        let scaled =
            mul_div(self.init_asset_weight_bps as u64, start, deposits_value, Round::Down)?;
        Ok(scaled as u32)
    }

    /// What a position in this bank contributes to health. `value` and `maint` use the asset or
    /// liability price, `init` the init price of the same side.
    pub fn position_health(&self, position: PositionShares) -> MathResult<PositionHealth> {
        match position {
            PositionShares::Deposit(shares) => {
                self.native_health(self.deposit_native(shares)?, false)
            }
            PositionShares::Borrow(shares) => self.native_health(self.borrow_native(shares)?, true),
        }
    }

    /// What `native` tokens deposited (or owed, `is_liability`) contribute to health.
    pub fn native_health(&self, native: u64, is_liability: bool) -> MathResult<PositionHealth> {
        let (value, maint) = if is_liability {
            let value = mul_q64(native, self.liab_price, Round::Up)?;
            (value, -(mul_bps(value, self.maint_liab_weight_bps, Round::Up)? as i128))
        } else {
            let value = mul_q64(native, self.asset_price, Round::Down)?;
            (value, mul_bps(value, self.maint_asset_weight_bps, Round::Down)? as i128)
        };
        let init = self.init_contribution_of(native, is_liability)?;
        Ok(PositionHealth { native, is_liability, value, init, maint })
    }

    /// The settle bank's contribution when perp positions settle in it (Mango v4's settle
    /// token): the account's signed balance in the bank plus the perps' contributions on each
    /// side (`perps`, settle native units), valued as one balance: init from
    /// `balance + perps.init`, maint from `balance + perps.maint`. So settling PnL into the
    /// bank never lowers health (beyond share rounding): it moves value within one balance.
    pub fn settle_balance_health(&self, balance: i128, perps: &Health) -> MathResult<Health> {
        let side = |total: i128| -> MathResult<PositionHealth> {
            let native = u64::try_from(total.unsigned_abs()).map_err(|_| Overflow)?;
            self.native_health(native, total < 0)
        };
        let init = side(balance.checked_add(perps.init).ok_or(Overflow)?)?.init;
        let maint = side(balance.checked_add(perps.maint).ok_or(Overflow)?)?.maint;
        Ok(Health { init, maint })
    }

    /// A position's init health contribution alone (the withdraw/borrow gate needs nothing
    /// else): deposits floor(floor(native × init asset price) × scaled init asset weight),
    /// borrows −ceil(ceil(native × init liab price) × init liab weight).
    pub fn init_contribution(&self, position: PositionShares) -> MathResult<i128> {
        match position {
            PositionShares::Deposit(shares) => {
                self.init_contribution_of(self.deposit_native(shares)?, false)
            }
            PositionShares::Borrow(shares) => {
                self.init_contribution_of(self.borrow_native(shares)?, true)
            }
        }
    }

    #[inline(always)]
    fn init_contribution_of(&self, native: u64, is_liability: bool) -> MathResult<i128> {
        if is_liability {
            let value = mul_q64(native, self.init_liab_price, Round::Up)?;
            Ok(-(mul_bps(value, self.init_liab_weight_bps, Round::Up)? as i128))
        } else {
            let value = mul_q64(native, self.init_asset_price, Round::Down)?;
            Ok(mul_bps(value, self.scaled_init_asset_weight_bps()?, Round::Down)? as i128)
        }
    }
}

/// One position as a health check priced it: its bank's risk inputs (indices, prices, weights)
/// and what it contributes. Only the position's own side is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedPosition {
    pub bank_index: u16,
    pub risk: BankRisk,
    pub shares: PositionShares,
    pub health: PositionHealth,
    /// Why its price is unusable, when [`PricedPosition::at_last_price`] let it through as
    /// dust: such a position is never exchanged by a liquidation.
    pub unusable: Option<MarginError>,
}

impl PricedPosition {
    pub fn new(bank_index: u16, risk: BankRisk, shares: PositionShares) -> MathResult<Self> {
        Ok(Self { bank_index, risk, shares, health: risk.position_health(shares)?, unusable: None })
    }

    /// How liquidation and write-off price a position (finding M-2), `risk` being at the last
    /// published price and `unusable` why that price failed the oracle checks, if it did:
    /// - a usable price: as [`PricedPosition::new`];
    /// - an unusable price on a position worth less than `dust_quote` at the last oracle price
    ///   (mid, any age): a deposit counts for nothing, a borrow at the last liability price;
    /// - otherwise the oracle's error: the account waits for a usable price (or for the admin
    ///   to re-pin the bank's oracle). A borrow whose last price is not positive always waits.
    ///
    /// So holding dust with a dead or unconfident feed cannot block a liquidation, and a briefly
    /// unusable price on a large deposit never makes a healthy account liquidatable.
    pub fn at_last_price(
        bank_index: u16,
        risk: BankRisk,
        shares: PositionShares,
        unusable: Option<MarginError>,
        dust_quote: u64,
    ) -> Result<Self, MarginError> {
        let overflow = |_| MarginError::MathOverflow;
        let mut priced = Self::new(bank_index, risk, shares).map_err(overflow)?;
        let Some(error) = unusable else { return Ok(priced) };
        let last_value =
            mul_q64(priced.health.native, risk.oracle_price, Round::Down).map_err(overflow)?;
        let is_borrow = matches!(shares, PositionShares::Borrow(_));
        if last_value >= dust_quote || (is_borrow && risk.oracle_price == 0) {
            return Err(error);
        }
        if !is_borrow {
            priced.health = PositionHealth { native: priced.health.native, ..Default::default() };
        }
        priced.unusable = Some(error);
        Ok(priced)
    }
}

/// The perp part of an account's health: its perp positions' contributions on each side
/// (settle native units, [`crate::perp::perp_health`]) and the settle bank they settle in, whose
/// balance they join ([`BankRisk::settle_balance_health`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerpTotals {
    pub settle_bank_index: u16,
    /// The settle bank at both sides of its price (a perp loss can turn a deposit into a debt).
    pub settle_risk: BankRisk,
    pub perps: Health,
    /// The positions' unrealised PnL at their maint sides, unweighted (settle native units): what
    /// they add to the account's equity. 0 where only init health is computed.
    pub pnl: i128,
}

impl PerpTotals {
    /// What the perps change in an account's health, given its priced token positions: the
    /// settle bank position's own contribution (none if it holds none) replaced by the
    /// combined one.
    pub fn adjustment(&self, positions: &[PricedPosition]) -> MathResult<Health> {
        let (balance, alone) = self.settle_position(positions);
        self.adjustment_of(balance, &Health { init: alone.init, maint: alone.maint })
    }

    /// [`PerpTotals::adjustment`] from the settle balance and its own contribution.
    pub fn adjustment_of(&self, balance: i128, alone: &Health) -> MathResult<Health> {
        let combined = self.settle_risk.settle_balance_health(balance, &self.perps)?;
        Ok(Health {
            init: combined.init.checked_sub(alone.init).ok_or(Overflow)?,
            maint: combined.maint.checked_sub(alone.maint).ok_or(Overflow)?,
        })
    }

    /// The account's signed balance in the settle bank and that position's own contribution.
    fn settle_position(&self, positions: &[PricedPosition]) -> (i128, PositionHealth) {
        match find_position(positions, self.settle_bank_index) {
            Some(p) if p.health.is_liability => (-(p.health.native as i128), p.health),
            Some(p) => (p.health.native as i128, p.health),
            None => (0, PositionHealth::default()),
        }
    }

    /// The totals of an account with perp positions, the single definition liquidation,
    /// write-off, the keeper and the simulator judge it by. The settle bank's position is
    /// replaced by the combined balance, as if every perp were settled:
    /// - health: `balance + perps` valued as one balance ([`PerpTotals::adjustment`]);
    /// - maint-weighted liabilities (the end target's base): the combined maint balance's
    ///   liability, if it is one, instead of the settle borrow's (so a perp loss counts as the
    ///   debt it becomes when settled, and a position's margin with it);
    /// - deposits and debts (solvency, dust): `balance + pnl` (unweighted, no margin) at the
    ///   settle bank's asset or liability price; a negative one is debt.
    pub fn combine(&self, positions: &[PricedPosition]) -> MathResult<AccountTotals> {
        let mut totals = AccountTotals::of(positions.iter().map(|p| &p.health))?;
        let (balance, alone) = self.settle_position(positions);
        let combined = self.settle_risk.settle_balance_health(balance, &self.perps)?;
        let health = &mut totals.health;
        health.init = health.init.checked_add(combined.init - alone.init).ok_or(Overflow)?;
        health.maint = health.maint.checked_add(combined.maint - alone.maint).ok_or(Overflow)?;
        let combined_liab = if combined.maint < 0 { -combined.maint } else { 0 };
        let alone_liab = if alone.is_liability { -alone.maint } else { 0 };
        totals.maint_weighted_liabs =
            totals.maint_weighted_liabs.checked_add(combined_liab - alone_liab).ok_or(Overflow)?;
        let equity = balance.checked_add(self.pnl).ok_or(Overflow)?;
        let native = u64::try_from(equity.unsigned_abs()).map_err(|_| Overflow)?;
        let value = self.settle_risk.native_health(native, equity < 0)?.value;
        let (deposits, liabs) = if equity < 0 { (0, value) } else { (value, 0) };
        let (old_deposits, old_liabs) =
            if alone.is_liability { (0, alone.value) } else { (alone.value, 0) };
        totals.deposits_value = totals
            .deposits_value
            .checked_sub(old_deposits)
            .and_then(|v| v.checked_add(deposits))
            .ok_or(Overflow)?;
        totals.liabs_value = totals
            .liabs_value
            .checked_sub(old_liabs)
            .and_then(|v| v.checked_add(liabs))
            .ok_or(Overflow)?;
        totals.has_debt |= equity < 0;
        Ok(totals)
    }
}

/// The position of `bank_index` among `positions`, if any.
pub fn find_position(positions: &[PricedPosition], bank_index: u16) -> Option<&PricedPosition> {
    positions.iter().find(|p| p.bank_index == bank_index)
}

/// An account's totals over its positions: its health, and what liquidation and bankruptcy
/// judge it by. Summed here, once, for the program, the keeper and the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountTotals {
    pub health: Health,
    /// Maint-weighted liabilities (positive quote units): the base of the liquidation end target.
    pub maint_weighted_liabs: i128,
    /// Deposits at their asset prices, unweighted.
    pub deposits_value: u64,
    /// Debts at their liability prices, unweighted.
    pub liabs_value: u64,
    /// Whether any debt is owed (a borrow of at least one native unit).
    pub has_debt: bool,
}

impl AccountTotals {
    pub fn add(&mut self, position: &PositionHealth) -> MathResult<()> {
        self.health.add(position)?;
        if position.is_liability {
            self.maint_weighted_liabs =
                self.maint_weighted_liabs.checked_sub(position.maint).ok_or(Overflow)?;
            self.liabs_value = self.liabs_value.checked_add(position.value).ok_or(Overflow)?;
            self.has_debt |= position.native > 0;
        } else {
            self.deposits_value =
                self.deposits_value.checked_add(position.value).ok_or(Overflow)?;
        }
        Ok(())
    }

    pub fn of<'a>(positions: impl IntoIterator<Item = &'a PositionHealth>) -> MathResult<Self> {
        let mut totals = Self::default();
        for position in positions {
            totals.add(position)?;
        }
        Ok(totals)
    }
}

/// Health of an account from its positions, each paired with its bank's risk inputs.
pub fn compute_health<'a>(
    positions: impl IntoIterator<Item = (&'a BankRisk, PositionShares)>,
) -> MathResult<Health> {
    let mut health = Health::default();
    for (bank, shares) in positions {
        health.add(&bank.position_health(shares)?)?;
    }
    Ok(health)
}

#[cfg(test)]
mod tests;
