//! The three instructions. Every account is checked (owner, vault and mint identity, signer)
//! and every refusal is a named [`CpSwapError`].

use solana_account_info::AccountInfo;
use solana_instruction::{AccountMeta, Instruction};
use solana_program_error::{ProgramError, ProgramResult};
use solana_pubkey::Pubkey;

use crate::{math, CpSwapError, Pool, TokenAccount, TOKEN_PROGRAM_ID};

pub fn process_instruction(
    program_id: &Pubkey,
    accounts: &[AccountInfo],
    data: &[u8],
) -> ProgramResult {
    let (&tag, args) = data.split_first().ok_or(CpSwapError::InvalidInstruction)?;
    match tag {
        0 => init_pool(program_id, accounts, u16::from_le_bytes(arg(args, 0)?)),
        1 => add_liquidity(
            program_id,
            accounts,
            u64::from_le_bytes(arg(args, 0)?),
            u64::from_le_bytes(arg(args, 8)?),
        ),
        2 => swap(
            program_id,
            accounts,
            u64::from_le_bytes(arg(args, 0)?),
            u64::from_le_bytes(arg(args, 8)?),
        ),
        _ => Err(CpSwapError::InvalidInstruction.into()),
    }
}

fn arg<const N: usize>(args: &[u8], at: usize) -> Result<[u8; N], CpSwapError> {
    args.get(at..at + N)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(CpSwapError::InvalidInstruction)
}

fn accounts<'a, 'info, const N: usize>(
    accounts: &'a [AccountInfo<'info>],
) -> Result<&'a [AccountInfo<'info>; N], ProgramError> {
    accounts.get(..N).and_then(|a| a.try_into().ok()).ok_or(ProgramError::NotEnoughAccountKeys)
}

/// A token account of the SPL Token program.
fn token_account(info: &AccountInfo) -> Result<TokenAccount, ProgramError> {
    if *info.owner != TOKEN_PROGRAM_ID {
        return Err(CpSwapError::NotATokenAccount.into());
    }
    Ok(TokenAccount::unpack(&info.try_borrow_data()?)?)
}

/// The pool, initialized and owned by this program.
fn pool(program_id: &Pubkey, info: &AccountInfo) -> Result<Pool, ProgramError> {
    if info.owner != program_id {
        return Err(CpSwapError::WrongPoolAccount.into());
    }
    Ok(Pool::unpack(&info.try_borrow_data()?)?)
}

fn init_pool(program_id: &Pubkey, accounts_in: &[AccountInfo], fee_bps: u16) -> ProgramResult {
    let [pool_info, mint_a, mint_b, vault_a, vault_b] = accounts(accounts_in)?;
    if u64::from(fee_bps) >= math::BPS {
        return Err(CpSwapError::FeeTooHigh.into());
    }
    if pool_info.owner != program_id || pool_info.data_len() != Pool::LEN {
        return Err(CpSwapError::WrongPoolAccount.into());
    }
    if !pool_info.is_signer {
        return Err(CpSwapError::PoolNotSigner.into());
    }
    if pool_info.try_borrow_data()?[..8] == Pool::MAGIC {
        return Err(CpSwapError::PoolAlreadyInitialized.into());
    }
    if mint_a.key == mint_b.key {
        return Err(CpSwapError::SameMint.into());
    }
    let (authority, bump) =
        Pubkey::find_program_address(&[b"authority", pool_info.key.as_ref()], program_id);
    for (vault, mint) in [(vault_a, mint_a), (vault_b, mint_b)] {
        let state = token_account(vault)?;
        if state.mint != *mint.key {
            return Err(CpSwapError::VaultMismatch.into());
        }
        if state.owner != authority {
            return Err(CpSwapError::WrongAuthority.into());
        }
    }
    let state = Pool {
        fee_bps,
        authority_bump: bump,
        mint_a: *mint_a.key,
        mint_b: *mint_b.key,
        vault_a: *vault_a.key,
        vault_b: *vault_b.key,
    };
    state.pack(&mut pool_info.try_borrow_mut_data()?)?;
    Ok(())
}

fn add_liquidity(
    program_id: &Pubkey,
    accounts_in: &[AccountInfo],
    amount_a: u64,
    amount_b: u64,
) -> ProgramResult {
    let [pool_info, vault_a, vault_b, source_a, source_b, owner, token_program] =
        accounts(accounts_in)?;
    let state = pool(program_id, pool_info)?;
    if *vault_a.key != state.vault_a || *vault_b.key != state.vault_b {
        return Err(CpSwapError::VaultMismatch.into());
    }
    if amount_a == 0 || amount_b == 0 {
        return Err(CpSwapError::ZeroAmount.into());
    }
    if !owner.is_signer {
        return Err(CpSwapError::MissingSignature.into());
    }
    transfer(token_program, source_a, vault_a, owner, amount_a, &[])?;
    transfer(token_program, source_b, vault_b, owner, amount_b, &[])
}

fn swap(
    program_id: &Pubkey,
    accounts_in: &[AccountInfo],
    amount_in: u64,
    min_amount_out: u64,
) -> ProgramResult {
    let [pool_info, authority, vault_in, vault_out, source, destination, owner, token_program] =
        accounts(accounts_in)?;
    let state = pool(program_id, pool_info)?;
    let forward = (*vault_in.key, *vault_out.key) == (state.vault_a, state.vault_b);
    let backward = (*vault_in.key, *vault_out.key) == (state.vault_b, state.vault_a);
    if !forward && !backward {
        return Err(CpSwapError::VaultMismatch.into());
    }
    let seeds: &[&[u8]] = &[b"authority", pool_info.key.as_ref(), &[state.authority_bump]];
    let expected = Pubkey::create_program_address(seeds, program_id)
        .map_err(|_| CpSwapError::WrongAuthority)?;
    if *authority.key != expected {
        return Err(CpSwapError::WrongAuthority.into());
    }
    if !owner.is_signer {
        return Err(CpSwapError::MissingSignature.into());
    }
    let reserve_in = token_account(vault_in)?.amount;
    let reserve_out = token_account(vault_out)?.amount;
    let out = math::amount_out(reserve_in, reserve_out, amount_in, state.fee_bps)?;
    if out < min_amount_out {
        return Err(CpSwapError::SlippageExceeded.into());
    }
    transfer(token_program, source, vault_in, owner, amount_in, &[])?;
    transfer(token_program, vault_out, destination, authority, out, &[seeds])
}

/// SPL Token `Transfer` (instruction 3) by CPI, signed by `authority` (a PDA with `seeds`).
fn transfer<'a>(
    token_program: &AccountInfo<'a>,
    from: &AccountInfo<'a>,
    to: &AccountInfo<'a>,
    authority: &AccountInfo<'a>,
    amount: u64,
    seeds: &[&[&[u8]]],
) -> ProgramResult {
    if *token_program.key != TOKEN_PROGRAM_ID {
        return Err(CpSwapError::WrongTokenProgram.into());
    }
    let mut data = vec![3];
    data.extend_from_slice(&amount.to_le_bytes());
    let instruction = Instruction {
        program_id: TOKEN_PROGRAM_ID,
        accounts: vec![
            AccountMeta::new(*from.key, false),
            AccountMeta::new(*to.key, false),
            AccountMeta::new_readonly(*authority.key, true),
        ],
        data,
    };
    let infos = [from.clone(), to.clone(), authority.clone(), token_program.clone()];
    solana_cpi::invoke_signed(&instruction, &infos, seeds)
}
