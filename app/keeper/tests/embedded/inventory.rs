//! Inventory and the swap adapter on the embedded chain: the test pool (`cp_swap`) swaps at its
//! formula; the keeper unwinds a liquidation (withdraw the collateral, swap it, repay the debt)
//! after it lands, keeps its health buffer, and, with a flash loan, liquidates with no capital.

use std::sync::atomic::AtomicBool;

use cp_swap::CpSwapError;
use cross_margin::state::MarginAccount;
use cross_margin_client::ix::BankRef;
use cross_margin_client::{Keypair, Pubkey, Signer};
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::backend::{
    AccountData, Backend, BackendError, Filter, Landed, Rejection, Simulation,
};
use cross_margin_keeper::inventory::{InventoryConfig, UnwindMode};
use cross_margin_keeper::keeper::{KeeperConfig, RoundReport, Skipped};
use cross_margin_keeper::plan::{plan_liquidation_with, LiquidatorCheck};
use cross_margin_keeper::swap::{
    ConstantProductAdapter, SwapAccounts, SwapAdapter, SwapError, SwapInstructions, SwapQuote,
};
use cross_margin_keeper::{Keeper, RetryPolicy};
use cross_margin_testkit::pool::{load_cp_swap, open_pool, TestPool};
use cross_margin_testkit::sandbox::User;
use cross_margin_testkit::scenario::{whole, SeededMarket, BTC, SOL, USDC};
use solana_message::{Hash, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

/// SOL from $125 to $100.
const SOL_DOWN_E4: i64 = 1_000_000;

/// The seeded market with no random borrowers, `cp_swap` loaded, a SOL/USDC pool at $100
/// (10,000 SOL against $1M, 0.3 % fee), and one borrower: 100 SOL of collateral, $9,000 of
/// USDC debt; SOL then falls to $100, which puts it under water.
struct Setup {
    market: SeededMarket,
    pool: TestPool,
    borrower: User,
}

fn setup() -> Setup {
    let mut market = SeededMarket::new(super::chain(), 0, 7).expect("seeded market");
    load_cp_swap(&mut market.sandbox.chain).expect("cp_swap.so");
    let (usdc, sol) = (market.banks[0], market.banks[1]);
    let amounts = (whole(&SOL, 10_000), whole(&USDC, 1_000_000));
    let pool = open_pool(&mut market.sandbox.chain, &sol, &usdc, amounts, 30).expect("pool");
    let borrower = market.sandbox.user(&[0, whole(&SOL, 100), 0]).expect("borrower");
    market.sandbox.deposit(&borrower, &sol, whole(&SOL, 100)).expect("collateral");
    market.sandbox.borrow(&borrower, &usdc, whole(&USDC, 9_000)).expect("borrow");
    market.set_price(1, SOL_DOWN_E4);
    assert!(market.sandbox.health_of(&borrower.account).unwrap().0.liquidatable);
    Setup { market, pool, borrower }
}

/// A keeper whose margin account holds `btc` native BTC (none: an empty account), with an
/// empty token account per bank, unwinding through the pool.
fn new_keeper(setup: &mut Setup, btc: u64, inventory: InventoryConfig) -> (Keeper, User) {
    let sandbox = &mut setup.market.sandbox;
    let user = sandbox.user(&[0, 0, btc]).expect("keeper");
    if btc > 0 {
        let bank = setup.market.banks[2];
        sandbox.deposit(&user, &bank, btc).expect("keeper collateral");
    }
    let token_accounts =
        setup.market.banks.iter().zip(&user.tokens).map(|(b, t)| (b.mint, *t)).collect();
    let mut config = KeeperConfig::new(sandbox.group, user.account);
    config.inventory = InventoryConfig { token_accounts, ..inventory };
    let mut backend = EmbeddedBackend::new(&mut sandbox.chain);
    let adapter =
        ConstantProductAdapter::load(&mut backend, &[setup.pool.address], RetryPolicy::default())
            .expect("adapter");
    let signer = Keypair::try_from(user.keypair.to_bytes().as_slice()).expect("a keypair");
    (Keeper::new(config, signer).with_swap_adapter(Box::new(adapter)), user)
}

/// The inventory settings of these tests: LiteSVM's clock stands still between planning and
/// landing, so no landing lag.
fn unwinding(unwind: UnwindMode) -> InventoryConfig {
    InventoryConfig { unwind, landing_lag_secs: 0, ..InventoryConfig::default() }
}

fn round(keeper: &Keeper, setup: &mut Setup) -> RoundReport {
    let mut backend = EmbeddedBackend::new(&mut setup.market.sandbox.chain);
    keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round")
}

fn debt(setup: &Setup, account: &Pubkey, bank: &BankRef) -> u64 {
    let state: MarginAccount = setup.market.sandbox.chain.load(account).unwrap();
    let bank = setup.market.sandbox.bank(bank);
    cross_margin::positions::borrow_native(&state, &bank).unwrap_or(0)
}

fn deposit(setup: &Setup, account: &Pubkey, bank: &BankRef) -> u64 {
    let state: MarginAccount = setup.market.sandbox.chain.load(account).unwrap();
    let bank = setup.market.sandbox.bank(bank);
    cross_margin::positions::deposit_native(&state, &bank).unwrap_or(0)
}

#[test]
fn the_pool_swaps_at_its_formula_and_refuses_slippage() {
    let mut setup = setup();
    let (usdc, sol) = (setup.market.banks[0], setup.market.banks[1]);
    let chain = &mut setup.market.sandbox.chain;
    let trader = chain.funded_keypair(1_000_000_000).unwrap();
    let source = chain.create_token_account(&sol.mint, &trader.pubkey(), whole(&SOL, 10));
    let destination = chain.create_token_account(&usdc.mint, &trader.pubkey(), 0);
    let (vault_sol, vault_usdc) = (setup.pool.state.vault_a, setup.pool.state.vault_b);
    let (r_in, r_out) = (chain.token_balance(&vault_sol), chain.token_balance(&vault_usdc));
    let amount_in = whole(&SOL, 10);
    let expected = cp_swap::math::amount_out(r_in, r_out, amount_in, 30).unwrap();
    // 10 SOL at $100 less 0.3 % and the price impact of 0.1 % of the pool.
    assert!(expected > whole(&USDC, 995) && expected < whole(&USDC, 997), "{expected}");

    let swap = |min_out| {
        cp_swap::swap(
            setup.pool.address,
            &setup.pool.state,
            &sol.mint,
            source,
            destination,
            trader.pubkey(),
            amount_in,
            min_out,
        )
        .unwrap()
    };
    let refused = chain.send(&[swap(expected + 1)], &[&trader]).unwrap_err();
    assert_eq!(refused.custom_code(), Some(cp_swap::CpSwapError::SlippageExceeded.code()));
    assert_eq!(chain.token_balance(&destination), 0);

    chain.send(&[swap(expected)], &[&trader]).expect("swap");
    assert_eq!(chain.token_balance(&destination), expected);
    assert_eq!(chain.token_balance(&source), 0);
    assert_eq!(chain.token_balance(&vault_sol), r_in + amount_in);
    assert_eq!(chain.token_balance(&vault_usdc), r_out - expected);
    let k = |a: u64, b: u64| u128::from(a) * u128::from(b);
    assert!(k(r_in + amount_in, r_out - expected) >= k(r_in, r_out));
}

#[test]
fn the_pool_refuses_misuse_by_name() {
    let mut setup = setup();
    let (usdc, sol) = (setup.market.banks[0], setup.market.banks[1]);
    let (pool, state) = (setup.pool.address, setup.pool.state);
    let chain = &mut setup.market.sandbox.chain;
    let trader = chain.funded_keypair(1_000_000_000).unwrap();
    let source = chain.create_token_account(&sol.mint, &trader.pubkey(), whole(&SOL, 1));
    let destination = chain.create_token_account(&usdc.mint, &trader.pubkey(), 0);
    let vaults = (chain.token_balance(&state.vault_a), chain.token_balance(&state.vault_b));
    let refused = |chain: &mut cross_margin_client::EmbeddedChain, ix, error: CpSwapError| {
        let failed = chain.send(&[ix], &[&trader]).expect_err("refused");
        assert_eq!(failed.custom_code(), Some(error.code()), "{:?}", failed.logs);
    };
    let swap = |amount_in| {
        cp_swap::swap(pool, &state, &sol.mint, source, destination, trader.pubkey(), amount_in, 1)
            .unwrap()
    };
    refused(chain, swap(0), CpSwapError::ZeroAmount);
    // The trader's own token account posing as the pool's vault.
    let mut fake_vault = swap(whole(&SOL, 1));
    fake_vault.accounts[2].pubkey = source;
    refused(chain, fake_vault, CpSwapError::VaultMismatch);
    // Someone else posing as the vault authority.
    let mut fake_authority = swap(whole(&SOL, 1));
    fake_authority.accounts[1].pubkey = trader.pubkey();
    refused(chain, fake_authority, CpSwapError::WrongAuthority);
    // A second InitPool on a live pool (signed by its key: the pool's own keypair is gone, so a
    // new account with the pool's data stands in for it).
    let again = chain.new_keypair();
    let data = chain.account(&pool).unwrap().data;
    chain.set_account(again.pubkey(), cp_swap::ID, data);
    let init =
        cp_swap::init_pool(again.pubkey(), sol.mint, usdc.mint, state.vault_a, state.vault_b, 30);
    let failed = chain.send(&[init], &[&again]).expect_err("refused");
    assert_eq!(failed.custom_code(), Some(CpSwapError::PoolAlreadyInitialized.code()));
    // Nothing moved.
    assert_eq!((chain.token_balance(&state.vault_a), chain.token_balance(&state.vault_b)), vaults);
    assert_eq!(chain.token_balance(&source), whole(&SOL, 1));
}

#[test]
fn the_keeper_unwinds_a_liquidation_after_it_lands() {
    let mut setup = setup();
    let (usdc, sol) = (setup.market.banks[0], setup.market.banks[1]);
    let inventory = unwinding(UnwindMode::After);
    let (keeper, user) = new_keeper(&mut setup, whole(&BTC, 1) / 5, inventory);
    let report = round(&keeper, &mut setup);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.liquidations.len(), 1);
    let liquidation = &report.liquidations[0].event;
    assert_eq!(liquidation.liquidatee, setup.borrower.account);
    assert_eq!(report.unwinds.len(), 1, "one unwind covers it");
    let unwind = &report.unwinds[0];
    assert!(!unwind.flash_loan);
    eprintln!("after-unwind (withdraw, swap, repay): {} CU", unwind.compute_units);
    // Everything seized was withdrawn and swapped; the debt taken over is repaid.
    assert_eq!(unwind.plan.withdraw, liquidation.asset_to_liquidator);
    assert_eq!(unwind.plan.repay, liquidation.liab_amount);
    assert_eq!(deposit(&setup, &user.account, &sol), 0);
    assert_eq!(debt(&setup, &user.account, &usdc), 0);
    // The swap paid exactly its quote (nothing traded in between); what the debt did not take
    // is the keeper's, in its wallet.
    let wallet = setup.market.sandbox.chain.token_balance(&user.tokens[0]);
    assert_eq!(wallet, unwind.plan.quote.amount_out - unwind.plan.repay);
    assert!(wallet > 0);
    assert_eq!(setup.market.sandbox.chain.token_balance(&user.tokens[1]), 0);
}

