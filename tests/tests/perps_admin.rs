//! Perp markets (issue 16): adding and configuring them under the admin-safety rules, the
//! liquidity pool's deposits and withdrawals, and bad input on every perp instruction, each
//! refused with a named error and no state change.

use anchor_lang::prelude::AccountMeta;
use cross_margin::perp::{PerpOrder, PerpSide};
use cross_margin::state::{GroupConfigOptions, OracleKind, PerpMarketConfig};
use cross_margin_client::perp_ix::{self, PerpTrade};
use cross_margin_tests::market::{quote_dollars, send, Market, User};
use cross_margin_tests::perps::*;
use cross_margin_tests::*;

const DAY: u32 = 86_400;

fn configure(m: &mut Market, perp: &PerpMarketRef, config: PerpMarketConfig) -> TxResult {
    let ix = perp_ix::configure_perp_market(
        m.group,
        m.admin.pubkey(),
        perp.address,
        perp.oracle,
        config,
    );
    m.send_as_admin(&[ix])
}

/// `add_perp_market` of the group's next index over a fresh $100 pull oracle.
fn add_ix(
    m: &mut Market,
    settle: Pubkey,
    index: u16,
    config: PerpMarketConfig,
) -> (Instruction, Pubkey) {
    let oracle = m.chain.new_pubkey();
    let feed = cross_margin_testkit::perp::perp_feed_id(index);
    let quote = quote_dollars(100, 0, m.now());
    let ema = cross_margin_client::pyth::Ema::at(&quote);
    m.write_oracle_with_feed(OracleKind::PythPull, oracle, feed, quote, ema, true);
    let config = PerpMarketConfig { oracle_feed_id: feed, ..config };
    let admin = m.admin.pubkey();
    let (ix, market) =
        perp_ix::add_perp_market(m.group, admin, admin, settle, oracle, index, config);
    (ix, market)
}

#[test]
fn adding_a_perp_market_checks_its_index_settle_bank_and_configuration() {
    let (mut m, perp, lp) = perp_market();
    assert_eq!(m.group_state().perp_market_count, 1);
    let market = m.perp_state(&perp);
    assert_eq!((market.market_index, market.settle_bank, market.version), (0, m.usdc.address, 1));
    let (usdc, sol) = (m.usdc.address, m.sol.address);
    let cases: [(MarginError, Pubkey, u16, PerpMarketConfig); 8] = [
        (MarginError::PerpMarketIndexMismatch, usdc, 5, perp_config()), // not the next index
        (MarginError::InvalidSettleBank, sol, 1, perp_config()),        // 9 decimals
        (
            MarginError::InvalidRiskWeights,
            usdc,
            1,
            PerpMarketConfig { maint_base_weight_bps: 10_000, ..perp_config() },
        ),
        (
            MarginError::InvalidRiskWeights,
            usdc,
            1,
            PerpMarketConfig { maint_pnl_weight_bps: 10_001, ..perp_config() },
        ),
        (
            MarginError::LiquidationFeeTooHigh,
            usdc,
            1,
            PerpMarketConfig { liquidation_fee_bps: 400, ..perp_config() },
        ),
        (
            MarginError::InvalidPerpLotSize,
            usdc,
            1,
            PerpMarketConfig { base_lot_size: 0, ..perp_config() },
        ),
        (
            MarginError::InvalidPoolCover,
            usdc,
            1,
            PerpMarketConfig { pool_cover_bps: 0, ..perp_config() },
        ),
        (
            MarginError::InvalidPoolCover,
            usdc,
            1,
            PerpMarketConfig { pool_cover_bps: 10_001, ..perp_config() },
        ),
    ];
    for (error, settle, index, config) in cases {
        let (ix, address) = add_ix(&mut m, settle, index, config);
        m.assert_rejected(&lp, error, |m| m.send_as_admin(&[ix]));
        if index != 0 {
            assert!(m.chain.account(&address).is_none());
        }
    }
    // A stranger cannot add one.
    let (ix, _) = add_ix(&mut m, usdc, 1, perp_config());
    let stranger = m.user([0, 0, 0]);
    let ix = with_signer(ix, m.admin.pubkey(), stranger.keypair.pubkey());
    m.assert_rejected(&lp, MarginError::NotGroupAdmin, |m| send(m, ix, &stranger));
}

