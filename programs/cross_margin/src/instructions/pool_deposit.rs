use anchor_lang::prelude::*;

use crate::events::PoolMovement;
use crate::instructions::perp_trade::{init_health, touch, PerpTrade};
use crate::perp::actions;

/// Moves `amount` of the account's settle-bank deposit into the market's pool for pool shares:
/// `amount` while none exist, else `floor(amount × shares / pool value rounded up)`. Pool
/// shares count nothing in health, so the account's init health must stay >= 0 if it has
/// borrows or perp positions (remaining accounts: its health accounts after the deposit).
/// Refused while the group is paused or reduce-only, and with a stale oracle (the pool's
/// value needs the traders' PnL).
pub fn handler(ctx: Context<PerpTrade>, amount: u64) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    let (now, touched) = touch(&mut market, &group, &ctx.accounts.oracle, &mut bank)?;
    let mut account = ctx.accounts.account.load_mut()?;
    let shares = actions::pool_deposit(
        &group,
        &mut market,
        &mut account,
        &mut bank,
        amount,
        touched,
        |account, market, bank| init_health(&ctx, &group, account, (bank, market), now),
    )?;
    emit!(PoolMovement {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        deposit: true,
        amount,
        lp_shares: shares,
        lp_shares_total: market.lp_shares,
        pool_deposit_shares: market.pool_deposit_shares,
    });
    Ok(())
}
