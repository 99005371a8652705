//! What must hold after a successful action (beyond the invariants of every state), and the
//! ledger entries it makes.

use cross_margin::bankruptcy::can_write_off_account;
use cross_margin::events::{BankruptcyResolved, CollateralSeized, Liquidation, TokenMovement};
use cross_margin::health::AccountTotals;
use cross_margin::liquidation::{end_target, is_liquidatable, solvency_slack};
use cross_margin::positions;
use cross_margin::state::PositionKind;

use super::chain::LastPrices;
use super::executor::LiquidationCall;
use super::models::WriteOffFacts;
use super::{BadOp, Check, Op, Report, State, World};
use crate::*;

/// A transaction that landed: the states before and after it, and what it logged.
#[derive(Clone, Copy)]
struct Landed<'a> {
    s0: &'a State,
    s1: &'a State,
    executed: &'a Executed,
}

impl World {
    /// The per-action invariants of a successful instruction, and the ledger.
    pub(super) fn after_success(
        &mut self,
        op: &Op,
        s0: &State,
        s1: &State,
        executed: &Executed,
    ) -> Check {
        let landed = &Landed { s0, s1, executed };
        match *op {
            Op::Deposit { user, bank, .. } | Op::Repay { user, bank, .. } => {
                self.after_paying_in(s0, s1, user as usize, bank as usize)
            }
            Op::Withdraw { user, bank, .. } | Op::Borrow { user, bank, .. } => {
                self.after_taking_out(op, landed, user as usize, bank as usize)
            }
            Op::Liquidate { liquidator, liquidatee, liab, asset, amount } => {
                let call = self.liquidation_call(s0, liquidator, liquidatee, liab, asset, amount);
                self.check_liquidation(landed, &call)
            }
            Op::Resolve { user, bank } => self.after_resolve(landed, user as usize, bank as usize),
            Op::FundInsurance { bank, .. } => after_fund_insurance(s0, s1, bank as usize),
            Op::Close { user } => after_close(s0, s1, user as usize),
            Op::Reopen { user } => after_reopen(s1, user as usize),
            Op::ReduceOnly(_) | Op::Pause(_) => Ok(()),
            Op::QueueChange { bank, maint_weight_bps } => {
                let (b, now) = (bank as usize, s0.now);
                let pending = s1.banks[b].pending;
                let expected = Self::changed_config(s0, b, maint_weight_bps);
                let delay = s0.group.config_delay_secs as i64;
                ensure!(pending.config == expected, "queued {:?}", pending.config);
                ensure!(
                    pending.apply_after_ts == now + delay,
                    "apply after {}",
                    pending.apply_after_ts
                );
                ensure!(s1.banks[b].config == s0.banks[b].config, "a queued change took effect");
                Ok(())
            }
            Op::ApplyChange { bank, .. } => {
                let (b0, b1) = (&s0.banks[bank as usize], &s1.banks[bank as usize]);
                let due = s0.group.config_change_due(b0.pending.apply_after_ts);
                ensure!(s0.now >= due && !s0.group.is_paused(), "applied before its time");
                ensure!(b1.config == b0.pending.config && !b1.pending.is_queued(), "not applied");
                Ok(())
            }
            Op::CancelChange { bank } => {
                let (b0, b1) = (&s0.banks[bank as usize], &s1.banks[bank as usize]);
                ensure!(b1.config == b0.config && !b1.pending.is_queued(), "not cancelled");
                Ok(())
            }
            Op::Bad(bad) => self.after_bad_input(bad, landed),
            Op::PlacePerpOrder { .. }
            | Op::SettlePnl { .. }
            | Op::SettleCovered { .. }
            | Op::PoolDeposit { .. }
            | Op::PoolWithdraw { .. } => self.after_perp(op, s0, s1, executed),
            Op::LiquidatePerp { .. } | Op::ResolvePerp { .. } => {
                self.after_perp_liquidation(op, s0, s1, executed)
            }
            no_transaction!() => unreachable!("{op:?} sends no transaction"),
        }
    }

    /// Deposit or repay: the vault received what the wallet paid.
    fn after_paying_in(&mut self, s0: &State, s1: &State, u: usize, b: usize) -> Check {
        let paid = s0.wallets[u][b] - s1.wallets[u][b];
        ensure!(s1.vaults[b] == s0.vaults[b] + paid, "vault did not receive what the wallet paid");
        self.ledger[u][b] += paid as i128;
        self.touch(s1, b);
        Ok(())
    }

