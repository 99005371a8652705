//! What must hold after a successful perp instruction, and its entries in the books: the state
//! it leaves is its simulation's (`perp_ops`), and beyond that, checked independently:
//! - a fill: at the oracle price rounded against the trader, with at least the taker fee and
//!   funding applied first (the quote change recomputed from the event), within the order's
//!   limit, and a fill that adds risk leaves init health >= 0 (recomputed, as its event says);
//! - a settlement: never more than the slot's PnL (exact), short of it only when the pool's
//!   deposit ran out; the account's balance changes by at most the amount (rounding never in
//!   the trader's favour), as its event says; its init and maint health do not fall (beyond
//!   share rounding);
//! - an LP withdrawal: pays at most its shares' part of the pool's exact value, and leaves the
//!   pool worth its cover;
//! - a pool deposit that needed a health check leaves init health >= 0.

use cross_margin::events::{PerpFill, PnlSettled, PoolMovement};
use cross_margin::math::{mul_bps, mul_q64, Round};
use cross_margin::positions;
use cross_margin::state::MarginAccount;

use super::chain::Prices;
use super::perp_invariants::{owed_funding, slots_pnl};
use super::perp_ops::{pool_native, PerpSim};
use super::{Check, Op, State, World};
use crate::*;

fn same<T: bytemuck::Pod>(a: &T, b: &T) -> bool {
    bytemuck::bytes_of(a) == bytemuck::bytes_of(b)
}

/// The slot of `account` in market 0, if any.
fn slot_of(account: &MarginAccount) -> Option<cross_margin::state::PerpSlot> {
    account.find_perp(0).map(|i| account.perps[i])
}

impl World {
    pub(super) fn after_perp(
        &mut self,
        op: &Op,
        s0: &State,
        s1: &State,
        executed: &Executed,
    ) -> Check {
        let sim = self
            .simulate_perp(op, s0)
            .map_err(|r| format!("succeeded, but its simulation refuses it: {r:?}"))?;
        let (u, settle) = (perp_user(op), self.perp.settle_bank.index as usize);
        let account1 = s1.accounts[u].as_ref().expect("open");
        ensure!(
            same(account1, &sim.account),
            "the account is not as simulated:\n{:?}\nexpected\n{:?}",
            slot_of(account1),
            slot_of(&sim.account)
        );
        ensure!(same(&s1.perp, &sim.market), "the perp market is not as simulated");
        let market = &s1.perp;
        let positions_open = market.long_lots != 0 || market.short_lots != 0;
        // Finding 23: a pool without LPs takes no new risk, and the last LP leaves only once
        // no position is open.
        ensure!(
            !(positions_open && market.lp_shares == 0),
            "positions open against a pool without LPs"
        );
        // Unsettled PnL of closed positions may outlive the last LP (the pool keeps what it owes).
        self.book.orphaned |= market.quote_sum() != 0 && market.lp_shares == 0;
        ensure!(
            same(&s1.banks[settle], &sim.bank),
            "the settle bank is not as simulated:\n{:?}\nexpected\n{:?}",
            s1.banks[settle],
            sim.bank
        );
        match *op {
            Op::PlacePerpOrder { .. } => self.after_fill(op, s0, s1, executed, &sim),
            Op::SettlePnl { .. } | Op::SettleCovered { .. } => {
                self.after_settlement(u, s0, s1, executed, &sim)
            }
            Op::PoolDeposit { .. } => {
                let event = &executed.events::<PoolMovement>()[0];
                ensure!(
                    event.deposit && event.amount as i64 == -sim.amount,
                    "event {event:?}, simulated amount {}",
                    sim.amount
                );
                ensure!(event.lp_shares == sim.lp_shares, "event {event:?}");
                if sim.init_health.is_some() {
                    let init = self.init_health(s1, u)?;
                    ensure!(init >= 0, "init health {init} < 0 after a pool deposit");
                }
                self.book_pool_movement(u, s1, -sim.amount as i128)
            }
            Op::PoolWithdraw { .. } => {
                let event = &executed.events::<PoolMovement>()[0];
                ensure!(
                    !event.deposit && event.amount as i64 == sim.amount,
                    "event {event:?}, simulated amount {}",
                    sim.amount
                );
                self.check_lp_withdrawal(s0, s1, &sim)?;
                self.book_pool_movement(u, s1, -sim.amount as i128)
            }
            _ => unreachable!("{op:?} is not a perp instruction"),
        }
    }

    /// Recomputed init health of user `u` in state `s`.
    fn init_health(&self, s: &State, u: usize) -> Result<i128, String> {
        let account = s.accounts[u].as_ref().expect("open");
        self.report(account, &s.banks, &self.prices(s))
            .map(|r| r.totals.health.init)
            .map_err(|e| format!("a health check passed that the checks cannot price: {e:?}"))
    }

