//! Perp liquidation on the real `.so` (issue 17): `liquidate_perp` closing against the pool by
//! the closed-form amount, in one step or several, capped by `max_base_lots`; a loss paid by
//! the account's collateral, then the market's insurance fund, then the LPs; and the refusals.
//!
//! The market (tests/src/perps.rs): a lot is 0.01 token, maint base weight 0.95 (5% margin),
//! liquidation fees 2% + 1%; USDC (the settle bank) at maint weights 0.98 / 1.02; confidence 0,
//! so every price side is the oracle's. Expected numbers are computed by hand in the comments.

use cross_margin::error::MarginError;
use cross_margin::events::PerpLiquidation;
use cross_margin::math::{Round, ONE_Q64};
use cross_margin_tests::market::{Market, User};
use cross_margin_tests::perps::*;
use cross_margin_tests::*;

/// A trader with $100 of USDC long 500 lots (5 tokens) bought at $100: the fee is 10 bps plus
/// impact floor(10,000 × $500 / $100,000) = 50 bps, so the quote is −$503.
fn long_trader(m: &mut Market, perp: &PerpMarketRef) -> User {
    let alice = trader(m, 100_000_000);
    m.place_perp_order(&alice, perp, order(500)).expect_ok("open long");
    assert_eq!(m.perp_slot(&alice, perp).quote_native, -503_000_000);
    alice
}

/// The `PerpLiquidation` event of a transaction.
fn event(executed: &cross_margin_client::outcome::Executed) -> PerpLiquidation {
    executed.events::<PerpLiquidation>().into_iter().next().expect("a PerpLiquidation event")
}

fn pool_value(m: &Market, perp: &PerpMarketRef, dollars: u128) -> i128 {
    let market = m.perp_state(perp);
    market.pool_value(m.pool_native(perp), dollars * ONE_Q64, Round::Down).unwrap()
}

#[test]
fn one_perp_and_one_token_position_are_liquidated_to_the_end_target_exactly() {
    let (mut m, perp, _lp) = perp_market();
    let alice = long_trader(&mut m, &perp);
    let keeper = trader(&mut m, 0);
    // At $85 the account is still healthy: PnL 425 − 503 = −$78, margin 5% of $425 = $21.25,
    // settle balance 100 − 99.25 = $0.75.
    m.set_perp_dollars(&perp, 85);
    m.assert_rejected(&keeper, MarginError::NotLiquidatable, |m| {
        m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX)
    });
    // At $84: PnL −$83, margin $21, balance −$4, maint −4 × 1.02 = −$4.08.
    m.set_perp_dollars(&perp, 84);
    let pool_before = pool_value(&m, &perp, 84);
    let pool_native_before = m.pool_native(&perp);
    let executed =
        m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX).expect_ok("liquidate");
    let e = event(&executed);
    // Each lot closed at $0.84 releases $0.042 of margin and pays $0.0252 of fees: the balance
    // is −$4 + $0.0168 q. The end target (no debt left) is 8 units of maint health:
    // floor(0.98 x) >= 8 needs x >= 9, so q = ceil(4,000,009 / 16,800) = 239.
    assert_eq!((e.base_lots_before, e.base_lots_after), (500, 261));
    assert_eq!(e.maint_health_before, -4_080_000);
    let balance = -4_000_000 + 239 * 16_800; // $0.0152
    assert_eq!(balance, 15_200);
    assert_eq!(e.maint_health_after, 14_896); // floor(15,200 × 0.98)
    assert!(!e.still_being_liquidated && !e.bankrupt);
    // 238 lots would have left the balance negative: −4,000,000 + 238 × 16,800 = −1,600.
    // Fees: 3% of 239 × $0.84 = $6.0228, two thirds to the keeper, a third to insurance.
    assert_eq!(e.quote_change, 200_760_000);
    assert_eq!((e.liquidation_fee, e.insurance_fee), (4_015_200, 2_007_600));
    assert_eq!(m.usdc_balance(&keeper), 4_015_200);
    let market = m.perp_state(&perp);
    assert_eq!(market.insurance_deposit_shares, 2_007_600);
    assert_eq!((market.long_lots, market.short_lots), (261, 0));
    assert_eq!(pool_native_before - m.pool_native(&perp), 6_022_800);
    // The liquidatee owes the pool what it paid out: the pool's value is unchanged.
    assert_eq!(pool_value(&m, &perp, 84), pool_before);
    let slot = m.perp_slot(&alice, &perp);
    assert_eq!(slot.quote_native, -503_000_000 + 200_760_000 - 6_022_800);
    // A second step is refused: the account is at its end target.
    m.assert_rejected(&keeper, MarginError::NotLiquidatable, |m| {
        m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX)
    });
}

