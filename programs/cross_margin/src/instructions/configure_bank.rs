use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::BankConfigured;
use crate::state::{Bank, BankConfig, Group};

#[derive(Accounts)]
pub struct ConfigureBank<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub bank: AccountLoader<'info, Bank>,
    /// CHECK: validated as a price account of the configured kind and feed in the handler; it
    /// becomes the bank's pinned oracle.
    pub oracle: UncheckedAccount<'info>,
}

/// Replaces the bank's whole configuration (and pinned oracle). Interest is accrued first, so
/// the old rates apply up to now.
pub fn handler(ctx: Context<ConfigureBank>, config: BankConfig) -> Result<()> {
    config.validate()?;
    let group = ctx.accounts.group.load()?;
    config.validate_oracle(&group, &ctx.accounts.oracle)?;
    let mut bank = ctx.accounts.bank.load_mut()?;
    bank.accrue_interest(Clock::get()?.unix_timestamp).map_err(|_| MarginError::MathOverflow)?;
    config.apply(&mut bank, ctx.accounts.oracle.key());
    emit!(BankConfigured { group: bank.group, bank: ctx.accounts.bank.key(), oracle: bank.oracle });
    Ok(())
}
