//! What each perp instruction does to loaded state, once its oracle price is read and its
//! market touched (`instructions::perp_trade::touch`): pure, so the handler loads the accounts
//! and calls one of these (Mango's `*_action()`), and the property campaign and the keeper call
//! the same functions to predict it. Init health, which needs the health accounts, is the
//! caller's closure.

use crate::error::MarginError;
use crate::math::Round;
use crate::perp::{FillOutcome, PerpOrder};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

/// The market's price and its pool's deposit, as the instruction found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    pub price: u128,
    pub pool: u64,
}

/// The start of every perp instruction once its oracle price is read: the settle bank accrued to
/// `now`, the pool's deposit (`floor(pool shares × deposit index)`), and the market's funding
/// accrued to `now` at them.
pub fn touch_market(
    market: &mut PerpMarket,
    settle_bank: &mut Bank,
    now: i64,
    price: u128,
) -> Result<Touch, MarginError> {
    settle_bank.accrue_interest(now)?;
    let pool = market.pool_native(settle_bank)?;
    market.accrue_funding(now, price, pool)?;
    Ok(Touch { price, pool })
}

/// What `place_perp_order` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderOutcome {
    pub fill: FillOutcome,
    /// Funding applied to the position before the fill (+ paid by it).
    pub funding_paid: i64,
    /// Init health after, when the fill grew or flipped the position (0 otherwise).
    pub init_health_after: i128,
}

/// `place_perp_order`: the fill ([`PerpMarket::fill`]) after the position's funding; a fill
/// that grows or flips the position is refused for a flagged account, in a paused or
/// reduce-only group, and below init health 0 (`init_health`, with the account and market as
/// they are after the fill).
pub fn place_order<E: From<MarginError>>(
    group: &Group,
    market: &mut PerpMarket,
    account: &mut MarginAccount,
    order: &PerpOrder,
    touch: Touch,
    init_health: impl FnOnce(&MarginAccount, &PerpMarket) -> Result<i128, E>,
) -> Result<OrderOutcome, E> {
    account.clear_flags_if_debt_free();
    let funding = market.funding();
    let index =
        account.find_or_open_perp(market.market_index, market.settle_bank_index, &funding)?;
    let mut slot = account.perps[index];
    let funding_paid = market.apply_funding(&mut slot)?;
    let fill = market.fill(&mut slot, order, touch.price, touch.pool)?;
    slot.close_if_empty();
    account.perps[index] = slot;
    let mut init_health_after = 0;
    if fill.increases_risk() {
        // A flagged account may still reduce: only new risk is refused.
        let refusal = if account.bankrupt != 0 {
            Some(MarginError::AccountBankrupt)
        } else if group.is_paused() {
            Some(MarginError::GroupPaused)
        } else if group.is_reduce_only() {
            Some(MarginError::GroupReduceOnly)
        } else {
            None
        };
        if let Some(error) = refusal {
            return Err(error.into());
        }
        init_health_after = init_health(account, market)?;
        if init_health_after < 0 {
            return Err(MarginError::InitHealthNegative.into());
        }
    }
    Ok(OrderOutcome { fill, funding_paid, init_health_after })
}

/// What `settle_pnl` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleOutcome {
    /// Settled amount: + paid by the pool to the account.
    pub amount: i64,
    pub funding_paid: i64,
    /// The account's settle-bank balance change (native, after share rounding).
    pub balance_change: i128,
}

/// `settle_pnl`: the position's funding, then its PnL at the price ([`PerpMarket::settle_amount`])
/// moved between the pool's deposit and the account's settle-bank position
/// ([`positions::pool_transfer`]). A loss beyond the account's settle deposit becomes a borrow
/// only up to `borrow_capacity` (called only then: the health accounts' equity,
/// [`crate::perp::bankruptcy::loss_borrow_capacity`], or 0 without them); the rest stays
/// unsettled, for `resolve_perp_bankruptcy`.
pub fn settle<E: From<MarginError>>(
    market: &mut PerpMarket,
    account: &mut MarginAccount,
    settle_bank: &mut Bank,
    touch: Touch,
    borrow_capacity: impl FnOnce(&MarginAccount, &PerpMarket, &Bank) -> Result<u64, E>,
) -> Result<SettleOutcome, E> {
    let index = account.find_perp(market.market_index).ok_or(MarginError::NothingToSettle)?;
    let mut slot = account.perps[index];
    let funding_paid = market.apply_funding(&mut slot)?;
    let mut amount = market.settle_amount(&slot, touch.price, touch.pool)?;
    if amount < 0 {
        let deposit = positions::deposit_native(account, settle_bank)?;
        let loss = amount.unsigned_abs();
        if loss > deposit {
            let payable = deposit.saturating_add(borrow_capacity(account, market, settle_bank)?);
            amount = -(loss.min(payable) as i64); // <= |amount|, an i64
        }
    }
    if amount == 0 {
        return Err(MarginError::NothingToSettle.into());
    }
    let mut pool_shares = market.pool_deposit_shares;
    let balance_change =
        positions::pool_transfer(account, settle_bank, &mut pool_shares, amount, true)?;
    market.pool_deposit_shares = pool_shares;
    market.book_settlement(&mut slot, amount)?;
    slot.close_if_empty();
    account.perps[index] = slot;
    account.clear_flags_if_debt_free();
    Ok(SettleOutcome { amount, funding_paid, balance_change })
}

