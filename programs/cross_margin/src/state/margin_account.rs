use anchor_lang::prelude::*;

use crate::constants::{ACCOUNT_SEED, MAX_PERP_POSITIONS, MAX_POSITIONS};
use crate::error::MarginError;
use crate::health::PositionShares;
use crate::perp::{FundingIndices, PerpPosition};

/// What a position slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PositionKind {
    Empty = 0,
    Deposit = 1,
    Borrow = 2,
}

/// One slot of a margin account: a deposit or a borrow in one bank, held as shares.
/// 16 bytes: shares @0, bank_index @8, kind @10, padding @11..16.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub shares: u64,
    /// `Bank::bank_index` of the bank this position is in.
    pub bank_index: u16,
    /// A `PositionKind`.
    pub kind: u8,
    pub padding: [u8; 5],
}

impl Position {
    pub fn kind(&self) -> PositionKind {
        match self.kind {
            1 => PositionKind::Deposit,
            2 => PositionKind::Borrow,
            _ => PositionKind::Empty,
        }
    }

    pub fn is_active(&self) -> bool {
        self.kind() != PositionKind::Empty
    }

    /// The position as the health module sees it (`None` for an empty slot).
    pub fn shares(&self) -> Option<PositionShares> {
        match self.kind() {
            PositionKind::Deposit => Some(PositionShares::Deposit(self.shares)),
            PositionKind::Borrow => Some(PositionShares::Borrow(self.shares)),
            PositionKind::Empty => None,
        }
    }
}

/// One perp slot of a margin account: a position in one perp market and/or pool shares of its
/// liquidity pool. 64 bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | base_lots (i64, + long) |
/// | 8 | 8 | quote_native (i64, settle native units) |
/// | 16 | 16 | funding_long snapshot (i128) |
/// | 32 | 16 | funding_short snapshot (i128) |
/// | 48 | 8 | lp_shares |
/// | 56 | 2 | market_index |
/// | 58 | 2 | settle_bank_index |
/// | 60 | 1 | active |
/// | 61 | 3 | padding |
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PerpSlot {
    pub base_lots: i64,
    /// Everything the position paid (−) and received (+) since it was last settled.
    pub quote_native: i64,
    pub funding_long: [u8; 16],
    pub funding_short: [u8; 16],
    /// Shares of the market's liquidity pool (not collateral: they count nothing in health).
    pub lp_shares: u64,
    pub market_index: u16,
    pub settle_bank_index: u16,
    pub active: u8,
    pub padding: [u8; 3],
}

impl PerpSlot {
    pub fn is_active(&self) -> bool {
        self.active != 0
    }

    /// The position as the pure perp maths sees it.
    pub fn position(&self) -> PerpPosition {
        PerpPosition {
            base_lots: self.base_lots,
            quote_native: self.quote_native,
            funding_snapshot: FundingIndices {
                long: i128::from_le_bytes(self.funding_long),
                short: i128::from_le_bytes(self.funding_short),
            },
        }
    }

    pub fn set_position(&mut self, position: &PerpPosition) {
        self.base_lots = position.base_lots;
        self.quote_native = position.quote_native;
        self.funding_long = position.funding_snapshot.long.to_le_bytes();
        self.funding_short = position.funding_snapshot.short.to_le_bytes();
    }

    /// Frees the slot once nothing is left in it: no size, no unsettled quote, no pool shares.
    pub fn close_if_empty(&mut self) {
        if self.base_lots == 0 && self.quote_native == 0 && self.lp_shares == 0 {
            *self = PerpSlot::default();
        }
    }
}

