//! The keeper end to end on the embedded chain (the real `.so` in LiteSVM): a three-bank market
//! with real-format Pyth accounts, 60 borrowers, a SOL crash. Which accounts are liquidatable is
//! decided by the program's own `health` view, independently of the keeper's evaluation.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use anchor_lang::AnchorDeserialize;
use anchor_lang::Discriminator;
use cross_margin::instructions::AccountHealth;
use cross_margin::liquidation::end_target;
use cross_margin::math::{mul_q64, Round};
use cross_margin::state::{BankConfig, GroupConfigOptions, MarginAccount, OracleKind};
use cross_margin_client::ix::BankRef;
use cross_margin_client::Signer;
use cross_margin_client::{EmbeddedChain, Pubkey};
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::backend::{
    AccountData, Backend, BackendError, Filter, Landed, Rejection, RetryPolicy, Simulation,
};
use cross_margin_keeper::keeper::{RoundReport, Skipped};
use cross_margin_keeper::{evaluate, Keeper};
use cross_margin_testkit::sandbox::User;
use cross_margin_testkit::scenario::{whole, SeededMarket};
use solana_transaction::versioned::VersionedTransaction;

#[path = "embedded/ops.rs"]
mod ops;
#[path = "embedded/perps.rs"]
mod perps;

const BORROWERS: usize = 60;
/// SOL from $125 to $75: −40%.
const SOL_CRASHED_E4: i64 = 750_000;

fn chain() -> EmbeddedChain {
    EmbeddedChain::new().unwrap_or_else(|e| panic!("{e}"))
}

fn market() -> SeededMarket {
    SeededMarket::new(chain(), BORROWERS, 7).expect("seeded market")
}

/// The accounts the program's own `health` view calls liquidatable (maint health < 0).
fn liquidatable_by_program(market: &mut SeededMarket) -> BTreeSet<Pubkey> {
    let accounts: Vec<Pubkey> = market.users.iter().map(|u| u.account).collect();
    accounts
        .into_iter()
        .filter(|account| market.sandbox.health_of(account).expect("health view").0.liquidatable)
        .collect()
}

fn rounds_until_quiet(keeper: &Keeper, market: &mut SeededMarket) -> Vec<RoundReport> {
    let stop = AtomicBool::new(false);
    let mut reports = Vec::new();
    for _ in 0..5 {
        let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
        let report = keeper.run_round(&mut backend, &stop).expect("round");
        let quiet = report.liquidations.is_empty() && report.resolutions.is_empty();
        reports.push(report);
        if quiet {
            break;
        }
    }
    reports
}

/// Deposits minus borrows at oracle prices (conservative = mid here: no confidence interval),
/// from the program's own health view.
fn equity(market: &mut SeededMarket, user: &User) -> i128 {
    let (view, _) = market.sandbox.health_of(&user.account).expect("health view");
    view.positions
        .iter()
        .map(|p| if p.is_liability { -(p.value as i128) } else { p.value as i128 })
        .sum()
}

