//! Regression tests for issue 14's findings: L-6 (what a pause stops).

use cross_margin::events::{BankruptcyResolved, Liquidation};
use cross_margin::instructions::GroupConfigOptions;
use cross_margin::positions;
use cross_margin_client::ix;
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

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