#[test]
fn the_keeper_unwinds_after_interest_has_moved_the_indices() {
    let mut setup = setup();
    let (usdc, sol) = (setup.market.banks[0], setup.market.banks[1]);
    // Someone borrows SOL, and half a year passes: both banks' indices move off 1, so shares
    // round and a deposit of C may be worth less than C.
    let borrower_of_sol = setup.market.sandbox.user(&[whole(&USDC, 20_000_000), 0, 0]).unwrap();
    setup.market.sandbox.deposit(&borrower_of_sol, &usdc, whole(&USDC, 20_000_000)).unwrap();
    setup.market.sandbox.borrow(&borrower_of_sol, &sol, whole(&SOL, 100_000)).expect("SOL");
    setup.market.sandbox.chain.warp_seconds(180 * 86_400);
    setup.market.sandbox.refresh_prices();
    let inventory = unwinding(UnwindMode::After);
    let (keeper, user) = new_keeper(&mut setup, whole(&BTC, 1) / 5, inventory);
    let report = round(&keeper, &mut setup);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(!report.liquidations.is_empty() && !report.unwinds.is_empty());
    let bank = setup.market.sandbox.bank(&sol);
    assert_ne!(bank.deposit_index(), cross_margin::state::Bank::initial_index());
    // Everything the deposit was worth was withdrawn (at most a unit short of what was seized),
    // and all the debt repaid.
    let seized: u64 = report.liquidations.iter().map(|l| l.event.asset_to_liquidator).sum();
    let withdrawn: u64 = report.unwinds.iter().map(|u| u.plan.withdraw).sum();
    assert!(withdrawn <= seized && withdrawn + report.liquidations.len() as u64 >= seized);
    assert!(deposit(&setup, &user.account, &sol) <= 1);
    assert_eq!(debt(&setup, &user.account, &usdc), 0);
    let wallet = setup.market.sandbox.chain.token_balance(&user.tokens[0]);
    let kept: u64 = report.unwinds.iter().map(|u| u.plan.quote.amount_out - u.plan.repay).sum();
    assert_eq!(wallet, kept);
}

