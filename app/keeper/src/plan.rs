//! Choosing what to liquidate: for every (borrow, deposit) pair of an account, the exact step
//! the program would take (`cross_margin::liquidation::step`, the function the program runs, on
//! copies of the accounts and banks accrued and priced as the instruction sees them), whether
//! the liquidator can carry it, and what it pays. The best-paying step the program will accept
//! wins.

use cross_margin::error::MarginError;
use cross_margin::health::{Health, PerpTotals, PositionShares, PricedPosition};
use cross_margin::liquidation::{self, LiquidationAmounts, StepAccounts, StepOutcome};
use cross_margin::math::{mul_q64, Round};
use cross_margin::oracle::LastPrice;
use cross_margin::state::{Bank, MarginAccount};

use crate::market::{LastRisk, MarketState};
use crate::perps::{Held, Unpriced};

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

/// Why no step is planned for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPlan {
    /// Healthy, or above the end target: nothing to do (also the normal outcome of a race).
    NotLiquidatable,
    /// A position's bank has no acceptable price now.
    Unpriced { bank_index: u16, error: MarginError },
    /// A perp slot's market has no acceptable price now.
    PerpUnpriced { market_index: u16, error: MarginError },
    /// No (borrow, deposit) pair yields a step the program accepts; the program's error for the
    /// last one refused.
    NoPair(MarginError),
    /// Every possible step would leave the liquidator's own init health below zero; the best
    /// it could do is this (quote native units).
    LiquidatorCannotCarry { init_health_after: i128 },
}

/// A refusal of `liquidation::step`, as a reason not to plan.
impl From<MarginError> for NoPlan {
    fn from(error: MarginError) -> Self {
        match error {
            MarginError::NotLiquidatable => Self::NotLiquidatable,
            error => Self::NoPair(error),
        }
    }
}

