//! Bankruptcy settlement: pure maths, shared by the program, the keeper and the simulator.
//!
//! A bankrupt account owes `debt` native units in a bank but has no collateral left to seize.
//! The bank's insurance fund pays first; whatever it cannot pay is *socialized*: the bank's
//! deposit index drops so that every depositor's claim shrinks pro rata.
//!
//! The vault holds `deposits − borrows + insurance`. Writing the debt off removes `debt` from
//! borrows, `from_insurance` from insurance and `socialized` from deposits, and since
//! `debt = from_insurance + socialized` the vault still covers every claim without a token moving.

use crate::health::AccountTotals;

/// Deposits all worth less than the dust threshold (quote native units), and debt left: nothing
/// is left to liquidate, so the debt can only be written off.
pub fn is_bankrupt(deposits_value: u64, has_debt: bool, dust_quote: u64) -> bool {
    has_debt && deposits_value < dust_quote
}

/// Whether an account's debt may be written off (and so must not be liquidated any more): it is
/// bankrupt ([`is_bankrupt`]) and insolvent, its deposits worth less than its debts at the
/// conservative prices. `liabs_value` is the debts' value now; `None` when they are not priced
/// because the account is `flagged`: the liquidation that exhausted it found it insolvent, so a
/// dead oracle of the owed token cannot block the write-off.
///
/// Solvency matters: without it, anyone could deposit $0.99, borrow against it at init health
/// >= 0, have the debt written off (deposits < $1 and debt) and withdraw the deposit again.
pub fn can_write_off(
    deposits_value: u64,
    liabs_value: Option<u64>,
    has_debt: bool,
    flagged: bool,
    dust_quote: u64,
) -> bool {
    let insolvent = match liabs_value {
        Some(liabs) => deposits_value < liabs,
        None => flagged,
    };
    is_bankrupt(deposits_value, has_debt, dust_quote) && (flagged || insolvent)
}

/// [`can_write_off`] for an account whose every position is priced.
pub fn can_write_off_account(totals: &AccountTotals, flagged: bool, dust_quote: u64) -> bool {
    can_write_off(
        totals.deposits_value,
        Some(totals.liabs_value),
        totals.has_debt,
        flagged,
        dust_quote,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// Debt written off (native units of the bank).
    pub debt: u64,
    /// Paid by the bank's insurance fund.
    pub from_insurance: u64,
    /// Shared out over the bank's depositors.
    pub socialized: u64,
    /// The deposit index after socialization (Q64.64).
    pub deposit_index: u128,
}

/// The part of a loss the insurance fund cannot pay is as large as the bank's deposits: sharing
/// it out would take the deposit index to zero (and every later deposit would divide by zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossExceedsDeposits;

/// Splits `debt` between the insurance fund and the depositors. The index drop per share is
/// rounded up, so depositors lose at most one unit of index more than their exact share: the
/// rounding favours the vault, never a claimant.
pub fn settle(
    debt: u64,
    insurance: u64,
    deposit_index: u128,
    total_deposit_shares: u64,
) -> Result<Settlement, LossExceedsDeposits> {
    let from_insurance = debt.min(insurance);
    let socialized = debt - from_insurance;
    let mut new_index = deposit_index;
    if socialized > 0 {
        if total_deposit_shares == 0 {
            return Err(LossExceedsDeposits);
        }
        // A u64 shifted by 64 always fits in u128.
        let loss_per_share = ((socialized as u128) << 64).div_ceil(total_deposit_shares as u128);
        new_index = deposit_index.checked_sub(loss_per_share).ok_or(LossExceedsDeposits)?;
        if new_index == 0 {
            return Err(LossExceedsDeposits);
        }
    }
    Ok(Settlement { debt, from_insurance, socialized, deposit_index: new_index })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{mul_q64, Round, ONE_Q64};

    #[test]
    fn insurance_covers_everything() {
        let s = settle(400, 1_000, ONE_Q64, 10_000).unwrap();
        assert_eq!((s.from_insurance, s.socialized, s.deposit_index), (400, 0, ONE_Q64));
    }

    #[test]
    fn the_rest_is_socialized_pro_rata() {
        // 1,000 owed, 250 insured: 750 lost by 10,000 deposit shares at index 1.0 → 0.925.
        let s = settle(1_000, 250, ONE_Q64, 10_000).unwrap();
        assert_eq!((s.from_insurance, s.socialized), (250, 750));
        // 0.075 is not exact in binary: the drop rounds up, so the index is at most 0.925 rounded down.
        assert_eq!(s.deposit_index, ONE_Q64 - (750u128 << 64).div_ceil(10_000));
        assert!(s.deposit_index <= ONE_Q64 * 925 / 1_000);
        // A depositor of 4,000 shares now holds just under 3,700: 3,699 after rounding down.
        assert_eq!(mul_q64(4_000, s.deposit_index, Round::Down), Ok(3_699));
        // All deposits together lose at least the socialized amount.
        let total_after = mul_q64(10_000, s.deposit_index, Round::Down).unwrap();
        assert!(10_000 - total_after >= 750);
    }

    #[test]
    fn inexact_losses_round_against_depositors() {
        // 1 unit over 3 shares: the per-share loss rounds up, so the claims drop by >= 1.
        let s = settle(1, 0, ONE_Q64, 3).unwrap();
        assert_eq!(s.deposit_index, ONE_Q64 - ONE_Q64.div_ceil(3));
        let total_after = mul_q64(3, s.deposit_index, Round::Down).unwrap();
        assert!(total_after <= 2);
    }

    #[test]
    fn only_insolvent_or_flagged_accounts_are_written_off() {
        // $0.99 of deposits against $0.75 of debt: below the dust threshold but solvent.
        assert!(!can_write_off(990_000, Some(750_000), true, false, 1_000_000));
        // Insolvent: deposits worth less than the debts.
        assert!(can_write_off(990_000, Some(990_001), true, false, 1_000_000));
        // Flagged by the liquidation that exhausted it: the debts need no price.
        assert!(can_write_off(10, None, true, true, 1_000_000));
        assert!(!can_write_off(10, None, true, false, 1_000_000));
        // Never above the dust threshold, never without debt.
        assert!(!can_write_off(1_000_000, Some(5_000_000), true, true, 1_000_000));
        assert!(!can_write_off(0, Some(0), false, true, 1_000_000));
    }

    #[test]
    fn a_loss_larger_than_all_deposits_is_an_error() {
        assert_eq!(settle(10_001, 0, ONE_Q64, 10_000), Err(LossExceedsDeposits));
        assert_eq!(settle(10_000, 0, ONE_Q64, 10_000), Err(LossExceedsDeposits)); // index 0
        assert_eq!(settle(1, 0, ONE_Q64, 0), Err(LossExceedsDeposits));
        // With no loss to share, no depositors are needed.
        assert!(settle(5, 5, ONE_Q64, 0).is_ok());
    }
}