#[test]
fn the_keeper_liquidates_exactly_the_liquidatable_accounts() {
    let mut market = market();
    let (keeper, keeper_user) = market.keeper(5_000_000).expect("keeper");
    assert!(liquidatable_by_program(&mut market).is_empty(), "nobody is underwater before");
    // Insurance deep enough that no bad debt is shared out: a write-off would otherwise lower
    // the deposit index under the keeper's own collateral and blur the profit check.
    for (bank, asset) in market.banks.clone().iter().zip(market.assets.clone()) {
        let amount = whole(&asset, 1_000_000) / asset.price as u64;
        market.sandbox.fund_insurance(bank, amount).expect("fund insurance");
    }

    market.set_price(1, SOL_CRASHED_E4);
    let expected = liquidatable_by_program(&mut market);
    assert!(expected.len() >= 5, "the crash puts several accounts under: {}", expected.len());
    assert!(expected.len() < BORROWERS, "and leaves others healthy");
    let equity_before = equity(&mut market, &keeper_user);

    let reports = rounds_until_quiet(&keeper, &mut market);
    let liquidations: Vec<_> = reports.iter().flat_map(|r| r.liquidations.iter()).collect();
    let resolutions: Vec<_> = reports.iter().flat_map(|r| r.resolutions.iter()).collect();
    assert!(resolutions.iter().all(|r| r.event.socialized == 0));
    // The crash exhausts some accounts: their debt is written off (insurance pays all of it).
    assert!(!resolutions.is_empty(), "the crash leaves accounts to write off");
    let dust = market.sandbox.group_state().bankruptcy_dust_quote;
    assert!(resolutions.iter().all(|r| r.event.deposits_value < dust && r.event.debt > 0));
    let liquidated: BTreeSet<Pubkey> = liquidations.iter().map(|l| l.event.liquidatee).collect();
    assert_eq!(liquidated, expected, "exactly the accounts the program calls liquidatable");
    assert!(reports.iter().all(|r| r.skipped.is_empty()), "{:?}", reports[0].skipped);

    // Every liquidated account ends at or above its end target, or bankrupt and written off.
    let group = market.sandbox.group_state();
    for account in &liquidated {
        let state: MarginAccount = market.sandbox.chain.load(account).unwrap();
        let (view, _) = market.sandbox.health_of(account).unwrap();
        let written_off = resolutions.iter().any(|r| r.event.account == *account);
        if written_off {
            assert_eq!(state.bankrupt, 0);
            assert!(view.positions.iter().all(|p| !p.is_liability), "no debt left");
            continue;
        }
        let liabs: i128 = view.positions.iter().filter(|p| p.is_liability).map(|p| -p.maint).sum();
        let target = end_target(liabs, group.liquidation_end_buffer_bps);
        assert!(view.maint >= target, "{account}: maint {} below target {target}", view.maint);
        assert_eq!(state.being_liquidated, 0);
    }

    // Profit: the liquidation fee on each step, L × p_liab × the collateral bank's fee at the
    // oracle prices the event reports, up to the rounding of the collateral to whole native
    // units (worth at most one unit's price each); less where the liquidatee's equity caps the
    // fees (a solvent account is never made insolvent), never more.
    let mut expected_fees = 0i128;
    let mut full_fees = 0i128;
    let mut tolerance = 0i128;
    for done in &liquidations {
        let event = &done.event;
        let asset_bank: cross_margin::state::Bank =
            market.sandbox.chain.load(&event.asset_bank).unwrap();
        let liab_value = mul_q64(event.liab_amount, event.liab_price, Round::Down).unwrap();
        let received = mul_q64(event.asset_to_liquidator, event.asset_price, Round::Down).unwrap();
        let full = (liab_value as i128) * asset_bank.config.liquidation_fee_bps as i128 / 10_000;
        let unit = (mul_q64(1, event.asset_price, Round::Up).unwrap() as i128) + 3;
        let paid = received as i128 - liab_value as i128;
        assert!(paid <= full + unit, "fee {paid} above the bank's {full}");
        expected_fees += paid;
        full_fees += full;
        tolerance += unit;
        assert!(done.compute_units <= done.compute_limit as u64);
        assert!(done.compute_units > 0);
    }
    assert!(expected_fees > 0 && expected_fees <= full_fees + tolerance);
    let reported: i128 = liquidations.iter().map(|l| l.profit_quote).sum();
    assert!(
        (reported - expected_fees).abs() <= tolerance,
        "profit {reported} vs fees {expected_fees}"
    );
    // ... and it is what the keeper's own account gained.
    let gained = equity(&mut market, &keeper_user) - equity_before;
    assert!((gained - reported).abs() <= tolerance, "equity +{gained} vs reported {reported}");

    // Nothing left to do, and every vault still covers every claim.
    let quiet = rounds_until_quiet(&keeper, &mut market);
    assert!(quiet[0].liquidations.is_empty() && quiet[0].liquidatable == 0);
    for bank in market.banks.clone() {
        let (vault, claims) = market.sandbox.vault_and_claims(&bank);
        assert!(vault as i128 >= claims && vault as i128 - claims <= 16);
    }
}

