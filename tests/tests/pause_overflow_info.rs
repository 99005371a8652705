//! Regression tests for issue 14's findings: L-6 (what a pause stops) and L-7 (interest
//! overflow). Each is named after its finding and fails on the program before the fix.

use cross_margin::events::{BankruptcyResolved, Liquidation};
use cross_margin::instructions::GroupConfigOptions;
use cross_margin::math::ONE_Q64;
use cross_margin::positions;
use cross_margin::state::OracleKind;
use cross_margin_client::ix::{self, BankRef};
use cross_margin_client::pyth::Quote;
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

const YEAR: i64 = 365 * 24 * 3600;

fn set_paused(m: &mut Market, paused: bool) {
    let options = GroupConfigOptions { paused: Some(paused), ..Default::default() };
    let ix = ix::configure_group(m.group, m.admin.pubkey(), options);
    m.send_as_admin(&[ix]).expect_ok("pause switch");
    assert_eq!(m.group_state().is_paused(), paused);
}

// ================================================================ L-6: pause

/// L-6. A pause used to block repay and deposit while interest kept accruing, so borrowers could
/// not defend themselves and were liquidatable the moment it ended. Now repaying, depositing and
/// opening an account work during a pause, and interest accrues as usual.
#[test]
fn l6_repay_and_deposit_work_while_paused() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([1_000_000_000, 20_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &usdc, 500_000_000).expect_ok("borrow USDC");
    set_paused(&mut m, true);

    m.chain.warp_seconds(30 * 24 * 3600);
    let index_before = m.bank(&usdc).borrow_index();
    m.repay(&user, &usdc, 200_000_000).expect_ok("repay while paused");
    assert!(m.bank(&usdc).borrow_index() > index_before, "interest accrues during a pause");
    m.deposit(&user, &sol, 5_000_000_000).expect_ok("deposit while paused");
    // A deposit into a bank with a borrow repays it first.
    let debt = positions::borrow_native(&m.margin_account(&user), &m.bank(&usdc)).unwrap();
    m.deposit(&user, &usdc, debt + 1_000).expect_ok("deposit that repays, while paused");
    assert!(!m.margin_account(&user).has_borrows());
    let newcomer = m.user([0, 0, 0]); // create_account works while paused
    assert_eq!(m.margin_account(&newcomer).active_count(), 0);

    set_paused(&mut m, false);
    m.withdraw(&user, &sol, 1_000_000_000).expect_ok("withdraw after unpausing");
    m.assert_conservation();
}

/// L-6. Liquidation and bankruptcy write-offs used to stop during a pause, so underwater
/// accounts piled up for the moment it ended. Both work while paused now.
#[test]
fn l6_liquidation_and_write_off_work_while_paused() {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    set_paused(&mut m, true);
    let now = m.now();
    m.set_price(&sol, sol_at_62_50(now));
    let executed = m
        .liquidate(&liquidator, &liquidatee, &usdc, &sol, u64::MAX)
        .expect_ok("liquidate while paused");
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!(event.liab_amount, LIQUIDATED);
    assert!(event.bankrupt);
    let executed = m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("write off while paused");
    assert_eq!(executed.events::<BankruptcyResolved>()[0].debt, DEBT_LEFT);
    assert!(m.margin_account(&liquidatee).is_empty());
    m.assert_conservation();
}

/// L-6. What a pause still stops: withdraw and borrow, the instructions that add risk, each
/// refused with `GroupPaused` and no account changed.
#[test]
fn l6_withdraw_and_borrow_are_refused_while_paused() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &usdc, 100_000_000).expect_ok("borrow USDC");
    set_paused(&mut m, true);
    m.assert_rejected(&user, MarginError::GroupPaused, |m| m.withdraw(&user, &sol, 1_000));
    m.assert_rejected(&user, MarginError::GroupPaused, |m| m.borrow(&user, &usdc, 1_000));
    set_paused(&mut m, false);
    m.withdraw(&user, &sol, 1_000).expect_ok("withdraw after unpausing");
    m.borrow(&user, &usdc, 1_000).expect_ok("borrow after unpausing");
}

// ================================================================ L-7: interest overflow