    /// A pool movement of `into_pool` native (− paid out to the LP): the pool's shares and
    /// contributions, the user's ledger, the vault's dust budget.
    fn book_pool_movement(&mut self, u: usize, s1: &State, into_pool: i128) -> Check {
        let settle = self.perp.settle_bank.index as usize;
        let index = s1.banks[settle].deposit_index();
        self.book.move_pool(into_pool, index)?;
        self.book.contributed += into_pool;
        self.ledger[u][settle] -= into_pool;
        self.touch(s1, settle);
        Ok(())
    }

    fn after_fill(
        &mut self,
        op: &Op,
        s0: &State,
        s1: &State,
        executed: &Executed,
        sim: &PerpSim,
    ) -> Check {
        let Op::PlacePerpOrder { user, .. } = *op else { unreachable!() };
        let u = user as usize;
        let fill = sim.fill.expect("a fill");
        let event = &executed.events::<PerpFill>()[0];
        ensure!(
            (event.trade_lots, event.base_lots_after, event.fee, event.fee_bps)
                == (fill.trade_lots, fill.base_after, fill.fill.fee, fill.fee_bps)
                && event.oracle_price == sim.price
                && (event.long_lots, event.short_lots) == (s1.perp.long_lots, s1.perp.short_lots),
            "event {event:?} differs from the simulated fill {fill:?}"
        );
        let order = self.perp_order(op, s0);
        let (buy, price) = (event.trade_lots > 0, sim.price);
        let within = if buy {
            event.average_price <= order.limit_price
        } else {
            event.average_price >= order.limit_price
        };
        ensure!(
            within,
            "average price {} beyond the limit {}",
            event.average_price,
            order.limit_price
        );
        // At the oracle price, rounded against the trader, plus at least the taker fee.
        let config = &s0.perp.config;
        let base = event.trade_lots.unsigned_abs() * config.base_lot_size;
        let notional_up = mul_q64(base, price, Round::Up).unwrap();
        let quote_change = if buy {
            -(notional_up as i128)
        } else {
            mul_q64(base, price, Round::Down).unwrap() as i128
        };
        let min_fee = mul_bps(notional_up, config.taker_fee_bps, Round::Up).unwrap();
        ensure!(event.fee >= min_fee, "fee {} below the taker fee {min_fee}", event.fee);
        let slot0 = s0.accounts[u].as_ref().and_then(slot_of).unwrap_or_default();
        let p0 = slot0.position();
        let snapshot = (p0.funding_snapshot.long, p0.funding_snapshot.short);
        let owed = owed_funding(&s1.perp, p0.base_lots, snapshot).ok_or("funding overflows")?;
        let paid = if slot0.is_active() { -((-owed) >> 64) } else { 0 };
        ensure!(
            event.funding_paid as i128 == paid,
            "funding paid {} != ceil(base × index change) {paid}",
            event.funding_paid
        );
        let quote0 = slot0.quote_native;
        let quote1 = s1.accounts[u].as_ref().and_then(slot_of).map_or(0, |s| s.quote_native);
        let expected =
            quote0 as i128 - event.funding_paid as i128 + quote_change - event.fee as i128;
        ensure!(
            quote1 as i128 == expected,
            "quote {quote0} -> {quote1}, expected {expected} (funding {}, fill {quote_change}, fee {})",
            event.funding_paid,
            event.fee
        );
        let (before, after) = (fill.base_before, fill.base_after);
        let adds_risk = after.unsigned_abs() > before.unsigned_abs()
            || (before != 0 && after.signum() == -before.signum());
        if adds_risk {
            let init = self.init_health(s1, u)?;
            ensure!(init >= 0, "init health {init} < 0 after a fill that adds risk");
            ensure!(
                event.init_health_after == init,
                "event init health {} != recomputed {init}",
                event.init_health_after
            );
        } else {
            ensure!(event.init_health_after == 0, "a risk-reducing fill reported health");
        }
        self.book.fees = self.book.fees.saturating_add(event.fee);
        self.touch(s1, self.perp.settle_bank.index as usize);
        Ok(())
    }