#[test]
fn two_keepers_racing_for_the_same_accounts() {
    let mut market = market();
    let (first, _) = market.keeper(5_000_000).expect("keeper");
    let (second, _) = market.keeper(5_000_000).expect("keeper");
    market.set_price(1, SOL_CRASHED_E4);

    // Both see the same state and the same targets ...
    let stop = AtomicBool::new(false);
    let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
    let seen_by_first = first.discover(&mut backend).unwrap();
    let seen_by_second = second.discover(&mut backend).unwrap();
    let targets_first = evaluate(&seen_by_first.market, &seen_by_first.accounts);
    let targets_second = evaluate(&seen_by_second.market, &seen_by_second.accounts);
    assert!(!targets_second.liquidatable.is_empty());
    // ... the first acts, then the second acts on what it saw.
    let won = first.act(&mut backend, &seen_by_first, &targets_first, &stop).unwrap();
    let lost = second.act(&mut backend, &seen_by_second, &targets_second, &stop).unwrap();
    assert!(!won.liquidations.is_empty());
    assert!(lost.liquidations.is_empty() && lost.resolutions.is_empty());
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
fn a_keeper_that_cannot_carry_the_debt_says_so_and_sends_nothing() {
    let mut market = market();
    let (poor, _) = market.keeper(0).expect("keeper without collateral");
    market.set_price(1, SOL_CRASHED_E4);
    let before = liquidatable_by_program(&mut market);
    let report = rounds_until_quiet(&poor, &mut market).remove(0);
    assert!(report.liquidations.is_empty());
    assert!(report.skipped.iter().any(|s| matches!(
        s,
        Skipped::NoPlan { reason, .. } if reason.contains("init health")
    )));
    assert_eq!(liquidatable_by_program(&mut market), before, "nothing changed");
}

#[test]
fn dry_run_plans_and_simulates_but_changes_nothing() {
    let mut market = market();
    let (mut keeper, _) = market.keeper(5_000_000).expect("keeper");
    keeper.config.dry_run = true;
    market.set_price(1, SOL_CRASHED_E4);
    let before = liquidatable_by_program(&mut market);
    let report = rounds_until_quiet(&keeper, &mut market).remove(0);
    assert!(report.liquidations.is_empty());
    let simulated = report.skipped.iter().filter(|s| matches!(s, Skipped::DryRun { .. })).count();
    assert_eq!(simulated, before.len());
    assert_eq!(liquidatable_by_program(&mut market), before);
}

#[test]
fn undecodable_accounts_are_logged_and_skipped() {
    let mut market = market();
    let (keeper, _) = market.keeper(5_000_000).expect("keeper");
    // A margin account of a layout version the keeper does not know, in the group.
    let mut data = market.sandbox.chain.account(&market.users[0].account).unwrap().data;
    data[8 + 324] = 99; // `version`
    let stranger = market.sandbox.chain.new_pubkey();
    market.sandbox.chain.set_account(stranger, cross_margin::ID, data);
    market.set_price(1, SOL_CRASHED_E4);
    let expected = liquidatable_by_program(&mut market);
    let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
    let discovered = keeper.discover(&mut backend).unwrap();
    assert_eq!(discovered.undecodable.len(), 1);
    assert_eq!(discovered.undecodable[0].0, stranger);
    let reports = rounds_until_quiet(&keeper, &mut market);
    let liquidated: BTreeSet<Pubkey> =
        reports.iter().flat_map(|r| r.liquidations.iter().map(|l| l.event.liquidatee)).collect();
    assert_eq!(liquidated, expected, "the round went on past the bad account");
}

#[test]
fn shards_split_the_work_between_keepers() {
    let mut market = market();
    let (mut first, _) = market.keeper(5_000_000).expect("keeper");
    let (mut second, _) = market.keeper(5_000_000).expect("keeper");
    first.config.shard = "0/2".parse().unwrap();
    second.config.shard = "1/2".parse().unwrap();
    market.set_price(1, SOL_CRASHED_E4);
    let expected = liquidatable_by_program(&mut market);
    let a = rounds_until_quiet(&first, &mut market);
    let b = rounds_until_quiet(&second, &mut market);
    let by = |reports: &[RoundReport]| -> BTreeSet<Pubkey> {
        reports.iter().flat_map(|r| r.liquidations.iter().map(|l| l.event.liquidatee)).collect()
    };
    let (a, b) = (by(&a), by(&b));
    assert!(a.is_disjoint(&b));
    assert!(!a.is_empty() && !b.is_empty());
    assert_eq!(&a | &b, expected);
}

/// A backend whose transport fails on every `period`-th call: the keeper retries with backoff
/// and the round still completes. After `stop_after` calls it raises the stop flag (Ctrl-C).
struct Flaky<'a> {
    inner: EmbeddedBackend<'a>,
    calls: usize,
    period: usize,
    failures: usize,
    stop_after: Option<(usize, &'a AtomicBool)>,
    /// Every transaction sent.
    sent: Vec<VersionedTransaction>,
}

impl Flaky<'_> {
    fn tick(&mut self) -> Result<(), BackendError> {
        self.calls += 1;
        if let Some((after, flag)) = self.stop_after {
            if self.calls >= after {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if self.period > 0 && self.calls.is_multiple_of(self.period) {
            self.failures += 1;
            return Err(BackendError::Transport("connection reset (injected)".into()));
        }
        Ok(())
    }
}

impl Backend for Flaky<'_> {
    fn name(&self) -> String {
        "flaky".into()
    }
    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
        self.tick()?;
        self.inner.program_accounts(program, filters)
    }
    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError> {
        self.tick()?;
        self.inner.multiple_accounts(keys)
    }
    fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
        self.tick()?;
        self.inner.unix_timestamp()
    }
    fn latest_blockhash(&mut self) -> Result<solana_message::Hash, BackendError> {
        self.tick()?;
        self.inner.latest_blockhash()
    }
    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError> {
        self.tick()?;
        self.inner.simulate(tx)
    }
    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError> {
        self.tick()?;
        self.sent.push(tx.clone());
        self.inner.send_and_confirm(tx)
    }
}

