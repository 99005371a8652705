//! Runs every instruction on the real SBF build and prints the CU table (`scripts/test.sh`
//! shows it; docs/CU.md records it), including how health grows with the number of positions.
//! Each row is checked against its budget in `cross_margin_tests::budget`.

use cross_margin::state::GroupConfigOptions;
use cross_margin::state::{Group, OracleKind};
use cross_margin_client::ix;
use cross_margin_tests::flash_loans::*;
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

struct Table(Vec<(String, u64, u64, String)>);

impl Table {
    fn row(
        &mut self,
        name: impl Into<String>,
        executed: &Executed,
        budget: u64,
        note: impl Into<String>,
    ) {
        self.0.push((name.into(), executed.compute_units, budget, note.into()));
    }

    /// A row for one instruction of a transaction (`cu_per_instruction`).
    fn row_units(&mut self, name: &str, units: u64, budget: u64, note: &str) {
        self.0.push((name.into(), units, budget, note.into()));
    }
}

#[test]
fn cu_table() {
    let mut table = Table(Vec::new());

    // create_group on a bare chain (its cost depends on the PDA bump search).
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    let (ix, group) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 0, receiver, legacy);
    let executed = chain.send(&[ix], &[&admin]).expect_ok("create_group");
    let bump = chain.load::<Group>(&group).unwrap().bump;
    let budget = budget::with_bump_search(budget::CREATE_GROUP, bump);
    table.row(
        "create_group",
        &executed,
        budget,
        format!("bump {bump}: {} extra PDA attempts", 255 - bump),
    );

    let mut m = Market::new();
    let ix = ix::configure_group(
        m.group,
        m.admin.pubkey(),
        GroupConfigOptions { paused: Some(false), reduce_only: Some(false), ..Default::default() },
    );
    let executed = m.send_as_admin(&[ix]).expect_ok("configure_group");
    table.row("configure_group", &executed, budget::CONFIGURE_GROUP, "");

    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let (ix, bank, oracle) = m.add_usd_bank_ix(mint, anchor_spl::token::ID);
    let config = bank_config(OracleKind::PythPull, 3, [9_000, 9_500, 10_500, 11_000]);
    let executed = m.send_as_admin(&[ix]).expect_ok("add_bank");
    let stored = m.chain.load::<cross_margin::state::Bank>(&bank).unwrap();
    let budget = budget::with_bump_search(
        budget::with_bump_search(budget::ADD_BANK, stored.bump),
        stored.vault_bump,
    );
    let note = format!(
        "bank + vault PDAs (bumps {}, {}), pull oracle check",
        stored.bump, stored.vault_bump
    );
    table.row("add_bank", &executed, budget, note);
    let ix = ix::configure_bank(m.group, m.admin.pubkey(), bank, oracle, config);
    let executed = m.send_as_admin(&[ix]).expect_ok("configure_bank");
    table.row("configure_bank", &executed, budget::CONFIGURE_BANK, "");

    let owner = m.chain.funded_keypair(1_000_000_000).unwrap();
    let (ix, account) = ix::create_account(m.group, owner.pubkey(), owner.pubkey(), 0);
    let executed = m.chain.send(&[ix], &[&owner]).expect_ok("create_account");
    let bump = m.chain.load::<cross_margin::state::MarginAccount>(&account).unwrap().bump;
    let budget = budget::with_bump_search(budget::CREATE_ACCOUNT, bump);
    table.row("create_account", &executed, budget, format!("bump {bump}"));

    let lender = m.user([1_000_000_000_000, 0, 0]);
    let user = m.user([0, 100_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&lender, &usdc, 1_000_000_000_000).expect_ok("deposit");
    let executed = m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit");
    table.row("deposit", &executed, budget::DEPOSIT, "SPL Token transfer_checked");
    let executed = m.borrow(&user, &usdc, 100_000_000).expect_ok("borrow");
    table.row("borrow", &executed, budget::BORROW_2, "2 positions after");
    let (_, executed) = m.health(&user);
    table.row("health", &executed, budget::HEALTH_2, "2 positions");
    let shocks = [cross_margin::health::PriceShock { index: sol.index, bps: -3_000 }];
    let executed = m.health_under_shock(&user.account, &shocks, &[]).expect_ok("shock");
    table.row(
        "health_under_shock",
        &executed,
        budget::HEALTH_UNDER_SHOCK_2,
        "2 positions, 1 bank shocked",
    );
    let executed = m.withdraw(&user, &sol, 1_000_000_000).expect_ok("withdraw");
    table.row(
        "withdraw",
        &executed,
        budget::WITHDRAW_2,
        "with a borrow: health checked, 2 positions",
    );
    let executed = m.repay(&user, &usdc, 100_000_000).expect_ok("repay");
    table.row("repay", &executed, budget::REPAY, "");
    let executed = m.withdraw(&user, &sol, 9_000_000_000).expect_ok("withdraw");
    table.row("withdraw", &executed, budget::WITHDRAW_NO_BORROWS, "no borrows: no health check");
    let ix = ix::close_account(user.account, user.keypair.pubkey());
    let executed = m.chain.send(&[ix], &[&user.keypair]).expect_ok("close_account");
    table.row("close_account", &executed, budget::CLOSE_ACCOUNT, "");

    liquidation_rows(&mut table);
    flash_loan_rows(&mut table);
    admin_safety_rows(&mut table);
    let perp_scale = perp_rows(&mut table);
    perp_liquidation_rows(&mut table);

    // Health and borrow as the number of positions grows.
    let (scale, gate_scale) = health_scaling(&mut table);

    println!("CU table (upstream SBF route, LiteSVM 0.18)");
    println!("| instruction | CU | budget | note |");
    println!("|---|---:|---:|---|");
    for (name, cu, budget, note) in &table.0 {
        println!("| {name} | {cu} | {budget} | {note} |");
    }
    println!(
        "| health view, per extra position | {scale} | {} | (health(16) − health(1)) / 15, incl. per-position return data |",
        budget::HEALTH_PER_POSITION
    );
    println!(
        "| health check in borrow, per extra position | {gate_scale} | {} | (borrow(16) − borrow(2)) / 14; each doubling also asserted |",
        budget::HEALTH_CHECK_PER_POSITION
    );
    println!(
        "| place_perp_order, per extra perp position | {perp_scale} | {} | (order with 8 perps − order with 1) / 7 |",
        budget::HEALTH_PER_PERP
    );
    for (name, cu, budget, _) in &table.0 {
        assert!(cu <= budget, "{name} used {cu} CU, budget {budget}");
    }
    assert!(
        perp_scale <= budget::HEALTH_PER_PERP,
        "perp health costs {perp_scale} CU per position"
    );
    assert!(scale <= budget::HEALTH_PER_POSITION, "health view costs {scale} CU per position");
    assert!(
        gate_scale <= budget::HEALTH_CHECK_PER_POSITION,
        "the borrow health check costs {gate_scale} CU per position"
    );
}

