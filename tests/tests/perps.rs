//! Perp markets on the real `.so` with real-format Pyth accounts (issue 16): positions, fees and
//! price impact, funding over a warped clock, zero-sum and conservation, the open-interest caps,
//! slippage, reduce-only, the init-health boundary, the pool, and bad input. Expected numbers
//! are computed by hand from docs/PERPS.md's formulas (the pool is $100,000; a lot is 0.01
//! token = $1 at $100; fees: 10 bps + impact `floor(10,000 × skew value after / pool)` bps, at
//! most 100, only when the skew grows).

use cross_margin::math::ONE_Q64;
use cross_margin::perp::{PerpOrder, PerpSide};
use cross_margin_client::perp_ix;
use cross_margin_tests::market::quote_dollars;
use cross_margin_tests::perps::*;
use cross_margin_tests::*;

#[test]
fn a_position_opens_grows_flips_and_closes_with_hand_computed_fees_and_pnl() {
    let (mut m, perp, _lp) = perp_market();
    let alice = trader(&mut m, 10_000_000_000);
    let pool_before = m.pool_native(&perp);
    let balance_before = m.usdc_balance(&alice);

    // Buy 100 lots at $100: the skew after is $100, impact floor(10,000 × 100 / 100,000) = 10
    // bps, fee 20 bps of $100 = $0.20.
    m.place_perp_order(&alice, &perp, order(100)).expect_ok("open long");
    let slot = m.perp_slot(&alice, &perp);
    assert_eq!((slot.base_lots, slot.quote_native), (100, -100_200_000));

    // At $110 buy 100 more: skew after 200 lots = $220, impact 22 bps, fee 32 bps of $110.
    m.set_perp_dollars(&perp, 110);
    m.place_perp_order(&alice, &perp, order(100)).expect_ok("grow long");
    let slot = m.perp_slot(&alice, &perp);
    assert_eq!((slot.base_lots, slot.quote_native), (200, -100_200_000 - 110_000_000 - 352_000));
    let market = m.perp_state(&perp);
    assert_eq!((market.long_lots, market.short_lots), (200, 0));

    // At $120 sell 300: short 100 lots. The skew shrinks from 200 to |−100|: no impact, 10 bps
    // of $360.
    m.set_perp_dollars(&perp, 120);
    m.place_perp_order(&alice, &perp, order(-300)).expect_ok("flip short");
    let slot = m.perp_slot(&alice, &perp);
    assert_eq!((slot.base_lots, slot.quote_native), (-100, -210_552_000 + 360_000_000 - 360_000));
    let market = m.perp_state(&perp);
    assert_eq!((market.long_lots, market.short_lots), (0, 100));

    // At $90 buy 100 back: closed, 10 bps of $90. The quote is the realised PnL: the long
    // bought 2 at $100 and $110 and sold at $120 (+$30), the short sold at $120 and bought at
    // $90 (+$30), less $1.002 of fees.
    m.set_perp_dollars(&perp, 90);
    m.place_perp_order(&alice, &perp, order(100)).expect_ok("close");
    let slot = m.perp_slot(&alice, &perp);
    assert_eq!((slot.base_lots, slot.quote_native), (0, 58_998_000));
    assert_eq!(60_000_000 - 200_000 - 352_000 - 360_000 - 90_000, 58_998_000);
    let market = m.perp_state(&perp);
    assert_eq!((market.long_lots, market.short_lots, market.fees_accrued), (0, 0, 1_002_000));

    // Anyone settles it: the pool pays the gain into Alice's USDC deposit, to the native unit,
    // and the slot is freed.
    m.settle_pnl(&alice.account, &perp).expect_ok("settle");
    assert_eq!(m.usdc_balance(&alice) - balance_before, 58_998_000);
    assert_eq!(pool_before - m.pool_native(&perp), 58_998_000);
    assert_eq!(m.margin_account(&alice).active_perp_count(), 0);
    assert_eq!(m.perp_state(&perp).quote_sum(), 0);
}

