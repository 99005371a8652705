//! Perp liquidation and write-off in the campaign: `liquidate_perp` and
//! `resolve_perp_bankruptcy`, simulated on copies with the program's pure code (as the handlers
//! order it), their postconditions checked independently, their cash flows entered in the perp
//! book (so zero-sum, conservation and the share counts keep holding), and the composite
//! `PerpCollapse`.
//!
//! Independently of the simulation, after a successful `liquidate_perp`:
//! - the liquidatee was liquidatable before (maint health < 0, or flagged and below its end
//!   target, recomputed from the chain);
//! - its maint health rose strictly (recomputed), and a solvent liquidatee stayed solvent;
//! - the lots closed are at most `max_base_lots` and the position only shrank;
//! - the fees are at most the configured fees on the notional at the oracle price, and the
//!   liquidator's settle balance rose by the liquidation fee (less share rounding).
//!
//! After a successful write-off: every perp base of the account was closed, it could be written
//! off (collateral below the dust threshold, insolvent), and loss = collateral + insurance +
//! socialised, the insurance paid no more than the fund held.

use cross_margin::events::{PerpBankruptcyResolved, PerpLiquidation};
use cross_margin::health_accounts::PricedPerp;
use cross_margin::liquidation::{end_target, is_liquidatable};
use cross_margin::math::{mul_bps, mul_q64, Round};
use cross_margin::perp::actions::Touch;
use cross_margin::perp::bankruptcy::write_off;
use cross_margin::perp::liquidation::{liquidate, PerpLiquidatee, PerpLiquidationOutcome};
use cross_margin::positions;
use cross_margin::state::{Bank, MarginAccount, PerpMarket};
use cross_margin_client::perp_ix;

use super::chain::{PerpPricing, Prices, Report};
use super::executor::Sent;
use super::perp_ops::{allowed_by, Refusal};
use super::{Amount, Check, Op, PerpSize, State, World, ACCOUNTS, USERS};
use crate::*;

/// A simulated `liquidate_perp` or write-off: the accounts as it must leave them.
pub(super) struct LiquidationSim {
    liquidatee: MarginAccount,
    liquidator: Option<MarginAccount>,
    market: PerpMarket,
    bank: Bank,
    outcome: Option<PerpLiquidationOutcome>,
}

type Simulated = Result<LiquidationSim, Refusal>;

/// The account's slot in market 0 priced as the program prices it (`PricedPerp::at`): funding
/// applied, at the position's own sides of the price and the mid.
pub(super) fn priced_slot(
    account: &MarginAccount,
    perp: &PerpPricing,
) -> Result<Option<PricedPerp>, MarginError> {
    let Some(slot) = account.find_perp(0).map(|i| account.perps[i]) else { return Ok(None) };
    let overflow = |_| MarginError::MathOverflow;
    let market = &perp.market;
    let mut position = slot.position();
    position.apply_funding(&market.funding()).map_err(overflow)?;
    let mut prices = [0; 3];
    if position.base_lots != 0 {
        let sides = perp.sides?;
        prices = match position.base_lots > 0 {
            true => [sides.mid, sides.asset, sides.init_asset],
            false => [sides.mid, sides.liab, sides.init_liab],
        };
    }
    Ok(Some(PricedPerp::at(&slot, &position, &market.config, prices).map_err(overflow)?))
}

impl World {
    pub(super) fn send_perp_liquidation(&mut self, op: &Op, s: &State) -> Sent {
        match *op {
            Op::LiquidatePerp { liquidator, liquidatee, .. } => {
                let (l, e) = (liquidator as usize % ACCOUNTS, liquidatee as usize % ACCOUNTS);
                let max = self.perp_liquidation_max(op, s);
                let allowed = allowed_by(&self.simulate_liquidate_perp(s, e, l, max));
                let ix = self.liquidate_perp_ix(s, l, e, max);
                let signer = self.users[l].keypair.insecure_clone();
                (self.m.chain.send(&[ix], &[&signer]), allowed)
            }
            Op::ResolvePerp { user } => {
                let u = user as usize % ACCOUNTS;
                let allowed = allowed_by(&self.simulate_resolve_perp(s, u));
                let account = self.users[u].account;
                let ix = perp_ix::resolve_perp_bankruptcy(
                    self.m.group,
                    account,
                    &self.perp,
                    self.health_of(s, u),
                );
                (self.send_tx(&[ix]), allowed)
            }
            _ => unreachable!("{op:?} is not a perp liquidation"),
        }
    }

