//! Interest accrues through the indices on every touch of a bank, across a warped clock.

use cross_margin::math::ONE_Q64;
use cross_margin::positions;
use cross_margin_tests::market::*;
use cross_margin_tests::*;

const YEAR: i64 = 365 * 24 * 3600;

#[test]
fn a_year_at_80_percent_utilization_accrues_10_percent() {
    let mut m = Market::new();
    let lender = m.user([1_000_000_000, 0, 0]);
    let user = m.user([0, 10_000_000_000, 0]);
    let bystander = m.user([1_000_000, 0, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&lender, &usdc, 1_000_000_000).expect_ok("lend 1,000 USDC");
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &usdc, 800_000_000).expect_ok("borrow 800 USDC");
    assert_eq!(m.bank(&usdc).utilization_bps(), Ok(8_000));
    // The curve: 0% APR at 0 utilization, 10% at the 80% optimum, 100% at full.
    assert_eq!(m.bank(&usdc).borrow_rate_bps(8_000), 1_000);

    m.chain.warp_seconds(YEAR);
    // Any touch accrues: here someone else's 1 USDC deposit, which needs no oracle (prices are
    // a year stale by now).
    m.deposit(&bystander, &usdc, 1_000_000).expect_ok("touch the bank");

    let bank = m.bank(&usdc);
    // Borrow index: 1 + 10% × 1 year = 1.1, rounded up to the next Q64 unit.
    assert_eq!(bank.borrow_index(), ONE_Q64 + ONE_Q64 / 10 + 1);
    // The borrower owes 800 × 1.1 = 880 USDC, plus one unit from rounding the debt up.
    assert_eq!(positions::borrow_native(&m.margin_account(&user), &bank), Ok(880_000_001));
    // Those 80.000001 USDC of interest went to the 1,000 USDC of deposit shares (index
    // 1.080000001, rounded down), so the lender holds 1,080 USDC (rounded down).
    assert_eq!(positions::deposit_native(&m.margin_account(&lender), &bank), Ok(1_080_000_000));
    // The vault still covers deposits − borrows (rounding in the protocol's favour).
    let vault = m.chain.token_balance(&usdc.vault);
    let deposits = bank.total_deposits_native().unwrap();
    let borrows = bank.total_borrows_native().unwrap();
    assert!(vault + borrows >= deposits, "vault {vault} + borrows {borrows} < deposits {deposits}");
}

#[test]
fn no_borrows_no_interest_and_time_going_backwards_is_ignored() {
    let mut m = Market::new();
    let lender = m.user([2_000_000_000, 0, 0]);
    let usdc = m.usdc;
    m.deposit(&lender, &usdc, 500_000_000).expect_ok("deposit");
    m.chain.warp_seconds(YEAR);
    m.deposit(&lender, &usdc, 500_000_000).expect_ok("deposit again");
    let bank = m.bank(&usdc);
    assert_eq!((bank.deposit_index(), bank.borrow_index()), (ONE_Q64, ONE_Q64));
    assert_eq!(bank.last_accrual_ts, START_TIME + YEAR);
    m.chain.set_unix_timestamp(START_TIME);
    m.deposit(&lender, &usdc, 1).expect_ok("deposit with an earlier clock");
    assert_eq!(m.bank(&usdc).last_accrual_ts, START_TIME + YEAR);
}

/// Regression (found by the TypeScript SDK's randomized prediction test): clients list health
/// accounts for the positions an instruction leaves, which the program computes *after*
/// accruing interest. Predicting with the stored indices kept a fully withdrawn deposit's slot
/// open and the withdrawal failed with `HealthAccountsExtra`.
#[test]
fn a_whole_withdrawal_after_interest_lists_the_right_health_accounts() {
    let mut m = Market::new();
    let user = m.user([1_000_000_000, 10_000_000_000, 0]);
    let second_lender = m.user([1_000_000_000, 0, 0]);
    let borrower = m.user([0, 10_000_000_000, 0]);
    let btc_lender = m.user([0, 0, 100_000_000]);
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    m.deposit(&btc_lender, &btc, 100_000_000).expect_ok("lend BTC");
    m.deposit(&user, &usdc, 1_000_000_000).expect_ok("deposit USDC");
    m.deposit(&second_lender, &usdc, 1_000_000_000).expect_ok("deposit USDC");
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &btc, 100_000).expect_ok("borrow BTC"); // so withdrawals check health
    m.deposit(&borrower, &sol, 10_000_000_000).expect_ok("borrower collateral");
    // A quarter of the USDC lent out: 3.125% APR, paid to the depositors.
    m.borrow(&borrower, &usdc, 500_000_000).expect_ok("borrow USDC");

    // A year on, nobody has touched the USDC bank: its stored indices are a year old.
    m.chain.warp_seconds(YEAR);
    m.refresh_prices();
    let mut bank = m.bank(&usdc);
    bank.accrue_interest(m.now()).unwrap();
    let everything = positions::deposit_native(&m.margin_account(&user), &bank).unwrap();
    assert!(everything > 1_007_000_000, "interest accrued: {everything}");
    m.withdraw(&user, &usdc, everything).expect_ok("withdraw all, interest included");
    assert_eq!(m.margin_account(&user).active_count(), 2, "the USDC slot closed");
    m.assert_conservation();
}

/// What accrual adds to an instruction once time has passed (the CU table's rows run with a
/// still clock): the same deposit into a bank with borrows, at the same time and an hour later.
/// docs/CU.md quotes the printed difference; the keeper's `compute_extra` must cover a few.
#[test]
fn accrual_adds_under_1000_cu_per_bank() {
    let mut m = Market::new();
    m.with_liquidity();
    let lender = m.user([10_000_000, 0, 0]);
    let borrower = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&borrower, &sol, 1_000_000_000).expect_ok("deposit SOL");
    m.borrow(&borrower, &usdc, 10_000_000).expect_ok("borrow USDC");
    let still = m.deposit(&lender, &usdc, 1_000_000).expect_ok("deposit").compute_units;
    m.chain.warp_seconds(3_600);
    m.refresh_prices();
    let later = m.deposit(&lender, &usdc, 1_000_000).expect_ok("deposit").compute_units;
    let accrual = later - still;
    println!(
        "accrual: deposit {still} CU with a still clock, {later} CU an hour later: +{accrual}"
    );
    assert!(accrual > 0 && accrual < 1_000, "accrual costs {accrual} CU");
}