    /// Withdraw or borrow: the wallet received what the vault paid, and an account with
    /// borrows or perp slots is at init health >= 0 (perps joined to the settle bank's
    /// balance), as its event says.
    fn after_taking_out(&mut self, op: &Op, landed: &Landed, u: usize, b: usize) -> Check {
        let Landed { s0, s1, executed } = *landed;
        let got = s1.wallets[u][b] - s0.wallets[u][b];
        ensure!(s0.vaults[b] == s1.vaults[b] + got, "wallet received what the vault did not pay");
        self.ledger[u][b] -= got as i128;
        self.touch(s1, b);
        let account = s1.accounts[u].as_ref().expect("open");
        if !account.has_risk() {
            return Ok(());
        }
        let report = self.report(account, &s1.banks, &self.prices(s1)).map_err(|e| {
            format!("the program passed a health check the checks cannot price: {e:?}")
        })?;
        ensure!(
            report.totals.health.init >= 0,
            "init health {} < 0 after a successful {}",
            report.totals.health.init,
            op.name()
        );
        let event = &executed.events::<TokenMovement>()[0];
        ensure!(
            event.init_health_after == report.totals.health.init,
            "event init health {} != recomputed {}",
            event.init_health_after,
            report.totals.health.init
        );
        Ok(())
    }

    /// A write-off: only of an account below dust, insolvent or flagged by a liquidation.
    fn after_resolve(&mut self, landed: &Landed, u: usize, b: usize) -> Check {
        let Landed { s0, s1, executed } = *landed;
        let facts = self
            .write_off_facts(s0, u, b)
            .map_err(|e| format!("resolve priced what the checks cannot: {e}"))?;
        let WriteOffFacts { deposits, liabs, flagged } = facts;
        ensure!(
            deposits < s0.group.bankruptcy_dust_quote,
            "wrote off an account with {deposits} of deposits (dust {})",
            s0.group.bankruptcy_dust_quote
        );
        ensure!(
            flagged || liabs.is_some_and(|liabs| deposits < liabs),
            "wrote off the debt of a solvent account: deposits {deposits} >= debts {liabs:?}, never flagged by a liquidation"
        );
        let event = &executed.events::<BankruptcyResolved>()[0];
        self.ledger[u][b] += event.debt as i128;
        self.touch(s1, b);
        // The owner keeps no deposit a write-off paid for (finding L-4): they went to the
        // insurance funds of their banks.
        let account1 = s1.accounts[u].as_ref().expect("open");
        ensure!(
            account1.active_positions().all(|p| p.kind() != PositionKind::Deposit),
            "a written-off account kept a deposit"
        );
        for seized in executed.events::<CollateralSeized>() {
            let bank = self.banks.iter().position(|r| r.address == seized.bank).expect("a bank");
            self.touch(s1, bank);
        }
        Ok(())
    }

    /// Only health tampering that the program may ignore can succeed: apply the honest
    /// instruction's bookkeeping.
    fn after_bad_input(&mut self, bad: BadOp, landed: &Landed) -> Check {
        let BadOp::Health { user, bank, borrow, amount, .. } = bad else {
            return Err(format!("bad input {bad:?} succeeded"));
        };
        let honest = if borrow {
            Op::Borrow { user, bank, amount }
        } else {
            Op::Withdraw { user, bank, amount }
        };
        self.after_success(&honest, landed.s0, landed.s1, landed.executed)
    }

    /// A liquidation: of a liquidatable account, by the liquidation module's amounts, improving
    /// its health (or clearing the debt), flagging bankruptcy only when a write-off is due,
    /// leaving the liquidator healthy and moving no tokens.
    fn check_liquidation(&mut self, landed: &Landed, call: &LiquidationCall) -> Check {
        let Landed { s0, s1, executed } = *landed;
        let event = executed.events::<Liquidation>()[0].clone();
        let last = self.last_prices(s0);
        let before = self.check_liquidatee_before(s0, call, &event, &last)?;
        self.check_liquidatee_after(s1, call, &event, &last, &before)?;
        let liquidator = s1.accounts[call.liquidator].as_ref().expect("open");
        let prices = self.prices(s0);
        let lh = self.report(liquidator, &s1.banks, &prices).map_err(|e| format!("{e:?}"))?;
        ensure!(lh.totals.health.init >= 0, "liquidator init health {} < 0", lh.totals.health.init);
        ensure!(s0.vaults == s1.vaults, "a liquidation moved tokens");
        self.check_liquidation_value((s0, s1), call, &event)?;
        self.book_liquidation(s1, call, &event);
        Ok(())
    }

    /// The liquidatee was liquidatable, and the event's health and amounts are the checks'.
    fn check_liquidatee_before(
        &self,
        s0: &State,
        call: &LiquidationCall,
        event: &Liquidation,
        prices: &LastPrices,
    ) -> Result<Report, String> {
        let LiquidationCall { liquidatee: le, liab: l, asset: a, max, .. } = *call;
        let account0 = s0.accounts[le].as_ref().expect("open");
        let banks0 = Self::accrued(s0, &[l, a]);
        let dust = s0.group.bankruptcy_dust_quote;
        let before = self
            .report_as_liquidated(account0, &banks0, prices, dust)
            .map_err(|e| format!("liquidatee unpriceable: {e:?}"))?;
        let target =
            end_target(before.totals.maint_weighted_liabs, s0.group.liquidation_end_buffer_bps);
        ensure!(
            is_liquidatable(before.totals.health.maint, target, account0.being_liquidated != 0),
            "liquidated an account at maint health {} (target {target}, flagged {})",
            before.totals.health.maint,
            account0.being_liquidated
        );
        ensure!(
            event.maint_health_before == before.totals.health.maint,
            "event maint before {} != recomputed {}",
            event.maint_health_before,
            before.totals.health.maint
        );
        // CM_CAMPAIGN_NO_MODEL: leave the amounts to the economic invariants (fees, owners,
        // solvency), to show they catch a broken program on their own (docs/SECURITY.md).
        if std::env::var_os("CM_CAMPAIGN_NO_MODEL").is_some() {
            return Ok(before);
        }
        let planned = self
            .plan_liquidation(s0, le, l, a, max)
            .ok_or("the checks cannot plan a liquidation the program ran")?;
        ensure!(
            (event.liab_amount, event.asset_to_liquidator, event.asset_to_insurance)
                == (planned.liab, planned.asset_to_liquidator, planned.asset_to_insurance),
            "amounts {:?} differ from the liquidation module's {planned:?}",
            (event.liab_amount, event.asset_to_liquidator, event.asset_to_insurance)
        );
        Ok(before)
    }

