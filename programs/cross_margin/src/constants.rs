//! PDA seeds and protocol-wide constants. Every seed is defined here, once.

use anchor_lang::prelude::*;

/// `Group` PDA: `[GROUP_SEED, admin, group_num.to_le_bytes()]`.
#[constant]
pub const GROUP_SEED: &[u8] = b"group";
/// `Bank` PDA: `[BANK_SEED, group, mint]` (one bank per mint per group).
#[constant]
pub const BANK_SEED: &[u8] = b"bank";
/// Bank vault token account PDA: `[VAULT_SEED, bank]`; its authority is the bank PDA.
#[constant]
pub const VAULT_SEED: &[u8] = b"vault";
/// `MarginAccount` PDA: `[ACCOUNT_SEED, group, owner, account_num.to_le_bytes()]`.
#[constant]
pub const ACCOUNT_SEED: &[u8] = b"account";

/// `PerpMarket` PDA: `[PERP_MARKET_SEED, group, market_index.to_le_bytes()]`.
#[constant]
pub const PERP_MARKET_SEED: &[u8] = b"perp_market";

/// Layout versions written into new accounts.
pub const GROUP_VERSION: u8 = 2;
pub const BANK_VERSION: u8 = 4;
pub const ACCOUNT_VERSION: u8 = 2;
pub const PERP_MARKET_VERSION: u8 = 1;

/// Position slots per margin account. Every slot can be a deposit or a borrow.
pub const MAX_POSITIONS: usize = 16;

/// Perp position slots per margin account.
pub const MAX_PERP_POSITIONS: usize = 8;

/// Mints with more decimals would price a native unit below the Q64.64 resolution.
pub const MAX_MINT_DECIMALS: u8 = 12;

pub const SECONDS_PER_YEAR: u64 = 365 * 24 * 3600;

/// How far an oracle's publish time may be ahead of the chain's clock (validators' and
/// publishers' clocks drift by seconds). Further ahead is refused (`OraclePublishTimeInFuture`):
/// such a price would otherwise count as fresh until long after it was published.
#[constant]
pub const ORACLE_MAX_FUTURE_SECS: i64 = 60;

/// The init health events report where the check was deferred to `flash_loan_end` (the account
/// was inside a flash loan): i128::MIN, which no computed health reaches.
#[constant]
pub const HEALTH_CHECK_DEFERRED: i128 = i128::MIN;

/// Defaults for new groups (changeable with `configure_group`).
pub const DEFAULT_LIQUIDATION_END_BUFFER_BPS: u32 = 500;
/// $1 in micro-USD.
pub const DEFAULT_BANKRUPTCY_DUST_QUOTE: u64 = 1_000_000;
/// Largest accepted liquidation end buffer (100% of maint-weighted liabilities).
pub const MAX_LIQUIDATION_END_BUFFER_BPS: u32 = 10_000;
/// Largest accepted bankruptcy dust threshold ($1,000 in micro-USD).
pub const MAX_BANKRUPTCY_DUST_QUOTE: u64 = 1_000_000_000;

/// Shortest delay a live group's queued configuration changes may have (1 day). A group is live
/// once its delay is non-zero; it cannot go back to setup (delay 0, changes at once).
#[constant]
pub const MIN_CONFIG_DELAY_SECS: u32 = 86_400;
/// Longest configuration delay (30 days).
#[constant]
pub const MAX_CONFIG_DELAY_SECS: u32 = 30 * 86_400;
/// In a live group, oracle prices older than this are refused whatever a bank's
/// `oracle_max_age_secs` says (1 hour); configuring a longer age is refused.
#[constant]
pub const LIVE_MAX_ORACLE_AGE_SECS: u32 = 3_600;