fn fast_retries(keeper: &mut Keeper) {
    keeper.config.retry = RetryPolicy {
        attempts: 4,
        first_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(4),
    };
}

#[test]
fn transport_errors_are_retried_and_the_round_completes() {
    let mut market = market();
    let (mut keeper, _) = market.keeper(5_000_000).expect("keeper");
    fast_retries(&mut keeper);
    market.set_price(1, SOL_CRASHED_E4);
    let expected = liquidatable_by_program(&mut market);
    let stop = AtomicBool::new(false);
    let mut liquidated = BTreeSet::new();
    let mut failures = 0;
    for _ in 0..5 {
        let inner = EmbeddedBackend::new(&mut market.sandbox.chain);
        let mut flaky =
            Flaky { inner, calls: 0, period: 3, failures: 0, stop_after: None, sent: vec![] };
        let report = keeper.run_round(&mut flaky, &stop).expect("the round survives");
        failures += flaky.failures;
        liquidated.extend(report.liquidations.iter().map(|l| l.event.liquidatee));
        if report.liquidations.is_empty() {
            break;
        }
    }
    assert!(failures > 10, "errors were injected: {failures}");
    assert_eq!(liquidated, expected);
}

#[test]
fn a_dead_endpoint_fails_the_round_after_bounded_retries() {
    let mut market = market();
    let (mut keeper, _) = market.keeper(5_000_000).expect("keeper");
    fast_retries(&mut keeper);
    let inner = EmbeddedBackend::new(&mut market.sandbox.chain);
    let mut dead =
        Flaky { inner, calls: 0, period: 1, failures: 0, stop_after: None, sent: vec![] };
    let error = keeper.run_round(&mut dead, &AtomicBool::new(false)).unwrap_err();
    assert!(error.to_string().contains("injected"), "{error}");
    assert_eq!(dead.calls, 4, "exactly the configured attempts");
}

