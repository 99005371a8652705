//! Wrong accounts, wrong signers and bad amounts: each fails with its own named error and
//! changes no account.

use anchor_lang::error::ErrorCode as AnchorError;
use anchor_lang::prelude::AccountMeta;
use cross_margin::state::GroupConfigOptions;
use cross_margin_client::ix::{self, Movement};
use cross_margin_tests::market::*;
use cross_margin_tests::*;

// --- amounts ---

#[test]
fn zero_amounts_are_rejected() {
    let (mut m, user) = market_with_borrower();
    let (usdc, sol) = (m.usdc, m.sol);
    m.assert_rejected(&user, MarginError::ZeroAmount, |m| m.deposit(&user, &sol, 0));
    m.assert_rejected(&user, MarginError::ZeroAmount, |m| m.withdraw(&user, &sol, 0));
    m.assert_rejected(&user, MarginError::ZeroAmount, |m| m.borrow(&user, &usdc, 0));
    m.assert_rejected(&user, MarginError::ZeroAmount, |m| m.repay(&user, &usdc, 0));
}

#[test]
fn u64_max_deposit_is_more_than_the_wallet_holds() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    m.assert_rejected(&user, MarginError::InsufficientTokenBalance, |m| {
        m.deposit(&user, &sol, u64::MAX)
    });
}

#[test]
fn u64_max_withdraw_is_more_than_the_deposit() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    m.assert_rejected(&user, MarginError::InsufficientDeposit, |m| {
        m.withdraw(&user, &sol, u64::MAX)
    });
}

#[test]
fn u64_max_borrow_is_more_than_the_bank_holds() {
    let (mut m, user) = market_with_borrower();
    let usdc = m.usdc;
    m.assert_rejected(&user, MarginError::InsufficientLiquidity, |m| {
        m.borrow(&user, &usdc, u64::MAX)
    });
}

#[test]
fn u64_max_repay_is_more_than_the_wallet_holds() {
    let (mut m, user) = market_with_borrower();
    let usdc = m.usdc;
    m.assert_rejected(&user, MarginError::InsufficientTokenBalance, |m| {
        m.repay(&user, &usdc, u64::MAX)
    });
}

#[test]
fn repaying_more_than_the_debt_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let usdc = m.usdc;
    // The wallet holds 1,100 USDC; the debt is 100 USDC.
    m.assert_rejected(&user, MarginError::RepayExceedsDebt, |m| m.repay(&user, &usdc, 100_000_001));
    m.repay(&user, &usdc, 100_000_000).expect_ok("repay exactly the debt");
}

#[test]
fn repay_without_a_borrow_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let btc = m.btc;
    m.assert_rejected(&user, MarginError::NoBorrow, |m| m.repay(&user, &btc, 1));
}

#[test]
fn borrowing_against_an_own_deposit_in_the_same_bank_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    m.assert_rejected(&user, MarginError::BorrowAgainstOwnDeposit, |m| m.borrow(&user, &sol, 1));
}

// --- accounts ---

#[test]
fn another_users_account_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let thief = m.user([0, 0, 0]);
    let sol = m.sol;
    let mut transfer = m.transfer(&user, &sol);
    transfer.owner = thief.keypair.pubkey();
    transfer.user_token = m.chain.create_token_account(&sol.mint, &thief.keypair.pubkey(), 0);
    let health = m.health_after(&user, &sol, Movement::Withdraw, 1_000_000_000);
    let ix = ix::withdraw(&transfer, 1_000_000_000, health);
    m.assert_rejected(&user, MarginError::NotAccountOwner, |m| send(m, ix, &thief));
}

#[test]
fn owner_must_sign() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let mut ix = ix::deposit(&m.transfer(&user, &sol), 1_000);
    let owner = user.keypair.pubkey();
    ix.accounts.iter_mut().filter(|a| a.pubkey == owner).for_each(|a| a.is_signer = false);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountNotSigner, |m| m.chain.send(&[ix], &[]));
}

#[test]
fn a_bank_from_another_group_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (_, foreign) = m.other_group_bank();
    let ix = ix::deposit(&m.transfer(&user, &foreign), 1_000);
    m.assert_rejected(&user, MarginError::WrongGroup, |m| send(m, ix, &user));
}

/// The group and bank are the other group's, consistent with each other: only the margin
/// account belongs elsewhere.
#[test]
fn an_account_from_another_group_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (other_group, foreign) = m.other_group_bank();
    let mut transfer = m.transfer(&user, &foreign);
    transfer.group = other_group;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected(&user, MarginError::WrongGroup, |m| send(m, ix, &user));
}

#[test]
fn a_wrong_vault_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (sol, usdc) = (m.sol, m.usdc);
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.vault = usdc.vault;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected(&user, MarginError::WrongVault, |m| send(m, ix, &user));
}

/// The mint and the user's token account agree with each other (both USDC), but not with the
/// SOL bank: only the bank's mint check can refuse it.
#[test]
fn a_wrong_mint_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (sol, usdc) = (m.sol, m.usdc);
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.mint = usdc.mint;
    transfer.user_token = user.tokens[0];
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected(&user, MarginError::WrongMint, |m| send(m, ix, &user));
}

#[test]
fn a_user_token_account_of_another_mint_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let mut transfer = m.transfer(&user, &sol);
    transfer.user_token = user.tokens[0]; // the user's USDC account
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected(&user, MarginError::WrongMint, |m| send(m, ix, &user));
}

#[test]
fn a_wrong_token_program_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.token_program = anchor_spl::token_2022::ID;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected(&user, MarginError::WrongTokenProgram, |m| send(m, ix, &user));
}