    /// `liquidator`'s `liquidate_perp` of `liquidatee` up to `max` lots, built in state `s`.
    pub(super) fn liquidate_perp_ix(
        &self,
        s: &State,
        liquidator: usize,
        liquidatee: usize,
        max: u64,
    ) -> Instruction {
        perp_ix::liquidate_perp(
            self.m.group,
            self.users[liquidator].account,
            self.users[liquidator].keypair.pubkey(),
            self.users[liquidatee].account,
            &self.perp,
            max,
            self.health_of(s, liquidatee),
        )
    }

    /// The health accounts of user `u`'s account in `s` (none for a closed one).
    pub(super) fn health_of(&self, s: &State, u: usize) -> Vec<anchor_lang::prelude::AccountMeta> {
        s.accounts[u].as_ref().map_or_else(Vec::new, |a| self.m.health_accounts_of(a))
    }

    /// The `max_base_lots` an `Op::LiquidatePerp` sends: around the closed-form amount (a
    /// fraction of the position, a few lots, all of it) or zero.
    fn perp_liquidation_max(&self, op: &Op, s: &State) -> u64 {
        let Op::LiquidatePerp { liquidatee, max, .. } = *op else { unreachable!() };
        let base = Self::perp_base(s, liquidatee as usize % ACCOUNTS).unsigned_abs();
        match max {
            PerpSize::Zero => 0,
            PerpSize::Lots(n) => n as u64,
            PerpSize::Huge => u64::MAX,
            PerpSize::Frac(bps) => ((base as u128 * bps as u128 / 10_000) as u64).max(1),
            PerpSize::Close(extra) => base + extra as u64,
        }
    }

    /// The liquidatee's positions priced as `liquidate_perp` prices them (the dust rule for
    /// tokens), with the market and settle bank as the instruction touched them; also what
    /// `settle_pnl` prices a loss's borrow capacity with.
    pub(super) fn liquidation_report(
        &self,
        s: &State,
        account: &MarginAccount,
        market: &PerpMarket,
        bank: &Bank,
    ) -> Result<Report, Refusal> {
        let mut last = self.last_prices(s);
        last.perp.market = *market;
        let mut banks = s.banks.clone();
        banks[self.perp.settle_bank.index as usize] = *bank;
        let dust = s.group.bankruptcy_dust_quote;
        self.report_as_liquidated(account, &banks, &last, dust).map_err(|_| Refusal::Oracle)
    }

    /// `liquidate_perp`, in the handler's order, with the program's own pure step.
    pub(super) fn simulate_liquidate_perp(
        &self,
        s: &State,
        e: usize,
        l: usize,
        max: u64,
    ) -> Simulated {
        let mut liquidatee = s.accounts[e].ok_or(Refusal::Closed)?;
        let mut liquidator = s.accounts[l].ok_or(Refusal::Closed)?;
        if e == l {
            return Err(MarginError::SelfLiquidation.into());
        }
        if max == 0 {
            return Err(MarginError::ZeroAmount.into());
        }
        let (price, mut market, mut bank, pool) = self.perp_start(s)?;
        let report = self.liquidation_report(s, &liquidatee, &market, &bank)?;
        let perp = report.perp.ok_or(MarginError::PerpNoPositionToLiquidate)?;
        let mut pricing = self.perp_pricing(s);
        pricing.market = market;
        let slot = priced_slot(&liquidatee, &pricing)
            .map_err(|_| Refusal::Oracle)?
            .ok_or(MarginError::PerpNoPositionToLiquidate)?;
        let positions = report.priced();
        let before = PerpLiquidatee { positions: &positions, perp: &perp, slot: &slot };
        let outcome = liquidate(
            &s.group,
            &mut market,
            &mut bank,
            &mut liquidatee,
            &mut liquidator,
            before,
            Touch { price, pool },
            max,
        )?;
        Ok(LiquidationSim {
            liquidatee,
            liquidator: Some(liquidator),
            market,
            bank,
            outcome: Some(outcome),
        })
    }

