//! Account layouts. Every account read on a liquidation path is zero-copy (`#[repr(C)]`,
//! bytemuck `Pod`), with explicit padding and a layout version. Byte offsets are asserted in tests.

pub mod bank;
pub mod config_change;
pub mod group;
pub mod margin_account;
pub mod perp_market;

pub use bank::*;
pub use config_change::*;
pub use group::*;
pub use margin_account::*;
pub use perp_market::*;
