//! The reference liquidation keeper for `cross_margin`.
//!
//! - [`backend`]: the chain behind one trait: JSON-RPC, or the embedded LiteSVM chain.
//! - [`market`]: the group's banks and prices, decoded with the program's own types and read
//!   with the program's own oracle code.
//! - [`evaluate`]: every account's health with the program's own health module, ranked.
//! - [`perps`]: the group's perp markets and an account's perp slots priced as the program does.
//! - [`plan`]: the best liquidation step the program will accept and the liquidator can carry.
//! - [`plan_perp`]: an account with perp slots: the next step in the program's order.
//! - [`fees`]: the priority fee: a capped percentile of recent fees, the fixed fee as floor.
//! - [`watch`]: detection by websocket (`accountSubscribe`/`programSubscribe`) into an
//!   in-memory snapshot, repaired by periodic full snapshots (feature `rpc`).
//! - [`keeper`]: the loop: discover, evaluate, plan, simulate for the CU limit, send, confirm.
//! - [`swap`]: swap venues behind one trait, and the test pool's adapter.
//! - [`inventory`]: unwinding what a liquidation leaves in the keeper's account (withdraw,
//!   swap, repay), after it or inside one flash-loan transaction.
//! - [`config`]: flags, environment and the TOML config file, merged and validated.
//! - [`metrics`], [`http`]: Prometheus `/metrics` and `/health` on a tiny HTTP server.
//! - [`lookup_table`]: the address lookup table a keeper needs, created and extended.

pub mod backend;
pub mod config;
pub mod evaluate;
pub mod fees;
pub mod http;
pub mod inventory;
pub mod keeper;
pub mod keeper_inventory;
mod keeper_outcome;
mod keeper_perp;
pub mod lookup_table;
pub mod market;
pub mod metrics;
pub mod perps;
pub mod plan;
pub mod plan_perp;
pub mod swap;
#[cfg(feature = "rpc")]
pub mod watch;

pub use backend::{Backend, BackendError, RetryPolicy};
pub use evaluate::{evaluate, Evaluation, Shard};
pub use keeper::{Keeper, KeeperConfig, RoundReport};
pub use market::MarketState;
