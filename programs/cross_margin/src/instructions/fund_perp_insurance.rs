use anchor_lang::prelude::*;
use anchor_spl::token_interface::{TokenAccount, TokenInterface};

use crate::error::MarginError;
use crate::events::PerpInsuranceFunded;
use crate::math::{div_q64, Round};
use crate::state::{Bank, Group, PerpMarket};

#[derive(Accounts)]
pub struct FundPerpInsurance<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = settle_bank @ MarginError::InvalidSettleBank,
    )]
    pub perp_market: AccountLoader<'info, PerpMarket>,
    #[account(
        mut,
        has_one = vault @ MarginError::WrongVault,
        has_one = mint @ MarginError::WrongMint,
        has_one = token_program @ MarginError::WrongTokenProgram,
    )]
    pub settle_bank: AccountLoader<'info, Bank>,
    /// CHECK: must be `settle_bank.vault` (checked above); the token program checks the rest.
    #[account(mut)]
    pub vault: UncheckedAccount<'info>,
    /// CHECK: must be `settle_bank.mint` (checked above).
    pub mint: UncheckedAccount<'info>,
    /// The admin's token account the tokens come from.
    #[account(mut, constraint = source.mint == mint.key() @ MarginError::WrongMint)]
    pub source: Box<InterfaceAccount<'info, TokenAccount>>,
    pub token_program: Interface<'info, TokenInterface>,
}

/// Tops up the perp market's insurance fund with `amount` settle tokens from the admin: they
/// join the settle bank's vault as deposit shares held by the market
/// (`floor(amount / deposit index)`, so the deposits never exceed what the vault gained).
pub fn handler(ctx: Context<FundPerpInsurance>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    require_gte!(ctx.accounts.source.amount, amount, MarginError::InsufficientTokenBalance);
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    bank.accrue_interest(Clock::get()?.unix_timestamp).map_err(|_| MarginError::MathOverflow)?;
    let shares = div_q64(amount, bank.deposit_index(), Round::Down)
        .map_err(|_| MarginError::MathOverflow)?;
    require!(shares > 0, MarginError::AmountTooSmall);
    let mut market = ctx.accounts.perp_market.load_mut()?;
    market.insurance_deposit_shares =
        market.insurance_deposit_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;
    bank.total_deposit_shares =
        bank.total_deposit_shares.checked_add(shares).ok_or(MarginError::MathOverflow)?;
    crate::token::transfer_to_vault(
        &ctx.accounts.token_program.to_account_info(),
        &ctx.accounts.source.to_account_info(),
        &ctx.accounts.vault.to_account_info(),
        &ctx.accounts.mint.to_account_info(),
        &ctx.accounts.admin.to_account_info(),
        amount,
        bank.decimals,
    )?;
    emit!(PerpInsuranceFunded {
        group: market.group,
        perp_market: ctx.accounts.perp_market.key(),
        amount,
        insurance_shares_after: market.insurance_deposit_shares,
    });
    Ok(())
}
