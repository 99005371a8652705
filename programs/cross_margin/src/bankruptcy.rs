//! Bankruptcy settlement: pure maths, shared by the program, the keeper and the simulator.
//!
//! A bankrupt account owes `debt` native units in a bank but has no collateral left to seize.
//! The bank's insurance fund pays first; whatever it cannot pay is *socialized*: the bank's
//! deposit index drops so that every depositor's claim shrinks pro rata.
//!
//! The vault holds `deposits − borrows + insurance`. Writing the debt off removes `debt` from
//! borrows, `from_insurance` from insurance and `socialized` from deposits, and since
//! `debt = from_insurance + socialized` the vault still covers every claim without a token moving.

use crate::error::MarginError;
use crate::health::AccountTotals;
use crate::positions;
use crate::state::{Bank, MarginAccount};

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

/// What a write-off did: the `BankruptcyResolved` event's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOff {
    pub settlement: Settlement,
    pub collateral: Collateral,
    pub deposit_index_before: u128,
    /// Debt remains in another bank: the account stays flagged bankrupt.
    pub still_bankrupt: bool,
}

/// An account's collateral as a write-off judges it (see [`can_write_off`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collateral {
    pub deposits_value: u64,
    /// The debts' value; `None` when they are not priced (the account is flagged).
    pub liabs_value: Option<u64>,
    pub has_debt: bool,
}

/// Writes off the account's whole borrow in `bank` (accrued to now), if [`can_write_off`] allows
/// it for the account's `collateral`, priced by the caller once the debt is known to exist: the
/// insurance fund pays first, the rest lowers the deposit index. The account stays flagged
/// while debt remains.
#[inline(always)]
pub fn write_off<E: From<MarginError>>(
    account: &mut MarginAccount,
    bank: &mut Bank,
    dust_quote: u64,
    collateral: impl FnOnce(&MarginAccount, &Bank) -> Result<Collateral, E>,
) -> Result<WriteOff, E> {
    let debt = positions::borrow_native(account, bank)?;
    if debt == 0 {
        return Err(MarginError::NoBorrow.into());
    }
    let flagged = account.bankrupt != 0;
    let c = collateral(account, bank)?;
    if !can_write_off(c.deposits_value, c.liabs_value, c.has_debt, flagged, dust_quote) {
        return Err(MarginError::NotBankrupt.into());
    }
    let deposit_index_before = bank.deposit_index();
    let settlement =
        settle(debt, bank.insurance_native, deposit_index_before, bank.total_deposit_shares)
            .map_err(|_| MarginError::LossExceedsDeposits)?;
    positions::forgive_debt(account, bank)?;
    bank.insurance_native -= settlement.from_insurance;
    bank.set_deposit_index(settlement.deposit_index);

    let still_bankrupt = account.has_borrows();
    account.bankrupt = still_bankrupt as u8;
    if !still_bankrupt {
        account.being_liquidated = 0;
    }
    Ok(WriteOff { settlement, collateral: c, deposit_index_before, still_bankrupt })
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
    fn deposits_exactly_equal_to_the_debts_are_solvent() {
        // Equity zero is not a loss: nothing to share out (mutation testing found this edge
        // untested).
        assert!(!can_write_off(750_000, Some(750_000), true, false, 1_000_000));
        assert!(can_write_off(749_999, Some(750_000), true, false, 1_000_000));
    }

    #[test]
    fn a_loss_larger_than_all_deposits_is_an_error() {
        assert_eq!(settle(10_001, 0, ONE_Q64, 10_000), Err(LossExceedsDeposits));
        assert_eq!(settle(10_000, 0, ONE_Q64, 10_000), Err(LossExceedsDeposits)); // index 0
        assert_eq!(settle(1, 0, ONE_Q64, 0), Err(LossExceedsDeposits));
        // With no loss to share, no depositors are needed.
        assert!(settle(5, 5, ONE_Q64, 0).is_ok());
    }

    #[test]
    fn a_write_off_forgives_the_debt_insurance_first_and_clears_the_flags() {
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.set_deposit_index(ONE_Q64);
        bank.set_borrow_index(ONE_Q64);
        bank.total_deposit_shares = 10_000;
        bank.insurance_native = 250;
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        positions::borrow(&mut account, &mut bank, 1_000).unwrap();
        account.bankrupt = 1;
        account.being_liquidated = 1;
        let collateral = Collateral { deposits_value: 10, liabs_value: None, has_debt: true };
        let done = write_off::<MarginError>(&mut account, &mut bank, 1_000, |_, _| Ok(collateral))
            .unwrap();
        assert_eq!(done.settlement, settle(1_000, 250, ONE_Q64, 10_000).unwrap());
        assert_eq!((bank.insurance_native, bank.total_borrow_shares), (0, 0));
        assert_eq!(bank.deposit_index(), done.settlement.deposit_index);
        assert!(!done.still_bankrupt && account.is_empty());
        assert_eq!((account.bankrupt, account.being_liquidated), (0, 0));
        // Nothing left to forgive; and a solvent, unflagged account is refused.
        let again = write_off::<MarginError>(&mut account, &mut bank, 1_000, |_, _| Ok(collateral));
        assert_eq!(again, Err(MarginError::NoBorrow));
        positions::borrow(&mut account, &mut bank, 100).unwrap();
        let solvent = Collateral { deposits_value: 500, liabs_value: Some(100), has_debt: true };
        let refused = write_off::<MarginError>(&mut account, &mut bank, 1_000, |_, _| Ok(solvent));
        assert_eq!(refused, Err(MarginError::NotBankrupt));
    }
}
