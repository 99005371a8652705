//! Perpetual futures maths (issue 16, first part): pure and deterministic like `health`, the
//! single source the perp instructions, the keeper and the simulator are to share. Trades fill
//! against the market's liquidity pool at the oracle price plus a fee that grows with the skew a
//! trade leaves; funding, paid by the heavy side, moves the skew back. docs/PERPS.md states each
//! formula as computed here. Nothing on chain calls this module yet.
//!
//! Units: prices are Q64.64 quote native units per base native unit (as bank prices); a
//! position's size is in lots of `base_lot_size` base native units; quote amounts are quote
//! native units (micro-USD); funding indices are signed Q64.64 quote native units per lot.

use crate::math::{
    mul_bps, mul_div, mul_q64, mul_q64_floor_ceil, MathResult, Overflow, Round, BPS, ONE_Q64,
};

const SECONDS_PER_DAY: u64 = 86_400;

/// What the maths needs of a perp market's configuration (bps: 10,000 = 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerpParams {
    pub base_lot_size: u64,
    pub taker_fee_bps: u32,
    /// Price impact, charged only on a trade that leaves the skew larger (in absolute value):
    /// `impact_coeff_bps × skew value after / pool value`, capped at `max_impact_bps`.
    pub impact_coeff_bps: u32,
    pub max_impact_bps: u32,
    /// Funding per day: `funding_coeff_bps × skew value / pool value`, clamped to
    /// `± max_funding_bps_per_day`; positive when longs are the heavy side.
    pub funding_coeff_bps: u32,
    pub max_funding_bps_per_day: u32,
    /// Of what the heavy side pays, the share the pool keeps; the light side receives the rest.
    pub pool_funding_share_bps: u32,
}

/// `|lots| × base_lot_size`: the base native units of a size in lots.
pub fn base_native(lots: i64, params: &PerpParams) -> MathResult<u64> {
    lots.unsigned_abs().checked_mul(params.base_lot_size).ok_or(Overflow)
}

/// `ratio_bps(coeff, value, pool)`: `floor(coeff × value / pool)` in bps, capped at `cap`; the cap
/// itself when the pool is empty.
fn ratio_bps(coeff: u32, value: u64, pool_value: u64, cap: u32) -> MathResult<u32> {
    if pool_value == 0 {
        return Ok(if value == 0 { 0 } else { cap });
    }
    let bps = mul_div(value, coeff as u64, pool_value, Round::Down).unwrap_or(u64::MAX);
    Ok(bps.min(cap as u64) as u32)
}

/// The fee a trade of `trade_lots` (signed: + buys) pays, in bps of its notional: the taker fee
/// plus the price impact, the impact only if the trade leaves the market's net position
/// (`skew_lots`, long minus short open interest) larger in absolute value than it found it.
/// The skew after is valued at `price`, rounded up.
pub fn trade_fee_bps(
    params: &PerpParams,
    price: u128,
    pool_value: u64,
    skew_lots: i64,
    trade_lots: i64,
) -> MathResult<u32> {
    let after = skew_lots.checked_add(trade_lots).ok_or(Overflow)?;
    let impact = if after.unsigned_abs() > skew_lots.unsigned_abs() {
        let skew_value = mul_q64(base_native(after, params)?, price, Round::Up)?;
        ratio_bps(params.impact_coeff_bps, skew_value, pool_value, params.max_impact_bps)?
    } else {
        0
    };
    params.taker_fee_bps.checked_add(impact).ok_or(Overflow)
}

/// A fill: what the position's quote changes by at the oracle price (rounded against the
/// trader), and the fee, charged on the notional (rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// `−ceil(base × price)` for a buy, `+floor(base × price)` for a sell.
    pub quote_change: i64,
    pub fee: u64,
}

impl Fill {
    pub fn new(
        params: &PerpParams,
        price: u128,
        trade_lots: i64,
        fee_bps: u32,
    ) -> MathResult<Self> {
        let base = base_native(trade_lots, params)?;
        let notional_up = mul_q64(base, price, Round::Up)?;
        let quote_change = if trade_lots > 0 {
            -i64::try_from(notional_up).map_err(|_| Overflow)?
        } else {
            i64::try_from(mul_q64(base, price, Round::Down)?).map_err(|_| Overflow)?
        };
        Ok(Self { quote_change, fee: mul_bps(notional_up, fee_bps, Round::Up)? })
    }

