pub mod create_group;

pub use create_group::*;
