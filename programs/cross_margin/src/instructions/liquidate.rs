use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::Liquidation;
use crate::health_accounts::{compute_account_health, Breakdown, LoadedBank};
use crate::liquidation::{self, StepAccounts};
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

/// Loads the accounts, prices the liquidatee and runs one `crate::liquidation::step`, which has
/// the rules. Everything moves between the two margin accounts; no tokens leave the vaults, so a
/// liquidator needs no tokens of its own, only enough init health to carry the debt it takes
/// over, or, inside its flash loan, enough by `flash_loan_end` (after it sold the collateral and
/// repaid). A liquidatee inside a flash loan is refused (`AccountInFlashLoan`).
pub fn handler(ctx: Context<Liquidate>, max_liab_amount: u64, liquidatee_pairs: u8) -> Result<()> {
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
    let now = Clock::get()?.unix_timestamp;
    let (group_key, liab_key, asset_key) =
        (accounts.group.key(), accounts.liab_bank.key(), accounts.asset_bank.key());

    let mut liab_bank = accounts.liab_bank.load_mut()?;
    let mut asset_bank = accounts.asset_bank.load_mut()?;
    liab_bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    asset_bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    let mut liquidatee = accounts.liquidatee.load_mut()?;
    let mut liquidator = accounts.liquidator.load_mut()?;
    require!(!liquidatee.is_in_flash_loan(), MarginError::AccountInFlashLoan);
    // Inside the liquidator's flash loan its init-health check moves to `flash_loan_end`, and
    // its health accounts may be left out.
    let liquidator_deferred = liquidator.is_in_flash_loan();

    // Health accounts: the liquidatee's positions before (`liquidatee_pairs` pairs, so that a
    // position it opened or closed in this slot cannot shift the liquidator's), then the
    // liquidator's after.
    let split = 2 * liquidatee_pairs as usize;
    require_gte!(ctx.remaining_accounts.len(), split, MarginError::HealthAccountsMissing);
    let (liquidatee_accounts, liquidator_accounts) = ctx.remaining_accounts.split_at(split);
    let before = compute_account_health(
        &liquidatee,
        &group_key,
        &group,
        liquidatee_accounts,
        now,
        crate::health_accounts::Held {
            banks: &loaded([liab_key, asset_key], &liab_bank, &asset_bank),
            perps: &[],
            shocks: Default::default(),
        },
        Breakdown::PerPosition,
    )?;
    let outcome = liquidation::step(
        &group,
        StepAccounts {
            liquidatee: &mut liquidatee,
            liquidator: &mut liquidator,
            liab_bank: &mut liab_bank,
            asset_bank: &mut asset_bank,
        },
        &before.positions,
        before.perp.as_ref(),
        max_liab_amount,
        |liquidator, liab_bank, asset_bank| -> Result<_> {
            if liquidator_deferred {
                return Ok(None);
            }
            let report = compute_account_health(
                liquidator,
                &group_key,
                &group,
                liquidator_accounts,
                now,
                crate::health_accounts::Held {
                    banks: &loaded([liab_key, asset_key], liab_bank, asset_bank),
                    perps: &[],
                    shocks: Default::default(),
                },
                Breakdown::Totals,
            )?;
            Ok(Some(report.health))
        },
    )?;

    emit!(Liquidation {
        group: group_key,
        liquidator: accounts.liquidator.key(),
        liquidatee: accounts.liquidatee.key(),
        liab_bank: liab_key,
        asset_bank: asset_key,
        liab_amount: outcome.amounts.liab,
        asset_to_liquidator: outcome.amounts.asset_to_liquidator,
        asset_to_insurance: outcome.amounts.asset_to_insurance,
        liab_price: outcome.liab_price,
        asset_price: outcome.asset_price,
        maint_health_before: outcome.maint_health_before,
        maint_health_after: outcome.maint_health_after,
        end_target_after: outcome.end_target_after,
        still_being_liquidated: outcome.still_being_liquidated,
        bankrupt: outcome.bankrupt,
        liquidator_init_health_after: outcome.liquidator_init_health_after,
    });
    Ok(())
}

/// The pair of banks the instruction holds, for the health checks.
fn loaded<'a>(keys: [Pubkey; 2], liab_bank: &'a Bank, asset_bank: &'a Bank) -> [LoadedBank<'a>; 2] {
    [LoadedBank { key: keys[0], bank: liab_bank }, LoadedBank { key: keys[1], bank: asset_bank }]
}