#[test]
fn several_capped_steps_add_up_to_the_one_step_amount() {
    let (mut m, perp, _lp) = perp_market();
    let alice = long_trader(&mut m, &perp);
    let keeper = trader(&mut m, 0);
    m.set_perp_dollars(&perp, 84);
    // max_base_lots 100: −$4 + 100 × $0.0168 = −$2.32, still being liquidated; again −$0.64.
    for (step, balance) in [(1, -2_320_000i128), (2, -640_000)] {
        let executed =
            m.liquidate_perp(&keeper, &alice.account, &perp, 100).expect_ok("capped step");
        let e = event(&executed);
        assert_eq!(e.base_lots_before - e.base_lots_after, 100, "step {step}");
        assert_eq!(e.maint_health_after, balance * 102 / 100, "step {step}");
        assert!(e.still_being_liquidated, "step {step}");
        assert_eq!(m.margin_account(&alice).being_liquidated, 1);
    }
    // The last step closes ceil(640,009 / 16,800) = 39 lots: 239 in all, as in one step.
    let e = event(&m.liquidate_perp(&keeper, &alice.account, &perp, 100).expect_ok("last step"));
    assert_eq!((e.base_lots_before, e.base_lots_after), (300, 261));
    assert_eq!(e.maint_health_after, 14_896);
    assert!(!e.still_being_liquidated);
    assert_eq!(m.margin_account(&alice).being_liquidated, 0);
    // Fees are per lot: 239 × $0.0168 of keeper fee in all.
    assert_eq!(m.usdc_balance(&keeper), 3 * 100 * 16_800 - 61 * 16_800);
}

#[test]
fn a_loss_is_paid_by_collateral_then_the_insurance_fund_then_the_lps() {
    let (mut m, perp, _lp) = perp_market();
    let bob = long_trader(&mut m, &perp);
    let keeper = trader(&mut m, 0);
    m.sandbox.fund_perp_insurance(&perp, 50_000_000).expect_ok("fund $50");
    // At $70: PnL 350 − 503 = −$153 against $100 of collateral: insolvent. No step reaches the
    // target, so all 500 lots close, the fees uncapped: 3% of $350 = $10.50.
    m.set_perp_dollars(&perp, 70);
    let e = event(&m.liquidate_perp(&keeper, &bob.account, &perp, u64::MAX).expect_ok("close"));
    assert_eq!((e.base_lots_after, e.liquidation_fee, e.insurance_fee), (0, 7_000_000, 3_500_000));
    assert!(e.bankrupt);
    let quote = -503_000_000 + 350_000_000 - 10_500_000; // −$163.50
    assert_eq!(m.perp_slot(&bob, &perp).quote_native, quote);
    // Settling pays what the collateral can: the $100 deposit, no borrow (no other equity).
    let pool_native = m.pool_native(&perp);
    m.settle_pnl(&bob.account, &perp).expect_ok("settle against the collateral");
    assert_eq!(m.usdc_balance(&bob), 0);
    assert_eq!(m.pool_native(&perp) - pool_native, 100_000_000);
    assert_eq!(m.perp_slot(&bob, &perp).quote_native, quote + 100_000_000);
    // Settling again has nothing to pay with.
    m.assert_rejected(&keeper, MarginError::NothingToSettle, |m| m.settle_pnl(&bob.account, &perp));
    // The write-off: the fund ($50 + $3.50) pays, the LPs bear the last $10.
    let (pool_value_before, pool_native) = (pool_value(&m, &perp, 70), m.pool_native(&perp));
    let executed = m.sandbox.resolve_perp_bankruptcy(&bob.account, &perp).expect_ok("write off");
    let done = executed
        .events::<cross_margin::events::PerpBankruptcyResolved>()
        .into_iter()
        .next()
        .expect("event");
    assert_eq!((done.loss, done.from_collateral), (63_500_000, 0));
    assert_eq!((done.from_insurance, done.socialised), (53_500_000, 10_000_000));
    let market = m.perp_state(&perp);
    assert_eq!((market.insurance_deposit_shares, market.socialised_loss), (0, 10_000_000));
    assert_eq!(m.pool_native(&perp) - pool_native, 53_500_000);
    assert_eq!(pool_value_before - pool_value(&m, &perp, 70), 10_000_000);
    // The account is empty: its slot is freed, and no USDC depositor lost anything.
    let account = m.margin_account(&bob);
    assert_eq!(account.active_perp_count(), 0);
    assert!(!account.has_borrows());
    let (vault, claims) = m.sandbox.vault_and_claims(&m.usdc);
    assert!(vault as i128 >= claims);
}