/// How CU grows with the number of positions: an account with n deposits (n = 1, 2, 4, 8, 16)
/// and its `health` view, and a borrow that brings it to k positions (k = 2, 4, 8, 16: k − 1
/// deposits and the new borrow, simulated so the account keeps growing). Returns the marginal
/// CU of one more position in the view and in the borrow's health check.
fn health_scaling(table: &mut Table) -> (u64, u64) {
    let mut m = Market::new();
    let group = m.group;
    let mut banks = vec![m.usdc, m.sol, m.btc];
    while banks.len() < 17 {
        banks.push(m.add_bank(6, OracleKind::PythPull, [9_000, 9_500, 10_500, 11_000], (1, 0)));
    }
    let lender = m.user([0, 0, 0]);
    let last = banks[16];
    let lender_token =
        m.chain.create_token_account(&last.mint, &lender.keypair.pubkey(), 1_000_000_000);
    let mut lend = m.transfer(&lender, &last);
    lend.user_token = lender_token;
    m.chain.send(&[ix::deposit(&lend, 1_000_000_000)], &[&lender.keypair]).expect_ok("lend");

    let user = m.user([0, 0, 0]);
    let mut borrow_to = m.transfer(&user, &last);
    borrow_to.user_token = m.chain.create_token_account(&last.mint, &user.keypair.pubkey(), 0);
    let (mut view, mut gate) = (Vec::new(), Vec::new());
    for (i, bank) in banks[..16].iter().enumerate() {
        // With i deposits, a borrow opens position i + 1.
        let k = i + 1;
        if k >= 2 && k.is_power_of_two() {
            let after = ix::account_after(
                &m.margin_account(&user),
                &m.bank(&last),
                ix::Movement::Borrow,
                1_000_000,
                m.now(),
            );
            let metas = ix::health_accounts(&after, |idx| banks[idx as usize]);
            let borrow = ix::borrow(&borrow_to, 1_000_000, metas);
            let tx = m.chain.versioned_tx(&[borrow], &[&user.keypair], &[]).expect("tx");
            let simulated = m.chain.simulate_versioned(tx).expect_ok("borrow");
            let note = format!("{} deposits + the new borrow", k - 1);
            table.row(format!("borrow, {k} positions"), &simulated, budget::borrow(k as u64), note);
            gate.push(simulated.compute_units);
        }
        let token = m.chain.create_token_account(&bank.mint, &user.keypair.pubkey(), 1_000_000_000);
        let mut transfer = m.transfer(&user, bank);
        transfer.user_token = token;
        m.chain
            .send(&[ix::deposit(&transfer, 1_000_000_000)], &[&user.keypair])
            .expect_ok("deposit");
        let n = i + 1;
        if n.is_power_of_two() {
            let metas = ix::health_accounts(&m.margin_account(&user), |idx| banks[idx as usize]);
            let executed =
                m.chain.send(&[ix::health(group, user.account, metas)], &[]).expect_ok("health");
            table.row(format!("health, {n} positions"), &executed, budget::health(n as u64), "");
            view.push(executed.compute_units);
        }
    }
    // Every doubling of the borrow's positions costs at most the per-position budget each.
    for (w, k) in gate.windows(2).zip([2u64, 4, 8]) {
        let per_position = (w[1] - w[0]) / k;
        assert!(
            per_position <= budget::HEALTH_CHECK_PER_POSITION,
            "borrow health check from {k} to {} positions: {per_position} CU per position",
            2 * k
        );
    }
    ((view[4] - view[0]) / 15, (gate[3] - gate[0]) / 14)
}

