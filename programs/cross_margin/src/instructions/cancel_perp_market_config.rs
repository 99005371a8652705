use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpMarketChangeCancelled;
use crate::state::{Group, PerpMarket};

#[derive(Accounts)]
pub struct CancelPerpMarketConfig<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub perp_market: AccountLoader<'info, PerpMarket>,
}

/// Withdraws the market's queued change (the admin, at any time before it is applied).
pub fn handler(ctx: Context<CancelPerpMarketConfig>) -> Result<()> {
    let mut market = ctx.accounts.perp_market.load_mut()?;
    require!(market.pending.is_queued(), MarginError::NoConfigChangeQueued);
    market.pending = bytemuck::Zeroable::zeroed();
    emit!(PerpMarketChangeCancelled {
        group: market.group,
        perp_market: ctx.accounts.perp_market.key()
    });
    Ok(())
}
