//! Choosing what to liquidate: for every (borrow, deposit) pair of an account, the exact step
//! the program would take (the same interest accrual, health maths, closed-form amounts and
//! position moves, all from the program crate), whether the liquidator can carry it, and what it
//! pays. The best-paying step the program will accept wins.

use cross_margin::error::MarginError;
use cross_margin::health::{AccountTotals, BankRisk, PositionHealth, PositionShares};
use cross_margin::liquidation::{
    end_target, is_liquidatable, liquidation_amounts, LiquidationAmounts, LiquidationInputs,
};
use cross_margin::math::{mul_q64, Round};
use cross_margin::positions;
use cross_margin::state::{Bank, MarginAccount};

use crate::market::MarketState;

/// One liquidation step, as the program will compute it.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub liab_bank: u16,
    pub asset_bank: u16,
    /// What to pass as `max_liab_amount`: the step's exact size.
    pub max_liab_amount: u64,
    pub amounts: LiquidationAmounts,
    /// The liquidation fee the liquidator earns, at oracle prices (quote native units).
    pub profit_quote: i128,
    pub liquidatee_maint_before: i128,
    pub liquidatee_maint_after: i128,
    pub liquidator_init_after: i128,
    /// The liquidator's account after the step (its health accounts are listed from it).
    pub liquidator_after: MarginAccount,
}

/// Why the program would refuse a planned step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The liability is not a borrow, or the asset not a deposit.
    WrongSides,
    /// The closed-form amounts or the share maths failed.
    Maths(MarginError),
    /// The amount, or the collateral it pays, rounds to zero (`LiquidationAmountZero`).
    AmountZero,
    /// The step would not improve the liquidatee's maint health (`LiquidationDidNotImprove`).
    DoesNotImprove,
}

/// Why no step is planned for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPlan {
    /// Healthy, or above the end target: nothing to do (also the normal outcome of a race).
    NotLiquidatable,
    /// A position's bank has no acceptable price now.
    Unpriced { bank_index: u16, error: MarginError },
    /// No (borrow, deposit) pair yields a step the program accepts; why the last one did not.
    NoPair(Refusal),
    /// Every possible step would leave the liquidator's own init health below zero; the best
    /// it could do is this (quote native units).
    LiquidatorCannotCarry { init_health_after: i128 },
}

impl std::fmt::Display for NoPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotLiquidatable => f.write_str("not liquidatable"),
            Self::Unpriced { bank_index, error } => {
                write!(f, "bank {bank_index} has no usable price ({error:?})")
            }
            Self::NoPair(why) => {
                write!(f, "no borrow/deposit pair gives a step the program accepts ({why:?})")
            }
            Self::LiquidatorCannotCarry { init_health_after } => write!(
                f,
                "the liquidator's own init health would fall to {} USD: deposit more collateral",
                *init_health_after as f64 / 1e6
            ),
        }
    }
}

/// One of the pair's banks as the instruction holds it: accrued, priced by its oracle.
#[derive(Clone, Copy)]
struct PairBank {
    index: u16,
    bank: Bank,
    asset_price: u128,
    liab_price: u128,
}

impl PairBank {
    fn risk(&self) -> Result<BankRisk, NoPlan> {
        self.bank.risk(self.asset_price, self.liab_price).map_err(|_| NoPlan::Unpriced {
            bank_index: self.index,
            error: MarginError::MathOverflow,
        })
    }
}

/// Banks as one liquidation sees them: the pair accrued to `now` (the program accrues them
/// first), every other bank at its stored indices; each priced by its oracle.
struct PairBanks<'a> {
    market: &'a MarketState,
    liab: PairBank,
    asset: PairBank,
}

impl<'a> PairBanks<'a> {
    fn new(market: &'a MarketState, liab: u16, asset: u16) -> Result<Self, NoPlan> {
        let accrued = |index: u16| -> Result<PairBank, NoPlan> {
            let state = market.bank(index).ok_or(NoPlan::Unpriced {
                bank_index: index,
                error: MarginError::HealthBankInvalid,
            })?;
            let mut bank = state.bank;
            bank.accrue_interest(market.now).map_err(|_| NoPlan::Unpriced {
                bank_index: index,
                error: MarginError::MathOverflow,
            })?;
            let price = state
                .price
                .as_ref()
                .map_err(|e| NoPlan::Unpriced { bank_index: index, error: *e })?;
            Ok(PairBank {
                index,
                bank,
                asset_price: price.asset_price,
                liab_price: price.liab_price,
            })
        };
        Ok(Self { market, liab: accrued(liab)?, asset: accrued(asset)? })
    }

