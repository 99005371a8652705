//! The perp actions: `place_perp_order`, `settle_pnl`, `pool_deposit` and `pool_withdraw`. Each
//! is first simulated on copies of the accounts it touches with the program's pure perp and
//! position modules, in the handler's order: the simulation says how the instruction must end
//! (the one error it must fail with, or success) and, on success, the state it must leave.
//! What must hold beyond that is checked independently (`perp_postconditions`,
//! `perp_invariants`).

use cross_margin::math::{mul_q64, Round};
use cross_margin::perp::bankruptcy::loss_borrow_capacity;
use cross_margin::perp::{actions, FillOutcome, PerpOrder, PerpSide};
use cross_margin::positions;
use cross_margin::state::{Bank, MarginAccount, PerpMarket};
use cross_margin_client::ix::{self, Movement};
use cross_margin_client::perp_ix::{self, PerpTrade};

use super::executor::Sent;
use super::outcomes::{Allowed, CLOSED, M, ORACLE_ERRORS};
use super::{Amount, Kind, Op, PerpSize, State, World};
use crate::*;

/// Why a simulated perp instruction must fail.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal {
    /// The margin account is closed: Anchor's account checks refuse it.
    Closed,
    Error(MarginError),
    /// A health check cannot price a position: one of the oracle errors.
    Oracle,
}

impl From<MarginError> for Refusal {
    fn from(e: MarginError) -> Self {
        Refusal::Error(e)
    }
}

/// A perp instruction as the checks expect it to land.
#[derive(Debug, Clone, Copy)]
pub(super) struct PerpSim {
    pub(super) account: MarginAccount,
    pub(super) market: PerpMarket,
    /// The settle bank after (accrued).
    pub(super) bank: Bank,
    /// The perp oracle's price (mid) the instruction used.
    pub(super) price: u128,
    /// The pool's deposit (native) the instruction saw, after accrual.
    pub(super) pool_before: u64,
    pub(super) fill: Option<FillOutcome>,
    /// `settle_pnl`'s amount and the account's balance change; a pool movement's amount (+ to
    /// the account) and LP shares.
    pub(super) amount: i64,
    pub(super) balance_change: i128,
    pub(super) lp_shares: u64,
    /// The init health a fill or pool deposit was checked at (if it was).
    pub(super) init_health: Option<i128>,
}

pub(super) type Simulated = Result<PerpSim, Refusal>;

/// The allowed outcome of a simulated instruction.
pub(super) fn allowed_by<T>(sim: &Result<T, Refusal>) -> Allowed {
    match sim {
        Ok(_) => Allowed::success(&[]),
        Err(Refusal::Closed) => Allowed::failure(&CLOSED),
        Err(Refusal::Error(e)) => Allowed::failure(&[M(*e)]),
        Err(Refusal::Oracle) => Allowed::failure(&ORACLE_ERRORS),
    }
}

/// The pool's deposit in the settle bank, native, rounded down (the program's own reading).
pub(super) fn pool_native(market: &PerpMarket, bank: &Bank) -> Result<u64, MarginError> {
    market.pool_native(bank)
}