/// Liquidation at both sizes, the write-off of a bankrupt account, and an insurance top-up.
fn liquidation_rows(table: &mut Table) {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, 100_000_000).expect_ok("liquidate");
    table.row(
        "liquidate, 2 / 3 positions",
        &executed,
        budget::LIQUIDATE_SMALL,
        "1 asset + 1 liability; liquidator 1 position before, 3 after",
    );

    let (mut m, liquidatee, liquidator) = full_accounts();
    let (usdc, sol, stable) = (m.usdc, m.sol, m.banks()[12]);
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let tables = [market_lookup_table(&mut m)];
    let signer = liquidator.keypair.insecure_clone();
    let ix = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 100_000_000);
    let executed = m.chain.send_v0(&[ix], &[&signer], &tables).expect_ok("liquidate 16");
    table.row(
        "liquidate, 16 / 4 positions",
        &executed,
        budget::LIQUIDATE_16_4,
        "liquidatee 16 positions, liquidator 4 after; v0 tx with a lookup table",
    );
    let ix = m.liquidate_ix(&liquidator, &liquidatee, &stable, &sol, u64::MAX);
    let executed = m.chain.send_v0(&[ix], &[&signer], &tables).expect_ok("liquidate 16 again");
    table.row(
        "liquidate, 16 / 5 positions",
        &executed,
        budget::LIQUIDATE_16_4 + budget::HEALTH_CHECK_PER_POSITION,
        "a second pair: the liquidator opens a 5th position",
    );

    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let usdc = m.usdc;
    let executed = m.fund_insurance(&usdc, 1_000_000_000).expect_ok("fund_insurance");
    table.row("fund_insurance", &executed, budget::FUND_INSURANCE, "SPL Token transfer_checked");
    let executed = m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("resolve_bankruptcy");
    table.row(
        "resolve_bankruptcy",
        &executed,
        budget::RESOLVE_BANKRUPTCY,
        "1 borrow left, no deposits",
    );
}