#[test]
fn the_keeper_keeps_its_health_buffer() {
    let mut setup = setup();
    let sol = setup.market.banks[1];
    // 0.2 BTC ($20,000) carries $17,000 of init health. A $14,000 buffer lets the keeper take
    // the liquidation but not withdraw all the collateral while the debt is open.
    let buffer = 14_000_000_000i128;
    let inventory = InventoryConfig {
        health_buffer: buffer,
        max_unwind_steps: 1,
        ..unwinding(UnwindMode::After)
    };
    let (keeper, user) = new_keeper(&mut setup, whole(&BTC, 1) / 5, inventory.clone());
    let report = round(&keeper, &mut setup);
    assert_eq!(report.liquidations.len(), 1);
    let seized = report.liquidations[0].event.asset_to_liquidator;
    let unwind = &report.unwinds[0];
    assert!(unwind.plan.withdraw > 0 && unwind.plan.withdraw < seized, "partial");
    assert!(unwind.plan.init_after_withdraw >= buffer);
    // The program's own view: the account never fell below the buffer, and what is left of
    // the collateral is what was not withdrawn.
    let (view, _) = setup.market.sandbox.health_of(&user.account).unwrap();
    assert!(view.init >= buffer, "init {} below the buffer", view.init);
    assert_eq!(deposit(&setup, &user.account, &sol), seized - unwind.plan.withdraw);

    // A buffer above everything the keeper has: it does not liquidate at all.
    let mut setup = self::setup();
    let inventory = InventoryConfig { health_buffer: 17_500_000_000, ..inventory };
    let (keeper, user) = new_keeper(&mut setup, whole(&BTC, 1) / 5, inventory);
    let report = round(&keeper, &mut setup);
    assert!(report.liquidations.is_empty());
    assert!(
        matches!(&report.skipped[..], [Skipped::NoPlan { reason, .. }] if reason.contains("init health")),
        "{:?}",
        report.skipped
    );
    let state: MarginAccount = setup.market.sandbox.chain.load(&user.account).unwrap();
    assert_eq!(state.active_positions().count(), 1, "only its BTC");
}

