//! Liquidation amounts: pure, closed-form, computed by [`super::step`] for the program, the keeper
//! and the property campaign.
//!
//! Two kinds of price meet here:
//! - **exchange prices** `m_l`, `m_a`: the oracle (mid) prices. The liquidator takes over `L`
//!   native units of the liquidatee's borrow in the liability bank and receives deposit in the
//!   asset bank worth `L · m_l · (1 + fee)` at `m_a`; an insurance fee `L · m_l · ins` more
//!   leaves the liquidatee for the asset bank's insurance fund. So the fee is the bank's fee,
//!   whatever the oracle's confidence;
//! - **health prices** `p_l = m_l + k·conf`, `p_a = m_a − k·conf`: what health is judged at.
//!
//! With maint weights `w_l` (liability bank) and `w_a` (asset bank), each unit of `L` changes the
//! liquidatee's maint health by `p_l · w_l − (1 + fee + ins) · s · w_a`, where
//! `s = m_l · p_a / m_a` is the health value of the collateral seized per unit of debt before
//! fees, and its maint-weighted liabilities by `−p_l · w_l`. Liquidation ends once
//!
//! ```text
//! maint_health >= end_buffer · maint_weighted_liabilities
//! ```
//!
//! so the `L` that reaches the end target is, in closed form,
//!
//! ```text
//! L_end = (end_buffer · Lw − H) / (p_l · w_l · (1 + end_buffer) − (1 + fee + ins) · s · w_a)
//! ```
//!
//! rounded up, with a slack for rounding ([`rounding_slack`]): one native unit of the debt and
//! two of the collateral at their maint values, plus eight quote units. `L` is the smallest of
//! `max_liab_amount`, the debt, what the asset position can pay for at the exchange prices, and
//! `L_end`.
//!
//! **The fees never take an account from solvent to insolvent** (finding L-4): when the
//! liquidatee's equity (deposits minus debts at the health prices) is not negative, both fees
//! together are capped at `max_fee_quote`, the equity less a rounding slack
//! ([`solvency_slack`]); the cap is split between the liquidator and the insurance fund in
//! proportion to their fees. An insolvent account pays the full fees: its loss is the lenders'
//! already, and the bonus is what pays a liquidator to shrink it.

use crate::math::{div_q64, mul_bps, mul_div, mul_q64, MathResult, Overflow, Round, BPS};

/// Quote units added to the target for the rounding of the maint values themselves.
pub const END_TARGET_SLACK: i128 = 8;

/// How far short of the closed-form result the share rounding can leave the account: the
/// repaid debt's shares round down (up to one native unit of debt stays), and the seized
/// collateral rounds up twice (the total, then the shares burned). Expressed at maint weights,
/// plus [`END_TARGET_SLACK`]. Without it, an account whose debt token is worth much per native
/// unit (BTC: $0.001 per satoshi = 1,000 quote units) and whose index has grown could be left a
/// few units short of the target, still flagged, where the next, tiny step cannot improve it
/// through the same rounding.
pub fn rounding_slack(i: &LiquidationInputs) -> MathResult<i128> {
    let liab_unit =
        mul_bps(mul_q64(1, i.liab_price, Round::Up)?, i.liab_maint_weight_bps, Round::Up)?;
    let asset_unit =
        mul_bps(mul_q64(1, i.asset_price, Round::Up)?, i.asset_maint_weight_bps, Round::Up)?;
    Ok(END_TARGET_SLACK + liab_unit as i128 + 2 * asset_unit as i128)
}

/// How much more than the fees a step can take from the liquidatee's equity through rounding:
/// three native units of the debt (the repaid shares round down, the owed amount up) and three of
/// the collateral (the seized total and the shares burned round up, the held amount down), at
/// the health prices, plus four quote units for the value roundings.
pub fn solvency_slack(liab_price: u128, asset_price: u128) -> MathResult<u64> {
    let liab_units = mul_q64(3, liab_price, Round::Up)?;
    let asset_units = mul_q64(3, asset_price, Round::Up)?;
    liab_units.checked_add(asset_units).and_then(|v| v.checked_add(4)).ok_or(Overflow)
}

