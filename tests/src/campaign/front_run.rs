//! Front-runs (issue 23): a keeper builds its liquidation of an account, and the account's own
//! instruction lands first, in the same transaction.
//!
//! The two instructions are first sent one after the other, each judged as a step of its own:
//! the liquidatee's action as usual, then the keeper's liquidation exactly as it was built
//! before that action (its amount and both health-account lists), with the outcomes a
//! liquidation may have in the state the action left. Health-account errors are allowed only
//! where `liquidate` must refuse the stale lists: the action opened a position (every position
//! needs its pair: finding 28), changed the liquidatee's perp tail (exact, an accepted risk) or
//! the liquidator's list for the step planned now; `liquidate_perp` wherever the liquidatee's
//! list changed. Then, from the starting state, the same two instructions go in one
//! transaction, which must end as the pair did: every account and every event the same if both
//! succeeded, or the failing instruction's error (at its index in the transaction) with nothing
//! changed. The campaign goes on from the state the judged pair left, which its bookkeeping
//! describes.

use cross_margin::state::MarginAccount;
use litesvm::LiteSVM;
use solana_transaction_error::TransactionError;

use super::executor::LiquidationCall;
use super::outcomes::{Expect, M};
use super::perp_ops::allowed_by;
use super::selectors::position_bank;
use super::{Amount, Check, Kind, Op, PerpAction, PerpSize, State, World, USERS};
use crate::*;

/// A transaction sent while a front-run is judged: its instructions, and its events (the
/// `Program data:` lines) or its error.
pub(super) struct Sent {
    ixs: Vec<Instruction>,
    result: Result<Vec<String>, TransactionError>,
}

impl Sent {
    pub(super) fn of(ixs: &[Instruction], result: &TxResult) -> Self {
        let result = match result {
            Ok(executed) => Ok(events(&executed.logs)),
            Err(failed) => Err(failed.error.clone()),
        };
        Self { ixs: ixs.to_vec(), result }
    }
}

/// The front-run's two instructions as sent one after the other: the liquidatee's action and
/// the keeper's liquidation (`None` if not sent: the action was refused), whose state the
/// campaign goes on from.
struct Pair {
    action: Sent,
    liquidation: Option<Result<Vec<String>, TransactionError>>,
}

/// Who liquidates, with what.
enum Keeper {
    /// `liquidate`: the call as planned, and the op that judges it as sent.
    Token { call: LiquidationCall, as_sent: Op },
    /// `liquidate_perp` with no lot limit.
    Perp { liquidator: u8, liquidatee: u8 },
}

/// The refusals of a list that does not match the account's positions.
const HEALTH_LIST_ERRORS: [Expect; 3] = [
    M(MarginError::HealthAccountsMissing),
    M(MarginError::HealthAccountsExtra),
    M(MarginError::HealthBankMismatch),
];

/// The refusals of a list whose perp tail does not match the account's perp slots, besides
/// `HEALTH_LIST_ERRORS` (a shifted tail also misplaces the token pairs).
const PERP_TAIL_ERRORS: [Expect; 2] =
    [M(MarginError::HealthPerpMarketMismatch), M(MarginError::HealthSettleBankMismatch)];

/// The perp tail of an account's health accounts, as `compute_account_health` reads it: the
/// number of perp slots, and whether the settle bank's pair leads it (no token position holds
/// that bank).
fn perp_tail(account: &MarginAccount) -> (usize, bool) {
    let (count, settle) = account.perp_summary();
    (count, settle.is_some_and(|bank| account.find(bank).is_none()))
}

/// The events a transaction logged, encoded, in order.
fn events(logs: &[String]) -> Vec<String> {
    logs.iter().filter(|l| l.starts_with("Program data: ")).cloned().collect()
}

impl World {
    /// `FrontRun`: the borrower nearest to liquidation is pushed past it; `liquidator` builds
    /// its liquidation by `amount`; the liquidatee's `action` lands first (see the module).
    pub(super) fn front_run(
        &mut self,
        op: &Op,
        liquidator: u8,
        depth_bps: u16,
        (kind, bank, amount): (Kind, u8, Amount),
        liquidation: Amount,
        before: &State,
    ) -> Check {
        let Some(le) = self.push_nearest(liquidator, depth_bps, before)? else { return Ok(()) };
        let built = self.state();
        let planned =
            Op::Liquidate { liquidator, liquidatee: le, liab: 4, asset: 4, amount: liquidation };
        let Op::Liquidate { liab, asset, .. } = self.concrete(&planned, &built) else {
            unreachable!("a liquidation stays one")
        };
        let call = self.liquidation_call(&built, liquidator, le, liab, asset, liquidation);
        let keeper_ix = self.liquidate_ix(&built, &call);
        let amount_sent = match call.max {
            u64::MAX => Amount::Max,
            max => Amount::Units(max),
        };
        let as_sent =
            Op::Liquidate { liquidator, liquidatee: le, liab, asset, amount: amount_sent };
        // A deposit's bank selector picks among the account's positions (the other kinds'
        // selectors are made concrete by `step`).
        let bank = if kind == Kind::Deposit { position_bank(&built, le, bank) } else { bank };
        let action = kind.op(le, bank, amount);

        let keeper = Keeper::Token { call, as_sent };
        self.front_run_pair(op, &action, &keeper, (&built, &keeper_ix))
    }

