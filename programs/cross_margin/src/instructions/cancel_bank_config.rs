use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::BankConfigChangeCancelled;
use crate::state::{Bank, Group};

#[derive(Accounts)]
pub struct CancelBankConfig<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub bank: AccountLoader<'info, Bank>,
}

/// Withdraws the bank's queued change (the admin, at any time before it is applied).
pub fn handler(ctx: Context<CancelBankConfig>) -> Result<()> {
    let mut bank = ctx.accounts.bank.load_mut()?;
    require!(bank.pending.is_queued(), MarginError::NoConfigChangeQueued);
    bank.pending = bytemuck::Zeroable::zeroed();
    emit!(BankConfigChangeCancelled { group: bank.group, bank: ctx.accounts.bank.key() });
    Ok(())
}
