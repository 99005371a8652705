//! Liquidation under adversity (issue 14's findings), on the real SBF build: each test is named
//! after its finding and failed on the program before the fix.

use anchor_lang::prelude::AccountMeta;
use cross_margin::events::{CollateralSeized, Liquidation};
use cross_margin::math::ONE_Q64;
use cross_margin::positions;
use cross_margin::state::OracleKind;
use cross_margin_client::pyth::Quote;
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

/// A BTC token account of `user`'s holding one satoshi.
fn give_one_satoshi(m: &mut Market, user: &mut User) {
    let mint = m.btc.mint;
    user.tokens[2] = m.chain.create_token_account(&mint, &user.keypair.pubkey(), 1);
}

/// `quote` published `age` seconds before `now` (the banks accept 60 s).
fn aged(quote: Quote, age: i64) -> Quote {
    Quote { publish_time: quote.publish_time - age, ..quote }
}

/// M-3: with a 2% confidence on both feeds (k = 1), health is judged at $1.02 per USDC and
/// $91.875 per SOL, but the exchange is at the oracle prices: the liquidator receives exactly the
/// bank's 5% bonus and the fund its 1%, as with a zero confidence
/// (`liquidation.rs::one_step_with_exact_amounts`), not the 9.29% / 10.33% the widened prices
/// paid before.
#[test]
fn m3_a_wide_confidence_does_not_raise_the_liquidation_fee() {
    // 850 USDC: solvent at the widened prices ($918.75 against $867), so no cap on the fees.
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(850_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let now = m.now();
    let sol_quote = Quote { price: 937_500, conf: 18_750, exponent: -4, publish_time: now };
    m.set_price(&sol, sol_quote); // $93.75 ± $1.875
    m.set_price(&usdc, quote_dollars(1, 200, now)); // $1 ± $0.02
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, 100_000_000).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!(event.liab_amount, 100_000_000);
    // $105 at $93.75 = 1.12 SOL; $1 = 0.010666… SOL more to the fund, the total rounded up.
    assert_eq!(event.asset_to_liquidator, 1_120_000_000);
    assert_eq!(event.asset_to_insurance, 10_666_667);
    // The event reports the prices exchanged at: the oracle's.
    let (sol_price, usdc_price) = (event.asset_price, event.liab_price);
    assert_eq!((sol_price, usdc_price), (ONE_Q64 * 3 / 32, ONE_Q64));
    // Health still at the widened prices: 918.75 × 0.9 − 867 × 1.02 = −$57.465 (at the oracle
    // prices it would be 843.75 − 867 = −$23.25).
    assert!((-57_465_010..=-57_465_000).contains(&event.maint_health_before));
}

/// M-2: an underwater owner deposits one native unit into an unrelated $1 bank, whose feed then
/// goes stale. The debt's and the collateral's feeds are fresh, so the liquidation goes ahead
/// (the unit is dust and counts for nothing), and the stale bank is never exchanged.
#[test]
fn m2_a_stale_dust_deposit_does_not_block_liquidation() {
    let (mut m, mut liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let stable = m.add_bank(6, OracleKind::PythPull, STABLE_WEIGHTS, (1, 0));
    m.fund(&mut liquidatee, 1);
    m.deposit(&liquidatee, &stable, 1).expect_ok("one native unit");
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let stable_quote = m.quote(&stable);
    m.set_price(&stable, aged(stable_quote, 3_600));
    // The account's own health view sees what liquidation sees.
    assert_eq!(m.health(&liquidatee).0.maint, -74_250_000);
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, 100_000_000).expect_ok("liquidate");
    assert_eq!(executed.events::<Liquidation>()[0].asset_to_liquidator, 1_120_000_000);
    // The stale bank cannot be the collateral taken.
    m.assert_rejected(&liquidatee, MarginError::OracleStale, |m| {
        m.liquidate(&liquidator, &liquidatee, &usdc, &stable, 100_000_000)
    });
}