#[test]
fn the_run_loop_stops_cleanly_when_asked() {
    let mut market = market();
    let (keeper, _) = market.keeper(5_000_000).expect("keeper");
    let stop = AtomicBool::new(false);
    let inner = EmbeddedBackend::new(&mut market.sandbox.chain);
    // The stop flag is raised during the first round, as a Ctrl-C would.
    let mut backend = Flaky {
        inner,
        calls: 0,
        period: 0,
        failures: 0,
        stop_after: Some((3, &stop)),
        sent: vec![],
    };
    let started = std::time::Instant::now();
    keeper.run(&mut backend, std::time::Duration::from_secs(3600), &stop).expect("clean stop");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "did not wait the interval");
}

/// The compute budget of every transaction sent: a unit limit of exactly the simulated units
/// plus the configured margin, and the configured priority fee.
#[test]
fn transactions_carry_the_simulated_limit_and_the_priority_fee() {
    let mut market = market();
    let (mut keeper, _) = market.keeper(5_000_000).expect("keeper");
    keeper.config.priority_fee_micro_lamports = 7_500;
    market.set_price(1, SOL_CRASHED_E4);
    let stop = AtomicBool::new(false);
    let inner = EmbeddedBackend::new(&mut market.sandbox.chain);
    let mut backend =
        Flaky { inner, calls: 0, period: 0, failures: 0, stop_after: None, sent: vec![] };
    let report = keeper.run_round(&mut backend, &stop).expect("round");
    assert!(!report.liquidations.is_empty());
    assert_eq!(backend.sent.len(), report.liquidations.len() + report.resolutions.len());

    let budget_program = solana_compute_budget_interface::id();
    let budget = |tx: &VersionedTransaction| -> (u32, u64) {
        let keys = tx.message.static_account_keys();
        let (mut limit, mut price) = (None, None);
        for ix in tx.message.instructions() {
            if keys[ix.program_id_index as usize] != budget_program {
                continue;
            }
            match ix.data[0] {
                2 => limit = Some(u32::from_le_bytes(ix.data[1..5].try_into().unwrap())),
                3 => price = Some(u64::from_le_bytes(ix.data[1..9].try_into().unwrap())),
                other => panic!("unexpected compute budget instruction {other}"),
            }
        }
        (limit.expect("a unit limit"), price.expect("a unit price"))
    };
    let config = &keeper.config;
    let liquidations = backend.sent.iter().filter(|tx| {
        let keys = tx.message.static_account_keys();
        tx.message.instructions().iter().any(|ix| {
            keys[ix.program_id_index as usize] == cross_margin::ID
                && ix.data.starts_with(cross_margin::instruction::Liquidate::DISCRIMINATOR)
        })
    });
    for (tx, done) in liquidations.zip(&report.liquidations) {
        let (limit, price) = budget(tx);
        assert_eq!(price, 7_500);
        assert_eq!(limit, done.compute_limit);
        // The embedded chain is deterministic: the simulation used what the transaction did.
        let units = done.compute_units;
        let expected =
            units + units * config.compute_margin_bps as u64 / 10_000 + config.compute_extra as u64;
        assert_eq!(limit as u64, expected, "{units} CU used");
    }
    for tx in &backend.sent {
        assert_eq!(budget(tx).1, 7_500);
    }
}