    /// `resolve_perp_bankruptcy`, in the handler's order.
    fn simulate_resolve_perp(&self, s: &State, u: usize) -> Simulated {
        let mut account = s.accounts[u].ok_or(Refusal::Closed)?;
        let (_, mut market, mut bank, _) = self.perp_start(s)?;
        let report = self.liquidation_report(s, &account, &market, &bank)?;
        write_off(&s.group, &mut market, &mut bank, &mut account, &report.totals)?;
        Ok(LiquidationSim { liquidatee: account, liquidator: None, market, bank, outcome: None })
    }

    pub(super) fn after_perp_liquidation(
        &mut self,
        op: &Op,
        s0: &State,
        s1: &State,
        executed: &Executed,
    ) -> Check {
        let settle = self.perp.settle_bank.index as usize;
        let (e, sim) = match *op {
            Op::LiquidatePerp { liquidator, liquidatee, .. } => {
                let (l, e) = (liquidator as usize % ACCOUNTS, liquidatee as usize % ACCOUNTS);
                let max = self.perp_liquidation_max(op, s0);
                let sim = self.simulate_liquidate_perp(s0, e, l, max);
                let sim =
                    sim.map_err(|r| format!("succeeded, but its simulation refuses: {r:?}"))?;
                let same = |a: &MarginAccount, b: &MarginAccount| {
                    bytemuck::bytes_of(a) == bytemuck::bytes_of(b)
                };
                ensure!(
                    same(s1.accounts[l].as_ref().unwrap(), sim.liquidator.as_ref().unwrap()),
                    "the liquidator is not as simulated"
                );
                let outcome = sim.outcome.expect("a liquidation's outcome");
                let event = &executed.events::<PerpLiquidation>()[0];
                ensure!(
                    (event.base_lots_after, event.liquidation_fee, event.insurance_fee)
                        == (
                            outcome.base_lots_after,
                            outcome.liquidation_fee,
                            outcome.insurance_fee
                        )
                        && (event.maint_health_before, event.maint_health_after)
                            == (outcome.maint_health_before, outcome.maint_health_after),
                    "event {event:?} differs from the simulated step {outcome:?}"
                );
                self.check_perp_liquidation(s0, s1, e, l, max, executed)?;
                (e, sim)
            }
            Op::ResolvePerp { user } => {
                let u = user as usize % ACCOUNTS;
                let sim = self.simulate_resolve_perp(s0, u);
                let sim =
                    sim.map_err(|r| format!("succeeded, but its simulation refuses: {r:?}"))?;
                self.check_write_off(s0, s1, u, executed)?;
                (u, sim)
            }
            _ => unreachable!(),
        };
        ensure!(
            bytemuck::bytes_of(s1.accounts[e].as_ref().unwrap())
                == bytemuck::bytes_of(&sim.liquidatee),
            "the account is not as simulated"
        );
        ensure!(
            bytemuck::bytes_of(&s1.perp) == bytemuck::bytes_of(&sim.market),
            "the perp market is not as simulated"
        );
        ensure!(
            bytemuck::bytes_of(&s1.banks[settle]) == bytemuck::bytes_of(&sim.bank),
            "the settle bank is not as simulated"
        );
        self.touch(s1, settle);
        Ok(())
    }

