use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PoolMovement;
use crate::instructions::perp_trade::{touch, PerpTrade, Touched};
use crate::math::Round;
use crate::positions;

/// Redeems `lp_shares` pool shares for `floor(shares × pool value rounded down / all shares)`,
/// credited to the account's settle-bank position (repaying a borrow first). Refused when it
/// would leave the pool worth less than `pool_cover_bps` of the larger side's open-interest
/// notional, or more than the pool's deposit holds (`PoolCoverTooLow`): the caps then bound
/// what traders can claim before the pool runs short. Needs a fresh oracle; no health check
/// (it only adds to the account).
pub fn handler(ctx: Context<PerpTrade>, lp_shares: u64) -> Result<()> {
    require!(lp_shares > 0, MarginError::ZeroAmount);
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    let Touched { price, pool, .. } = touch(&mut market, &group, &ctx.accounts.oracle, &mut bank)?;

    let mut account = ctx.accounts.account.load_mut()?;
    let slot_index = account
        .find_perp(market.market_index)
        .filter(|&i| account.perps[i].lp_shares >= lp_shares)
        .ok_or(MarginError::InsufficientPoolShares)?;
    let amount = market.lp_value_of(lp_shares, market.pool_value(pool, price, Round::Down)?)?;
    require!(amount > 0, MarginError::AmountTooSmall);
    market.check_lp_withdrawal(amount, pool, price)?;
    let magnitude = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
    let mut pool_shares = market.pool_deposit_shares;
    positions::pool_transfer(&mut account, &mut bank, &mut pool_shares, magnitude, true)?;
    market.pool_deposit_shares = pool_shares;
    market.lp_shares -= lp_shares; // <= the slot's shares <= the total
    let slot = &mut account.perps[slot_index];
    slot.lp_shares -= lp_shares;
    slot.close_if_empty();

    emit!(PoolMovement {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        deposit: false,
        amount,
        lp_shares,
        lp_shares_total: market.lp_shares,
        pool_deposit_shares: pool_shares,
    });
    Ok(())
}
