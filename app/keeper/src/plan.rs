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
    /// The liquidatee's account after the step (to plan the next one on it, e.g. the stress
    /// lab's liquidation-capacity view).
    pub liquidatee_after: MarginAccount,
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
    /// Only pairs the keeper may not plan were left: in a flash loan, pairs whose collateral
    /// its swap venue cannot sell for the debt's mint.
    NoSwapRoute,
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
            Self::NoSwapRoute => {
                f.write_str("no borrow/deposit pair whose collateral the swap venue can sell")
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
    liquidatee_after: MarginAccount,
}

/// How the liquidator's own init health after a step is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiquidatorCheck {
    /// It must stay at or above this (quote native units; the program requires 0, the keeper
    /// may keep a buffer: `InventoryConfig::health_buffer`).
    AtLeast(i128),
    /// Inside a flash-loan bracket the program skips the liquidator's check (`flash_loan_end`
    /// judges the account once, after the unwind); the keeper judges the whole bracket instead.
    Skipped,
}

/// Plans the best step for `liquidatee`, taken over by `liquidator` (whose init health must
/// stay >= 0, as the program requires).
pub fn plan_liquidation(
    market: &MarketState,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
) -> Result<Plan, NoPlan> {
    plan_liquidation_with(market, liquidatee, liquidator, LiquidatorCheck::AtLeast(0), &|_, _| true)
}

/// [`plan_liquidation`], judging the liquidator by `check`, among the `(liab_bank, asset_bank)`
/// pairs `allowed` accepts.
pub fn plan_liquidation_with(
    market: &MarketState,
    liquidatee: &MarginAccount,
    liquidator: &MarginAccount,
    check: LiquidatorCheck,
    allowed: &dyn Fn(u16, u16) -> bool,
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
    let mut not_allowed = false;
    for &liab in &borrows {
        for &asset in &deposits {
            if !allowed(liab, asset) {
                not_allowed = true;
                continue;
            }
            let banks = PairBanks::new(market, liab, asset)?;
            let (before, perp) = banks.liquidatee(liquidatee)?;
            let before = Before { positions: &before, perp: perp.as_ref() };
            match best_step_for_pair(&banks, before, liquidatee, liquidator, check) {
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
        (None, None, None) if not_allowed => Err(NoPlan::NoSwapRoute),
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
    check: LiquidatorCheck,
) -> Result<Plan, NoPlan> {
    let (liab_index, asset_index) = (banks.liab.index, banks.asset.index);
    let try_step = |max| step(banks, before, liquidatee, liquidator, max, check);
    let chosen = match try_step(u64::MAX) {
        Err(NoPlan::LiquidatorCannotCarry { init_health_after }) => {
            // The liquidator's init health falls as it takes on more (liability weights >= 1 >=
            // asset weights): find the largest amount it can carry by bisection, up to the debt
            // (no step takes more). If the smallest step is refused for its size (e.g. it does
            // not improve the account), the liquidator cannot carry a step of this pair.
            let mut found = match try_step(1) {
                Err(NoPlan::NoPair(_)) => {
                    return Err(NoPlan::LiquidatorCannotCarry { init_health_after })
                }
                other => other?,
            };
            let owed = before.positions.iter().find(|p| p.bank_index == liab_index);
            let owed = owed.map(|p| p.health.native);
            let (mut low, mut high) = (1u64, owed.unwrap_or(1).saturating_add(1));
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                match try_step(mid) {
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
        liquidatee_after: chosen.liquidatee_after,
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
    check: LiquidatorCheck,
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
            let health = banks.with(*liab_bank, *asset_bank).health(liquidator);
            match check {
                LiquidatorCheck::AtLeast(floor) => {
                    let health = health?;
                    liquidator_init = Some(health.init);
                    // The step's own `init >= 0` test, shifted by the floor.
                    Ok(Some(Health { init: health.init.saturating_sub(floor), ..health }))
                }
                LiquidatorCheck::Skipped => {
                    // Deferred to `flash_loan_end`, as the program does inside a bracket.
                    liquidator_init = Some(health.map_or(0, |h| h.init));
                    Ok(None)
                }
            }
        },
    );
    match (outcome, liquidator_init) {
        (Ok(outcome), Some(init)) => Ok(Step {
            outcome: StepOutcome { liquidator_init_health_after: init, ..outcome },
            liquidator_after,
            liquidatee_after,
        }),
        (Ok(outcome), None) => Ok(Step { outcome, liquidator_after, liquidatee_after }),
        (Err(NoPlan::NoPair(MarginError::LiquidatorInitHealthNegative)), Some(init)) => {
            Err(NoPlan::LiquidatorCannotCarry { init_health_after: init })
        }
        (Err(refused), _) => Err(refused),
    }
}

/// `account`'s init health after `moves` change it and the pair's banks (both accrued to
/// `market.now` first, as an instruction accrues the banks it moves), every position priced
/// as the program's init-health gate prices it. Returns the account after the moves too.
pub(crate) fn init_health_after_moves(
    market: &MarketState,
    liab: u16,
    asset: u16,
    account: &MarginAccount,
    moves: impl FnOnce(&mut MarginAccount, &mut Bank, &mut Bank) -> Result<(), MarginError>,
) -> Result<(MarginAccount, i128), NoPlan> {
    let banks = PairBanks::new(market, liab, asset)?;
    let (mut account, mut liab_bank, mut asset_bank) =
        (*account, banks.liab.bank, banks.asset.bank);
    moves(&mut account, &mut liab_bank, &mut asset_bank).map_err(NoPlan::NoPair)?;
    let health = banks.with(liab_bank, asset_bank).health(&account)?;
    Ok((account, health.init))
}

/// `account`'s init health now (its banks accrued to `market.now`); 0 for an empty account.
pub(crate) fn init_health_now(
    market: &MarketState,
    account: &MarginAccount,
) -> Result<i128, NoPlan> {
    let Some(first) = account.active_positions().next().map(|p| p.bank_index) else {
        return Ok(0);
    };
    // A "pair" of one bank: every other bank is read as stored, which is how the program's
    // init-health gate reads the banks an instruction does not move.
    init_health_after_moves(market, first, first, account, |_, _, _| Ok(())).map(|(_, init)| init)
}
