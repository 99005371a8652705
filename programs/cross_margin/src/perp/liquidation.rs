//! Perp liquidation, pure: how many lots `liquidate_perp` closes (in closed form, piecewise) and
//! what the step does to loaded state. The program's handler prices the liquidatee and calls
//! [`liquidate`]; the keeper calls the same function on copies to plan. docs/PERPS.md
//! ("Liquidation") states the rules.
//!
//! The liquidatee's position closes against the pool at the oracle price, the fees (the
//! market's liquidation fee for the keeper, its insurance fee for the market's fund) charged on
//! the notional. So the keeper needs no capital and takes on no position.
//!
//! **The amount.** With `q` lots closed, the account's maint health `H(q)` and its end target
//! `E(q)` (as token liquidation's: `end_buffer × maint-weighted liabilities`, with the perps
//! combined into the settle balance, [`PerpTotals::combine`]) are piecewise linear in `q`. Their
//! kinks are where the total fee reaches its cap, where the position's PnL changes sign (a gain
//! counts at the PnL weight, a loss in full) and where the combined settle balance changes sign
//! (an asset becomes a liability). Between consecutive kinks `H − E` is linear, so the smallest
//! `q` with `H(q) − E(q) >= END_TARGET_SLACK` is `a + ceil((slack − g(a)) × (b − a) / (g(b) − g(a)))`
//! on the piece `[a, b]` where `g = H − E` first reaches it, each `g` evaluated exactly. A kink
//! falls between two whole lots, and both are points, so no piece bends inside. `q` is capped by
//! the position and `max_base_lots`.

use crate::bankruptcy::can_write_off_account;
use crate::error::MarginError;
use crate::health::{AccountTotals, PerpTotals, PricedPosition};
use crate::health_accounts::PricedPerp;
use crate::liquidation::{end_target, fee_cap, is_liquidatable, END_TARGET_SLACK};
use crate::math::{div_q64, mul_div, mul_q64, MathResult, Overflow, Round};
use crate::perp::actions::Touch;
use crate::perp::{perp_health, Fill, PerpHealthInputs, PerpParams, PerpPosition};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

/// How much more than the fees a step can take from the liquidatee's equity through rounding
/// (the fill's quote rounds once, the combined settle balance's value twice), quote units.
pub const PERP_SOLVENCY_SLACK: u64 = 8;

/// The liquidatee as `liquidate_perp` prices it before the step: its token positions, the perp
/// part of its health, and its slot in the market being liquidated (funding applied).
#[derive(Clone, Copy)]
pub struct PerpLiquidatee<'a> {
    pub positions: &'a [PricedPosition],
    pub perp: &'a PerpTotals,
    pub slot: &'a PricedPerp,
}

/// Why the closed lots are what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerpLimit {
    MaxBase,
    Position,
    EndTarget,
}

/// Closing `q` lots of the liquidatee's position: everything the amount and the step need.
struct Closing<'a> {
    liquidatee: PerpLiquidatee<'a>,
    params: PerpParams,
    maint: PerpHealthInputs,
    mid: u128,
    fee_bps: u32,
    /// Both fees together may take at most this much: the solvent account's equity (less the
    /// slack) and what the pool's deposit can pay out.
    max_fee: u64,
    end_buffer_bps: u32,
}

/// The account after closing `q` lots.
#[derive(Clone, Copy)]
struct Point {
    q: u64,
    fill: Fill,
    totals: AccountTotals,
    /// `maint − end target`.
    gap: i128,
    /// The fee uncapped minus the cap (the fee kink), the position's PnL (the weighting kink) and
    /// the combined maint settle balance (the valuation kink).
    kinks: [i128; 3],
}

