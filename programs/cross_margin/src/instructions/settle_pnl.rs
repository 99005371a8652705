use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PnlSettled;
use crate::instructions::perp_trade::{touch, Touched};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

#[derive(Accounts)]
pub struct SettlePnl<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub account: AccountLoader<'info, MarginAccount>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = oracle @ MarginError::OracleAccountMismatch,
        has_one = settle_bank @ MarginError::InvalidSettleBank,
    )]
    pub perp_market: AccountLoader<'info, PerpMarket>,
    /// CHECK: must be `perp_market.oracle` (checked above); read and validated in the handler.
    pub oracle: UncheckedAccount<'info>,
    #[account(mut)]
    pub settle_bank: AccountLoader<'info, Bank>,
}

/// Moves the position's PnL at the oracle price (funding applied first) into the account's
/// settle-bank position, with no token transfer: a gain (capped by the pool's deposit) becomes
/// a deposit paid by the pool; a loss reduces the deposit or becomes a borrow, paid to the pool.
/// Permissionless: the PnL already counted in the settle bank's balance for health, so
/// settling it never lowers health (beyond share rounding).
pub fn handler(ctx: Context<SettlePnl>) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    let Touched { price, pool, .. } = touch(&mut market, &group, &ctx.accounts.oracle, &mut bank)?;

    let mut account = ctx.accounts.account.load_mut()?;
    let slot_index = account.find_perp(market.market_index).ok_or(MarginError::NothingToSettle)?;
    let mut slot = account.perps[slot_index];
    let funding_paid = market.apply_funding(&mut slot)?;
    let amount = market.settle_amount(&slot, price, pool)?;
    require!(amount != 0, MarginError::NothingToSettle);
    let mut pool_shares = market.pool_deposit_shares;
    let balance_change =
        positions::pool_transfer(&mut account, &mut bank, &mut pool_shares, amount, true)?;
    market.pool_deposit_shares = pool_shares;
    market.book_settlement(&mut slot, amount)?;
    slot.close_if_empty();
    account.perps[slot_index] = slot;
    account.clear_flags_if_debt_free();

    emit!(PnlSettled {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        amount,
        funding_paid,
        balance_change,
        pool_deposit_shares: pool_shares,
    });
    Ok(())
}