#[test]
fn the_keeper_unwinds_in_slices_under_its_buffer() {
    let mut setup = setup();
    let (usdc, sol) = (setup.market.banks[0], setup.market.banks[1]);
    // The same $14,000 buffer with the default four unwind transactions: the first withdrawal
    // stops at the buffer, its repayment frees health, and the next finishes the job.
    let buffer = 14_000_000_000i128;
    let inventory = InventoryConfig { health_buffer: buffer, ..unwinding(UnwindMode::After) };
    let (keeper, user) = new_keeper(&mut setup, whole(&BTC, 1) / 5, inventory);
    let report = round(&keeper, &mut setup);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let liquidation = &report.liquidations[0].event;
    assert!(report.unwinds.len() >= 2, "{} unwinds", report.unwinds.len());
    let first = &report.unwinds[0].plan;
    assert!(first.withdraw < liquidation.asset_to_liquidator, "the first is a slice");
    assert!(report.unwinds.iter().all(|u| u.plan.init_after_withdraw >= buffer));
    let withdrawn: u64 = report.unwinds.iter().map(|u| u.plan.withdraw).sum();
    let repaid: u64 = report.unwinds.iter().map(|u| u.plan.repay).sum();
    assert_eq!(withdrawn, liquidation.asset_to_liquidator);
    assert_eq!(repaid, liquidation.liab_amount);
    assert_eq!(deposit(&setup, &user.account, &sol), 0);
    assert_eq!(debt(&setup, &user.account, &usdc), 0);
    let (view, _) = setup.market.sandbox.health_of(&user.account).unwrap();
    assert!(view.init >= buffer);
    let wallet = setup.market.sandbox.chain.token_balance(&user.tokens[0]);
    let kept: u64 = report.unwinds.iter().map(|u| u.plan.quote.amount_out - u.plan.repay).sum();
    assert_eq!(wallet, kept);
}