    /// `PerpFrontRun`: the user's perp position (opened if it has none) moves against it by
    /// `move_bps` of the perp price, up to six times until the account is liquidatable;
    /// `liquidator` builds its `liquidate_perp` of it (no lot limit); the user's `action` lands
    /// first.
    pub(super) fn perp_front_run(
        &mut self,
        op: &Op,
        (user, liquidator): (u8, u8),
        move_bps: u16,
        action: PerpAction,
    ) -> Check {
        let liquidator = (user + 1 + liquidator % (USERS as u8 - 1)) % USERS as u8;
        if Self::perp_base(&self.state(), user as usize) == 0 {
            let (size, reduce_only, limit_bps) = (PerpSize::Frac(9_500), false, None);
            let long = move_bps.is_multiple_of(2);
            self.step(&Op::PlacePerpOrder { user, long, size, reduce_only, limit_bps })?;
        }
        let base = Self::perp_base(&self.state(), user as usize);
        if base == 0 {
            return Ok(());
        }
        // Moves until the checks find it liquidatable (a few at most).
        let change_bps = if base > 0 { -(move_bps as i32) } else { move_bps as i32 };
        for _ in 0..6 {
            let s = self.state();
            if self.liquidatable(&s, &self.prices(&s), user as usize) {
                break;
            }
            self.step(&Op::PerpPrice { change_bps, conf_bps: 0 })?;
        }
        let built = self.state();
        let keeper_ix =
            self.liquidate_perp_ix(&built, liquidator as usize, user as usize, u64::MAX);
        let action = match action {
            PerpAction::Close(size) => {
                let (long, reduce_only, limit_bps) = (base < 0, true, None);
                Op::PlacePerpOrder { user, long, size, reduce_only, limit_bps }
            }
            PerpAction::Settle => Op::SettlePnl { user },
            PerpAction::SettleCovered => Op::SettleCovered { user },
            PerpAction::Deposit(amount) => {
                Op::Deposit { user, bank: self.perp.settle_bank.index as u8, amount }
            }
        };
        let keeper = Keeper::Perp { liquidator, liquidatee: user };
        self.front_run_pair(op, &action, &keeper, (&built, &keeper_ix))
    }

    /// The liquidatee's `action` and the keeper's instruction (built in `built`), one after
    /// the other, each judged as a step; then in one transaction from the same start
    /// (`one_transaction`).
    fn front_run_pair(
        &mut self,
        op: &Op,
        action: &Op,
        keeper: &Keeper,
        (built, keeper_ix): (&State, &Instruction),
    ) -> Check {
        let start = self.m.chain.svm.clone();
        let untouched = Snapshot::take(&self.m.chain, &self.all_addresses());
        let acted = self.recorded(|w| w.step(action))?;
        let liquidated = match &acted {
            Some(Sent { result: Ok(_), .. }) => Some(self.keeper_step(keeper, built, keeper_ix)?),
            _ => None,
        };
        let Some(action) = acted else { return Ok(()) };
        let pair = Pair { action, liquidation: liquidated.map(|l| l.result) };
        let together = self.one_transaction(&pair, keeper_ix, start, &untouched)?;
        match together {
            Ok(_) => self.stats_ok(op),
            Err(failed) => {
                let part = if fails_at(&failed, 0) { "action" } else { "liquidation" };
                let name = failed.error_name().unwrap_or("(no program error)");
                self.stats_rejected(op, format!("{part}: {name}"));
            }
        }
        Ok(())
    }