#[test]
fn funding_over_a_warped_clock_matches_a_hand_model_for_both_sides_and_the_pool() {
    let (mut m, perp, _lp) = perp_market();
    let (long, short) = (trader(&mut m, 1_000_000_000), trader(&mut m, 1_000_000_000));
    // Long 2,000 lots ($2,000): impact floor(10,000 × 2,000 / 100,000) = 200 bps, capped at
    // 100: fee 110 bps = $22. Short 500 lots: the skew shrinks to 1,500, fee 10 bps = $0.50.
    m.place_perp_order(&long, &perp, order(2_000)).expect_ok("long");
    m.place_perp_order(&short, &perp, order(-500)).expect_ok("short");
    let pool_before = m.pool_native(&perp);

    // Skew 1,500 lots = $1,500 against a $100,000 pool: floor(1,000 × 1,500 / 100,000) = 15
    // bps a day (under the 50 bps cap), longs heavy. One day later a lot ($1) of a long has
    // paid $0.0015 = 1,500 native, a short's lot received 80% of it, 1,200.
    m.chain.warp_seconds(86_400);
    m.refresh_prices();
    m.settle_pnl(&long.account, &perp).expect_ok("settle long");
    m.settle_pnl(&short.account, &perp).expect_ok("settle short");
    let market = m.perp_state(&perp);
    assert_eq!(
        market.funding(),
        cross_margin::perp::FundingIndices {
            long: 1_500 * ONE_Q64 as i128,
            short: 1_200 * ONE_Q64 as i128,
        }
    );
    // Price unchanged: the long settled −$22 of fee − 2,000 × 1,500 of funding, the short
    // −$0.50 + 500 × 1,200.
    assert_eq!(m.usdc_balance(&long), 1_000_000_000 - 22_000_000 - 3_000_000);
    assert_eq!(m.usdc_balance(&short), 1_000_000_000 - 500_000 + 600_000);
    // The pool nets both: the fees and 3,000,000 − 600,000 of funding.
    assert_eq!(m.pool_native(&perp) - pool_before, 22_000_000 + 500_000 + 2_400_000);
    assert_eq!(market.funding_unapplied(), 0, "every open position applied its funding");

    // A day with the skew reversed (the long closes, the short stays): shorts heavy at
    // floor(1,000 × 500 / pool) bps, and the closed long pays nothing more.
    m.place_perp_order(&long, &perp, order(-2_000)).expect_ok("close long");
    let pool = m.pool_native(&perp);
    let rate = 1_000 * 500_000_000 / pool; // bps a day, rounded down: 4
    assert_eq!(rate, 4);
    m.chain.warp_seconds(86_400);
    m.refresh_prices();
    let before = m.usdc_balance(&short);
    m.settle_pnl(&short.account, &perp).expect_ok("settle short again");
    // The short pays 500 lots × $1 × 4 bps = $0.20 (its earlier PnL was settled).
    assert_eq!(m.usdc_balance(&short) - before, -(500 * 1_000_000 * rate as i128 / 10_000));
}

