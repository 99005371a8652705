//! The lending markets' side of a run: calibration to each bank's target utilization after the
//! population is opened, the lenders' run (`[lender_run]`), and each step's rates and
//! liquidity, read from the program's bank state and its own interest accrual.

use anyhow::{anyhow, bail, Result};
use cross_margin::constants::SECONDS_PER_YEAR;
use cross_margin::positions;
use cross_margin::state::Bank;

use super::{failed, program, Engine};
use crate::calibration::{lender_deposit, target_bps, Calibrated};
use crate::lender_run::{withdrawal, LenderLedger};

/// A bank after setup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BankSetup {
    /// What calibration did, for a bank with a target.
    pub calibrated: Option<Calibrated>,
    /// The interest curve's kink: the optimal utilization and the program's borrow rate there.
    pub kink_utilization_bps: u32,
    pub kink_rate_bps: u32,
    pub max_rate_bps: u32,
}

/// One bank at the end of a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BankLiquidity {
    /// The depositors' APR, bps: the program's deposit index grown by one day of its own
    /// accrual at the current utilization, annualised.
    pub deposit_apr_bps: f64,
    /// What withdrawals and borrows may take (`Bank::available_liquidity`), dollars.
    pub available_usd: f64,
    /// The vault's token balance (available liquidity plus the insurance fund), dollars.
    pub vault_usd: f64,
    /// The lenders' run so far: asked for and withdrawn, in all, dollars at the step's price.
    pub lenders_asked_usd: f64,
    pub lenders_withdrawn_usd: f64,
}

const DAY: i64 = 86_400;

/// The depositors' APR at `bank`'s current state (accrued to now), bps.
pub fn deposit_apr_bps(bank: &Bank) -> f64 {
    let before = bank.deposit_index();
    let mut ahead = *bank;
    let _ = ahead.accrue_interest(bank.last_accrual_ts + DAY);
    let growth = ahead.deposit_index().saturating_sub(before) as f64 / before as f64;
    growth * (SECONDS_PER_YEAR as f64 / DAY as f64) * 10_000.0
}

impl Engine<'_> {
    /// Resizes the lenders' deposit in every bank with a target so that borrows / deposits
    /// reaches it (`calibration::lender_deposit`), with real deposits and withdrawals; records
    /// what each bank looks like after setup.
    pub(super) fn calibrate(&mut self) -> Result<Vec<BankSetup>> {
        let mut setups = Vec::with_capacity(self.banks.len());
        for index in 0..self.banks.len() {
            let spec = &self.scenario.banks[index];
            let mut calibrated = None;
            if let Some(pct) = spec.target_utilization_pct {
                let target = target_bps(pct);
                let state = self.accrued(index);
                let account = self.sandbox.margin_account(&self.lender);
                let lent = program(positions::deposit_native(&account, &state))?;
                let borrows = state.total_borrows_native().map_err(|_| anyhow!("overflow"))?;
                let deposits = state.total_deposits_native().map_err(|_| anyhow!("overflow"))?;
                let others = deposits.saturating_sub(lent);
                let wanted = match lender_deposit(borrows, others, target) {
                    Ok(wanted) => wanted,
                    Err(unreachable) => bail!(
                        "{}: target_utilization_pct {pct} is unreachable: the deposits that are \
                         not the lenders' (collateral, keepers, pools) allow at most {:.2}%",
                        spec.symbol,
                        unreachable.highest_bps as f64 / 100.0
                    ),
                };
                let bank_ref = self.banks[index];
                if wanted > lent {
                    self.sandbox.chain.mint_to(&self.lender.tokens[index], wanted - lent);
                    self.sandbox
                        .deposit(&self.lender, &bank_ref, wanted - lent)
                        .map_err(|f| failed("calibration deposit", &f))?;
                    self.transactions += 1;
                } else if wanted < lent {
                    self.sandbox
                        .withdraw(&self.lender, &bank_ref, lent - wanted)
                        .map_err(|f| failed("calibration withdraw", &f))?;
                    self.transactions += 1;
                }
                let reached = self.accrued(index).utilization_bps().unwrap_or(0);
                let account = self.sandbox.margin_account(&self.lender);
                let lent_after =
                    program(positions::deposit_native(&account, &self.accrued(index)))?;
                calibrated = Some(Calibrated {
                    target_bps: target,
                    reached_bps: reached,
                    lent_before: lent,
                    lent_after,
                });
            }
            let state = self.accrued(index);
            let kink = state.config.optimal_utilization_bps;
            setups.push(BankSetup {
                calibrated,
                kink_utilization_bps: kink,
                kink_rate_bps: state.borrow_rate_bps(kink),
                max_rate_bps: state.borrow_rate_bps(10_000),
            });
        }
        let account = self.sandbox.margin_account(&self.lender);
        let lent = (0..self.banks.len())
            .map(|b| program(positions::deposit_native(&account, &self.accrued(b))))
            .collect::<Result<Vec<u64>>>()?;
        let zeros = vec![0; lent.len()];
        self.lenders = LenderLedger { lent_at_start: lent, asked: zeros.clone(), withdrawn: zeros };
        Ok(setups)
    }

    /// The lenders' run: each bank's lenders ask for a further share of their start deposit
    /// and withdraw what the liquidity allows.
    pub(super) fn lender_run(&mut self) -> Result<()> {
        let Some(run) = &self.scenario.lender_run else { return Ok(()) };
        for index in 0..self.banks.len() {
            if !run.runs_on(&self.scenario.banks[index].symbol) {
                continue;
            }
            let asked = run.asked_by(self.step, self.lenders.lent_at_start[index]);
            self.lenders.asked[index] = asked;
            let state = self.accrued(index);
            let account = self.sandbox.margin_account(&self.lender);
            let held = program(positions::deposit_native(&account, &state))?;
            let available = state.available_liquidity().unwrap_or(0).min(held);
            let amount = withdrawal(asked, self.lenders.withdrawn[index], available);
            if amount == 0 {
                continue;
            }
            let bank_ref = self.banks[index];
            self.sandbox
                .withdraw(&self.lender, &bank_ref, amount)
                .map_err(|f| failed("lender run withdraw", &f))?;
            self.transactions += 1;
            self.lenders.withdrawn[index] += amount;
        }
        Ok(())
    }

    /// Every bank's rates and liquidity now.
    pub(super) fn bank_liquidity(&self) -> Result<Vec<BankLiquidity>> {
        (0..self.banks.len())
            .map(|index| {
                let state = self.accrued(index);
                let available = state.available_liquidity().map_err(|_| anyhow!("overflow"))?;
                let (vault, _) = self.sandbox.vault_and_claims(&self.banks[index]);
                let ledger = &self.lenders;
                let at = |v: &Vec<u64>| v.get(index).map_or(0.0, |n| self.usd(index, *n));
                Ok(BankLiquidity {
                    deposit_apr_bps: deposit_apr_bps(&state),
                    available_usd: self.usd(index, available),
                    vault_usd: self.usd(index, vault),
                    lenders_asked_usd: at(&ledger.asked),
                    lenders_withdrawn_usd: at(&ledger.withdrawn),
                })
            })
            .collect()
    }
}