/// M-2, found by the long campaign (seed 20261204): the step's "after" repriced every position,
/// so a stale dust deposit that counted for nothing before counted at its last price after, and
/// the liquidation's maint health after (its improvement check, its end target, the event) was
/// overstated by that value. After = the account's own health view, dust still at zero.
#[test]
fn m2_a_stale_dust_deposit_counts_for_nothing_after_the_step_too() {
    let (mut m, mut liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let stable = m.add_bank(6, OracleKind::PythPull, STABLE_WEIGHTS, (1, 0));
    m.fund(&mut liquidatee, 500_000);
    m.deposit(&liquidatee, &stable, 500_000).expect_ok("$0.50: dust");
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let stable_quote = m.quote(&stable);
    m.set_price(&stable, aged(stable_quote, 3_600));
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, 100_000_000).expect_ok("liquidate");
    let event = executed.events::<Liquidation>()[0].clone();
    assert_eq!(event.maint_health_after, m.health(&liquidatee).0.maint);
}

/// M-2: a briefly stale feed on a large deposit never makes a healthy account liquidatable:
/// liquidation waits for the price (with the oracle's error) instead of valuing it at zero.
#[test]
fn m2_a_stale_large_deposit_does_not_make_a_healthy_account_liquidatable() {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(500_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let sol_quote = m.quote(&sol);
    m.set_price(&sol, aged(sol_quote, 120));
    m.assert_rejected(&liquidatee, MarginError::OracleStale, |m| {
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, u64::MAX)
    });
}

/// M-2: the write-off is not blocked either: the bankrupt account of `bankrupt_account` deposits
/// one satoshi into the BTC bank, whose feed then goes stale; its debt is still written off.
#[test]
fn m2_a_stale_dust_deposit_does_not_block_a_write_off() {
    let Bankrupt { mut m, mut liquidatee, .. } = bankrupt_account();
    let (usdc, btc) = (m.usdc, m.btc);
    give_one_satoshi(&mut m, &mut liquidatee);
    m.deposit(&liquidatee, &btc, 1).expect_ok("one satoshi");
    let btc_quote = m.quote(&btc);
    m.set_price(&btc, aged(btc_quote, 3_600));
    m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("write-off");
    let account = m.margin_account(&liquidatee);
    assert_eq!(positions::borrow_native(&account, &m.bank(&usdc)), Ok(0));
}

/// L-4: one owner, two accounts. Account A holds $0.767 of SOL against $0.75 of USDC debt:
/// solvent, so its debt may not be written off. The owner's second account liquidates 0.30 USDC
/// of it; the 6% of fees ($0.018) would exceed A's $0.017 of equity and make it insolvent, its
/// debt written off and its collateral withdrawn. The fees are capped by the equity left: A stays
/// solvent and the write-off is still refused.
#[test]
fn l4_a_liquidation_never_makes_a_solvent_account_insolvent() {
    let mut m = Market::new();
    m.with_liquidity();
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let account_a = m.user([0, 8_000_000, 0]);
    let account_b = m.user([0, 0, 100_000_000]);
    m.deposit(&account_a, &sol, 8_000_000).expect_ok("$1 of SOL");
    m.borrow(&account_a, &usdc, 750_000).expect_ok("borrow 0.75 USDC");
    m.deposit(&account_b, &btc, 100_000_000).expect_ok("liquidator collateral");
    // SOL at $95.875: 8,000,000 lamports are worth $0.767.
    let now = m.now();
    m.set_price(&sol, Quote { price: 95_875, conf: 0, exponent: -3, publish_time: now });
    m.assert_rejected(&account_a, MarginError::NotBankrupt, |m| {
        m.resolve_bankruptcy(&account_a, &usdc)
    });

    let executed = m.liquidate(&account_b, &account_a, &usdc, &sol, 300_000).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!(event.liab_amount, 300_000);
    assert!(!event.bankrupt);
    let (view, _) = m.health(&account_a);
    let deposits: u64 = view.positions.iter().filter(|p| !p.is_liability).map(|p| p.value).sum();
    let debts: u64 = view.positions.iter().filter(|p| p.is_liability).map(|p| p.value).sum();
    assert!(deposits >= debts, "deposits {deposits} < debts {debts}");
    // The fees took at most the equity: B's bonus is below the bank's 5% of $0.30.
    let sol_bank = m.bank(&sol);
    let bonus = positions::deposit_native(&m.margin_account(&account_b), &sol_bank).unwrap();
    assert!(bonus < 300_000 * 105 / 100 * 8_000 / 767, "bonus {bonus} lamports");
    m.assert_rejected(&account_a, MarginError::NotBankrupt, |m| {
        m.resolve_bankruptcy(&account_a, &usdc)
    });
}

