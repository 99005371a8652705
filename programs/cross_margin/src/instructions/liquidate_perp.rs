use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpLiquidation;
use crate::health_accounts::Breakdown;
use crate::instructions::perp_trade::{health_with, touch, HeldPerp};
use crate::perp::liquidation::{liquidate, PerpLiquidatee};
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

#[derive(Accounts)]
pub struct LiquidatePerp<'info> {
    pub group: AccountLoader<'info, Group>,
    /// The liquidator's own margin account: it receives the liquidation fee in the settle bank.
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = owner @ MarginError::NotAccountOwner,
    )]
    pub liquidator: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub liquidatee: AccountLoader<'info, MarginAccount>,
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

/// Loads the accounts, prices the liquidatee and runs one `crate::perp::liquidation::liquidate`
/// step, which has the rules: the position closes against the pool, so the liquidator needs no
/// capital, takes on no position and passes no health accounts of its own. No token moves.
///
/// Remaining accounts: the liquidatee's health accounts (`crate::health_accounts`).
pub fn handler(ctx: Context<LiquidatePerp>, max_base_lots: u64) -> Result<()> {
    let accounts = &ctx.accounts;
    require_keys_neq!(
        accounts.liquidator.key(),
        accounts.liquidatee.key(),
        MarginError::SelfLiquidation
    );
    require!(max_base_lots > 0, MarginError::ZeroAmount);
    let group = accounts.group.load()?;
    let mut market = accounts.perp_market.load_mut()?;
    let mut bank = accounts.settle_bank.load_mut()?;
    let (now, touched) = touch(&mut market, &group, &accounts.oracle, &mut bank)?;
    let mut liquidatee = accounts.liquidatee.load_mut()?;
    require!(!liquidatee.is_in_flash_loan(), MarginError::AccountInFlashLoan);
    let mut liquidator = accounts.liquidator.load_mut()?;

    let (group_key, market_key) = (accounts.group.key(), accounts.perp_market.key());
    let held =
        HeldPerp { bank: (accounts.settle_bank.key(), &*bank), market: (market_key, &*market) };
    let (group_ref, remaining) = ((&group_key, &*group), ctx.remaining_accounts);
    let report = health_with(&liquidatee, group_ref, remaining, now, held, Breakdown::PerPosition)?;
    let perp = report.perp.ok_or(MarginError::PerpNoPositionToLiquidate)?;
    let slot = report
        .perps
        .iter()
        .find(|p| p.market_index == market.market_index)
        .ok_or(MarginError::PerpNoPositionToLiquidate)?;
    let before = PerpLiquidatee { positions: &report.positions, perp: &perp, slot };
    let outcome = liquidate(
        &group,
        &mut market,
        &mut bank,
        &mut liquidatee,
        &mut liquidator,
        before,
        touched,
        max_base_lots,
    )?;

    emit!(PerpLiquidation {
        group: group_key,
        liquidator: accounts.liquidator.key(),
        liquidatee: accounts.liquidatee.key(),
        perp_market: market_key,
        base_lots_before: outcome.base_lots_before,
        base_lots_after: outcome.base_lots_after,
        oracle_price: outcome.oracle_price,
        quote_change: outcome.quote_change,
        liquidation_fee: outcome.liquidation_fee,
        insurance_fee: outcome.insurance_fee,
        maint_health_before: outcome.maint_health_before,
        maint_health_after: outcome.maint_health_after,
        end_target_after: outcome.end_target_after,
        still_being_liquidated: outcome.still_being_liquidated,
        bankrupt: outcome.bankrupt,
        long_lots_after: market.long_lots,
        short_lots_after: market.short_lots,
    });
    Ok(())
}
