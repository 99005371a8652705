use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpBankruptcyResolved;
use crate::health_accounts::{compute_account_health, Breakdown, Held, LoadedBank, LoadedPerp};
use crate::instructions::perp_trade::touch;
use crate::perp::bankruptcy::write_off;
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

#[derive(Accounts)]
pub struct ResolvePerpBankruptcy<'info> {
    pub group: AccountLoader<'info, Group>,
    /// The bankrupt account. Anyone may resolve it: it only loses a loss it cannot pay.
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

/// Writes off the account's loss in the market (`crate::perp::bankruptcy::write_off` has the
/// rules): its settle deposit pays first, the market's insurance fund next, the pool's LPs the
/// rest. Permissionless.
///
/// Remaining accounts: the account's health accounts (`crate::health_accounts`).
pub fn handler(ctx: Context<ResolvePerpBankruptcy>) -> Result<()> {
    let accounts = &ctx.accounts;
    let group = accounts.group.load()?;
    let mut market = accounts.perp_market.load_mut()?;
    let mut bank = accounts.settle_bank.load_mut()?;
    let (now, _) = touch(&mut market, &group, &accounts.oracle, &mut bank)?;
    let mut account = accounts.account.load_mut()?;
    let (group_key, market_key) = (accounts.group.key(), accounts.perp_market.key());
    let report = compute_account_health(
        &account,
        &group_key,
        &group,
        ctx.remaining_accounts,
        now,
        Held {
            banks: &[LoadedBank { key: accounts.settle_bank.key(), bank: &bank }],
            perps: &[LoadedPerp { key: market_key, market: &market }],
        },
        Breakdown::PerPosition,
    )?;
    let totals = report.totals()?;
    let done = write_off(&group, &mut market, &mut bank, &mut account, &totals)?;
    emit!(PerpBankruptcyResolved {
        group: group_key,
        account: accounts.account.key(),
        perp_market: market_key,
        loss: done.loss,
        from_collateral: done.from_collateral,
        from_insurance: done.from_insurance,
        socialised: done.socialised,
        insurance_shares_after: market.insurance_deposit_shares,
        socialised_loss_total: market.socialised_loss,
    });
    Ok(())
}