#[test]
fn a_keeper_with_no_capital_liquidates_through_a_flash_loan() {
    let mut setup = setup();
    let (usdc, sol) = (setup.market.banks[0], setup.market.banks[1]);
    let inventory = unwinding(UnwindMode::FlashLoan);
    let (keeper, user) = new_keeper(&mut setup, 0, inventory);
    let empty: MarginAccount = setup.market.sandbox.chain.load(&user.account).unwrap();
    assert_eq!(empty.active_positions().count(), 0, "no capital in the account");
    assert!(user.tokens.iter().all(|t| setup.market.sandbox.chain.token_balance(t) == 0));

    let report = round(&keeper, &mut setup);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.liquidations.len(), 1);
    let liquidation = &report.liquidations[0];
    assert_eq!(liquidation.event.liquidatee, setup.borrower.account);
    let unwind = &report.unwinds[0];
    assert!(unwind.flash_loan);
    assert_eq!(unwind.signature, liquidation.signature, "one transaction");
    eprintln!(
        "flash-loan liquidation + unwind: {} CU (limit {})",
        liquidation.compute_units, liquidation.compute_limit
    );
    assert_eq!(unwind.plan.withdraw, liquidation.event.asset_to_liquidator);
    assert_eq!(unwind.plan.repay, liquidation.event.liab_amount);

    // No debt, nothing left in the account; the profit is in the wallet, in USDC.
    assert_eq!(debt(&setup, &user.account, &usdc), 0);
    let after: MarginAccount = setup.market.sandbox.chain.load(&user.account).unwrap();
    assert_eq!(after.active_positions().count(), 0);
    let wallet = setup.market.sandbox.chain.token_balance(&user.tokens[0]);
    assert_eq!(wallet, unwind.plan.quote.amount_out - unwind.plan.repay);
    // The 5 % liquidation fee, less the pool's 0.3 % and its price impact (about 0.4 %).
    let debt_taken = liquidation.event.liab_amount;
    assert!(wallet > debt_taken * 35 / 1000 && wallet < debt_taken * 5 / 100, "{wallet}");
    assert_eq!(setup.market.sandbox.chain.token_balance(&user.tokens[1]), 0);
    assert_eq!(deposit(&setup, &user.account, &sol), 0);
    // The borrower is no longer liquidatable.
    assert!(!setup.market.sandbox.health_of(&setup.borrower.account).unwrap().0.liquidatable);
}

