//! Perp markets on the real `.so` with real-format Pyth accounts (issue 16): positions, fees and
//! price impact, funding over a warped clock, zero-sum and conservation, the open-interest caps,
//! slippage, reduce-only, the init-health boundary, the pool, and bad input. Expected numbers
//! are computed by hand from docs/PERPS.md's formulas (the pool is $100,000; a lot is 0.01
//! token = $1 at $100; fees: 10 bps + impact `floor(10,000 × skew value after / pool)` bps, at
//! most 100, only when the skew grows).

use cross_margin::math::ONE_Q64;
use cross_margin::perp::{PerpOrder, PerpSide};
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