    /// The average price paid or received per base native unit, fee included (for events and
    /// slippage checks): `(|quote_change| ± fee) / base`, rounded against the trader.
    pub fn price(&self, params: &PerpParams, trade_lots: i64) -> MathResult<u128> {
        let base = base_native(trade_lots, params)? as u128;
        if base == 0 {
            return Err(Overflow);
        }
        let magnitude = self.quote_change.unsigned_abs() as u128;
        let total = if trade_lots > 0 {
            magnitude + self.fee as u128
        } else {
            magnitude.checked_sub(self.fee as u128).ok_or(Overflow)?
        };
        let numerator = total.checked_mul(ONE_Q64).ok_or(Overflow)?;
        let (quotient, rest) = (numerator / base, numerator % base);
        Ok(if trade_lots > 0 && rest != 0 { quotient + 1 } else { quotient })
    }
}

/// Funding per day in bps, signed (+: longs pay): `funding_coeff_bps × skew value / pool value`
/// rounded toward zero, clamped to the maximum rate.
pub fn funding_rate_bps_per_day(
    params: &PerpParams,
    price: u128,
    pool_value: u64,
    skew_lots: i64,
) -> MathResult<i64> {
    let skew_value = mul_q64(base_native(skew_lots, params)?, price, Round::Down)?;
    let cap = params.max_funding_bps_per_day;
    let rate = ratio_bps(params.funding_coeff_bps, skew_value, pool_value, cap)? as i64;
    Ok(if skew_lots < 0 { -rate } else { rate })
}

/// The cumulative funding indices of a market: what one lot of a long (or short) position has
/// paid since the market opened, signed Q64.64 quote native units per lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FundingIndices {
    pub long: i128,
    pub short: i128,
}

impl FundingIndices {
    /// Advances the indices by `elapsed` seconds at `rate_bps_per_day`, a lot valued at `price`.
    /// The heavy side's index moves by `lot value × |rate| × elapsed / (10,000 × 86,400)`,
    /// rounded up (it pays at least that); the light side's by that times
    /// `(10,000 − pool share) / 10,000`, rounded down (it receives at most that). The difference
    /// is the pool's.
    pub fn accrue(
        &mut self,
        params: &PerpParams,
        price: u128,
        rate_bps_per_day: i64,
        elapsed: u64,
    ) -> MathResult<()> {
        if rate_bps_per_day == 0 || elapsed == 0 {
            return Ok(());
        }
        let lot_value = price.checked_mul(params.base_lot_size as u128).ok_or(Overflow)?;
        let scaled = lot_value
            .checked_mul(rate_bps_per_day.unsigned_abs() as u128)
            .and_then(|v| v.checked_mul(elapsed as u128))
            .ok_or(Overflow)?;
        let heavy = scaled.div_ceil(BPS as u128 * SECONDS_PER_DAY as u128);
        let light = heavy
            .checked_mul((BPS - params.pool_funding_share_bps.min(BPS)) as u128)
            .ok_or(Overflow)?
            / BPS as u128;
        let (heavy, light) = (
            i128::try_from(heavy).map_err(|_| Overflow)?,
            i128::try_from(light).map_err(|_| Overflow)?,
        );
        // Longs heavy: longs pay (their index rises), shorts receive (a rising index pays a
        // negative size). Shorts heavy: both indices fall.
        let (long, short) = if rate_bps_per_day > 0 { (heavy, light) } else { (-light, -heavy) };
        self.long = self.long.checked_add(long).ok_or(Overflow)?;
        self.short = self.short.checked_add(short).ok_or(Overflow)?;
        Ok(())
    }
}

/// One perp position: its size and the quote amount not yet settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerpPosition {
    /// Signed size in lots: + long, − short.
    pub base_lots: i64,
    /// What the position has paid (−) and received (+) in quote native units since it was
    /// last settled: entry costs, exit proceeds, fees and funding.
    pub quote_native: i64,
    /// The market's indices when funding was last applied.
    pub funding_snapshot: FundingIndices,
}

impl PerpPosition {
    /// Applies the funding accrued since the snapshot: the payment (+ paid by the position) is
    /// `lots × (index − snapshot)` on the position's side, rounded up (toward the position
    /// paying more or receiving less), and moves the snapshot to `now`. Returns the payment.
    pub fn apply_funding(&mut self, now: &FundingIndices) -> MathResult<i64> {
        let delta = if self.base_lots >= 0 {
            now.long.checked_sub(self.funding_snapshot.long)
        } else {
            now.short.checked_sub(self.funding_snapshot.short)
        }
        .ok_or(Overflow)?;
        let payment = if delta == 0 || self.base_lots == 0 {
            0 // the common case (nothing accrued since): no 128-bit product
        } else {
            let owed = (self.base_lots as i128).checked_mul(delta).ok_or(Overflow)?;
            i64::try_from(div_ceil_q64(owed)).map_err(|_| Overflow)?
        };
        self.quote_native = self.quote_native.checked_sub(payment).ok_or(Overflow)?;
        self.funding_snapshot = *now;
        Ok(payment)
    }

