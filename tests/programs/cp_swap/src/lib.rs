//! `cp_swap`: a TEST-ONLY constant-product pool (x·y = k), so that the keeper's swap adapter
//! has a real on-chain venue in the LiteSVM tests and on the local validator. It is not a DEX:
//! no LP shares (the creator adds both sides and cannot take them back), no oracle, one pool per
//! account, classic SPL Token only. A real keeper swaps through a real venue (Jupiter, see
//! docs/KEEPER.md).
//!
//! A pool account (144 bytes, owned by this program, created zeroed by the client) names two
//! vaults: SPL token accounts of its two mints owned by the pool's authority, the PDA
//! `["authority", pool]`. The reserves are the vaults' balances.
//!
//! Instructions (first byte the tag, then little-endian arguments):
//! - `0 InitPool { fee_bps: u16 }`: `[pool (w, signer), mint_a, mint_b, vault_a, vault_b]`;
//! - `1 AddLiquidity { amount_a: u64, amount_b: u64 }`: `[pool, vault_a (w), vault_b (w),
//!   source_a (w), source_b (w), owner (signer), token_program]`;
//! - `2 Swap { amount_in: u64, min_amount_out: u64 }`: `[pool, authority, vault_in (w),
//!   vault_out (w), source (w), destination (w), owner (signer), token_program]`; the direction
//!   is whichever vault `vault_in` is. Pays [`math::amount_out`], refuses less than
//!   `min_amount_out` (`SlippageExceeded`).

pub mod math;
mod processor;

use solana_instruction::{AccountMeta, Instruction};
use solana_program_error::ProgramError;
use solana_pubkey::Pubkey;

pub use processor::process_instruction;

// The upstream SBF route links compiler builtins (memcpy, ...) from this crate, as cross_margin does.
#[cfg(target_arch = "bpf")]
use solana_compiler_builtins as _;

#[cfg(not(feature = "no-entrypoint"))]
solana_program_entrypoint::entrypoint!(process_instruction);

/// The program id: a fixed test address (no keypair; LiteSVM and the local validator's genesis
/// load the `.so` at it).
pub const ID: Pubkey = Pubkey::from_str_const("CPswapTest111111111111111111111111111111111");

/// SPL Token (the only token program the pool accepts).
pub const TOKEN_PROGRAM_ID: Pubkey =
    Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");

/// Custom error codes start here (far from Anchor's 6000+, so that no client mistakes one of
/// this program's errors for one of cross_margin's).
pub const ERROR_BASE: u32 = 0x4350_0000;

/// Why the pool refused an instruction (`ProgramError::Custom(ERROR_BASE + n)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum CpSwapError {
    InvalidInstruction = 0,
    FeeTooHigh,
    SameMint,
    PoolAlreadyInitialized,
    PoolNotInitialized,
    WrongPoolAccount,
    PoolNotSigner,
    WrongAuthority,
    VaultMismatch,
    NotATokenAccount,
    WrongTokenProgram,
    MissingSignature,
    ZeroAmount,
    ZeroOutput,
    EmptyPool,
    SlippageExceeded,
    MathOverflow,
}

impl CpSwapError {
    pub const ALL: [CpSwapError; 17] = [
        Self::InvalidInstruction,
        Self::FeeTooHigh,
        Self::SameMint,
        Self::PoolAlreadyInitialized,
        Self::PoolNotInitialized,
        Self::WrongPoolAccount,
        Self::PoolNotSigner,
        Self::WrongAuthority,
        Self::VaultMismatch,
        Self::NotATokenAccount,
        Self::WrongTokenProgram,
        Self::MissingSignature,
        Self::ZeroAmount,
        Self::ZeroOutput,
        Self::EmptyPool,
        Self::SlippageExceeded,
        Self::MathOverflow,
    ];

    pub fn code(self) -> u32 {
        ERROR_BASE + self as u32
    }

    /// The error a custom error code stands for, if it is one of this program's.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl From<CpSwapError> for ProgramError {
    fn from(error: CpSwapError) -> Self {
        ProgramError::Custom(error.code())
    }
}

/// The pool account's layout (hand-packed, fixed offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub fee_bps: u16,
    pub authority_bump: u8,
    pub mint_a: Pubkey,
    pub mint_b: Pubkey,
    pub vault_a: Pubkey,
    pub vault_b: Pubkey,
}

impl Pool {
    pub const LEN: usize = 144;
    pub const MAGIC: [u8; 8] = *b"cpswap01";

    pub fn pack(&self, data: &mut [u8]) -> Result<(), CpSwapError> {
        let data = data.get_mut(..Self::LEN).ok_or(CpSwapError::WrongPoolAccount)?;
        data[..8].copy_from_slice(&Self::MAGIC);
        data[8..10].copy_from_slice(&self.fee_bps.to_le_bytes());
        data[10] = self.authority_bump;
        data[11..16].fill(0);
        data[16..48].copy_from_slice(self.mint_a.as_ref());
        data[48..80].copy_from_slice(self.mint_b.as_ref());
        data[80..112].copy_from_slice(self.vault_a.as_ref());
        data[112..144].copy_from_slice(self.vault_b.as_ref());
        Ok(())
    }