    /// The liquidatee's health improved (or its debt is gone), as the event says; flagged
    /// bankrupt only if a write-off is due.
    fn check_liquidatee_after(
        &self,
        s1: &State,
        call: &LiquidationCall,
        event: &Liquidation,
        prices: &LastPrices,
        before: &Report,
    ) -> Check {
        let account1 = s1.accounts[call.liquidatee].as_ref().expect("open");
        let dust = s1.group.bankruptcy_dust_quote;
        let after = self
            .report_as_liquidated(account1, &s1.banks, prices, dust)
            .map_err(|e| format!("{e:?}"))?;
        // A liquidation never takes an account from solvent to insolvent (finding L-4): its
        // deposits' value stays at least its debts' if it was so before, less the roundings of
        // one step (`solvency_slack` at the pair's health prices) that the fee cap cannot keep
        // from an account solvent by less than them (finding 27).
        let price =
            |b: usize| before.position(b as u16).map_or(0, |p| p.liab_price.max(p.asset_price));
        let slack = solvency_slack(price(call.liab), price(call.asset)).unwrap_or(u64::MAX);
        let solvent =
            |t: &AccountTotals, slack: u64| t.deposits_value.saturating_add(slack) >= t.liabs_value;
        ensure!(
            !solvent(&before.totals, 0) || solvent(&after.totals, slack),
            "a solvent account made insolvent by more than the rounding slack {slack}: deposits \
             {} debts {} -> deposits {} debts {}",
            before.totals.deposits_value,
            before.totals.liabs_value,
            after.totals.deposits_value,
            after.totals.liabs_value
        );
        let liab_gone = positions::borrow_native(account1, &s1.banks[call.liab]).unwrap() == 0;
        ensure!(
            after.totals.health.maint > before.totals.health.maint || liab_gone,
            "maint health {} -> {}: not improved",
            before.totals.health.maint,
            after.totals.health.maint
        );
        ensure!(
            event.maint_health_after == after.totals.health.maint,
            "event maint after {} != recomputed {}",
            event.maint_health_after,
            after.totals.health.maint
        );
        if event.bankrupt {
            ensure!(
                can_write_off_account(&after.totals, false, s1.group.bankruptcy_dust_quote),
                "flagged bankrupt while solvent or above dust: deposits {} debts {}",
                after.totals.deposits_value,
                after.totals.liabs_value
            );
        }
        Ok(())
    }

    /// The liquidator took over the debt and received the asset; the liquidatee the reverse.
    fn book_liquidation(&mut self, s1: &State, call: &LiquidationCall, event: &Liquidation) {
        let LiquidationCall { liquidator: lr, liquidatee: le, liab: l, asset: a, .. } = *call;
        self.ledger[lr][l] -= event.liab_amount as i128;
        self.ledger[lr][a] += event.asset_to_liquidator as i128;
        self.ledger[le][l] += event.liab_amount as i128;
        self.ledger[le][a] -= (event.asset_to_liquidator + event.asset_to_insurance) as i128;
        self.touch(s1, l);
        self.touch(s1, a);
    }
}

/// A closed account was empty, and is gone.
fn after_close(s0: &State, s1: &State, user: usize) -> Check {
    ensure!(
        s0.accounts[user].as_ref().is_some_and(|a| a.is_empty() && !a.has_perps()),
        "closed an account with positions"
    );
    ensure!(s1.accounts[user].is_none(), "closed account still there");
    Ok(())
}

/// The vault holds the added insurance.
fn after_fund_insurance(s0: &State, s1: &State, b: usize) -> Check {
    let added = s1.banks[b].insurance_native - s0.banks[b].insurance_native;
    ensure!(s1.vaults[b] == s0.vaults[b] + added, "insurance funding not in the vault");
    Ok(())
}

/// A re-created account starts empty, unflagged.
fn after_reopen(s1: &State, user: usize) -> Check {
    let a = s1.accounts[user].as_ref().expect("created");
    ensure!(
        a.is_empty() && a.bankrupt == 0 && a.being_liquidated == 0,
        "a re-created account is not empty"
    );
    Ok(())
}
