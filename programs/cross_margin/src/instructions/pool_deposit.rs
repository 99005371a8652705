use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PoolMovement;
use crate::health_accounts::{compute_account_health, Breakdown, LoadedBank, LoadedPerp};
use crate::instructions::perp_trade::{perp_price, pool_native, PerpTrade};
use crate::math::Round;
use crate::positions;

/// Moves `amount` of the account's settle-bank deposit into the market's pool for pool shares:
/// `amount` while none exist, else `floor(amount × shares / pool value rounded up)`. Pool
/// shares count nothing in health, so the account's init health must stay >= 0 if it has
/// borrows or perp positions (remaining accounts: its health accounts after the deposit).
/// Refused while the group is paused or reduce-only, and with a stale oracle (the pool's
/// value needs the traders' PnL).
pub fn handler(ctx: Context<PerpTrade>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    let group = ctx.accounts.group.load()?;
    require!(!group.is_paused(), MarginError::GroupPaused);
    require!(!group.is_reduce_only(), MarginError::GroupReduceOnly);
    let now = Clock::get()?.unix_timestamp;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let price = perp_price(&market, &group, &ctx.accounts.oracle, now)?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    let pool = pool_native(&market, &bank)?;
    market.accrue_funding(now, price, pool)?;
    let shares = market.lp_shares_for(amount, market.pool_value(pool, price, Round::Up)?)?;
    require!(shares > 0, MarginError::AmountTooSmall);

    let mut account = ctx.accounts.account.load_mut()?;
    require!(account.bankrupt == 0, MarginError::AccountBankrupt);
    let funding = market.funding();
    let slot_index =
        account.find_or_open_perp(market.market_index, market.settle_bank_index, &funding)?;
    let magnitude = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
    let mut pool_shares = market.pool_deposit_shares;
    positions::pool_transfer(&mut account, &mut bank, &mut pool_shares, -magnitude, false)?;
    market.pool_deposit_shares = pool_shares;
    let slot = &mut account.perps[slot_index];
    slot.lp_shares = slot.lp_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;
    market.lp_shares = market.lp_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;

    if account.has_borrows()
        || account.perps.iter().any(|p| p.base_lots != 0 || p.quote_native != 0)
    {
        let report = compute_account_health(
            &account,
            &ctx.accounts.group.key(),
            &group,
            ctx.remaining_accounts,
            now,
            crate::health_accounts::Held {
                banks: &[LoadedBank { key: ctx.accounts.settle_bank.key(), bank: &bank }],
                perps: &[LoadedPerp { key: ctx.accounts.perp_market.key(), market: &market }],
            },
            Breakdown::Totals,
        )?;
        require_gte!(report.health.init, 0, MarginError::InitHealthNegative);
    }
    emit!(PoolMovement {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        deposit: true,
        amount,
        lp_shares: shares,
        lp_shares_total: market.lp_shares,
        pool_deposit_shares: pool_shares,
    });
    Ok(())
}
