//! Perpetual futures: pure maths (`maths`), a market's bookkeeping (`market`) and what each
//! instruction does to loaded state (`actions`), shared by the program, the keeper and the
//! simulator. docs/PERPS.md states each formula as computed here.

pub mod actions;
pub mod bankruptcy;
pub mod liquidation;
pub mod market;
pub mod maths;

pub use market::*;
pub use maths::*;
