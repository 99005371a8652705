//! The invariants that hold in every state, and the bookkeeping they are checked against: each
//! user's no-free-lunch ledger and each vault's rounding budget.

use cross_margin::health::PositionShares;
use cross_margin::math::{mul_q64, Round, ONE_Q64};
use cross_margin::positions;

use super::{claims, Check, State, World, BANKS};

impl World {
    /// The invariants that hold in every state: vault conservation and share sums per bank,
    /// every user's no-free-lunch ledger, and no account left inside a flash loan.
    pub(super) fn check_state(&self, state: &State, when: &str) -> Check {
        for (u, account) in state.accounts.iter().enumerate() {
            let open = account.as_ref().is_some_and(|a| a.is_in_flash_loan());
            ensure!(!open, "{when}: user {u}'s account is left inside a flash loan");
        }
        for b in 0..BANKS {
            self.check_vault(state, b, when)?;
            check_shares(state, b, when)?;
        }
        self.check_ledgers(state, when)?;
        self.check_perp(state, when)
    }

    /// The vault covers the bank's claims, and holds at most the rounding budget more.
    fn check_vault(&self, state: &State, b: usize, when: &str) -> Check {
        let (vault, claims) = claims(state, b);
        let vault = vault as i128;
        ensure!(
            vault >= claims,
            "{when}: bank {b}: vault {vault} < deposits − borrows + insurance {claims}"
        );
        ensure!(
            (vault - claims) as u128 <= self.dust_budget[b],
            "{when}: bank {b}: vault {vault} exceeds claims {claims} by {} > rounding budget {}",
            vault - claims,
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

/// The accounts' deposit and borrow shares in bank `b` sum to the bank's totals; the perp pool's
/// deposit shares are part of its settle bank's.
fn check_shares(state: &State, b: usize, when: &str) -> Check {
    let (mut deposit_shares, mut borrow_shares) = (0u128, 0u128);
    if state.perp.settle_bank_index as usize == b {
        deposit_shares += state.perp.pool_deposit_shares as u128;
        deposit_shares += state.perp.insurance_deposit_shares as u128;
    }
    for account in state.accounts.iter().flatten() {
        for p in account.active_positions().filter(|p| p.bank_index as usize == b) {
            match p.shares().expect("active") {
                PositionShares::Deposit(s) => deposit_shares += s as u128,
                PositionShares::Borrow(s) => borrow_shares += s as u128,
            }
        }
    }
    let bank = &state.banks[b];
    ensure!(
        deposit_shares == bank.total_deposit_shares as u128,
        "{when}: bank {b}: accounts hold {deposit_shares} deposit shares, bank counts {}",
        bank.total_deposit_shares
    );
    ensure!(
        borrow_shares == bank.total_borrow_shares as u128,
        "{when}: bank {b}: accounts owe {borrow_shares} borrow shares, bank counts {}",
        bank.total_borrow_shares
    );
    Ok(())
}
