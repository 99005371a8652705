//! Perps in a run: the markets (each tracking a bank's oracle price), their LPs, traders and
//! whales opened through real transactions, the scripted open-interest collapse, and each
//! step's perp metrics, computed from on-chain state with the program's own pure code
//! (`touch_market`, `PerpMarket::pool_value`, `funding_rate_bps_per_day`, `PerpPosition::pnl`).

use anyhow::{anyhow, Result};
use cross_margin::error::MarginError;
use cross_margin::perp::actions::{self, Touch};
use cross_margin::perp::{PerpOrder, PerpSide};
use cross_margin::positions;
use cross_margin::state::{MarginAccount, OracleKind, PerpMarketConfig, PerpSlot};
use cross_margin_client::ix::BankRef;
use cross_margin_client::outcome::Failed;
use cross_margin_client::perp_ix::PerpMarketRef;
use cross_margin_client::Pubkey;
use cross_margin_keeper::keeper::RoundReport;
use cross_margin_testkit::perp::{market_order, perp_config};
use cross_margin_testkit::sandbox::{Sandbox, User};

use crate::engine::{native, quote};
use crate::invariants;
use crate::market_model::Rng;
use crate::perp_spec::{PerpSpec, Side};
use crate::scenario::Scenario;

/// One perp market's state after a step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerpStepMetrics {
    /// Open interest per side, dollars at the oracle price.
    pub long_oi_usd: f64,
    pub short_oi_usd: f64,
    /// The pool's deposit in the settle bank (what it can pay out now), dollars.
    pub pool_deposit_usd: f64,
    /// `PerpMarket::pool_value` rounded down: the deposit less the traders' PnL, dollars.
    pub pool_value_usd: f64,
    /// The traders' unrealised and unsettled gains (positive PnL only): what the pool owes.
    pub traders_gains_usd: f64,
    /// The sum of every position's own PnL (`PerpPosition::pnl`, funding applied), read slot
    /// by slot: the market's aggregate `traders_pnl` should match it to the rounding.
    pub positions_pnl_usd: f64,
    /// Traders and whales with a position open.
    pub open_positions: usize,
    /// Funding, bps per day (+: longs pay).
    pub funding_bps_per_day: i64,
    /// Traders' losses beyond their settle-bank balance: what nobody can collect from them.
    pub shortfall_usd: f64,
    pub accounts_short: usize,
    /// Gains of closed positions the pool could not pay when they settled.
    pub unpaid_usd: f64,
    /// Perp liquidations this step (from [`perp_liquidation_metrics`]).
    pub liquidations: usize,
    /// Losses written off onto the pool by perp bankruptcies, cumulative, dollars.
    pub socialised_loss_usd: f64,
}

/// What the keepers' perp liquidations and write-offs did in one step, per market.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerpLiquidationCounts {
    pub liquidations: usize,
    /// Settle native units written off onto the market's pool.
    pub socialised_native: u64,
}

/// THE HOOK for perp liquidation: counts, per market in `markets` (by address), the
/// `PerpLiquidation` events of the keepers' rounds of one step (`RoundReport::perp_liquidations`)
/// and the loss their `PerpBankruptcyResolved` events wrote off onto the pool
/// (`socialised`: what the market's insurance fund could not pay; `perp_resolutions`). The
/// engine, the reports and the demo carry the result (`PerpStepMetrics::liquidations`,
/// `socialised_loss_usd`).
pub fn perp_liquidation_metrics(
    rounds: &[RoundReport],
    markets: &[Pubkey],
) -> Vec<PerpLiquidationCounts> {
    let mut counts = vec![PerpLiquidationCounts::default(); markets.len()];
    let index = |market: &Pubkey| markets.iter().position(|m| m == market);
    for round in rounds {
        for done in &round.perp_liquidations {
            if let Some(m) = index(&done.event.perp_market) {
                counts[m].liquidations += 1;
            }
        }
        for done in &round.perp_resolutions {
            if let Some(m) = index(&done.event.perp_market) {
                counts[m].socialised_native += done.event.socialised;
            }
        }
    }
    counts
}