#[test]
fn traders_pool_and_fees_sum_to_zero_to_the_native_unit_and_the_vault_covers_every_claim() {
    let (mut m, perp, _lp) = perp_market();
    let traders: Vec<_> = (0..3).map(|_| trader(&mut m, 5_000_000_000)).collect();
    let balances_before: Vec<i128> = traders.iter().map(|t| m.usdc_balance(t)).collect();
    let pool_before = m.pool_native(&perp) as i128;
    let (usdc_vault_before, _) = m.vault_and_claims(&m.usdc.clone());
    // Trades at several prices and times, then everyone closes and settles.
    let script: [(usize, i64, i64); 6] =
        [(0, 300, 100), (1, -700, 103), (2, 250, 97), (0, -150, 111), (1, 200, 89), (2, -50, 120)];
    for (who, lots, dollars) in script {
        m.set_perp_dollars(&perp, dollars);
        m.place_perp_order(&traders[who], &perp, order(lots)).expect_ok("trade");
        m.chain.warp_seconds(3_600);
        m.refresh_prices();
    }
    for t in &traders {
        let base = m.perp_slot(t, &perp).base_lots;
        if base != 0 {
            m.place_perp_order(t, &perp, order(-base)).expect_ok("close");
        }
        m.settle_pnl(&t.account, &perp).expect_ok("settle");
    }
    let market = m.perp_state(&perp);
    assert_eq!((market.long_lots, market.short_lots, market.quote_sum()), (0, 0, 0));
    let traders_pnl: i128 =
        traders.iter().zip(&balances_before).map(|(t, before)| m.usdc_balance(t) - before).sum();
    let pool_pnl = m.pool_native(&perp) as i128 - pool_before;
    // Zero-sum: what the traders won (fees and funding included) the pool lost, and the other
    // way round, to the native unit (no interest accrues: the USDC bank has no borrows).
    assert_eq!(traders_pnl + pool_pnl, 0, "traders {traders_pnl}, pool {pool_pnl}");
    assert!(market.fees_accrued > 0);
    // No token moved: the vault is as it was, and covers deposits (the pool's included).
    let (vault, claims) = m.vault_and_claims(&m.usdc.clone());
    assert_eq!(vault, usdc_vault_before);
    assert!(vault as i128 >= claims);
}

#[test]
fn open_interest_caps_slippage_and_reduce_only_are_enforced() {
    let (mut m, perp, _lp) = perp_market();
    let alice = trader(&mut m, 10_000_000_000);
    // Caps of 1,000 lots a side (setup group: at once).
    let config = cross_margin::state::PerpMarketConfig {
        max_long_lots: 1_000,
        max_short_lots: 1_000,
        ..m.perp_state(&perp).config
    };
    let admin = m.admin.pubkey();
    let ix = perp_ix::configure_perp_market(m.group, admin, perp.address, perp.oracle, config);
    m.send_as_admin(&[ix]).expect_ok("caps");
    m.assert_rejected(&alice, MarginError::PerpOpenInterestCap, |m| {
        m.place_perp_order(&alice, &perp, order(1_001))
    });
    m.place_perp_order(&alice, &perp, order(1_000)).expect_ok("exactly the cap");

    // Slippage: a sell of 100 lots at $100 pays 10 bps (the skew shrinks), so it receives
    // $99.90 per 100 lots: floor(99,900,000 × 2^64 / 1,000,000) per base native unit.
    let received = 99_900_000u128 * ONE_Q64 / 1_000_000;
    let limit = |limit_price| PerpOrder {
        side: PerpSide::Short,
        size_lots: 100,
        limit_price,
        reduce_only: false,
    };
    m.assert_rejected(&alice, MarginError::PerpSlippageExceeded, |m| {
        m.place_perp_order(&alice, &perp, limit(received + 1))
    });
    m.place_perp_order(&alice, &perp, limit(received)).expect_ok("at exactly the limit");

    // Reduce-only: never grows or flips the long of 900 lots.
    let reduce = |side, size_lots| PerpOrder {
        side,
        size_lots,
        limit_price: match side {
            PerpSide::Long => u128::MAX,
            PerpSide::Short => 0,
        },
        reduce_only: true,
    };
    for bad in [reduce(PerpSide::Long, 1), reduce(PerpSide::Short, 901)] {
        m.assert_rejected(&alice, MarginError::PerpReduceOnly, |m| {
            m.place_perp_order(&alice, &perp, bad)
        });
    }
    m.place_perp_order(&alice, &perp, reduce(PerpSide::Short, 900)).expect_ok("reduce to zero");
    assert_eq!(m.perp_slot(&alice, &perp).base_lots, 0);
    // A lower cap never traps a position: reducing passes with open interest above the cap.
    let bob = trader(&mut m, 10_000_000_000);
    m.place_perp_order(&bob, &perp, order(-800)).expect_ok("short");
    let tighter = cross_margin::state::PerpMarketConfig { max_short_lots: 100, ..config };
    let ix = perp_ix::configure_perp_market(m.group, admin, perp.address, perp.oracle, tighter);
    m.send_as_admin(&[ix]).expect_ok("tighter cap");
    m.place_perp_order(&bob, &perp, order(300)).expect_ok("reduce above the cap");
}

