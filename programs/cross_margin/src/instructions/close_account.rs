use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::AccountClosed;
use crate::state::MarginAccount;

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
pub fn handler(ctx: Context<CloseAccount>) -> Result<()> {
    let account = ctx.accounts.account.load()?;
    require!(account.is_empty(), MarginError::AccountNotEmpty);
    emit!(AccountClosed {
        group: account.group,
        account: ctx.accounts.account.key(),
        owner: account.owner,
    });
    Ok(())
}