/// One market of the run and the accounts that use it.
struct Market {
    spec: PerpSpec,
    market: PerpMarketRef,
    /// Bank index whose price the oracle carries, and the settle bank's.
    tracks: usize,
    settle: usize,
    lps: Vec<User>,
    traders: Vec<User>,
    whales: Vec<User>,
    /// Traders in the order the collapse closes them, and how many it has closed.
    close_order: Vec<usize>,
    closed: usize,
    socialised_loss_usd: f64,
}

/// The run's perp markets.
#[derive(Default)]
pub struct PerpBook {
    markets: Vec<Market>,
    /// Orders the program refused at setup (health, caps), after retrying smaller.
    pub orders_refused: usize,
    pub transactions: usize,
}

fn failed(what: &str, f: &Failed) -> anyhow::Error {
    anyhow!("{what}: {}", f.error_name().map(str::to_owned).unwrap_or(format!("{:?}", f.error)))
}

fn is(f: &Failed, error: MarginError) -> bool {
    f.custom_code() == Some(error.into())
}

fn program<T>(result: core::result::Result<T, MarginError>) -> Result<T> {
    result.map_err(|e| anyhow!("program maths: {e:?}"))
}

/// Dollars of settle native units (the settle token counts as $1, as the program's perp
/// accounting counts it).
fn dollars(native: i128) -> f64 {
    native as f64 / 1e6
}

impl PerpBook {
    /// Adds the scenario's perp markets (before any account exists).
    pub fn new(sandbox: &mut Sandbox, scenario: &Scenario, banks: &[BankRef]) -> Result<Self> {
        let mut book = Self::default();
        for spec in &scenario.perps {
            let tracks = scenario.bank_index(&spec.tracks)?;
            let settle = scenario.bank_index(&spec.settle)?;
            let bank = &scenario.banks[tracks];
            let config = market_config(scenario, spec)?;
            let quote = quote(bank.price, bank.conf_bps, sandbox.now());
            let market = sandbox
                .add_perp_market(&banks[settle], OracleKind::PythPull, config, quote)
                .map_err(|f| failed("add_perp_market", &f))?;
            book.transactions += 1;
            book.markets.push(Market {
                spec: spec.clone(),
                market,
                tracks,
                settle,
                lps: Vec::new(),
                traders: Vec::new(),
                whales: Vec::new(),
                close_order: Vec::new(),
                closed: 0,
                socialised_loss_usd: 0.0,
            });
        }
        Ok(book)
    }

    pub fn addresses(&self) -> Vec<Pubkey> {
        self.markets.iter().map(|m| m.market.address).collect()
    }

