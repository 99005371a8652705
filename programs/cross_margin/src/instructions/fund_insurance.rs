use anchor_lang::prelude::*;
use anchor_spl::token_interface::{TokenAccount, TokenInterface};

use crate::error::MarginError;
use crate::events::InsuranceFunded;
use crate::state::{Bank, Group};

#[derive(Accounts)]
pub struct FundInsurance<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = vault @ MarginError::WrongVault,
        has_one = mint @ MarginError::WrongMint,
        has_one = token_program @ MarginError::WrongTokenProgram,
    )]
    pub bank: AccountLoader<'info, Bank>,
    /// CHECK: must be `bank.vault` (checked above); the token program checks the rest.
    #[account(mut)]
    pub vault: UncheckedAccount<'info>,
    /// CHECK: must be `bank.mint` (checked above).
    pub mint: UncheckedAccount<'info>,
    /// The admin's token account the tokens come from.
    #[account(mut, constraint = source.mint == mint.key() @ MarginError::WrongMint)]
    pub source: Box<InterfaceAccount<'info, TokenAccount>>,
    pub token_program: Interface<'info, TokenInterface>,
}

/// Tops up the bank's insurance fund with `amount` native tokens from the admin. The fund sits
/// in the bank's vault as `Bank::insurance_native`, readable by anyone. Accrues the bank first,
/// like every instruction that writes a bank.
pub fn handler(ctx: Context<FundInsurance>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    require_gte!(ctx.accounts.source.amount, amount, MarginError::InsufficientTokenBalance);
    let mut bank = ctx.accounts.bank.load_mut()?;
    bank.accrue_interest(Clock::get()?.unix_timestamp).map_err(|_| MarginError::MathOverflow)?;
    bank.insurance_native =
        bank.insurance_native.checked_add(amount).ok_or(MarginError::MathOverflow)?;
    crate::token::transfer_to_vault(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.source.to_account_info(),
        &ctx.accounts.vault.to_account_info(),
        &ctx.accounts.mint.to_account_info(),
        &ctx.accounts.admin.to_account_info(),
        amount,
        bank.decimals,
    )?;
    emit!(InsuranceFunded {
        group: bank.group,
        bank: ctx.accounts.bank.key(),
        amount,
        insurance_after: bank.insurance_native,
    });
    Ok(())
}
