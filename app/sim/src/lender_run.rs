//! A run on the lenders' side: from `from_step`, the lenders ask for their deposits back, a
//! further `request_pct` of what they had lent at the start at every step (up to all of it),
//! and withdraw as much of what they have asked for as the bank's liquidity allows. At high
//! utilization they cannot all leave: the report compares what they asked for with what they got.

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::scenario::Scenario;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LenderRun {
    pub from_step: usize,
    /// Percent of the start deposit asked for at each step, cumulative.
    pub request_pct: f64,
    /// The banks whose lenders run (by symbol); empty: every bank.
    #[serde(default)]
    pub banks: Vec<String>,
}

impl LenderRun {
    pub fn validate(&self, scenario: &Scenario) -> Result<()> {
        if self.from_step == 0 {
            bail!("lender_run.from_step must be >= 1");
        }
        if self.request_pct.is_nan() || self.request_pct <= 0.0 || self.request_pct > 100.0 {
            bail!("lender_run.request_pct must be within (0, 100], got {}", self.request_pct);
        }
        for symbol in &self.banks {
            scenario.bank_index(symbol)?;
        }
        Ok(())
    }

    /// Whether the lenders of bank `symbol` take part.
    pub fn runs_on(&self, symbol: &str) -> bool {
        self.banks.is_empty() || self.banks.iter().any(|s| s == symbol)
    }

    /// What the lenders have asked for by `step`, in all: `request_pct` of their start deposit
    /// `lent` for each step since `from_step` (inclusive), at most `lent`.
    pub fn asked_by(&self, step: usize, lent: u64) -> u64 {
        if step < self.from_step {
            return 0;
        }
        let steps = (step - self.from_step + 1) as f64;
        ((lent as f64 * self.request_pct / 100.0 * steps).floor() as u64).min(lent)
    }
}

/// This step's withdrawal: what has been asked for and not yet withdrawn, as far as the bank's
/// `available` liquidity allows.
pub fn withdrawal(asked: u64, withdrawn: u64, available: u64) -> u64 {
    asked.saturating_sub(withdrawn).min(available)
}

/// The lenders' side of a run, per bank (native units).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LenderLedger {
    /// Their deposit when the run starts (after calibration).
    pub lent_at_start: Vec<u64>,
    /// Asked for back so far, in all.
    pub asked: Vec<u64>,
    /// Withdrawn so far, in all (the run's requests only).
    pub withdrawn: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> LenderRun {
        LenderRun { from_step: 3, request_pct: 40.0, banks: Vec::new() }
    }

    #[test]
    fn requests_accumulate_from_the_start_deposit_up_to_all_of_it() {
        let run = run();
        assert_eq!(run.asked_by(2, 1_000), 0);
        assert_eq!(run.asked_by(3, 1_000), 400);
        assert_eq!(run.asked_by(4, 1_000), 800);
        assert_eq!(run.asked_by(5, 1_000), 1_000);
        assert_eq!(run.asked_by(50, 1_000), 1_000);
    }

    #[test]
    fn a_withdrawal_is_what_is_still_asked_for_within_the_liquidity() {
        assert_eq!(withdrawal(800, 300, 1_000), 500);
        assert_eq!(withdrawal(800, 300, 120), 120);
        assert_eq!(withdrawal(300, 300, 1_000), 0);
        assert_eq!(withdrawal(100, 300, 1_000), 0);
    }

    #[test]
    fn only_the_named_banks_run() {
        let mut run = run();
        assert!(run.runs_on("SOL"));
        run.banks = vec!["USDC".into()];
        assert!(run.runs_on("USDC") && !run.runs_on("SOL"));
    }
}
