use anchor_lang::prelude::*;

use crate::constants::{GROUP_SEED, LIVE_MAX_ORACLE_AGE_SECS};
use crate::error::MarginError;
use crate::state::GroupConfigOptions;

/// The root of one market. Banks and margin accounts belong to exactly one group.
///
/// Layout v2 (after the 8-byte Anchor discriminator), 368 bytes. v2 took the admin transfer, the
/// emergency admin, the configuration delay, the queued change, the time it went live and the
/// end of the last pause (224 bytes) from `reserved`.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | admin |
/// | 32 | 32 | pyth_receiver_program |
/// | 64 | 32 | pyth_legacy_program |
/// | 96 | 4 | group_num |
/// | 100 | 2 | bank_count |
/// | 102 | 1 | version |
/// | 103 | 1 | bump |
/// | 104 | 1 | paused |
/// | 105 | 1 | reduce_only |
/// | 106 | 6 | padding |
/// | 112 | 8 | bankruptcy_dust_quote |
/// | 120 | 4 | liquidation_end_buffer_bps |
/// | 124 | 4 | padding2 |
/// | 128 | 32 | pending_admin |
/// | 160 | 32 | emergency_admin |
/// | 192 | 4 | config_delay_secs |
/// | 196 | 4 | padding3 |
/// | 200 | 88 | pending ([`PendingGroupChange`]) |
/// | 288 | 8 | live_since_ts |
/// | 296 | 8 | unpaused_ts |
/// | 304 | 2 | perp_market_count |
/// | 306 | 62 | reserved (zero) |
#[account(zero_copy)]
#[derive(Debug)]
pub struct Group {
    /// May add and configure banks, queue and cancel configuration changes, and flip the global
    /// switches. Any signer: a wallet or a multisig vault PDA signing through CPI.
    pub admin: Pubkey,
    /// Owner that every `PriceUpdateV2` account of this group must have.
    pub pyth_receiver_program: Pubkey,
    /// Owner that every legacy Pyth price account of this group must have.
    pub pyth_legacy_program: Pubkey,
    /// Lets one admin run several groups; part of the PDA seeds.
    pub group_num: u32,
    /// Number of banks added so far; the next bank gets this as its index.
    pub bank_count: u16,
    pub version: u8,
    pub bump: u8,
    /// Non-zero: withdraw and borrow are refused (`GroupPaused`). Deposit, repay, liquidation,
    /// bankruptcy write-offs and account creation keep working, and interest keeps accruing.
    pub paused: u8,
    /// Non-zero: only risk-reducing instructions are accepted.
    pub reduce_only: u8,
    pub padding: [u8; 6],
    /// Deposits worth less than this (quote native units, at the asset price) count as
    /// exhausted: an account holding only such dust and borrows is bankrupt.
    pub bankruptcy_dust_quote: u64,
    /// A liquidation continues until maint health >= this fraction (bps) of the account's
    /// maint-weighted liabilities.
    pub liquidation_end_buffer_bps: u32,
    pub padding2: [u8; 4],
    /// Proposed by the admin (`propose_admin`); becomes the admin when it signs `accept_admin`.
    /// Default (zero) = no transfer pending.
    pub pending_admin: Pubkey,
    /// May only pause and set reduce-only (`halt`), never lift them. Default = none.
    pub emergency_admin: Pubkey,
    /// How long a queued configuration change waits before anyone may apply it. 0 = setup: every
    /// change applies at once. Once non-zero (live) it stays within
    /// [`MIN_CONFIG_DELAY_SECS`, `MAX_CONFIG_DELAY_SECS`].
    pub config_delay_secs: u32,
    pub padding3: [u8; 4],
    /// The queued group change, if any.
    pub pending: PendingGroupChange,
    /// When the delay first became non-zero (0 while in setup).
    pub live_since_ts: i64,
    /// When a pause was last lifted (0: never): queued changes wait a delay after it.
    pub unpaused_ts: i64,
    /// Number of perp markets added so far; the next gets this as its index (carved from
    /// `reserved`, zero in older groups, which had none).
    pub perp_market_count: u16,
    pub reserved: [u8; 62],
}

/// A queued `configure_group` change: each zero field is left as it is (no valid setting is
/// zero). 88 bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | apply_after_ts (0 = nothing queued) |
/// | 8 | 32 | pyth_receiver_program |
/// | 40 | 32 | pyth_legacy_program |
/// | 72 | 8 | bankruptcy_dust_quote |
/// | 80 | 4 | liquidation_end_buffer_bps |
/// | 84 | 4 | config_delay_secs |
#[derive(
    AnchorSerialize,
    AnchorDeserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(C)]
pub struct PendingGroupChange {
    /// Unix time from which anyone may apply the change.
    pub apply_after_ts: i64,
    pub pyth_receiver_program: Pubkey,
    pub pyth_legacy_program: Pubkey,
    pub bankruptcy_dust_quote: u64,
    pub liquidation_end_buffer_bps: u32,
    pub config_delay_secs: u32,
}

