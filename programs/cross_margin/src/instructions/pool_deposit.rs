use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PoolMovement;
use crate::instructions::perp_trade::{require_init_health, touch, PerpTrade};
use crate::math::Round;
use crate::positions;

/// Moves `amount` of the account's settle-bank deposit into the market's pool for pool shares:
/// `amount` while none exist, else `floor(amount × shares / pool value rounded up)`. Pool
/// shares count nothing in health, so the account's init health must stay >= 0 if it has
/// borrows or perp positions (remaining accounts: its health accounts after the deposit).
/// Refused while the group is paused or reduce-only, and with a stale oracle (the pool's
/// value needs the traders' PnL).
pub fn handler(ctx: Context<PerpTrade>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    let group = ctx.accounts.group.load()?;
    require!(!group.is_paused(), MarginError::GroupPaused);
    require!(!group.is_reduce_only(), MarginError::GroupReduceOnly);
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    let touched = touch(&mut market, &group, &ctx.accounts.oracle, &mut bank)?;
    let (now, price, pool) = (touched.now, touched.price, touched.pool);
    let shares = market.lp_shares_for(amount, market.pool_value(pool, price, Round::Up)?)?;
    require!(shares > 0, MarginError::AmountTooSmall);

    let mut account = ctx.accounts.account.load_mut()?;
    require!(account.bankrupt == 0, MarginError::AccountBankrupt);
    let funding = market.funding();
    let slot_index =
        account.find_or_open_perp(market.market_index, market.settle_bank_index, &funding)?;
    let magnitude = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
    let mut pool_shares = market.pool_deposit_shares;
    positions::pool_transfer(&mut account, &mut bank, &mut pool_shares, -magnitude, false)?;
    market.pool_deposit_shares = pool_shares;
    let slot = &mut account.perps[slot_index];
    slot.lp_shares = slot.lp_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;
    market.lp_shares = market.lp_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;

    if account.has_borrows()
        || account.perps.iter().any(|p| p.base_lots != 0 || p.quote_native != 0)
    {
        require_init_health(&ctx, &group, &account, (&*bank, &*market), now)?;
    }
    emit!(PoolMovement {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        deposit: true,
        amount,
        lp_shares: shares,
        lp_shares_total: market.lp_shares,
        pool_deposit_shares: pool_shares,
    });
    Ok(())
}
