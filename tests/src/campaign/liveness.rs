//! Liveness (issue 23): an account without perp slots that the checks find liquidatable (as
//! `liquidate` prices it, finding M-2's dust rule included), not due a write-off, holding a debt
//! and a collateral whose prices are usable and each worth at least the dust threshold, has a
//! liquidation the program accepts. After every step the campaign tries, on a copy of the chain,
//! the keeper's best step for each such account (the whole closed-form amount,
//! `max_liab_amount` unlimited) for its pairs in the keeper's order, largest debt and collateral
//! first, by a liquidator given ample collateral, and fails if none lands.

use crate::*;
use cross_margin::state::MarginAccount;
use cross_margin_client::ix;
use cross_margin_testkit::sandbox::User;

use super::executor::LiquidationCall;
use super::{Check, State, World, ACCOUNTS, LP};

/// The fourth bank, whose deposits are capped.
const RISKY: usize = 3;

/// The liquidator's collateral on the copy, in native units of one of the pair's tokens: far
/// more than the campaign's accounts borrow, so no step is refused for the liquidator's health.
const AMPLE: u64 = 1_000_000_000_000_000;

impl World {
    pub(super) fn check_liveness(&mut self, s: &State) -> Check {
        for le in 0..ACCOUNTS {
            let pairs = self.liquidation_pairs(s, le);
            let mut errors = vec![];
            for &(l, a) in &pairs {
                let saved = self.m.chain.svm.clone();
                let result = self.best_step(le, l, a);
                self.m.chain.svm = saved;
                match result {
                    Some(Ok(())) => break,
                    Some(Err(e)) => errors.push(format!("debt {l} collateral {a}: {e}")),
                    // No liquidator could be funded (reduce-only): nothing to judge.
                    None => return Ok(()),
                }
            }
            ensure!(
                pairs.is_empty() || errors.len() < pairs.len(),
                "liveness: account {le} is liquidatable at usable prices for its debt and \
                 collateral and not due a write-off, but no liquidation of it lands: {}",
                errors.join("; ")
            );
        }
        Ok(())
    }

    /// The (debt, collateral) pairs of a liquidatable account, not due a write-off, whose
    /// prices are usable and which are each worth at least the dust threshold (below it a step
    /// can round to nothing, and the debt at stake is under the threshold): debts by value,
    /// then collateral by value, largest first. None for an account that is not liquidatable
    /// or cannot be priced as `liquidate` prices it.
    fn liquidation_pairs(&self, s: &State, le: usize) -> Vec<(usize, usize)> {
        let Some(account) = s.accounts[le].as_ref() else { return vec![] };
        // With a perp slot part of the debt may be a perp loss, which `liquidate_perp` and
        // settlement reach, not a token liquidation.
        if account.has_perps() {
            return vec![];
        }
        let prices = self.prices(s);
        let last = self.last_prices(s);
        let dust = s.group.bankruptcy_dust_quote;
        let Ok(report) = self.report_as_liquidated(account, &s.banks, &last, dust) else {
            return vec![];
        };
        let usable = |liability: bool| {
            let mut ps: Vec<_> = report
                .positions
                .iter()
                .filter(|p| p.health.is_liability == liability && p.health.value >= dust)
                .filter(|p| prices[p.bank_index as usize].is_ok())
                .map(|p| (p.health.value, p.bank_index as usize))
                .collect();
            ps.sort_by(|a, b| b.cmp(a));
            ps.into_iter().map(|(_, b)| b).collect::<Vec<_>>()
        };
        let (debts, collateral) = (usable(true), usable(false));
        let mut pairs = vec![];
        for &l in &debts {
            for &a in collateral.iter().filter(|&&a| a != l) {
                // Judged with the pair's banks accrued to now, as `liquidate` judges it.
                let judged = self.judge_liquidatee(s, le, l, a);
                if judged.is_some_and(|j| j.liquidatable && !j.write_off) {
                    pairs.push((l, a));
                }
            }
        }
        pairs
    }

    /// The best step of pair (`l`, `a`) by a new account of the LP's owner holding `AMPLE`
    /// native units of one of the pair's tokens (not the capped fourth bank's): its health
    /// reads only the pair's prices, which are usable, so only the liquidatee can refuse it.
    /// `None` when the liquidator cannot be set up (a reduce-only group refuses its deposit).
    fn best_step(&mut self, le: usize, l: usize, a: usize) -> Option<Result<(), String>> {
        let (keypair, tokens) =
            (self.users[LP].keypair.insecure_clone(), self.users[LP].tokens.clone());
        let (ix, account) = ix::create_account(self.m.group, keypair.pubkey(), keypair.pubkey(), 9);
        self.send_tx(&[ix]).ok()?;
        let liquidator = User { keypair, account, tokens };
        let collateral = if a == RISKY { l } else { a };
        self.m.chain.mint_to(&liquidator.tokens[collateral], AMPLE);
        self.m.deposit(&liquidator, &self.banks[collateral], AMPLE).ok()?;
        let s = self.state();
        let mine: MarginAccount = self.m.chain.load(&account).expect("created");
        let call =
            LiquidationCall { liquidator: LP, liquidatee: le, liab: l, asset: a, max: u64::MAX };
        let owner = liquidator.keypair.pubkey();
        let ix = self.liquidate_ix_by(&s, &call, (account, Some(&mine)), owner);
        let result = self.send_tx(&[ix]).map(|_| ()).map_err(|failed| {
            failed.error_name().map_or_else(|| format!("{:?}", failed.error), String::from)
        });
        Some(result)
    }
}