/// `bankrupt_account`'s liquidatee, which then deposits 0.004 SOL ($0.25 at $62.50, below the
/// $1 dust threshold).
fn bankrupt_with_a_leftover_deposit() -> (Market, User) {
    let Bankrupt { mut m, mut liquidatee, .. } = bankrupt_account();
    let sol = m.sol;
    liquidatee.tokens[1] =
        m.chain.create_token_account(&sol.mint, &liquidatee.keypair.pubkey(), 4_000_000);
    m.deposit(&liquidatee, &sol, 4_000_000).expect_ok("$0.25 of SOL");
    (m, liquidatee)
}

/// L-4: a write-off leaves its owner nothing the write-off paid for. The bankrupt account of
/// `bankrupt_account` deposits 0.004 SOL ($0.25, below the $1 dust threshold) before its debt is
/// written off: that deposit goes to the SOL bank's insurance fund, so the owner cannot withdraw
/// it afterwards.
#[test]
fn l4_a_write_off_takes_the_leftover_collateral_into_the_insurance_fund() {
    let (mut m, liquidatee) = bankrupt_with_a_leftover_deposit();
    let (usdc, sol) = (m.usdc, m.sol);
    let insurance_before = m.bank(&sol).insurance_native;
    let executed = m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("write-off");
    let seized = &executed.events::<CollateralSeized>()[0];
    assert_eq!((seized.bank, seized.native), (sol.address, 4_000_000));
    assert_eq!(m.bank(&sol).insurance_native, insurance_before + 4_000_000);
    let account = m.margin_account(&liquidatee);
    assert!(account.is_empty(), "no debt and no deposit left");
    m.assert_rejected(&liquidatee, MarginError::InsufficientDeposit, |m| {
        m.withdraw(&liquidatee, &sol, 4_000_000)
    });
}

/// The write-off needs the leftover deposits' banks writable, and says so.
#[test]
fn a_write_off_with_a_read_only_deposit_bank_is_rejected() {
    let (mut m, liquidatee) = bankrupt_with_a_leftover_deposit();
    let usdc = m.usdc;
    let health = m.health_accounts(&liquidatee);
    let ix = ix::resolve_bankruptcy(m.group, liquidatee.account, usdc.address, health);
    m.assert_rejected(&liquidatee, MarginError::WriteOffBankNotWritable, |m| {
        m.chain.send(&[ix], &[])
    });
}

/// The liquidatee of `one_asset_one_liability(900 USDC)` also owes 0.0001 BTC, and SOL falls to
/// $93.75: liquidatable.
fn liquidatee_with_a_small_btc_borrow() -> (Market, User, User) {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (sol, btc) = (m.sol, m.btc);
    m.borrow(&liquidatee, &btc, 10_000).expect_ok("borrow 0.0001 BTC");
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    (m, liquidatee, liquidator)
}

/// L-5: the keeper lists the liquidatee's three positions; in the same slot, just before the
/// liquidation lands, the liquidatee repays its small BTC borrow in full. The pair the keeper
/// listed for it is skipped: the liquidation still lands.
#[test]
fn l5_a_full_repay_just_before_does_not_fail_the_liquidation() {
    let (mut m, liquidatee, liquidator) = liquidatee_with_a_small_btc_borrow();
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let planned = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 100_000_000);
    m.repay(&liquidatee, &btc, 10_000).expect_ok("repay the BTC in full");
    assert_eq!(m.margin_account(&liquidatee).active_count(), 2);
    let signer = liquidator.keypair.insecure_clone();
    let executed = m.chain.send(&[planned], &[&signer]).expect_ok("liquidate");
    assert_eq!(executed.events::<Liquidation>()[0].liab_amount, 100_000_000);
}

/// Finding 28 (L-5's first fix undone): in the same slot, just before the liquidation lands, the
/// liquidatee opens a dust deposit in a bank the keeper did not list. Every position needs its
/// pair, so the planned liquidation is refused (nothing changes), and one planned again with the
/// account's list lands. The delay is bounded: each such deposit takes a new bank and a free
/// position slot, and an underwater account cannot withdraw it to free the slot again.
#[test]
fn f28_a_new_dust_deposit_just_before_fails_the_planned_liquidation_not_the_next() {
    let (mut m, mut liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let stable = m.add_bank(6, OracleKind::PythPull, STABLE_WEIGHTS, (1, 0));
    m.fund(&mut liquidatee, 1);
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let planned = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 100_000_000);
    m.deposit(&liquidatee, &stable, 1).expect_ok("one native unit in a new bank");
    let signer = liquidator.keypair.insecure_clone();
    m.assert_rejected(&liquidatee, MarginError::HealthAccountsMissing, |m| {
        m.chain.send(&[planned], &[&signer])
    });
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, 100_000_000).expect_ok("planned again");
    assert_eq!(executed.events::<Liquidation>()[0].maint_health_before, -74_250_000);
}