    /// Books a fill of `trade_lots` (funding must be applied first): the size changes, the quote
    /// by the fill's quote change minus its fee.
    pub fn trade(&mut self, trade_lots: i64, fill: &Fill) -> MathResult<()> {
        let fee = i64::try_from(fill.fee).map_err(|_| Overflow)?;
        self.base_lots = self.base_lots.checked_add(trade_lots).ok_or(Overflow)?;
        self.quote_native = self
            .quote_native
            .checked_add(fill.quote_change)
            .and_then(|q| q.checked_sub(fee))
            .ok_or(Overflow)?;
        Ok(())
    }

    /// Unrealised PnL at `price`: `base × price + quote`, the base valued rounding down for a
    /// long and up for a short.
    pub fn pnl(&self, params: &PerpParams, price: u128) -> MathResult<i128> {
        let base = base_native(self.base_lots, params)?;
        let value = if self.base_lots >= 0 {
            mul_q64(base, price, Round::Down)? as i128
        } else {
            -(mul_q64(base, price, Round::Up)? as i128)
        };
        Ok(value + self.quote_native as i128)
    }
}

/// `ceil(x / 2^64)` for a signed Q64.64 amount.
fn div_ceil_q64(x: i128) -> i128 {
    let floor = x >> 64;
    if x & (ONE_Q64 as i128 - 1) != 0 {
        floor + 1
    } else {
        floor
    }
}

/// The prices and weights one side of health (init or maint) uses for a perp position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerpHealthInputs {
    /// The price a long is valued at (the lower, `oracle − k·conf`, or init's stable side).
    pub long_price: u128,
    /// The price a short is valued at (the higher).
    pub short_price: u128,
    /// Leverage: a position needs `(1 − base weight) × |notional|` of margin.
    pub base_weight_bps: u32,
    /// Weight of positive unsettled PnL (at most 1.0; 0 allowed for init). Losses count in full.
    pub pnl_weight_bps: u32,
}