impl World {
    pub(super) fn send_perp(&mut self, op: &Op, s: &State) -> Sent {
        match *op {
            Op::PlacePerpOrder { user, .. } => {
                let u = user as usize;
                let order = self.perp_order(op, s);
                let allowed = allowed_by(&self.simulate_order(s, u, &order));
                let account = s.accounts[u].unwrap_or_else(bytemuck::Zeroable::zeroed);
                let health = self.m.health_accounts_with_slot(&account, &self.perp);
                let ix = perp_ix::place_perp_order(&self.perp_trade(u), order, health);
                (self.send_tx(&[ix]), allowed)
            }
            Op::SettlePnl { user } => {
                let allowed = allowed_by(&self.simulate_settle(s, user as usize));
                // No health accounts: only the settle deposit pays a loss (as the model's
                // `simulate_settle`, whose borrow capacity is 0).
                let ix = perp_ix::settle_pnl(
                    self.m.group,
                    self.users[user as usize].account,
                    &self.perp,
                    vec![],
                );
                (self.send_tx(&[ix]), allowed)
            }
            Op::SettleCovered { user } => {
                let u = user as usize;
                let allowed = allowed_by(&self.simulate_settle_with(s, u, true));
                let ix = perp_ix::settle_pnl(
                    self.m.group,
                    self.users[u].account,
                    &self.perp,
                    self.health_of(s, u),
                );
                (self.send_tx(&[ix]), allowed)
            }
            Op::PoolDeposit { user, .. } => {
                let (u, amount) = (user as usize, self.pool_deposit_amount(s, op));
                let allowed = allowed_by(&self.simulate_pool_deposit(s, u, amount));
                let health = match &s.accounts[u] {
                    Some(account) => {
                        let bank = &s.banks[self.perp.settle_bank.index as usize];
                        let after =
                            ix::account_after(account, bank, Movement::Withdraw, amount, s.now);
                        self.m.health_accounts_with_slot(&after, &self.perp)
                    }
                    None => vec![],
                };
                let ix = perp_ix::pool_deposit(&self.perp_trade(u), amount, health);
                (self.send_tx(&[ix]), allowed)
            }
            Op::PoolWithdraw { user, .. } => {
                let (u, shares) = (user as usize, self.pool_withdraw_shares(s, op));
                let allowed = allowed_by(&self.simulate_pool_withdraw(s, u, shares));
                let ix = perp_ix::pool_withdraw(&self.perp_trade(u), shares);
                (self.send_tx(&[ix]), allowed)
            }
            _ => unreachable!("{op:?} is not a perp instruction"),
        }
    }

    pub(super) fn perp_trade(&self, u: usize) -> PerpTrade {
        self.m.perp_trade(&self.users[u], &self.perp)
    }

    /// The user's position in the perp market (lots, + long).
    pub(super) fn perp_base(s: &State, u: usize) -> i64 {
        s.accounts[u]
            .as_ref()
            .and_then(|a| a.find_perp(0).map(|i| a.perps[i].base_lots))
            .unwrap_or(0)
    }

    /// The order an `Op::PlacePerpOrder` sends in state `s`.
    pub(super) fn perp_order(&self, op: &Op, s: &State) -> PerpOrder {
        let Op::PlacePerpOrder { user, long, size, reduce_only, limit_bps } = *op else {
            unreachable!("not an order")
        };
        let base = Self::perp_base(s, user as usize);
        let (long, size_lots) = match size {
            PerpSize::Zero => (long, 0),
            PerpSize::Lots(n) => (long, n as u64),
            PerpSize::Huge => (long, u64::MAX),
            PerpSize::Close(extra) if base != 0 => (base < 0, base.unsigned_abs() + extra as u64),
            PerpSize::Close(extra) => (long, extra as u64 + 1),
            // A reduce-only order's fraction is of the position.
            PerpSize::Frac(bps) if reduce_only && base != 0 => {
                (long, ((base.unsigned_abs() as u128 * bps as u128 / 10_000) as u64).max(1))
            }
            PerpSize::Frac(bps) => {
                let reach = self.perp_reach(s, user as usize, long);
                (long, ((reach as u128 * bps as u128 / 10_000) as u64).max(1))
            }
        };
        let side = if long { PerpSide::Long } else { PerpSide::Short };
        let mid = self.perp_pricing(s).sides.map_or(self.perp_model_price(), |p| p.mid);
        let limit_price = match (limit_bps, side) {
            (None, PerpSide::Long) => u128::MAX,
            (None, PerpSide::Short) => 0,
            (Some(bps), PerpSide::Long) => mid / 10_000 * (10_000 + bps as u128),
            (Some(bps), PerpSide::Short) => mid / 10_000 * (10_000 - bps.min(10_000) as u128),
        };
        PerpOrder { side, size_lots, limit_price, reduce_only }
    }

    /// The perp price the campaign last wrote (Q64.64), whatever the oracle's state.
    pub(super) fn perp_model_price(&self) -> u128 {
        self.perp_oracle_value() as u128 * (1u128 << 64) / 10_000
    }

