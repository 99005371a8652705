//! Flash loans on the real SBF build: a liquidator with no capital liquidates, sells the seized
//! collateral and repays in one transaction; a user swaps collateral; and every misuse is
//! refused with its named error, changing nothing.
//!
//! The swap leg is a real SPL Token trade with a second signer (a market maker) in the same
//! transaction: the flash-loan checks do not depend on which program the swap goes through.

use anchor_lang::prelude::AccountMeta;
use cross_margin::constants::HEALTH_CHECK_DEFERRED;
use cross_margin::events::{FlashLoanBegun, FlashLoanEnded, Liquidation, TokenMovement};
use cross_margin::positions;
use cross_margin_client::ix;
use cross_margin_tests::flash_loans::*;
use cross_margin_tests::market::*;
use cross_margin_tests::*;

#[test]
fn a_liquidator_with_no_capital_liquidates_sells_and_repays_in_one_transaction() {
    let (mut m, liquidatee, liquidator, maker) = zero_capital_setup();
    let usdc = m.usdc;
    assert!(m.margin_account(&liquidator).is_empty());
    assert!(liquidator.tokens.iter().all(|token| m.chain.token_balance(token) == 0));

    // Outside a flash loan the same liquidation is refused: the liquidator cannot carry the
    // debt (1.12 SOL × $93.75 × 0.8 = $84 of init collateral against $105 of init liability).
    m.assert_rejected(&liquidator, MarginError::LiquidatorInitHealthNegative, |m| {
        let sol = m.sol;
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, TAKEN_OVER)
    });

    let instructions = liquidate_sell_repay(&m, &liquidator, &liquidatee, &maker);
    let signers = [&liquidator.keypair, &maker.keypair];
    let executed = m.chain.send(&instructions, &signers).expect_ok("flash-loan liquidation");

    let liquidation = &executed.events::<Liquidation>()[0];
    assert_eq!(liquidation.liab_amount, TAKEN_OVER);
    assert_eq!(liquidation.asset_to_liquidator, 1_120_000_000);
    assert_eq!(liquidation.liquidator_init_health_after, HEALTH_CHECK_DEFERRED);
    let withdrawal = executed.events::<TokenMovement>();
    assert_eq!(withdrawal[0].init_health_after, HEALTH_CHECK_DEFERRED);
    let begun = &executed.events::<FlashLoanBegun>()[0];
    assert_eq!((begun.account, begun.begin_index, begun.end_index), (liquidator.account, 0, 6));
    assert_eq!(executed.events::<FlashLoanEnded>()[0].init_health, 0);

    // The liquidator ends with nothing in its account and the profit in its wallet: the sale
    // proceeds less the debt it repaid.
    let account = m.margin_account(&liquidator);
    assert!(account.is_empty() && !account.is_in_flash_loan());
    let profit = m.chain.token_balance(&liquidator.tokens[usdc.index as usize]);
    assert_eq!(profit, SWAP_PROCEEDS - TAKEN_OVER);
    // The liquidatee paid exactly as in a capital-backed liquidation.
    let liquidatee_account = m.margin_account(&liquidatee);
    assert_eq!(positions::borrow_native(&liquidatee_account, &m.bank(&usdc)), Ok(800_000_000));
    m.assert_conservation();

    let cu = cu_per_instruction(&executed);
    assert_eq!(cu.len(), instructions.len());
    assert_cu_units("flash_loan_begin (end 6 later)", cu[0], budget::FLASH_LOAN_BEGIN);
    assert_cu_units("flash_loan_end (no risk left)", cu[6], budget::FLASH_LOAN_END_EMPTY);
}

#[test]
fn the_flash_loan_liquidation_fails_whole_when_the_liquidator_ends_below_zero() {
    let (mut m, liquidatee, liquidator, _maker) = zero_capital_setup();
    let (usdc, sol) = (m.usdc, m.sol);
    // Liquidate but keep the inventory: the end finds the liquidator at init health −$21.
    let after = ix::liquidator_after(
        &m.margin_account(&liquidator),
        &m.bank(&usdc),
        TAKEN_OVER,
        &m.bank(&sol),
        1_120_000_000,
        m.now(),
    );
    let liquidate = ix::liquidate(
        m.group,
        liquidator.account,
        liquidator.keypair.pubkey(),
        liquidatee.account,
        usdc.address,
        sol.address,
        TAKEN_OVER,
        m.health_accounts(&liquidatee),
        Vec::new(),
    );
    let end = flash_loan_end_ix(&m, &liquidator, m.health_accounts_of(&after));
    m.assert_rejected(&liquidator, MarginError::InitHealthNegative, |m| {
        m.chain.send(&[flash_loan_begin_ix(&liquidator), liquidate, end], &[&liquidator.keypair])
    });
}