/// `pool_deposit` of `amount` from the account's settle deposit for pool shares
/// ([`PerpMarket::lp_shares_for`] at the pool's value rounded up); an account with borrows or
/// perp PnL must keep init health >= 0 (`init_health`). Returns the shares minted.
pub fn pool_deposit<E: From<MarginError>>(
    group: &Group,
    market: &mut PerpMarket,
    account: &mut MarginAccount,
    settle_bank: &mut Bank,
    amount: u64,
    touch: Touch,
    init_health: impl FnOnce(&MarginAccount, &PerpMarket, &Bank) -> Result<i128, E>,
) -> Result<u64, E> {
    let refusal = if amount == 0 {
        Some(MarginError::ZeroAmount)
    } else if group.is_paused() {
        Some(MarginError::GroupPaused)
    } else if group.is_reduce_only() {
        Some(MarginError::GroupReduceOnly)
    } else {
        None
    };
    if let Some(error) = refusal {
        return Err(error.into());
    }
    let value = market.pool_value(touch.pool, touch.price, Round::Up)?;
    let shares = market.lp_shares_for(amount, value)?;
    if shares == 0 {
        return Err(MarginError::AmountTooSmall.into());
    }
    if account.bankrupt != 0 {
        return Err(MarginError::AccountBankrupt.into());
    }
    let funding = market.funding();
    let index =
        account.find_or_open_perp(market.market_index, market.settle_bank_index, &funding)?;
    let magnitude = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
    let mut pool_shares = market.pool_deposit_shares;
    positions::pool_transfer(account, settle_bank, &mut pool_shares, -magnitude, false)?;
    market.pool_deposit_shares = pool_shares;
    let slot = &mut account.perps[index];
    slot.lp_shares = slot.lp_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;
    market.lp_shares = market.lp_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;
    let at_risk = account.has_borrows()
        || account.perps.iter().any(|p| p.base_lots != 0 || p.quote_native != 0);
    if at_risk && init_health(account, market, settle_bank)? < 0 {
        return Err(MarginError::InitHealthNegative.into());
    }
    Ok(shares)
}

/// `pool_withdraw` of `shares`: their value ([`PerpMarket::lp_value_of`] at the pool's value
/// rounded down) within the cover ([`PerpMarket::check_lp_withdrawal`]), credited to the
/// account's settle-bank position. Returns the amount paid.
pub fn pool_withdraw(
    market: &mut PerpMarket,
    account: &mut MarginAccount,
    settle_bank: &mut Bank,
    shares: u64,
    touch: Touch,
) -> Result<u64, MarginError> {
    if shares == 0 {
        return Err(MarginError::ZeroAmount);
    }
    let index = account
        .find_perp(market.market_index)
        .filter(|&i| account.perps[i].lp_shares >= shares)
        .ok_or(MarginError::InsufficientPoolShares)?;
    let value = market.pool_value(touch.pool, touch.price, Round::Down)?;
    let amount = market.lp_value_of(shares, value)?;
    if amount == 0 {
        return Err(MarginError::AmountTooSmall);
    }
    market.check_lp_withdrawal(amount, touch.pool, touch.price)?;
    let magnitude = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
    let mut pool_shares = market.pool_deposit_shares;
    positions::pool_transfer(account, settle_bank, &mut pool_shares, magnitude, true)?;
    market.pool_deposit_shares = pool_shares;
    market.lp_shares -= shares; // <= the slot's shares <= the total
    let slot = &mut account.perps[index];
    slot.lp_shares -= shares;
    slot.close_if_empty();
    Ok(amount)
}