/// Finding 28 (critical, found by the campaign's perp front-runs): a write-off could leave out
/// of its health accounts a deposit opened in its own slot (L-5's first fix counted it for
/// nothing). In one slot a user deposits 10 SOL, borrows 100 USDC against it, and has its debt
/// written off with a list without the SOL: the account looked insolvent, the 100 USDC were
/// forgiven (paid by the insurance fund and the lenders), and the user kept its SOL. Now every
/// position needs its pair: refused, nothing changes.
#[test]
fn f28_a_write_off_cannot_leave_out_a_deposit_that_backs_the_debt() {
    let (mut m, user) = market_with_borrower();
    let (usdc, sol) = (m.usdc, m.sol);
    let account = m.margin_account(&user);
    let without_sol: Vec<AccountMeta> = m
        .write_off_accounts_of(&account)
        .chunks(2)
        .filter(|pair| pair[0].pubkey != sol.address)
        .flatten()
        .cloned()
        .collect();
    let ix = ix::resolve_bankruptcy(m.group, user.account, usdc.address, without_sol);
    m.assert_rejected(&user, MarginError::HealthAccountsMissing, |m| m.chain.send(&[ix], &[]));
    let full = m.write_off_accounts_of(&account);
    let ix = ix::resolve_bankruptcy(m.group, user.account, usdc.address, full);
    m.assert_rejected(&user, MarginError::NotBankrupt, |m| m.chain.send(&[ix], &[]));
}

/// Finding 28, the liquidation side: in one slot a healthy account deposits 1 BTC (a new
/// position) and borrows against it; a liquidation whose list leaves the BTC out (planned
/// before, or by a caller who drops it) saw an account without its collateral, liquidatable,
/// and took a bonus from it. Now refused, nothing changes.
#[test]
fn f28_a_liquidation_cannot_leave_out_a_deposit_that_backs_a_borrow() {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(500_000_000);
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let planned = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, u64::MAX);
    let mut liquidatee = liquidatee;
    let mint = m.btc.mint;
    liquidatee.tokens[2] =
        m.chain.create_token_account(&mint, &liquidatee.keypair.pubkey(), 10_000_000);
    m.deposit(&liquidatee, &btc, 10_000_000).expect_ok("0.1 BTC, a new position");
    m.borrow(&liquidatee, &usdc, 2_000_000_000).expect_ok("2,000 USDC more, against the BTC");
    let signer = liquidator.keypair.insecure_clone();
    m.assert_rejected(&liquidatee, MarginError::HealthAccountsMissing, |m| {
        m.chain.send(&[planned], &[&signer])
    });
    m.liquidate(&liquidator, &liquidatee, &usdc, &sol, u64::MAX)
        .expect_margin_error(MarginError::NotLiquidatable);
}

/// L-5's limit: a deposit left out is refused, here one opened in an earlier slot (a keeper
/// cannot drop a deposit to make an account look worse; in its own slot neither: finding 28).
#[test]
fn l5_a_deposit_from_an_earlier_slot_cannot_be_left_out() {
    let (mut m, mut liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let stable = m.add_bank(6, OracleKind::PythPull, STABLE_WEIGHTS, (1, 0));
    m.fund(&mut liquidatee, 1);
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let planned = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 100_000_000);
    m.deposit(&liquidatee, &stable, 1).expect_ok("one native unit in a new bank");
    m.chain.warp_seconds(1); // the next slot
    m.refresh_prices();
    m.set_price(&sol, sol_at_93_75(now + 1));
    let signer = liquidator.keypair.insecure_clone();
    m.assert_rejected(&liquidatee, MarginError::HealthAccountsMissing, |m| {
        m.chain.send(&[planned], &[&signer])
    });
}