    pub fn unpack(data: &[u8]) -> Result<Self, CpSwapError> {
        let data = data.get(..Self::LEN).ok_or(CpSwapError::WrongPoolAccount)?;
        if data[..8] != Self::MAGIC {
            return Err(CpSwapError::PoolNotInitialized);
        }
        let key =
            |at: usize| Pubkey::new_from_array(data[at..at + 32].try_into().unwrap_or([0; 32]));
        Ok(Self {
            fee_bps: u16::from_le_bytes([data[8], data[9]]),
            authority_bump: data[10],
            mint_a: key(16),
            mint_b: key(48),
            vault_a: key(80),
            vault_b: key(112),
        })
    }

    /// `(vault_in, vault_out, mint_out)` for a swap from `mint_in`, or `VaultMismatch`.
    pub fn direction(&self, mint_in: &Pubkey) -> Result<(Pubkey, Pubkey, Pubkey), CpSwapError> {
        if *mint_in == self.mint_a {
            Ok((self.vault_a, self.vault_b, self.mint_b))
        } else if *mint_in == self.mint_b {
            Ok((self.vault_b, self.vault_a, self.mint_a))
        } else {
            Err(CpSwapError::VaultMismatch)
        }
    }
}

/// The pool's vault authority: `["authority", pool]`.
pub fn authority(pool: &Pubkey) -> (Pubkey, u8) {
    Pubkey::find_program_address(&[b"authority", pool.as_ref()], &ID)
}

/// The fields of an SPL token account the pool reads (classic layout, 165 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAccount {
    pub mint: Pubkey,
    pub owner: Pubkey,
    pub amount: u64,
}

impl TokenAccount {
    pub const LEN: usize = 165;

    /// Reads an initialized token account, or `NotATokenAccount`.
    pub fn unpack(data: &[u8]) -> Result<Self, CpSwapError> {
        if data.len() != Self::LEN || data[108] != 1 {
            return Err(CpSwapError::NotATokenAccount);
        }
        let key =
            |at: usize| Pubkey::new_from_array(data[at..at + 32].try_into().unwrap_or([0; 32]));
        let amount = u64::from_le_bytes(data[64..72].try_into().unwrap_or([0; 8]));
        Ok(Self { mint: key(0), owner: key(32), amount })
    }
}

/// `InitPool`: the pool account must be created (144 zero bytes, owned by [`ID`]) and sign.
pub fn init_pool(
    pool: Pubkey,
    mint_a: Pubkey,
    mint_b: Pubkey,
    vault_a: Pubkey,
    vault_b: Pubkey,
    fee_bps: u16,
) -> Instruction {
    let mut data = vec![0];
    data.extend_from_slice(&fee_bps.to_le_bytes());
    let accounts = vec![
        AccountMeta::new(pool, true),
        AccountMeta::new_readonly(mint_a, false),
        AccountMeta::new_readonly(mint_b, false),
        AccountMeta::new_readonly(vault_a, false),
        AccountMeta::new_readonly(vault_b, false),
    ];
    Instruction { program_id: ID, accounts, data }
}

/// `AddLiquidity`: `owner` moves `amount_a` and `amount_b` from its token accounts into the
/// vaults (no shares: test liquidity).
pub fn add_liquidity(
    pool: Pubkey,
    state: &Pool,
    sources: (Pubkey, Pubkey),
    owner: Pubkey,
    amounts: (u64, u64),
) -> Instruction {
    let mut data = vec![1];
    data.extend_from_slice(&amounts.0.to_le_bytes());
    data.extend_from_slice(&amounts.1.to_le_bytes());
    let accounts = vec![
        AccountMeta::new_readonly(pool, false),
        AccountMeta::new(state.vault_a, false),
        AccountMeta::new(state.vault_b, false),
        AccountMeta::new(sources.0, false),
        AccountMeta::new(sources.1, false),
        AccountMeta::new_readonly(owner, true),
        AccountMeta::new_readonly(TOKEN_PROGRAM_ID, false),
    ];
    Instruction { program_id: ID, accounts, data }
}

/// `Swap`: `amount_in` of `mint_in` from `source` for at least `min_amount_out` of the other
/// mint into `destination`.
#[allow(clippy::too_many_arguments)]
pub fn swap(
    pool: Pubkey,
    state: &Pool,
    mint_in: &Pubkey,
    source: Pubkey,
    destination: Pubkey,
    owner: Pubkey,
    amount_in: u64,
    min_amount_out: u64,
) -> Result<Instruction, CpSwapError> {
    let (vault_in, vault_out, _) = state.direction(mint_in)?;
    let mut data = vec![2];
    data.extend_from_slice(&amount_in.to_le_bytes());
    data.extend_from_slice(&min_amount_out.to_le_bytes());
    let accounts = vec![
        AccountMeta::new_readonly(pool, false),
        AccountMeta::new_readonly(authority(&pool).0, false),
        AccountMeta::new(vault_in, false),
        AccountMeta::new(vault_out, false),
        AccountMeta::new(source, false),
        AccountMeta::new(destination, false),
        AccountMeta::new_readonly(owner, true),
        AccountMeta::new_readonly(TOKEN_PROGRAM_ID, false),
    ];
    Ok(Instruction { program_id: ID, accounts, data })
}