#[test]
fn bad_liquidations_are_refused_by_name_and_change_nothing() {
    let (mut m, perp, _lp) = perp_market();
    let alice = long_trader(&mut m, &perp);
    let keeper = trader(&mut m, 0);
    m.set_perp_dollars(&perp, 84);
    // Self-liquidation: the liquidator's account is the liquidatee's.
    m.assert_rejected(&alice, MarginError::SelfLiquidation, |m| {
        m.liquidate_perp(&alice, &alice.account, &perp, u64::MAX)
    });
    m.assert_rejected(&keeper, MarginError::ZeroAmount, |m| {
        m.liquidate_perp(&keeper, &alice.account, &perp, 0)
    });
    // An account with no position in the market (the keeper's own).
    m.assert_rejected(&alice, MarginError::PerpNoPositionToLiquidate, |m| {
        m.liquidate_perp(&alice, &keeper.account, &perp, u64::MAX)
    });
    // The wrong oracle for the market.
    let wrong = PerpMarketRef { oracle: m.usdc.oracle, ..perp };
    m.assert_rejected(&keeper, MarginError::OracleAccountMismatch, |m| {
        m.liquidate_perp(&keeper, &alice.account, &wrong, u64::MAX)
    });
    // A stale perp price: 61 s later, only the banks' oracles republished.
    m.chain.warp_seconds(61);
    for bank in m.banks() {
        let quote =
            cross_margin_tests::market::quote_dollars(m.quote(&bank).price / 10_000, 0, m.now());
        m.set_price(&bank, quote);
    }
    m.assert_rejected(&keeper, MarginError::OracleStale, |m| {
        m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX)
    });
    // Fresh again, it goes through.
    m.set_perp_dollars(&perp, 84);
    m.liquidate_perp(&keeper, &alice.account, &perp, u64::MAX).expect_ok("liquidate");
}

#[test]
fn write_offs_are_refused_while_a_position_is_open_or_the_account_can_pay() {
    let (mut m, perp, _lp) = perp_market();
    let bob = long_trader(&mut m, &perp);
    let keeper = trader(&mut m, 0);
    let winner = trader(&mut m, 100_000_000);
    m.place_perp_order(&winner, &perp, order(-10)).expect_ok("short at $100");
    m.set_perp_dollars(&perp, 70);
    // The base must be closed by liquidation first.
    m.assert_rejected(&keeper, MarginError::PerpPositionsOpen, |m| {
        m.sandbox.resolve_perp_bankruptcy(&bob.account, &perp)
    });
    // A closed position in profit is not a loss to write off.
    m.place_perp_order(&winner, &perp, order(10)).expect_ok("close the short at $70");
    m.assert_rejected(&keeper, MarginError::PerpNoLossToWriteOff, |m| {
        m.sandbox.resolve_perp_bankruptcy(&winner.account, &perp)
    });
}

