use anchor_lang::prelude::*;

use crate::events::PoolMovement;
use crate::instructions::perp_trade::{touch, PerpTrade};
use crate::perp::actions;

/// Redeems `lp_shares` pool shares for `floor(shares × pool value rounded down / all shares)`,
/// credited to the account's settle-bank position (repaying a borrow first). Refused when it
/// would leave the pool worth less than `pool_cover_bps` of the larger side's open-interest
/// notional, or more than the pool's deposit holds (`PoolCoverTooLow`): the caps then bound
/// what traders can claim before the pool runs short. Needs a fresh oracle; no health check
/// (it only adds to the account).
pub fn handler(ctx: Context<PerpTrade>, lp_shares: u64) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    let (_, touched) = touch(&mut market, &group, &ctx.accounts.oracle, &mut bank)?;

    let mut account = ctx.accounts.account.load_mut()?;
    let amount = actions::pool_withdraw(&mut market, &mut account, &mut bank, lp_shares, touched)?;

    emit!(PoolMovement {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        deposit: false,
        amount,
        lp_shares,
        lp_shares_total: market.lp_shares,
        pool_deposit_shares: market.pool_deposit_shares,
    });
    Ok(())
}