#[test]
fn init_health_refuses_an_oversize_order_at_exactly_the_boundary() {
    // 1,000 lots ($1,000) at $100: impact 100 bps (the cap), fee 110 bps = $11; init margin
    // 10% = $100. The loss counts in full and the margin is taken from the USDC balance it
    // joins: init = floor(0.95 × (deposit − 11 − 100)) >= 0 needs a deposit of $111.
    let (mut m, perp, _lp) = perp_market();
    let exact = trader(&mut m, 111_000_000);
    let short_by_one = trader(&mut m, 110_999_999);
    m.assert_rejected(&short_by_one, MarginError::InitHealthNegative, |m| {
        m.place_perp_order(&short_by_one, &perp, order(1_000))
    });
    m.place_perp_order(&exact, &perp, order(1_000)).expect_ok("at exactly init health 0");
    let (view, _) = m.health(&exact);
    assert_eq!(view.init, 0);
    assert_eq!(view.perp_positions.len(), 1);
    let p = &view.perp_positions[0];
    assert_eq!(
        (p.base_lots, p.quote_native, p.pnl, p.init),
        (1_000, -1_011_000_000, -11_000_000, -111_000_000)
    );
    // Maint: 5% margin = $50, the loss $11: 0.98 × (111 − 61) = $49.
    assert_eq!(view.maint, 49_000_000);
    // One more lot is refused; reducing needs no health.
    m.assert_rejected(&exact, MarginError::InitHealthNegative, |m| {
        m.place_perp_order(&exact, &perp, order(1))
    });
    m.place_perp_order(&exact, &perp, order(-10)).expect_ok("reduce");
}

#[test]
fn settling_never_lowers_health_so_anyone_may_call_it() {
    let (mut m, perp, _lp) = perp_market();
    let (usdc, sol) = (m.usdc, m.sol);
    m.with_liquidity();
    // Carol's only collateral is 1 SOL ($125, init weight 0.8): she goes long 100 lots.
    let carol = m.user([0, 1_000_000_000, 0]);
    m.deposit(&carol, &sol, 1_000_000_000).expect_ok("deposit SOL");
    m.place_perp_order(&carol, &perp, order(100)).expect_ok("long");
    // The price falls $30: her loss (−$30.20) has no USDC to come out of, so settling it opens
    // a USDC borrow. Her maint health must not fall.
    m.set_perp_dollars(&perp, 70);
    let (before, _) = m.health(&carol);
    m.settle_pnl(&carol.account, &perp).expect_ok("settle a loss into a borrow");
    let (after, _) = m.health(&carol);
    assert!(after.maint >= before.maint && after.init >= before.init, "{before:?} -> {after:?}");
    assert_eq!(m.usdc_balance(&carol), -30_200_000);
    assert_eq!(
        m.perp_slot(&carol, &perp).quote_native,
        -70_000_000,
        "the position keeps its entry at $70"
    );

    // Dave holds USDC and an unrealised gain: settling it (at weight 1 instead of the maint PnL
    // weight 0.9) raises health.
    let dave = trader(&mut m, 1_000_000_000);
    m.place_perp_order(&dave, &perp, order(-100)).expect_ok("short at $70");
    m.set_perp_dollars(&perp, 50);
    let (before, _) = m.health(&dave);
    m.settle_pnl(&dave.account, &perp).expect_ok("settle a gain");
    let (after, _) = m.health(&dave);
    assert!(after.maint > before.maint && after.init > before.init, "{before:?} -> {after:?}");
    let _ = usdc;
}

