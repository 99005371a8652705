//! The next step for an account with perp slots, in the program's order of operations
//! (docs/PERPS.md): (a) `liquidate_perp` of an open base, (b) `settle_pnl`, losses first, (c)
//! token liquidation (`plan::plan_liquidation`, which counts the perps), (d)
//! `resolve_perp_bankruptcy`. Every candidate is the program's own pure function run on copies
//! of the accounts, banks and markets as the instruction will hold them
//! (`perp::liquidation::liquidate`, `perp::actions::settle`, `perp::bankruptcy::write_off`), so
//! a step the program would refuse is never a candidate. Candidates are ranked by
//! `(phase, profit)`: the earliest phase with a step wins, and within it the best-paying step
//! (a perp step pays its liquidation fee, valued at the settle bank's oracle price; a token
//! step its fee, as `plan` values it).

use cross_margin::error::MarginError;
use cross_margin::liquidation::{end_target, is_liquidatable};
use cross_margin::math::{mul_q64, Round};
use cross_margin::perp::actions::{settle, SettleOutcome};
use cross_margin::perp::bankruptcy::{loss_borrow_capacity, write_off, PerpWriteOff};
use cross_margin::perp::liquidation::{liquidate, PerpLiquidatee, PerpLiquidationOutcome};
use cross_margin::state::MarginAccount;

use crate::market::MarketState;
use crate::perps::{Held, Touched};
use crate::plan::{plan_liquidation, NoPlan, Plan};

/// The order of operations: an earlier phase goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    LiquidatePerp,
    Settle,
    Liquidate,
    ResolvePerpBankruptcy,
}

/// One step for an account with perp slots, as the program will compute it.
#[derive(Debug, Clone)]
pub enum PerpStep {
    LiquidatePerp { market_index: u16, max_base_lots: u64, outcome: PerpLiquidationOutcome },
    SettlePnl { market_index: u16, outcome: SettleOutcome },
    Liquidate(Box<Plan>),
    ResolvePerpBankruptcy { market_index: u16, outcome: PerpWriteOff },
}

impl PerpStep {
    pub fn phase(&self) -> Phase {
        match self {
            Self::LiquidatePerp { .. } => Phase::LiquidatePerp,
            Self::SettlePnl { .. } => Phase::Settle,
            Self::Liquidate(_) => Phase::Liquidate,
            Self::ResolvePerpBankruptcy { .. } => Phase::ResolvePerpBankruptcy,
        }
    }
}

/// A step and what it pays the keeper (quote native units at oracle prices).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub step: PerpStep,
    pub profit_quote: i128,
}

impl Candidate {
    /// The ranking: earliest phase, then most profit; among settlements, the largest loss first
    /// (it is what lets collateral pay), then gains.
    fn key(&self) -> (Phase, i128, i128) {
        let settled = match self.step {
            PerpStep::SettlePnl { outcome, .. } => outcome.amount as i128,
            _ => 0,
        };
        (self.step.phase(), -self.profit_quote, settled)
    }
}

