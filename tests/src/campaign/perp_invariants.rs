//! The perp market's invariants, checked in every state, and the book of its cash flows they
//! are checked against.
//!
//! In every state, exactly:
//! - open interest is the sum of positions: `long_lots = Σ max(base, 0)`,
//!   `short_lots = Σ max(−base, 0)` over every account's slot;
//! - `quote_sum = Σ quote_native`, `lp_shares = Σ slot lp_shares`;
//! - funding: `funding_unapplied = Σ base × (index − snapshot)` (Q64.64, on the position's side):
//!   what the positions owe is what the market recorded as accrued and not yet applied;
//! - the pool's deposit shares are what the book computes from every `PoolMovement` and
//!   `PnlSettled` (each conversion at the settle bank's index, rounded against the pool), and
//!   they are part of the settle bank's `total_deposit_shares` (`invariants::check_shares`);
//! - fees: `fees_accrued` is the sum of the fills' fees;
//! - zero-sum (below).
//!
//! Zero-sum, at the oracle price P (any P: the identity holds at every price), in 2⁻⁶⁴ quote
//! native units, with `realised` the `PnlSettled` amounts (+ paid to the trader), `pnl_i` each
//! slot's PnL unrounded (`base × lot × P + quote × 2⁶⁴ − base × (index − snapshot)`), `pool_pnl`
//! the pool's native deposit less the LPs' net contributions and the interest its shares
//! earned, less the traders' PnL as the market's aggregates state it
//! (`skew × lot × P + quote_sum × 2⁶⁴ − funding_unapplied`):
//!
//! ```text
//! Σ realised + Σ pnl_i + pool_pnl ∈ [−R × 2⁶⁴, 0]
//! ```
//!
//! where R is the share rounding the book allows (a few units per pool movement): rounding may
//! only cost the pool (or the traders), never pay them. The traders' side of each settlement is
//! a postcondition (`perp_postconditions`): the balance change never exceeds the amount.

use cross_margin::math::{div_q64, mul_q64, Round};
use cross_margin::state::PerpMarket;
pub(super) use cross_margin_testkit::invariants::{owed_funding, slots_pnl};
use cross_margin_testkit::invariants::{perp_aggregates, traders_pnl_brackets};

use super::invariants::labelled;
use super::perp_ops::pool_native;
use super::{Check, State, World, ACCOUNTS};

/// The perp market's cash flows, as the events report them.
#[derive(Debug, Clone, Default)]
pub(super) struct PerpBook {
    /// The pool's deposit shares, as every pool movement and settlement moved them.
    pub(super) pool_shares: u64,
    /// LP deposits less LP withdrawals (native).
    pub(super) contributed: i128,
    /// `PnlSettled` amounts per account (+ paid by the pool), and what an account paid the
    /// pool in a perp write-off (−).
    pub(super) realised: [i128; ACCOUNTS],
    /// What the pool paid out on the traders' behalf (liquidation fees to liquidators and the
    /// insurance fund), less what the insurance fund paid into it (write-offs).
    pub(super) paid_out: i128,
    /// `PerpBankruptcyResolved` socialised amounts.
    pub(super) socialised: u64,
    /// Interest (and socialized losses) on the pool's shares, rounded up.
    pub(super) interest: i128,
    /// What share rounding may have cost the pool, at most (native).
    pub(super) rounding: i128,
    pub(super) fees: u64,
    /// The market held positions or unsettled PnL while no LP held pool shares: what the
    /// traders then lose goes to a pool nobody owns (a finding, see `exit`).
    pub(super) orphaned: bool,
}

impl PerpBook {
    pub(super) fn start(s: &State) -> Self {
        let pool = pool_native(&s.perp, &s.banks[s.perp.settle_bank_index as usize]).unwrap();
        PerpBook {
            pool_shares: s.perp.pool_deposit_shares,
            contributed: pool as i128,
            rounding: 1,
            fees: s.perp.fees_accrued,
            ..Default::default()
        }
    }

    /// `amount` (native, + into the pool) converted to pool shares at `index`: added rounding
    /// down, burned rounding up.
    pub(super) fn move_pool(&mut self, amount: i128, index: u128) -> Result<(), String> {
        let magnitude = amount.unsigned_abs() as u64;
        if amount > 0 {
            let added = div_q64(magnitude, index, Round::Down).map_err(|_| "overflow")?;
            self.pool_shares += added;
        } else {
            let burned = div_q64(magnitude, index, Round::Up).map_err(|_| "overflow")?;
            self.pool_shares = self
                .pool_shares
                .checked_sub(burned)
                .ok_or_else(|| format!("the pool paid {magnitude} it does not hold"))?;
        }
        self.rounding += (index >> 64) as i128 + 2;
        Ok(())
    }

