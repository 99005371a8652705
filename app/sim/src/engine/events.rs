//! A step's scripted events on the lending side: the scenario's attacker, and the open-interest
//! collapse (borrowers repay and leave, lenders pull deposits).

use anyhow::{anyhow, Result};
use cross_margin::error::MarginError;
use cross_margin::health::PositionShares;
use cross_margin::positions;

use super::{failed, native, program, Engine};

impl Engine<'_> {
    /// The scenario's attacker: opens its account and deposits the token at `from_step`, then
    /// at every step until `until_step` borrows in each of its banks the most the program
    /// allows (a binary search over amounts; every refusal is a real transaction).
    pub(super) fn attack(&mut self) -> Result<()> {
        let Some(spec) = &self.scenario.attacker else { return Ok(()) };
        if self.step < spec.from_step || self.step > spec.until_step {
            return Ok(());
        }
        if self.attacker.is_none() {
            let bank = self.scenario.bank_index(&spec.collateral)?;
            let token = &self.scenario.banks[bank];
            let amount = native(spec.collateral_usd / token.price, token.decimals);
            let mut funds = vec![0u64; self.banks.len()];
            funds[bank] = amount;
            let user = self.sandbox.user(&funds).map_err(|f| failed("attacker", &f))?;
            let bank_ref = self.banks[bank];
            self.sandbox.deposit(&user, &bank_ref, amount).map_err(|f| failed("attacker", &f))?;
            self.transactions += 3;
            self.attacker = Some(user);
        }
        // Taken out while the attack borrows (an error ends the run anyway), put back after.
        let user = self.attacker.take().expect("opened above");
        for symbol in spec.borrow.clone() {
            let bank = self.scenario.bank_index(&symbol)?;
            let bank_ref = self.banks[bank];
            // Everything first; then a binary search between `lo` (known to pass, 0) and `hi`
            // (known to fail), to 0.01%. A success borrows `amount` and searches the rest again.
            let mut hi = self.accrued(bank).available_liquidity().unwrap_or(0);
            let lo = 0u64;
            let mut amount = hi;
            let mut limited_by = None;
            while amount > lo {
                self.transactions += 1;
                match self.sandbox.borrow(&user, &bank_ref, amount) {
                    Ok(_) => {
                        self.attacker_borrowed_usd += self.usd(bank, amount);
                        hi -= amount;
                    }
                    Err(f) => {
                        let expected = [
                            MarginError::InitHealthNegative,
                            MarginError::NetBorrowLimitExceeded,
                            MarginError::InsufficientLiquidity,
                            MarginError::BorrowLimitExceeded,
                        ];
                        if !expected.iter().any(|e| f.custom_code() == Some((*e).into())) {
                            return Err(failed("attacker borrow", &f));
                        }
                        limited_by = f.error_name().map(str::to_owned);
                        hi = amount;
                    }
                }
                if hi - lo <= (hi / 10_000).max(1) {
                    break;
                }
                amount = lo + (hi - lo) / 2;
            }
            if let Some(name) = limited_by {
                *self.attacker_limited_by.entry(name).or_default() += 1;
            }
        }
        self.attacker = Some(user);
        Ok(())
    }

    /// A fraction of borrowers repay and withdraw everything; lenders pull a fraction of their
    /// deposits, as far as liquidity allows.
    pub(super) fn collapse(&mut self, borrower_fraction: f64, lender_fraction: f64) -> Result<()> {
        let count = (self.users.len() as f64 * borrower_fraction).round() as usize;
        let mut order: Vec<usize> = (0..self.users.len()).collect();
        for i in (1..order.len()).rev() {
            let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for &u in order.iter().take(count) {
            let account = self.sandbox.margin_account(&self.users[u]);
            if account.bankrupt != 0 {
                continue;
            }
            for position in account.active_positions() {
                let bank = position.bank_index as usize;
                if let Some(PositionShares::Borrow(_)) = position.shares() {
                    let debt = program(positions::borrow_native(&account, &self.accrued(bank)))?;
                    let user = &self.users[u];
                    self.sandbox.chain.mint_to(&user.tokens[bank], debt);
                    let bank_ref = self.banks[bank];
                    self.sandbox
                        .repay(user, &bank_ref, debt)
                        .map_err(|f| failed("collapse repay", &f))?;
                    self.transactions += 1;
                }
            }
            let account = self.sandbox.margin_account(&self.users[u]);
            for position in account.active_positions() {
                let bank = position.bank_index as usize;
                let amount = program(positions::deposit_native(&account, &self.accrued(bank)))?;
                let bank_ref = self.banks[bank];
                let user = &self.users[u];
                match self.sandbox.withdraw(user, &bank_ref, amount) {
                    Ok(_) => {}
                    Err(f)
                        if f.custom_code() == Some(MarginError::InsufficientLiquidity.into()) => {}
                    Err(f) => return Err(failed("collapse withdraw", &f)),
                }
                self.transactions += 1;
            }
        }
        if lender_fraction > 0.0 {
            let account = self.sandbox.margin_account(&self.lender);
            for bank in 0..self.banks.len() {
                let state = self.accrued(bank);
                let held = program(positions::deposit_native(&account, &state))?;
                let available = state.available_liquidity().map_err(|_| anyhow!("overflow"))?;
                let amount = ((held as f64 * lender_fraction) as u64).min(available);
                if amount > 0 {
                    let bank_ref = self.banks[bank];
                    self.sandbox
                        .withdraw(&self.lender, &bank_ref, amount)
                        .map_err(|f| failed("lender withdraw", &f))?;
                    self.transactions += 1;
                }
            }
        }
        Ok(())
    }
}
