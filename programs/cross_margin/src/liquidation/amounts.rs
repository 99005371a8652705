//! Liquidation amounts: pure, closed-form, computed by [`super::step`] for the program, the keeper
//! and the property campaign.
//!
//! The liquidator takes over `L` native units of the liquidatee's borrow in the liability bank
//! and receives deposit in the asset bank worth `L · p_liab · (1 + fee)`; an insurance fee
//! `L · p_liab · ins` more leaves the liquidatee for the asset bank's insurance fund. Prices are
//! the conservative ones (liability price for the debt, asset price for the collateral).
//!
//! With maint weights `w_l` (liability bank) and `w_a` (asset bank), each unit of `L` changes the
//! liquidatee's maint health by `p_l · (w_l − (1 + fee + ins) · w_a)` and its maint-weighted
//! liabilities by `−p_l · w_l`. Liquidation ends once
//!
//! ```text
//! maint_health >= end_buffer · maint_weighted_liabilities
//! ```
//!
//! so the `L` that reaches the end target is, in closed form,
//!
//! ```text
//! L_end = (end_buffer · Lw − H) / (p_l · (w_l · (1 + end_buffer) − (1 + fee + ins) · w_a))
//! ```
//!
//! rounded up, with a slack for rounding ([`rounding_slack`]): one native unit of the debt and
//! two of the collateral at their maint values, plus eight quote units. `L` is the smallest of
//! `max_liab_amount`, the debt, what the asset position can pay for, and `L_end`.

use crate::math::{div_q64, mul_bps, mul_q64, MathResult, Overflow, Round, BPS};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationInputs {
    /// Liquidatee's maint health before (quote native units).
    pub maint_health: i128,
    /// Liquidatee's maint-weighted liabilities before (quote native units).
    pub maint_weighted_liabs: i128,
    /// The end target as a fraction of maint-weighted liabilities (bps).
    pub end_buffer_bps: u32,
    /// Liability price of the liability bank (Q64.64 quote per native).
    pub liab_price: u128,
    pub liab_maint_weight_bps: u32,
    /// Asset price of the asset bank (Q64.64 quote per native).
    pub asset_price: u128,
    pub asset_maint_weight_bps: u32,
    pub liquidation_fee_bps: u32,
    pub insurance_fee_bps: u32,
    /// What the liquidatee owes in the liability bank (native, rounded up).
    pub liab_owed: u64,
    /// What the liquidatee holds in the asset bank (native, rounded down).
    pub asset_available: u64,
    pub max_liab_amount: u64,
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

    // Collateral limit: L · p_l · (1 + fee + ins) <= asset_available · p_a.
    let collateral_value = mul_q64(i.asset_available, i.asset_price, Round::Down)?;
    let payable_value =
        crate::math::mul_div(collateral_value, BPS as u64, total_fee_bps as u64, Round::Down)?;
    let by_collateral = div_q64(payable_value, i.liab_price, Round::Down)?;

    let by_end_target = liab_to_reach_end_target(i, total_fee_bps)?;

    let mut amounts = [
        (i.max_liab_amount, Limit::MaxLiabAmount),
        (i.liab_owed, Limit::Debt),
        (by_collateral, Limit::Collateral),
        (by_end_target, Limit::EndTarget),
    ];
    amounts.sort_by_key(|(amount, _)| *amount);
    let (liab, limited_by) = amounts[0];

    // The collateral that pays for `liab`: the liquidatee gives up the total rounded up, the
    // liquidator gets its part rounded down, and the insurance fund gets the rest.
    let liab_value_up = mul_q64(liab, i.liab_price, Round::Up)?;
    let liab_value_down = mul_q64(liab, i.liab_price, Round::Down)?;
    let total_value = mul_bps(liab_value_up, total_fee_bps, Round::Up)?;
    let liquidator_value = mul_bps(liab_value_down, BPS + i.liquidation_fee_bps, Round::Down)?;
    let asset_total = div_q64(total_value, i.asset_price, Round::Up)?.min(i.asset_available);
    let asset_to_liquidator =
        div_q64(liquidator_value, i.asset_price, Round::Down)?.min(asset_total);
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
    // Per unit of L, in p_l · bps² units: w_l · (1 + e) − (1 + fee + ins) · w_a.
    let k_end = i.liab_maint_weight_bps as i128 * (BPS + i.end_buffer_bps) as i128
        - total_fee_bps as i128 * i.asset_maint_weight_bps as i128;
    if k_end <= 0 {
        return Ok(u64::MAX);
    }
    let to_target = quote_to_liab_units(missing, k_end, i.liab_price)?;
    // A step must also raise maint health itself by more than the rounding can take from it,
    // or the program refuses it (`LiquidationDidNotImprove`) and an account a hair below its
    // target would stay flagged for good: at least slack / (p_l · (w_l − (1 + fees) · w_a)).
    let k_maint = i.liab_maint_weight_bps as i128 * BPS as i128
        - total_fee_bps as i128 * i.asset_maint_weight_bps as i128;
    let floor = if k_maint > 0 { quote_to_liab_units(slack, k_maint, i.liab_price)? } else { 0 };
    Ok(to_target.max(floor))
}

/// `quote · 10^8 / (p_l · k)`, rounded up: the units of debt whose `k` (bps²) share of value is
/// `quote`. The price keeps 32 fractional bits so the product stays inside u128.
fn quote_to_liab_units(quote: i128, k_bps2: i128, liab_price: u128) -> MathResult<u64> {
    let per_unit = (liab_price.checked_mul(k_bps2 as u128).ok_or(Overflow)?) >> 32;
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
            liab_maint_weight_bps: 11_000,
            asset_price: ONE_Q64 / 8,
            asset_maint_weight_bps: 9_000,
            liquidation_fee_bps: 500,
            insurance_fee_bps: 100,
            liab_owed: owed,
            asset_available: 10_000_000_000,
            max_liab_amount: u64::MAX,
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

    #[test]
    fn the_slack_covers_one_unit_of_an_expensive_debt_token() {
        // BTC debt at $100,000 (8 decimals: 1,000 micro-USD per satoshi), SOL collateral.
        let mut i = inputs(-10_000_000, 1_100_000_000, 1_000_000);
        i.liab_price = ONE_Q64 * 1_000;
        // 8 + ceil(1,000 × 1.1) + 2 × ceil(0.125 × 0.9 → 1) = 8 + 1,100 + 2.
        assert_eq!(rounding_slack(&i), Ok(1_110));
    }

    #[test]
    fn a_step_just_below_the_target_is_big_enough_to_beat_the_rounding() {
        // BTC debt ($0.001 per satoshi, maint liability weight 1.08), SOL collateral at $125:
        // one quote unit below the end target. Reaching the target alone would take 7 sats, but
        // a repaid satoshi can stay owed through the share rounding (1,080 quote units of
        // maint), which 7 sats × 1,000 × (1.08 − 1.06 × 0.9 = 0.126) = 882 would not outweigh.
        let mut i = inputs(0, 1_000_000_000, 1_000_000);
        i.liab_price = ONE_Q64 * 1_000;
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
}