    /// LPs, traders, then whales, per market. `rng` is the book's own, so adding perps to a
    /// scenario leaves its lending population as it was.
    pub fn populate(
        &mut self,
        sandbox: &mut Sandbox,
        banks: &[BankRef],
        rng: &mut Rng,
    ) -> Result<()> {
        for m in 0..self.markets.len() {
            let (settle, spec) = (self.markets[m].settle, self.markets[m].spec.clone());
            let each = native(spec.pool.usd / spec.pool.lps as f64, 6);
            for _ in 0..spec.pool.lps {
                let lp = self.funded_user(sandbox, banks, settle, each)?;
                let market = self.markets[m].market;
                sandbox.pool_deposit(&lp, &market, each).map_err(|f| failed("pool_deposit", &f))?;
                self.transactions += 1;
                self.markets[m].lps.push(lp);
            }
            let t = spec.traders;
            for _ in 0..t.count {
                let collateral = rng.log_uniform(t.size_usd.min, t.size_usd.max);
                let leverage = rng.uniform(t.leverage.min, t.leverage.max);
                let side =
                    if rng.unit() * 100.0 < t.long_pct { PerpSide::Long } else { PerpSide::Short };
                let user = self.open_trader(sandbox, banks, m, collateral, leverage, side)?;
                self.markets[m].traders.push(user);
            }
            for whale in &spec.whales {
                // Its lots make `oi_share` of its side's open interest once it has traded.
                let state = sandbox.perp(&self.markets[m].market);
                let (side, side_lots) = match whale.side {
                    Side::Long => (PerpSide::Long, state.long_lots),
                    Side::Short => (PerpSide::Short, state.short_lots),
                };
                let lots = side_lots as f64 * whale.oi_share / (1.0 - whale.oi_share);
                let notional = lots * self.lot_usd(sandbox, m)?;
                let user = self.open_trader(
                    sandbox,
                    banks,
                    m,
                    notional / whale.leverage,
                    whale.leverage,
                    side,
                )?;
                self.markets[m].whales.push(user);
            }
            let mut order: Vec<usize> = (0..self.markets[m].traders.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            self.markets[m].close_order = order;
        }
        Ok(())
    }

    /// A new user holding `amount` native settle tokens in the settle bank.
    fn funded_user(
        &mut self,
        sandbox: &mut Sandbox,
        banks: &[BankRef],
        settle: usize,
        amount: u64,
    ) -> Result<User> {
        let mut funds = vec![0u64; banks.len()];
        funds[settle] = amount;
        let user = sandbox.user(&funds).map_err(|f| failed("perp account", &f))?;
        sandbox.deposit(&user, &banks[settle], amount).map_err(|f| failed("perp deposit", &f))?;
        self.transactions += 2;
        Ok(user)
    }

    /// One lot in dollars at the current oracle price.
    fn lot_usd(&self, sandbox: &Sandbox, m: usize) -> Result<f64> {
        let snapshot = program(sandbox.perp_snapshot(&self.markets[m].market))?;
        Ok(snapshot.tokens(1) * snapshot.price_dollars())
    }

    /// A trader with `collateral_usd` in the settle bank opening `leverage` × that notional on
    /// `side`; an order the program refuses for health is retried smaller, then counted.
    fn open_trader(
        &mut self,
        sandbox: &mut Sandbox,
        banks: &[BankRef],
        m: usize,
        collateral_usd: f64,
        leverage: f64,
        side: PerpSide,
    ) -> Result<User> {
        let settle = self.markets[m].settle;
        let user = self.funded_user(sandbox, banks, settle, native(collateral_usd, 6))?;
        let mut lots = (collateral_usd * leverage / self.lot_usd(sandbox, m)?) as u64;
        let market = self.markets[m].market;
        for attempt in 0..8 {
            if lots == 0 {
                break;
            }
            self.transactions += 1;
            match sandbox.place_perp_order(&user, &market, market_order(side, lots)) {
                Ok(_) => return Ok(user),
                Err(f) if is(&f, MarginError::InitHealthNegative) && attempt < 7 => {
                    lots = lots * 4 / 5;
                }
                Err(f)
                    if is(&f, MarginError::InitHealthNegative)
                        || is(&f, MarginError::PerpOpenInterestCap) =>
                {
                    break
                }
                Err(f) => return Err(failed("perp order", &f)),
            }
        }
        self.orders_refused += 1;
        Ok(user)
    }

    /// Every market's oracle republished at its tracked bank's price (`prices`, dollars).
    pub fn publish(&self, sandbox: &mut Sandbox, scenario: &Scenario, prices: &[f64]) {
        for m in &self.markets {
            let conf_bps = scenario.banks[m.tracks].conf_bps;
            let quote = quote(prices[m.tracks], conf_bps, sandbox.now());
            sandbox.set_perp_price(&m.market, quote);
        }
    }

    /// The scripted collapse at `step`: traders close and settle, LPs withdraw.
    pub fn act(&mut self, sandbox: &mut Sandbox, step: usize) -> Result<()> {
        for m in 0..self.markets.len() {
            let Some(c) = self.markets[m].spec.collapse else { continue };
            if step < c.from_step || step >= c.from_step + c.over_steps {
                continue;
            }
            let done = (step - c.from_step + 1) as f64 / c.over_steps as f64;
            let target = (self.markets[m].traders.len() as f64 * c.close_fraction * done).round();
            while self.markets[m].closed < target as usize {
                let index = self.markets[m].close_order[self.markets[m].closed];
                self.close(sandbox, m, index)?;
                self.markets[m].closed += 1;
            }
            for lp in 0..self.markets[m].lps.len() {
                self.withdraw_lp(sandbox, m, lp, c.lp_fraction)?;
            }
        }
        Ok(())
    }

    /// A trader closes its whole position (reduce-only) and settles its PnL.
    fn close(&mut self, sandbox: &mut Sandbox, m: usize, trader: usize) -> Result<()> {
        let market = self.markets[m].market;
        let user = &self.markets[m].traders[trader];
        let slot = slot_of(&sandbox.margin_account(user), market.index);
        if slot.base_lots != 0 {
            let side = if slot.base_lots > 0 { PerpSide::Short } else { PerpSide::Long };
            let order = PerpOrder {
                reduce_only: true,
                ..market_order(side, slot.base_lots.unsigned_abs())
            };
            sandbox.place_perp_order(user, &market, order).map_err(|f| failed("close", &f))?;
            self.transactions += 1;
        }
        match sandbox.settle_pnl(&user.account, &market) {
            Ok(_) => {}
            Err(f) if is(&f, MarginError::NothingToSettle) => {}
            Err(f) => return Err(failed("settle_pnl", &f)),
        }
        self.transactions += 1;
        Ok(())
    }

    /// An LP withdraws up to `fraction` of its shares, as many as the program accepts: the
    /// largest share count for which the program's own `pool_withdraw` action, run on copies,
    /// succeeds (binary search). Besides the cover rule, that refuses a credit to the LP's settle
    /// position worth less than one deposit share after repaying any borrow (`AmountTooSmall`),
    /// which stopped a Monte Carlo seed when only the cover rule was predicted.
    fn withdraw_lp(
        &mut self,
        sandbox: &mut Sandbox,
        m: usize,
        lp: usize,
        fraction: f64,
    ) -> Result<()> {
        let market = self.markets[m].market;
        let user = &self.markets[m].lps[lp];
        let account = sandbox.margin_account(user);
        let held = slot_of(&account, market.index).lp_shares;
        let snapshot = program(sandbox.perp_snapshot(&market))?;
        let touch = Touch { price: snapshot.price, pool: snapshot.pool_native };
        let accepted = |shares: u64| -> bool {
            let (mut market, mut account, mut bank) =
                (snapshot.market, account, snapshot.settle_bank);
            actions::pool_withdraw(&mut market, &mut account, &mut bank, shares, touch).is_ok()
        };
        let (mut lo, mut hi) = (0u64, (held as f64 * fraction) as u64);
        if !accepted(hi) {
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if accepted(mid) {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            hi = lo;
        }
        if hi == 0 {
            return Ok(());
        }
        self.transactions += 1;
        match sandbox.pool_withdraw(user, &market, hi) {
            Ok(_) => Ok(()),
            Err(f) => Err(failed("pool_withdraw", &f)),
        }
    }

    /// Each market's metrics now, after the bookkeeping invariant (its open interest, quote sum
    /// and LP shares equal the sums over the accounts' slots). Returns the checks performed.
    pub fn measure(
        &mut self,
        sandbox: &Sandbox,
        step: usize,
        counts: &[PerpLiquidationCounts],
    ) -> Result<(Vec<PerpStepMetrics>, usize)> {
        let mut all = Vec::with_capacity(self.markets.len());
        for (m, count) in self.markets.iter_mut().zip(counts) {
            let snapshot = program(sandbox.perp_snapshot(&m.market))?;
            let accounts: Vec<MarginAccount> = m
                .lps
                .iter()
                .chain(&m.traders)
                .chain(&m.whales)
                .map(|u| sandbox.margin_account(u))
                .collect();
            let slots: Vec<PerpSlot> =
                accounts.iter().map(|a| slot_of(a, m.market.index)).collect();
            invariants::check_perp_book(step, m.market.index, &snapshot.market, &slots)?;
            m.socialised_loss_usd += dollars(count.socialised_native as i128);
            let mut metrics = PerpStepMetrics {
                long_oi_usd: snapshot.tokens(snapshot.market.long_lots) * snapshot.price_dollars(),
                short_oi_usd: snapshot.tokens(snapshot.market.short_lots)
                    * snapshot.price_dollars(),
                pool_deposit_usd: dollars(snapshot.pool_native as i128),
                pool_value_usd: dollars(snapshot.pool_value),
                funding_bps_per_day: snapshot.funding_bps_per_day,
                liquidations: count.liquidations,
                socialised_loss_usd: m.socialised_loss_usd,
                ..PerpStepMetrics::default()
            };
            for (account, slot) in accounts.iter().zip(&slots).skip(m.lps.len()) {
                let pnl = program(snapshot.slot_pnl(slot))?;
                metrics.positions_pnl_usd += dollars(pnl);
                metrics.open_positions += usize::from(slot.base_lots != 0);
                let balance = program(positions::balance_native(account, &snapshot.settle_bank))?;
                if pnl > 0 {
                    metrics.traders_gains_usd += dollars(pnl);
                    if slot.base_lots == 0 {
                        metrics.unpaid_usd += dollars(pnl);
                    }
                }
                if balance + pnl < 0 {
                    metrics.shortfall_usd += dollars(-(balance + pnl));
                    metrics.accounts_short += 1;
                }
            }
            all.push(metrics);
        }
        Ok((all, self.markets.len()))
    }
}

/// The account's slot in market `index` (an empty one when it has none).
fn slot_of(account: &MarginAccount, index: u16) -> PerpSlot {
    account.find_perp(index).map(|i| account.perps[i]).unwrap_or_default()
}

/// The program's configuration for a scenario perp market: the test kit's defaults with the
/// scenario's risk parameters, the tracked bank's decimals and oracle checks.
fn market_config(scenario: &Scenario, spec: &PerpSpec) -> Result<PerpMarketConfig> {
    let bank = &scenario.banks[scenario.bank_index(&spec.tracks)?];
    let r = spec.risk;
    let lot = (spec.lot_tokens * 10f64.powi(bank.decimals as i32)).round() as u64;
    let cap = if r.max_oi_usd > 0.0 {
        (r.max_oi_usd / (bank.price * spec.lot_tokens)) as u64
    } else {
        i64::MAX as u64
    };
    Ok(PerpMarketConfig {
        oracle_max_age_secs: scenario.step_seconds.max(60) as u32,
        oracle_max_conf_bps: (bank.conf_bps * 2).max(200),
        init_base_weight_bps: r.init_base_weight_bps,
        maint_base_weight_bps: r.maint_base_weight_bps,
        init_pnl_weight_bps: r.init_pnl_weight_bps,
        maint_pnl_weight_bps: r.maint_pnl_weight_bps,
        taker_fee_bps: r.taker_fee_bps,
        impact_coeff_bps: r.impact_coeff_bps,
        max_impact_bps: r.max_impact_bps,
        funding_coeff_bps: r.funding_coeff_bps,
        max_funding_bps_per_day: r.max_funding_bps_per_day,
        pool_funding_share_bps: r.pool_funding_share_bps,
        pool_cover_bps: r.pool_cover_bps,
        base_decimals: bank.decimals,
        base_lot_size: lot,
        max_long_lots: cap,
        max_short_lots: cap,
        ..perp_config()
    })
}
