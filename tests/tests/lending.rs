//! Deposit, borrow, repay, withdraw and close on the real SBF build, with hand-checked amounts.

use cross_margin::events::{MovementKind, TokenMovement};
use cross_margin::state::PositionKind;
use cross_margin_tests::market::*;
use cross_margin_tests::*;

#[test]
fn deposit_borrow_repay_withdraw_close() {
    let mut m = Market::new();
    let lender = m.user([1_000_000_000, 0, 0]); // 1,000 USDC
    let user = m.user([0, 10_000_000_000, 0]); // 10 SOL
    let (usdc, sol) = (m.usdc, m.sol);

    let executed = m.deposit(&lender, &usdc, 1_000_000_000).expect_ok("lender deposit");
    assert_cu("deposit", &executed, budget::DEPOSIT);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("user deposit");
    assert_eq!(m.chain.token_balance(&usdc.vault), 1_000_000_000);
    assert_eq!(m.chain.token_balance(&sol.vault), 10_000_000_000);

    // 10 SOL at $125 with init weight 0.8 backs $1,000 of init-weighted value; USDC's init
    // liability weight is 1.05, so at most 952.380952 USDC can be borrowed.
    let executed = m.borrow(&user, &usdc, 500_000_000).expect_ok("borrow");
    assert_cu("borrow (2 positions)", &executed, budget::BORROW_2);
    assert_eq!(m.chain.token_balance(&user.tokens[0]), 500_000_000);
    let events = executed.events::<TokenMovement>();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind, events[0].amount), (MovementKind::Borrow, 500_000_000));
    // init = 1,250 × 0.8 − 500 × 1.05 = 1,000 − 525 = $475
    assert_eq!(events[0].init_health_after, 475_000_000);

    let account = m.margin_account(&user);
    assert_eq!(account.active_count(), 2);
    assert_eq!(account.positions[1].kind(), PositionKind::Borrow);

    let (view, executed) = m.health(&user);
    assert_cu("health (2 positions)", &executed, budget::HEALTH_2);
    assert_eq!(view.init, 475_000_000);
    // maint = 1,250 × 0.9 − 500 × 1.02 = 1,125 − 510 = $615
    assert_eq!(view.maint, 615_000_000);
    assert!(!view.liquidatable);
    assert_eq!(view.positions.len(), 2);
    assert_eq!(
        (view.positions[0].native, view.positions[0].value),
        (10_000_000_000, 1_250_000_000)
    );
    assert_eq!((view.positions[1].native, view.positions[1].value), (500_000_000, 500_000_000));

    let executed = m.repay(&user, &usdc, 500_000_000).expect_ok("repay");
    assert_cu("repay", &executed, budget::REPAY);
    assert_eq!(m.margin_account(&user).active_count(), 1);

    let executed = m.withdraw(&user, &sol, 10_000_000_000).expect_ok("withdraw");
    assert_cu("withdraw (no borrows)", &executed, budget::WITHDRAW_NO_BORROWS);
    assert!(m.margin_account(&user).is_empty());
    assert_eq!(m.chain.token_balance(&user.tokens[1]), 10_000_000_000);

    let rent = m.chain.account(&user.account).unwrap().lamports;
    let owner_before = m.chain.account(&user.keypair.pubkey()).unwrap().lamports;
    let ix = cross_margin_client::ix::close_account(user.account, user.keypair.pubkey());
    let executed = m.chain.send(&[ix], &[&user.keypair]).expect_ok("close_account");
    assert_cu("close_account", &executed, budget::CLOSE_ACCOUNT);
    assert!(m.chain.account(&user.account).is_none());
    // The fee payer is the chain's payer, so the owner receives the whole rent.
    assert_eq!(m.chain.account(&user.keypair.pubkey()).unwrap().lamports, owner_before + rent);
}