/// `ix` with `from`'s accounts (admin and payer) replaced by `to`.
fn with_signer(mut ix: Instruction, from: Pubkey, to: Pubkey) -> Instruction {
    ix.accounts.iter_mut().filter(|a| a.pubkey == from).for_each(|a| a.pubkey = to);
    ix
}

#[test]
fn in_a_live_group_a_new_market_opens_and_a_loosening_applies_only_after_the_delay() {
    let (mut m, perp, _lp) = perp_market();
    let options = GroupConfigOptions { config_delay_secs: Some(DAY), ..Default::default() };
    let ix = cross_margin_client::ix::configure_group(m.group, m.admin.pubkey(), options);
    m.send_as_admin(&[ix]).expect_ok("go live");
    let alice = trader(&mut m, 1_000_000_000);

    // A new market is created closed (caps 0) with its configuration queued.
    let usdc = m.usdc.address;
    let (ix, address) = add_ix(&mut m, usdc, 1, perp_config());
    m.send_as_admin(&[ix]).expect_ok("add in a live group");
    let fresh = m.chain.load::<cross_margin::state::PerpMarket>(&address).unwrap();
    assert_eq!((fresh.config.max_long_lots, fresh.config.max_short_lots), (0, 0));
    assert!(fresh.pending.is_queued());

    // On the existing market: more leverage must be queued; less applies at once.
    let looser = PerpMarketConfig { init_base_weight_bps: 9_400, ..m.perp_state(&perp).config };
    m.assert_rejected(&alice, MarginError::ConfigChangeMustBeQueued, |m| {
        configure(m, &perp, looser)
    });
    let tighter = PerpMarketConfig {
        init_base_weight_bps: 8_000,
        max_long_lots: 10,
        ..m.perp_state(&perp).config
    };
    configure(&mut m, &perp, tighter).expect_ok("tightening at once");
    m.assert_rejected(&alice, MarginError::PerpOpenInterestCap, |m| {
        m.place_perp_order(&alice, &perp, order(11))
    });
    let admin = m.admin.pubkey();
    let queue =
        perp_ix::queue_perp_market_config(m.group, admin, perp.address, perp.oracle, looser);
    m.send_as_admin(std::slice::from_ref(&queue)).expect_ok("queue");
    m.assert_rejected(&alice, MarginError::ConfigChangeAlreadyQueued, |m| {
        m.send_as_admin(&[queue])
    });
    let apply = perp_ix::apply_perp_market_config(m.group, perp.address, perp.oracle);
    m.assert_rejected(&alice, MarginError::ConfigChangeNotReady, |m| {
        m.chain.send(std::slice::from_ref(&apply), &[])
    });
    m.chain.warp_seconds(DAY as i64);
    m.refresh_prices();
    m.chain.send(std::slice::from_ref(&apply), &[]).expect_ok("apply once due");
    assert_eq!(m.perp_state(&perp).config, looser);
    // Cancelling: the admin withdraws a queued change; nothing left to cancel afterwards.
    let queue =
        perp_ix::queue_perp_market_config(m.group, admin, perp.address, perp.oracle, tighter);
    m.send_as_admin(&[queue]).expect_ok("queue again");
    let cancel = perp_ix::cancel_perp_market_config(m.group, admin, perp.address);
    m.send_as_admin(std::slice::from_ref(&cancel)).expect_ok("cancel");
    m.assert_rejected(&alice, MarginError::NoConfigChangeQueued, |m| m.send_as_admin(&[cancel]));
}

