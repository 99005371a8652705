//! Regression tests for issue 14's findings L-6 (what a pause stops), L-7 (interest overflow) and
//! the four info items (oracle publish time in the future, worthless deposit shares, the
//! interest-bearing Token-2022 extension; `write_authority` is an accepted risk, see
//! docs/SECURITY.md). Each is named after its finding and fails on the program before the fix.

use cross_margin::events::{BankruptcyResolved, Liquidation};
use cross_margin::math::ONE_Q64;
use cross_margin::positions;
use cross_margin::state::GroupConfigOptions;
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
    let lender = m.user([1_000_000_000, 0, 0]);
    let user = m.user([1_000_000_000, 20_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&lender, &usdc, 1_000_000_000).expect_ok("lend USDC");
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &usdc, 500_000_000).expect_ok("borrow USDC: 50% utilization, 6.25% APR");
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
    // At the cap, less the 1,000 units (and the shares' rounding) the touch withdrew.
    assert!(deposits >= u64::MAX - 1_005, "deposits at the cap: {deposits}");
    assert!(borrows < deposits);
    let uncapped = 8_000_000_000_000_000_000u128 * 277 / 100; // 1 + 59% × 3 years
    assert!((borrows as u128) < uncapped, "interest was capped: {borrows}");

    // A year later nothing more is charged, and nothing fails.
    m.chain.warp_seconds(YEAR);
    m.withdraw(&lender, &bonk, 1_000).expect_ok("accrual at the cap");
    // (At most the room the 1,000-unit withdrawal and its shares' rounding freed.)
    let borrows_at_cap = m.bank(&bonk).total_borrows_native().unwrap();
    assert!(borrows_at_cap - borrows <= 1_005, "{borrows_at_cap} vs {borrows}");
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

// ================================================================ info items

/// Info: a publish time 11.6 days ahead of the chain's clock was accepted and stayed "fresh"
/// until 11.6 days after it. More than ORACLE_MAX_FUTURE_SECS (60 s) ahead is refused now.
#[test]
fn info_publish_time_in_the_future_is_refused() {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &usdc, 100_000_000).expect_ok("borrow USDC");
    let now = m.now();
    m.set_price(&sol, quote_dollars(125, 0, now + 1_000_000));
    m.assert_rejected(&user, MarginError::OraclePublishTimeInFuture, |m| {
        m.withdraw(&user, &sol, 1_000)
    });
    m.set_price(&sol, quote_dollars(125, 0, now + 61));
    m.assert_rejected(&user, MarginError::OraclePublishTimeInFuture, |m| {
        m.borrow(&user, &usdc, 1_000)
    });
    // Up to 60 s ahead is clock drift, accepted.
    m.set_price(&sol, quote_dollars(125, 0, now + 60));
    m.withdraw(&user, &sol, 1_000).expect_ok("60 s ahead");
}

/// Info: deposit shares worth zero native units (here one share after a socialized loss put
/// the USDC deposit index below one) could never be withdrawn, so the account could never be
/// closed. `close_account` burns them when given their bank; nothing worth a unit is burned.
#[test]
fn info_worthless_deposit_shares_do_not_block_closing() {
    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let usdc = m.usdc;
    m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("socialize the loss");
    assert!(m.bank(&usdc).deposit_index() < ONE_Q64);
    let user = m.user([10, 0, 0]);
    m.deposit(&user, &usdc, 1).expect_ok("one unit: one share, worth zero");
    let account = m.margin_account(&user);
    assert_eq!(positions::deposit_native(&account, &m.bank(&usdc)), Ok(0));
    m.assert_rejected(&user, MarginError::InsufficientDeposit, |m| m.withdraw(&user, &usdc, 1));
    let owner = user.keypair.insecure_clone();
    let close = ix::close_account(user.account, owner.pubkey());
    m.assert_rejected(&user, MarginError::AccountNotEmpty, |m| m.chain.send(&[close], &[&owner]));
    // The wrong bank, or a bank missing, is refused.
    let sol = m.sol;
    let wrong = ix::close_account_burning(user.account, owner.pubkey(), &[sol.address]);
    m.assert_rejected(&user, MarginError::CloseAccountBankMismatch, |m| {
        m.chain.send(&[wrong], &[&owner])
    });

    let shares_before = m.bank(&usdc).total_deposit_shares;
    let burn = ix::close_account_burning(user.account, owner.pubkey(), &[usdc.address]);
    m.chain.send(&[burn], &[&owner]).expect_ok("close, burning the worthless share");
    assert!(m.chain.account(&user.account).is_none());
    assert_eq!(m.bank(&usdc).total_deposit_shares, shares_before - 1);

    // A deposit worth a unit or more is not burned.
    let holder = m.user([1_000_000, 0, 0]);
    m.deposit(&holder, &usdc, 1_000_000).expect_ok("deposit");
    let owner = holder.keypair.insecure_clone();
    let burn = ix::close_account_burning(holder.account, owner.pubkey(), &[usdc.address]);
    m.assert_rejected(&holder, MarginError::AccountNotEmpty, |m| m.chain.send(&[burn], &[&owner]));
}

/// Info: `InterestBearingConfig` was on the Token-2022 allow-list, but its UI amount grows by a
/// rate the mint authority sets while the oracle prices the token, so the bank's valuation and
/// the token's displayed amount disagree. Such mints are refused now.
#[test]
fn info_interest_bearing_token_2022_mints_are_refused() {
    use anchor_spl::token_2022::spl_token_2022::extension::interest_bearing_mint::InterestBearingConfig;
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let mint = m.token_2022_mint_with::<InterestBearingConfig>(|config| {
        config.current_rate = 500.into(); // 5% a year on the UI amount
    });
    m.assert_rejected_token_2022_mint(&user, mint);
}
