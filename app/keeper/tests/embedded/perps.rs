//! The keeper with perps, end to end on the embedded chain: the seeded token borrowers plus
//! perp traders (perps alone, perps with token collateral and debt, a short, LPs) in a market
//! settling in USDC; SOL −40% and the perp −20%. Which accounts are liquidatable is decided by
//! the program's own `health` view.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use cross_margin::math::{mul_q64, Round};
use cross_margin::perp::PerpSide;
use cross_margin::state::{MarginAccount, OracleKind};
use cross_margin_client::perp_ix::PerpMarketRef;
use cross_margin_client::Pubkey;
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::keeper::{RoundReport, Skipped};
use cross_margin_keeper::metrics::Metrics;
use cross_margin_keeper::{evaluate, Keeper};
use cross_margin_testkit::perp::{market_order, perp_config};
use cross_margin_testkit::sandbox::{quote_dollars, User};
use cross_margin_testkit::scenario::{whole, SeededMarket};

use super::ops::sample;
use super::{chain, SOL_CRASHED_E4};

/// USDC native units of `dollars`.
const fn usd(dollars: u64) -> u64 {
    dollars * 1_000_000
}

/// A perp trader: `usdc` and `sol` (native) deposited, `borrow` USDC borrowed, then an order
/// of `lots` (+ long, − short) at $100.
fn trader(
    m: &mut SeededMarket,
    perp: &PerpMarketRef,
    (usdc, sol, borrow): (u64, u64, u64),
    lots: i64,
) -> User {
    let user = m.sandbox.user(&[usdc, sol, 0]).expect("trader");
    let (usdc_bank, sol_bank) = (m.banks[0], m.banks[1]);
    if usdc > 0 {
        m.sandbox.deposit(&user, &usdc_bank, usdc).expect("deposit USDC");
    }
    if sol > 0 {
        m.sandbox.deposit(&user, &sol_bank, sol).expect("deposit SOL");
    }
    if borrow > 0 {
        m.sandbox.borrow(&user, &usdc_bank, borrow).expect("borrow USDC");
    }
    let side = if lots > 0 { PerpSide::Long } else { PerpSide::Short };
    let order = market_order(side, lots.unsigned_abs());
    m.sandbox.place_perp_order(&user, perp, order).unwrap_or_else(|f| {
        panic!("order: {:?}\n{}", f.error, f.logs.join("\n"));
    });
    user
}

fn rounds_until_quiet(keeper: &Keeper, m: &mut SeededMarket) -> Vec<RoundReport> {
    let stop = AtomicBool::new(false);
    let mut reports = Vec::new();
    for _ in 0..6 {
        let mut backend = EmbeddedBackend::new(&mut m.sandbox.chain);
        let report = keeper.run_round(&mut backend, &stop).expect("round");
        let quiet = report.liquidations.is_empty()
            && report.resolutions.is_empty()
            && report.perp_liquidations.is_empty()
            && report.settlements.is_empty()
            && report.perp_resolutions.is_empty();
        reports.push(report);
        if quiet {
            break;
        }
    }
    reports
}

fn liquidatable_by_program(m: &mut SeededMarket, accounts: &[Pubkey]) -> BTreeSet<Pubkey> {
    let liquidatable = |a: &Pubkey| m.sandbox.health_of(a).expect("health view").0.liquidatable;
    accounts.iter().copied().filter(liquidatable).collect()
}

/// The seeded market with a perp market settling in USDC, its LPs and perp traders.
struct PerpMarket {
    m: SeededMarket,
    perp: PerpMarketRef,
    lps: Vec<User>,
    healthy_long: User,
    healthy_short: User,
    perp_only: User,
    mixed: User,
    bankrupt: User,
    /// Every account but the keepers'.
    accounts: Vec<Pubkey>,
}