/// Flash loans: the bracket alone, the end with positions to price, and the zero-capital
/// liquidation transaction.
fn flash_loan_rows(table: &mut Table) {
    let (mut m, user) = market_with_borrower();
    let usdc = m.usdc;
    let after = m.health_after(&user, &usdc, ix::Movement::Borrow, 10_000_000);
    let instructions = [
        flash_loan_begin_ix(&user),
        ix::borrow(&m.transfer(&user, &usdc), 10_000_000, Vec::new()),
        flash_loan_end_ix(&m, &user, after),
    ];
    let executed = m.chain.send(&instructions, &[&user.keypair]).expect_ok("bracketed borrow");
    let cu = cu_per_instruction(&executed);
    table.row_units(
        "flash_loan_begin",
        cu[0],
        budget::FLASH_LOAN_BEGIN,
        "its end 2 instructions later (each instruction between is read)",
    );
    table.row_units(
        "borrow inside a flash loan",
        cu[1],
        budget::BORROW_2 - budget::HEALTH_CHECK,
        "no health check, no health accounts",
    );
    table.row_units(
        "flash_loan_end, 2 positions",
        cu[2],
        budget::FLASH_LOAN_END_EMPTY + 2 * budget::HEALTH_CHECK_PER_POSITION,
        "init health over every position",
    );

    let (mut m, liquidatee, liquidator, maker) = zero_capital_setup();
    let instructions = liquidate_sell_repay(&m, &liquidator, &liquidatee, &maker);
    let signers = [&liquidator.keypair, &maker.keypair];
    let executed = m.chain.send(&instructions, &signers).expect_ok("flash-loan liquidation");
    let cu = cu_per_instruction(&executed);
    table.row_units(
        "liquidate inside a flash loan, 2 / 2",
        cu[1],
        budget::LIQUIDATE_SMALL,
        "no liquidator health check or accounts",
    );
    table.row_units(
        "flash_loan_end, nothing left",
        cu[6],
        budget::FLASH_LOAN_END_EMPTY,
        "after a zero-capital liquidation was sold and repaid: no prices read",
    );
    table.row(
        "zero-capital liquidation transaction",
        &executed,
        budget::FLASH_LOAN_BEGIN
            + budget::LIQUIDATE_SMALL
            + budget::WITHDRAW_NO_BORROWS
            + budget::REPAY
            + budget::FLASH_LOAN_END_EMPTY
            + 2 * budget::TOKEN_TRANSFER,
        "begin, liquidate, withdraw, 2 SPL transfers (the swap), repay, end",
    );
}