impl Closing<'_> {
    fn trade_lots(&self, q: u64) -> MathResult<i64> {
        let lots = i64::try_from(q).map_err(|_| Overflow)?;
        Ok(if self.liquidatee.slot.base_lots > 0 { -lots } else { lots })
    }

    fn at(&self, q: u64) -> MathResult<Point> {
        let slot = self.liquidatee.slot;
        let trade_lots = self.trade_lots(q)?;
        let uncapped = Fill::new(&self.params, self.mid, trade_lots, self.fee_bps)?;
        let fill = Fill { fee: uncapped.fee.min(self.max_fee), ..uncapped };
        let mut position = PerpPosition {
            base_lots: slot.base_lots,
            quote_native: slot.quote_native,
            ..Default::default()
        };
        position.trade(trade_lots, &fill)?;
        let contribution = perp_health(&position, &self.params, &self.maint)?;
        let pnl = position.pnl(&self.params, self.maint.long_price)?;
        let perp = self.liquidatee.perp;
        let changed = PerpTotals {
            perps: crate::health::Health {
                init: perp.perps.init,
                maint: perp.perps.maint - slot.maint + contribution,
            },
            pnl: perp.pnl - slot.maint_pnl + pnl,
            ..*perp
        };
        let totals = changed.combine(self.liquidatee.positions)?;
        let gap =
            totals.health.maint - end_target(totals.maint_weighted_liabs, self.end_buffer_bps);
        let balance = self.settle_balance() + changed.perps.maint;
        let fee_kink = uncapped.fee as i128 - self.max_fee as i128;
        Ok(Point { q, fill, totals, gap, kinks: [fee_kink, pnl, balance] })
    }

    /// The account's signed balance in the settle bank.
    fn settle_balance(&self) -> i128 {
        let settle = self.liquidatee.perp.settle_bank_index;
        match crate::health::find_position(self.liquidatee.positions, settle) {
            Some(p) if p.health.is_liability => -(p.health.native as i128),
            Some(p) => p.health.native as i128,
            None => 0,
        }
    }
}

/// `a + ceil((target − ga) × (b − a) / (gb − ga))` in `[a + 1, b]`: where the linear piece
/// through `(a, ga)` and `(b, gb)` reaches `target` (`ga < target <= gb` or the reverse).
fn crossing(a: u64, b: u64, ga: i128, gb: i128, target: i128) -> MathResult<u64> {
    let (rise, need) = ((gb - ga).unsigned_abs(), (target - ga).unsigned_abs());
    if rise == 0 {
        return Ok(b);
    }
    let span = (b - a) as u128;
    let step = need.checked_mul(span).ok_or(Overflow)?.div_ceil(rise);
    let step = u64::try_from(step).unwrap_or(u64::MAX);
    Ok(a.saturating_add(step).clamp(a + 1, b))
}

/// The lots the step closes, and why: the smallest that reaches the end target (module docs),
/// or the position, or `max_base_lots`.
fn lots_to_close(c: &Closing, max_base_lots: u64) -> MathResult<(Point, PerpLimit)> {
    let size = c.liquidatee.slot.base_lots.unsigned_abs();
    let (q_max, cap) = if max_base_lots < size {
        (max_base_lots, PerpLimit::MaxBase)
    } else {
        (size, PerpLimit::Position)
    };
    let slack = END_TARGET_SLACK;
    let last = c.at(q_max)?;
    if last.gap < slack {
        return Ok((last, cap));
    }
    // The kinks, each found on the pieces the earlier ones left (where it is linear). A kink
    // falls between two whole lots, `k − 1` and `k`; both become points, so that no piece has
    // one inside it (were only `k` kept, the piece ending there would bend in its last lot).
    let mut points = vec![c.at(0)?, last];
    for kink in 0..3 {
        let mut split = Vec::with_capacity(points.len() + 2);
        split.push(points[0]);
        for pair in points.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (ha, hb) = (a.kinks[kink], b.kinks[kink]);
            if (ha < 0) != (hb < 0) {
                let k = crossing(a.q, b.q, ha, hb, 0)?;
                if k - 1 > a.q {
                    split.push(c.at(k - 1)?);
                }
                if k < b.q {
                    split.push(c.at(k)?);
                }
            }
            split.push(*b);
        }
        points = split;
    }
    let first = points.iter().position(|p| p.gap >= slack).ok_or(Overflow)?;
    if first == 0 {
        return Ok((points[0], PerpLimit::EndTarget));
    }
    let (a, b) = (points[first - 1], points[first]);
    let q = crossing(a.q, b.q, a.gap, b.gap, slack)?;
    Ok((if q == b.q { b } else { c.at(q)? }, PerpLimit::EndTarget))
}

/// What one `liquidate_perp` step did: the `PerpLiquidation` event's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerpLiquidationOutcome {
    pub base_lots_before: i64,
    pub base_lots_after: i64,
    /// Lots closed (the position moved towards zero by this many).
    pub lots_closed: u64,
    pub limited_by: PerpLimit,
    /// The oracle (mid) price the position closed at (Q64.64).
    pub oracle_price: u128,
    /// What the fill paid the position before fees (+ for a long sold, − for a short bought).
    pub quote_change: i64,
    /// Paid from the pool's deposit to the liquidator's settle-bank position.
    pub liquidation_fee: u64,
    /// Paid from the pool's deposit to the market's insurance fund (settle native units,
    /// rounded down to whole shares).
    pub insurance_fee: u64,
    pub maint_health_before: i128,
    pub maint_health_after: i128,
    pub end_target_after: i128,
    pub still_being_liquidated: bool,
    pub bankrupt: bool,
}