impl std::fmt::Display for NoPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotLiquidatable => f.write_str("not liquidatable"),
            Self::Unpriced { bank_index, error } => {
                write!(f, "bank {bank_index} has no usable price ({error:?})")
            }
            Self::PerpUnpriced { market_index, error } => {
                write!(f, "perp market {market_index} has no usable price ({error:?})")
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

impl From<Unpriced> for NoPlan {
    fn from(unpriced: Unpriced) -> Self {
        match unpriced {
            Unpriced::Bank { bank_index, error } => Self::Unpriced { bank_index, error },
            Unpriced::Perp { market_index, error } => Self::PerpUnpriced { market_index, error },
        }
    }
}

/// One of the pair's banks as the instruction holds it: accrued, priced by its oracle.
#[derive(Clone, Copy)]
struct PairBank {
    index: u16,
    bank: Bank,
    last: LastPrice,
}

impl PairBank {
    fn risk(&self) -> Result<LastRisk, NoPlan> {
        LastRisk::new(&self.bank, &self.last)
            .map_err(|error| NoPlan::Unpriced { bank_index: self.index, error })
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
            let last = *state
                .last
                .as_ref()
                .map_err(|e| NoPlan::Unpriced { bank_index: index, error: *e })?;
            Ok(PairBank { index, bank, last })
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

    fn risk(&self, index: u16) -> Result<LastRisk, NoPlan> {
        if index == self.liab.index {
            return self.liab.risk();
        }
        if index == self.asset.index {
            return self.asset.risk();
        }
        let unpriced = |error| NoPlan::Unpriced { bank_index: index, error };
        let state = self.market.bank(index).ok_or(unpriced(MarginError::HealthBankInvalid))?;
        let last = state.last.as_ref().map_err(|e| unpriced(*e))?;
        LastRisk::new(&state.bank, last).map_err(unpriced)
    }

    /// Init and maint health, as the program's init-health gate sums them: every price usable.
    fn health(&self, account: &MarginAccount) -> Result<Health, NoPlan> {
        let mut health = Health::default();
        for position in account.active_positions() {
            let Some(shares) = position.shares() else { continue };
            let index = position.bank_index;
            let risk = self.risk(index)?;
            let unpriced = |error| NoPlan::Unpriced { bank_index: index, error };
            if let Some(error) = risk.unusable {
                return Err(unpriced(error));
            }
            let position = PricedPosition::new(index, risk.risk, shares)
                .map_err(|_| unpriced(MarginError::MathOverflow))?;
            health.add(&position.health).map_err(|_| MarginError::MathOverflow)?;
        }
        Ok(health)
    }

    /// The liquidatee as `liquidate` prices it: the pair's banks held (accrued), every other
    /// bank and perp market as stored; with perp slots, their totals.
    fn liquidatee(
        &self,
        account: &MarginAccount,
    ) -> Result<(Vec<PricedPosition>, Option<PerpTotals>), NoPlan> {
        let held = [&self.liab.bank, &self.asset.bank];
        let priced = self.market.price_account(account, Held { banks: &held, perps: &[] })?;
        Ok((priced.positions, priced.perp))
    }
}

/// The outcome of one candidate step.
struct Step {
    outcome: StepOutcome,
    liquidator_after: MarginAccount,
}

/// Plans the best step for `liquidatee`, taken over by `liquidator`.
pub fn plan_liquidation(
    market: &MarketState,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
) -> Result<Plan, NoPlan> {
    let sides = |borrow: bool| -> Vec<u16> {
        liquidatee
            .active_positions()
            .filter(|p| matches!(p.shares(), Some(PositionShares::Borrow(_))) == borrow)
            .map(|p| p.bank_index)
            .collect()
    };
    let (borrows, deposits) = (sides(true), sides(false));

    let mut best: Option<Plan> = None;
    let mut cannot_carry: Option<i128> = None;
    let mut refused: Option<NoPlan> = None;
    for &liab in &borrows {
        for &asset in &deposits {
            let banks = PairBanks::new(market, liab, asset)?;
            let (before, perp) = banks.liquidatee(liquidatee)?;
            let before = Before { positions: &before, perp: perp.as_ref() };
            match best_step_for_pair(&banks, before, liquidatee, liquidator) {
                Ok(plan) => {
                    let better = best.as_ref().is_none_or(|b| {
                        (plan.profit_quote, plan.amounts.liab) > (b.profit_quote, b.amounts.liab)
                    });
                    if better {
                        best = Some(plan);
                    }
                }
                Err(NoPlan::NotLiquidatable) => {}
                Err(NoPlan::LiquidatorCannotCarry { init_health_after }) => {
                    let worst = cannot_carry.get_or_insert(init_health_after);
                    *worst = (*worst).max(init_health_after);
                }
                Err(other) => refused = Some(other),
            }
        }
    }
    match (best, cannot_carry, refused) {
        (Some(plan), _, _) => Ok(plan),
        (None, Some(init_health_after), _) => {
            Err(NoPlan::LiquidatorCannotCarry { init_health_after })
        }
        (None, None, Some(refused)) => Err(refused),
        (None, None, None) => Err(NoPlan::NotLiquidatable),
    }
}

/// The liquidatee priced before the step: its positions, and its perps' totals.
#[derive(Clone, Copy)]
struct Before<'a> {
    positions: &'a [PricedPosition],
    perp: Option<&'a PerpTotals>,
}

/// The largest step of this pair the program accepts and the liquidator can carry.
fn best_step_for_pair(
    banks: &PairBanks,
    before: Before,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
) -> Result<Plan, NoPlan> {
    let (liab_index, asset_index) = (banks.liab.index, banks.asset.index);
    let chosen = match step(banks, before, liquidatee, liquidator, u64::MAX) {
        Err(NoPlan::LiquidatorCannotCarry { .. }) => {
            // The liquidator's init health falls as it takes on more (liability weights >= 1 >=
            // asset weights): find the largest amount it can carry by bisection, up to the debt
            // (no step takes more).
            let mut found = step(banks, before, liquidatee, liquidator, 1)?;
            let owed = before.positions.iter().find(|p| p.bank_index == liab_index);
            let owed = owed.map(|p| p.health.native);
            let (mut low, mut high) = (1u64, owed.unwrap_or(1).saturating_add(1));
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                match step(banks, before, liquidatee, liquidator, mid) {
                    Ok(candidate) => {
                        low = mid;
                        found = candidate;
                    }
                    Err(NoPlan::LiquidatorCannotCarry { .. }) => high = mid,
                    Err(other) => return Err(other),
                }
            }
            found
        }
        other => other?,
    };
    // At the oracle prices the step exchanged at.
    let (outcome, amounts) = (chosen.outcome, chosen.outcome.amounts);
    let received =
        mul_q64(amounts.asset_to_liquidator, outcome.asset_price, Round::Down).unwrap_or(0);
    let owed = mul_q64(amounts.liab, outcome.liab_price, Round::Up).unwrap_or(0);
    Ok(Plan {
        liab_bank: liab_index,
        asset_bank: asset_index,
        max_liab_amount: amounts.liab,
        amounts,
        profit_quote: received as i128 - owed as i128,
        liquidatee_maint_before: chosen.outcome.maint_health_before,
        liquidatee_maint_after: chosen.outcome.maint_health_after,
        liquidator_init_after: chosen.outcome.liquidator_init_health_after,
        liquidator_after: chosen.liquidator_after,
    })
}

/// One step with `max_liab_amount`: the program's `liquidation::step` on copies of the accounts
/// and banks. Fails where the program would refuse it.
fn step(
    banks: &PairBanks,
    before: Before,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
    max_liab_amount: u64,
) -> Result<Step, NoPlan> {
    let (mut liquidatee_after, mut liquidator_after) = (*liquidatee, *liquidator);
    let (mut liab_bank, mut asset_bank) = (banks.liab.bank, banks.asset.bank);
    let mut liquidator_init = None;
    let outcome = liquidation::step(
        &banks.market.group,
        StepAccounts {
            liquidatee: &mut liquidatee_after,
            liquidator: &mut liquidator_after,
            liab_bank: &mut liab_bank,
            asset_bank: &mut asset_bank,
        },
        before.positions,
        before.perp,
        max_liab_amount,
        // The liquidator is checked against the banks as the step left them.
        |liquidator, liab_bank, asset_bank| {
            let health = banks.with(*liab_bank, *asset_bank).health(liquidator)?;
            liquidator_init = Some(health.init);
            Ok(Some(health))
        },
    );
    match (outcome, liquidator_init) {
        (Ok(outcome), _) => Ok(Step { outcome, liquidator_after }),
        (Err(NoPlan::NoPair(MarginError::LiquidatorInitHealthNegative)), Some(init)) => {
            Err(NoPlan::LiquidatorCannotCarry { init_health_after: init })
        }
        (Err(refused), _) => Err(refused),
    }
}
