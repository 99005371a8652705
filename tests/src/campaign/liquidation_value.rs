//! What a successful token liquidation did to each owner's wealth, from the accounts' positions
//! before and after (not from the event), valued at the oracle prices it exchanged at (issue 23):
//! - **fees are the bank's**: the liquidator gains at most the asset bank's liquidation fee on the
//!   debt it took over; and the amounts it reports pay it (unless the fee cap for a solvent
//!   account or the collateral left limited the step) at least that less one native unit of
//!   the collateral and 3 micro-USD (the roundings of docs/LIQUIDATION.md);
//! - **no owner profits from being liquidated**: the liquidatee's owner loses value, also when
//!   the liquidator is its own other account (the owner then loses the insurance fee).

use cross_margin::events::Liquidation;
use cross_margin::positions;
use cross_margin::state::{Bank, MarginAccount};

use super::executor::LiquidationCall;
use super::{Check, State, World, SIBLING};

/// The accounts of the owner of account `u`: user 0 owns its first account and `SIBLING`.
pub(super) fn owner_accounts(u: usize) -> Vec<usize> {
    match u {
        0 | SIBLING => vec![0, SIBLING],
        other => vec![other],
    }
}

/// Micro-USD per native unit of a Q64.64 price.
fn per_unit(price: u128) -> f64 {
    price as f64 / 2f64.powi(64)
}

/// The account's net position in the bank (deposit − borrow, native units) at the bank's
/// indexes, 0 for a closed account.
fn net(account: Option<&MarginAccount>, bank: &Bank) -> f64 {
    account.map_or(0.0, |a| {
        positions::deposit_native(a, bank).unwrap() as f64
            - positions::borrow_native(a, bank).unwrap() as f64
    })
}

impl World {
    /// The fee and owner checks of a successful liquidation (module docs). Positions before and
    /// after are both valued at the indexes after (the step accrues interest first), so only
    /// what the step moved counts.
    pub(super) fn check_liquidation_value(
        &self,
        (s0, s1): (&State, &State),
        call: &LiquidationCall,
        event: &Liquidation,
    ) -> Check {
        let LiquidationCall { liquidator: lr, liquidatee: le, liab: l, asset: a, .. } = *call;
        let (m_l, m_a) = (per_unit(event.liab_price), per_unit(event.asset_price));
        // The value change of some accounts, and a bound on its floating-point error (a few
        // ulps of the magnitudes summed; far below a micro-USD).
        let value_change = |accounts: &[usize]| -> (f64, f64) {
            accounts.iter().fold((0.0, 0.0), |(value, error), &u| {
                let (before, after) = (s0.accounts[u].as_ref(), s1.accounts[u].as_ref());
                let dl = (net(after, &s1.banks[l]) - net(before, &s1.banks[l])) * m_l;
                let da = (net(after, &s1.banks[a]) - net(before, &s1.banks[a])) * m_a;
                (value + dl + da, error + 8.0 * f64::EPSILON * (dl.abs() + da.abs()))
            })
        };
        let fee_bps = s1.banks[a].config.liquidation_fee_bps as f64;
        let fee = event.liab_amount as f64 * m_l * fee_bps / 10_000.0;
        // Upper bound, on the positions: never more than the bank's fee.
        let (gain, error) = value_change(&[lr]);
        if gain > fee + error + 8.0 * f64::EPSILON * fee {
            return Err(format!(
                "the liquidator gained {gain:.3} micro-USD, more than the bank's {fee_bps} bps \
                 fee ({fee:.3}) on {} of debt",
                event.liab_amount
            ));
        }
        // Lower bound, on the amounts the event reports (the positions add share roundings):
        // the collateral paid is rounded down once to whole native units, the debt's value and
        // the fee to whole micro-USD (docs/LIQUIDATION.md), unless the fee cap of a solvent
        // account or the collateral left limited it.
        let paid = event.asset_to_liquidator as f64 * m_a - event.liab_amount as f64 * m_l;
        let held = s0.accounts[le]
            .as_ref()
            .map_or(0, |acc| positions::deposit_native(acc, &s1.banks[a]).unwrap());
        let exhausted = event.asset_to_liquidator + event.asset_to_insurance + 1 >= held;
        if !exhausted && !self.fee_capped(s0, call, event) && paid < fee - m_a - 3.0 {
            return Err(format!(
                "the liquidator was paid {paid:.3} micro-USD over the debt's value, less than the \
                 bank's {fee_bps} bps fee ({fee:.3}) less one collateral unit ({m_a:.3}) and 3"
            ));
        }
        let owner = owner_accounts(le);
        let (owner_change, error) = value_change(&owner);
        if owner_change > error {
            return Err(format!(
                "the owner of account {le} gained {owner_change:.3} micro-USD from its \
                 liquidation by account {lr}"
            ));
        }
        Ok(())
    }

    /// Whether the fee cap of a solvent liquidatee may have limited the step's fees: its equity
    /// (deposits − debts at the health prices) within the step's fees and slack.
    fn fee_capped(&self, s0: &State, call: &LiquidationCall, event: &Liquidation) -> bool {
        let Some(account) = s0.accounts[call.liquidatee].as_ref() else { return true };
        let last = self.last_prices(s0);
        let dust = s0.group.bankruptcy_dust_quote;
        // With the pair's banks accrued to now, as the program prices the account.
        let banks = Self::accrued(s0, &[call.liab, call.asset]);
        let Ok(report) = self.report_as_liquidated(account, &banks, &last, dust) else {
            return true;
        };
        let (deposits, debts) = (report.totals.deposits_value, report.totals.liabs_value);
        let bank = &s0.banks[call.asset].config;
        let fee_bps = (bank.liquidation_fee_bps + bank.insurance_fee_bps) as f64;
        let fees = event.liab_amount as f64 * per_unit(event.liab_price) * fee_bps / 10_000.0;
        deposits >= debts && ((deposits - debts) as f64) < 2.0 * fees + 1_000_000.0
    }
}