#[test]
fn a_loss_becomes_a_borrow_only_up_to_the_accounts_other_collateral() {
    let (mut m, perp, _lp) = perp_market();
    m.with_liquidity();
    let sol = m.sol;
    // Carol: $100 of USDC and 0.4 SOL ($50), long 500 lots bought at $100 (quote −$503).
    let carol = m.user([100_000_000, 400_000_000, 0]);
    let usdc = m.usdc;
    m.deposit(&carol, &usdc, 100_000_000).expect_ok("USDC");
    m.deposit(&carol, &sol, 400_000_000).expect_ok("SOL");
    m.place_perp_order(&carol, &perp, order(500)).expect_ok("long");
    let keeper = trader(&mut m, 0);
    // At $70 every lot closed raises the balance by $0.014 (margin $0.035, fees $0.021): all
    // 500 still leave maint negative, so the step closes the whole position.
    m.set_perp_dollars(&perp, 70);
    let e = event(&m.liquidate_perp(&keeper, &carol.account, &perp, u64::MAX).expect_ok("close"));
    assert_eq!(e.base_lots_after, 0);
    assert_eq!(m.perp_slot(&carol, &perp).quote_native, -163_500_000);
    // Settling with the health accounts: the $100 deposit pays, then a borrow up to the SOL's
    // $50 (the equity outside the settle deposit). The last $13.50 stays unsettled.
    m.settle_pnl(&carol.account, &perp).expect_ok("settle");
    assert_eq!(m.usdc_balance(&carol), -50_000_000);
    assert_eq!(m.perp_slot(&carol, &perp).quote_native, -13_500_000);
    // Without health accounts only the deposit pays: there is none left.
    let ix = cross_margin_client::perp_ix::settle_pnl(m.group, carol.account, &perp, vec![]);
    m.assert_rejected(&keeper, MarginError::NothingToSettle, |m| m.chain.send(&[ix], &[]));
    // The SOL is still collateral: no write-off until token liquidation has taken it.
    m.assert_rejected(&keeper, MarginError::NotBankrupt, |m| {
        m.sandbox.resolve_perp_bankruptcy(&carol.account, &perp)
    });
}

#[test]
fn self_liquidation_through_a_second_account_gains_nothing() {
    let (mut m, perp, _lp) = perp_market();
    let alice = long_trader(&mut m, &perp);
    let owner = alice.keypair.insecure_clone();
    let (ix, second) =
        cross_margin_client::ix::create_account(m.group, owner.pubkey(), owner.pubkey(), 1);
    m.chain.send(&[ix], &[&owner]).expect_ok("second account");
    let second_user = User { keypair: owner.insecure_clone(), account: second, tokens: vec![] };
    m.assert_rejected(&alice, MarginError::SelfLiquidation, |m| {
        m.liquidate_perp(&alice, &alice.account, &perp, u64::MAX)
    });
    m.set_perp_dollars(&perp, 84);
    // The owner's two accounts at $84: USDC balance + quote + the base at $84 (a lot is $0.84).
    let value = |m: &Market| -> i128 {
        [alice.account, second]
            .iter()
            .map(|address| {
                let account = m.margin_account_at(address);
                let usdc = cross_margin::positions::balance_native(&account, &m.bank(&m.usdc));
                let slot = account.find_perp(perp.index).map(|i| account.perps[i]);
                let perp_value =
                    slot.map_or(0, |s| s.quote_native as i128 + s.base_lots as i128 * 840_000);
                usdc.unwrap() + perp_value
            })
            .sum()
    };
    let before = value(&m);
    m.liquidate_perp(&second_user, &alice.account, &perp, u64::MAX).expect_ok("self-liquidate");
    // The second account's fee came out of the first; the insurance fee left both.
    assert_eq!(before - value(&m), 2_007_600);
}

#[test]
fn the_perp_insurance_fund_takes_admin_tokens_only() {
    let (mut m, perp, _lp) = perp_market();
    let user = trader(&mut m, 0);
    let impostor = user.keypair.insecure_clone();
    let mint = perp.settle_bank.mint;
    let source = m.chain.create_token_account(&mint, &impostor.pubkey(), 5_000_000);
    let group = m.group;
    let ix = |admin, amount| {
        cross_margin_client::perp_ix::fund_perp_insurance(group, admin, &perp, source, amount)
    };
    // Not the admin; a zero amount; more than the source holds.
    let not_admin = ix(impostor.pubkey(), 1_000_000);
    m.assert_rejected(&user, MarginError::NotGroupAdmin, |m| {
        m.chain.send(&[not_admin], &[&impostor])
    });
    m.assert_rejected(&user, MarginError::ZeroAmount, |m| m.sandbox.fund_perp_insurance(&perp, 0));
    let admin = m.admin.insecure_clone();
    let too_much = ix(admin.pubkey(), 10_000_000);
    m.assert_rejected(&user, MarginError::InsufficientTokenBalance, |m| {
        m.chain.send(&[too_much], &[&admin])
    });
    // The admin's tokens become the market's deposit shares (the USDC index is 1).
    m.sandbox.fund_perp_insurance(&perp, 3_000_000).expect_ok("fund");
    assert_eq!(m.perp_state(&perp).insurance_deposit_shares, 3_000_000);
    m.assert_conservation();
}