/// The embedded chain, with the clock moved `lag` seconds forward before each transaction
/// lands (after its simulation): a transaction landing later than it was planned, as on a
/// live cluster.
/// Someone else's action on the chain, just before a transaction lands.
type BeforeLanding = Box<dyn FnMut(&mut cross_margin_client::EmbeddedChain)>;

struct Late<'a> {
    inner: EmbeddedBackend<'a>,
    lag: i64,
    /// Every transaction sent.
    sent: Vec<VersionedTransaction>,
    /// Runs on the chain before each transaction lands (someone else's transaction).
    before: Option<BeforeLanding>,
}

impl Backend for Late<'_> {
    fn name(&self) -> String {
        "late".into()
    }
    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
        self.inner.program_accounts(program, filters)
    }
    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError> {
        self.inner.multiple_accounts(keys)
    }
    fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
        self.inner.unix_timestamp()
    }
    fn latest_blockhash(&mut self) -> Result<Hash, BackendError> {
        self.inner.latest_blockhash()
    }
    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError> {
        self.inner.simulate(tx)
    }
    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError> {
        self.sent.push(tx.clone());
        if let Some(before) = &mut self.before {
            before(self.inner.chain);
        }
        self.inner.chain.warp_seconds(self.lag);
        self.inner.send_and_confirm(tx)
    }
}

#[test]
fn a_flash_loan_liquidation_that_lands_late_still_closes_its_bracket() {
    let mut setup = setup();
    let usdc = setup.market.banks[0];
    // Planned for a minute of lag (the default), landing 20 s after it was planned: the debt
    // has grown by 20 s of interest the keeper could not know the exact amount of.
    let inventory = InventoryConfig { unwind: UnwindMode::FlashLoan, ..InventoryConfig::default() };
    assert_eq!(inventory.landing_lag_secs, 60);
    let (keeper, user) = new_keeper(&mut setup, 0, inventory);
    let owed_before = |setup: &Setup| debt(setup, &setup.borrower.account, &usdc);
    let borrower_debt = owed_before(&setup);
    let report = {
        let inner = EmbeddedBackend::new(&mut setup.market.sandbox.chain);
        let mut backend = Late { inner, lag: 20, sent: Vec::new(), before: None };
        keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round")
    };
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.liquidations.len(), 1);
    let unwind = &report.unwinds[0];
    assert!(unwind.flash_loan);
    assert!(owed_before(&setup) < borrower_debt, "the borrower's debt was taken over");
    // One native unit of the debt is left on purpose, plus the interest of the 20 s; some
    // collateral stays to cover it, and `flash_loan_end` accepted the account.
    let liquidation = &report.liquidations[0].event;
    assert_eq!(unwind.plan.repay, liquidation.liab_amount - 1);
    assert!(unwind.plan.withdraw < liquidation.asset_to_liquidator);
    let left = debt(&setup, &user.account, &usdc);
    assert!((1..100).contains(&left), "{left} native units of debt left");
    eprintln!("landing 20 s late: {left} native units of debt left, covered by collateral");
    let (view, _) = setup.market.sandbox.health_of(&user.account).unwrap();
    assert!(view.init >= 0, "init {}", view.init);
    let wallet = setup.market.sandbox.chain.token_balance(&user.tokens[0]);
    assert_eq!(wallet, unwind.plan.quote.amount_out - unwind.plan.repay);
}

