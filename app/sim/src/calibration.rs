//! Calibrating a bank to a target utilization: once the population has borrowed, the lenders'
//! deposit is resized so that the bank's borrows / deposits (the program's utilization) reaches
//! the scenario's `target_utilization_pct`. The engine measures the bank and moves the deposit
//! with real transactions (`engine/markets.rs`); the sizing itself is here, pure.

use anyhow::{bail, Result};

/// How close calibration lands, in bps of utilization: the program rounds deposits down and
/// borrows up, and the lenders' deposit is rounded to whole shares (docs/STRESS.md).
pub const TOLERANCE_BPS: u32 = 10;

/// What calibration did to one bank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibrated {
    pub target_bps: u32,
    /// The program's utilization right after calibration.
    pub reached_bps: u32,
    /// The lenders' deposit before and after, native units.
    pub lent_before: u64,
    pub lent_after: u64,
}

/// A target in percent as bps, refusing one outside (0, 100).
pub fn validate_target(symbol: &str, target_pct: Option<f64>) -> Result<()> {
    if let Some(pct) = target_pct {
        if pct.is_nan() || pct <= 0.0 || pct >= 100.0 {
            bail!("{symbol}: target_utilization_pct must be within (0, 100), got {pct}");
        }
    }
    Ok(())
}

/// The target in bps (rounded to the nearest).
pub fn target_bps(target_pct: f64) -> u32 {
    (target_pct * 100.0).round() as u32
}

/// Why a target cannot be reached by resizing the lenders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    /// The most utilization reachable: borrows over the deposits that are not the lenders'
    /// (borrowers' collateral, keepers, pools), bps.
    pub highest_bps: u32,
}

/// The lenders' deposit (native) at which `borrows` over all deposits is `target_bps`, given
/// `other_deposits` that are not the lenders'. Deposits needed: `ceil(borrows × 10,000 /
/// target)`; the lenders supply what the others do not. Unreachable when the others alone
/// already exceed it (their deposits dilute utilization below the target).
pub fn lender_deposit(
    borrows: u64,
    other_deposits: u64,
    target_bps: u32,
) -> Result<u64, Unreachable> {
    let needed = (borrows as u128 * 10_000).div_ceil(target_bps.max(1) as u128);
    if needed < other_deposits as u128 {
        let highest = borrows as u128 * 10_000 / (other_deposits as u128).max(1);
        return Err(Unreachable { highest_bps: highest.min(10_000) as u32 });
    }
    Ok(u64::try_from(needed - other_deposits as u128).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lenders_supply_what_the_target_needs_beyond_the_others() {
        // $8M borrowed, $2M of collateral deposits: 80% needs $10M, so the lenders bring $8M.
        assert_eq!(lender_deposit(8_000_000, 2_000_000, 8_000), Ok(8_000_000));
        // Rounded up: utilization never lands above the target by rounding.
        let lent = lender_deposit(1_000, 0, 3_000).unwrap();
        assert_eq!(lent, 3_334);
        assert!(1_000 * 10_000 / lent <= 3_000);
        // Nothing borrowed and nothing else deposited: no lenders needed; with other deposits,
        // nothing borrowed is 0% whatever the lenders do.
        assert_eq!(lender_deposit(0, 0, 6_000), Ok(0));
        assert_eq!(lender_deposit(0, 5, 6_000), Err(Unreachable { highest_bps: 0 }));
    }

    #[test]
    fn a_target_the_other_deposits_already_dilute_is_unreachable() {
        // $1M borrowed against $4M of others' deposits: at most 25%.
        assert_eq!(
            lender_deposit(1_000_000, 4_000_000, 8_000),
            Err(Unreachable { highest_bps: 2_500 })
        );
    }

    #[test]
    fn targets_outside_zero_to_a_hundred_are_refused_by_name() {
        assert!(validate_target("USDC", Some(80.0)).is_ok());
        assert!(validate_target("USDC", None).is_ok());
        for bad in [0.0, 100.0, -5.0, f64::NAN] {
            let error = validate_target("USDC", Some(bad)).unwrap_err().to_string();
            assert!(error.contains("USDC: target_utilization_pct"), "{error}");
        }
        assert_eq!(target_bps(72.5), 7_250);
    }
}