impl PendingGroupChange {
    pub fn is_queued(&self) -> bool {
        self.apply_after_ts != 0
    }
}

impl Group {
    pub const SIZE: usize = core::mem::size_of::<Group>();

    /// The group PDA and its bump; the same derivation the program checks on `create_group`.
    pub fn address(admin: &Pubkey, group_num: u32) -> (Pubkey, u8) {
        Pubkey::find_program_address(
            &[GROUP_SEED, admin.as_ref(), &group_num.to_le_bytes()],
            &crate::ID,
        )
    }

    pub fn is_paused(&self) -> bool {
        self.paused != 0
    }

    pub fn is_reduce_only(&self) -> bool {
        self.reduce_only != 0
    }

    /// Live: configuration changes that can hurt positions wait `config_delay_secs`.
    pub fn is_live(&self) -> bool {
        self.config_delay_secs != 0
    }

    /// The oracle age a bank may accept: its own setting, capped at `LIVE_MAX_ORACLE_AGE_SECS`
    /// in a live group (a bank configured in setup with a longer age is capped once live).
    pub fn oracle_max_age_secs(&self, configured: u32) -> u32 {
        if self.is_live() {
            configured.min(LIVE_MAX_ORACLE_AGE_SECS)
        } else {
            configured
        }
    }

    /// When a change queued to apply from `apply_after_ts` may be applied: then, but in a live
    /// group never before a full delay after the group went live (a change queued while in
    /// setup, due at once, still gives the live group's users notice) nor after the last pause
    /// ended (a pause stops withdrawals, so users could not act on the notice meanwhile; while
    /// paused nothing applies at all).
    pub fn config_change_due(&self, apply_after_ts: i64) -> i64 {
        if !self.is_live() {
            return apply_after_ts;
        }
        let delay = self.config_delay_secs as i64;
        let notice = self.live_since_ts.max(self.unpaused_ts).saturating_add(delay);
        apply_after_ts.max(notice)
    }

    /// The group as it will be once its queued change (if any) applies.
    pub fn with_pending_change(&self) -> Group {
        let mut group = *self;
        GroupConfigOptions::from_pending(&self.pending).write_to(&mut group);
        group.pending = PendingGroupChange::default();
        group
    }

    /// Whether a change queued to apply from `apply_after_ts` (0: none) may be applied at `now`:
    /// the shared check of `apply_bank_config` and `apply_group_config`.
    pub fn config_change_ready(
        &self,
        apply_after_ts: i64,
        now: i64,
    ) -> core::result::Result<(), MarginError> {
        if apply_after_ts == 0 {
            return Err(MarginError::NoConfigChangeQueued);
        }
        if self.is_paused() {
            return Err(MarginError::ConfigChangeWhilePaused);
        }
        if now < self.config_change_due(apply_after_ts) {
            return Err(MarginError::ConfigChangeNotReady);
        }
        Ok(())
    }
}

const _: () = assert!(core::mem::size_of::<PendingGroupChange>() == 88);

const _: () = assert!(Group::SIZE == 368);

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn group_layout_v2_offsets() {
        assert_eq!(offset_of!(Group, admin), 0);
        assert_eq!(offset_of!(Group, pyth_receiver_program), 32);
        assert_eq!(offset_of!(Group, pyth_legacy_program), 64);
        assert_eq!(offset_of!(Group, group_num), 96);
        assert_eq!(offset_of!(Group, bank_count), 100);
        assert_eq!(offset_of!(Group, version), 102);
        assert_eq!(offset_of!(Group, bump), 103);
        assert_eq!(offset_of!(Group, paused), 104);
        assert_eq!(offset_of!(Group, reduce_only), 105);
        assert_eq!(offset_of!(Group, bankruptcy_dust_quote), 112);
        assert_eq!(offset_of!(Group, liquidation_end_buffer_bps), 120);
        assert_eq!(offset_of!(Group, pending_admin), 128);
        assert_eq!(offset_of!(Group, emergency_admin), 160);
        assert_eq!(offset_of!(Group, config_delay_secs), 192);
        assert_eq!(offset_of!(Group, pending), 200);
        assert_eq!(offset_of!(Group, live_since_ts), 288);
        assert_eq!(offset_of!(Group, unpaused_ts), 296);
        assert_eq!(offset_of!(Group, perp_market_count), 304);
        assert_eq!(offset_of!(Group, reserved), 306);
        assert_eq!(offset_of!(PendingGroupChange, pyth_receiver_program), 8);
        assert_eq!(offset_of!(PendingGroupChange, bankruptcy_dust_quote), 72);
        assert_eq!(offset_of!(PendingGroupChange, config_delay_secs), 84);
        assert_eq!(Group::SIZE, 368);
    }
}