    /// Lots the user can reach on a side: what its init health carries at a 10% margin (plus
    /// fees), closing an opposite position first, at most the room left under the side's cap.
    fn perp_reach(&self, s: &State, u: usize, long: bool) -> u64 {
        let Some(account) = &s.accounts[u] else { return 1 };
        let prices = self.prices(s);
        let market = &s.perp;
        let config = &market.config;
        let health = self.report(account, &s.banks, &prices).map_or(0, |r| r.totals.health.init);
        let price = prices.perp.sides.map_or(self.perp_model_price(), |p| p.mid);
        let lot_value = mul_q64(config.base_lot_size, price, Round::Up).unwrap_or(u64::MAX).max(1);
        let margin_bps = (10_000 - config.init_base_weight_bps + 120) as u128;
        let per_lot = (lot_value as u128 * margin_bps / 10_000).max(1);
        let base = Self::perp_base(s, u);
        let closing = if (base < 0) == long { base.unsigned_abs() } else { 0 };
        let carried = (health.max(0) as u128 / per_lot).min(u64::MAX as u128) as u64;
        let (oi, cap) = match long {
            true => (market.long_lots, config.max_long_lots),
            false => (market.short_lots, config.max_short_lots),
        };
        let room = cap.saturating_sub(oi) + closing;
        (carried + closing).min(room).max(1)
    }

    fn pool_deposit_amount(&self, s: &State, op: &Op) -> u64 {
        let Op::PoolDeposit { user, amount } = *op else { unreachable!("not a pool deposit") };
        let settle = self.perp.settle_bank.index as usize;
        self.amount(amount, self.reference(s, user as usize, settle, Kind::Withdraw))
    }

    fn pool_withdraw_shares(&self, s: &State, op: &Op) -> u64 {
        let Op::PoolWithdraw { user, amount } = *op else { unreachable!("not a pool withdrawal") };
        let held = s.accounts[user as usize]
            .as_ref()
            .and_then(|a| a.find_perp(0).map(|i| a.perps[i].lp_shares))
            .unwrap_or(0);
        match amount {
            Amount::Max => u64::MAX,
            other => self.amount(other, held),
        }
    }

    /// The perp oracle's price, the settle bank accrued, the pool's deposit, and the market
    /// with funding accrued: every perp instruction's first steps (the program's `touch`).
    pub(super) fn perp_start(&self, s: &State) -> Result<(u128, PerpMarket, Bank, u64), Refusal> {
        let price = self.perp_pricing(s).sides?.mid;
        let mut bank = s.banks[self.perp.settle_bank.index as usize];
        let mut market = s.perp;
        let touch = actions::touch_market(&mut market, &mut bank, s.now, price)?;
        Ok((price, market, bank, touch.pool))
    }

    /// Init health of `account` with the perp market and settle bank as the instruction leaves
    /// them (the other banks as stored), at the prices of `s`.
    fn init_health_with(
        &self,
        s: &State,
        account: &MarginAccount,
        market: &PerpMarket,
        bank: &Bank,
    ) -> Result<i128, Refusal> {
        let mut prices = self.prices(s);
        prices.perp.market = *market;
        let mut banks = s.banks.clone();
        banks[self.perp.settle_bank.index as usize] = *bank;
        let report = self.report(account, &banks, &prices).map_err(|_| Refusal::Oracle)?;
        Ok(report.totals.health.init)
    }

    /// `place_perp_order`: the program's own action on copies.
    pub(super) fn simulate_order(&self, s: &State, u: usize, order: &PerpOrder) -> Simulated {
        let mut account = s.accounts[u].ok_or(Refusal::Closed)?;
        let (price, mut market, bank, pool) = self.perp_start(s)?;
        let touch = actions::Touch { price, pool };
        let outcome =
            actions::place_order(&s.group, &mut market, &mut account, order, touch, |a, m| {
                self.init_health_with(s, a, m, &bank)
            })?;
        let init_health = outcome.fill.increases_risk().then_some(outcome.init_health_after);
        Ok(PerpSim {
            account,
            market,
            bank,
            price,
            pool_before: pool,
            fill: Some(outcome.fill),
            amount: 0,
            balance_change: 0,
            lp_shares: 0,
            init_health,
        })
    }