/// Of a liquidatee's two collaterals the keeper takes the one that pays the most: SOL, whose
/// liquidation fee is 5%, over USDC's 1.5%, although seizing USDC (maint weight 0.98 against
/// SOL's 0.9) would let it take over more debt: all $980 its USDC covers, against the $896 that
/// takes the account to its end target through SOL. $980 × 1.5% = $14.70 < $896 × 5% = $44.80.
#[test]
fn the_keeper_picks_the_pair_that_pays_the_most() {
    use cross_margin_keeper::plan::plan_liquidation;
    use cross_margin_testkit::scenario::{BTC, SOL, USDC};
    let mut market = SeededMarket::new(chain(), 1, 7).expect("seeded market");
    let (keeper, keeper_user) = market.keeper(5_000_000).expect("keeper");
    // $1,000 of USDC and 8 SOL ($1,000) deposited, 0.015 BTC ($1,500) borrowed.
    let funds = [whole(&USDC, 1_000), whole(&SOL, 8), 0];
    let borrower = market.sandbox.user(&funds).expect("borrower");
    let (usdc, sol, btc) = (market.banks[0], market.banks[1], market.banks[2]);
    market.sandbox.deposit(&borrower, &usdc, funds[0]).expect("deposit USDC");
    market.sandbox.deposit(&borrower, &sol, funds[1]).expect("deposit SOL");
    market.sandbox.borrow(&borrower, &btc, whole(&BTC, 15) / 1_000).expect("borrow BTC");
    // BTC to $120,000: maint 980 + 900 = 1,880 against 1,800 × 1.08 = 1,944.
    market.set_price(2, 1_200_000_000);

    let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
    let discovered = keeper.discover(&mut backend).expect("discover");
    let account = |key: &Pubkey| discovered.accounts.iter().find(|(k, _)| k == key).unwrap().1;
    let liquidatee = account(&borrower.account);
    let plan = plan_liquidation(&discovered.market, &liquidatee, &account(&keeper_user.account))
        .expect("a plan");
    assert_eq!((plan.liab_bank, plan.asset_bank), (2, 1), "BTC debt for SOL collateral");
    // What it pays is SOL's 5% fee on the debt taken over, at oracle prices.
    let debt_value = plan.amounts.liab as i128 * 120_000 * 1_000_000 / 100_000_000;
    assert!(
        (890_000_000..=900_000_000).contains(&debt_value),
        "${} of debt",
        debt_value / 1_000_000
    );
    let fee = debt_value * 5 / 100;
    assert!((plan.profit_quote - fee).abs() <= 1_000, "profit {} vs fee {fee}", plan.profit_quote);
    // The program agrees: the step it plans is the step that lands.
    let report = keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round");
    let done = report.liquidations.iter().find(|l| l.event.liquidatee == borrower.account).unwrap();
    assert_eq!((done.event.liab_amount, done.event.asset_bank), (plan.amounts.liab, sol.address));
}

/// Makes the market's group live with a one-day delay; returns the group and its admin.
fn go_live(market: &mut SeededMarket) -> (Pubkey, Pubkey) {
    let (group, admin) = (market.sandbox.group, market.sandbox.admin.pubkey());
    let live = GroupConfigOptions { config_delay_secs: Some(86_400), ..Default::default() };
    let ix = cross_margin_client::ix::configure_group(group, admin, live);
    market.sandbox.send_as_admin(&[ix]).expect("go live");
    (group, admin)
}

/// The program's `health_after_pending_changes` view for every borrower: liquidatable once the
/// queued changes apply.
fn liquidatable_after_pending_by_program(market: &mut SeededMarket) -> BTreeSet<Pubkey> {
    let group = market.sandbox.group;
    let mut found = BTreeSet::new();
    let accounts: Vec<Pubkey> = market.users.iter().map(|u| u.account).collect();
    for address in accounts {
        let account: MarginAccount = market.sandbox.chain.load(&address).expect("account");
        let pairs = cross_margin_client::ix::health_accounts(&account, |i| {
            let bank = market.sandbox.bank_by_index(i);
            BankRef::after_pending_change(bank.address, &market.sandbox.bank(&bank))
        });
        let ix = cross_margin_client::ix::health_after_pending_changes(group, address, pairs);
        let executed = market.sandbox.chain.send(&[ix], &[]).expect("the preview view");
        let view = AccountHealth::deserialize(&mut executed.return_data.as_slice()).unwrap();
        if view.liquidatable {
            found.insert(address);
        }
    }
    found
}

