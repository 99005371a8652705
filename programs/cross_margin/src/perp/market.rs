//! A perp market's bookkeeping over its positions: funding accrual and application, fills with
//! open-interest tracking, the traders' aggregate PnL, the pool's value and its LP shares, and
//! settlement amounts. Pure (no account plumbing): the instructions, the keeper and the
//! simulator call these, and they are unit-tested natively.

use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::math::{mul_bps, mul_div, mul_q64, Round};
use crate::perp::{base_native, funding_rate_bps_per_day, trade_fee_bps, Fill, PerpPosition};
use crate::state::{PerpMarket, PerpSlot};

type Result<T> = core::result::Result<T, MarginError>;

/// Which way an order trades.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerpSide {
    /// Buy: grows a long or reduces a short.
    Long,
    /// Sell: grows a short or reduces a long.
    Short,
}

/// What `place_perp_order` asks for.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerpOrder {
    pub side: PerpSide,
    /// Lots, above 0.
    pub size_lots: u64,
    /// Worst acceptable average price, fee included (Q64.64 settle native units per base
    /// native unit): a buy fills at or below it, a sell at or above it. `u128::MAX` (buy) or 0
    /// (sell) accepts any price.
    pub limit_price: u128,
    /// Only reduce the position (never grow or flip it).
    pub reduce_only: bool,
}

impl PerpOrder {
    /// An order of `size_lots` on `side` that accepts any price and may grow the position.
    pub fn market(side: PerpSide, size_lots: u64) -> Self {
        let limit_price = match side {
            PerpSide::Long => u128::MAX,
            PerpSide::Short => 0,
        };
        Self { side, size_lots, limit_price, reduce_only: false }
    }
}

/// What a fill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillOutcome {
    /// Signed lots traded (+ bought).
    pub trade_lots: i64,
    pub fee_bps: u32,
    pub fill: Fill,
    /// Average price, fee included, rounded against the trader (Q64.64).
    pub average_price: u128,
    pub base_before: i64,
    pub base_after: i64,
}

impl FillOutcome {
    /// Whether the fill grew the position's size or flipped its side: such a fill needs init
    /// health >= 0 afterwards.
    pub fn increases_risk(&self) -> bool {
        grows_risk(self.base_before, self.base_after)
    }
}

/// Whether a position going from `before` to `after` lots grows or flips.
fn grows_risk(before: i64, after: i64) -> bool {
    after.unsigned_abs() > before.unsigned_abs()
        || (before != 0 && after.signum() == -before.signum())
}

/// Signed `lots × index delta` (Q64.64) a position of `base_lots` owes between `snapshot` and
/// `now` on its side: what [`PerpPosition::apply_funding`] charges before rounding.
fn exact_funding(position: &PerpPosition, now: &crate::perp::FundingIndices) -> Result<i128> {
    let delta = if position.base_lots >= 0 {
        now.long.checked_sub(position.funding_snapshot.long)
    } else {
        now.short.checked_sub(position.funding_snapshot.short)
    }
    .ok_or(MarginError::MathOverflow)?;
    (position.base_lots as i128).checked_mul(delta).ok_or(MarginError::MathOverflow)
}

fn add_i128(a: i128, b: i128) -> Result<i128> {
    a.checked_add(b).ok_or(MarginError::MathOverflow)
}

impl PerpMarket {
    /// Advances the funding indices to `now` at `price`, the rate set by the skew against the
    /// pool's deposit (`pool_native`), and records what the open positions owe in
    /// `funding_unapplied`. The first call only starts the clock.
    pub fn accrue_funding(&mut self, now: i64, price: u128, pool_native: u64) -> Result<()> {
        let last = self.last_funding_ts;
        if last == 0 || now <= last {
            if last == 0 {
                self.last_funding_ts = now;
            }
            return Ok(());
        }
        let params = self.config.params();
        let rate = funding_rate_bps_per_day(&params, price, pool_native, self.skew_lots()?)?;
        let before = self.funding();
        let mut after = before;
        after.accrue(&params, price, rate, (now - last) as u64)?;
        let owed_long = (self.long_lots as i128)
            .checked_mul(after.long.checked_sub(before.long).ok_or(MarginError::MathOverflow)?);
        let owed_short = (self.short_lots as i128)
            .checked_mul(after.short.checked_sub(before.short).ok_or(MarginError::MathOverflow)?);
        let owed = owed_long
            .zip(owed_short)
            .and_then(|(l, s)| l.checked_sub(s))
            .ok_or(MarginError::MathOverflow)?;
        self.set_funding_unapplied(add_i128(self.funding_unapplied(), owed)?);
        self.set_funding(&after);
        self.last_funding_ts = now;
        Ok(())
    }