#[test]
fn a_perp_loss_makes_an_account_liquidatable_and_token_liquidation_counts_it() {
    let (mut m, perp, _lp) = perp_market();
    let (usdc, sol) = (m.usdc, m.sol);
    let lender = m.with_liquidity();
    // Erin: 1 SOL ($125) of collateral, $50 of USDC borrowed, long 300 lots ($300).
    let erin = m.user([0, 1_000_000_000, 0]);
    m.deposit(&erin, &sol, 1_000_000_000).expect_ok("deposit SOL");
    m.borrow(&erin, &usdc, 50_000_000).expect_ok("borrow USDC");
    m.place_perp_order(&erin, &perp, order(300)).expect_ok("long");
    assert!(!m.health(&erin).0.liquidatable);
    // The perp falls 40%: her $120 loss joins the USDC debt and takes maint health below zero,
    // though her tokens alone are healthy.
    m.set_perp_dollars(&perp, 60);
    let (view, _) = m.health(&erin);
    assert!(view.liquidatable, "{view:?}");
    let tokens_only: i128 = view.positions.iter().map(|p| p.maint).sum();
    assert!(tokens_only > 0, "tokens alone are healthy: {tokens_only}");
    // A liquidator takes over USDC debt against her SOL: the step is judged with the perp.
    m.liquidate(&lender, &erin, &usdc, &sol, 10_000_000).expect_ok("liquidate");
    let (after, _) = m.health(&erin);
    assert!(after.maint > view.maint, "{view:?} -> {after:?}");
}

#[test]
fn with_a_stale_perp_oracle_nothing_fills_or_settles_but_token_deposit_and_repay_work() {
    let (mut m, perp, lp) = perp_market();
    let (usdc, sol) = (m.usdc, m.sol);
    m.with_liquidity();
    let frank = m.user([1_000_000_000, 1_000_000_000, 0]);
    m.deposit(&frank, &sol, 1_000_000_000).expect_ok("deposit SOL");
    m.borrow(&frank, &usdc, 10_000_000).expect_ok("borrow");
    m.place_perp_order(&frank, &perp, order(10)).expect_ok("long");
    // 61 s later only the banks' oracles are republished: the perp's is past its 60 s.
    m.chain.warp_seconds(61);
    for bank in m.banks() {
        let quote = quote_dollars(m.quote(&bank).price / 10_000, 0, m.now());
        m.set_price(&bank, quote);
    }
    for (name, result) in [
        ("order", m.place_perp_order(&frank, &perp, order(1))),
        ("settle", m.settle_pnl(&frank.account, &perp)),
        ("pool deposit", m.pool_deposit(&lp, &perp, 1_000_000)),
        ("pool withdraw", m.pool_withdraw(&lp, &perp, 1_000_000)),
    ] {
        let _ = name;
        result.expect_margin_error(MarginError::OracleStale);
    }
    m.assert_rejected(&frank, MarginError::OracleStale, |m| {
        m.place_perp_order(&frank, &perp, order(-1))
    });
    // Repay and deposit need no price at all.
    m.repay(&frank, &usdc, 5_000_000).expect_ok("repay with a stale perp oracle");
    m.deposit(&frank, &usdc, 1_000_000).expect_ok("deposit with a stale perp oracle");
    // Withdrawing needs health, which prices the perp: it waits for a fresh price.
    m.assert_rejected(&frank, MarginError::OracleStale, |m| m.withdraw(&frank, &sol, 1))
}

#[test]
fn an_account_with_perp_slots_cannot_be_closed_or_written_off() {
    let (mut m, perp, _lp) = perp_market();
    let gina = trader(&mut m, 1_000_000_000);
    m.place_perp_order(&gina, &perp, order(10)).expect_ok("long");
    m.place_perp_order(&gina, &perp, order(-10)).expect_ok("close");
    // Closed, but its realised loss (the fees: 11 bps of $10 opening, the skew growing to $10,
    // then 10 bps closing) is unsettled: the slot stays.
    assert_eq!(m.perp_slot(&gina, &perp).quote_native, -11_000 - 10_000);
    let usdc = m.usdc;
    m.assert_rejected(&gina, MarginError::PerpPositionsOpen, |m| {
        m.resolve_bankruptcy(&gina, &usdc)
    });
    m.settle_pnl(&gina.account, &perp).expect_ok("settle the fees");
    assert_eq!(m.margin_account(&gina).active_perp_count(), 0);
}