/// One `liquidate_perp` step: closes up to `max_base_lots` of the liquidatee's position in
/// `market` against the pool at the oracle price (`touch.price`) less (a long) or plus (a short)
/// the fees, by the closed-form amount ([`lots_to_close`]); the liquidation fee goes to the
/// liquidator's settle-bank position and the insurance fee to the market's insurance fund, both
/// from the pool's deposit (the liquidatee owes the pool them in its quote, so the pool's value
/// is unchanged). Refused, with the program's error, when:
/// - the account holds no position in the market (`PerpNoPositionToLiquidate`);
/// - the account is not liquidatable (`NotLiquidatable`);
/// - the step closes nothing (`LiquidationAmountZero`);
/// - maint health does not rise (`LiquidationDidNotImprove`).
///
/// The fees never take a solvent account's equity below zero (capped as token liquidation's,
/// [`fee_cap`]), nor exceed the pool's deposit. The market and the settle bank must have been
/// touched to now (`touch`) and `before` priced with them.
#[allow(clippy::too_many_arguments)]
pub fn liquidate(
    group: &Group,
    market: &mut PerpMarket,
    settle_bank: &mut Bank,
    liquidatee: &mut MarginAccount,
    liquidator: &mut MarginAccount,
    before: PerpLiquidatee,
    touch: Touch,
    max_base_lots: u64,
) -> Result<PerpLiquidationOutcome, MarginError> {
    let overflow = |_| MarginError::MathOverflow;
    if max_base_lots == 0 {
        return Err(MarginError::ZeroAmount);
    }
    let index = liquidatee
        .find_perp(market.market_index)
        .filter(|_| before.slot.base_lots != 0 && before.slot.market_index == market.market_index)
        .ok_or(MarginError::PerpNoPositionToLiquidate)?;
    let totals_before = before.perp.combine(before.positions).map_err(overflow)?;
    let buffer = group.liquidation_end_buffer_bps;
    let maint_before = totals_before.health.maint;
    let target_before = end_target(totals_before.maint_weighted_liabs, buffer);
    if !is_liquidatable(maint_before, target_before, liquidatee.being_liquidated != 0) {
        return Err(MarginError::NotLiquidatable);
    }

    let c = market.config;
    let settle_risk = &before.perp.settle_risk;
    let slack = PERP_SOLVENCY_SLACK;
    let equity_cap = fee_cap(totals_before.deposits_value, totals_before.liabs_value, slack);
    // The cap is in quote units; the fees are paid in settle native units, each worth at most
    // the settle bank's liability price (the price the combined balance is valued at once it
    // turns negative): at most `cap / liability price` of them keeps the equity.
    let equity_cap_native = if equity_cap == u64::MAX {
        u64::MAX
    } else {
        let price = settle_risk.liab_price.max(settle_risk.asset_price).max(1);
        div_q64(equity_cap, price, Round::Down).map_err(overflow)?
    };
    let closing = Closing {
        liquidatee: before,
        params: c.params(),
        maint: PerpHealthInputs {
            long_price: before.slot.maint_price,
            short_price: before.slot.maint_price,
            base_weight_bps: c.maint_base_weight_bps,
            pnl_weight_bps: c.maint_pnl_weight_bps,
        },
        mid: touch.price,
        fee_bps: c.liquidation_fee_bps + c.insurance_fee_bps,
        max_fee: equity_cap_native.min(touch.pool),
        end_buffer_bps: buffer,
    };
    let (point, limited_by) = lots_to_close(&closing, max_base_lots).map_err(overflow)?;
    if point.q == 0 {
        return Err(MarginError::LiquidationAmountZero);
    }
    let maint_after = point.totals.health.maint;
    if maint_after <= maint_before {
        return Err(MarginError::LiquidationDidNotImprove);
    }

    // The position: funding applied (as `before` priced it), then the fill.
    let mut slot = liquidatee.perps[index];
    market.apply_funding(&mut slot)?;
    let trade_lots = closing.trade_lots(point.q).map_err(overflow)?;
    let base_lots_before = slot.base_lots;
    market.book_liquidation(&mut slot, trade_lots, &point.fill)?;
    liquidatee.perps[index] = slot;

    // The fees, from the pool's deposit.
    let fee = point.fill.fee;
    let liquidation_fee = if closing.fee_bps == 0 {
        0
    } else {
        mul_div(fee, c.liquidation_fee_bps as u64, closing.fee_bps as u64, Round::Down)
            .map_err(overflow)?
    };
    let mut pool_shares = market.pool_deposit_shares;
    if liquidation_fee > 0 {
        let amount = i64::try_from(liquidation_fee).map_err(|_| MarginError::MathOverflow)?;
        positions::pool_transfer(liquidator, settle_bank, &mut pool_shares, amount, true)?;
    }
    let insurance_shares = div_q64(fee - liquidation_fee, settle_bank.deposit_index(), Round::Down)
        .map_err(overflow)?;
    // At most what is left: the liquidation fee's shares round up.
    let insurance_shares = insurance_shares.min(pool_shares);
    pool_shares -= insurance_shares;
    market.pool_deposit_shares = pool_shares;
    market.insurance_deposit_shares = market
        .insurance_deposit_shares
        .checked_add(insurance_shares)
        .ok_or(MarginError::MathOverflow)?;
    let insurance_fee =
        mul_q64(insurance_shares, settle_bank.deposit_index(), Round::Down).map_err(overflow)?;

    let target_after = end_target(point.totals.maint_weighted_liabs, buffer);
    let still_being_liquidated = maint_after < target_after;
    liquidatee.being_liquidated = still_being_liquidated as u8;
    let bankrupt = can_write_off_account(&point.totals, false, group.bankruptcy_dust_quote);
    liquidatee.bankrupt = bankrupt as u8;
    Ok(PerpLiquidationOutcome {
        base_lots_before,
        base_lots_after: slot.base_lots,
        lots_closed: point.q,
        limited_by,
        oracle_price: touch.price,
        quote_change: point.fill.quote_change,
        liquidation_fee,
        insurance_fee,
        maint_health_before: maint_before,
        maint_health_after: maint_after,
        end_target_after: target_after,
        still_being_liquidated,
        bankrupt,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::health::{BankRisk, Health, PositionShares};
    use crate::math::ONE_Q64;
    use crate::perp::FundingIndices;
    use crate::state::PerpMarketConfig;

    pub(crate) const POOL: u64 = 100_000_000_000;

    /// USDC at $1 with every weight 1.0; a market whose lot is 0.01 token, maint base weight
    /// 0.9 (10% margin), fees 1% + 0.5%.
    fn setup() -> (Group, PerpMarket, Bank, BankRisk) {
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.liquidation_end_buffer_bps = 500;
        group.bankruptcy_dust_quote = 1_000_000;
        let mut market: PerpMarket = bytemuck::Zeroable::zeroed();
        market.config = PerpMarketConfig {
            base_lot_size: 10_000,
            maint_base_weight_bps: 9_000,
            init_base_weight_bps: 8_000,
            maint_pnl_weight_bps: 9_000,
            liquidation_fee_bps: 100,
            insurance_fee_bps: 50,
            ..bytemuck::Zeroable::zeroed()
        };
        market.pool_deposit_shares = POOL;
        market.lp_shares = POOL;
        let (usdc, risk) = usdc_at_one();
        (group, market, usdc, risk)
    }

    /// A settle bank at $1 with every weight 1.0 (values equal native units), holding the pool's
    /// `POOL` of deposits.
    pub(crate) fn usdc_at_one() -> (Bank, BankRisk) {
        let mut usdc: Bank = bytemuck::Zeroable::zeroed();
        usdc.set_deposit_index(ONE_Q64);
        usdc.set_borrow_index(ONE_Q64);
        usdc.total_deposit_shares = POOL;
        for w in [
            &mut usdc.config.init_asset_weight_bps,
            &mut usdc.config.maint_asset_weight_bps,
            &mut usdc.config.maint_liab_weight_bps,
            &mut usdc.config.init_liab_weight_bps,
        ] {
            *w = 10_000;
        }
        let risk = usdc.risk(ONE_Q64, ONE_Q64, ONE_Q64, ONE_Q64).unwrap();
        (usdc, risk)
    }

    /// $100 of USDC and a 10-token long bought at $100, now at $95: PnL −$50, margin 10% of
    /// $950 = $95, so the settle balance with the perp is 100 − 50 − 95 = −$45.
    fn run(
        max_base_lots: u64,
    ) -> (Result<PerpLiquidationOutcome, MarginError>, MarginAccount, MarginAccount, PerpMarket)
    {
        Case::new(100_000_000, 1_000, 95, max_base_lots).run()
    }

    #[test]
    fn closes_exactly_enough_to_reach_the_end_target() {
        // Each lot closed at $0.95 releases 10% margin ($0.095) and pays 1.5% fees ($0.01425):
        // the settle balance rises by $0.08075 a lot, from −$45. The end target with no debt
        // left is the slack (8 units): 45,000,008 / 80,750 = 557.3, so 558 lots.
        let (outcome, account, liquidator, market) = run(u64::MAX);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.lots_closed, 558);
        assert_eq!(outcome.limited_by, PerpLimit::EndTarget);
        assert_eq!((outcome.base_lots_before, outcome.base_lots_after), (1_000, 442));
        assert_eq!(outcome.maint_health_before, -45_000_000);
        assert_eq!(outcome.maint_health_after, -45_000_000 + 558 * 80_750);
        // Fees: 1.5% of 558 × $0.95 = $7.9515, two thirds to the liquidator.
        assert_eq!(outcome.quote_change, 530_100_000);
        assert_eq!((outcome.liquidation_fee, outcome.insurance_fee), (5_301_000, 2_650_500));
        assert!(!outcome.still_being_liquidated && !outcome.bankrupt);
        let slot = account.perps[0];
        assert_eq!(slot.quote_native, -1_000_000_000 + 530_100_000 - 7_951_500);
        assert_eq!(market.long_lots, 442);
        assert_eq!(market.quote_sum(), slot.quote_native as i128);
        // The liquidator's fee is a settle deposit; the insurance fee shares are the market's.
        assert_eq!(liquidator.positions[0].shares, 5_301_000);
        assert_eq!(market.insurance_deposit_shares, 2_650_500);
        assert_eq!(market.pool_deposit_shares, POOL - 7_951_500);
        // One lot fewer would not have reached the target: −45,000,000 + 557 × 80,750 < 0.
        let (fewer, _, _, _) = run(557);
        let fewer = fewer.unwrap();
        assert!(fewer.maint_health_after < 0 && fewer.still_being_liquidated);
    }

    #[test]
    fn max_base_lots_caps_the_step() {
        let (outcome, _, _, market) = run(100);
        let outcome = outcome.unwrap();
        assert_eq!((outcome.lots_closed, outcome.limited_by), (100, PerpLimit::MaxBase));
        assert_eq!(outcome.maint_health_after, -45_000_000 + 100 * 80_750);
        assert!(outcome.still_being_liquidated);
        assert_eq!(market.long_lots, 900);
    }

    #[test]
    fn zero_lots_is_refused() {
        assert_eq!(run(0).0, Err(MarginError::ZeroAmount));
    }

    #[test]
    fn crossing_interpolates_within_the_piece() {
        // From −10 at 0 to 30 at 4: reaches 0 at 1.
        assert_eq!(crossing(0, 4, -10, 30, 0), Ok(1));
        assert_eq!(crossing(0, 4, -10, 30, 1), Ok(2));
        // Never below a + 1 nor above b.
        assert_eq!(crossing(5, 9, -1, 1_000, -50), Ok(6));
        assert_eq!(crossing(5, 9, -1, 0, 0), Ok(9));
        // The step is over the piece's own span, not from 0.
        assert_eq!(crossing(5, 9, -10, 30, 0), Ok(6));
        // Already at the target at `a`: the next lot.
        assert_eq!(crossing(5, 9, 0, -3, 0), Ok(6));
    }

    /// A liquidatee: a position of `lots` (+ long) opened at $100 a token, priced at `cents` a
    /// token, beside a settle-bank balance of `settle` (− a borrow), a debt of `other_debt`
    /// quote units in another bank, and (in its perp totals) another market's maint health and
    /// PnL `other_perp`; liquidated with at most `max` lots closed.
    #[derive(Clone, Copy)]
    struct Case {
        settle: i64,
        lots: i64,
        cents: u128,
        /// How far the maint price is from `cents` (below for a long, above for a short), as
        /// a confidence interval puts it.
        conf_cents: u128,
        other_debt: u64,
        other_perp: (i128, i128),
        /// The settle bank's maint liability weight (its asset weight is 1.0).
        settle_liab_weight_bps: u32,
        pool: u64,
        being_liquidated: bool,
        liquidation_fee_bps: u32,
        max: u64,
    }

    impl Case {
        fn new(settle: i64, lots: i64, now: u128, max: u64) -> Self {
            Case {
                settle,
                lots,
                cents: now * 100,
                conf_cents: 0,
                other_debt: 0,
                other_perp: (0, 0),
                settle_liab_weight_bps: 10_000,
                pool: POOL,
                being_liquidated: false,
                liquidation_fee_bps: 100,
                max,
            }
        }

        fn with_max(self, max: u64) -> Self {
            Case { max, ..self }
        }

        fn run(
            &self,
        ) -> (Result<PerpLiquidationOutcome, MarginError>, MarginAccount, MarginAccount, PerpMarket)
        {
            let (group, mut market, mut usdc, _) = setup();
            market.config.liquidation_fee_bps = self.liquidation_fee_bps;
            usdc.config.maint_liab_weight_bps = self.settle_liab_weight_bps;
            let risk = usdc.risk(ONE_Q64, ONE_Q64, ONE_Q64, ONE_Q64).unwrap();
            let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
            account.being_liquidated = self.being_liquidated as u8;
            let magnitude = self.settle.unsigned_abs();
            let shares = if self.settle >= 0 {
                positions::deposit(&mut account, &mut usdc, magnitude).unwrap();
                PositionShares::Deposit(magnitude)
            } else {
                positions::borrow(&mut account, &mut usdc, magnitude).unwrap();
                PositionShares::Borrow(magnitude)
            };
            let lots = self.lots;
            let quote = -lots * 1_000_000; // $1 a lot at $100
            let i = account.find_or_open_perp(0, 0, &FundingIndices::default()).unwrap();
            (account.perps[i].base_lots, account.perps[i].quote_native) = (lots, quote);
            (market.long_lots, market.short_lots) =
                (lots.max(0) as u64, lots.min(0).unsigned_abs());
            market.set_quote_sum(quote as i128);
            let price = self.cents * ONE_Q64 / 100;
            let position =
                PerpPosition { base_lots: lots, quote_native: quote, ..Default::default() };
            let maint_cents =
                if lots > 0 { self.cents - self.conf_cents } else { self.cents + self.conf_cents };
            let maint = maint_cents * ONE_Q64 / 100;
            let prices = [price, maint, maint];
            let slot =
                PricedPerp::at(&account.perps[i], &position, &market.config, prices).unwrap();
            let (other_maint, other_pnl) = self.other_perp;
            let perp = PerpTotals {
                settle_bank_index: 0,
                settle_risk: risk,
                perps: Health { init: slot.init, maint: slot.maint + other_maint },
                pnl: slot.maint_pnl + other_pnl,
            };
            let (_, other_risk) = usdc_at_one();
            let mut priced = vec![];
            if self.settle != 0 {
                priced.push(PricedPosition::new(0, risk, shares).unwrap());
            }
            if self.other_debt > 0 {
                let debt = PositionShares::Borrow(self.other_debt);
                priced.push(PricedPosition::new(1, other_risk, debt).unwrap());
            }
            let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
            let before = PerpLiquidatee { positions: &priced, perp: &perp, slot: &slot };
            let touch = Touch { price, pool: self.pool };
            let result = liquidate(
                &group,
                &mut market,
                &mut usdc,
                &mut account,
                &mut liquidator,
                before,
                touch,
                self.max,
            );
            (result, account, liquidator, market)
        }

        fn outcome(&self) -> Result<PerpLiquidationOutcome, MarginError> {
            self.run().0
        }
    }

    fn run_case(
        settle: i64,
        lots: i64,
        now: u128,
        max: u64,
    ) -> Result<PerpLiquidationOutcome, MarginError> {
        Case::new(settle, lots, now, max).outcome()
    }

    /// `maint − end target` after the step.
    fn gap(o: &PerpLiquidationOutcome) -> i128 {
        o.maint_health_after - o.end_target_after
    }

    /// The closed-form search against the definition: over positions long and short, gaining
    /// and losing, with deposits and borrows beside them (so that the fee cap, the PnL's sign
    /// and the settle balance's sign are crossed on the way), the lots closed reach the end
    /// target and one lot fewer does not.
    #[test]
    fn the_lots_closed_are_the_fewest_that_reach_the_end_target() {
        let mut checked = 0;
        for settle in [-60_000_000, -20_000_000, 0, 5_000_000, 30_000_000, 100_000_000] {
            for lots in [1_000, 333, 41, -1_000, -333, -41] {
                for now in [80, 88, 91, 94, 96, 98, 102, 104, 106, 109, 112, 120] {
                    let Ok(all) = run_case(settle, lots, now, u64::MAX) else { continue };
                    if all.limited_by != PerpLimit::EndTarget {
                        assert_eq!(all.lots_closed, lots.unsigned_abs(), "{settle} {lots} {now}");
                        continue;
                    }
                    let n = all.lots_closed;
                    let at = run_case(settle, lots, now, n).unwrap();
                    assert!(!at.still_being_liquidated, "{settle} {lots} {now}: {n} lots");
                    if n > 1 {
                        let fewer = run_case(settle, lots, now, n - 1);
                        let short = fewer.map_or(true, |o| o.still_being_liquidated);
                        assert!(short, "{settle} {lots} {now}: {} lots suffice", n - 1);
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 80, "only {checked} cases reached the end target");
    }

    /// [`the_lots_closed_are_the_fewest_that_reach_the_end_target`]'s check of one case: the lots
    /// closed reach the end target (with the slack) and one fewer does not, or the step is
    /// capped and the cap falls short of it. Whether it reached the target.
    fn check_fewest(case: &Case) -> bool {
        let Ok(all) = case.outcome() else { return false };
        let size = case.lots.unsigned_abs();
        let n = all.lots_closed;
        let label = format!(
            "{n} lots: settle {} lots {} cents {} debt {} weight {} other {:?} max {}",
            case.settle,
            case.lots,
            case.cents,
            case.other_debt,
            case.settle_liab_weight_bps,
            case.other_perp,
            case.max
        );
        if all.limited_by != PerpLimit::EndTarget {
            let cap = if case.max < size { PerpLimit::MaxBase } else { PerpLimit::Position };
            assert_eq!((n, all.limited_by), (size.min(case.max), cap), "{label}");
            assert!(gap(&all) < END_TARGET_SLACK, "{label}");
            return false;
        }
        assert!(gap(&all) >= END_TARGET_SLACK, "{label}");
        if n > 1 {
            let fewer = case.with_max(n - 1).outcome().unwrap();
            assert!(gap(&fewer) < END_TARGET_SLACK, "{label}: {} lots suffice", n - 1);
        }
        true
    }

    /// The search against the definition where its pieces are long: beside a debt in another
    /// bank (the end target then lies away from the settle balance's sign change), at prices off
    /// whole dollars (the fills round), with a settle liability weight above 1.0, small equity
    /// (the fee cap is reached part way) and another market's PnL.
    #[test]
    fn the_lots_closed_are_the_fewest_where_the_pieces_are_long() {
        let mut checked = 0;
        for other_debt in [0, 10_000_000, 40_000_000] {
            for settle in [-30_000_000, 0, 20_000_000, 52_000_000, 60_000_000, 150_000_000] {
                for lots in [1_000, 257, -1_000, -257] {
                    for cents in [8_013, 9_137, 9_650, 9_951, 10_049, 10_377, 10_911, 11_989] {
                        for settle_liab_weight_bps in [10_000, 12_000] {
                            for other_perp in [(0, 0), (3_000_000, 3_000_000)] {
                                let case = Case {
                                    other_debt,
                                    cents,
                                    settle_liab_weight_bps,
                                    other_perp,
                                    ..Case::new(settle, lots, 0, u64::MAX)
                                };
                                checked += check_fewest(&case) as u32;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked >= 400, "only {checked} cases reached the end target");
    }

    #[test]
    fn the_limit_is_the_position_when_max_base_lots_is_its_size() {
        // Under water with every lot closed: 100 − 64.25 (the loss and the fees) − a $40 debt.
        let case = Case { other_debt: 40_000_000, ..Case::new(100_000_000, 1_000, 95, 1_000) };
        let o = case.outcome().unwrap();
        assert_eq!((o.lots_closed, o.limited_by), (1_000, PerpLimit::Position));
        let o = case.with_max(999).outcome().unwrap();
        assert_eq!((o.lots_closed, o.limited_by), (999, PerpLimit::MaxBase));
    }

    #[test]
    fn closing_the_whole_position_to_exactly_the_target_reaches_it() {
        // Maint health after q lots is d − 145,000,000 + 80,750 q (closes_exactly_enough's
        // arithmetic): with d = 64,250,008 the whole position leaves exactly the slack.
        let o = run_case(64_250_008, 1_000, 95, u64::MAX).unwrap();
        assert_eq!((o.lots_closed, o.limited_by), (1_000, PerpLimit::EndTarget));
        assert_eq!(gap(&o), END_TARGET_SLACK);
        // A lot fewer falls short.
        let o = run_case(64_250_008, 1_000, 95, 999).unwrap();
        assert_eq!((o.lots_closed, o.limited_by), (999, PerpLimit::MaxBase));
        assert!(gap(&o) < END_TARGET_SLACK);
    }

    #[test]
    fn a_step_ending_exactly_at_the_target_ends_the_liquidation() {
        // d = 145,000,000 − 558 × 80,750: 558 lots leave maint health 0, the end target with no
        // debt left.
        let (o, account, _, _) = Case::new(99_941_500, 1_000, 95, 558).run();
        let o = o.unwrap();
        assert_eq!((o.lots_closed, o.limited_by), (558, PerpLimit::MaxBase));
        assert_eq!((o.maint_health_after, o.end_target_after), (0, 0));
        assert!(!o.still_being_liquidated);
        assert_eq!(account.being_liquidated, 0);
    }

    #[test]
    fn an_account_being_liquidated_stays_liquidatable_up_to_the_target() {
        // A combined settle balance of 186 − 145 = $41 against a $40 debt: maint health $1, the
        // end target 5% of $40 = $2.
        let case = Case { other_debt: 40_000_000, ..Case::new(186_000_000, 1_000, 95, u64::MAX) };
        assert_eq!(case.outcome(), Err(MarginError::NotLiquidatable));
        let o = Case { being_liquidated: true, ..case }.outcome().unwrap();
        assert_eq!(o.maint_health_before, 1_000_000);
        assert!(gap(&o) >= END_TARGET_SLACK && !o.still_being_liquidated);
    }

    #[test]
    fn a_slot_without_base_lots_is_refused() {
        // Liquidatable through a debt elsewhere, with the market's slot open but flat.
        let case = Case { other_debt: 40_000_000, ..Case::new(0, 0, 95, u64::MAX) };
        assert_eq!(case.outcome(), Err(MarginError::PerpNoPositionToLiquidate));
    }

    #[test]
    fn the_fees_never_take_a_solvent_accounts_last_equity() {
        // Deposits $53 against a $50 loss: $3 of equity, while the whole position's fees would be
        // $14.25. The fees stop at the equity less the slack.
        let (o, account, _, _) = Case::new(53_000_000, 1_000, 95, u64::MAX).run();
        let o = o.unwrap();
        let fees = o.liquidation_fee + o.insurance_fee;
        assert!(fees > 2_000_000 && fees <= 3_000_000 - PERP_SOLVENCY_SLACK, "{fees}");
        // Equity after: the deposit, the position's quote and its lots at $0.95.
        let slot = account.perps[0];
        let equity = 53_000_000 + slot.quote_native + slot.base_lots * 950_000;
        assert!(equity >= 0, "{equity}");
    }

    #[test]
    fn the_fees_never_exceed_the_pools_deposit() {
        let case = Case { pool: 1_000_000, ..Case::new(100_000_000, 1_000, 95, u64::MAX) };
        let o = case.outcome().unwrap();
        assert!(o.liquidation_fee + o.insurance_fee <= 1_000_000);
        assert!(o.liquidation_fee + o.insurance_fee >= 999_000);
    }

    #[test]
    fn a_step_that_leaves_debt_and_no_collateral_marks_the_account_bankrupt() {
        // $55 of settle deposits, a $50 perp loss and a $50 debt elsewhere: insolvent, so the
        // fees ($14.25 for the whole position) are not capped and leave the settle balance
        // −$9.25. Nothing is left to seize: bankrupt.
        let case = Case { other_debt: 50_000_000, ..Case::new(55_000_000, 1_000, 95, u64::MAX) };
        let o = case.outcome().unwrap();
        assert_eq!(o.limited_by, PerpLimit::Position);
        assert!(o.bankrupt);
        // Another market's $20 gain keeps $5 of equity in the settle bank: insolvent still, but
        // it has collateral above the dust threshold, so not bankrupt.
        let case = Case {
            other_debt: 50_000_000,
            other_perp: (20_000_000, 20_000_000),
            ..Case::new(49_250_000, 1_000, 95, u64::MAX)
        };
        let o = case.outcome().unwrap();
        assert_eq!(o.limited_by, PerpLimit::Position);
        assert!(!o.bankrupt);
    }

    /// [`check_fewest`] over 20,000 pseudo-random liquidatees: position sizes up to 2,000 lots
    /// long or short, prices from $70 to $130 to the cent, maint prices up to 60 cents worse,
    /// settle balances from −$60 to $240, debts elsewhere, other markets' PnL, settle liability
    /// weights, liquidation fees and pools small enough to cap the fees.
    #[test]
    fn random_liquidatees_close_the_fewest_lots() {
        let mut state: u64 = 12_345;
        let mut draw = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let mut reached = 0;
        for _ in 0..20_000 {
            let lots = (draw(2_000) as i64 + 1) * if draw(2) == 0 { 1 } else { -1 };
            let settle = draw(300_000_000) as i64 - 60_000_000;
            let case = Case {
                other_debt: [0, 3_000_000, 10_000_000, 40_000_000][draw(4) as usize],
                cents: 7_000 + draw(6_000) as u128,
                settle_liab_weight_bps: [10_000, 10_500, 12_000][draw(3) as usize],
                other_perp: [(0, 0), (3_000_000, 3_000_000), (-2_000_000, -1_000_000)]
                    [draw(3) as usize],
                liquidation_fee_bps: [0, 100, 300][draw(3) as usize],
                conf_cents: [0, 0, 7, 60][draw(4) as usize],
                pool: [POOL, POOL, 500_000, 5_000_000][draw(4) as usize],
                ..Case::new(settle, lots, 0, u64::MAX)
            };
            reached += check_fewest(&case) as u32;
        }
        assert!(reached >= 2_000, "only {reached} cases reached the end target");
    }
}