    /// Applies the funding accrued since the slot's snapshot to its position (rounded against
    /// it); returns the payment (+ paid by the position).
    pub fn apply_funding(&mut self, slot: &mut PerpSlot) -> Result<i64> {
        let mut position = slot.position();
        let indices = self.funding();
        let exact = exact_funding(&position, &indices)?;
        let payment = position.apply_funding(&indices)?;
        self.set_funding_unapplied(
            self.funding_unapplied().checked_sub(exact).ok_or(MarginError::MathOverflow)?,
        );
        self.set_quote_sum(add_i128(self.quote_sum(), -(payment as i128))?);
        slot.set_position(&position);
        Ok(payment)
    }

    /// Fills `order` for the slot's position at `price` (funding applied first by the caller):
    /// reduce-only, a pool with LPs for a fill that grows or flips the position (`PoolEmpty`),
    /// the fee from the skew it leaves, the limit, open interest and its caps (checked only on
    /// a side the fill grows), then the position and the aggregates.
    pub fn fill(
        &mut self,
        slot: &mut PerpSlot,
        order: &PerpOrder,
        price: u128,
        pool_native: u64,
    ) -> Result<FillOutcome> {
        if order.size_lots == 0 {
            return Err(MarginError::ZeroAmount);
        }
        let size = i64::try_from(order.size_lots).map_err(|_| MarginError::PerpSizeTooLarge)?;
        let trade_lots = match order.side {
            PerpSide::Long => size,
            PerpSide::Short => -size,
        };
        let mut position = slot.position();
        let before = position.base_lots;
        let after = before.checked_add(trade_lots).ok_or(MarginError::PerpSizeTooLarge)?;
        if order.reduce_only
            && (before == 0 || trade_lots.signum() == before.signum() || size > before.abs())
        {
            return Err(MarginError::PerpReduceOnly);
        }
        if grows_risk(before, after) && self.lp_shares == 0 {
            return Err(MarginError::PoolEmpty);
        }
        let params = self.config.params();
        let fee_bps = trade_fee_bps(&params, price, pool_native, self.skew_lots()?, trade_lots)?;
        let fill = Fill::new(&params, price, trade_lots, fee_bps)?;
        let average_price = fill.price(&params, trade_lots)?;
        let within_limit = match order.side {
            PerpSide::Long => average_price <= order.limit_price,
            PerpSide::Short => average_price >= order.limit_price,
        };
        if !within_limit {
            return Err(MarginError::PerpSlippageExceeded);
        }
        self.move_open_interest(before, after)?;
        position.trade(trade_lots, &fill)?;
        let quote_change = (fill.quote_change as i128) - fill.fee as i128;
        self.set_quote_sum(add_i128(self.quote_sum(), quote_change)?);
        self.fees_accrued = self.fees_accrued.saturating_add(fill.fee);
        slot.set_position(&position);
        Ok(FillOutcome {
            trade_lots,
            fee_bps,
            fill,
            average_price,
            base_before: before,
            base_after: after,
        })
    }

    /// Books a liquidation's fill of `trade_lots` towards zero (funding applied first): as a
    /// trade's, with no cap, limit or pool check, and its fees not in `fees_accrued` (they
    /// leave the pool, to the liquidator and the insurance fund).
    pub fn book_liquidation(
        &mut self,
        slot: &mut PerpSlot,
        trade_lots: i64,
        fill: &Fill,
    ) -> Result<()> {
        let mut position = slot.position();
        let before = position.base_lots;
        let after = before.checked_add(trade_lots).ok_or(MarginError::MathOverflow)?;
        if grows_risk(before, after) {
            return Err(MarginError::PerpNoPositionToLiquidate);
        }
        self.move_open_interest(before, after)?;
        position.trade(trade_lots, fill)?;
        let quote_change = (fill.quote_change as i128) - fill.fee as i128;
        self.set_quote_sum(add_i128(self.quote_sum(), quote_change)?);
        slot.set_position(&position);
        Ok(())
    }

