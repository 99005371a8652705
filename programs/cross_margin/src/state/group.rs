use anchor_lang::prelude::*;

use crate::constants::GROUP_SEED;

/// The root of one market. Banks and margin accounts belong to exactly one group.
///
/// Layout v1 (after the 8-byte Anchor discriminator), 368 bytes:
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
/// | 128 | 240 | reserved (zero) |
#[account(zero_copy)]
#[derive(Debug)]
pub struct Group {
    /// May add and configure banks and flip the global switches.
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
    pub reserved: [u8; 240],
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
}

const _: () = assert!(Group::SIZE == 368);

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn group_layout_v1_offsets() {
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
        assert_eq!(offset_of!(Group, reserved), 128);
        assert_eq!(Group::SIZE, 368);
    }
}
