//! PDA seeds and protocol-wide constants. Every seed is defined here, once.

use anchor_lang::prelude::*;

/// `Group` PDA: `[GROUP_SEED, admin, group_num.to_le_bytes()]`.
#[constant]
pub const GROUP_SEED: &[u8] = b"group";

/// Layout version written into every new `Group`.
pub const GROUP_VERSION: u8 = 1;
