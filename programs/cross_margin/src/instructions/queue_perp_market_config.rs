use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpMarketChangeQueued;
use crate::instructions::queue_bank_config::apply_after;
use crate::state::{PendingPerpChange, PerpMarket, PerpMarketConfig};
use crate::ConfigurePerpMarket;

/// Queues a perp market change (any change; one at a time per market): from now + the group's
/// delay anyone may apply it with `apply_perp_market_config`. Validated now and when applied.
pub fn handler(ctx: Context<ConfigurePerpMarket>, config: PerpMarketConfig) -> Result<()> {
    config.validate()?;
    let group = ctx.accounts.group.load()?;
    config.validate_oracle(&group, &ctx.accounts.oracle)?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    require!(!market.pending.is_queued(), MarginError::ConfigChangeAlreadyQueued);
    let (key, oracle) = (ctx.accounts.perp_market.key(), ctx.accounts.oracle.key());
    queue(&mut market, key, &config, oracle, Clock::get()?.unix_timestamp, group.config_delay_secs)
}

/// Stores `config` pinned to `oracle` as the market's queued change, due `delay_secs` after
/// `now`, and emits it: `queue_perp_market_config`, and `add_perp_market` in a live group.
pub fn queue(
    market: &mut PerpMarket,
    key: Pubkey,
    config: &PerpMarketConfig,
    oracle: Pubkey,
    now: i64,
    delay_secs: u32,
) -> Result<()> {
    let apply_after_ts = apply_after(now, delay_secs)?;
    let config = PerpMarketConfig { padding: [0; 6], ..*config };
    market.pending = PendingPerpChange { apply_after_ts, oracle, config };
    emit!(PerpMarketChangeQueued {
        group: market.group,
        perp_market: key,
        oracle,
        config,
        apply_after_ts
    });
    Ok(())
}