#[test]
fn a_user_swaps_its_collateral_inside_a_flash_loan() {
    let (mut m, user) = market_with_borrower();
    let maker = m.user([0, 0, 1_000_000_000]);
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    // Withdrawing all 10 SOL alone would leave the 100 USDC borrow uncovered.
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        m.withdraw(&user, &sol, 10_000_000_000)
    });

    // 10 SOL ($1,250) for 0.0125 BTC ($1,250), then deposited.
    let btc_bought = 1_250_000;
    let mut after = m.margin_account(&user);
    let (mut sol_bank, mut btc_bank) = (m.bank(&sol), m.bank(&btc));
    positions::withdraw(&mut after, &mut sol_bank, 10_000_000_000).expect("the SOL deposit");
    positions::deposit(&mut after, &mut btc_bank, btc_bought).expect("a BTC deposit");
    let mut instructions = vec![flash_loan_begin_ix(&user)];
    instructions.push(ix::withdraw(&m.transfer(&user, &sol), 10_000_000_000, Vec::new()));
    instructions.extend(swap(&user, &maker, &sol, 10_000_000_000, &btc, btc_bought));
    instructions.push(ix::deposit(&m.transfer(&user, &btc), btc_bought));
    instructions.push(flash_loan_end_ix(&m, &user, m.health_accounts_of(&after)));
    let executed =
        m.chain.send(&instructions, &[&user.keypair, &maker.keypair]).expect_ok("collateral swap");

    let account = m.margin_account(&user);
    assert_eq!(positions::deposit_native(&account, &m.bank(&sol)), Ok(0));
    assert_eq!(positions::deposit_native(&account, &m.bank(&btc)), Ok(btc_bought));
    assert_eq!(positions::borrow_native(&account, &m.bank(&usdc)), Ok(100_000_000));
    // 0.0125 BTC × $100,000 × 0.85 = $1,062.5 − 100 × 1.05 = $957.5 at the end.
    assert_eq!(executed.events::<FlashLoanEnded>()[0].init_health, 957_500_000);
    let health = m.health(&user).0;
    assert_eq!(health.init, 957_500_000);
}

#[test]
fn a_begin_without_an_end_is_refused() {
    let (mut m, user) = market_with_borrower();
    let usdc = m.usdc;
    m.assert_rejected(&user, MarginError::FlashLoanEndMissing, |m| {
        let borrow = ix::borrow(&m.transfer(&user, &usdc), 1_000_000, Vec::new());
        m.chain.send(&[flash_loan_begin_ix(&user), borrow], &[&user.keypair])
    });
}

#[test]
fn two_begins_before_an_end_are_refused() {
    let (mut m, user) = market_with_borrower();
    let health = m.health_accounts(&user);
    m.assert_rejected(&user, MarginError::FlashLoanNested, |m| {
        let instructions = [
            flash_loan_begin_ix(&user),
            flash_loan_begin_ix(&user),
            flash_loan_end_ix(m, &user, health),
        ];
        m.chain.send(&instructions, &[&user.keypair])
    });
    // Two accounts' brackets may not overlap either.
    let other = m.user([0, 0, 0]);
    let health = m.health_accounts(&user);
    m.assert_rejected(&user, MarginError::FlashLoanNested, |m| {
        let instructions = [
            flash_loan_begin_ix(&user),
            flash_loan_begin_ix(&other),
            flash_loan_end_ix(m, &other, Vec::new()),
            flash_loan_end_ix(m, &user, health),
        ];
        m.chain.send(&instructions, &[&user.keypair, &other.keypair])
    });
}

#[test]
fn an_end_for_another_account_is_refused() {
    let (mut m, user) = market_with_borrower();
    let other = m.user([0, 0, 0]);
    m.assert_rejected(&user, MarginError::FlashLoanEndAccountMismatch, |m| {
        let instructions = [flash_loan_begin_ix(&user), flash_loan_end_ix(m, &other, Vec::new())];
        m.chain.send(&instructions, &[&user.keypair, &other.keypair])
    });
}

#[test]
fn an_end_without_a_begin_is_refused() {
    let (mut m, user) = market_with_borrower();
    let health = m.health_accounts(&user);
    m.assert_rejected(&user, MarginError::FlashLoanNotActive, |m| {
        let instructions = [flash_loan_end_ix(m, &user, health)];
        m.chain.send(&instructions, &[&user.keypair])
    });
    // Nor may one bracket end twice.
    let health = m.health_accounts(&user);
    m.assert_rejected(&user, MarginError::FlashLoanNotActive, |m| {
        let instructions = [
            flash_loan_begin_ix(&user),
            flash_loan_end_ix(m, &user, health.clone()),
            flash_loan_end_ix(m, &user, health),
        ];
        m.chain.send(&instructions, &[&user.keypair])
    });
}

