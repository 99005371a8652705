//! A test-only program: invokes the program given as its first account with its own instruction
//! data and the remaining accounts (signer and writable flags kept). The tests use it to call
//! `cross_margin` instructions through CPI, which `flash_loan_begin` must refuse.

use solana_account_info::AccountInfo;
use solana_instruction::{AccountMeta, Instruction};
use solana_program_error::{ProgramError, ProgramResult};
use solana_pubkey::Pubkey;

// The upstream SBF route links compiler builtins (memcpy, ...) from this crate, as cross_margin does.
#[cfg(target_arch = "bpf")]
use solana_compiler_builtins as _;

#[cfg(not(feature = "no-entrypoint"))]
solana_program_entrypoint::entrypoint!(process_instruction);

pub fn process_instruction(
    _program_id: &Pubkey,
    accounts: &[AccountInfo],
    data: &[u8],
) -> ProgramResult {
    let (target, rest) = accounts.split_first().ok_or(ProgramError::NotEnoughAccountKeys)?;
    let metas = rest
        .iter()
        .map(|a| AccountMeta { pubkey: *a.key, is_signer: a.is_signer, is_writable: a.is_writable })
        .collect();
    let instruction = Instruction { program_id: *target.key, accounts: metas, data: data.to_vec() };
    solana_cpi::invoke(&instruction, accounts)
}
