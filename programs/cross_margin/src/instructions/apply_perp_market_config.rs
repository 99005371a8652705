use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::instructions::configure_perp_market::apply;
use crate::state::{Group, PerpMarket};

#[derive(Accounts)]
pub struct ApplyPerpMarketConfig<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub perp_market: AccountLoader<'info, PerpMarket>,
    /// CHECK: must be the queued change's oracle; validated as a price account in the handler.
    pub oracle: UncheckedAccount<'info>,
}

/// Applies the market's queued change once it is due (as `apply_bank_config`). Permissionless.
pub fn handler(ctx: Context<ApplyPerpMarketConfig>) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let pending = market.pending;
    group.config_change_ready(pending.apply_after_ts, Clock::get()?.unix_timestamp)?;
    require_keys_eq!(ctx.accounts.oracle.key(), pending.oracle, MarginError::OracleAccountMismatch);
    pending.config.validate()?;
    pending.config.validate_oracle(&group, &ctx.accounts.oracle)?;
    market.pending = bytemuck::Zeroable::zeroed();
    apply(&mut market, ctx.accounts.perp_market.key(), &pending.config, pending.oracle);
    Ok(())
}
