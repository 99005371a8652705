use anchor_lang::prelude::*;

use crate::constants::{PERP_MARKET_SEED, PERP_MARKET_VERSION};
use crate::error::MarginError;
use crate::events::PerpMarketAdded;
use crate::instructions::queue_perp_market_config::queue;
use crate::math::QUOTE_DECIMALS;
use crate::state::{Bank, Group, PerpMarket, PerpMarketConfig};

#[derive(Accounts)]
#[instruction(market_index: u16)]
pub struct AddPerpMarket<'info> {
    #[account(mut, has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    /// The bank PnL settles in: a bank of this group whose token has 6 decimals.
    #[account(has_one = group @ MarginError::WrongGroup)]
    pub settle_bank: AccountLoader<'info, Bank>,
    /// CHECK: validated as a price account of the configured kind and feed in the handler.
    pub oracle: UncheckedAccount<'info>,
    #[account(
        init,
        payer = payer,
        space = 8 + PerpMarket::SIZE,
        seeds = [PERP_MARKET_SEED, group.key().as_ref(), &market_index.to_le_bytes()],
        bump,
    )]
    pub perp_market: AccountLoader<'info, PerpMarket>,
    pub system_program: Program<'info, System>,
}

/// Adds perp market `market_index` (the group's next). In a live group the market opens (open
/// interest caps above zero) only when its queued configuration is applied.
pub fn handler(
    ctx: Context<AddPerpMarket>,
    market_index: u16,
    config: PerpMarketConfig,
) -> Result<()> {
    config.validate()?;
    let mut group = ctx.accounts.group.load_mut()?;
    require_eq!(market_index, group.perp_market_count, MarginError::PerpMarketIndexMismatch);
    config.validate_oracle(&group, &ctx.accounts.oracle)?;
    let settle_bank = ctx.accounts.settle_bank.load()?;
    require_eq!(settle_bank.decimals, QUOTE_DECIMALS, MarginError::InvalidSettleBank);
    group.perp_market_count = market_index.checked_add(1).ok_or(MarginError::MathOverflow)?;

    let mut market = ctx.accounts.perp_market.load_init()?;
    market.group = ctx.accounts.group.key();
    market.settle_bank = ctx.accounts.settle_bank.key();
    market.settle_bank_index = settle_bank.bank_index;
    market.market_index = market_index;
    market.version = PERP_MARKET_VERSION;
    market.bump = ctx.bumps.perp_market;
    let now = Clock::get()?.unix_timestamp;
    market.last_funding_ts = now;
    let (key, oracle) = (ctx.accounts.perp_market.key(), ctx.accounts.oracle.key());
    if group.is_live() {
        let closed = PerpMarketConfig { max_long_lots: 0, max_short_lots: 0, ..config };
        closed.apply(&mut market, oracle);
        queue(&mut market, key, &config, oracle, now, group.config_delay_secs)?;
    } else {
        config.apply(&mut market, oracle);
    }
    emit!(PerpMarketAdded {
        group: market.group,
        perp_market: key,
        market_index,
        oracle,
        settle_bank: market.settle_bank,
    });
    Ok(())
}