    /// The postconditions of a `liquidate_perp` (module docs) and its book entries.
    fn check_perp_liquidation(
        &mut self,
        s0: &State,
        s1: &State,
        e: usize,
        l: usize,
        max: u64,
        executed: &Executed,
    ) -> Check {
        let settle = self.perp.settle_bank.index as usize;
        let event = &executed.events::<PerpLiquidation>()[0];
        // Liquidatable before, at the prices of the time (the market touched, the bank accrued).
        let (price, market0, bank0, _) = self.perp_start(s0).map_err(|r| format!("{r:?}"))?;
        let account0 = s0.accounts[e].as_ref().unwrap();
        let before = self
            .liquidation_report(s0, account0, &market0, &bank0)
            .map_err(|r| format!("{r:?}"))?;
        let buffer = s0.group.liquidation_end_buffer_bps;
        let target = end_target(before.totals.maint_weighted_liabs, buffer);
        ensure!(
            is_liquidatable(before.totals.health.maint, target, account0.being_liquidated != 0),
            "a healthy account was liquidated: maint {}, target {target}",
            before.totals.health.maint
        );
        // Strictly better after, and solvent stays solvent.
        let account1 = s1.accounts[e].as_ref().unwrap();
        let after = self
            .report_as_liquidated(
                account1,
                &s1.banks,
                &self.last_prices(s1),
                s1.group.bankruptcy_dust_quote,
            )
            .map_err(|err| format!("after: {err:?}"))?;
        ensure!(
            after.totals.health.maint > before.totals.health.maint,
            "maint health {} -> {}",
            before.totals.health.maint,
            after.totals.health.maint
        );
        let solvent = |r: &Report| r.totals.deposits_value >= r.totals.liabs_value;
        ensure!(
            !solvent(&before) || solvent(&after),
            "a solvent account was made insolvent: {:?} -> {:?}, {event:?}",
            before.totals,
            after.totals
        );
        // The position only shrank, by at most max_base_lots.
        let (b0, b1) = (event.base_lots_before, event.base_lots_after);
        let closed = b0.unsigned_abs() - b1.unsigned_abs();
        ensure!(
            b1.signum() * b0.signum() >= 0
                && b1.unsigned_abs() < b0.unsigned_abs()
                && closed <= max,
            "position {b0} -> {b1}, max {max}"
        );
        ensure!(
            event.oracle_price == price,
            "closed at {} not the oracle {price}",
            event.oracle_price
        );
        // Fees at most the configured ones on the notional at the oracle price.
        let config = &s0.perp.config;
        let notional = mul_q64(closed * config.base_lot_size, price, Round::Up).unwrap();
        let liq_max = mul_bps(notional, config.liquidation_fee_bps, Round::Up).unwrap() + 1;
        let ins_max = mul_bps(notional, config.insurance_fee_bps, Round::Up).unwrap() + 1;
        ensure!(
            event.liquidation_fee <= liq_max && event.insurance_fee <= ins_max,
            "fees {} + {} above {liq_max} + {ins_max} on {notional}",
            event.liquidation_fee,
            event.insurance_fee
        );
        let bank1 = &s1.banks[settle];
        let bank0_accrued = Self::accrued(s0, &[settle])[settle];
        let balance = |a: &MarginAccount, b: &Bank| positions::balance_native(a, b).unwrap();
        let gained = balance(s1.accounts[l].as_ref().unwrap(), bank1)
            - balance(s0.accounts[l].as_ref().unwrap(), &bank0_accrued);
        let unit = (bank1.deposit_index().max(bank1.borrow_index()) >> 64) as i128 + 1;
        let fee = event.liquidation_fee as i128;
        ensure!(
            gained <= fee && gained >= fee - 2 * unit,
            "the liquidator gained {gained} of {fee}"
        );
        // The book: the liquidation fee left the pool like a settlement to the liquidator, the
        // insurance fee as shares moved to the fund.
        self.book.move_pool(-fee, bank1.deposit_index())?;
        let moved = s1.perp.insurance_deposit_shares - s0.perp.insurance_deposit_shares;
        self.book.pool_shares -= moved;
        self.book.paid_out += fee + event.insurance_fee as i128;
        self.book.rounding += 2;
        self.ledger[l][settle] += fee;
        Ok(())
    }

    /// The postconditions of a write-off (module docs) and its book entries.
    fn check_write_off(&mut self, s0: &State, s1: &State, u: usize, executed: &Executed) -> Check {
        let settle = self.perp.settle_bank.index as usize;
        let done = &executed.events::<PerpBankruptcyResolved>()[0];
        let account0 = s0.accounts[u].as_ref().unwrap();
        ensure!(account0.active_perps().all(|p| p.base_lots == 0), "a position was open");
        ensure!(
            done.loss == done.from_collateral + done.from_insurance + done.socialised,
            "{done:?} does not add up"
        );
        let bank1 = &s1.banks[settle];
        let fund0 =
            mul_q64(s0.perp.insurance_deposit_shares, bank1.deposit_index(), Round::Down).unwrap();
        ensure!(done.from_insurance <= fund0, "insurance paid {} of {fund0}", done.from_insurance);
        ensure!(
            s1.accounts[u].as_ref().unwrap().find_perp(0).is_none_or(|i| {
                let slot = s1.accounts[u].as_ref().unwrap().perps[i];
                slot.quote_native == 0
            }),
            "the loss is still on the account"
        );
        let index = bank1.deposit_index();
        self.book.move_pool(done.from_collateral as i128, index)?;
        self.book.realised[u] -= done.from_collateral as i128;
        self.ledger[u][settle] -= done.from_collateral as i128;
        let moved = s0.perp.insurance_deposit_shares - s1.perp.insurance_deposit_shares;
        self.book.pool_shares += moved;
        self.book.paid_out -= done.from_insurance as i128;
        self.book.rounding += 2;
        self.book.socialised += done.socialised;
        Ok(())
    }