    fn after_settlement(
        &mut self,
        u: usize,
        s0: &State,
        s1: &State,
        executed: &Executed,
        sim: &PerpSim,
    ) -> Check {
        let settle = self.perp.settle_bank.index as usize;
        let event = &executed.events::<PnlSettled>()[0];
        let (amount, change) = (event.amount, event.balance_change);
        ensure!(
            amount == sim.amount && change == sim.balance_change,
            "event {event:?}, simulated {} / {}",
            sim.amount,
            sim.balance_change
        );
        // The account's balance moved by the event's change, never more than the amount.
        let bank0 = Self::accrued(s0, &[settle])[settle];
        let (account0, account1) =
            (s0.accounts[u].as_ref().unwrap(), s1.accounts[u].as_ref().unwrap());
        let balance = |a: &MarginAccount, b| positions::balance_native(a, b).unwrap();
        let actual = balance(account1, &s1.banks[settle]) - balance(account0, &bank0);
        ensure!(actual == change, "balance moved by {actual}, the event says {change}");
        let bank = &s1.banks[settle];
        let unit = (bank.deposit_index().max(bank.borrow_index()) >> 64) as i128 + 1;
        ensure!(
            change <= amount as i128 && change >= amount as i128 - 2 * unit,
            "settled {amount}, balance changed by {change}"
        );
        // Never more than the slot's exact PnL; less only when the pool ran out.
        let mut alone = *account0;
        let market = sim.market;
        let slot0 = slot_of(account0).expect("a slot");
        alone.perps = Default::default();
        alone.perps[0] = slot0;
        let pnl = slots_pnl([&alone], &market, sim.price).ok_or("PnL overflows")?;
        let one = 1i128 << 64;
        if amount > 0 {
            ensure!(
                amount as i128 * one <= pnl,
                "settled {amount}, more than the PnL {pnl} (2^-64)"
            );
            ensure!(
                amount as i128 * one > pnl - 2 * one || amount as u64 == sim.pool_before,
                "settled {amount} of a PnL of {pnl} (2^-64), the pool holding {}",
                sim.pool_before
            );
        } else {
            // A loss: never more than the PnL (beyond its rounding), less when the account's
            // deposit and other equity could not pay it all (issue 17).
            ensure!(
                pnl < 0 && amount as i128 * one > pnl - 2 * one,
                "settled {amount}, more than the loss {pnl} (2^-64)"
            );
        }
        self.check_settlement_health(u, s0, s1, sim)?;
        self.book.move_pool(-(amount as i128), bank.deposit_index())?;
        self.book.realised[u] += amount as i128;
        self.ledger[u][settle] += amount as i128;
        self.touch(s1, settle);
        Ok(())
    }

    /// Settling never lowers the account's health beyond share rounding: before (funding
    /// accrued, the settle bank accrued, as the instruction found it) and after.
    fn check_settlement_health(&self, u: usize, s0: &State, s1: &State, sim: &PerpSim) -> Check {
        let settle = self.perp.settle_bank.index as usize;
        let mut prices0: Prices = self.prices(s0);
        let mut market = s0.perp;
        let _ = market.accrue_funding(s0.now, sim.price, sim.pool_before);
        prices0.perp.market = market;
        let banks0 = Self::accrued(s0, &[settle]);
        let account0 = s0.accounts[u].as_ref().unwrap();
        let account1 = s1.accounts[u].as_ref().unwrap();
        let (Ok(before), Ok(after)) = (
            self.report(account0, &banks0, &prices0),
            self.report(account1, &s1.banks, &self.prices(s1)),
        ) else {
            return Ok(()); // a price the health checks need is unusable
        };
        let (h0, h1) = (before.totals.health, after.totals.health);
        ensure!(
            h1.init >= h0.init - 3 && h1.maint >= h0.maint - 3,
            "settlement lowered health: init {} -> {}, maint {} -> {}",
            h0.init,
            h1.init,
            h0.maint,
            h1.maint
        );
        Ok(())
    }

    /// An LP withdrawal paid at most its shares' part of the pool's exact value, and left the
    /// pool worth at least its cover.
    fn check_lp_withdrawal(&self, s0: &State, s1: &State, sim: &PerpSim) -> Check {
        let one = 1i128 << 64;
        let mut market0 = s0.perp;
        let _ = market0.accrue_funding(s0.now, sim.price, sim.pool_before);
        let traders0 =
            slots_pnl(s0.accounts.iter().flatten(), &market0, sim.price).ok_or("overflow")?;
        let value0 = sim.pool_before as i128 * one - traders0;
        let fair =
            (sim.lp_shares as i128).checked_mul(value0.div_euclid(one) + 1).ok_or("overflow")?;
        let total = s0.perp.lp_shares as i128;
        ensure!(
            (sim.amount as i128).checked_mul(total).ok_or("overflow")? <= fair,
            "paid {} for {} of {total} shares of a pool worth {value0} (2^-64)",
            sim.amount,
            sim.lp_shares
        );
        let settle = s1.perp.settle_bank_index as usize;
        let pool1 = pool_native(&s1.perp, &s1.banks[settle]).unwrap() as i128;
        let traders1 =
            slots_pnl(s1.accounts.iter().flatten(), &s1.perp, sim.price).ok_or("overflow")?;
        let config = &s1.perp.config;
        let lots = s1.perp.long_lots.max(s1.perp.short_lots);
        let notional = mul_q64(lots * config.base_lot_size, sim.price, Round::Up).unwrap();
        let cover = mul_bps(notional, config.pool_cover_bps, Round::Up).unwrap() as i128;
        ensure!(
            pool1 * one - traders1 >= cover * one,
            "the pool is left worth {} (2^-64) < its cover {cover}",
            pool1 * one - traders1
        );
        Ok(())
    }
}

/// The account a perp op acts on.
pub(super) fn perp_user(op: &Op) -> usize {
    match *op {
        Op::PlacePerpOrder { user, .. }
        | Op::SettlePnl { user }
        | Op::SettleCovered { user }
        | Op::PoolDeposit { user, .. }
        | Op::PoolWithdraw { user, .. } => user as usize,
        _ => unreachable!("{op:?} is not a perp instruction"),
    }
}