    /// The same banks after the instruction changed them (the liquidator's health check reads
    /// the modified pair).
    fn with(&self, liab_bank: Bank, asset_bank: Bank) -> Self {
        Self {
            market: self.market,
            liab: PairBank { bank: liab_bank, ..self.liab },
            asset: PairBank { bank: asset_bank, ..self.asset },
        }
    }

    fn risk(&self, index: u16) -> Result<BankRisk, NoPlan> {
        if index == self.liab.index {
            return self.liab.risk();
        }
        if index == self.asset.index {
            return self.asset.risk();
        }
        let state = self
            .market
            .bank(index)
            .ok_or(NoPlan::Unpriced { bank_index: index, error: MarginError::HealthBankInvalid })?;
        state.risk().map_err(|error| NoPlan::Unpriced { bank_index: index, error })
    }

    /// Health and per-position contributions, exactly as the program's health check sums them.
    fn health(&self, account: &MarginAccount) -> Result<Priced, NoPlan> {
        let mut priced = Priced::default();
        for position in account.active_positions() {
            let Some(shares) = position.shares() else { continue };
            let risk = self.risk(position.bank_index)?;
            let contribution = risk.position_health(shares).map_err(|_| NoPlan::Unpriced {
                bank_index: position.bank_index,
                error: MarginError::MathOverflow,
            })?;
            priced.totals.add(&contribution).map_err(|_| NoPlan::Unpriced {
                bank_index: position.bank_index,
                error: MarginError::MathOverflow,
            })?;
            priced.positions.push((position.bank_index, shares, contribution));
        }
        Ok(priced)
    }
}

#[derive(Default)]
struct Priced {
    totals: AccountTotals,
    positions: Vec<(u16, PositionShares, PositionHealth)>,
}

impl Priced {
    fn position(&self, bank_index: u16) -> Option<(PositionShares, PositionHealth)> {
        self.positions.iter().find(|p| p.0 == bank_index).map(|p| (p.1, p.2))
    }
}

/// The outcome of one candidate step.
struct Step {
    amounts: LiquidationAmounts,
    maint_after: i128,
    liquidator_init_after: i128,
    liquidator_after: MarginAccount,
}

/// Plans the best step for `liquidatee`, taken over by `liquidator`.
pub fn plan_liquidation(
    market: &MarketState,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
) -> Result<Plan, NoPlan> {
    let borrows: Vec<u16> = liquidatee
        .active_positions()
        .filter(|p| matches!(p.shares(), Some(PositionShares::Borrow(_))))
        .map(|p| p.bank_index)
        .collect();
    let deposits: Vec<u16> = liquidatee
        .active_positions()
        .filter(|p| matches!(p.shares(), Some(PositionShares::Deposit(_))))
        .map(|p| p.bank_index)
        .collect();

    let mut best: Option<Plan> = None;
    let mut cannot_carry: Option<i128> = None;
    let mut refused = Refusal::WrongSides;
    let mut liquidatable = false;
    for &liab in &borrows {
        for &asset in &deposits {
            let banks = PairBanks::new(market, liab, asset)?;
            let before = banks.health(liquidatee)?;
            let buffer = market.group.liquidation_end_buffer_bps;
            let target = end_target(before.totals.maint_weighted_liabs, buffer);
            if !is_liquidatable(
                before.totals.health.maint,
                target,
                liquidatee.being_liquidated != 0,
            ) {
                continue;
            }
            liquidatable = true;
            let plan = match best_step_for_pair(&banks, &before, liquidatee, liquidator) {
                Ok(plan) => plan,
                Err(NoPlan::LiquidatorCannotCarry { init_health_after }) => {
                    let worst = cannot_carry.get_or_insert(init_health_after);
                    *worst = (*worst).max(init_health_after);
                    continue;
                }
                Err(NoPlan::NoPair(why)) => {
                    refused = why;
                    continue;
                }
                Err(_) => continue,
            };
            let better = best.as_ref().is_none_or(|b| {
                (plan.profit_quote, plan.amounts.liab) > (b.profit_quote, b.amounts.liab)
            });
            if better {
                best = Some(plan);
            }
        }
    }
    match (best, cannot_carry) {
        (Some(plan), _) => Ok(plan),
        (None, _) if !liquidatable => Err(NoPlan::NotLiquidatable),
        (None, Some(init_health_after)) => Err(NoPlan::LiquidatorCannotCarry { init_health_after }),
        (None, None) => Err(NoPlan::NoPair(refused)),
    }
}