/// A queued change that lowers SOL's maint weight: the keeper liquidates nobody yet, and reports
/// exactly the accounts the program's preview calls liquidatable once the change applies.
#[test]
fn the_keeper_reports_accounts_a_queued_change_would_make_liquidatable() {
    let mut market = market();
    let (keeper, _) = market.keeper(5_000_000).expect("keeper");
    let (group, admin) = go_live(&mut market);
    let sol = market.banks[1];
    let config = market.sandbox.bank(&sol).config;
    let lower = BankConfig {
        init_asset_weight_bps: config.init_asset_weight_bps / 2,
        maint_asset_weight_bps: config.maint_asset_weight_bps / 2,
        ..config
    };
    let ix =
        cross_margin_client::ix::queue_bank_config(group, admin, sol.address, sol.oracle, lower);
    market.sandbox.send_as_admin(&[ix]).expect("queue");

    let expected = liquidatable_after_pending_by_program(&mut market);
    assert!(!expected.is_empty(), "the change must bite someone");
    assert!(liquidatable_by_program(&mut market).is_empty());
    let stop = AtomicBool::new(false);
    let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
    let report = keeper.run_round(&mut backend, &stop).expect("round");
    assert_eq!((report.liquidatable, report.liquidations.len()), (0, 0));
    let reported: BTreeSet<Pubkey> = report.liquidatable_after_pending.iter().copied().collect();
    assert_eq!(reported, expected);
}

/// Anyone may apply a due re-pin, also just before a keeper's transactions land: those then name
/// the old oracle and are refused (`OracleAccountMismatch`). The keeper counts that as a lost
/// race, not an error, and the next round, reading the bank again, liquidates.
#[test]
fn a_re_pin_applied_under_a_keeper_is_a_lost_race_and_the_next_round_liquidates() {
    let mut market = market();
    let (keeper, _) = market.keeper(5_000_000).expect("keeper");
    let (group, admin) = go_live(&mut market);
    let sol = market.banks[1];
    let new_oracle = market.sandbox.chain.new_pubkey();
    let config = market.sandbox.bank(&sol).config;
    let quote = market.sandbox.quote(&sol);
    market.sandbox.write_oracle(OracleKind::PythPull, new_oracle, sol.index, quote, true);
    let ix =
        cross_margin_client::ix::queue_bank_config(group, admin, sol.address, new_oracle, config);
    market.sandbox.send_as_admin(&[ix]).expect("queue the re-pin");
    market.sandbox.chain.warp_seconds(86_400);
    market.sandbox.refresh_prices();
    market.set_price(1, SOL_CRASHED_E4);
    let crashed = market.sandbox.quote(&sol);
    market.sandbox.write_oracle(OracleKind::PythPull, new_oracle, sol.index, crashed, true);

    let stop = AtomicBool::new(false);
    let discovered = keeper.discover(&mut EmbeddedBackend::new(&mut market.sandbox.chain)).unwrap();
    let evaluation = evaluate(&discovered.market, &discovered.accounts);
    assert!(!evaluation.liquidatable.is_empty());
    let apply = cross_margin_client::ix::apply_bank_config(group, sol.address, new_oracle);
    market.sandbox.chain.send(&[apply], &[]).expect("anyone applies the re-pin");
    let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
    let report = keeper.act(&mut backend, &discovered, &evaluation, &stop).unwrap();
    assert!(report.liquidations.is_empty());
    assert!(!report.skipped.is_empty());
    assert!(
        report.skipped.iter().all(|s| matches!(s, Skipped::LostRace { error, .. } if error.contains("OracleAccountMismatch"))),
        "{:?}",
        report.skipped
    );

    let repinned = BankRef { oracle: new_oracle, ..sol };
    market.banks[1] = repinned;
    market.sandbox.banks[1] = repinned;
    let reports = rounds_until_quiet(&keeper, &mut market);
    assert!(reports.iter().any(|r| !r.liquidations.is_empty()));
    assert!(liquidatable_by_program(&mut market).is_empty());
}
