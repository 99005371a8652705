use anchor_lang::prelude::*;
use anchor_lang::solana_program::instruction::{get_stack_height, TRANSACTION_LEVEL_STACK_HEIGHT};
use solana_instructions_sysvar::{load_current_index_checked, load_instruction_at_checked};

use crate::error::MarginError;
use crate::events::FlashLoanBegun;
use crate::state::MarginAccount;

#[derive(Accounts)]
pub struct FlashLoanBegin<'info> {
    #[account(mut, has_one = owner @ MarginError::NotAccountOwner)]
    pub account: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
    /// CHECK: the instructions sysvar (address checked), read by introspection.
    #[account(address = solana_instructions_sysvar::ID @ MarginError::WrongInstructionsSysvar)]
    pub instructions: UncheckedAccount<'info>,
}

/// Index of `account` among `flash_loan_end`'s accounts (`group`, `account`, `owner`).
pub const FLASH_LOAN_END_ACCOUNT_INDEX: usize = 1;

/// Opens a flash loan on the account: until the `flash_loan_end` of the same account, later in
/// this transaction, its borrows, withdrawals and liquidations skip their init-health check;
/// `flash_loan_end` checks init health once over every position.
///
/// Refused, changing nothing, when called through CPI (`FlashLoanCpi`), when the account is
/// already in a flash loan or another `flash_loan_begin` comes before the next
/// `flash_loan_end` (`FlashLoanNested`), when no `flash_loan_end` follows (`FlashLoanEndMissing`)
/// or when the next one is for another account (`FlashLoanEndAccountMismatch`). Because the end
/// is a top-level instruction of the same transaction, the flag never outlives it: if the end
/// fails, everything reverts.
pub fn handler(ctx: Context<FlashLoanBegin>) -> Result<()> {
    require_eq!(get_stack_height(), TRANSACTION_LEVEL_STACK_HEIGHT, MarginError::FlashLoanCpi);
    let mut account = ctx.accounts.account.load_mut()?;
    require!(!account.is_in_flash_loan(), MarginError::FlashLoanNested);

    let sysvar = ctx.accounts.instructions.to_account_info();
    let current = load_current_index_checked(&sysvar)? as usize;
    let end_index = next_flash_loan_end(&sysvar, current, &ctx.accounts.account.key())?;

    account.in_flash_loan = 1;
    emit!(FlashLoanBegun {
        group: account.group,
        account: ctx.accounts.account.key(),
        owner: account.owner,
        begin_index: current as u16,
        end_index: end_index as u16,
    });
    Ok(())
}

/// The index of the first instruction after `current` that is this program's `flash_loan_begin`
/// or `flash_loan_end`: it must be an end, and for `account`.
fn next_flash_loan_end(sysvar: &AccountInfo, current: usize, account: &Pubkey) -> Result<usize> {
    let mut index = current + 1;
    loop {
        // Past the last instruction the sysvar reports an error: no end follows.
        let Ok(instruction) = load_instruction_at_checked(index, sysvar) else {
            return err!(MarginError::FlashLoanEndMissing);
        };
        if instruction.program_id == crate::ID {
            let discriminator = instruction.data.get(..8).unwrap_or_default();
            if discriminator == crate::instruction::FlashLoanBegin::DISCRIMINATOR {
                return err!(MarginError::FlashLoanNested);
            }
            if discriminator == crate::instruction::FlashLoanEnd::DISCRIMINATOR {
                let end_account =
                    instruction.accounts.get(FLASH_LOAN_END_ACCOUNT_INDEX).map(|meta| meta.pubkey);
                require!(end_account == Some(*account), MarginError::FlashLoanEndAccountMismatch);
                return Ok(index);
            }
        }
        index += 1;
    }
}