    /// The keeper's instruction, exactly as built in `built` before the liquidatee acted, sent
    /// and judged in the state the action left.
    fn keeper_step(
        &mut self,
        keeper: &Keeper,
        built: &State,
        keeper_ix: &Instruction,
    ) -> Result<Sent, String> {
        let s = self.state();
        let (as_sent, allowed) = match keeper {
            Keeper::Token { call, as_sent } => {
                let mut allowed = self.liquidation_allowed(&s, call);
                // The liquidatee's list may have gone stale: `liquidate` skips pairs no
                // position needs (finding L-5), but every position needs its pair (finding 28).
                // The liquidator's list is exact, and the step planned now may differ.
                let liquidator = s.accounts[call.liquidator].as_ref();
                let planned_before =
                    self.liquidator_health(built, call, built.accounts[call.liquidator].as_ref());
                let opened = position_opened(built, &s, call.liquidatee);
                if opened || self.liquidator_health(&s, call, liquidator) != planned_before {
                    allowed.extend(&HEALTH_LIST_ERRORS);
                }
                // The perp tail is exact (an accepted risk): closing the settle-bank position
                // of an account with perp slots changes it.
                let tail = |s: &State| s.accounts[call.liquidatee].as_ref().map(perp_tail);
                if tail(built) != tail(&s) {
                    allowed.extend(&HEALTH_LIST_ERRORS);
                    allowed.extend(&PERP_TAIL_ERRORS);
                }
                (*as_sent, allowed)
            }
            &Keeper::Perp { liquidator, liquidatee } => {
                let (l, e) = (liquidator as usize, liquidatee as usize);
                let mut allowed = allowed_by(&self.simulate_liquidate_perp(&s, e, l, u64::MAX));
                // The perp tail of the list is exact (an accepted risk): an action that changed
                // the liquidatee's list may make the keeper's fail.
                if self.health_of(&s, e) != self.health_of(built, e) {
                    allowed.extend(&HEALTH_LIST_ERRORS);
                    allowed.extend(&PERP_TAIL_ERRORS);
                }
                let max = PerpSize::Huge;
                (Op::LiquidatePerp { liquidator, liquidatee, max }, allowed)
            }
        };
        let snapshot = Snapshot::take(&self.m.chain, &self.all_addresses());
        let result = self.send_tx(std::slice::from_ref(keeper_ix));
        let sent = Sent::of(std::slice::from_ref(keeper_ix), &result);
        self.judge(&as_sent, &s, &snapshot, result, allowed)?;
        Ok(sent)
    }

    /// Sends the pair's two instructions in one transaction from `start`, judges it against
    /// what the pair left, and puts the chain back in the pair's state. Returns the one
    /// transaction's result.
    fn one_transaction(
        &mut self,
        pair: &Pair,
        keeper_ix: &Instruction,
        start: LiteSVM,
        untouched: &Snapshot,
    ) -> Result<TxResult, String> {
        let left = Snapshot::take(&self.m.chain, &self.all_addresses());
        let after_pair = std::mem::replace(&mut self.m.chain.svm, start);
        let action_ixs = &pair.action.ixs;
        let ixs = [action_ixs.as_slice(), std::slice::from_ref(keeper_ix)].concat();
        let together = self.send_tx(&ixs);
        let verdict = match (&pair.action.result, &pair.liquidation, &together) {
            (Ok(action_events), Some(Ok(liquidation_events)), Ok(executed)) => {
                let expected = [action_events.as_slice(), liquidation_events].concat();
                let emitted = events(&executed.logs);
                if emitted != expected {
                    Err(format!(
                        "one transaction emitted {emitted:?}, one after the other {expected:?}"
                    ))
                } else {
                    left.changed(&self.m.chain).map_or(Ok(()), |a| {
                        Err(format!("account {a} differs from the two sent one after the other"))
                    })
                }
            }
            (Err(alone), _, Err(failed)) => self.same_failure(alone, 0, failed, untouched),
            (Ok(_), Some(Err(alone)), Err(failed)) => {
                self.same_failure(alone, action_ixs.len(), failed, untouched)
            }
            (action, liquidation, together) => Err(format!(
                "one after the other the action ended {action:?} and the liquidation \
                 {liquidation:?}, in one transaction {:?}",
                together.as_ref().map(|_| ()).map_err(|f| (&f.error, &f.logs))
            )),
        };
        self.m.chain.svm = after_pair;
        verdict.map_err(|e| format!("front-run in one transaction: {e}"))?;
        Ok(together)
    }

    /// The one transaction failed as its instruction `index` did alone, and changed nothing.
    fn same_failure(
        &self,
        alone: &TransactionError,
        index: usize,
        failed: &Failed,
        untouched: &Snapshot,
    ) -> Check {
        let TransactionError::InstructionError(0, error) = alone else {
            return Err(format!("alone it failed with {alone:?}"));
        };
        let expected = TransactionError::InstructionError(index as u8, error.clone());
        ensure!(failed.error == expected, "failed with {:?}, expected {expected:?}", failed.error);
        untouched
            .changed(&self.m.chain)
            .map_or(Ok(()), |a| Err(format!("the failed transaction changed account {a}")))
    }

    /// Runs `f` recording the transactions it sends: the one it sent, if exactly one.
    fn recorded(&mut self, f: impl FnOnce(&mut Self) -> Check) -> Result<Option<Sent>, String> {
        self.recording = Some(vec![]);
        let result = f(self);
        let mut sent = self.recording.take().unwrap_or_default();
        result?;
        Ok(if sent.len() == 1 { sent.pop() } else { None })
    }
}

/// Whether account `le` holds a position in `s` in a bank where it held none in `built`.
fn position_opened(built: &State, s: &State, le: usize) -> bool {
    let banks = |s: &State| -> Vec<u16> {
        s.accounts[le].iter().flat_map(|a| a.active_positions()).map(|p| p.bank_index).collect()
    };
    let before = banks(built);
    banks(s).iter().any(|b| !before.contains(b))
}

/// Whether the transaction failed at instruction `index`.
fn fails_at(failed: &Failed, index: usize) -> bool {
    matches!(failed.error, TransactionError::InstructionError(i, _) if i as usize == index)
}