/// `borrowers` token borrowers and the perp traders, with `keepers` keepers; insurance deep in
/// every bank (no bad debt shared), $50 in the perp market's fund.
fn perp_market(borrowers: usize, keepers: usize) -> (PerpMarket, Vec<(Keeper, User)>) {
    let mut m = SeededMarket::new(chain(), borrowers, 11).expect("seeded market");
    let keepers = (0..keepers).map(|_| m.keeper(5_000_000).expect("keeper")).collect();
    for (bank, asset) in m.banks.clone().iter().zip(m.assets.clone()) {
        let amount = whole(&asset, 1_000_000) / asset.price as u64;
        m.sandbox.fund_insurance(bank, amount).expect("fund insurance");
    }
    let usdc = m.banks[0];
    let quote = quote_dollars(100, 0, m.sandbox.now());
    let perp = m
        .sandbox
        .add_perp_market(&usdc, OracleKind::PythPull, perp_config(), quote)
        .unwrap_or_else(|f| panic!("add_perp_market: {:?}\n{}", f.error, f.logs.join("\n")));
    // Two LPs: $1M and $200k in the pool (their slots hold pool shares, no position).
    let mut lps = Vec::new();
    for amount in [usd(1_000_000), usd(200_000)] {
        let lp = m.sandbox.user(&[amount, 0, 0]).expect("LP");
        m.sandbox.deposit(&lp, &usdc, amount).expect("LP deposit");
        m.sandbox.pool_deposit(&lp, &perp, amount).expect("pool deposit");
        lps.push(lp);
    }
    m.sandbox.fund_perp_insurance(&perp, usd(50)).expect("perp insurance");

    // Lots are 0.01 token, $1 at $100; maint margin 5%, init 10%; liquidation fees 2% + 1%.
    let healthy_long = trader(&mut m, &perp, (usd(10_000), 0, 0), 200);
    let healthy_short = trader(&mut m, &perp, (usd(1_000), 0, 0), -300);
    // $230 against a 10-token long: at $80 the $200 loss leaves $30 of equity, under the $40
    // maint margin: liquidatable, solvent.
    let perp_only = trader(&mut m, &perp, (usd(230), 0, 0), 1_000);
    // 4 SOL ($500) and $50 of USDC debt with the same long: SOL −40% and the perp −20%.
    let four_sol = whole(&m.assets[1], 4);
    let mixed = trader(&mut m, &perp, (0, four_sol, usd(50)), 1_000);
    // $110 against the long: at $80 it owes the pool more than it has: written off.
    let bankrupt = trader(&mut m, &perp, (usd(110), 0, 0), 1_000);

    let mut accounts: Vec<Pubkey> = m.users.iter().map(|u| u.account).collect();
    let traders = [&healthy_long, &healthy_short, &perp_only, &mixed, &bankrupt];
    accounts.extend(traders.iter().map(|u| u.account));
    accounts.extend(lps.iter().map(|u| u.account));
    assert!(liquidatable_by_program(&mut m, &accounts).is_empty(), "nobody is under before");
    let market = PerpMarket {
        m,
        perp,
        lps,
        healthy_long,
        healthy_short,
        perp_only,
        mixed,
        bankrupt,
        accounts,
    };
    (market, keepers)
}

impl PerpMarket {
    /// SOL −40%, the perp −20%.
    fn crash(&mut self) {
        self.m.set_price(1, SOL_CRASHED_E4);
        let crashed = quote_dollars(80, 0, self.m.sandbox.now());
        self.m.sandbox.set_perp_price(&self.perp, crashed);
    }
}

