//! Rust client for the `cross_margin` program.
//!
//! - [`ix`]: instruction builders, using the program crate's own account and argument types;
//!   [`perp_ix`] for perp markets, pools and positions.
//! - [`outcome`]: what a transaction did (CU, logs, events, return data) or why it failed
//!   (the program's named error).
//! - [`embedded`] (feature `embedded`): an in-process chain (LiteSVM) running the real SBF build of
//!   the program, the backend of the demo, the stress lab and the tests.
//!
//! The test and demo harnesses built on it (the sandbox market, the seeded demo market, the local
//! validator spawner) live in the `cross-margin-testkit` crate (`app/testkit`).

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod ix;
pub mod outcome;
pub mod perp_ix;
pub mod pyth;
pub mod tx;

pub use cross_margin;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedChain;
pub use outcome::{Executed, Failed, TxResult};

pub use anchor_lang::prelude::Pubkey;
pub use solana_instruction::Instruction;
pub use solana_keypair::Keypair;
pub use solana_signer::Signer;
