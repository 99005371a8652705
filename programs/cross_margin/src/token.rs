//! Token movements between users and bank vaults (SPL Token or Token-2022, `transfer_checked`).

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{transfer_checked, TransferChecked};

use crate::constants::BANK_SEED;
use crate::state::Bank;

/// User → vault, signed by the user.
pub fn transfer_to_vault<'info>(
    token_program: &AccountInfo<'info>,
    from: &AccountInfo<'info>,
    vault: &AccountInfo<'info>,
    mint: &AccountInfo<'info>,
    authority: &AccountInfo<'info>,
    amount: u64,
    decimals: u8,
) -> Result<()> {
    let accounts = TransferChecked {
        from: from.clone(),
        mint: mint.clone(),
        to: vault.clone(),
        authority: authority.clone(),
    };
    transfer_checked(CpiContext::new(*token_program.key, accounts), amount, decimals)
}

/// Vault → user, signed by the bank PDA (the vault's authority).
pub fn transfer_from_vault<'info>(
    bank: &Bank,
    bank_info: &AccountInfo<'info>,
    token_program: &AccountInfo<'info>,
    vault: &AccountInfo<'info>,
    to: &AccountInfo<'info>,
    mint: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    let bump = [bank.bump];
    let seeds: &[&[u8]] = &[BANK_SEED, bank.group.as_ref(), bank.mint.as_ref(), &bump];
    let signer = &[seeds];
    let accounts = TransferChecked {
        from: vault.clone(),
        mint: mint.clone(),
        to: to.clone(),
        authority: bank_info.clone(),
    };
    transfer_checked(
        CpiContext::new_with_signer(*token_program.key, accounts, signer),
        amount,
        bank.decimals,
    )
}