    /// Replaces a position of `before` lots by one of `after` in the open interest; a side that
    /// grows must stay within its cap.
    fn move_open_interest(&mut self, before: i64, after: i64) -> Result<()> {
        let long = |lots: i64| lots.max(0) as u64;
        let short = |lots: i64| lots.min(0).unsigned_abs();
        let long_lots = self
            .long_lots
            .checked_sub(long(before))
            .and_then(|l| l.checked_add(long(after)))
            .ok_or(MarginError::MathOverflow)?;
        let short_lots = self
            .short_lots
            .checked_sub(short(before))
            .and_then(|s| s.checked_add(short(after)))
            .ok_or(MarginError::MathOverflow)?;
        if (long_lots > self.long_lots && long_lots > self.config.max_long_lots)
            || (short_lots > self.short_lots && short_lots > self.config.max_short_lots)
        {
            return Err(MarginError::PerpOpenInterestCap);
        }
        self.long_lots = long_lots;
        self.short_lots = short_lots;
        Ok(())
    }

    /// The pool's deposit in the settle bank: `floor(pool_deposit_shares × deposit index)`.
    pub fn pool_native(&self, settle_bank: &crate::state::Bank) -> Result<u64> {
        Ok(mul_q64(self.pool_deposit_shares, settle_bank.deposit_index(), Round::Down)?)
    }

    /// The traders' unrealised PnL in total at `price` (settle native units): the net base at
    /// `price` plus every position's quote, less the funding they owe but have not applied.
    /// `Round::Up` gives the largest value the rounding allows (for a pool value rounded down),
    /// `Round::Down` the smallest.
    pub fn traders_pnl(&self, price: u128, round: Round) -> Result<i128> {
        let skew = self.skew_lots()?;
        let params = self.config.params();
        let magnitude = base_native(skew, &params)?;
        let base_value = if skew >= 0 {
            mul_q64(magnitude, price, round)? as i128
        } else {
            let opposite = if round == Round::Up { Round::Down } else { Round::Up };
            -(mul_q64(magnitude, price, opposite)? as i128)
        };
        let unapplied = self.funding_unapplied();
        // Owed funding lowers the traders' PnL: floor(owed) for the largest PnL, ceil for the
        // smallest.
        let owed = if round == Round::Up { unapplied >> 64 } else { -((-unapplied) >> 64) };
        add_i128(base_value, self.quote_sum())?.checked_sub(owed).ok_or(MarginError::MathOverflow)
    }

    /// The pool's value: its deposit (`pool_native`) less what the traders have won (plus what
    /// they have lost), rounded as asked. May be negative.
    pub fn pool_value(&self, pool_native: u64, price: u128, round: Round) -> Result<i128> {
        let traders_round = if round == Round::Down { Round::Up } else { Round::Down };
        (pool_native as i128)
            .checked_sub(self.traders_pnl(price, traders_round)?)
            .ok_or(MarginError::MathOverflow)
    }

    /// What the pool must keep after an LP withdrawal:
    /// `ceil(ceil(max(long, short) × lot × price) × pool_cover_bps / 10,000)`.
    pub fn cover_required(&self, price: u128) -> Result<u64> {
        let lots = self.long_lots.max(self.short_lots);
        let base = lots.checked_mul(self.config.base_lot_size).ok_or(MarginError::MathOverflow)?;
        let notional = mul_q64(base, price, Round::Up)?;
        Ok(mul_bps(notional, self.config.pool_cover_bps, Round::Up)?)
    }

    /// Pool shares for an LP deposit of `amount`: `amount` while no shares exist, else
    /// `floor(amount × lp_shares / pool value rounded up)`.
    pub fn lp_shares_for(&self, amount: u64, pool_value_up: i128) -> Result<u64> {
        if self.lp_shares == 0 {
            return Ok(amount);
        }
        let value = u64::try_from(pool_value_up).map_err(|_| MarginError::PoolInsolvent)?;
        if value == 0 {
            return Err(MarginError::PoolInsolvent);
        }
        Ok(mul_div(amount, self.lp_shares, value, Round::Down)?)
    }

    /// What `shares` are worth: `floor(shares × max(pool value rounded down, 0) / lp_shares)`.
    pub fn lp_value_of(&self, shares: u64, pool_value_down: i128) -> Result<u64> {
        if self.lp_shares == 0 || pool_value_down <= 0 {
            return Ok(0);
        }
        let value = u64::try_from(pool_value_down).map_err(|_| MarginError::MathOverflow)?;
        Ok(mul_div(shares, value, self.lp_shares, Round::Down)?)
    }

