//! One step of a sequence: the selectors made concrete, the actions that need no transaction
//! (prices, faults, the clock) or are made of others (leave, collapse), and the verdict on a
//! transaction's outcome.

use cross_margin::math::{div_q64, Round};
use cross_margin::state::PositionKind;

use super::outcomes::Allowed;
use super::selectors::position_bank;
use super::{Amount, Check, Edge, Kind, Op, PerpSize, State, World, SIBLING, USERS};
use crate::*;

impl World {
    pub(super) fn step(&mut self, op: &Op) -> Check {
        if self.trace {
            eprintln!("  {op:?}");
        }
        let before = self.state();
        let op = &self.concrete(op, &before);
        if self.trace {
            eprintln!("    as {op:?}");
        }
        match *op {
            Op::Price { bank, change_bps, conf_bps, expo_shift } => {
                self.set_price(bank as usize, change_bps, conf_bps, expo_shift, before.now)
            }
            Op::OracleFault { bank, fault } => self.set_fault(bank as usize, fault, before.now),
            Op::PerpPrice { change_bps, conf_bps } => {
                self.set_perp_price(change_bps, conf_bps, before.now)
            }
            Op::PerpFault(fault) => self.set_perp_fault(fault, before.now),
            Op::Warp { secs, refresh } => {
                self.m.chain.warp_seconds(secs as i64);
                if refresh {
                    self.refresh_oracles();
                }
            }
            Op::ApplyChange { bank, wait: true } => {
                let due = before
                    .group
                    .config_change_due(before.banks[bank as usize].pending.apply_after_ts);
                if before.banks[bank as usize].pending.is_queued() && before.now < due {
                    self.step(&Op::Warp { secs: (due - before.now) as u32, refresh: true })?;
                }
                return self.transact(&Op::ApplyChange { bank, wait: false }, &self.state());
            }
            Op::Leave { user } => return self.leave(op, user, &before),
            Op::Collapse { user, liquidator } => return self.collapse(op, user, liquidator),
            Op::Dust { user, collateral, debt, cents, borrow_bps } => {
                return self.dust(op, user, (collateral, debt), cents, borrow_bps)
            }
            Op::StaleDust { user, bank, units, fault } => {
                let amount = Amount::Units(units as u64);
                self.step(&Op::Deposit { user, bank, amount })?;
                self.step(&Op::OracleFault { bank, fault })?;
                self.stats_ok(op);
                return Ok(());
            }
            Op::Corner { liquidator, depth_bps, amount, edge } => {
                return self.corner(op, liquidator, depth_bps, amount, edge, &before)
            }
            Op::FrontRun { liquidator, depth_bps, kind, bank, amount, liquidation } => {
                let action = (kind, bank, amount);
                return self.front_run(op, liquidator, depth_bps, action, liquidation, &before);
            }
            Op::PerpFrontRun { user, liquidator, move_bps, action } => {
                return self.perp_front_run(op, (user, liquidator), move_bps, action);
            }
            Op::OracleEdge { bank, edge } => self.set_edge(bank as usize, edge, &before),
            Op::PerpCollapse { user, liquidator } => {
                return self.perp_collapse(op, user, liquidator, &before)
            }
            _ => return self.transact(op, &before),
        }
        self.stats_ok(op);
        Ok(())
    }

    pub(super) fn stats_ok(&mut self, op: &Op) {
        *self.stats.ok.entry(op.name()).or_default() += 1;
    }

    /// A rejection of `op`, and why.
    pub(super) fn stats_rejected(&mut self, op: &Op, reason: String) {
        *self.stats.rejected.entry(op.name()).or_default() += 1;
        *self.stats.reasons.entry((op.name(), reason)).or_default() += 1;
    }

    /// `Leave`: close the perp position, settle it and redeem pool shares; repay every debt
    /// (the wallet topped up), withdraw every deposit, close.
    fn leave(&mut self, op: &Op, user: u8, before: &State) -> Check {
        let u = user as usize;
        let Some(account) = before.accounts[u] else { return Ok(()) };
        if let Some(slot) = account.find_perp(0).map(|i| account.perps[i]) {
            if slot.base_lots != 0 {
                let (size, limit_bps) = (PerpSize::Close(0), None);
                let long = false;
                self.step(&Op::PlacePerpOrder { user, long, size, reduce_only: true, limit_bps })?;
            }
            self.step(&Op::SettleCovered { user })?;
            if slot.lp_shares > 0 {
                self.step(&Op::PoolWithdraw { user, amount: Amount::All })?;
            }
        }
        let Some(account) = self.state().accounts[u] else { return Ok(()) };
        for p in account.active_positions().filter(|p| p.kind() == PositionKind::Borrow) {
            let b = p.bank_index as usize;
            let s = self.state();
            let debt = self.reference(&s, u, b, Kind::Repay);
            if s.wallets[u][b] < debt {
                self.m.chain.mint_to(&self.users[u].tokens[b], debt - s.wallets[u][b]);
            }
            self.step(&Op::Repay { user, bank: b as u8, amount: Amount::All })?;
        }
        for p in account.active_positions() {
            let bank = p.bank_index as u8;
            self.step(&Op::Withdraw { user, bank, amount: Amount::All })?;
        }
        self.stats_ok(op);
        self.step(&Op::Close { user })
    }

