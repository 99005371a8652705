//! Account layouts. Every account read on a liquidation path is zero-copy (`#[repr(C)]`,
//! bytemuck `Pod`), with explicit padding and a layout version. Byte offsets are asserted in tests.

pub mod group;

pub use group::*;
