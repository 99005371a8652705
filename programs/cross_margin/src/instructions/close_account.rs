use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::AccountClosed;
use crate::positions;
use crate::state::{Bank, MarginAccount};

#[derive(Accounts)]
pub struct CloseAccount<'info> {
    #[account(
        mut,
        has_one = owner @ MarginError::NotAccountOwner,
        close = owner,
    )]
    pub account: AccountLoader<'info, MarginAccount>,
    /// Receives the rent.
    #[account(mut)]
    pub owner: Signer<'info>,
}

/// Closes an account with no open positions and refunds its rent to the owner.
///
/// Deposits worth zero native units (shares left after a socialized loss lowered the deposit
/// index below one) cannot be withdrawn, since a withdrawal is of at least one unit; they are
/// burned here instead. Remaining accounts: none for an empty account, otherwise the bank
/// (writable) of every position still open, in slot order, each accrued first; every such
/// position must be a deposit worth zero (`AccountNotEmpty` otherwise).
pub fn handler(ctx: Context<CloseAccount>) -> Result<()> {
    let mut account = ctx.accounts.account.load_mut()?;
    require!(!account.is_in_flash_loan(), MarginError::AccountInFlashLoan);
    if !ctx.remaining_accounts.is_empty() {
        burn_worthless_deposits(&mut account, ctx.remaining_accounts)?;
    }
    require!(account.is_empty() && !account.has_perps(), MarginError::AccountNotEmpty);
    emit!(AccountClosed {
        group: account.group,
        account: ctx.accounts.account.key(),
        owner: account.owner,
    });
    Ok(())
}

fn burn_worthless_deposits<'info>(
    account: &mut MarginAccount,
    banks: &'info [AccountInfo<'info>],
) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    require_eq!(banks.len(), account.active_count(), MarginError::CloseAccountBankMismatch);
    let slots: Vec<u16> = account.active_positions().map(|p| p.bank_index).collect();
    for (bank_index, info) in slots.into_iter().zip(banks) {
        let loader = AccountLoader::<Bank>::try_from(info)?;
        let mut bank = loader.load_mut()?;
        require_keys_eq!(bank.group, account.group, MarginError::WrongGroup);
        require_eq!(bank.bank_index, bank_index, MarginError::CloseAccountBankMismatch);
        bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
        positions::burn_worthless_deposit(account, &mut bank)?;
    }
    Ok(())
}