/// A BONK-class bank (5 decimals, $0.00002) holding about BONK's whole supply, 8.8e18 native,
/// with 8e18 lent out (about 59% APR on the sandbox's curve), to a borrower whose USDC collateral
/// keeps init health >= 0. Returns the bank, the lender and the borrower.
fn bonk_market(m: &mut Market) -> (BankRef, User, User) {
    let weights = [5_000, 6_000, 13_000, 15_000];
    let config = bank_config(OracleKind::PythPull, 3, weights);
    let quote = Quote { price: 2, conf: 0, exponent: -5, publish_time: m.now() };
    let bonk = m.sandbox.add_bank(5, OracleKind::PythPull, config, quote).expect("add BONK");
    let mut lender = m.user([0, 0, 0]);
    m.fund(&mut lender, 8_800_000_000_000_000_000);
    m.deposit(&lender, &bonk, 8_800_000_000_000_000_000).expect_ok("lend BONK");
    let mut borrower = m.user([2_600_000_000_000_000, 0, 0]);
    m.fund(&mut borrower, 0);
    let usdc = m.usdc;
    m.deposit(&borrower, &usdc, 2_600_000_000_000_000).expect_ok("USDC collateral");
    m.borrow(&borrower, &bonk, 8_000_000_000_000_000_000).expect_ok("borrow 8e18 BONK");
    (bonk, lender, borrower)
}

/// L-7. Once a bank's total borrows (or deposits) would pass u64, every accrual failed with
/// `MathOverflow`, and repay, withdraw and liquidation in that bank all stopped for good. Now an
/// accrual's interest is capped where the totals reach u64::MAX: the bank keeps working.
#[test]
fn l7_interest_overflow_never_bricks_a_bank() {
    let mut m = Market::new();
    m.with_liquidity();
    let (bonk, lender, borrower) = bonk_market(&mut m);
    let usdc = m.usdc;

    // Three years at ~59% APR would take the deposits (cash + borrows) to ~2.3e19 > u64::MAX.
    m.chain.warp_seconds(3 * YEAR);
    m.withdraw(&lender, &bonk, 1_000).expect_ok("the touch that used to overflow");
    let bank = m.bank(&bonk);
    let (deposits, borrows) =
        (bank.total_deposits_native().unwrap(), bank.total_borrows_native().unwrap());
    assert!(deposits >= u64::MAX - 1, "deposits at the cap: {deposits}");
    assert!(borrows < deposits);
    let uncapped = 8_000_000_000_000_000_000u128 * 277 / 100; // 1 + 59% × 3 years
    assert!((borrows as u128) < uncapped, "interest was capped: {borrows}");

    // A year later nothing more is charged, and nothing fails.
    m.chain.warp_seconds(YEAR);
    m.withdraw(&lender, &bonk, 1_000).expect_ok("accrual at the cap");
    // (At most the room the first 1,000-unit withdrawal freed, plus a unit of rounding.)
    let borrows_at_cap = m.bank(&bonk).total_borrows_native().unwrap();
    assert!(borrows_at_cap - borrows <= 1_001, "{borrows_at_cap} vs {borrows}");
    // A deposit that would take the deposits past u64 is refused with a named error.
    m.assert_rejected(&lender, MarginError::DepositLimitExceeded, |m| {
        m.deposit(&lender, &bonk, 2_000)
    });

    // Repay and a large withdrawal work; the withdrawal makes room (the deposits, cash plus
    // borrows, are the larger total), so interest resumes.
    m.repay(&borrower, &bonk, 1_000_000_000_000_000_000).expect_ok("repay 1e18");
    m.withdraw(&lender, &bonk, 1_000_000_000_000_000_000).expect_ok("withdraw 1e18");
    let index = m.bank(&bonk).borrow_index();
    m.chain.warp_seconds(24 * 3600);
    m.withdraw(&lender, &bonk, 1_000).expect_ok("touch");
    assert!(m.bank(&bonk).borrow_index() > index + (ONE_Q64 >> 20), "interest resumed");

    // The borrower's debt grew to ~1.76e19 BONK ($3.5B): underwater, and liquidatable.
    m.refresh_prices();
    let liquidator = m.user([10_000_000_000_000, 0, 0]);
    m.deposit(&liquidator, &usdc, 10_000_000_000_000).expect_ok("liquidator USDC");
    let executed = m
        .liquidate(&liquidator, &borrower, &bonk, &usdc, 10_000_000_000_000_000)
        .expect_ok("liquidate in the capped bank");
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!(event.liab_amount, 10_000_000_000_000_000);
    assert!(event.maint_health_after > event.maint_health_before);
    let bank = m.bank(&bonk);
    assert!(bank.total_deposits_native().is_ok() && bank.total_borrows_native().is_ok());
    assert!(bank.borrow_index() > ONE_Q64);
}
