//! Oracle validation on the real .so, with real-format Pyth accounts (pull and legacy).
//! Every rejection has its own error and changes nothing.

use cross_margin::state::OracleKind;
use cross_margin_client::pyth::{self, Quote};
use cross_margin_tests::market::*;
use cross_margin_tests::*;

/// A user with 10 SOL deposited, 10 BTC deposited and 100 USDC borrowed: every health check
/// reads all three oracles (pull for USDC and SOL, legacy for BTC).
fn borrower(m: &mut Market) -> User {
    m.with_liquidity();
    let user = m.user([0, 11_000_000_000, 1_000_000_000]);
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.deposit(&user, &btc, 1_000_000_000).expect_ok("deposit BTC");
    m.borrow(&user, &usdc, 100_000_000).expect_ok("borrow USDC");
    user
}

fn sol_quote(m: &Market) -> Quote {
    quote_dollars(125, 0, m.now())
}

#[test]
fn stale_price_blocks_withdraw_and_borrow_but_not_repay_or_deposit() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let (usdc, sol) = (m.usdc, m.sol);
    m.chain.warp_seconds(61); // max age is 60 s
    m.assert_rejected(&user, MarginError::OracleStale, |m| m.withdraw(&user, &sol, 1));
    m.assert_rejected(&user, MarginError::OracleStale, |m| m.borrow(&user, &usdc, 1));
    m.repay(&user, &usdc, 50_000_000).expect_ok("repay with stale prices");
    m.deposit(&user, &sol, 1_000).expect_ok("deposit with stale prices");
    m.refresh_prices();
    m.withdraw(&user, &sol, 1).expect_ok("withdraw once prices are fresh");
}

#[test]
fn price_exactly_max_age_old_is_accepted() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    m.chain.warp_seconds(60);
    m.withdraw(&user, &sol, 1).expect_ok("60 s old is still fresh");
}

#[test]
fn pull_oracle_with_wrong_owner_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    let data = pyth::price_update_v2(feed_id(sol.index), sol_quote(&m), true);
    let impostor = m.chain.new_pubkey();
    m.chain.set_account(sol.oracle, impostor, data);
    m.assert_rejected(&user, MarginError::OracleWrongOwner, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn legacy_oracle_with_wrong_owner_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let (btc, sol) = (m.btc, m.sol);
    let data = pyth::legacy_price_account(quote_dollars(100_000, 0, m.now()), true);
    // Owned by the pull receiver instead of the legacy program.
    let receiver = m.receiver_program;
    m.chain.set_account(btc.oracle, receiver, data);
    m.assert_rejected(&user, MarginError::OracleWrongOwner, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn pull_update_for_another_feed_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    let data = pyth::price_update_v2(feed_id(99), sol_quote(&m), true);
    let owner = m.receiver_program;
    m.chain.set_account(sol.oracle, owner, data);
    m.assert_rejected(&user, MarginError::OracleWrongFeed, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn partially_verified_update_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    let quote = sol_quote(&m);
    m.write_oracle(OracleKind::PythPull, sol.oracle, sol.index, quote, false);
    m.assert_rejected(&user, MarginError::OracleNotFullyVerified, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn too_wide_confidence_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    // Max conf is 2% of the price: $125 ± $2.50 passes, ± $2.5001 does not.
    let now = m.now();
    m.set_price(&sol, quote_dollars(125, 25_000, now));
    m.withdraw(&user, &sol, 1).expect_ok("conf at exactly 2%");
    m.set_price(&sol, quote_dollars(125, 25_001, now));
    m.assert_rejected(&user, MarginError::OracleConfidenceTooWide, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn unpinned_oracle_account_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    // A valid, fresh, fully verified update for the right feed, in an account of the
    // attacker's choosing (e.g. a cherry-picked older price): not the bank's pinned account.
    let chosen = m.chain.new_pubkey();
    let data = pyth::price_update_v2(feed_id(sol.index), quote_dollars(500, 0, m.now()), true);
    let owner = m.receiver_program;
    m.chain.set_account(chosen, owner, data);
    let mut health = m.health_after(&user, &sol, cross_margin_client::ix::Movement::Withdraw, 1);
    let slot = health.iter().position(|meta| meta.pubkey == sol.oracle).unwrap();
    health[slot].pubkey = chosen;
    let ix = cross_margin_client::ix::withdraw(&m.transfer(&user, &sol), 1, health);
    m.assert_rejected(&user, MarginError::OracleAccountMismatch, |m| {
        m.chain.send(&[ix], &[&user.keypair])
    });
}

#[test]
fn legacy_price_not_trading_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let (btc, sol) = (m.btc, m.sol);
    let now = m.now();
    m.write_oracle(
        OracleKind::PythLegacy,
        btc.oracle,
        btc.index,
        quote_dollars(100_000, 0, now),
        false,
    );
    m.assert_rejected(&user, MarginError::OracleNotTrading, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn non_positive_price_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    let now = m.now();
    m.set_price(&sol, Quote { price: 0, conf: 0, exponent: -4, publish_time: now });
    m.assert_rejected(&user, MarginError::OracleNonPositivePrice, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn garbage_in_the_oracle_account_is_rejected() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    let owner = m.receiver_program;
    m.chain.set_account(sol.oracle, owner, vec![7u8; 134]);
    m.assert_rejected(&user, MarginError::OracleInvalidAccount, |m| m.withdraw(&user, &sol, 1));
}

#[test]
fn confidence_widens_prices_against_the_user() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let sol = m.sol;
    let (before, _) = m.health(&user);
    let now = m.now();
    // $125 ± $2: deposits valued at $123 instead of $125.
    m.set_price(&sol, quote_dollars(125, 20_000, now));
    let (after, _) = m.health(&user);
    let sol_position = after.positions.iter().find(|p| p.bank_index == sol.index).unwrap();
    assert_eq!(sol_position.value, 1_229_999_999); // 10 SOL × $123, 0.123 rounded down
    assert!(after.init < before.init && after.maint < before.maint);
}

/// The legacy push format gets the same staleness and confidence checks as the pull format.
#[test]
fn legacy_oracle_staleness_and_confidence_are_checked() {
    let mut m = Market::new();
    let user = borrower(&mut m);
    let (btc, sol) = (m.btc, m.sol);
    let now = m.now();
    // BTC's price published 61 s ago (max age 60 s); SOL's and USDC's are fresh.
    m.set_price(&btc, quote_dollars(100_000, 0, now - 61));
    m.assert_rejected(&user, MarginError::OracleStale, |m| m.withdraw(&user, &sol, 1));
    m.set_price(&btc, quote_dollars(100_000, 0, now - 60));
    m.withdraw(&user, &sol, 1).expect_ok("60 s old is still fresh");
    // Max conf is 2%: $100,000 ± $2,000 passes, ± $2,000.0001 does not.
    m.set_price(&btc, quote_dollars(100_000, 20_000_000, now));
    m.withdraw(&user, &sol, 1).expect_ok("conf at exactly 2%");
    m.set_price(&btc, quote_dollars(100_000, 20_000_001, now));
    m.assert_rejected(&user, MarginError::OracleConfidenceTooWide, |m| m.withdraw(&user, &sol, 1));
}