#[test]
fn lps_deposit_and_withdraw_within_the_pools_cover_of_open_interest() {
    let (mut m, perp, lp) = perp_market();
    let market = m.perp_state(&perp);
    // The first LP's shares are its deposit, 1:1.
    assert_eq!((market.lp_shares, m.perp_slot(&lp, &perp).lp_shares), (POOL_USD, POOL_USD));
    assert_eq!(m.pool_native(&perp), POOL_USD);
    assert_eq!(m.usdc_balance(&lp), 0);

    // Traders open 10,000 lots long ($10,000) and lose $1,000 at $90 (plus fees).
    let alice = trader(&mut m, 5_000_000_000);
    m.place_perp_order(&alice, &perp, order(10_000)).expect_ok("long");
    m.set_perp_dollars(&perp, 90);
    // The pool is worth its deposit + the traders' loss: 100,000 + 1,000 + fees of 110 bps of
    // $10,000 = $101,110. The cover: 20% of the larger side's notional at $90 = $1,800 must
    // stay, so all of it may not leave.
    m.assert_rejected(&lp, MarginError::PoolCoverTooLow, |m| m.pool_withdraw(&lp, &perp, POOL_USD));
    m.assert_rejected(&lp, MarginError::InsufficientPoolShares, |m| {
        m.pool_withdraw(&lp, &perp, POOL_USD + 1)
    });
    // Half the shares are worth half of $101,110: the traders' loss accrued to the LP.
    let before = m.usdc_balance(&lp);
    m.pool_withdraw(&lp, &perp, POOL_USD / 2).expect_ok("half");
    assert_eq!(m.usdc_balance(&lp) - before, 50_555_000_000);
    // A new LP's $10,110 buys floor(10,110 × 50,000 / 50,555) shares of the $50,555 pool.
    let bob = trader(&mut m, 10_110_000_000);
    m.pool_deposit(&bob, &perp, 10_110_000_000).expect_ok("second LP");
    let bob_shares = m.perp_slot(&bob, &perp).lp_shares;
    assert_eq!(bob_shares as u128, 10_110_000_000u128 * 50_000_000_000 / 50_555_000_000);
    // Once the traders close, nothing is owed: every share can leave.
    m.place_perp_order(&alice, &perp, order(-10_000)).expect_ok("close");
    m.settle_pnl(&alice.account, &perp).expect_ok("settle");
    m.pool_withdraw(&lp, &perp, POOL_USD / 2).expect_ok("rest");
    m.pool_withdraw(&bob, &perp, bob_shares).expect_ok("bob");
    let market = m.perp_state(&perp);
    assert_eq!(market.lp_shares, 0);
    assert!(m.pool_native(&perp) < 3, "only rounding dust is left: {}", m.pool_native(&perp));
}

#[test]
fn pool_deposits_need_a_settle_deposit_and_count_nothing_in_health() {
    let (mut m, perp, _lp) = perp_market();
    let (usdc, sol) = (m.usdc, m.sol);
    m.with_liquidity();
    let dan = m.user([1_000_000_000, 1_000_000_000, 0]);
    m.assert_rejected(&dan, MarginError::InsufficientDeposit, |m| m.pool_deposit(&dan, &perp, 1));
    m.assert_rejected(&dan, MarginError::ZeroAmount, |m| m.pool_deposit(&dan, &perp, 0));
    // Dan borrows USDC against SOL, then may not move his USDC collateral into the pool: pool
    // shares are not collateral.
    m.deposit(&dan, &sol, 1_000_000_000).expect_ok("SOL");
    m.deposit(&dan, &usdc, 100_000_000).expect_ok("USDC");
    // $150 of BTC (init weight 1.15: $172.50) against $100 of SOL and $95 of USDC (init).
    let btc = m.btc;
    m.borrow(&dan, &btc, 150_000).expect_ok("borrow BTC");
    m.assert_rejected(&dan, MarginError::InitHealthNegative, |m| {
        m.pool_deposit(&dan, &perp, 100_000_000)
    });
}

/// A trader with an open long, and the accounts for orders on `perp`.
fn trading(m: &mut Market, perp: &PerpMarketRef) -> User {
    let alice = trader(m, 1_000_000_000);
    m.place_perp_order(&alice, perp, order(100)).expect_ok("long");
    alice
}

fn order_ix(m: &Market, trade: PerpTrade, order: PerpOrder) -> Instruction {
    let account = m.margin_account_at(&trade.account);
    perp_ix::place_perp_order(&trade, order, m.health_accounts_with_slot(&account, &trade.market))
}