#[test]
fn in_a_flash_loan_the_keeper_takes_only_collateral_it_can_sell() {
    // A borrower with 100 SOL and 0.1 BTC of collateral and $17,500 of USDC debt; SOL falls to
    // $75. Taking the BTC pays more (its collateral improves the account less per dollar, so
    // the step is larger), but the keeper's only pool is SOL/USDC (at $75).
    let mut market = SeededMarket::new(super::chain(), 0, 7).expect("seeded market");
    load_cp_swap(&mut market.sandbox.chain).expect("cp_swap.so");
    let (usdc, sol, btc) = (market.banks[0], market.banks[1], market.banks[2]);
    let amounts = (whole(&SOL, 10_000), whole(&USDC, 750_000));
    let pool = open_pool(&mut market.sandbox.chain, &sol, &usdc, amounts, 30).expect("pool");
    let funds = [0, whole(&SOL, 100), whole(&BTC, 1) / 10];
    let borrower = market.sandbox.user(&funds).expect("borrower");
    market.sandbox.deposit(&borrower, &sol, funds[1]).expect("SOL");
    market.sandbox.deposit(&borrower, &btc, funds[2]).expect("BTC");
    market.sandbox.borrow(&borrower, &usdc, whole(&USDC, 17_500)).expect("borrow");
    market.set_price(1, 750_000);
    let mut setup = Setup { market, pool, borrower };
    let (keeper, user) = new_keeper(&mut setup, 0, unwinding(UnwindMode::FlashLoan));

    // Without the restriction the planner would take the BTC.
    let mut backend = EmbeddedBackend::new(&mut setup.market.sandbox.chain);
    let discovered = keeper.discover(&mut backend).expect("discover");
    let account = |key: &Pubkey| discovered.accounts.iter().find(|(a, _)| a == key).unwrap().1;
    let (liquidatee, liquidator) = (account(&setup.borrower.account), account(&user.account));
    let market = &discovered.market;
    let unrestricted = plan_liquidation_with(
        market,
        &liquidatee,
        &liquidator,
        LiquidatorCheck::Skipped,
        &|_, _| true,
    )
    .expect("a plan");
    assert_eq!(unrestricted.asset_bank, btc.index);

    let report = round(&keeper, &mut setup);
    assert!(!report.liquidations.is_empty());
    assert!(report.liquidations.iter().all(|l| l.event.asset_bank == sol.address));
    // Once its SOL is gone the account may still be under water, with only BTC left that the
    // keeper cannot sell: it says so and sends nothing more (no refusal, no lost race).
    assert!(report.skipped.iter().all(|s| matches!(s, Skipped::NoPlan { .. })));
    assert_eq!(report.unwinds.len(), report.liquidations.len());
    assert_eq!(debt(&setup, &user.account, &usdc), 0);
    assert!(setup.market.sandbox.chain.token_balance(&user.tokens[0]) > 0);

    // A keeper whose venue has no route at all: nothing is sent, and it says why.
    let mut setup = self::setup();
    let (mut keeper, _) = new_keeper(&mut setup, 0, unwinding(UnwindMode::FlashLoan));
    keeper = keeper.with_swap_adapter(Box::new(ConstantProductAdapter::default()));
    let report = round(&keeper, &mut setup);
    assert!(report.liquidations.is_empty());
    assert!(
        matches!(&report.skipped[..], [Skipped::NoPlan { reason, .. }] if reason.contains("swap venue can sell")),
        "{:?}",
        report.skipped
    );
}

/// The pool's adapter, with its accounts in an address lookup table it asks the keeper to use
/// (as a Jupiter route does).
struct ThroughTable {
    inner: ConstantProductAdapter,
    table: Pubkey,
}

impl SwapAdapter for ThroughTable {
    fn name(&self) -> String {
        "cp_swap through a lookup table".into()
    }
    fn has_route(&self, in_mint: &Pubkey, out_mint: &Pubkey) -> bool {
        self.inner.has_route(in_mint, out_mint)
    }
    fn quote(
        &self,
        backend: &mut dyn Backend,
        in_mint: &Pubkey,
        out_mint: &Pubkey,
        amount_in: u64,
    ) -> Result<SwapQuote, SwapError> {
        self.inner.quote(backend, in_mint, out_mint, amount_in)
    }
    fn swap_instructions(
        &self,
        quote: &SwapQuote,
        accounts: &SwapAccounts,
        min_out: u64,
    ) -> Result<SwapInstructions, SwapError> {
        let mut instructions = self.inner.swap_instructions(quote, accounts, min_out)?;
        instructions.lookup_tables.push(self.table);
        Ok(instructions)
    }
}