    /// `PerpCollapse` (see `Op::PerpCollapse`): a user without a position first opens one as
    /// large as its init health carries; the move is 40% (the position closes whole) or, for an
    /// odd `liquidator`, 12% (often partly, to the end target).
    pub(super) fn perp_collapse(&mut self, op: &Op, user: u8, liquidator: u8, s: &State) -> Check {
        let odd = liquidator % 2 == 1;
        let liquidator = (user + 1 + liquidator % (USERS as u8 - 1)) % USERS as u8;
        if Self::perp_base(s, user as usize) == 0 {
            let (size, reduce_only, limit_bps) = (PerpSize::Frac(9_500), false, None);
            let long = !odd;
            self.step(&Op::PlacePerpOrder { user, long, size, reduce_only, limit_bps })?;
        }
        let base = Self::perp_base(&self.state(), user as usize);
        if base != 0 {
            let magnitude = if odd { 1_200 } else { 4_000 };
            let change_bps = if base > 0 { -magnitude } else { magnitude };
            self.step(&Op::PerpPrice { change_bps, conf_bps: 0 })?;
        }
        for _ in 0..2 {
            let max = PerpSize::Huge;
            self.step(&Op::LiquidatePerp { liquidator, liquidatee: user, max })?;
        }
        self.step(&Op::SettleCovered { user })?;
        for sel in 4..6 {
            // As far as it goes: a keeper stops once the account is done.
            let s = self.state();
            let judged = self.judge_liquidatee(&s, user as usize, 0, 0);
            if judged.is_some_and(|j| !j.liquidatable || j.write_off) {
                break;
            }
            let (liab, asset, amount) = (sel, sel, Amount::Max);
            self.step(&Op::Liquidate { liquidator, liquidatee: user, liab, asset, amount })?;
        }
        self.step(&Op::ResolvePerp { user })?;
        for sel in 4..6 {
            self.step(&Op::Resolve { user, bank: sel })?;
        }
        self.stats_ok(op);
        Ok(())
    }

    /// User `liquidatee` if it is one (or the LP), else one whose perp position the checks find
    /// liquidatable, else one holding a position.
    pub(super) fn perp_liquidatee(&self, s: &State, liquidatee: u8) -> u8 {
        if (liquidatee as usize) < ACCOUNTS {
            return liquidatee;
        }
        let holders: Vec<u8> =
            (0..ACCOUNTS as u8).filter(|&u| Self::perp_base(s, u as usize) != 0).collect();
        let prices = self.prices(s);
        let liquidatable =
            holders.iter().copied().find(|&u| self.liquidatable(s, &prices, u as usize));
        liquidatable
            .or_else(|| holders.get(liquidatee as usize % holders.len().max(1)).copied())
            .unwrap_or(liquidatee % ACCOUNTS as u8)
    }

    /// Whether the checks find account `u` liquidatable (maint health below zero, or flagged
    /// and below its end target) in state `s` at `prices` (`World::prices` of it).
    pub(super) fn liquidatable(&self, s: &State, prices: &Prices, u: usize) -> bool {
        let Some(account) = s.accounts[u].as_ref() else { return false };
        let buffer = s.group.liquidation_end_buffer_bps;
        self.report(account, &s.banks, prices).is_ok_and(|r| {
            let target = end_target(r.totals.maint_weighted_liabs, buffer);
            is_liquidatable(r.totals.health.maint, target, account.being_liquidated != 0)
        })
    }

    /// User `user` if it is one, else one with a closed position at a loss.
    pub(super) fn perp_write_off_user(&self, s: &State, user: u8) -> u8 {
        if (user as usize) < ACCOUNTS {
            return user;
        }
        (0..ACCOUNTS as u8)
            .find(|&u| {
                s.accounts[u as usize].is_some_and(|a| {
                    a.find_perp(0)
                        .is_some_and(|i| a.perps[i].base_lots == 0 && a.perps[i].quote_native < 0)
                })
            })
            .unwrap_or(user % ACCOUNTS as u8)
    }
}