#[test]
fn perp_orders_refuse_bad_input_with_named_errors_and_change_nothing() {
    let (mut m, perp, _lp) = perp_market();
    let alice = trading(&mut m, &perp);
    let trade = m.perp_trade(&alice, &perp);
    let send_alice = |m: &mut Market, ix| send(m, ix, &alice);

    // Sizes.
    for (size_lots, error) in
        [(0, MarginError::ZeroAmount), (u64::MAX, MarginError::PerpSizeTooLarge)]
    {
        let ix = order_ix(&m, trade, PerpOrder { size_lots, ..order(1) });
        m.assert_rejected(&alice, error, |m| send_alice(m, ix));
    }
    // A wrong oracle (another valid account of the same feed: not the pinned one), a wrong
    // settle bank.
    let unpinned = m.chain.new_pubkey();
    let feed = cross_margin_testkit::perp::perp_feed_id(0);
    let quote = quote_dollars(100, 0, m.now());
    let ema = cross_margin_client::pyth::Ema::at(&quote);
    m.write_oracle_with_feed(OracleKind::PythPull, unpinned, feed, quote, ema, true);
    let wrong_oracle = PerpTrade { market: PerpMarketRef { oracle: unpinned, ..perp }, ..trade };
    let ix = order_ix(&m, wrong_oracle, order(1));
    m.assert_rejected(&alice, MarginError::OracleAccountMismatch, |m| send_alice(m, ix));
    let wrong_settle = PerpTrade { market: PerpMarketRef { settle_bank: m.sol, ..perp }, ..trade };
    let ix = order_ix(&m, wrong_settle, order(1));
    m.assert_rejected(&alice, MarginError::InvalidSettleBank, |m| send_alice(m, ix));
    // Another user's account.
    let mallory = m.user([0, 0, 0]);
    let theirs = PerpTrade { owner: mallory.keypair.pubkey(), ..trade };
    let ix = order_ix(&m, theirs, order(-100));
    m.assert_rejected(&alice, MarginError::NotAccountOwner, |m| send(m, ix, &mallory));
    // An unconfident price (conf 3% > the 2% allowed).
    m.sandbox.set_perp_price(&perp, cross_margin_client::pyth::Quote { conf: 30_000, ..quote });
    let ix = order_ix(&m, trade, order(1));
    m.assert_rejected(&alice, MarginError::OracleConfidenceTooWide, |m| send_alice(m, ix));
    m.set_perp_dollars(&perp, 100);
    // Health accounts: the perp pair missing, or another account in its place.
    let mut missing = order_ix(&m, trade, order(1));
    missing.accounts.truncate(missing.accounts.len() - 2);
    m.assert_rejected(&alice, MarginError::HealthAccountsMissing, |m| send_alice(m, missing));
    let mut swapped = order_ix(&m, trade, order(1));
    let n = swapped.accounts.len();
    swapped.accounts[n - 2] = AccountMeta::new_readonly(m.usdc.address, false);
    m.assert_rejected(&alice, MarginError::HealthPerpMarketMismatch, |m| send_alice(m, swapped));
    // The market the order holds, passed as the USDC position's bank (after the order's six
    // accounts): refused by name, not by a failed borrow.
    let mut as_bank = order_ix(&m, trade, order(1));
    as_bank.accounts[6] = AccountMeta::new_readonly(perp.address, false);
    m.assert_rejected(&alice, MarginError::HealthBankInvalid, |m| send_alice(m, as_bank));
}

#[test]
fn a_perp_market_of_another_group_is_refused() {
    let (mut m, perp, _lp) = perp_market();
    let alice = trading(&mut m, &perp);
    let (other_group, other_usdc) = m.other_group_bank();
    let oracle = m.chain.new_pubkey();
    let feed = cross_margin_testkit::perp::perp_feed_id(0);
    let quote = quote_dollars(100, 0, m.now());
    let ema = cross_margin_client::pyth::Ema::at(&quote);
    m.write_oracle_with_feed(OracleKind::PythPull, oracle, feed, quote, ema, true);
    let admin = m.admin.pubkey();
    let config = PerpMarketConfig { oracle_feed_id: feed, ..perp_config() };
    let (ix, address) =
        perp_ix::add_perp_market(other_group, admin, admin, other_usdc.address, oracle, 0, config);
    m.send_as_admin(&[ix]).expect_ok("other group's market");
    let foreign = PerpMarketRef { address, index: 0, oracle, settle_bank: other_usdc };
    let trade = PerpTrade { market: foreign, ..m.perp_trade(&alice, &perp) };
    let ix = order_ix(&m, trade, order(1));
    m.assert_rejected(&alice, MarginError::WrongGroup, |m| send(m, ix, &alice));
    let ix = perp_ix::settle_pnl(m.group, alice.account, &foreign, vec![]);
    m.assert_rejected(&alice, MarginError::WrongGroup, |m| m.chain.send(&[ix], &[]));
}

#[test]
fn settle_refuses_what_it_cannot_settle() {
    let (mut m, perp, _lp) = perp_market();
    let alice = trader(&mut m, 1_000_000_000);
    m.assert_rejected(&alice, MarginError::NothingToSettle, |m| {
        m.settle_pnl(&alice.account, &perp)
    });
    let _ = PerpSide::Long;
}