#[test]
fn a_swap_route_with_lookup_tables_goes_into_a_v0_transaction() {
    let mut setup = setup();
    let state = setup.pool.state;
    let authority = cp_swap::authority(&setup.pool.address).0;
    let addresses = [setup.pool.address, authority, state.vault_a, state.vault_b];
    let table = setup.market.sandbox.chain.create_lookup_table(&addresses);
    let (keeper, user) = new_keeper(&mut setup, 0, unwinding(UnwindMode::FlashLoan));
    let inner = {
        let mut backend = EmbeddedBackend::new(&mut setup.market.sandbox.chain);
        ConstantProductAdapter::load(&mut backend, &[setup.pool.address], RetryPolicy::default())
            .unwrap()
    };
    let keeper = keeper.with_swap_adapter(Box::new(ThroughTable { inner, table: table.key }));
    let (report, sent) = {
        let inner = EmbeddedBackend::new(&mut setup.market.sandbox.chain);
        let mut backend = Late { inner, lag: 0, sent: Vec::new(), before: None };
        let report = keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round");
        (report, backend.sent)
    };
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!((report.liquidations.len(), report.unwinds.len()), (1, 1));
    let [tx] = &sent[..] else { panic!("{} transactions sent", sent.len()) };
    let VersionedMessage::V0(message) = &tx.message else { panic!("a legacy transaction") };
    assert_eq!(message.address_table_lookups.len(), 1);
    assert_eq!(message.address_table_lookups[0].account_key, table.key);
    assert!(!message.address_table_lookups[0].writable_indexes.is_empty(), "the vaults");
    let unwind = &report.unwinds[0];
    let wallet = setup.market.sandbox.chain.token_balance(&user.tokens[0]);
    assert_eq!(wallet, unwind.plan.quote.amount_out - unwind.plan.repay);
    assert!(wallet > 0);
}

#[test]
fn a_swap_front_run_past_the_slippage_is_a_lost_race() {
    let mut setup = setup();
    let (keeper, user) = new_keeper(&mut setup, 0, unwinding(UnwindMode::FlashLoan));
    // Between the keeper's simulation and its landing, 200 SOL (2 % of the pool) arrive in the
    // pool's SOL vault (as if sold into it; written directly, so that the keeper's blockhash
    // stays valid): the keeper's swap now pays less than its 0.5 % tolerance.
    let vault_sol = setup.pool.state.vault_a;
    let front_run = move |chain: &mut cross_margin_client::EmbeddedChain| {
        chain.mint_to(&vault_sol, whole(&SOL, 200));
    };
    let before_keeper = setup.market.sandbox.margin_account(&setup.borrower);
    let report = {
        let inner = EmbeddedBackend::new(&mut setup.market.sandbox.chain);
        let before: Option<BeforeLanding> = Some(Box::new(front_run));
        let mut backend = Late { inner, lag: 0, sent: Vec::new(), before };
        keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round")
    };
    assert!(report.liquidations.is_empty() && report.unwinds.is_empty());
    assert!(
        matches!(&report.skipped[..], [Skipped::LostRace { error, .. }] if error == "cp_swap SlippageExceeded"),
        "{:?}",
        report.skipped
    );
    // Nothing of the bracket happened: the borrower and the keeper are as they were.
    let after = setup.market.sandbox.margin_account(&setup.borrower);
    assert_eq!(bytemuck::bytes_of(&after), bytemuck::bytes_of(&before_keeper));
    let keeper_account: MarginAccount = setup.market.sandbox.chain.load(&user.account).unwrap();
    assert_eq!(keeper_account.active_positions().count(), 0);
    assert_eq!(setup.market.sandbox.chain.token_balance(&user.tokens[0]), 0);
}
