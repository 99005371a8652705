//! The invariants that hold in every state, and the bookkeeping they are checked against: each
//! user's no-free-lunch ledger and each vault's rounding budget.

use cross_margin::health::PositionShares;
use cross_margin::math::{mul_q64, Round, ONE_Q64};
use cross_margin::positions;
use cross_margin::state::MarginAccount;
use cross_margin_testkit::invariants::{no_flash_loan_open, share_sums, vault_covers_claims};

use super::{Check, State, World, BANKS};

/// The accounts that exist, labelled by user.
pub(super) fn labelled(state: &State) -> impl Iterator<Item = (String, &MarginAccount)> {
    let accounts = state.accounts.iter().enumerate();
    accounts.filter_map(|(u, a)| a.as_ref().map(|a| (format!("user {u}"), a)))
}

impl World {
    /// The invariants that hold in every state: vault conservation and share sums per bank
    /// (the state-only ones are the test kit's, shared with the keeper's soak), every user's
    /// no-free-lunch ledger, and no account left inside a flash loan.
    pub(super) fn check_state(&self, state: &State, when: &str) -> Check {
        no_flash_loan_open(labelled(state), when)?;
        for b in 0..BANKS {
            self.check_vault(state, b, when)?;
            let accounts = state.accounts.iter().flatten();
            share_sums(&state.banks[b], std::slice::from_ref(&state.perp), accounts, when)?;
        }
        self.check_ledgers(state, when)?;
        self.check_perp(state, when)
    }

    /// The vault covers the bank's claims, and holds at most the rounding budget more.
    fn check_vault(&self, state: &State, b: usize, when: &str) -> Check {
        let excess = vault_covers_claims(&state.banks[b], state.vaults[b], when)?;
        ensure!(
            excess as u128 <= self.dust_budget[b],
            "{when}: bank {b}: vault {} exceeds claims by {excess} > rounding budget {}",
            state.vaults[b],
            self.dust_budget[b]
        );
        Ok(())
    }

    /// No user's position in a bank is worth more than its ledger there.
    fn check_ledgers(&self, state: &State, when: &str) -> Check {
        for (u, account) in state.accounts.iter().enumerate() {
            for b in 0..BANKS {
                let equity = match account {
                    Some(a) => {
                        positions::deposit_native(a, &state.banks[b]).unwrap() as i128
                            - positions::borrow_native(a, &state.banks[b]).unwrap() as i128
                    }
                    None => 0,
                };
                ensure!(
                    equity <= self.ledger[u][b],
                    "{when}: user {u} bank {b}: position worth {equity} > {} put in, net of \
                     what it took out, plus interest and liquidation credits",
                    self.ledger[u][b]
                );
            }
        }
        Ok(())
    }

    /// Interest and socialized losses change positions' worth without a token moving: credit
    /// (or debit) each user's ledger, rounding for the user so the ledger stays an upper bound.
    pub(super) fn credit_index_changes(&mut self, before: &State, after: &State) {
        self.credit_pool_interest(before, after);
        for b in 0..BANKS {
            let (d0, d1) = (before.banks[b].deposit_index(), after.banks[b].deposit_index());
            let (b0, b1) = (before.banks[b].borrow_index(), after.banks[b].borrow_index());
            if d0 == d1 && b0 == b1 {
                continue;
            }
            for (u, account) in before.accounts.iter().enumerate() {
                let Some(account) = account else { continue };
                let Some(slot) = account.find(b as u16) else { continue };
                match account.positions[slot].shares().expect("active") {
                    PositionShares::Deposit(s) if d1 > d0 => {
                        self.ledger[u][b] += mul_q64(s, d1 - d0, Round::Up).unwrap() as i128
                    }
                    PositionShares::Deposit(s) if d1 < d0 => {
                        self.ledger[u][b] -= mul_q64(s, d0 - d1, Round::Down).unwrap() as i128
                    }
                    PositionShares::Borrow(s) if b1 > b0 => {
                        self.ledger[u][b] -= mul_q64(s, b1 - b0, Round::Down).unwrap() as i128
                    }
                    _ => {}
                }
            }
        }
    }

    /// An instruction touched the bank: its vault may keep a few more index units of dust.
    pub(super) fn touch(&mut self, state: &State, bank: usize) {
        let b = &state.banks[bank];
        let index = b.deposit_index().max(b.borrow_index()).max(ONE_Q64);
        let units = (index >> 64) + 2;
        self.dust_budget[bank] += 8 * units;
    }

    /// A rejected instruction changed nothing the checks read.
    pub(super) fn unchanged(&self, before: &State, after: &State) -> Check {
        ensure!(
            before
                .banks
                .iter()
                .zip(&after.banks)
                .all(|(a, b)| bytemuck::bytes_of(a) == bytemuck::bytes_of(b)),
            "a rejected instruction changed a bank"
        );
        ensure!(before.vaults == after.vaults, "a rejected instruction moved vault tokens");
        ensure!(before.wallets == after.wallets, "a rejected instruction moved wallet tokens");
        ensure!(
            bytemuck::bytes_of(&before.group) == bytemuck::bytes_of(&after.group),
            "a rejected instruction changed the group"
        );
        ensure!(
            bytemuck::bytes_of(&before.perp) == bytemuck::bytes_of(&after.perp),
            "a rejected instruction changed the perp market"
        );
        for (a, b) in before.accounts.iter().zip(&after.accounts) {
            let same = match (a, b) {
                (Some(a), Some(b)) => bytemuck::bytes_of(a) == bytemuck::bytes_of(b),
                (None, None) => true,
                _ => false,
            };
            ensure!(same, "a rejected instruction changed a margin account");
        }
        Ok(())
    }
}