    /// `Collapse`: the user's largest collateral crashes by 97%, another user liquidates it as
    /// far as it goes, then its debts are put to `resolve_bankruptcy`.
    fn collapse(&mut self, op: &Op, user: u8, liquidator: u8) -> Check {
        let liquidator = (user + 1 + liquidator % (USERS as u8 - 1)) % USERS as u8;
        self.step(&Op::Squeeze { user, bps: 9_700 })?;
        for sel in 4..7 {
            // As far as it goes: a keeper stops once the account is done.
            let s = self.state();
            let judged = self.judge_liquidatee(&s, user as usize, 0, 0);
            if judged.is_some_and(|j| !j.liquidatable || j.write_off) {
                break;
            }
            let (liab, asset, amount) = (sel, sel, Amount::Max);
            self.step(&Op::Liquidate { liquidator, liquidatee: user, liab, asset, amount })?;
        }
        for sel in 4..6 {
            self.step(&Op::Resolve { user, bank: sel })?;
        }
        self.stats_ok(op);
        Ok(())
    }

    /// `Corner`: the borrower nearest to liquidation is pushed past it (`push_nearest`), with
    /// `edge` one of its oracles put at the edge, then liquidated.
    fn corner(
        &mut self,
        op: &Op,
        liquidator: u8,
        depth_bps: u16,
        amount: Amount,
        edge: Option<(u8, Edge)>,
        before: &State,
    ) -> Check {
        let Some(liquidatee) = self.push_nearest(liquidator, depth_bps, before)? else {
            return Ok(());
        };
        if let Some((bank, edge)) = edge {
            let bank = position_bank(&self.state(), liquidatee, bank);
            self.step(&Op::OracleEdge { bank, edge })?;
        }
        self.step(&Op::Liquidate { liquidator, liquidatee, liab: 4, asset: 4, amount })?;
        self.stats_ok(op);
        Ok(())
    }

    /// The borrower nearest to liquidation, other than `liquidator` (for user 0's second
    /// account, its owner's first account if that borrows), pushed to `depth_bps` of its
    /// maint-weighted liabilities below zero by a fall of its largest collateral's price. If
    /// nobody borrows, one borrows 90% of what it can first. `None` if no borrower is left.
    pub(super) fn push_nearest(
        &mut self,
        liquidator: u8,
        depth_bps: u16,
        before: &State,
    ) -> Result<Option<u8>, String> {
        let borrower = |s: &State, u: usize| {
            s.accounts[u]
                .is_some_and(|a| a.active_positions().any(|p| p.kind() == PositionKind::Borrow))
        };
        let others = (0..USERS).filter(|&u| u != liquidator as usize);
        if !others.clone().any(|u| borrower(before, u)) {
            // Nobody borrows: the liquidatee-to-be borrows 90% of what it can first.
            let user =
                if liquidator as usize == SIBLING { 0 } else { (liquidator + 1) % USERS as u8 };
            let amount = Amount::Frac(9_000);
            self.step(&Op::Borrow { user, bank: 4 + depth_bps as u8 % 4, amount })?;
        }
        let before = &self.state();
        let prices = self.prices(before);
        let nearest = (0..USERS)
            .filter(|&u| u != liquidator as usize)
            .filter_map(|u| {
                let account = before.accounts[u].as_ref()?;
                let report = self.report(account, &before.banks, &prices).ok()?;
                let liabs = report.totals.maint_weighted_liabs;
                (liabs > 0).then(|| {
                    let own = liquidator as usize == SIBLING && u == 0;
                    let ratio = report.totals.health.maint as f64 / liabs as f64;
                    (u, !own, ratio)
                })
            })
            .min_by(|a, b| (a.1, a.2).partial_cmp(&(b.1, b.2)).expect("finite"));
        let Some((u, _, _)) = nearest else { return Ok(None) };
        // A few pushes: each publishes with no confidence, which itself moves health a little.
        for _ in 0..3 {
            let s = self.state();
            let Some(account) = s.accounts[u].as_ref() else { break };
            let Ok(report) = self.report(account, &s.banks, &self.prices(&s)) else { break };
            let collateral = report
                .positions
                .iter()
                .filter(|p| !p.health.is_liability && p.health.maint > 0)
                .max_by_key(|p| p.health.maint);
            let target = -(report.totals.maint_weighted_liabs * depth_bps as i128 / 10_000);
            let excess = report.totals.health.maint - target;
            let (Some(c), true) = (collateral, excess >= 0) else { break };
            let fall = ((excess + 1) as f64 / c.health.maint as f64 * 10_000.0).ceil();
            let change_bps = -(fall.min(9_700.0) as i32).max(1);
            let bank = c.bank_index as u8;
            self.step(&Op::Price { bank, change_bps, conf_bps: 0, expo_shift: 0 })?;
        }
        Ok(Some(u as u8))
    }

