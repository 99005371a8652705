//! The Solana attack classes of the adversarial catalogue (docs/SECURITY.md): missing signer and
//! owner checks, type cosplay, account substitution, PDA sharing, arbitrary CPI, bump
//! canonicalization, closing and reinitialization. Each rejection asserts its own error and that
//! no account changed. The findings' regressions and the protocol's attack classes are in
//! `security.rs`.

use anchor_lang::error::ErrorCode as AnchorError;
use anchor_lang::prelude::AccountMeta;
use cross_margin::state::GroupConfigOptions;
use cross_margin::state::{MarginAccount, OracleKind};
use cross_margin_client::ix::{self, Movement};
use cross_margin_client::pyth;
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

// ================================================================ missing signer checks

#[test]
fn withdraw_and_borrow_need_the_owners_signature() {
    let (mut m, user) = market_with_borrower();
    let (usdc, sol) = (m.usdc, m.sol);
    let owner = user.keypair.pubkey();
    let health = m.health_after(&user, &sol, Movement::Withdraw, 1_000);
    let ix = unsigned(ix::withdraw(&m.transfer(&user, &sol), 1_000, health), owner);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountNotSigner, |m| m.chain.send(&[ix], &[]));
    let health = m.health_after(&user, &usdc, Movement::Borrow, 1_000);
    let ix = unsigned(ix::borrow(&m.transfer(&user, &usdc), 1_000, health), owner);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountNotSigner, |m| m.chain.send(&[ix], &[]));
}

#[test]
fn liquidation_needs_the_liquidators_signature() {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let ix = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 1_000_000);
    let ix = unsigned(ix, liquidator.keypair.pubkey());
    m.assert_rejected_by_anchor(&liquidatee, AnchorError::AccountNotSigner, |m| {
        m.chain.send(&[ix], &[])
    });
}

#[test]
fn close_account_needs_the_owners_signature() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let ix =
        unsigned(ix::close_account(user.account, user.keypair.pubkey()), user.keypair.pubkey());
    m.assert_rejected_by_anchor(&user, AnchorError::AccountNotSigner, |m| m.chain.send(&[ix], &[]));
    assert!(m.chain.account(&user.account).is_some());
}

#[test]
fn admin_instructions_need_the_admins_signature() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let (group, admin, usdc) = (m.group, m.admin.pubkey(), m.usdc);
    let ix = unsigned(
        ix::configure_group(
            group,
            admin,
            GroupConfigOptions { paused: Some(true), ..Default::default() },
        ),
        admin,
    );
    m.assert_rejected_by_anchor(&user, AnchorError::AccountNotSigner, |m| m.chain.send(&[ix], &[]));
    let source = m.chain.create_token_account(&usdc.mint, &admin, 1_000);
    let ix = unsigned(ix::fund_insurance(group, admin, &usdc, source, 1_000), admin);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountNotSigner, |m| m.chain.send(&[ix], &[]));
    assert_eq!(m.bank(&usdc).insurance_native, 0);
}

// ================================================================ missing owner checks

/// A byte-for-byte copy of a bank in an account another program owns.
fn forged_bank(m: &mut Market, bank: &Pubkey) -> Pubkey {
    let data = m.chain.account(bank).unwrap().data;
    let forged = m.chain.new_pubkey();
    let owner = m.chain.new_pubkey();
    m.chain.set_account(forged, owner, data);
    forged
}

#[test]
fn a_bank_copied_into_another_programs_account_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let forged = forged_bank(&mut m, &sol.address);
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.address = forged;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountOwnedByWrongProgram, |m| {
        send(m, ix, &user)
    });
}

#[test]
fn a_copied_bank_is_not_accepted_as_a_health_bank() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let usdc = m.usdc.address;
    let forged = forged_bank(&mut m, &usdc);
    let mut health = m.health_after(&user, &sol, Movement::Withdraw, 1_000);
    let slot = health.iter().position(|a| a.pubkey == m.usdc.address).unwrap();
    health[slot] = AccountMeta::new_readonly(forged, false);
    let ix = ix::withdraw(&m.transfer(&user, &sol), 1_000, health);
    m.assert_rejected(&user, MarginError::HealthBankInvalid, |m| send(m, ix, &user));
}

#[test]
fn a_margin_account_copied_into_another_programs_account_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let data = m.chain.account(&user.account).unwrap().data;
    let forged = m.chain.new_pubkey();
    let owner = m.chain.new_pubkey();
    m.chain.set_account(forged, owner, data);
    let mut transfer = m.transfer(&user, &sol);
    transfer.account = forged;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountOwnedByWrongProgram, |m| {
        send(m, ix, &user)
    });
}

// ================================================================ type cosplay

#[test]
fn a_margin_account_passed_as_a_bank_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.address = user.account;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountDiscriminatorMismatch, |m| {
        send(m, ix, &user)
    });
}