/// The admin-safety instructions: the queue, rotation, halt, and the health preview.
fn admin_safety_rows(table: &mut Table) {
    let mut m = Market::new();
    m.with_liquidity();
    let (group, admin, sol, usdc) = (m.group, m.admin.pubkey(), m.sol, m.usdc);
    let day = cross_margin::constants::MIN_CONFIG_DELAY_SECS;
    let live = GroupConfigOptions { config_delay_secs: Some(day), ..Default::default() };
    let executed = m.send_as_admin(&[ix::configure_group(group, admin, live)]).expect_ok("live");
    table.row("configure_group", &executed, budget::CONFIGURE_GROUP, "go live (a delay)");

    let config = m.bank(&sol).config;
    let lower = cross_margin::state::BankConfig { maint_asset_weight_bps: 8_500, ..config };
    let queue = ix::queue_bank_config(group, admin, sol.address, sol.oracle, lower);
    let executed = m.send_as_admin(std::slice::from_ref(&queue)).expect_ok("queue");
    table.row("queue_bank_config", &executed, budget::QUEUE_BANK_CONFIG, "pull oracle check");
    let cancel = ix::cancel_bank_config(group, admin, sol.address);
    let executed = m.send_as_admin(&[cancel]).expect_ok("cancel");
    table.row("cancel_bank_config", &executed, budget::CANCEL_CONFIG, "");
    m.send_as_admin(&[queue]).expect_ok("queue again");

    let user = m.user([0, 10_000_000_000, 0]);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit");
    m.borrow(&user, &usdc, 100_000_000).expect_ok("borrow");
    let account = m.margin_account(&user);
    let pairs = ix::health_accounts(&account, |i| {
        let bank = m.bank_by_index(i);
        ix::BankRef::after_pending_change(bank.address, &m.bank(&bank))
    });
    let view = ix::health_after_pending_changes(group, user.account, pairs);
    let executed = m.chain.send(&[view], &[]).expect_ok("preview");
    table.row(
        "health_after_pending_changes",
        &executed,
        budget::HEALTH_AFTER_PENDING_2,
        "2 positions, 1 bank with a queued change",
    );

    m.chain.warp_seconds(day as i64);
    m.refresh_prices();
    let executed = m
        .chain
        .send(&[ix::apply_bank_config(group, sol.address, sol.oracle)], &[])
        .expect_ok("apply");
    table.row("apply_bank_config", &executed, budget::APPLY_BANK_CONFIG, "pull oracle check");

    let buffer = GroupConfigOptions { liquidation_end_buffer_bps: Some(600), ..Default::default() };
    let queue = ix::queue_group_config(group, admin, buffer);
    let executed = m.send_as_admin(std::slice::from_ref(&queue)).expect_ok("queue group");
    table.row("queue_group_config", &executed, budget::GROUP_QUEUE, "");
    let executed =
        m.send_as_admin(&[ix::cancel_group_config(group, admin)]).expect_ok("cancel group");
    table.row("cancel_group_config", &executed, budget::CANCEL_CONFIG, "");
    m.send_as_admin(&[queue]).expect_ok("queue group again");
    m.chain.warp_seconds(day as i64);
    let executed = m.chain.send(&[ix::apply_group_config(group)], &[]).expect_ok("apply group");
    table.row("apply_group_config", &executed, budget::GROUP_QUEUE, "");

    let new_admin = m.chain.new_keypair();
    let propose = ix::propose_admin(group, admin, new_admin.pubkey());
    let executed = m.send_as_admin(&[propose]).expect_ok("propose");
    table.row("propose_admin", &executed, budget::ADMIN_TRANSFER, "");
    let accept = ix::accept_admin(group, new_admin.pubkey());
    let executed = m.chain.send(&[accept], &[&new_admin]).expect_ok("accept");
    table.row("accept_admin", &executed, budget::ADMIN_TRANSFER, "");
    let executed = m
        .chain
        .send(&[ix::halt(group, new_admin.pubkey(), true, true)], &[&new_admin])
        .expect_ok("halt");
    table.row("halt", &executed, budget::HALT, "pause and reduce-only");
}