    /// The LP withdrawal rule: paying `amount` must leave the pool's value (rounded down) at
    /// least [`PerpMarket::cover_required`], and the pool's deposit must hold `amount`.
    pub fn check_lp_withdrawal(&self, amount: u64, pool_native: u64, price: u128) -> Result<()> {
        let after = self
            .pool_value(pool_native, price, Round::Down)?
            .checked_sub(amount as i128)
            .ok_or(MarginError::MathOverflow)?;
        if amount > pool_native || after < self.cover_required(price)? as i128 {
            return Err(MarginError::PoolCoverTooLow);
        }
        Ok(())
    }

    /// The amount `settle_pnl` moves for the slot's position at `price` (funding applied first):
    /// its PnL ([`PerpPosition::pnl`], rounded against the trader), a gain capped by what the
    /// pool's deposit holds. + the pool pays the account.
    pub fn settle_amount(&self, slot: &PerpSlot, price: u128, pool_native: u64) -> Result<i64> {
        let pnl = slot.position().pnl(&self.config.params(), price)?;
        let capped = if pnl > 0 { pnl.min(pool_native as i128) } else { pnl };
        i64::try_from(capped).map_err(|_| MarginError::MathOverflow)
    }

    /// Books a settlement of `amount` (+ paid to the account) into the slot and the aggregates.
    pub fn book_settlement(&mut self, slot: &mut PerpSlot, amount: i64) -> Result<()> {
        slot.quote_native =
            slot.quote_native.checked_sub(amount).ok_or(MarginError::MathOverflow)?;
        self.set_quote_sum(add_i128(self.quote_sum(), -(amount as i128))?);
        Ok(())
    }
}

