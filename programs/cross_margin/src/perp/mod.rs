//! Perpetual futures: pure maths (`maths`) and the market orchestration every perp instruction,
//! the keeper and the simulator share (`market`). docs/PERPS.md states each formula as computed
//! here.

pub mod market;
pub mod maths;

pub use market::*;
pub use maths::*;