/// Perp markets (issue 16): adding and configuring one, the pool, orders as the number of perp
/// positions grows (1 to 8 markets, the account also holding its USDC deposit), settlement and
/// the health view. Returns the order's marginal CU per perp position.
fn perp_rows(table: &mut Table) -> u64 {
    use cross_margin::state::{PerpMarket, PerpMarketConfig};
    use cross_margin_client::perp_ix;
    use cross_margin_testkit::perp::perp_feed_id;
    use cross_margin_tests::perps::*;
    let (mut m, perp, lp) = perp_market();
    let (group, admin, usdc) = (m.group, m.admin.pubkey(), m.usdc);
    let config = m.perp_state(&perp).config;
    let ix = perp_ix::configure_perp_market(group, admin, perp.address, perp.oracle, config);
    let executed = m.send_as_admin(&[ix]).expect_ok("configure perp");
    table.row(
        "configure_perp_market",
        &executed,
        budget::CONFIGURE_PERP_MARKET,
        "pull oracle check",
    );

    // add_perp_market of market 1, measured alone.
    let oracle = m.chain.new_pubkey();
    let quote = quote_dollars(100, 0, m.now());
    let ema = cross_margin_client::pyth::Ema::at(&quote);
    m.write_oracle_with_feed(OracleKind::PythPull, oracle, perp_feed_id(1), quote, ema, true);
    let config = PerpMarketConfig { oracle_feed_id: perp_feed_id(1), ..perp_config() };
    let (ix, address) =
        perp_ix::add_perp_market(group, admin, admin, usdc.address, oracle, 1, config);
    let executed = m.send_as_admin(&[ix]).expect_ok("add perp market");
    let bump = PerpMarket::address(&group, 1).1;
    let budget = budget::with_bump_search(budget::ADD_PERP_MARKET, bump);
    table.row("add_perp_market", &executed, budget, format!("bump {bump}, pull oracle check"));
    m.sandbox.perps.push(PerpMarketRef { address, index: 1, oracle, settle_bank: usdc });
    while m.sandbox.perps.len() < 8 {
        let quote = quote_dollars(100, 0, m.now());
        m.sandbox
            .add_perp_market(&usdc, OracleKind::PythPull, perp_config(), quote)
            .unwrap_or_else(|f| panic!("add perp: {:?}", f.error));
    }
    let markets = m.sandbox.perps.clone();
    for market in &markets[1..] {
        let pool = m.user([1_000_000_000_000, 0, 0]);
        m.deposit(&pool, &usdc, 1_000_000_000_000).expect_ok("LP deposit");
        m.pool_deposit(&pool, market, 1_000_000_000_000).expect_ok("LP");
    }
    let lp2 = trader(&mut m, 1_000_000);
    let executed = m.pool_deposit(&lp2, &perp, 1_000_000).expect_ok("pool_deposit");
    table.row(
        "pool_deposit",
        &executed,
        budget::POOL_DEPOSIT,
        "empties the USDC deposit; no risk left: no health check",
    );

    let alice = trader(&mut m, 100_000_000_000);
    let orders: Vec<Executed> = markets
        .iter()
        .map(|market| m.place_perp_order(&alice, market, order(100)).expect_ok("order"))
        .collect();
    let note = "opens the position; init health with the USDC deposit";
    table.row("place_perp_order, 1 token + 1 perp", &orders[0], budget::PLACE_PERP_ORDER_1_1, note);
    let budget_8 = budget::PLACE_PERP_ORDER_1_1 + 7 * budget::HEALTH_PER_PERP;
    table.row("place_perp_order, 1 token + 8 perps", &orders[7], budget_8, "opens the 8th");
    let (view, executed) = m.health(&alice);
    assert_eq!(view.perp_positions.len(), 8);
    let budget_view = budget::health(1) + 8 * budget::HEALTH_VIEW_PER_PERP;
    table.row("health, 1 token + 8 perps", &executed, budget_view, "");

    m.set_perp_dollars(&perp, 110);
    let executed = m.settle_pnl(&alice.account, &perp).expect_ok("settle");
    table.row(
        "settle_pnl",
        &executed,
        budget::SETTLE_PNL,
        "a gain paid by the pool; 18 health accounts passed",
    );
    let executed = m.pool_withdraw(&lp, &perp, 1_000_000).expect_ok("pool_withdraw");
    table.row("pool_withdraw", &executed, budget::POOL_WITHDRAW, "");
    (orders[7].compute_units - orders[0].compute_units) / 7
}

/// `liquidate_perp` and `resolve_perp_bankruptcy` on a liquidatee with 1 token (USDC) and 1 perp
/// position, and `fund_perp_insurance`.
fn perp_liquidation_rows(table: &mut Table) {
    use cross_margin_tests::perps::*;
    let (mut m, perp, _lp) = perp_market();
    let executed = m.sandbox.fund_perp_insurance(&perp, 1_000_000).expect_ok("fund");
    table.row(
        "fund_perp_insurance",
        &executed,
        budget::FUND_PERP_INSURANCE,
        "SPL Token transfer_checked",
    );
    let alice = trader(&mut m, 100_000_000);
    m.place_perp_order(&alice, &perp, order(500)).expect_ok("long");
    let keeper = trader(&mut m, 0);
    // At $84 the closed-form amount is partial (239 of 500 lots, tests/tests/perp_liquidation.rs):
    // every kink of the piecewise solve is evaluated.
    m.set_perp_dollars(&perp, 84);
    let executed = m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX).expect_ok("partial");
    let note = "partial, to the end target; opens the keeper's USDC deposit";
    table.row("liquidate_perp, 1 token + 1 perp", &executed, budget::LIQUIDATE_PERP_1_1, note);
    m.set_perp_dollars(&perp, 70);
    m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX).expect_ok("close the rest");
    let executed = m.sandbox.resolve_perp_bankruptcy(&alice.account, &perp).expect_ok("write off");
    table.row(
        "resolve_perp_bankruptcy, 1 token + 1 perp",
        &executed,
        budget::RESOLVE_PERP_BANKRUPTCY_1_1,
        "collateral, insurance and LPs pay",
    );
}