#[test]
fn a_bank_passed_as_the_group_or_the_account_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let mut transfer = m.transfer(&user, &sol);
    transfer.group = sol.address;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountDiscriminatorMismatch, |m| {
        send(m, ix, &user)
    });
    let mut transfer = m.transfer(&user, &sol);
    transfer.account = sol.address;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected_by_anchor(&user, AnchorError::AccountDiscriminatorMismatch, |m| {
        send(m, ix, &user)
    });
}

#[test]
fn a_margin_account_passed_as_a_health_bank_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (sol, usdc) = (m.sol, m.usdc);
    let mut health = m.health_after(&user, &sol, Movement::Withdraw, 1_000);
    let slot = health.iter().position(|a| a.pubkey == usdc.address).unwrap();
    health[slot] = AccountMeta::new_readonly(user.account, false);
    let ix = ix::withdraw(&m.transfer(&user, &sol), 1_000, health);
    m.assert_rejected(&user, MarginError::HealthBankInvalid, |m| send(m, ix, &user));
}

#[test]
fn a_pull_update_written_as_the_legacy_oracle_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (btc, sol) = (m.btc, m.sol);
    m.deposit(&user, &btc, 1_000_000).expect_ok("BTC deposit");
    // A fully verified PriceUpdateV2 in the BTC bank's (legacy) oracle account, legacy-owned.
    let data =
        pyth::price_update_v2(feed_id(btc.index), quote_dollars(1_000_000, 0, m.now()), true);
    let legacy = m.legacy_program;
    m.chain.set_account(btc.oracle, legacy, data);
    m.assert_rejected(&user, MarginError::OracleInvalidAccount, |m| m.withdraw(&user, &sol, 1));
}

// ================================================================ account substitution

#[test]
fn a_liquidator_account_of_someone_else_is_rejected() {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let thief = m.user([0, 0, 0]);
    let mut ix = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 1_000_000);
    // The liquidator's margin account, signed for by someone else.
    ix.accounts[2] = AccountMeta::new_readonly(thief.keypair.pubkey(), true);
    m.assert_rejected(&liquidatee, MarginError::NotAccountOwner, |m| send(m, ix, &thief));
}

#[test]
fn resolve_bankruptcy_rejects_a_bank_of_another_group() {
    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let (_, foreign) = m.other_group_bank();
    let health = m.health_accounts(&liquidatee);
    let ix = ix::resolve_bankruptcy(m.group, liquidatee.account, foreign.address, health);
    m.assert_rejected(&liquidatee, MarginError::WrongGroup, |m| m.chain.send(&[ix], &[]));
}

// ================================================================ PDA sharing

/// Every bank signs only for its own vault: a withdrawal naming another bank's vault (which
/// the other bank's PDA, not this one, could sign for) is refused before any transfer.
#[test]
fn withdrawing_from_another_banks_vault_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (sol, btc) = (m.sol, m.btc);
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.vault = btc.vault;
    let health = m.health_after(&user, &sol, Movement::Withdraw, 1_000);
    let ix = ix::withdraw(&transfer, 1_000, health);
    m.assert_rejected(&user, MarginError::WrongVault, |m| send(m, ix, &user));
}

/// The same mint in two groups gives two banks and two vaults: one group's bank cannot pay out
/// of the other's vault.
#[test]
fn a_same_mint_bank_of_another_group_cannot_use_this_vault() {
    let (mut m, user) = market_with_borrower();
    let (other_group, foreign) = m.other_group_bank();
    let usdc = m.usdc;
    assert_eq!(foreign.mint, usdc.mint);
    assert_ne!(foreign.vault, usdc.vault);
    let mut transfer = m.transfer(&user, &usdc);
    transfer.group = other_group;
    transfer.bank = foreign;
    transfer.bank.vault = usdc.vault;
    let ix = ix::withdraw(&transfer, 1_000, vec![]);
    m.assert_rejected(&user, MarginError::WrongGroup, |m| send(m, ix, &user));
}

// ================================================================ arbitrary CPI

#[test]
fn a_program_that_is_not_a_token_program_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let mut transfer = m.transfer(&user, &sol);
    transfer.bank.token_program = anchor_lang::system_program::ID;
    let ix = ix::deposit(&transfer, 1_000);
    m.assert_rejected_by_anchor(&user, AnchorError::InvalidProgramId, |m| send(m, ix, &user));
}

// ================================================================ bump canonicalization

/// A program address for the same seeds with a bump below the canonical one.
fn non_canonical(seeds: &[&[u8]]) -> Pubkey {
    let (_, canonical) = Pubkey::find_program_address(seeds, &cross_margin::ID);
    (0..canonical)
        .rev()
        .find_map(|bump| {
            let mut with_bump = seeds.to_vec();
            let bump = [bump];
            with_bump.push(&bump);
            Pubkey::create_program_address(&with_bump, &cross_margin::ID).ok()
        })
        .expect("some lower bump is off the curve")
}