#[test]
fn a_flash_loan_ending_below_zero_is_refused() {
    let (mut m, user) = market_with_borrower();
    let usdc = m.usdc;
    // 10 SOL × $125 × 0.8 = $1,000 of init collateral: 900 more USDC (1,000 × 1.05) is too much.
    let after = {
        let mut account = m.margin_account(&user);
        let mut bank = m.bank(&usdc);
        positions::borrow(&mut account, &mut bank, 900_000_000).expect("a borrow");
        account
    };
    let health = m.health_accounts_of(&after);
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| {
        let borrow = ix::borrow(&m.transfer(&user, &usdc), 900_000_000, Vec::new());
        let instructions =
            [flash_loan_begin_ix(&user), borrow, flash_loan_end_ix(m, &user, health)];
        m.chain.send(&instructions, &[&user.keypair])
    });
}

/// The test-only CPI forwarder program, loaded next to cross_margin.
fn with_forwarder(m: &mut Market) -> Pubkey {
    let path = cross_margin_client::embedded::program_so_path().with_file_name("cpi_forwarder.so");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; build it with scripts/build-sbf.sh", path.display()));
    let id = m.chain.new_pubkey();
    m.chain.svm.add_program(id, &bytes).expect("the forwarder loads");
    id
}

/// `instruction` invoked through the forwarder (the program id first, then its accounts).
fn through_cpi(forwarder: Pubkey, instruction: Instruction) -> Instruction {
    let mut accounts = vec![AccountMeta::new_readonly(instruction.program_id, false)];
    accounts.extend(instruction.accounts);
    Instruction { program_id: forwarder, accounts, data: instruction.data }
}

#[test]
fn begin_and_end_through_cpi_are_refused() {
    let (mut m, user) = market_with_borrower();
    let forwarder = with_forwarder(&mut m);
    let health = m.health_accounts(&user);
    m.assert_rejected(&user, MarginError::FlashLoanCpi, |m| {
        let instructions = [
            through_cpi(forwarder, flash_loan_begin_ix(&user)),
            flash_loan_end_ix(m, &user, health),
        ];
        m.chain.send(&instructions, &[&user.keypair])
    });
    let health = m.health_accounts(&user);
    m.assert_rejected(&user, MarginError::FlashLoanCpi, |m| {
        let cpi_end = through_cpi(forwarder, flash_loan_end_ix(m, &user, health.clone()));
        let instructions =
            [flash_loan_begin_ix(&user), cpi_end, flash_loan_end_ix(m, &user, health)];
        m.chain.send(&instructions, &[&user.keypair])
    });
}

#[test]
fn an_account_inside_a_flash_loan_cannot_be_liquidated_or_closed() {
    let (mut m, liquidatee, liquidator, _maker) = zero_capital_setup();
    let (usdc, sol) = (m.usdc, m.sol);
    let health = m.health_accounts(&liquidatee);
    // The liquidatee opens a bracket and a (cooperating) liquidator tries to liquidate it.
    let liquidate = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, TAKEN_OVER);
    m.assert_rejected(&liquidatee, MarginError::AccountInFlashLoan, |m| {
        let instructions = [
            flash_loan_begin_ix(&liquidatee),
            liquidate,
            flash_loan_end_ix(m, &liquidatee, health),
        ];
        m.chain.send(&instructions, &[&liquidatee.keypair, &liquidator.keypair])
    });
    m.assert_rejected(&liquidator, MarginError::AccountInFlashLoan, |m| {
        let close = ix::close_account(liquidator.account, liquidator.keypair.pubkey());
        let instructions = [
            flash_loan_begin_ix(&liquidator),
            close,
            flash_loan_end_ix(m, &liquidator, Vec::new()),
        ];
        m.chain.send(&instructions, &[&liquidator.keypair])
    });
}

#[test]
fn begin_checks_its_signer_and_the_sysvar() {
    let (mut m, user) = market_with_borrower();
    let other = m.user([0, 0, 0]);
    let health = m.health_accounts(&user);
    // Another wallet cannot open a flash loan on the user's account.
    m.assert_rejected(&user, MarginError::NotAccountOwner, |m| {
        let begin = ix::flash_loan_begin(user.account, other.keypair.pubkey());
        let instructions = [begin, flash_loan_end_ix(m, &user, health)];
        m.chain.send(&instructions, &[&other.keypair, &user.keypair])
    });
    // A fake instructions sysvar cannot hide the missing end.
    let fake = m.chain.new_pubkey();
    m.assert_rejected(&user, MarginError::WrongInstructionsSysvar, |m| {
        let mut begin = flash_loan_begin_ix(&user);
        begin.accounts[2].pubkey = fake;
        m.chain.send(&[begin], &[&user.keypair])
    });
}