/// `liquidatee_pairs` larger than the health-account list: refused before anything is read, and
/// the split never reaches past the list (the liquidator's accounts cannot be taken as the
/// liquidatee's, nor the other way round).
#[test]
fn liquidatee_pairs_beyond_the_list_are_refused() {
    let (mut m, liquidatee, liquidator) = liquidatee_with_a_small_btc_borrow();
    let (usdc, sol) = (m.usdc, m.sol);
    let signer = liquidator.keypair.insecure_clone();
    let planned = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, 100_000_000);
    // The arguments: 8 bytes of discriminator, the u64 amount, then the u8 pair count.
    let listed = planned.accounts.len() as u8;
    for pairs in [listed / 2 + 1, u8::MAX] {
        let mut ix = planned.clone();
        ix.data[16] = pairs;
        m.assert_rejected(&liquidatee, MarginError::HealthAccountsMissing, |m| {
            m.chain.send(&[ix], &[&signer])
        });
    }
    m.chain.send(&[planned], &[&signer]).expect_ok("the same liquidation, counted right");
}

/// The write-off writes only this group's banks: a bank of another group with the index of the
/// account's leftover deposit, appended as an extra pair (which the health check skips), is
/// refused instead of receiving the deposit into its insurance fund.
#[test]
fn a_write_off_cannot_move_collateral_into_another_groups_bank() {
    let (mut m, liquidatee) = bankrupt_with_a_leftover_deposit();
    let (usdc, sol) = (m.usdc, m.sol);
    // Another group of the same admin, whose second bank (index 1, like SOL here) is SOL too.
    let (other_group, _) = m.other_group_bank();
    let oracle = m.chain.new_pubkey();
    let quote = quote_dollars(125, 0, m.now());
    m.write_oracle(OracleKind::PythPull, oracle, 1, quote, true);
    let admin = m.admin.insecure_clone();
    let (add, other_sol, _) = ix::add_bank(
        other_group,
        admin.pubkey(),
        m.chain.payer.pubkey(),
        sol.mint,
        anchor_spl::token::ID,
        oracle,
        bank_config(OracleKind::PythPull, 1, [8_000, 9_000, 11_000, 12_000]),
    );
    m.chain.send(&[add], &[&admin]).expect_ok("add the other group's SOL bank");
    let mut health = m.write_off_accounts_of(&m.margin_account(&liquidatee));
    health.push(AccountMeta::new(other_sol, false));
    health.push(AccountMeta::new_readonly(oracle, false));
    let ix = ix::resolve_bankruptcy(m.group, liquidatee.account, usdc.address, health);
    m.assert_rejected(&liquidatee, MarginError::HealthBankWrongGroup, |m| m.chain.send(&[ix], &[]));
}

/// Soak finding (seed 21): once a socialized loss put the USDC deposit index below one, a
/// liquidator holding USDC shares worth zero units could not take over USDC debt. Every step
/// failed `BorrowAgainstOwnDeposit`, so the account stayed liquidatable. The worthless share is
/// burned now and the liquidation goes through.
#[test]
fn soak_worthless_shares_do_not_block_taking_over_debt() {
    let Bankrupt { mut m, liquidatee, .. } = bankrupt_account();
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    m.resolve_bankruptcy(&liquidatee, &usdc).expect_ok("socialize the loss");
    assert!(m.bank(&usdc).deposit_index() < ONE_Q64);

    let borrower = m.user([0, 10_000_000_000, 0]);
    m.deposit(&borrower, &sol, 10_000_000_000).expect_ok("10 SOL at $62.50");
    m.borrow(&borrower, &usdc, 400_000_000).expect_ok("borrow 400 USDC");
    let liquidator = m.user([10, 0, 100_000_000]);
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator collateral");
    m.deposit(&liquidator, &usdc, 1).expect_ok("one unit: one share, worth zero");
    assert_eq!(positions::deposit_native(&m.margin_account(&liquidator), &m.bank(&usdc)), Ok(0));

    let now = m.now();
    m.set_price(&sol, quote_dollars(44, 0, now)); // maint: $396 of SOL against $408 of debt
    let shares_before = m.bank(&usdc).total_deposit_shares;
    let executed =
        m.liquidate(&liquidator, &borrower, &usdc, &sol, u64::MAX).expect_ok("liquidate");
    let taken = executed.events::<Liquidation>()[0].liab_amount;
    assert!(taken > 0);
    let account = m.margin_account(&liquidator);
    assert_eq!(positions::borrow_native(&account, &m.bank(&usdc)), Ok(taken));
    assert_eq!(m.bank(&usdc).total_deposit_shares, shares_before - 1, "the dust share burned");
    m.assert_conservation();
}
