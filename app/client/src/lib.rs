//! Rust client for the `cross_margin` program.
//!
//! - [`ix`]: instruction builders, using the program crate's own account and argument types.
//! - [`outcome`]: what a transaction did (CU, logs, events, return data) or why it failed
//!   (the program's named error).
//! - [`embedded`]: an in-process chain (LiteSVM) running the real SBF build of the program. It is
//!   the default backend for demos and tests.

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod ix;
pub mod localnet;
pub mod outcome;
pub mod pyth;
#[cfg(feature = "embedded")]
pub mod sandbox;
pub mod tx;

pub use cross_margin;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedChain;
pub use outcome::{Executed, Failed, TxResult};

pub use anchor_lang::prelude::Pubkey;
pub use solana_instruction::Instruction;
pub use solana_keypair::Keypair;
pub use solana_signer::Signer;