/// The best next step for `account` (with perp slots), taken by `liquidator`. `settled`: the
/// markets already settled on this account in this round (funding moves a little every second;
/// settling it again would only churn). `NotLiquidatable` when nothing is to be done.
pub fn plan_account(
    market: &MarketState,
    account: &MarginAccount,
    liquidator: &MarginAccount,
    settled: &[u16],
) -> Result<Candidate, NoPlan> {
    let mut refused: Option<NoPlan> = None;
    let mut keep = |result: Result<Candidate, NoPlan>, into: &mut Vec<Candidate>| match result {
        Ok(candidate) => into.push(candidate),
        Err(NoPlan::NotLiquidatable) => {}
        Err(other) => refused = Some(other),
    };
    let mut candidates = Vec::new();
    // (a) Every open base; the program refuses an account that is not liquidatable.
    for slot in account.active_perps().filter(|s| s.base_lots != 0) {
        keep(
            predict_liquidate_perp(market, account, liquidator, slot.market_index),
            &mut candidates,
        );
    }
    if candidates.is_empty() {
        // Is anything left to do? As the account stands (stored banks and markets).
        let totals = market.price_account(account, Held::default())?.totals()?;
        let target =
            end_target(totals.maint_weighted_liabs, market.group.liquidation_end_buffer_bps);
        let liquidatable =
            is_liquidatable(totals.health.maint, target, account.being_liquidated != 0);
        let dust = market.group.bankruptcy_dust_quote;
        let bankrupt =
            cross_margin::bankruptcy::can_write_off_account(&totals, account.bankrupt != 0, dust);
        if !liquidatable && !bankrupt {
            return Err(NoPlan::NotLiquidatable);
        }
        // (b) Losses into collateral (and borrows up to equity), gains into deposits.
        for slot in account.active_perps().filter(|s| !settled.contains(&s.market_index)) {
            keep(predict_settle(market, account, slot.market_index), &mut candidates);
        }
        // (c) Token liquidation, with the perps counted; the program refuses it for a
        // bankrupt account.
        if candidates.is_empty() && !bankrupt {
            let token = plan_liquidation(market, account, liquidator);
            keep(
                token.map(|plan| Candidate {
                    profit_quote: plan.profit_quote,
                    step: PerpStep::Liquidate(Box::new(plan)),
                }),
                &mut candidates,
            );
        }
        // (d) Once every base is closed: the losses nothing else can pay (a slot whose quote is
        // no loss once its funding is applied is refused, so every slot is tried).
        if candidates.is_empty() && bankrupt {
            for slot in account.active_perps() {
                keep(predict_write_off(market, account, slot.market_index), &mut candidates);
            }
        }
    }
    best(candidates).ok_or(refused.unwrap_or(NoPlan::NotLiquidatable))
}

/// The candidate that goes first (`Candidate::key`).
fn best(candidates: Vec<Candidate>) -> Option<Candidate> {
    candidates.into_iter().min_by_key(Candidate::key)
}

/// The market `index` and its settle bank touched to now, on copies.
fn touched(market: &MarketState, index: u16) -> Result<Touched, NoPlan> {
    let unpriced = |error| NoPlan::PerpUnpriced { market_index: index, error };
    let state = market.perp(index).ok_or(unpriced(MarginError::HealthPerpMarketMismatch))?;
    let settle_index = state.market.settle_bank_index;
    let settle = market.bank(settle_index).ok_or(NoPlan::Unpriced {
        bank_index: settle_index,
        error: MarginError::HealthBankInvalid,
    })?;
    state.touched(&settle.bank, market.now).map_err(unpriced)
}

/// A refusal of the program's function, as a reason not to plan (a race or a state the step
/// does not apply to is "nothing to do").
fn refusal(error: MarginError) -> NoPlan {
    match error {
        MarginError::NotLiquidatable
        | MarginError::NothingToSettle
        | MarginError::PerpNoLossToWriteOff
        | MarginError::PerpPositionsOpen
        | MarginError::NotBankrupt => NoPlan::NotLiquidatable,
        error => NoPlan::NoPair(error),
    }
}

/// `liquidate_perp` of the account's base in market `index`, as the program will run it.
fn predict_liquidate_perp(
    market: &MarketState,
    account: &MarginAccount,
    liquidator: &MarginAccount,
    index: u16,
) -> Result<Candidate, NoPlan> {
    let mut t = touched(market, index)?;
    let held = Held { banks: &[&t.settle_bank], perps: &[&t.market] };
    let priced = market.price_account(account, held)?;
    let missing = NoPlan::NoPair(MarginError::PerpNoPositionToLiquidate);
    let (perp, slot) = (priced.perp.ok_or(missing)?, *priced.slot(index).ok_or(missing)?);
    let before = PerpLiquidatee { positions: &priced.positions, perp: &perp, slot: &slot };
    let (mut liquidatee, mut liquidator) = (*account, *liquidator);
    let outcome = liquidate(
        &market.group,
        &mut t.market,
        &mut t.settle_bank,
        &mut liquidatee,
        &mut liquidator,
        before,
        t.touch,
        u64::MAX,
    )
    .map_err(refusal)?;
    let profit_quote = settle_value(market, t.market.settle_bank_index, outcome.liquidation_fee);
    let step = PerpStep::LiquidatePerp {
        market_index: index,
        max_base_lots: outcome.lots_closed,
        outcome,
    };
    Ok(Candidate { step, profit_quote })
}

