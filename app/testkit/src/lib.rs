//! Test and demo harnesses for `cross_margin`, kept out of the production crates (the program,
//! the client, the keeper):
//!
//! - [`sandbox`]: a whole market on the embedded chain (group, banks with real-format Pyth
//!   accounts, users), which the integration tests, the keeper's tests, the demo and the stress
//!   lab build their markets with.
//! - [`perp`]: perp markets in the sandbox, and the user actions on them.
//! - [`scenario`]: the seeded three-bank market of the demo and the keeper's tests, and the
//!   deterministic generator the stress lab shares.
//! - [`pool`]: the test constant-product pool (`cp_swap`) the keeper's swap adapter trades
//!   through.
//! - [`localnet`]: a real `solana-test-validator` for tests, and the embedded chain's accounts
//!   written as its genesis accounts.
//! - [`invariants`]: the property campaign's state-only invariants, on accounts read from any
//!   chain (the campaign's LiteSVM, the soak's local validator).

pub mod invariants;
pub mod localnet;
pub mod perp;
pub mod pool;
pub mod sandbox;
pub mod scenario;
