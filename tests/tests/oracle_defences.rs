//! Defences against oracle manipulation (Mango v3's attack), on the real .so: the stable price
//! (Pyth's EMA) in init health, and the net borrow limit per window. docs/DESIGN.md, "Stable
//! price" and "Net borrow limit".

use cross_margin::state::BankConfig;
use cross_margin_client::ix;
use cross_margin_client::pyth::Ema;
use cross_margin_tests::market::*;
use cross_margin_tests::*;

/// SOL's oracle at `dollars` while its EMA (the stable price) stays at `ema_dollars`.
fn set_sol(m: &mut Market, dollars: i64, ema_dollars: i64) {
    let sol = m.sol;
    let quote = quote_dollars(dollars, 0, m.now());
    m.set_price_with_ema(&sol, quote, Ema { price: ema_dollars * 10_000, conf: 0 });
}

#[test]
fn a_borrow_against_pumped_collateral_is_limited_by_the_ema() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit 10 SOL");
    // The oracle is pumped 5× to $625; the EMA still says $125.
    set_sol(&mut m, 625, 125);
    // Init health values the 10 SOL at min($625, $125) × 0.80 = $1,000: at most
    // 1,000 / 1.05 = 952.38 USDC. At the pumped oracle it would be 4,761.90.
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        m.borrow(&user, &usdc, 952_381_000)
    });
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        m.borrow(&user, &usdc, 4_000_000_000)
    });
    m.borrow(&user, &usdc, 952_380_000).expect_ok("borrow up to the EMA value");
    // Maint health keeps the oracle: 6,250 × 0.90 − 952.38 × 1.02 = 4,653.57.
    let (health, _) = m.health(&user);
    assert_eq!(health.maint, 5_625_000_000 - 971_427_600);
    assert_eq!(health.init, 1_000_000_000 - 999_999_000);
    // Without the defence (EMA = oracle, as a feed whose EMA has caught up carries), the
    // same account could borrow 4,761 USDC in all: the EMA is what held it back.
    set_sol(&mut m, 625, 625);
    m.borrow(&user, &usdc, 3_000_000_000).expect_ok("borrow at the caught-up EMA");
}

#[test]
fn a_dumped_borrow_is_valued_at_the_ema_in_init_health_only() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([1_000_000_000_000, 0, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &usdc, 1_000_000_000).expect_ok("deposit 1,000 USDC");
    // SOL dumped to $25 while its EMA is still $125: a SOL borrow costs $125 × 1.20 in init
    // health (at most 950 / 150 = 6.33 SOL), not $25 × 1.20 (31.6 SOL).
    set_sol(&mut m, 25, 125);
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        m.borrow(&user, &sol, 6_334_000_000)
    });
    m.borrow(&user, &sol, 6_333_000_000).expect_ok("borrow up to the EMA cost");
    // Maint values the debt at the oracle's $25: 980 − 6.333 × 25 × 1.10 (0.025 per lamport
    // is not exact in binary: the debt rounds up, by 2 micro-USD here).
    let (health, _) = m.health(&user);
    assert_eq!(health.maint, 980_000_000 - 174_157_500 - 2);
}

/// USDC with a net borrow limit of $1,000 per hour.
fn limited_usdc(m: &mut Market) {
    let admin = m.admin.insecure_clone();
    let usdc = m.usdc;
    let config = BankConfig {
        net_borrow_limit_per_window_quote: 1_000_000_000,
        net_borrow_limit_window_secs: 3_600,
        ..m.bank(&usdc).config
    };
    let ix = ix::configure_bank(m.group, admin.pubkey(), usdc.address, usdc.oracle, config);
    m.chain.send(&[ix], &[&admin]).expect_ok("configure the net borrow limit");
}

/// A user with 100 SOL deposited ($10,000 of init value): the limit binds, not health.
fn rich_borrower(m: &mut Market) -> User {
    m.with_liquidity();
    limited_usdc(m);
    let user = m.user([1_000_000_000_000, 100_000_000_000, 0]);
    let sol = m.sol;
    m.deposit(&user, &sol, 100_000_000_000).expect_ok("deposit 100 SOL");
    user
}

#[test]
fn a_borrow_beyond_the_net_borrow_limit_is_rejected() {
    let mut m = Market::new();
    let user = rich_borrower(&mut m);
    let usdc = m.usdc;
    let now = m.now();
    m.borrow(&user, &usdc, 600_000_000).expect_ok("600 of the 1,000 USDC window");
    m.assert_rejected(&user, MarginError::NetBorrowLimitExceeded, |m| {
        m.borrow(&user, &usdc, 400_000_001)
    });
    m.borrow(&user, &usdc, 400_000_000).expect_ok("exactly the limit");
    let bank = m.bank(&usdc);
    assert_eq!(bank.net_borrows_in_window, 1_000_000_000);
    assert_eq!(bank.net_borrow_window_start_ts, now - now % 3_600);
    // Another account of another owner shares the bank's window.
    let other = rich_borrower_again(&mut m);
    m.assert_rejected(&other, MarginError::NetBorrowLimitExceeded, |m| m.borrow(&other, &usdc, 1));
}

fn rich_borrower_again(m: &mut Market) -> User {
    let user = m.user([0, 100_000_000_000, 0]);
    let sol = m.sol;
    m.deposit(&user, &sol, 100_000_000_000).expect_ok("deposit 100 SOL");
    user
}

#[test]
fn a_new_net_borrow_window_starts_from_zero() {
    let mut m = Market::new();
    let user = rich_borrower(&mut m);
    let usdc = m.usdc;
    m.borrow(&user, &usdc, 1_000_000_000).expect_ok("the whole window");
    let start = m.bank(&usdc).net_borrow_window_start_ts;
    let wait = start + 3_600 - m.now();
    m.chain.warp_seconds(wait);
    m.refresh_prices();
    m.borrow(&user, &usdc, 1_000_000_000).expect_ok("the next window");
    let bank = m.bank(&usdc);
    assert_eq!(
        (bank.net_borrow_window_start_ts, bank.net_borrows_in_window),
        (start + 3_600, 1_000_000_000)
    );
}

#[test]
fn a_repay_frees_room_in_the_net_borrow_window() {
    let mut m = Market::new();
    let user = rich_borrower(&mut m);
    let usdc = m.usdc;
    m.borrow(&user, &usdc, 1_000_000_000).expect_ok("the whole window");
    m.repay(&user, &usdc, 300_000_000).expect_ok("repay 300");
    assert_eq!(m.bank(&usdc).net_borrows_in_window, 700_000_000);
    m.borrow(&user, &usdc, 300_000_000).expect_ok("the repaid room");
    m.assert_rejected(&user, MarginError::NetBorrowLimitExceeded, |m| m.borrow(&user, &usdc, 1));
}

#[test]
fn a_net_borrow_limit_without_a_window_is_refused() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.insecure_clone();
    let usdc = m.usdc;
    let config = BankConfig {
        net_borrow_limit_per_window_quote: 1,
        net_borrow_limit_window_secs: 0,
        ..m.bank(&usdc).config
    };
    let ix = ix::configure_bank(m.group, admin.pubkey(), usdc.address, usdc.oracle, config);
    m.assert_rejected(&user, MarginError::InvalidNetBorrowLimit, |m| {
        m.chain.send(&[ix], &[&admin])
    });
}