    /// `Dust`: leave, open the account again, deposit `cents` worth of `collateral`, borrow
    /// `borrow_bps` of the capacity in `debt`.
    fn dust(
        &mut self,
        op: &Op,
        user: u8,
        (collateral, debt): (u8, u8),
        cents: u16,
        borrow_bps: u16,
    ) -> Check {
        self.step(&Op::Leave { user })?;
        self.step(&Op::Reopen { user })?;
        let s = self.state();
        let Ok(price) = self.prices(&s)[collateral as usize] else { return Ok(()) };
        let value = cents as u64 * 10_000; // quote native units (6 decimals)
        let Ok(native) = div_q64(value, price.price, Round::Up) else { return Ok(()) };
        let amount = Amount::Units(native.max(1));
        self.step(&Op::Deposit { user, bank: collateral, amount })?;
        let amount = Amount::Frac(borrow_bps);
        self.step(&Op::Borrow { user, bank: debt, amount })?;
        self.stats_ok(op);
        Ok(())
    }

    /// An action that is a transaction: sent, then judged.
    fn transact(&mut self, op: &Op, before: &State) -> Check {
        let snapshot = Snapshot::take(&self.m.chain, &self.all_addresses());
        let (result, allowed) = self.send(op, before);
        self.judge(op, before, &snapshot, result, allowed)
    }

    /// The verdict on a transaction: never a panic; a rejection with an allowed error that
    /// changed nothing, or an allowed success that keeps every invariant.
    pub(super) fn judge(
        &mut self,
        op: &Op,
        before: &State,
        snapshot: &Snapshot,
        result: TxResult,
        allowed: Allowed,
    ) -> Check {
        let logs = match &result {
            Ok(e) => &e.logs,
            Err(f) => &f.logs,
        };
        if let Some(line) = logs.iter().find(|l| l.to_lowercase().contains("panicked")) {
            return Err(format!("the program panicked: {line}"));
        }
        let after = self.state();
        match result {
            Err(failed) => self.judge_rejection(op, before, &after, snapshot, failed, &allowed),
            Ok(executed) => {
                *self.stats.ok.entry(op.name()).or_default() += 1;
                ensure!(allowed.success, "succeeded, but must fail\n{}", executed.logs.join("\n"));
                self.credit_index_changes(before, &after);
                self.after_success(op, before, &after, &executed)?;
                self.check_state(&after, "after")
            }
        }
    }

    fn judge_rejection(
        &mut self,
        op: &Op,
        before: &State,
        after: &State,
        snapshot: &Snapshot,
        failed: Failed,
        allowed: &Allowed,
    ) -> Check {
        let reason =
            failed.error_name().map_or_else(|| format!("{:?}", failed.error), String::from);
        self.stats_rejected(op, reason);
        ensure!(
            !format!("{:?}", failed.error).contains("ProgramFailedToComplete"),
            "ProgramFailedToComplete\n{}",
            failed.logs.join("\n")
        );
        let code = failed.custom_code();
        ensure!(
            code.is_some_and(|c| allowed.errors.iter().any(|e| e.code() == c)),
            "unexpected error {:?} ({:?}), allowed {:?}\n{}",
            failed.error,
            failed.error_name(),
            allowed.errors,
            failed.logs.join("\n")
        );
        // A rejected instruction changes nothing: LiteSVM keeps no state of a failed
        // transaction but the fee, and the payer is not among these accounts.
        self.unchanged(before, after)?;
        snapshot
            .changed(&self.m.chain)
            .map_or(Ok(()), |a| Err(format!("a rejected instruction changed account {a}")))
    }
}
