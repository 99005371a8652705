//! Init health gates withdraw and borrow at exactly zero (worked numbers in the comments).

use cross_margin_tests::market::*;
use cross_margin_tests::*;

#[test]
fn borrow_is_allowed_up_to_exactly_zero_init_health() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit 10 SOL");
    // Init-weighted collateral: 10 SOL × $125 × 0.80 = $1,000. USDC init liability weight 1.05:
    // 952.380952 USDC → ceil(999,999,999.6) = 1,000,000,000 → init health exactly 0.
    // One more micro-USDC → 1,000,000,001 → init health −1: refused.
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        m.borrow(&user, &usdc, 952_380_953)
    });
    let executed = m.borrow(&user, &usdc, 952_380_952).expect_ok("borrow to the boundary");
    let event = &executed.events::<cross_margin::events::TokenMovement>()[0];
    assert_eq!(event.init_health_after, 0);
    let (view, _) = m.health(&user);
    assert_eq!(view.init, 0);
    // And not one unit more.
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| m.borrow(&user, &usdc, 1));
}

#[test]
fn withdraw_is_allowed_down_to_exactly_zero_init_health() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit 10 SOL");
    m.borrow(&user, &usdc, 500_000_000).expect_ok("borrow 500 USDC");
    // init = 1,000 − 500 × 1.05 = $475 → 475 / (125 × 0.8) = 4.75 SOL can go.
    // 4,750,000,001 lamports out leaves 5,249,999,999 × 0.125 = 656,249,999 (rounded down)
    // × 0.8 = 524,999,999 against 525,000,000 of liability: −1, refused.
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        m.withdraw(&user, &sol, 4_750_000_001)
    });
    m.withdraw(&user, &sol, 4_750_000_000).expect_ok("withdraw to the boundary");
    assert_eq!(m.health(&user).0.init, 0);
    assert_eq!(m.chain.token_balance(&user.tokens[1]), 4_750_000_000);
}

#[test]
fn a_falling_price_makes_the_account_liquidatable_in_the_view() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit");
    // At $62.50 (exactly 1/16 micro-USD per lamport): maint assets = 10 × 62.5 × 0.9 = $562.5.
    // 551,470,588 USDC × 1.02 = 562,499,999.76 → rounded up to 562,500,000: maint exactly 0.
    m.borrow(&user, &usdc, 551_470_588).expect_ok("borrow");
    let now = m.now();
    m.set_price(
        &sol,
        cross_margin_client::pyth::Quote { price: 625, conf: 0, exponent: -1, publish_time: now },
    );
    let (view, _) = m.health(&user);
    assert_eq!(view.maint, 0);
    assert!(!view.liquidatable);
    // $62.4999: maint < 0, liquidatable.
    m.set_price(
        &sol,
        cross_margin_client::pyth::Quote {
            price: 624_999,
            conf: 0,
            exponent: -4,
            publish_time: now,
        },
    );
    let (view, _) = m.health(&user);
    assert!(view.maint < 0 && view.liquidatable, "maint {}", view.maint);
}