    /// What the pool's deposit must be at most: contributions, less settlements, plus interest.
    fn expected_pool(&self) -> i128 {
        self.contributed - self.realised.iter().sum::<i128>() - self.paid_out + self.interest
    }
}

/// The traders' PnL at `price` as the market's aggregates state it, unrounded.
fn aggregate_pnl(market: &PerpMarket, price: u128) -> Option<i128> {
    let skew = market.long_lots as i128 - market.short_lots as i128;
    let value =
        skew.checked_mul(market.config.base_lot_size as i128)?.checked_mul(price as i128)?;
    let quote = market.quote_sum().checked_mul(1 << 64)?;
    value.checked_add(quote)?.checked_sub(market.funding_unapplied())
}

impl World {
    /// The perp market's invariants (module docs): the aggregates are the test kit's (shared
    /// with the keeper's soak), the book's are the campaign's.
    pub(super) fn check_perp(&self, s: &State, when: &str) -> Check {
        let market = &s.perp;
        for (label, account) in labelled(s) {
            for slot in account.active_perps() {
                ensure!(
                    slot.market_index == market.market_index,
                    "{when}: {label} holds a slot of market {}",
                    slot.market_index
                );
            }
        }
        perp_aggregates(market, labelled(s), when)?;
        ensure!(
            market.pool_deposit_shares == self.book.pool_shares,
            "{when}: the pool holds {} deposit shares, its movements add up to {}",
            market.pool_deposit_shares,
            self.book.pool_shares
        );
        ensure!(
            market.socialised_loss == self.book.socialised,
            "{when}: socialised_loss {} != Σ write-offs' socialised {}",
            market.socialised_loss,
            self.book.socialised
        );
        ensure!(
            market.fees_accrued == self.book.fees,
            "{when}: fees_accrued {} != Σ fills' fees {}",
            market.fees_accrued,
            self.book.fees
        );
        self.check_zero_sum(s, when)
    }

    /// Zero-sum (module docs), and the program's rounded aggregate PnL brackets the exact one.
    fn check_zero_sum(&self, s: &State, when: &str) -> Check {
        let market = &s.perp;
        let bank = &s.banks[market.settle_bank_index as usize];
        let pool = pool_native(market, bank).map_err(|e| format!("{when}: pool {e:?}"))? as i128;
        let book = &self.book;
        let expected = book.expected_pool();
        ensure!(
            pool <= expected && pool >= expected - book.rounding,
            "{when}: the pool's deposit {pool} is not its cash flows {expected} (contributed {}, \
             settled {:?}, interest {}) less at most {} of rounding",
            book.contributed,
            book.realised,
            book.interest,
            book.rounding
        );
        let price = self.perp_model_price();
        let (Some(slots), Some(aggregate)) =
            (slots_pnl(s.accounts.iter().flatten(), market, price), aggregate_pnl(market, price))
        else {
            return Ok(()); // beyond i128 (not at the campaign's sizes and prices)
        };
        let one = 1i128 << 64;
        let realised: i128 = book.realised.iter().sum::<i128>() + book.paid_out;
        let pool_pnl = (pool - book.interest - book.contributed) * one - aggregate;
        let zero_sum = realised * one + slots + pool_pnl;
        ensure!(
            zero_sum <= 0 && zero_sum >= -book.rounding * one,
            "{when}: zero-sum broken: realised {realised} + traders' PnL {slots} + pool's PnL \
             {pool_pnl} = {zero_sum} (2^-64 units), allowed [-{} units, 0]",
            book.rounding
        );
        traders_pnl_brackets(market, price, slots, when)
    }

    /// The interest (or socialized loss) on the pool's shares between two states: the book's
    /// upper bound of the pool's deposit follows it, rounded up.
    pub(super) fn credit_pool_interest(&mut self, before: &State, after: &State) {
        let b = before.perp.settle_bank_index as usize;
        let (d0, d1) = (before.banks[b].deposit_index(), after.banks[b].deposit_index());
        let shares = before.perp.pool_deposit_shares;
        if d1 > d0 {
            self.book.interest += mul_q64(shares, d1 - d0, Round::Up).unwrap() as i128;
        } else if d1 < d0 {
            self.book.interest -= mul_q64(shares, d0 - d1, Round::Down).unwrap() as i128;
        } else {
            return;
        }
        self.book.rounding += 1;
    }
}