/// A user's cross-margin account: every deposit and every perp position backs every borrow.
///
/// Layout v2 (after the 8-byte discriminator), 904 bytes (912 with it, under 1 KiB). v2
/// appended the perp slots; v1 (392 bytes) ended at `reserved`:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | group |
/// | 32 | 32 | owner |
/// | 64 | 16×16 | positions |
/// | 320 | 4 | account_num |
/// | 324 | 1 | version |
/// | 325 | 1 | bump |
/// | 326 | 1 | being_liquidated |
/// | 327 | 1 | bankrupt |
/// | 328 | 8 | opened_slot |
/// | 336 | 2 | opened_mask |
/// | 338 | 1 | in_flash_loan |
/// | 339 | 53 | reserved (zero) |
/// | 392 | 8×64 | perps ([`PerpSlot`]) |
///
/// `opened_slot` and `opened_mask` were carved out of `reserved` for finding L-5's first fix
/// and are no longer read or written (finding 28): an account may hold any values there.
/// `in_flash_loan` was carved out of `reserved` too (zero: not in a flash loan; it is only ever
/// non-zero inside a transaction).
#[account(zero_copy)]
#[derive(Debug)]
pub struct MarginAccount {
    pub group: Pubkey,
    pub owner: Pubkey,
    pub positions: [Position; MAX_POSITIONS],
    pub account_num: u32,
    pub version: u8,
    pub bump: u8,
    /// Non-zero once a liquidation started and until health is back above the end target.
    pub being_liquidated: u8,
    /// Non-zero when deposits are exhausted but borrows remain.
    pub bankrupt: u8,
    /// Unused since finding 28 (it was the slot of `opened_mask`'s positions).
    pub opened_slot: u64,
    /// Unused since finding 28 (it marked the position slots opened in `opened_slot`, which a
    /// liquidation or write-off could leave out of its health accounts).
    pub opened_mask: u16,
    /// Non-zero between `flash_loan_begin` and `flash_loan_end` of one transaction: borrows,
    /// withdrawals and liquidations by this account skip their init-health check, which
    /// `flash_loan_end` makes once over every position. Never non-zero after a transaction.
    pub in_flash_loan: u8,
    pub reserved: [u8; 53],
    pub perps: [PerpSlot; MAX_PERP_POSITIONS],
}

const _: () = assert!(MarginAccount::SIZE == 904);

impl MarginAccount {
    pub const SIZE: usize = core::mem::size_of::<MarginAccount>();

    pub fn address(group: &Pubkey, owner: &Pubkey, account_num: u32) -> (Pubkey, u8) {
        Pubkey::find_program_address(
            &[ACCOUNT_SEED, group.as_ref(), owner.as_ref(), &account_num.to_le_bytes()],
            &crate::ID,
        )
    }

