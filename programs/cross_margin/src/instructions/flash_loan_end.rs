use anchor_lang::prelude::*;
use anchor_lang::solana_program::instruction::{get_stack_height, TRANSACTION_LEVEL_STACK_HEIGHT};

use crate::error::MarginError;
use crate::events::FlashLoanEnded;
use crate::health_accounts::{compute_account_health, Breakdown, Held};
use crate::state::{Group, MarginAccount};

#[derive(Accounts)]
pub struct FlashLoanEnd<'info> {
    pub group: AccountLoader<'info, Group>,
    /// Index [`crate::instructions::flash_loan_begin::FLASH_LOAN_END_ACCOUNT_INDEX`]: the begin
    /// finds its end by this account.
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = owner @ MarginError::NotAccountOwner,
    )]
    pub account: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
}

/// Closes the account's flash loan: init health at fresh prices must be at least 0 over every
/// position (`InitHealthNegative` otherwise, which reverts the whole transaction). Remaining
/// accounts: the health accounts of the account as the bracket left it (`borrow`'s layout).
/// The strict init weights apply, as for a borrow (not a withdrawal's exit weights).
pub fn handler(ctx: Context<FlashLoanEnd>) -> Result<()> {
    require_eq!(get_stack_height(), TRANSACTION_LEVEL_STACK_HEIGHT, MarginError::FlashLoanCpi);
    let mut account = ctx.accounts.account.load_mut()?;
    require!(account.is_in_flash_loan(), MarginError::FlashLoanNotActive);
    account.in_flash_loan = 0;
    let init_health = if account.has_risk() {
        let group = ctx.accounts.group.load()?;
        let report = compute_account_health(
            &account,
            &ctx.accounts.group.key(),
            &group,
            ctx.remaining_accounts,
            Clock::get()?.unix_timestamp,
            Held::default(),
            Breakdown::Totals,
        )?;
        require_gte!(report.health.init, 0, MarginError::InitHealthNegative);
        report.health.init
    } else {
        // Deposits only (or nothing): health cannot be negative, and no price is needed.
        0
    };
    emit!(FlashLoanEnded {
        group: account.group,
        account: ctx.accounts.account.key(),
        init_health,
    });
    Ok(())
}