/// `native` units of the settle bank (a perp liquidation fee is a deposit there), valued at its
/// oracle price (quote native units, rounded down).
pub fn settle_value(market: &MarketState, settle_bank_index: u16, native: u64) -> i128 {
    let price = market
        .bank(settle_bank_index)
        .and_then(|b| b.last.as_ref().ok())
        .map_or(0, |last| last.price.price);
    mul_q64(native, price, Round::Down).map_or(0, |v| v as i128)
}

/// `settle_pnl` of market `index` with the account's health accounts, as the program will run
/// it: a loss beyond the settle deposit becomes a borrow up to the account's equity.
fn predict_settle(
    market: &MarketState,
    account: &MarginAccount,
    index: u16,
) -> Result<Candidate, NoPlan> {
    let mut t = touched(market, index)?;
    let mut after = *account;
    let outcome = settle(&mut t.market, &mut after, &mut t.settle_bank, t.touch, |a, m, bank| {
        let priced = market
            .price_account(a, Held { banks: &[bank], perps: &[m] })
            .map_err(|unpriced| unpriced.error())?;
        let settle = priced.perp.ok_or(MarginError::HealthSettleBankMismatch)?;
        loss_borrow_capacity(
            &priced.positions,
            settle.settle_bank_index,
            settle.settle_risk.liab_price,
        )
    })
    .map_err(refusal)?;
    let step = PerpStep::SettlePnl { market_index: index, outcome };
    Ok(Candidate { step, profit_quote: 0 })
}

/// `resolve_perp_bankruptcy` of market `index`, as the program will run it.
fn predict_write_off(
    market: &MarketState,
    account: &MarginAccount,
    index: u16,
) -> Result<Candidate, NoPlan> {
    let mut t = touched(market, index)?;
    let held = Held { banks: &[&t.settle_bank], perps: &[&t.market] };
    let totals = market.price_account(account, held)?.totals()?;
    let mut after = *account;
    let outcome = write_off(&market.group, &mut t.market, &mut t.settle_bank, &mut after, &totals)
        .map_err(refusal)?;
    let step = PerpStep::ResolvePerpBankruptcy { market_index: index, outcome };
    Ok(Candidate { step, profit_quote: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cross_margin::perp::liquidation::PerpLimit;

    fn perp(market_index: u16, fee: u64) -> Candidate {
        let outcome = PerpLiquidationOutcome {
            base_lots_before: 10,
            base_lots_after: 0,
            lots_closed: 10,
            limited_by: PerpLimit::Position,
            oracle_price: 0,
            quote_change: 0,
            liquidation_fee: fee,
            insurance_fee: 0,
            maint_health_before: -1,
            maint_health_after: 0,
            end_target_after: 0,
            still_being_liquidated: false,
            bankrupt: false,
        };
        let step = PerpStep::LiquidatePerp { market_index, max_base_lots: 10, outcome };
        Candidate { step, profit_quote: fee as i128 }
    }

    fn settle(market_index: u16, amount: i64) -> Candidate {
        let outcome = SettleOutcome { amount, funding_paid: 0, balance_change: amount as i128 };
        Candidate { step: PerpStep::SettlePnl { market_index, outcome }, profit_quote: 0 }
    }

    fn index(candidate: Option<Candidate>) -> u16 {
        match candidate.expect("a candidate").step {
            PerpStep::LiquidatePerp { market_index, .. } => market_index,
            PerpStep::SettlePnl { market_index, .. } => market_index,
            _ => u16::MAX,
        }
    }

    #[test]
    fn the_earliest_phase_goes_first_then_the_best_paying_step() {
        // A perp base before any settlement, whatever it pays; among bases, the largest fee.
        assert_eq!(index(best(vec![settle(0, -500), perp(1, 5), perp(2, 9)])), 2);
        assert_eq!(index(best(vec![perp(1, 5), settle(0, -500)])), 1);
        // Among settlements, the largest loss first, gains last.
        assert_eq!(index(best(vec![settle(0, 300), settle(1, -20), settle(2, -70)])), 2);
        assert_eq!(index(best(vec![settle(0, 300), settle(1, 20)])), 1);
        assert!(best(Vec::new()).is_none());
    }
}
