use anchor_lang::prelude::*;

use crate::bankruptcy::can_write_off_account;
use crate::error::MarginError;
use crate::events::Liquidation;
use crate::health::PositionShares;
use crate::health_accounts::{compute_account_health, Breakdown, HealthReport, LoadedBank};
use crate::liquidation::{end_target, is_liquidatable, liquidation_amounts, LiquidationInputs};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount};

#[derive(Accounts)]
pub struct Liquidate<'info> {
    pub group: AccountLoader<'info, Group>,
    /// The liquidator's own margin account: it takes over the debt and receives the collateral.
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = owner @ MarginError::NotAccountOwner,
    )]
    pub liquidator: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub liquidatee: AccountLoader<'info, MarginAccount>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub liab_bank: AccountLoader<'info, Bank>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub asset_bank: AccountLoader<'info, Bank>,
}

/// See `crate::liquidation` for the maths. Everything moves between the two margin accounts;
/// no tokens leave the vaults, so a liquidator needs no tokens of its own, only enough init
/// health to carry the debt it takes over.
pub fn handler(ctx: Context<Liquidate>, max_liab_amount: u64) -> Result<()> {
    let accounts = &ctx.accounts;
    require_keys_neq!(
        accounts.liquidator.key(),
        accounts.liquidatee.key(),
        MarginError::SelfLiquidation
    );
    require_keys_neq!(
        accounts.liab_bank.key(),
        accounts.asset_bank.key(),
        MarginError::LiquidationSameBank
    );
    require!(max_liab_amount > 0, MarginError::ZeroAmount);
    let group = accounts.group.load()?;
    require!(!group.is_paused(), MarginError::GroupPaused);
    let now = Clock::get()?.unix_timestamp;

    let mut liab_bank = accounts.liab_bank.load_mut()?;
    let mut asset_bank = accounts.asset_bank.load_mut()?;
    liab_bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    asset_bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    let mut liquidatee = accounts.liquidatee.load_mut()?;
    let mut liquidator = accounts.liquidator.load_mut()?;

    // The liquidatee's health before, with every position priced.
    let split = 2 * liquidatee.active_count();
    require_gte!(ctx.remaining_accounts.len(), split, MarginError::HealthAccountsMissing);
    let (liquidatee_accounts, liquidator_accounts) = ctx.remaining_accounts.split_at(split);
    let before = {
        let loaded = [
            LoadedBank { key: accounts.liab_bank.key(), bank: &liab_bank },
            LoadedBank { key: accounts.asset_bank.key(), bank: &asset_bank },
        ];
        compute_account_health(
            &liquidatee,
            &accounts.group.key(),
            &group,
            liquidatee_accounts,
            now,
            &loaded,
            Breakdown::PerPosition,
        )?
    };
    // An account whose debt may be written off is left to `resolve_bankruptcy`. Judged at
    // current prices, not by the flag alone: a flagged account whose collateral came back (a
    // deposit, a price) must be liquidatable again.
    let dust = group.bankruptcy_dust_quote;
    let totals_before = before.totals()?;
    require!(
        !can_write_off_account(&totals_before, liquidatee.bankrupt != 0, dust),
        MarginError::AccountBankrupt
    );
    let liab = before.position(&accounts.liab_bank.key());
    let liab = liab.filter(|p| matches!(p.shares, PositionShares::Borrow(_)));
    let liab = *liab.ok_or(MarginError::LiquidationLiabNotBorrow)?;
    let asset = before.position(&accounts.asset_bank.key());
    let asset = asset.filter(|p| matches!(p.shares, PositionShares::Deposit(_)));
    let asset = *asset.ok_or(MarginError::LiquidationAssetNotDeposit)?;

    let buffer = group.liquidation_end_buffer_bps;
    let target_before = end_target(totals_before.maint_weighted_liabs, buffer);
    require!(
        is_liquidatable(before.health.maint, target_before, liquidatee.being_liquidated != 0),
        MarginError::NotLiquidatable
    );

    let amounts = liquidation_amounts(&LiquidationInputs {
        maint_health: before.health.maint,
        maint_weighted_liabs: totals_before.maint_weighted_liabs,
        end_buffer_bps: buffer,
        liab_price: liab.risk.liab_price,
        liab_maint_weight_bps: liab_bank.config.maint_liab_weight_bps,
        asset_price: asset.risk.asset_price,
        asset_maint_weight_bps: asset_bank.config.maint_asset_weight_bps,
        liquidation_fee_bps: asset_bank.config.liquidation_fee_bps,
        insurance_fee_bps: asset_bank.config.insurance_fee_bps,
        liab_owed: liab.health.native,
        asset_available: asset.health.native,
        max_liab_amount,
    })
    .map_err(|_| MarginError::MathOverflow)?;
    require!(
        amounts.liab > 0 && amounts.asset_to_liquidator > 0,
        MarginError::LiquidationAmountZero
    );

    // Move the debt and the collateral between the two accounts.
    positions::move_liquidated(
        &mut liquidatee,
        &mut liquidator,
        &mut liab_bank,
        &mut asset_bank,
        &amounts,
    )?;

    // The liquidatee after, at the same prices.
    let after = reprice(&before, &liquidatee, &[&liab_bank, &asset_bank])?;
    let liab_gone = positions::borrow_native(&liquidatee, &liab_bank)? == 0;
    require!(
        after.health.maint > before.health.maint || liab_gone,
        MarginError::LiquidationDidNotImprove
    );
    let totals_after = after.totals()?;
    let target_after = end_target(totals_after.maint_weighted_liabs, buffer);
    let still_liquidating = after.health.maint < target_after;
    liquidatee.being_liquidated = still_liquidating as u8;
    // After a liquidation the flag is set only when the step leaves the account insolvent.
    let bankrupt = can_write_off_account(&totals_after, false, dust);
    liquidatee.bankrupt = bankrupt as u8;

    // The liquidator must be able to carry what it took over.
    let liquidator_health = {
        let loaded = [
            LoadedBank { key: accounts.liab_bank.key(), bank: &liab_bank },
            LoadedBank { key: accounts.asset_bank.key(), bank: &asset_bank },
        ];
        compute_account_health(
            &liquidator,
            &accounts.group.key(),
            &group,
            liquidator_accounts,
            now,
            &loaded,
            Breakdown::Totals,
        )?
    };
    require_gte!(liquidator_health.health.init, 0, MarginError::LiquidatorInitHealthNegative);

    emit!(Liquidation {
        group: accounts.group.key(),
        liquidator: accounts.liquidator.key(),
        liquidatee: accounts.liquidatee.key(),
        liab_bank: accounts.liab_bank.key(),
        asset_bank: accounts.asset_bank.key(),
        liab_amount: amounts.liab,
        asset_to_liquidator: amounts.asset_to_liquidator,
        asset_to_insurance: amounts.asset_to_insurance,
        liab_price: liab.risk.liab_price,
        asset_price: asset.risk.asset_price,
        maint_health_before: before.health.maint,
        maint_health_after: after.health.maint,
        end_target_after: target_after,
        still_being_liquidated: still_liquidating,
        bankrupt,
        liquidator_init_health_after: liquidator_health.health.init,
    });
    Ok(())
}

/// The account's health at the prices of `before`, with its current shares and the current
/// indices of the banks the instruction changed.
fn reprice(
    before: &HealthReport,
    account: &MarginAccount,
    changed: &[&Bank],
) -> Result<HealthReport> {
    let mut after = HealthReport {
        positions: Vec::with_capacity(before.positions.len()),
        ..HealthReport::default()
    };
    for priced in &before.positions {
        let Some(slot) = account.find(priced.bank_index) else { continue };
        let Some(shares) = account.positions[slot].shares() else { continue };
        let mut risk = priced.risk;
        if let Some(bank) = changed.iter().find(|b| b.bank_index == priced.bank_index) {
            risk.deposit_index = bank.deposit_index();
            risk.borrow_index = bank.borrow_index();
        }
        let health = risk.position_health(shares).map_err(|_| MarginError::MathOverflow)?;
        after.health.add(&health).map_err(|_| MarginError::MathOverflow)?;
        after.positions.push(crate::health_accounts::PricedPosition {
            shares,
            health,
            risk,
            ..*priced
        });
    }
    Ok(after)
}