#[test]
fn the_keeper_liquidates_perp_and_token_accounts_in_the_programs_order() {
    let (mut market, mut keepers) = perp_market(24, 1);
    market.crash();
    let PerpMarket {
        mut m,
        perp,
        lps,
        healthy_long,
        healthy_short,
        perp_only,
        mixed,
        bankrupt,
        accounts,
    } = market;
    let (keeper, _) = keepers.remove(0);
    let usdc = m.banks[0];
    let expected = liquidatable_by_program(&mut m, &accounts);
    for under in [&perp_only, &mixed, &bankrupt] {
        assert!(expected.contains(&under.account), "the crash puts {} under", under.account);
    }
    for fine in [&healthy_long, &healthy_short].into_iter().chain(&lps) {
        assert!(!expected.contains(&fine.account));
    }
    let untouched: Vec<(Pubkey, MarginAccount)> = accounts
        .iter()
        .filter(|a| !expected.contains(a))
        .map(|a| (*a, m.sandbox.chain.load(a).expect("account")))
        .collect();
    let market_before = m.sandbox.perp(&perp);
    let insurance_before = market_before.insurance_deposit_shares;

    let reports = rounds_until_quiet(&keeper, &mut m);
    let all = |f: fn(&RoundReport) -> Vec<Pubkey>| -> BTreeSet<Pubkey> {
        reports.iter().flat_map(f).collect()
    };
    let token_liquidated = all(|r| r.liquidations.iter().map(|l| l.event.liquidatee).collect());
    let perp_liquidated = all(|r| r.perp_liquidations.iter().map(|l| l.event.liquidatee).collect());
    let liquidated: BTreeSet<Pubkey> = token_liquidated.union(&perp_liquidated).copied().collect();
    assert_eq!(liquidated, expected, "exactly the accounts the program calls liquidatable");
    assert!(reports.iter().all(|r| r.skipped.is_empty()), "{:?}", reports[0].skipped);
    assert!(reports.iter().all(|r| r.unpriced == 0));

    // The healthy ones, LPs included, are untouched.
    for (address, before) in &untouched {
        let after: MarginAccount = m.sandbox.chain.load(address).expect("account");
        assert_eq!(bytemuck::bytes_of(before), bytemuck::bytes_of(&after), "{address} changed");
    }

    // Every perp trader under water had its position closed by liquidate_perp (towards zero,
    // in full for the exhausted ones), fees paid to the keeper.
    let perp_events: Vec<_> = reports.iter().flat_map(|r| r.perp_liquidations.iter()).collect();
    for under in [&perp_only, &mixed, &bankrupt] {
        let events: Vec<_> =
            perp_events.iter().filter(|e| e.event.liquidatee == under.account).collect();
        assert!(!events.is_empty(), "{} closed by liquidate_perp", under.account);
        for e in &events {
            // The program did exactly what the keeper predicted with its pure function.
            let (event, planned) = (&e.event, &e.planned);
            assert_eq!(
                (event.base_lots_before, event.base_lots_after, event.quote_change),
                (planned.base_lots_before, planned.base_lots_after, planned.quote_change)
            );
            assert_eq!(
                (event.liquidation_fee, event.insurance_fee, event.maint_health_after),
                (planned.liquidation_fee, planned.insurance_fee, planned.maint_health_after)
            );
            assert!(e.event.base_lots_after.abs() < e.event.base_lots_before.abs());
            assert!(e.event.maint_health_after > e.event.maint_health_before);
            assert!(e.compute_units > 0 && e.compute_units <= e.compute_limit as u64);
        }
        let (view, _) = m.sandbox.health_of(&under.account).expect("health view");
        assert!(!view.liquidatable, "{} still under: {view:?}", under.account);
    }
    let fees: u64 = perp_events.iter().map(|e| e.event.liquidation_fee).sum();
    let profit: i128 = perp_events.iter().map(|e| e.profit_quote).sum();
    assert!(fees > 0 && profit == fees as i128, "USDC at $1: the fee is the profit");
    let settlements: Vec<_> = reports.iter().flat_map(|r| r.settlements.iter()).collect();
    assert!(!settlements.is_empty(), "losses settled");
    for s in &settlements {
        assert_eq!(s.event.amount, s.planned.amount, "settled as predicted");
    }
    // The mixed account's settled loss became USDC debt that token liquidation took over.
    assert!(token_liquidated.contains(&mixed.account));

    // The bankrupt trader's loss: its collateral first (settled), then the insurance fund,
    // then the LPs.
    let resolutions: Vec<_> = reports.iter().flat_map(|r| r.perp_resolutions.iter()).collect();
    assert_eq!(resolutions.len(), 1, "{resolutions:?}");
    let (done, planned) = (&resolutions[0].event, &resolutions[0].planned);
    assert_eq!(done.account, bankrupt.account);
    assert_eq!(
        (done.loss, done.from_collateral, done.from_insurance, done.socialised),
        (planned.loss, planned.from_collateral, planned.from_insurance, planned.socialised),
        "written off as predicted"
    );
    assert_eq!(done.loss, done.from_collateral + done.from_insurance + done.socialised);
    assert!(done.from_insurance > 0 && done.socialised > 0, "{done:?}");
    let market_after = m.sandbox.perp(&perp);
    assert_eq!(market_after.socialised_loss, done.socialised);
    // The LPs bore a part: the fund had paid all it held (to a share's rounding), its own $50
    // and the insurance fee of the bankrupt trader's liquidation.
    assert!(insurance_before > 0 && done.insurance_shares_after <= 1);
    // Since then (the bankrupt account is worked first) it holds the other steps' fees.
    let later: u64 = perp_events
        .iter()
        .filter(|e| e.event.liquidatee != bankrupt.account)
        .map(|e| e.event.insurance_fee)
        .sum();
    let index = m.sandbox.bank(&usdc).deposit_index();
    let held = mul_q64(market_after.insurance_deposit_shares, index, Round::Down).unwrap();
    assert!(later > 0 && held.abs_diff(later) <= perp_events.len() as u64, "{held} vs {later}");
    let after: MarginAccount = m.sandbox.chain.load(&bankrupt.account).expect("account");
    assert_eq!(after.active_perp_count(), 0, "the written-off slot is freed");
    assert_eq!(after.bankrupt, 0);
    for lp in &lps {
        let slot = m.sandbox.margin_account(lp).perps[0];
        assert!(slot.lp_shares > 0, "the LPs keep their shares and bear the rest");
    }
}