/// The largest step of this pair the program accepts and the liquidator can carry.
fn best_step_for_pair(
    banks: &PairBanks,
    before: &Priced,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
) -> Result<Plan, NoPlan> {
    let (liab_index, asset_index) = (banks.liab.index, banks.asset.index);
    let full = step(banks, before, liquidatee, liquidator, u64::MAX)?;
    let chosen = if full.liquidator_init_after >= 0 {
        full
    } else {
        // The liquidator's init health falls as it takes on more (liability weights >= 1 >=
        // asset weights): find the largest amount it can carry by bisection.
        let smallest = step(banks, before, liquidatee, liquidator, 1)?;
        if smallest.liquidator_init_after < 0 {
            return Err(NoPlan::LiquidatorCannotCarry {
                init_health_after: smallest.liquidator_init_after,
            });
        }
        let (mut low, mut high) = (1u64, full.amounts.liab);
        let mut found = smallest;
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            let candidate = step(banks, before, liquidatee, liquidator, mid)?;
            if candidate.liquidator_init_after >= 0 {
                low = mid;
                found = candidate;
            } else {
                high = mid;
            }
        }
        found
    };
    let mid_price = |index: u16| {
        banks.market.bank(index).and_then(|b| b.price.as_ref().ok()).map(|p| p.price).unwrap_or(0)
    };
    let received = mul_q64(chosen.amounts.asset_to_liquidator, mid_price(asset_index), Round::Down)
        .unwrap_or(0) as i128;
    let owed = mul_q64(chosen.amounts.liab, mid_price(liab_index), Round::Up).unwrap_or(0) as i128;
    Ok(Plan {
        liab_bank: liab_index,
        asset_bank: asset_index,
        max_liab_amount: chosen.amounts.liab,
        amounts: chosen.amounts,
        profit_quote: received - owed,
        liquidatee_maint_before: before.totals.health.maint,
        liquidatee_maint_after: chosen.maint_after,
        liquidator_init_after: chosen.liquidator_init_after,
        liquidator_after: chosen.liquidator_after,
    })
}

/// One step with `max_liab_amount`, applied to copies of the accounts and banks exactly as the
/// program applies it. Fails where the program would refuse it.
fn step(
    banks: &PairBanks,
    before: &Priced,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
    max_liab_amount: u64,
) -> Result<Step, NoPlan> {
    let (liab_index, asset_index) = (banks.liab.index, banks.asset.index);
    let group = &banks.market.group;
    let (_, liab) = before.position(liab_index).ok_or(NoPlan::NoPair(Refusal::WrongSides))?;
    let (_, asset) = before.position(asset_index).ok_or(NoPlan::NoPair(Refusal::WrongSides))?;
    let (mut liab_bank, mut asset_bank) = (banks.liab.bank, banks.asset.bank);
    let amounts = liquidation_amounts(&LiquidationInputs {
        maint_health: before.totals.health.maint,
        maint_weighted_liabs: before.totals.maint_weighted_liabs,
        end_buffer_bps: group.liquidation_end_buffer_bps,
        liab_price: banks.liab.liab_price,
        liab_maint_weight_bps: liab_bank.config.maint_liab_weight_bps,
        asset_price: banks.asset.asset_price,
        asset_maint_weight_bps: asset_bank.config.maint_asset_weight_bps,
        liquidation_fee_bps: asset_bank.config.liquidation_fee_bps,
        insurance_fee_bps: asset_bank.config.insurance_fee_bps,
        liab_owed: liab.native,
        asset_available: asset.native,
        max_liab_amount,
    })
    .map_err(|_| NoPlan::NoPair(Refusal::Maths(MarginError::MathOverflow)))?;
    if amounts.liab == 0 || amounts.asset_to_liquidator == 0 {
        return Err(NoPlan::NoPair(Refusal::AmountZero));
    }
    let (mut liquidatee_after, mut liquidator_after) = (*liquidatee, *liquidator);
    positions::move_liquidated(
        &mut liquidatee_after,
        &mut liquidator_after,
        &mut liab_bank,
        &mut asset_bank,
        &amounts,
    )
    .map_err(|e| NoPlan::NoPair(Refusal::Maths(e)))?;
    // The liquidatee is repriced with the inputs from before (as the program does: position
    // moves change no index); the liquidator is checked against the modified banks.
    let after = banks.health(&liquidatee_after)?;
    let liab_gone = positions::borrow_native(&liquidatee_after, &liab_bank).unwrap_or(0) == 0;
    if after.totals.health.maint <= before.totals.health.maint && !liab_gone {
        return Err(NoPlan::NoPair(Refusal::DoesNotImprove));
    }
    let liquidator_health = banks.with(liab_bank, asset_bank).health(&liquidator_after)?;
    Ok(Step {
        amounts,
        maint_after: after.totals.health.maint,
        liquidator_init_after: liquidator_health.totals.health.init,
        liquidator_after,
    })
}