/// The fee rate of a trade in bps of notional, for clients quoting before they send: the same
/// [`trade_fee_bps`] the fill uses, read from the market.
pub fn quote_fee_bps(
    market: &PerpMarket,
    price: u128,
    pool_native: u64,
    trade_lots: i64,
) -> Result<u32> {
    Ok(trade_fee_bps(&market.config.params(), price, pool_native, market.skew_lots()?, trade_lots)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::ONE_Q64;
    use crate::perp::FundingIndices;
    use crate::state::PerpMarketConfig;

    /// A market over a 6-decimal base at $100 (a lot of 0.01 token is $1), the parameters of
    /// `maths::tests`, caps of 1,000 lots a side and a 20% pool cover.
    fn market() -> PerpMarket {
        let mut market: PerpMarket = bytemuck::Zeroable::zeroed();
        market.config = PerpMarketConfig {
            base_lot_size: 10_000,
            taker_fee_bps: 10,
            impact_coeff_bps: 10_000,
            max_impact_bps: 100,
            funding_coeff_bps: 1_000,
            max_funding_bps_per_day: 50,
            pool_funding_share_bps: 2_000,
            pool_cover_bps: 2_000,
            max_long_lots: 1_000,
            max_short_lots: 1_000,
            ..bytemuck::Zeroable::zeroed()
        };
        market.last_funding_ts = 1;
        market.lp_shares = POOL; // an LP holds the pool
        market
    }

    const PRICE: u128 = 100 * ONE_Q64;
    const POOL: u64 = 100_000_000_000; // $100,000

    fn order(side: PerpSide, size_lots: u64) -> PerpOrder {
        PerpOrder::market(side, size_lots)
    }

    #[test]
    fn open_interest_is_the_sum_of_positions_and_caps_bind_only_a_growing_side() {
        let mut m = market();
        let (mut a, mut b) = (PerpSlot::default(), PerpSlot::default());
        m.fill(&mut a, &order(PerpSide::Long, 600), PRICE, POOL).unwrap();
        m.fill(&mut b, &order(PerpSide::Short, 300), PRICE, POOL).unwrap();
        assert_eq!((m.long_lots, m.short_lots), (600, 300));
        // A flips from long 600 to short 500: longs lose 600, shorts gain 500.
        m.fill(&mut a, &order(PerpSide::Short, 1_100), PRICE, POOL).unwrap();
        assert_eq!((m.long_lots, m.short_lots), (0, 800));
        assert_eq!(
            m.fill(&mut b, &order(PerpSide::Short, 201), PRICE, POOL),
            Err(MarginError::PerpOpenInterestCap)
        );
        // With the cap lowered below the open interest, reducing still passes.
        m.config.max_short_lots = 100;
        m.fill(&mut a, &order(PerpSide::Long, 100), PRICE, POOL).unwrap();
        assert_eq!((m.long_lots, m.short_lots), (0, 700));
        assert_eq!(m.quote_sum(), (a.quote_native + b.quote_native) as i128);
    }

    #[test]
    fn a_pool_without_lps_takes_no_new_risk() {
        let mut m = market();
        let mut a = PerpSlot::default();
        m.fill(&mut a, &order(PerpSide::Long, 10), PRICE, POOL).unwrap();
        m.lp_shares = 0;
        let refused = Err(MarginError::PoolEmpty);
        assert_eq!(m.fill(&mut a, &order(PerpSide::Long, 1), PRICE, POOL).map(|_| ()), refused);
        assert_eq!(m.fill(&mut a, &order(PerpSide::Short, 11), PRICE, POOL).map(|_| ()), refused);
        // Reducing and closing still fill.
        m.fill(&mut a, &order(PerpSide::Short, 10), PRICE, POOL).unwrap();
        assert_eq!(a.base_lots, 0);
    }

    #[test]
    fn reduce_only_never_grows_or_flips() {
        let mut m = market();
        let mut a = PerpSlot::default();
        let reduce = |side, size_lots| PerpOrder { reduce_only: true, ..order(side, size_lots) };
        let refused = Err(MarginError::PerpReduceOnly);
        assert_eq!(m.fill(&mut a, &reduce(PerpSide::Short, 1), PRICE, POOL).map(|_| ()), refused);
        m.fill(&mut a, &order(PerpSide::Long, 10), PRICE, POOL).unwrap();
        assert_eq!(m.fill(&mut a, &reduce(PerpSide::Long, 1), PRICE, POOL).map(|_| ()), refused);
        assert_eq!(m.fill(&mut a, &reduce(PerpSide::Short, 11), PRICE, POOL).map(|_| ()), refused);
        let done = m.fill(&mut a, &reduce(PerpSide::Short, 10), PRICE, POOL).unwrap();
        assert!(!done.increases_risk());
        assert_eq!(a.base_lots, 0);
    }

    #[test]
    fn unapplied_funding_is_exactly_what_positions_have_not_yet_applied() {
        let mut m = market();
        let (mut a, mut b) = (PerpSlot::default(), PerpSlot::default());
        m.fill(&mut a, &order(PerpSide::Long, 700), PRICE, POOL).unwrap();
        m.fill(&mut b, &order(PerpSide::Short, 200), PRICE, POOL).unwrap();
        let quote_before = m.quote_sum();
        // Skew 500 lots = $500 of a $100,000 pool: 5 bps a day; a day and an odd second.
        m.accrue_funding(1 + 86_401, PRICE, POOL).unwrap();
        let indices: FundingIndices = m.funding();
        assert!(indices.long > 0 && indices.short > 0 && indices.long > indices.short);
        let owed = m.funding_unapplied();
        assert_eq!(owed, 700 * indices.long - 200 * indices.short);
        let paid_a = m.apply_funding(&mut a).unwrap();
        let paid_b = m.apply_funding(&mut b).unwrap();
        assert_eq!(m.funding_unapplied(), 0);
        // Each payment rounds up (against the position): together at least the exact amount.
        assert!((paid_a + paid_b) as i128 * (1i128 << 64) >= owed);
        assert_eq!(m.quote_sum(), quote_before - (paid_a + paid_b) as i128);
        // Applying again pays nothing.
        assert_eq!(m.apply_funding(&mut a), Ok(0));
    }

    #[test]
    fn the_pool_value_nets_the_traders_pnl_and_rounds_each_way() {
        let mut m = market();
        let mut a = PerpSlot::default();
        // Long 100 lots at $100: fee 10 + 10 bps of $100 (the skew after is $100).
        m.fill(&mut a, &order(PerpSide::Long, 100), PRICE, POOL).unwrap();
        assert_eq!(m.quote_sum(), -100_200_000);
        // At $110 the traders are up $9.80: the pool is worth that much less.
        let up = 110 * ONE_Q64;
        assert_eq!(m.traders_pnl(up, Round::Down), Ok(9_800_000));
        assert_eq!(m.pool_value(POOL, up, Round::Down), Ok(POOL as i128 - 9_800_000));
        // At a price with a fraction, the pool rounds down for withdrawals and up for deposits.
        let odd = PRICE + 1;
        let down = m.pool_value(POOL, odd, Round::Down).unwrap();
        let up = m.pool_value(POOL, odd, Round::Up).unwrap();
        assert_eq!(up - down, 1);
        // LP shares: 1:1 first; later at the pool's value.
        m.lp_shares = 0;
        assert_eq!(m.lp_shares_for(1_000, up), Ok(1_000));
        m.lp_shares = POOL;
        let value = m.pool_value(POOL, 110 * ONE_Q64, Round::Up).unwrap(); // 99,990.2
        assert_eq!(m.lp_shares_for(99_990_200, value), Ok(100_000_000));
        assert_eq!(m.lp_value_of(POOL / 2, value), Ok(49_995_100_000));
        assert_eq!(m.lp_value_of(1, -5), Ok(0));
        assert_eq!(m.lp_shares_for(1, 0), Err(MarginError::PoolInsolvent));
    }

    #[test]
    fn lp_withdrawals_keep_the_cover() {
        let mut m = market();
        let mut a = PerpSlot::default();
        m.fill(&mut a, &order(PerpSide::Long, 1_000), PRICE, POOL).unwrap(); // $1,000 long
                                                                             // Cover: 20% of $1,000 = $200. The pool (100,000 + the trader's $11 of fees) may pay out
                                                                             // all but $200 of its value.
        assert_eq!(m.cover_required(PRICE), Ok(200_000_000));
        let value = m.pool_value(POOL, PRICE, Round::Down).unwrap();
        assert_eq!(value, 100_011_000_000);
        let most = (value - 200_000_000) as u64;
        assert_eq!(m.check_lp_withdrawal(most, POOL, PRICE), Ok(()));
        assert_eq!(m.check_lp_withdrawal(most + 1, POOL, PRICE), Err(MarginError::PoolCoverTooLow));
        // Without a cover, never more than the pool's deposit holds (the traders' losses are
        // not cash until settled).
        m.config.pool_cover_bps = 0;
        assert_eq!(m.check_lp_withdrawal(POOL, POOL, PRICE), Ok(()));
        assert_eq!(m.check_lp_withdrawal(POOL + 1, POOL, PRICE), Err(MarginError::PoolCoverTooLow));
    }

    #[test]
    fn a_gain_settles_only_up_to_the_pools_deposit() {
        let mut m = market();
        let mut a = PerpSlot::default();
        m.fill(&mut a, &order(PerpSide::Long, 100), PRICE, POOL).unwrap();
        let up = 200 * ONE_Q64; // +$99.80
        assert_eq!(m.settle_amount(&a, up, POOL), Ok(99_800_000));
        assert_eq!(m.settle_amount(&a, up, 50_000_000), Ok(50_000_000));
        m.book_settlement(&mut a, 50_000_000).unwrap();
        assert_eq!(m.settle_amount(&a, up, POOL), Ok(49_800_000));
        assert_eq!(m.quote_sum(), a.quote_native as i128);
    }

    #[test]
    fn a_fill_grows_risk_when_it_grows_the_size_or_flips_the_side() {
        for (before, after, grows) in [
            (0, 5, true),
            (5, 5, false),
            (5, 3, false),
            (5, 0, false),
            (5, -2, true),
            (-5, -6, true),
            (-5, 4, true),
        ] {
            assert_eq!(grows_risk(before, after), grows, "{before} -> {after}");
        }
        let fill = Fill { quote_change: 0, fee: 0 };
        let outcome = FillOutcome {
            trade_lots: 1,
            fee_bps: 0,
            fill,
            average_price: 0,
            base_before: 1,
            base_after: 2,
        };
        assert!(outcome.increases_risk());
        assert!(!FillOutcome { base_after: 1, ..outcome }.increases_risk());
    }

    /// A side exactly at its cap is allowed; a side already above it (a lowered cap) binds
    /// only if it grows, so the other side still trades.
    #[test]
    fn caps_allow_a_side_at_the_cap_and_bind_only_growth() {
        let mut m = market();
        let mut short = PerpSlot::default();
        m.fill(&mut short, &order(PerpSide::Short, 1_000), PRICE, POOL).unwrap();
        assert_eq!(m.short_lots, 1_000);
        let mut long = PerpSlot::default();
        m.fill(&mut long, &order(PerpSide::Long, 1_000), PRICE, POOL).unwrap();
        assert_eq!(m.long_lots, 1_000);
        m.config.max_long_lots = 500;
        m.config.max_short_lots = 500;
        // Both sides above their new caps: reducing either is fine.
        m.fill(&mut long, &order(PerpSide::Short, 10), PRICE, POOL).unwrap();
        m.fill(&mut short, &order(PerpSide::Long, 10), PRICE, POOL).unwrap();
        assert_eq!((m.long_lots, m.short_lots), (990, 990));
        let grow = m.fill(&mut long, &order(PerpSide::Long, 1), PRICE, POOL);
        assert_eq!(grow.map(|_| ()), Err(MarginError::PerpOpenInterestCap));
    }

    #[test]
    fn the_pool_deposit_is_its_shares_at_the_deposit_index_rounded_down() {
        let mut m = market();
        m.pool_deposit_shares = 3;
        let mut bank: crate::state::Bank = bytemuck::Zeroable::zeroed();
        bank.set_deposit_index(ONE_Q64 * 3 / 2);
        assert_eq!(m.pool_native(&bank), Ok(4));
    }

    #[test]
    fn the_quoted_fee_is_the_fill_fee_at_the_market_skew() {
        let mut m = market();
        let mut slot = PerpSlot::default();
        m.fill(&mut slot, &order(PerpSide::Long, 400), PRICE, POOL).unwrap();
        let params = m.config.params();
        let expected = trade_fee_bps(&params, PRICE, POOL, 400, 100).unwrap();
        assert!(expected > 10, "taker fee plus impact: {expected}");
        assert_eq!(quote_fee_bps(&m, PRICE, POOL, 100), Ok(expected));
    }

    /// A short skew's base value rounds the other way, and unapplied funding is rounded down
    /// (toward minus infinity) for the largest PnL and up for the smallest.
    #[test]
    fn traders_pnl_rounds_each_part_its_own_way() {
        let mut m = market();
        m.short_lots = 1; // 10,000 native base short
        m.set_quote_sum(30_000);
        m.set_funding_unapplied((5 << 64) + (1 << 63)); // 5.5 owed
        let price = ONE_Q64 * 7 / 3; // 10,000 × 7/3 = 23,333.3
                                     // Up: −floor(23,333.3) + 30,000 − floor(5.5); Down: −ceil(...) + 30,000 − ceil(5.5).
        assert_eq!(m.traders_pnl(price, Round::Up), Ok(-23_333 + 30_000 - 5));
        assert_eq!(m.traders_pnl(price, Round::Down), Ok(-23_334 + 30_000 - 6));
        m.set_funding_unapplied(-((5 << 64) + (1 << 63))); // 5.5 owed to the traders
        assert_eq!(m.traders_pnl(price, Round::Up), Ok(-23_333 + 30_000 + 6));
        assert_eq!(m.traders_pnl(price, Round::Down), Ok(-23_334 + 30_000 + 5));
    }

    /// The first accrual starts the clock; an accrual at or before the last one does nothing;
    /// otherwise the indices move for the time elapsed since the last.
    #[test]
    fn funding_accrues_for_the_time_since_the_last_accrual() {
        let mut m = market();
        m.last_funding_ts = 0;
        m.long_lots = 300;
        m.accrue_funding(1_000, PRICE, POOL).unwrap();
        assert_eq!((m.last_funding_ts, m.funding()), (1_000, FundingIndices::default()));
        m.accrue_funding(900, PRICE, POOL).unwrap();
        m.accrue_funding(1_000, PRICE, POOL).unwrap();
        assert_eq!((m.last_funding_ts, m.funding()), (1_000, FundingIndices::default()));
        m.accrue_funding(4_600, PRICE, POOL).unwrap();
        let params = m.config.params();
        let rate = funding_rate_bps_per_day(&params, PRICE, POOL, 300).unwrap();
        let mut expected = FundingIndices::default();
        expected.accrue(&params, PRICE, rate, 3_600).unwrap();
        assert!(rate > 0 && expected.long > 0);
        assert_eq!((m.last_funding_ts, m.funding()), (4_600, expected));
    }
}