#[test]
fn two_keepers_racing_for_perp_accounts() {
    let (mut market, keepers) = perp_market(6, 2);
    let [(first, _), (second, _)] = <[_; 2]>::try_from(keepers).ok().expect("two keepers");
    market.crash();
    // Both see the same state and the same targets ...
    let stop = AtomicBool::new(false);
    let mut backend = EmbeddedBackend::new(&mut market.m.sandbox.chain);
    let seen_by_first = first.discover(&mut backend).unwrap();
    let seen_by_second = second.discover(&mut backend).unwrap();
    let targets_first = evaluate(&seen_by_first.market, &seen_by_first.accounts);
    let targets_second = evaluate(&seen_by_second.market, &seen_by_second.accounts);
    let perp_targets = |e: &cross_margin_keeper::Evaluation| {
        let accounts = &seen_by_second.accounts;
        e.liquidatable.iter().chain(&e.bankrupt).filter(|t| accounts[t.index].1.has_perps()).count()
    };
    assert_eq!(perp_targets(&targets_second), 3, "perp_only, mixed and bankrupt");
    // ... the first acts, then the second acts on what it saw: every perp step it planned on
    // the old state is refused as a lost race, none as an error.
    let won = first.act(&mut backend, &seen_by_first, &targets_first, &stop).unwrap();
    let lost = second.act(&mut backend, &seen_by_second, &targets_second, &stop).unwrap();
    assert!(!won.perp_liquidations.is_empty() && won.perp_resolutions.len() == 1);
    assert!(lost.liquidations.is_empty() && lost.resolutions.is_empty());
    assert!(lost.perp_liquidations.is_empty() && lost.settlements.is_empty());
    assert!(lost.perp_resolutions.is_empty());
    assert_eq!(
        lost.skipped.len(),
        targets_second.liquidatable.len() + targets_second.bankrupt.len()
    );
    assert!(
        lost.skipped.iter().all(|s| matches!(s, Skipped::LostRace { .. })),
        "{:?}",
        lost.skipped
    );
}

#[test]
fn min_profit_holds_back_perp_liquidations_and_the_metrics_count_them() {
    let (mut market, keepers) = perp_market(6, 1);
    let (mut keeper, _) = keepers.into_iter().next().expect("a keeper");
    let metrics = Arc::new(Metrics::new());
    keeper.config.metrics = metrics.clone();
    market.crash();
    let perp_accounts = [&market.perp_only, &market.mixed, &market.bankrupt].map(|u| u.account);
    let stop = AtomicBool::new(false);

    // $1M minimum: every step that earns a fee is held back (a perp base goes first on each
    // perp account, so nothing at all is sent), each account counted once.
    keeper.config.min_profit_quote = 1_000_000 * 1_000_000;
    let mut backend = EmbeddedBackend::new(&mut market.m.sandbox.chain);
    let held = keeper.run_round(&mut backend, &stop).expect("round");
    assert!(held.liquidations.is_empty() && held.perp_liquidations.is_empty());
    assert!(held.settlements.is_empty() && held.perp_resolutions.is_empty());
    let below: BTreeSet<Pubkey> = held
        .skipped
        .iter()
        .map(|s| match s {
            Skipped::BelowMinProfit { account, .. } => *account,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(below.len(), held.skipped.len(), "each account once");
    assert!(perp_accounts.iter().all(|a| below.contains(a)), "{below:?}");
    let text = metrics.render(Instant::now());
    let series = |name: &str| sample(&text, name);
    assert_eq!(series("keeper_skipped_total{reason=\"below_min_profit\"}"), below.len() as f64);
    assert_eq!(series("keeper_transactions_sent_total{kind=\"liquidate_perp\"}"), 0.0);

    // Off again: the perp liquidations land, counted by kind, their fees predicted exactly.
    keeper.config.min_profit_quote = 0;
    let report = keeper.run_round(&mut backend, &stop).expect("round");
    assert!(!report.perp_liquidations.is_empty());
    let text = metrics.render(Instant::now());
    let series = |name: &str| sample(&text, name);
    let landed = series("keeper_transactions_landed_total{kind=\"liquidate_perp\"}");
    assert_eq!(landed, report.perp_liquidations.len() as f64);
    let settled = series("keeper_transactions_landed_total{kind=\"settle_pnl\"}");
    assert_eq!(settled, report.settlements.len() as f64);
    let written_off = series("keeper_transactions_landed_total{kind=\"resolve_perp_bankruptcy\"}");
    assert_eq!(written_off, report.perp_resolutions.len() as f64);
    let realized: i128 = report.perp_liquidations.iter().map(|l| l.profit_quote).sum();
    let realized_usd = series("keeper_profit_realized_usd_total{kind=\"liquidate_perp\"}");
    let predicted_usd = series("keeper_profit_predicted_usd_total{kind=\"liquidate_perp\"}");
    assert!((realized_usd - realized as f64 / 1e6).abs() < 1e-6);
    assert!(realized > 0 && (predicted_usd - realized_usd).abs() < 1e-6, "{predicted_usd}");
}