    /// `settle_pnl` without health accounts: the program's own action on copies.
    pub(super) fn simulate_settle(&self, s: &State, u: usize) -> Simulated {
        self.simulate_settle_with(s, u, false)
    }

    /// `settle_pnl`, `covered`: with the account's health accounts (a loss beyond the settle
    /// deposit may become a borrow up to the equity outside it, priced as the handler prices
    /// it: the dust rule, the market and bank as touched).
    pub(super) fn simulate_settle_with(&self, s: &State, u: usize, covered: bool) -> Simulated {
        let mut account = s.accounts[u].ok_or(Refusal::Closed)?;
        let (price, mut market, mut bank, pool) = self.perp_start(s)?;
        let touch = actions::Touch { price, pool };
        let settle = self.perp.settle_bank.index;
        let outcome = actions::settle(&mut market, &mut account, &mut bank, touch, |a, m, b| {
            if !covered {
                return Ok(0);
            }
            let report = self.liquidation_report(s, a, m, b)?;
            let perp = report.perp.ok_or(MarginError::HealthSettleBankMismatch)?;
            Ok::<u64, Refusal>(loss_borrow_capacity(
                &report.priced(),
                settle,
                perp.settle_risk.liab_price,
            )?)
        })?;
        Ok(PerpSim {
            account,
            market,
            bank,
            price,
            pool_before: pool,
            fill: None,
            amount: outcome.amount,
            balance_change: outcome.balance_change,
            lp_shares: 0,
            init_health: None,
        })
    }

    /// `pool_deposit` of `amount`, in the handler's order.
    pub(super) fn simulate_pool_deposit(&self, s: &State, u: usize, amount: u64) -> Simulated {
        let mut account = s.accounts[u].ok_or(Refusal::Closed)?;
        let (price, mut market, mut bank, pool) = self.perp_start(s)?;
        let touch = actions::Touch { price, pool };
        let mut init_health = None;
        let shares = actions::pool_deposit(
            &s.group,
            &mut market,
            &mut account,
            &mut bank,
            amount,
            touch,
            |a, m, b| {
                let init = self.init_health_with(s, a, m, b)?;
                init_health = Some(init);
                Ok::<_, Refusal>(init)
            },
        )?;
        let magnitude = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
        Ok(PerpSim {
            account,
            market,
            bank,
            price,
            pool_before: pool,
            fill: None,
            amount: -magnitude,
            balance_change: 0,
            lp_shares: shares,
            init_health,
        })
    }

    /// `pool_withdraw` of `lp_shares`, in the handler's order.
    pub(super) fn simulate_pool_withdraw(&self, s: &State, u: usize, lp_shares: u64) -> Simulated {
        let mut account = s.accounts[u].ok_or(Refusal::Closed)?;
        let (price, mut market, mut bank, pool) = self.perp_start(s)?;
        let before = positions::balance_native(&account, &bank)?;
        let touch = actions::Touch { price, pool };
        let amount =
            actions::pool_withdraw(&mut market, &mut account, &mut bank, lp_shares, touch)?;
        let balance_change = positions::balance_native(&account, &bank)? - before;
        Ok(PerpSim {
            account,
            market,
            bank,
            price,
            pool_before: pool,
            fill: None,
            amount: i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?,
            balance_change,
            lp_shares,
            init_health: None,
        })
    }

    /// The simulation of a perp op sent in state `s` (as `send_perp` built it).
    pub(super) fn simulate_perp(&self, op: &Op, s: &State) -> Simulated {
        match *op {
            Op::PlacePerpOrder { user, .. } => {
                self.simulate_order(s, user as usize, &self.perp_order(op, s))
            }
            Op::SettlePnl { user } => self.simulate_settle(s, user as usize),
            Op::SettleCovered { user } => self.simulate_settle_with(s, user as usize, true),
            Op::PoolDeposit { user, .. } => {
                self.simulate_pool_deposit(s, user as usize, self.pool_deposit_amount(s, op))
            }
            Op::PoolWithdraw { user, .. } => {
                self.simulate_pool_withdraw(s, user as usize, self.pool_withdraw_shares(s, op))
            }
            _ => unreachable!("{op:?} is not a perp instruction"),
        }
    }
}