#[test]
fn a_margin_account_at_a_non_canonical_address_is_rejected() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let owner = m.chain.funded_keypair(1_000_000_000).unwrap();
    let (mut ix, _) = ix::create_account(m.group, owner.pubkey(), owner.pubkey(), 9);
    let address = non_canonical(&[
        cross_margin::constants::ACCOUNT_SEED,
        m.group.as_ref(),
        owner.pubkey().as_ref(),
        &9u32.to_le_bytes(),
    ]);
    ix.accounts[1].pubkey = address;
    m.assert_rejected_by_anchor(&user, AnchorError::ConstraintSeeds, |m| {
        m.chain.send(&[ix], &[&owner])
    });
    assert!(m.chain.account(&address).is_none());
}

#[test]
fn a_bank_at_a_non_canonical_address_is_rejected() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.insecure_clone();
    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let oracle = m.chain.new_pubkey();
    let quote = quote_dollars(1, 0, m.now());
    m.write_oracle(OracleKind::PythPull, oracle, 3, quote, true);
    let config = bank_config(OracleKind::PythPull, 3, [9_000, 9_500, 10_500, 11_000]);
    let (mut ix, _, _) = ix::add_bank(
        m.group,
        admin.pubkey(),
        admin.pubkey(),
        mint,
        anchor_spl::token::ID,
        oracle,
        config,
    );
    let address =
        non_canonical(&[cross_margin::constants::BANK_SEED, m.group.as_ref(), mint.as_ref()]);
    ix.accounts[4].pubkey = address;
    m.assert_rejected_by_anchor(&user, AnchorError::ConstraintSeeds, |m| {
        m.chain.send(&[ix], &[&admin])
    });
    assert!(m.chain.account(&address).is_none());
}

// ================================================================ closing and reinitialization

#[test]
fn a_bank_cannot_be_added_twice() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.insecure_clone();
    let sol = m.sol;
    let config = bank_config(OracleKind::PythPull, 1, [1_000, 2_000, 20_000, 30_000]);
    let (ix, bank, _) = ix::add_bank(
        m.group,
        admin.pubkey(),
        admin.pubkey(),
        sol.mint,
        anchor_spl::token::ID,
        sol.oracle,
        config,
    );
    assert_eq!(bank, sol.address);
    // The system program refuses to create the existing bank again (its error 0).
    let before = m.snapshot(&user);
    m.chain.send(&[ix], &[&admin]).expect_custom_code(0);
    before.assert_unchanged(&m.chain);
    assert_eq!(m.bank(&sol).config.init_asset_weight_bps, 8_000);
}

#[test]
fn a_closed_account_cannot_be_used() {
    let mut m = Market::new();
    let user = m.user([0, 1_000_000_000, 0]);
    let sol = m.sol;
    let ix = ix::close_account(user.account, user.keypair.pubkey());
    send(&mut m, ix, &user).expect_ok("close");
    // Closed: no lamports, no data, and so no longer the program's.
    m.assert_rejected_by_anchor(&user, AnchorError::AccountOwnedByWrongProgram, |m| {
        m.deposit(&user, &sol, 1_000)
    });
}

/// Closing and refunding the address in the same transaction does not bring the account back:
/// it belongs to the system program and holds no data.
#[test]
fn a_closed_account_cannot_be_revived_in_the_same_transaction() {
    let mut m = Market::new();
    let user = m.user([0, 1_000_000_000, 0]);
    let sol = m.sol;
    let rent = m.chain.account(&user.account).unwrap().lamports;
    let close = ix::close_account(user.account, user.keypair.pubkey());
    let refund = anchor_lang::solana_program::system_instruction::transfer(
        &user.keypair.pubkey(),
        &user.account,
        rent,
    );
    let deposit = ix::deposit(&m.transfer(&user, &sol), 1_000);
    let before = m.snapshot(&user);
    m.chain
        .send(&[close, refund, deposit], &[&user.keypair])
        .expect_anchor_error(AnchorError::AccountOwnedByWrongProgram);
    before.assert_unchanged(&m.chain);
}

#[test]
fn a_recreated_account_starts_empty() {
    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let usdc = m.usdc;
    m.fund_insurance(&usdc, 1_000_000_000).expect_ok("fund");
    m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("resolve");
    let ix = ix::close_account(liquidatee.account, liquidatee.keypair.pubkey());
    send(&mut m, ix, &liquidatee).expect_ok("close");
    let owner = liquidatee.keypair.pubkey();
    let (ix, account) = ix::create_account(m.group, owner, owner, 0);
    assert_eq!(account, liquidatee.account);
    send(&mut m, ix, &liquidatee).expect_ok("re-create");
    let stored: MarginAccount = m.chain.load(&account).unwrap();
    assert!(stored.is_empty());
    assert_eq!((stored.bankrupt, stored.being_liquidated), (0, 0));
}