/// What a perp position contributes to one side of health, in quote native units:
///
/// ```text
/// weighted(pnl) − ceil(|notional| × (10,000 − base weight) / 10,000)
/// ```
///
/// with `pnl` at the side's price ([`PerpPosition::pnl`]), `notional = |base| × price` rounded
/// up, and `weighted(pnl) = floor(pnl × pnl weight / 10,000)` for a gain, `pnl` for a loss.
#[inline(always)]
pub fn perp_health(
    position: &PerpPosition,
    params: &PerpParams,
    inputs: &PerpHealthInputs,
) -> MathResult<i128> {
    let long = position.base_lots >= 0;
    let price = if long { inputs.long_price } else { inputs.short_price };
    // One product for both roundings: the PnL values a long down and a short up
    // ([`PerpPosition::pnl`]), the notional is rounded up.
    let (down, up) = mul_q64_floor_ceil(base_native(position.base_lots, params)?, price)?;
    let value = if long { down as i128 } else { -(up as i128) };
    let pnl = value + position.quote_native as i128;
    let weighted = if pnl > 0 {
        let gain = u64::try_from(pnl).map_err(|_| Overflow)?;
        mul_bps(gain, inputs.pnl_weight_bps.min(BPS), Round::Down)? as i128
    } else {
        pnl
    };
    let margin = mul_bps(up, BPS - inputs.base_weight_bps.min(BPS), Round::Up)?;
    Ok(weighted - margin as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A market whose base token has 6 decimals, as the quote: 1 lot = 0.01 token (10^4
    /// native); 0.1% taker fee; impact 1.0 × skew / pool up to 1%; funding 0.1 × skew / pool per
    /// day, at most 0.5% a day; the pool keeps 20% of funding.
    fn params() -> PerpParams {
        PerpParams {
            base_lot_size: 10_000,
            taker_fee_bps: 10,
            impact_coeff_bps: 10_000,
            max_impact_bps: 100,
            funding_coeff_bps: 1_000,
            max_funding_bps_per_day: 50,
            pool_funding_share_bps: 2_000,
        }
    }

    /// `dollars` per token: as many quote native units per base native unit (both 6 decimals).
    fn price(dollars: u64) -> u128 {
        ONE_Q64 * dollars as u128
    }

    #[test]
    fn the_fee_grows_with_the_skew_a_trade_leaves() {
        let p = params();
        // Pool $1,000,000. Skew +2,000 lots (20 tokens); a buy of 3,000 lots leaves +5,000 lots
        // = 50 tokens = $5,000 at $100: impact 1.0 × 5,000 / 1,000,000 = 0.5% = 50 bps.
        let pool = 1_000_000_000_000;
        assert_eq!(trade_fee_bps(&p, price(100), pool, 2_000, 3_000), Ok(10 + 50));
        // The same trade against a skew of −6,000 leaves −3,000: the skew shrinks, no impact.
        assert_eq!(trade_fee_bps(&p, price(100), pool, -6_000, 3_000), Ok(10));
        // Impact is capped at 1%; an empty pool charges the cap.
        assert_eq!(trade_fee_bps(&p, price(100), 10_000_000_000, 0, 30_000), Ok(10 + 100));
        assert_eq!(trade_fee_bps(&p, price(100), 0, 0, 1), Ok(110));
    }

    #[test]
    fn fills_round_against_the_trader() {
        let p = params();
        // 3 lots at $100 + 10^-10: 0.03 tokens are worth 3,000,000.000003 quote native.
        let px = price(100) + ONE_Q64 / 10_000_000_000;
        let buy = Fill::new(&p, px, 3, 60).unwrap();
        assert_eq!(buy.quote_change, -3_000_001); // pays the fraction
        assert_eq!(buy.fee, 18_001); // 0.6% of 3,000,001, rounded up
        let sell = Fill::new(&p, px, -3, 60).unwrap();
        assert_eq!(sell.quote_change, 3_000_000); // receives without it
                                                  // Average prices, fee included: a buyer pays more than oracle, a seller gets less.
        assert!(buy.price(&p, 3).unwrap() > px && sell.price(&p, -3).unwrap() < px);
    }

    #[test]
    fn a_position_opens_grows_reduces_flips_and_closes() {
        let p = params();
        let mut pos = PerpPosition::default();
        // Buy 100 lots (1 token) at $100, 0.1% fee: pays $100 + $0.10.
        pos.trade(100, &Fill::new(&p, price(100), 100, 10).unwrap()).unwrap();
        assert_eq!((pos.base_lots, pos.quote_native), (100, -100_100_000));
        // Buy 100 more at $120: entry costs $220 in all, fees $0.22.
        pos.trade(100, &Fill::new(&p, price(120), 100, 10).unwrap()).unwrap();
        assert_eq!((pos.base_lots, pos.quote_native), (200, -220_220_000));
        // At $130 the PnL is 2 × 130 − 220.22 = $39.78.
        assert_eq!(pos.pnl(&p, price(130)), Ok(39_780_000));
        // Sell 300 lots at $130: now short 1 token; the quote holds the realised gain and the
        // short's entry: −220.22 + 390 − 0.39.
        pos.trade(-300, &Fill::new(&p, price(130), -300, 10).unwrap()).unwrap();
        assert_eq!((pos.base_lots, pos.quote_native), (-100, 169_390_000));
        // Buy back at $125: closed, the quote is the realised PnL, fees included: the long
        // gained 130 × 2 − 220 = $40, the short 130 − 125 = $5, less $0.735 of fees.
        pos.trade(100, &Fill::new(&p, price(125), 100, 10).unwrap()).unwrap();
        assert_eq!((pos.base_lots, pos.quote_native), (0, 44_265_000));
        assert_eq!(pos.pnl(&p, price(1)), Ok(44_265_000));
    }

    #[test]
    fn funding_is_paid_by_the_heavy_side_and_the_pool_keeps_its_share() {
        let p = params();
        // Pool $100,000, longs heavy by 20,000 lots (200 tokens = $20,000 at $100): 0.1 × 0.2
        // = 2% a day, clamped to 0.5% = 50 bps.
        let pool = 100_000_000_000;
        assert_eq!(funding_rate_bps_per_day(&p, price(100), pool, 20_000), Ok(50));
        assert_eq!(funding_rate_bps_per_day(&p, price(100), pool, -20_000), Ok(-50));
        // 1,000 lots short-heavy = $1,000: 0.1 × 1% = 0.1% = 10 bps, negative.
        assert_eq!(funding_rate_bps_per_day(&p, price(100), pool, -1_000), Ok(-10));

        let mut indices = FundingIndices::default();
        let (mut long, mut short) = (PerpPosition::default(), PerpPosition::default());
        long.base_lots = 300; // 3 tokens = $300
        short.base_lots = -100; // 1 token = $100
                                // One day at 50 bps: a lot ($1) pays $0.005 = 5,000 quote native; shorts receive 80%.
        indices.accrue(&p, price(100), 50, 86_400).unwrap();
        assert_eq!(indices.long, 5_000 * ONE_Q64 as i128);
        assert_eq!(indices.short, 4_000 * ONE_Q64 as i128);
        assert_eq!(long.apply_funding(&indices), Ok(1_500_000)); // 300 × 5,000
        assert_eq!(short.apply_funding(&indices), Ok(-400_000)); // receives 100 × 4,000
        assert_eq!((long.quote_native, short.quote_native), (-1_500_000, 400_000));
        // The pool nets 1,500,000 − 400,000. Shorts heavy the other way round: shorts pay in
        // full, longs receive 80%.
        indices.accrue(&p, price(100), -50, 86_400).unwrap();
        assert_eq!(long.apply_funding(&indices), Ok(-1_200_000));
        assert_eq!(short.apply_funding(&indices), Ok(500_000));
        // Applying again without time passing pays nothing.
        assert_eq!(long.apply_funding(&indices), Ok(0));
    }

    #[test]
    fn funding_rounds_against_every_position() {
        let p = params();
        let mut indices = FundingIndices::default();
        // One second at 1 bps a day on a $1 lot: 1/864,000,000 of $1 ≈ 0.0012 quote native.
        indices.accrue(&p, price(100), 1, 1).unwrap();
        let (mut long, mut short) = (PerpPosition::default(), PerpPosition::default());
        long.base_lots = 1;
        short.base_lots = -1;
        // The long pays a whole unit; the short receives nothing (its tiny credit rounds away).
        assert_eq!(long.apply_funding(&indices), Ok(1));
        assert_eq!(short.apply_funding(&indices), Ok(0));
    }

    #[test]
    fn health_charges_margin_on_notional_and_weights_gains() {
        let p = params();
        let mut pos = PerpPosition::default();
        pos.trade(100, &Fill::new(&p, price(100), 100, 10).unwrap()).unwrap(); // long 1 token
        let inputs = |px: u64, pnl_weight| PerpHealthInputs {
            long_price: price(px),
            short_price: price(px),
            base_weight_bps: 9_000, // 10× leverage
            pnl_weight_bps: pnl_weight,
        };
        // At $110: PnL $9.90, counted at 50%: 4.95 − 10% of $110 = −6.05.
        assert_eq!(perp_health(&pos, &p, &inputs(110, 5_000)), Ok(4_950_000 - 11_000_000));
        // Init counts no unsettled gain at all.
        assert_eq!(perp_health(&pos, &p, &inputs(110, 0)), Ok(-11_000_000));
        // At $90 the loss counts in full: −10.10 − 9.
        assert_eq!(perp_health(&pos, &p, &inputs(90, 5_000)), Ok(-10_100_000 - 9_000_000));
        // A short is valued at the higher price.
        let mut short = PerpPosition::default();
        short.trade(-100, &Fill::new(&p, price(100), -100, 10).unwrap()).unwrap();
        let wide = PerpHealthInputs { short_price: price(101), ..inputs(99, 10_000) };
        assert_eq!(perp_health(&short, &p, &wide), Ok(99_900_000 - 101_000_000 - 10_100_000));
    }

    /// A deterministic xorshift, for the sweeps below.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Buying and selling the same size at the same price never leaves the trader a gain, fee
    /// or no fee, whatever the price's fraction.
    #[test]
    fn a_round_trip_never_pays_the_trader() {
        let p = params();
        let mut seed = 0x5EC0_2026;
        for _ in 0..10_000 {
            let px = price(rng(&mut seed) % 100_000) + (rng(&mut seed) as u128 % ONE_Q64);
            let lots = (rng(&mut seed) % 1_000_000) as i64 + 1;
            let fee_bps = (rng(&mut seed) % 200) as u32;
            let mut pos = PerpPosition::default();
            let (first, second) =
                if rng(&mut seed).is_multiple_of(2) { (lots, -lots) } else { (-lots, lots) };
            pos.trade(first, &Fill::new(&p, px, first, fee_bps).unwrap()).unwrap();
            pos.trade(second, &Fill::new(&p, px, second, fee_bps).unwrap()).unwrap();
            assert_eq!(pos.base_lots, 0);
            assert!(pos.quote_native <= 0, "{px} {lots} {fee_bps}: {}", pos.quote_native);
        }
    }

    /// With the rate set by the skew, the positions together never receive funding: the pool
    /// (the counterparty to the skew) is paid its share and the skew's funding, never pays.
    #[test]
    fn the_pool_never_pays_funding_net() {
        let p = params();
        let mut seed = 7;
        for _ in 0..2_000 {
            let sizes: Vec<i64> =
                (0..6).map(|_| (rng(&mut seed) % 20_001) as i64 - 10_000).collect();
            let skew: i64 = sizes.iter().sum();
            let px = price(1 + rng(&mut seed) % 1_000);
            let pool = 1 + rng(&mut seed) % 10_000_000_000_000;
            let rate = funding_rate_bps_per_day(&p, px, pool, skew).unwrap();
            let mut indices = FundingIndices::default();
            indices.accrue(&p, px, rate, 1 + rng(&mut seed) % 1_000_000).unwrap();
            let paid: i128 = sizes
                .iter()
                .map(|&base_lots| {
                    let mut pos = PerpPosition { base_lots, ..Default::default() };
                    pos.apply_funding(&indices).unwrap() as i128
                })
                .sum();
            assert!(paid >= 0, "skew {skew} rate {rate}: positions received {paid}");
        }
    }

    #[test]
    fn extreme_inputs_are_errors_not_panics() {
        let p = PerpParams { base_lot_size: u64::MAX, ..params() };
        assert_eq!(base_native(2, &p), Err(Overflow));
        assert!(Fill::new(&p, u128::MAX, i64::MIN, u32::MAX).is_err());
        let mut indices = FundingIndices { long: i128::MAX, short: 0 };
        assert!(indices.accrue(&params(), price(100), 50, 86_400).is_err());
        assert!(indices.accrue(&params(), u128::MAX, 50, u64::MAX).is_err());
        let pos = PerpPosition { base_lots: i64::MIN, ..Default::default() };
        assert!(pos.pnl(&params(), u128::MAX).is_err());
        assert_eq!(trade_fee_bps(&params(), price(1), 1, i64::MAX, 1), Err(Overflow));
    }

    /// The average price, fee included, per base native unit: a buy pays the fee on top and
    /// rounds up, a sell receives less the fee and rounds down; an exact quotient is not
    /// rounded.
    #[test]
    fn the_average_fill_price_includes_the_fee_and_rounds_against_the_trader() {
        let p = params();
        // 3 lots = 30,000 native base.
        let buy = Fill { quote_change: -1_000, fee: 3 };
        assert_eq!(buy.price(&p, 3), Ok((1_003u128 << 64).div_ceil(30_000)));
        let sell = Fill { quote_change: 1_000, fee: 3 };
        assert_eq!(sell.price(&p, -3), Ok((997u128 << 64) / 30_000));
        let exact = Fill { quote_change: -29_997, fee: 3 };
        assert_eq!(exact.price(&p, 3), Ok(ONE_Q64));
        assert_eq!(Fill { quote_change: 30_003, fee: 3 }.price(&p, -3), Ok(ONE_Q64));
        assert_eq!(buy.price(&p, 0), Err(Overflow));
    }

    /// A trade that flips the skew to the same size on the other side does not grow it: no
    /// impact, only the taker fee. One lot more does.
    #[test]
    fn a_flip_to_the_same_skew_pays_no_impact() {
        let p = params();
        // $100 a token, a $100 pool: 5 lots of 0.01 token are $5, 5% of the pool.
        assert_eq!(trade_fee_bps(&p, price(100), 100_000_000, 5, -10), Ok(10));
        assert!(trade_fee_bps(&p, price(100), 100_000_000, 5, -11).unwrap() > 10);
    }

    /// A short's PnL: its base valued negative (rounded up), plus its quote.
    #[test]
    fn a_short_gains_when_the_price_falls() {
        let p = params();
        // Short 1 lot (10,000 native) sold for 1,000,000 quote ($100 a token): at $90 the base
        // is worth 900,000 owed.
        let short = PerpPosition { base_lots: -1, quote_native: 1_000_000, ..Default::default() };
        assert_eq!(short.pnl(&p, price(90)), Ok(100_000));
        assert_eq!(short.pnl(&p, price(110)), Ok(-100_000));
    }
}
