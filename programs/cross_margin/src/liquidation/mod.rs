//! Liquidation, pure: [`step`] is one liquidation step on loaded state (what `liquidate` does,
//! and what the keeper predicts); [`liquidation_amounts`] its closed-form amounts.

mod amounts;
mod step;

pub use amounts::*;
pub use step::*;
