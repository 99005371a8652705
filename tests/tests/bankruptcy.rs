//! Bankruptcy on the real SBF build: a liquidation that exhausts the collateral flags the
//! account; `resolve_bankruptcy` pays its remaining debt from the insurance fund first and shares
//! the rest out over the bank's depositors.

use cross_margin::events::{BankruptcyResolved, InsuranceFunded};
use cross_margin::math::ONE_Q64;
use cross_margin::positions;
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

fn usdc_deposit(m: &Market, user: &User) -> u64 {
    positions::deposit_native(&m.margin_account(user), &m.bank(&m.usdc)).unwrap()
}

#[test]
fn insurance_covers_the_whole_debt() {
    let Bankrupt { mut m, lender, second_lender, liquidatee, .. } = bankrupt_account();
    let usdc = m.usdc;
    let executed = m.fund_insurance(&usdc, 1_000_000_000).expect_ok("fund insurance");
    assert_cu("fund_insurance", &executed, budget::FUND_INSURANCE);
    let funded = &executed.events::<InsuranceFunded>()[0];
    assert_eq!((funded.amount, funded.insurance_after), (1_000_000_000, 1_000_000_000));
    m.assert_conservation();

    let executed = m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("resolve");
    assert_cu("resolve_bankruptcy", &executed, budget::RESOLVE_BANKRUPTCY);
    let event = &executed.events::<BankruptcyResolved>()[0];
    assert_eq!(event.debt, DEBT_LEFT);
    assert_eq!((event.from_insurance, event.socialized), (DEBT_LEFT, 0));
    assert_eq!(event.deposit_index_after, ONE_Q64);
    assert_eq!(event.insurance_after, 1_000_000_000 - DEBT_LEFT);
    assert!(!event.still_bankrupt);

    let bank = m.bank(&usdc);
    assert_eq!(bank.insurance_native, 1_000_000_000 - DEBT_LEFT);
    assert_eq!(bank.deposit_index(), ONE_Q64);
    assert_eq!(usdc_deposit(&m, &lender), 1_000_000_000_000);
    assert_eq!(usdc_deposit(&m, &second_lender), 500_000_000_000);
    let account = m.margin_account(&liquidatee);
    assert!(account.is_empty());
    assert_eq!((account.bankrupt, account.being_liquidated), (0, 0));
    m.assert_conservation();

    // The written-off account is an ordinary empty account again: its owner can close it.
    let ix = ix::close_account(liquidatee.account, liquidatee.keypair.pubkey());
    m.chain.send(&[ix], &[&liquidatee.keypair]).expect_ok("close after bankruptcy");
}

#[test]
fn insurance_covers_part_and_depositors_share_the_rest() {
    let Bankrupt { mut m, lender, second_lender, liquidatee, liquidator } = bankrupt_account();
    let usdc = m.usdc;
    m.fund_insurance(&usdc, 100_000_000).expect_ok("fund insurance");
    let liquidator_debt_before =
        positions::borrow_native(&m.margin_account(&liquidator), &m.bank(&usdc)).unwrap();

    let executed = m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("resolve");
    let event = &executed.events::<BankruptcyResolved>()[0];
    let socialized = DEBT_LEFT - 100_000_000;
    assert_eq!((event.from_insurance, event.socialized), (100_000_000, socialized));
    // 210,377,359 lost over 1.5e12 deposit shares: the index drops by ceil(loss · 2^64 / shares).
    let total_shares: u128 = 1_500_000_000_000;
    let drop = ((socialized as u128) << 64).div_ceil(total_shares);
    assert_eq!(event.deposit_index_after, ONE_Q64 - drop);
    assert_eq!(event.deposit_index_after, 18_444_156_888_842_634_338);
    assert_eq!(event.insurance_after, 0);

    let bank = m.bank(&usdc);
    assert_eq!(bank.deposit_index(), event.deposit_index_after);
    assert_eq!(bank.insurance_native, 0);
    // Every depositor loses in proportion: 2/3 and 1/3 of 210.377359 USDC, rounded down.
    assert_eq!(usdc_deposit(&m, &lender), 999_859_748_427);
    assert_eq!(usdc_deposit(&m, &second_lender), 499_929_874_213);
    let lost = 1_500_000_000_000 - usdc_deposit(&m, &lender) - usdc_deposit(&m, &second_lender);
    assert!((socialized..=socialized + 2).contains(&lost), "lost {lost}");
    // Other borrowers are untouched.
    let liquidator_debt = positions::borrow_native(&m.margin_account(&liquidator), &bank).unwrap();
    assert_eq!(liquidator_debt, liquidator_debt_before);
    assert!(m.margin_account(&liquidatee).is_empty());
    m.assert_conservation();
}

#[test]
fn without_insurance_everything_is_socialized() {
    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let usdc = m.usdc;
    let executed = m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("resolve");
    let event = &executed.events::<BankruptcyResolved>()[0];
    assert_eq!((event.from_insurance, event.socialized), (0, DEBT_LEFT));
    m.assert_conservation();
}

// --- rejections ---

#[test]
fn a_bankrupt_account_cannot_be_liquidated_further() {
    let Bankrupt { mut m, liquidatee, liquidator, .. } = bankrupt_account();
    let (usdc, sol) = (m.usdc, m.sol);
    m.assert_rejected(&liquidatee, MarginError::AccountBankrupt, |m| {
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, 1_000_000)
    });
}

#[test]
fn an_account_with_collateral_is_not_bankrupt() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit");
    m.borrow(&user, &usdc, 900_000_000).expect_ok("borrow");
    // Even underwater, an account whose collateral is worth more than $1 must be liquidated,
    // not written off.
    let now = m.now();
    m.set_price(&sol, sol_at_62_50(now));
    m.assert_rejected(&user, MarginError::NotBankrupt, |m| m.resolve_bankruptcy(&user, &usdc));
    // A bank it has no borrow in.
    m.assert_rejected(&user, MarginError::NoBorrow, |m| m.resolve_bankruptcy(&user, &sol));
}

#[test]
fn resolution_needs_every_health_account() {
    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let usdc = m.usdc;
    let ix = ix::resolve_bankruptcy(m.group, liquidatee.account, usdc.address, vec![]);
    m.assert_rejected(&liquidatee, MarginError::HealthAccountsMissing, |m| {
        m.chain.send(&[ix], &[])
    });
}

#[test]
fn only_the_admin_funds_insurance_and_never_with_zero() {
    let mut m = Market::new();
    let usdc = m.usdc;
    let outsider = m.user([1_000_000, 0, 0]);
    let ix = ix::fund_insurance(m.group, outsider.keypair.pubkey(), &usdc, outsider.tokens[0], 1);
    let signer = outsider.keypair.insecure_clone();
    m.assert_rejected(&outsider, MarginError::NotGroupAdmin, |m| m.chain.send(&[ix], &[&signer]));
    m.assert_rejected(&outsider, MarginError::ZeroAmount, |m| m.fund_insurance(&usdc, 0));
    assert_eq!(m.bank(&usdc).insurance_native, 0);
}