    pub fn active_positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.iter().filter(|p| p.is_active())
    }

    pub fn active_count(&self) -> usize {
        self.active_positions().count()
    }

    /// The slot of the position in `bank_index`, if any.
    pub fn find(&self, bank_index: u16) -> Option<usize> {
        self.positions.iter().position(|p| p.is_active() && p.bank_index == bank_index)
    }

    /// The slot of the position in `bank_index`, or a fresh empty slot for it.
    pub fn find_or_open(&mut self, bank_index: u16) -> Option<usize> {
        if let Some(slot) = self.find(bank_index) {
            return Some(slot);
        }
        let slot = self.positions.iter().position(|p| !p.is_active())?;
        self.positions[slot] =
            Position { shares: 0, bank_index, kind: PositionKind::Empty as u8, padding: [0; 5] };
        Some(slot)
    }

    pub fn is_empty(&self) -> bool {
        self.active_count() == 0
    }

    pub fn has_borrows(&self) -> bool {
        self.active_positions().any(|p| p.kind() == PositionKind::Borrow)
    }

    pub fn active_perps(&self) -> impl Iterator<Item = &PerpSlot> {
        self.perps.iter().filter(|p| p.is_active())
    }

    pub fn active_perp_count(&self) -> usize {
        self.active_perps().count()
    }

    pub fn has_perps(&self) -> bool {
        self.perps.iter().any(|p| p.is_active())
    }

    /// The settle bank every active perp slot settles in (one per account), if any.
    pub fn perp_settle_bank_index(&self) -> Option<u16> {
        self.active_perps().next().map(|p| p.settle_bank_index)
    }

    /// In one pass over the perp slots: how many are active, and their settle bank.
    pub fn perp_summary(&self) -> (usize, Option<u16>) {
        let mut count = 0;
        let mut settle = None;
        for slot in self.perps.iter().filter(|p| p.is_active()) {
            count += 1;
            settle = Some(slot.settle_bank_index);
        }
        (count, settle)
    }

    /// Whether any borrow or perp slot can make health negative (otherwise it needs no prices).
    pub fn has_risk(&self) -> bool {
        self.has_borrows() || self.has_perps()
    }

    /// The perp slot of `market_index`, if active.
    pub fn find_perp(&self, market_index: u16) -> Option<usize> {
        self.perps.iter().position(|p| p.is_active() && p.market_index == market_index)
    }

    /// The perp slot of `market_index`, or a fresh one for it (funding snapshot `now`). Every
    /// perp slot of an account settles in the same bank.
    pub fn find_or_open_perp(
        &mut self,
        market_index: u16,
        settle_bank_index: u16,
        funding: &FundingIndices,
    ) -> core::result::Result<usize, MarginError> {
        if let Some(slot) = self.find_perp(market_index) {
            return Ok(slot);
        }
        if self.perp_settle_bank_index().is_some_and(|s| s != settle_bank_index) {
            return Err(MarginError::PerpSettleBankMismatch);
        }
        let slot =
            self.perps.iter().position(|p| !p.is_active()).ok_or(MarginError::NoFreePerpSlot)?;
        let mut fresh =
            PerpSlot { market_index, settle_bank_index, active: 1, ..Default::default() };
        fresh.set_position(&PerpPosition { funding_snapshot: *funding, ..Default::default() });
        self.perps[slot] = fresh;
        Ok(slot)
    }

    pub fn is_in_flash_loan(&self) -> bool {
        self.in_flash_loan != 0
    }

    /// Once no borrow is left, the liquidation and bankruptcy flags mean nothing: clear them, so
    /// that an account whose debt was repaid is an ordinary account again (withdrawals included).
    pub fn clear_flags_if_debt_free(&mut self) {
        // Token borrows only: the flags are token liquidation's, and perp positions alone must
        // not keep an account flagged (a flagged account could not withdraw its collateral).
        if (self.being_liquidated | self.bankrupt) != 0 && !self.has_borrows() {
            self.being_liquidated = 0;
            self.bankrupt = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn perp_slots_share_one_settle_bank_and_run_out() {
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        let funding = FundingIndices::default();
        account.find_or_open_perp(0, 0, &funding).unwrap();
        assert_eq!(
            account.find_or_open_perp(1, 1, &funding),
            Err(MarginError::PerpSettleBankMismatch)
        );
        for market in 1..account.perps.len() as u16 {
            account.find_or_open_perp(market, 0, &funding).unwrap();
        }
        let full = account.find_or_open_perp(99, 0, &funding);
        assert_eq!(full, Err(MarginError::NoFreePerpSlot));
        // An open slot is found again, full or not.
        assert_eq!(account.find_or_open_perp(3, 0, &funding), Ok(3));
    }

    #[test]
    fn margin_account_layout_v2_offsets() {
        assert_eq!(core::mem::size_of::<Position>(), 16);
        assert_eq!(offset_of!(Position, bank_index), 8);
        assert_eq!(offset_of!(Position, kind), 10);
        assert_eq!(offset_of!(MarginAccount, positions), 64);
        assert_eq!(offset_of!(MarginAccount, account_num), 320);
        assert_eq!(offset_of!(MarginAccount, being_liquidated), 326);
        assert_eq!(offset_of!(MarginAccount, opened_slot), 328);
        assert_eq!(offset_of!(MarginAccount, opened_mask), 336);
        assert_eq!(offset_of!(MarginAccount, in_flash_loan), 338);
        assert_eq!(offset_of!(MarginAccount, reserved), 339);
        assert_eq!(offset_of!(MarginAccount, perps), 392);
        assert_eq!(core::mem::size_of::<PerpSlot>(), 64);
        assert_eq!(offset_of!(PerpSlot, lp_shares), 48);
        assert_eq!(offset_of!(PerpSlot, market_index), 56);
        assert_eq!(offset_of!(PerpSlot, active), 60);
        const {
            assert!(
                MarginAccount::SIZE + 8 <= 1024,
                "target: at most 1 KiB with 16 token and 8 perp slots"
            )
        };
    }
}
