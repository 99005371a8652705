// Every instruction file names its entry point `handler`; the globs only export account types.
#![allow(ambiguous_glob_reexports)]

pub mod accept_admin;
pub mod add_bank;
pub mod apply_bank_config;
pub mod apply_group_config;
pub mod bank_transfer;
pub mod borrow;
pub mod cancel_bank_config;
pub mod cancel_group_config;
pub mod close_account;
pub mod configure_bank;
pub mod configure_group;
pub mod create_account;
pub mod create_group;
pub mod deposit;
pub mod fund_insurance;
pub mod halt;
pub mod health;
pub mod liquidate;
pub mod propose_admin;
pub mod queue_bank_config;
pub mod queue_group_config;
pub mod repay;
pub mod resolve_bankruptcy;
pub mod withdraw;

pub use accept_admin::*;
pub use add_bank::*;
pub use apply_bank_config::*;
pub use apply_group_config::*;
pub use bank_transfer::*;
pub use cancel_bank_config::*;
pub use close_account::*;
pub use configure_bank::*;
pub use configure_group::*;
pub use create_account::*;
pub use create_group::*;
pub use fund_insurance::*;
pub use halt::*;
pub use health::*;
pub use liquidate::*;
pub use resolve_bankruptcy::*;