#[test]
fn closing_an_account_with_positions_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let ix = ix::close_account(user.account, user.keypair.pubkey());
    m.assert_rejected(&user, MarginError::AccountNotEmpty, |m| send(m, ix, &user));
}

// --- health accounts ---

fn withdraw_with(m: &mut Market, user: &User, health: Vec<AccountMeta>) -> TxResult {
    let sol = m.sol;
    let ix = ix::withdraw(&m.transfer(user, &sol), 1_000, health);
    m.chain.send(&[ix], &[&user.keypair])
}

#[test]
fn missing_health_accounts_are_rejected() {
    let (mut m, user) = market_with_borrower();
    let mut health = m.health_accounts(&user);
    health.truncate(2);
    m.assert_rejected(&user, MarginError::HealthAccountsMissing, |m| {
        withdraw_with(m, &user, health)
    });
}

#[test]
fn extra_health_accounts_are_rejected() {
    let (mut m, user) = market_with_borrower();
    let btc = m.btc;
    let mut health = m.health_accounts(&user);
    health.push(AccountMeta::new_readonly(btc.address, false));
    health.push(AccountMeta::new_readonly(btc.oracle, false));
    m.assert_rejected(&user, MarginError::HealthAccountsExtra, |m| withdraw_with(m, &user, health));
}

#[test]
fn a_duplicated_health_bank_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let mut health = m.health_accounts(&user);
    let first = (health[0].clone(), health[1].clone());
    health[2] = first.0;
    health[3] = first.1;
    m.assert_rejected(&user, MarginError::HealthBankDuplicate, |m| withdraw_with(m, &user, health));
}

#[test]
fn health_banks_out_of_order_are_rejected() {
    let (mut m, user) = market_with_borrower();
    let mut health = m.health_accounts(&user);
    health.swap(0, 2);
    health.swap(1, 3);
    m.assert_rejected(&user, MarginError::HealthBankMismatch, |m| withdraw_with(m, &user, health));
}

#[test]
fn a_health_bank_from_another_group_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (_, foreign) = m.other_group_bank();
    let mut health = m.health_accounts(&user);
    // The USDC borrow's slot, given the other group's USDC bank and its (valid) oracle.
    health[2] = AccountMeta::new_readonly(foreign.address, false);
    health[3] = AccountMeta::new_readonly(foreign.oracle, false);
    m.assert_rejected(&user, MarginError::HealthBankWrongGroup, |m| {
        withdraw_with(m, &user, health)
    });
}

#[test]
fn a_health_account_that_is_not_a_bank_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let group = m.group;
    let mut health = m.health_accounts(&user);
    health[2] = AccountMeta::new_readonly(group, false);
    m.assert_rejected(&user, MarginError::HealthBankInvalid, |m| withdraw_with(m, &user, health));
}

// --- group switches and limits ---

// What a pause stops (withdraw and borrow only) is tested in `pause_overflow_info.rs` (L-6).

#[test]
fn reduce_only_blocks_borrows_and_new_deposits_but_not_repay_or_withdraw() {
    let (mut m, user) = market_with_borrower();
    let (usdc, sol) = (m.usdc, m.sol);
    let admin = m.admin.insecure_clone();
    let ix = ix::configure_group(
        m.group,
        admin.pubkey(),
        GroupConfigOptions { reduce_only: Some(true), ..Default::default() },
    );
    m.chain.send(&[ix], &[&admin]).expect_ok("reduce-only");
    m.assert_rejected(&user, MarginError::GroupReduceOnly, |m| m.borrow(&user, &usdc, 1_000));
    m.assert_rejected(&user, MarginError::GroupReduceOnly, |m| m.deposit(&user, &sol, 1_000));
    m.repay(&user, &usdc, 1_000).expect_ok("repay in reduce-only");
    m.withdraw(&user, &sol, 1_000).expect_ok("withdraw in reduce-only");
    // A deposit that only repays a borrow is allowed too.
    m.deposit(&user, &usdc, 1_000).expect_ok("deposit that repays");
}

#[test]
fn deposit_and_borrow_limits_are_enforced() {
    let (mut m, user) = market_with_borrower();
    let (usdc, sol) = (m.usdc, m.sol);
    let admin = m.admin.insecure_clone();
    // SOL: 10,000 SOL (lender) + 10 SOL (user) deposited; cap at exactly that + 1 lamport.
    let sol_total = m.bank(&sol).total_deposits_native().unwrap();
    let mut config = bank_config(
        cross_margin::state::OracleKind::PythPull,
        sol.index,
        [8_000, 9_000, 11_000, 12_000],
    );
    config.deposit_limit_native = sol_total + 1;
    let ix = ix::configure_bank(m.group, admin.pubkey(), sol.address, sol.oracle, config);
    m.chain.send(&[ix], &[&admin]).expect_ok("cap SOL deposits");
    m.assert_rejected(&user, MarginError::DepositLimitExceeded, |m| m.deposit(&user, &sol, 2));
    m.deposit(&user, &sol, 1).expect_ok("deposit up to the cap");

    let usdc_borrowed = m.bank(&usdc).total_borrows_native().unwrap();
    let mut config = bank_config(
        cross_margin::state::OracleKind::PythPull,
        usdc.index,
        [9_500, 9_800, 10_200, 10_500],
    );
    config.borrow_limit_native = usdc_borrowed + 10;
    let ix = ix::configure_bank(m.group, admin.pubkey(), usdc.address, usdc.oracle, config);
    m.chain.send(&[ix], &[&admin]).expect_ok("cap USDC borrows");
    m.assert_rejected(&user, MarginError::BorrowLimitExceeded, |m| m.borrow(&user, &usdc, 11));
    m.borrow(&user, &usdc, 10).expect_ok("borrow up to the cap");
}
