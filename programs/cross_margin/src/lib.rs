//! Cross-margin lending and liquidation protocol.
//!
//! This file is only the table of contents: every instruction lives in its own file under
//! `instructions/` (accounts struct + handler), account layouts under `state/`.

use anchor_lang::prelude::*;

pub mod constants;
pub mod error;
pub mod events;
pub mod instructions;
pub mod state;

pub use instructions::*;

// The upstream SBF route links compiler builtins (memcpy, 128-bit division, ...) from this crate;
// platform-tools ships its own, so the dependency only exists for `target_arch = "bpf"`.
#[cfg(target_arch = "bpf")]
use solana_compiler_builtins as _;

declare_id!("EaGVDFkjhZXetL3A3VkfFCxg1zu6bcEvoaT6pPLw7Gob");

#[program]
pub mod cross_margin {
    use super::*;

    /// Creates a group: the root of one isolated market (banks, accounts, risk settings).
    /// `admin` signs and becomes the group's administrator. The oracle program ids are stored in
    /// the group, not compiled in, because Pyth has changed them before.
    pub fn create_group(
        ctx: Context<CreateGroup>,
        group_num: u32,
        pyth_receiver_program: Pubkey,
        pyth_legacy_program: Pubkey,
    ) -> Result<()> {
        instructions::create_group::handler(
            ctx,
            group_num,
            pyth_receiver_program,
            pyth_legacy_program,
        )
    }
}
