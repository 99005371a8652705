use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpFill;
use crate::instructions::perp_trade::{require_init_health, touch, PerpTrade};
use crate::perp::PerpOrder;

/// Fills `order` at once against the market's pool at the oracle price ± the taker fee and the
/// price impact (`perp::trade_fee_bps`). Funding is accrued and applied first. An order that
/// grows the position or flips its side needs init health >= 0 afterwards (remaining accounts:
/// the health accounts, with this market's slot as it is after the fill) and is refused while
/// the group is paused or reduce-only. A stale or unconfident oracle fills nothing.
pub fn handler(ctx: Context<PerpTrade>, order: PerpOrder) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut settle_bank = ctx.accounts.settle_bank.load_mut()?;
    let touched = touch(&mut market, &group, &ctx.accounts.oracle, &mut settle_bank)?;
    let (now, price, pool) = (touched.now, touched.price, touched.pool);

    let mut account = ctx.accounts.account.load_mut()?;
    require!(account.bankrupt == 0, MarginError::AccountBankrupt);
    let funding = market.funding();
    let slot_index =
        account.find_or_open_perp(market.market_index, market.settle_bank_index, &funding)?;
    let mut slot = account.perps[slot_index];
    let funding_paid = market.apply_funding(&mut slot)?;
    let outcome = market.fill(&mut slot, &order, price, pool)?;
    slot.close_if_empty();
    account.perps[slot_index] = slot;

    let mut init_health_after = 0;
    if outcome.increases_risk() {
        require!(!group.is_paused(), MarginError::GroupPaused);
        require!(!group.is_reduce_only(), MarginError::GroupReduceOnly);
        let held = (&*settle_bank, &*market);
        init_health_after = require_init_health(&ctx, &group, &account, held, now)?;
    }

    let funding = market.funding();
    emit!(PerpFill {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        trade_lots: outcome.trade_lots,
        base_lots_after: outcome.base_after,
        oracle_price: price,
        average_price: outcome.average_price,
        fee_bps: outcome.fee_bps,
        fee: outcome.fill.fee,
        funding_paid,
        long_lots: market.long_lots,
        short_lots: market.short_lots,
        funding_long: funding.long,
        funding_short: funding.short,
        init_health_after,
    });
    Ok(())
}
