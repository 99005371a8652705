use anchor_lang::prelude::*;

use crate::events::PerpFill;
use crate::instructions::perp_trade::{init_health, touch, PerpTrade};
use crate::perp::actions;
use crate::perp::PerpOrder;

/// Fills `order` at once against the market's pool at the oracle price ± the taker fee and the
/// price impact (`perp::trade_fee_bps`). Funding is accrued and applied first. An order that
/// grows the position or flips its side needs init health >= 0 afterwards (remaining accounts:
/// the health accounts, with this market's slot as it is after the fill) and is refused while
/// the group is paused or reduce-only, or the account is flagged bankrupt; reducing is always
/// allowed. A stale or unconfident oracle fills nothing.
pub fn handler(ctx: Context<PerpTrade>, order: PerpOrder) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut settle_bank = ctx.accounts.settle_bank.load_mut()?;
    let (now, touched) = touch(&mut market, &group, &ctx.accounts.oracle, &mut settle_bank)?;

    let mut account = ctx.accounts.account.load_mut()?;
    let outcome = actions::place_order(
        &group,
        &mut market,
        &mut account,
        &order,
        touched,
        |account, market| init_health(&ctx, &group, account, (&*settle_bank, market), now),
    )?;

    let funding = market.funding();
    emit!(PerpFill {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        trade_lots: outcome.fill.trade_lots,
        base_lots_after: outcome.fill.base_after,
        oracle_price: touched.price,
        average_price: outcome.fill.average_price,
        fee_bps: outcome.fill.fee_bps,
        fee: outcome.fill.fill.fee,
        funding_paid: outcome.funding_paid,
        long_lots: market.long_lots,
        short_lots: market.short_lots,
        funding_long: funding.long,
        funding_short: funding.short,
        init_health_after: outcome.init_health_after,
    });
    Ok(())
}