/// The cap on both fees of one step ([`LiquidationInputs::max_fee_quote`]): the liquidatee's
/// equity at the health prices less [`solvency_slack`], floored at zero; no cap (`u64::MAX`) for
/// an insolvent account.
pub fn fee_cap(deposits_value: u64, liabs_value: u64, solvency_slack: u64) -> u64 {
    match deposits_value.checked_sub(liabs_value) {
        Some(equity) => equity.saturating_sub(solvency_slack),
        None => u64::MAX,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationInputs {
    /// Liquidatee's maint health before (quote native units).
    pub maint_health: i128,
    /// Liquidatee's maint-weighted liabilities before (quote native units).
    pub maint_weighted_liabs: i128,
    /// The end target as a fraction of maint-weighted liabilities (bps).
    pub end_buffer_bps: u32,
    /// Liability (health) price of the liability bank, `p_l` (Q64.64 quote per native).
    pub liab_price: u128,
    /// Oracle (exchange) price of the liability bank, `m_l` (Q64.64 quote per native).
    pub liab_exchange_price: u128,
    pub liab_maint_weight_bps: u32,
    /// Asset (health) price of the asset bank, `p_a` (Q64.64 quote per native).
    pub asset_price: u128,
    /// Oracle (exchange) price of the asset bank, `m_a` (Q64.64 quote per native).
    pub asset_exchange_price: u128,
    pub asset_maint_weight_bps: u32,
    pub liquidation_fee_bps: u32,
    pub insurance_fee_bps: u32,
    /// What the liquidatee owes in the liability bank (native, rounded up).
    pub liab_owed: u64,
    /// What the liquidatee holds in the asset bank (native, rounded down).
    pub asset_available: u64,
    pub max_liab_amount: u64,
    /// Both fees together may take at most this much (quote native units): [`fee_cap`].
    pub max_fee_quote: u64,
}

/// Why `L` is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    MaxLiabAmount,
    Debt,
    Collateral,
    EndTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationAmounts {
    /// Debt the liquidator takes over (native units of the liability bank).
    pub liab: u64,
    /// Deposit the liquidator receives (native units of the asset bank).
    pub asset_to_liquidator: u64,
    /// Deposit moved to the asset bank's insurance fund.
    pub asset_to_insurance: u64,
    pub limited_by: Limit,
}

/// The end target: `ceil(end_buffer · Lw)` quote units of maint health.
pub fn end_target(maint_weighted_liabs: i128, end_buffer_bps: u32) -> i128 {
    let liabs = maint_weighted_liabs.max(0) as u128;
    (liabs * end_buffer_bps as u128).div_ceil(BPS as u128) as i128
}

/// Whether an account may be liquidated: maint health below zero, or, once a liquidation has
/// started, below the end target.
pub fn is_liquidatable(maint_health: i128, end_target: i128, being_liquidated: bool) -> bool {
    maint_health < 0 || (being_liquidated && maint_health < end_target)
}

/// The amounts of one liquidation step.
pub fn liquidation_amounts(i: &LiquidationInputs) -> MathResult<LiquidationAmounts> {
    let total_fee_bps = BPS + i.liquidation_fee_bps + i.insurance_fee_bps;

    // Collateral limit: L · m_l · (1 + fee + ins) <= asset_available · m_a.
    let collateral_value = mul_q64(i.asset_available, i.asset_exchange_price, Round::Down)?;
    let payable_value = mul_div(collateral_value, BPS as u64, total_fee_bps as u64, Round::Down)?;
    let by_collateral = div_q64(payable_value, i.liab_exchange_price, Round::Down)?;

    let by_end_target = liab_to_reach_end_target(i, total_fee_bps)?;

    let mut amounts = [
        (i.max_liab_amount, Limit::MaxLiabAmount),
        (i.liab_owed, Limit::Debt),
        (by_collateral, Limit::Collateral),
        (by_end_target, Limit::EndTarget),
    ];
    amounts.sort_by_key(|(amount, _)| *amount);
    let (liab, limited_by) = amounts[0];

    // The fees on `liab` at the exchange price, capped together at `max_fee_quote` and split in
    // proportion: the liquidator's part rounded down, the insurance part the rest.
    let liab_value_up = mul_q64(liab, i.liab_exchange_price, Round::Up)?;
    let liab_value_down = mul_q64(liab, i.liab_exchange_price, Round::Down)?;
    let fees_bps = i.liquidation_fee_bps + i.insurance_fee_bps;
    let fees = mul_bps(liab_value_up, fees_bps, Round::Up)?.min(i.max_fee_quote);
    let liquidator_fee = if fees_bps == 0 {
        0
    } else {
        mul_div(fees, i.liquidation_fee_bps as u64, fees_bps as u64, Round::Down)?
    }
    .min(mul_bps(liab_value_down, i.liquidation_fee_bps, Round::Down)?);

    // The collateral that pays for `liab` and the fees: the liquidatee gives up the total
    // rounded up, the liquidator gets its part rounded down, the insurance fund the rest.
    let total_value = liab_value_up.checked_add(fees).ok_or(Overflow)?;
    let liquidator_value = liab_value_down.checked_add(liquidator_fee).ok_or(Overflow)?;
    let asset_total =
        div_q64(total_value, i.asset_exchange_price, Round::Up)?.min(i.asset_available);
    let asset_to_liquidator =
        div_q64(liquidator_value, i.asset_exchange_price, Round::Down)?.min(asset_total);
    Ok(LiquidationAmounts {
        liab,
        asset_to_liquidator,
        asset_to_insurance: asset_total - asset_to_liquidator,
        limited_by,
    })
}

/// `L_end` of the module docs, or `u64::MAX` when liquidating this pair cannot reach the target
/// (the fees outweigh the weight difference) or the account is already there.
fn liab_to_reach_end_target(i: &LiquidationInputs, total_fee_bps: u32) -> MathResult<u64> {
    let slack = rounding_slack(i)?;
    let target = end_target(i.maint_weighted_liabs, i.end_buffer_bps) + slack;
    let missing = target - i.maint_health; // quote units
    if missing <= 0 {
        return Ok(0);
    }
    // `s` in Q64.64, rounded up (a larger seized value means a smaller gain per unit, so `L`
    // errs towards reaching the target): m_l · p_a / m_a, through a 32-bit ratio p_a / m_a <= 1.
    let ratio_q32 = (i.asset_price.checked_mul(1 << 32).ok_or(Overflow)?)
        .div_ceil(i.asset_exchange_price.max(1));
    let seized_price =
        (i.liab_exchange_price.checked_mul(ratio_q32).ok_or(Overflow)?).div_ceil(1 << 32);
    // Per unit of L, in Q64.64 × bps² (shifted by 32): the liability side, less the seized side.
    let per_unit = |liab_weight_bps2: u128| -> MathResult<u128> {
        let gain = i.liab_price.checked_mul(liab_weight_bps2).ok_or(Overflow)?;
        let cost = seized_price
            .checked_mul(total_fee_bps as u128 * i.asset_maint_weight_bps as u128)
            .ok_or(Overflow)?;
        Ok(gain.saturating_sub(cost) >> 32)
    };
    let w_l = i.liab_maint_weight_bps as u128;
    let to_target =
        quote_to_liab_units(missing, per_unit(w_l * (BPS + i.end_buffer_bps) as u128)?)?;
    // A step must also raise maint health itself by more than the rounding can take from it,
    // or the program refuses it (`LiquidationDidNotImprove`) and an account a hair below its
    // target would stay flagged for good: at least slack / (p_l · w_l − (1 + fees) · s · w_a).
    let per_unit_maint = per_unit(w_l * BPS as u128)?;
    let floor = if per_unit_maint > 0 { quote_to_liab_units(slack, per_unit_maint)? } else { 0 };
    Ok(to_target.max(floor))
}

/// `quote · 10^8 / per_unit`, rounded up: the units of debt that gain `quote`, where `per_unit`
/// is the gain of one unit in Q64.64 × bps², shifted right by 32 (prices keep 32 fractional bits
/// so the products stay inside u128). `u64::MAX` when a unit gains nothing.
fn quote_to_liab_units(quote: i128, per_unit: u128) -> MathResult<u64> {
    if per_unit == 0 {
        return Ok(u64::MAX);
    }
    let numerator =
        ((quote as u128) << 32).checked_mul(BPS as u128 * BPS as u128).ok_or(Overflow)?;
    Ok(u64::try_from(numerator.div_ceil(per_unit)).unwrap_or(u64::MAX))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::math::ONE_Q64;

    /// 10 SOL at $100 (0.1 per lamport is not exact: use $125 = 1/8) deposited, USDC borrowed.
    pub(crate) fn inputs(maint_health: i128, liabs: i128, owed: u64) -> LiquidationInputs {
        LiquidationInputs {
            maint_health,
            maint_weighted_liabs: liabs,
            end_buffer_bps: 500,
            liab_price: ONE_Q64,
            liab_exchange_price: ONE_Q64,
            liab_maint_weight_bps: 11_000,
            asset_price: ONE_Q64 / 8,
            asset_exchange_price: ONE_Q64 / 8,
            asset_maint_weight_bps: 9_000,
            liquidation_fee_bps: 500,
            insurance_fee_bps: 100,
            liab_owed: owed,
            asset_available: 10_000_000_000,
            max_liab_amount: u64::MAX,
            max_fee_quote: u64::MAX,
        }
    }

    #[test]
    fn seized_collateral_is_the_debt_plus_fees_at_conservative_prices() {
        let mut i = inputs(-1, 1_100_000_000, 1_000_000_000);
        i.max_liab_amount = 100_000_000; // 100 USDC
        let a = liquidation_amounts(&i).unwrap();
        assert_eq!(a.limited_by, Limit::MaxLiabAmount);
        assert_eq!(a.liab, 100_000_000);
        // 100 USDC × 1.05 = $105 = 0.84 SOL to the liquidator; × 0.01 = $1 = 0.008 SOL insured.
        assert_eq!(a.asset_to_liquidator, 840_000_000);
        assert_eq!(a.asset_to_insurance, 8_000_000);
    }

    #[test]
    fn end_target_in_closed_form() {
        // H = −$10, Lw = $1,100 → target = 5% × 1,100 = $55, plus 12 micro-USD of rounding
        // slack: 8, one micro-USDC at 1.1 (→ 2), two lamports at $125 × 0.9 (→ 1 each).
        // Per USDC of L: k = 1.1 × 1.05 − 1.06 × 0.9 = 1.155 − 0.954 = 0.201.
        // L = (55 + 10 + 0.000012) / 0.201 = 323.383144… USDC → 323,383,145 (rounded up).
        let a = liquidation_amounts(&inputs(-10_000_000, 1_100_000_000, 1_000_000_000)).unwrap();
        assert_eq!(a.limited_by, Limit::EndTarget);
        assert_eq!(a.liab, 323_383_145);
    }

    #[test]
    fn the_debt_and_the_collateral_cap_it() {
        let a = liquidation_amounts(&inputs(-500_000_000, 1_100_000_000, 20_000_000)).unwrap();
        assert_eq!((a.limited_by, a.liab), (Limit::Debt, 20_000_000));
        let mut i = inputs(-500_000_000, 1_100_000_000, 1_000_000_000);
        i.asset_available = 800_000_000; // 0.8 SOL = $100 → pays for 100 / 1.06 = 94.339622 USDC
        let a = liquidation_amounts(&i).unwrap();
        assert_eq!((a.limited_by, a.liab), (Limit::Collateral, 94_339_622));
        assert_eq!(a.asset_to_liquidator + a.asset_to_insurance, 800_000_000);
    }

    /// Debt at a maint weight of 1 against collateral at 0.98 with 6% of fees: a unit repaid
    /// frees 1.0 of maint and costs 1.0388, so no amount raises maint health by the rounding
    /// slack and that floor does not apply; the buffered target (1.05 a unit) sets the amount.
    #[test]
    fn a_pair_that_cannot_beat_the_rounding_takes_what_the_target_needs() {
        let mut i = inputs(-1_000, 10_000_000, 1_000_000_000);
        i.liab_maint_weight_bps = 10_000;
        i.asset_maint_weight_bps = 9_800;
        let a = liquidation_amounts(&i).unwrap();
        assert_eq!(a.limited_by, Limit::EndTarget);
        assert!(a.liab < 100_000_000, "{a:?}");
    }

    #[test]
    fn the_slack_covers_one_unit_of_an_expensive_debt_token() {
        // BTC debt at $100,000 (8 decimals: 1,000 micro-USD per satoshi), SOL collateral.
        let mut i = inputs(-10_000_000, 1_100_000_000, 1_000_000);
        i.liab_price = ONE_Q64 * 1_000;
        i.liab_exchange_price = i.liab_price;
        // 8 + ceil(1,000 × 1.1) + 2 × ceil(0.125 × 0.9 → 1) = 8 + 1,100 + 2.
        assert_eq!(rounding_slack(&i), Ok(1_110));
        // Collateral worth 3 quote units a native unit: 2 × ceil(3 × 0.9) = 6.
        i.asset_price = ONE_Q64 * 3;
        assert_eq!(rounding_slack(&i), Ok(8 + 1_100 + 6));
    }

    #[test]
    fn a_step_just_below_the_target_is_big_enough_to_beat_the_rounding() {
        // BTC debt ($0.001 per satoshi, maint liability weight 1.08), SOL collateral at $125:
        // one quote unit below the end target. Reaching the target alone would take 7 sats, but
        // a repaid satoshi can stay owed through the share rounding (1,080 quote units of
        // maint), which 7 sats × 1,000 × (1.08 − 1.06 × 0.9 = 0.126) = 882 would not outweigh.
        let mut i = inputs(0, 1_000_000_000, 1_000_000);
        i.liab_price = ONE_Q64 * 1_000;
        i.liab_exchange_price = i.liab_price;
        i.liab_maint_weight_bps = 10_800;
        let slack = rounding_slack(&i).unwrap();
        assert_eq!(slack, 8 + 1_080 + 2);
        i.maint_health = end_target(i.maint_weighted_liabs, i.end_buffer_bps) - 1;
        let a = liquidation_amounts(&i).unwrap();
        assert_eq!(a.limited_by, Limit::EndTarget);
        // ceil(1,090 / (1,000 × 0.126)) = ceil(8.65) = 9 sats: 9 × 126 = 1,134 > 1,090.
        assert_eq!(a.liab, 9);
    }

    #[test]
    fn liquidatable_below_zero_or_below_the_target_once_started() {
        assert!(is_liquidatable(-1, 50, false));
        assert!(!is_liquidatable(0, 50, false));
        assert!(is_liquidatable(49, 50, true));
        assert!(!is_liquidatable(50, 50, true));
    }

    /// M-3: with a 2% confidence and k = 1, health sees USDC at $1.02 and SOL at $122.50, but
    /// the exchange is at the oracle prices ($1, $125): the liquidator's bonus is the bank's 5%
    /// and the insurance fee its 1%, not the 9.29% and 10.33% the widened prices paid.
    #[test]
    fn m3_the_exchange_is_at_the_oracle_price_so_the_fee_is_the_banks() {
        let mut i = inputs(-1, 1_100_000_000, 1_000_000_000);
        i.liab_price = ONE_Q64 * 102 / 100;
        i.asset_price = ONE_Q64 * 98 / 800; // $122.50 per SOL
        i.max_liab_amount = 100_000_000; // 100 USDC
        let a = liquidation_amounts(&i).unwrap();
        // $105 at $125 = 0.84 SOL; $1 = 0.008 SOL (the liquidator's part rounds down).
        assert_eq!(a.asset_to_liquidator, 840_000_000);
        assert_eq!(a.asset_to_liquidator + a.asset_to_insurance, 848_000_000);
        // Valued at the oracle price, the bonus is exactly the fee.
        let received = mul_q64(a.asset_to_liquidator, i.asset_exchange_price, Round::Down).unwrap();
        assert_eq!(received, 105_000_000);
    }

    /// M-3: the end target is still judged at the health prices, so a step sized by the closed
    /// form reaches it, with the gain per unit taken from both kinds of price.
    #[test]
    fn m3_the_end_target_is_reached_at_the_health_prices() {
        let mut i = inputs(-10_000_000, 1_100_000_000, 1_000_000_000);
        i.liab_price = ONE_Q64 * 102 / 100;
        i.asset_price = ONE_Q64 * 98 / 800;
        let a = liquidation_amounts(&i).unwrap();
        assert_eq!(a.limited_by, Limit::EndTarget);
        // Health after, at the health prices, against the target after.
        let liab_value = |units: u64| mul_q64(units, i.liab_price, Round::Up).unwrap() as i128;
        let asset_value = |units: u64| mul_q64(units, i.asset_price, Round::Down).unwrap() as i128;
        let seized = a.asset_to_liquidator + a.asset_to_insurance;
        let health_after =
            i.maint_health + liab_value(a.liab) * 11 / 10 - asset_value(seized) * 9 / 10 - 2;
        let liabs_after = i.maint_weighted_liabs - liab_value(a.liab) * 11 / 10;
        assert!(health_after >= end_target(liabs_after, i.end_buffer_bps), "{health_after}");
        // And not far past it: one more unit of rounding slack's worth.
        let fewer =
            liquidation_amounts(&LiquidationInputs { max_liab_amount: a.liab * 99 / 100, ..i })
                .unwrap();
        let short = i.maint_health + liab_value(fewer.liab) * 11 / 10
            - asset_value(fewer.asset_to_liquidator + fewer.asset_to_insurance) * 9 / 10;
        assert!(short < end_target(i.maint_weighted_liabs - liab_value(fewer.liab) * 11 / 10, 500));
    }

    /// L-4: a solvent account's fees are capped at its equity less the slack, split 5:1.
    #[test]
    fn l4_the_fees_are_capped_by_the_equity_left() {
        let mut i = inputs(-1, 1_100_000_000, 1_000_000_000);
        i.max_liab_amount = 100_000_000; // fees would be $6
        i.max_fee_quote = 3_000_000; // $3 of equity left
        let a = liquidation_amounts(&i).unwrap();
        // $100 + $2.50 to the liquidator = 0.82 SOL; $0.50 more to the fund = 0.004 SOL.
        assert_eq!(a.asset_to_liquidator, 820_000_000);
        assert_eq!(a.asset_to_insurance, 4_000_000);
        // No equity: the liquidator gets the debt's worth and nothing more.
        i.max_fee_quote = 0;
        let a = liquidation_amounts(&i).unwrap();
        assert_eq!((a.asset_to_liquidator, a.asset_to_insurance), (800_000_000, 0));
        assert_eq!(fee_cap(10_000_000, 7_000_000, 1_000), 2_999_000);
        assert_eq!(fee_cap(7_000_000, 7_000_000, 1_000), 0);
        assert_eq!(fee_cap(6_999_999, 7_000_000, 1_000), u64::MAX);
    }
}
