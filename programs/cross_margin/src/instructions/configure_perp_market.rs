use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpMarketConfigured;
use crate::state::{Group, PerpMarket, PerpMarketConfig};

/// The accounts of `configure_perp_market` and `queue_perp_market_config`.
#[derive(Accounts)]
pub struct ConfigurePerpMarket<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub perp_market: AccountLoader<'info, PerpMarket>,
    /// CHECK: validated as a price account of the configured kind and feed in the handler; it
    /// becomes the market's pinned oracle.
    pub oracle: UncheckedAccount<'info>,
}

/// Replaces the market's configuration and pinned oracle at once. In a live group only a change
/// that tightens new risk (lower init base or PnL weight, lower open-interest caps) is accepted;
/// any other must be queued (`ConfigChangeMustBeQueued`). Refused while a change is queued.
pub fn handler(ctx: Context<ConfigurePerpMarket>, config: PerpMarketConfig) -> Result<()> {
    config.validate()?;
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    require!(!market.pending.is_queued(), MarginError::ConfigChangeAlreadyQueued);
    let oracle = ctx.accounts.oracle.key();
    if group.is_live() {
        require!(
            !config.needs_delay(&market.config, &market.oracle, &oracle),
            MarginError::ConfigChangeMustBeQueued
        );
    } else {
        config.validate_oracle(&group, &ctx.accounts.oracle)?;
    }
    apply(&mut market, ctx.accounts.perp_market.key(), &config, oracle);
    Ok(())
}

/// Replaces the configuration and pinned oracle (padding stored as zero) and emits it.
pub fn apply(market: &mut PerpMarket, key: Pubkey, config: &PerpMarketConfig, oracle: Pubkey) {
    config.apply(market, oracle);
    emit!(PerpMarketConfigured {
        group: market.group,
        perp_market: key,
        oracle,
        config: market.config
    });
}
