//! The exit phase after every sequence: every perp position is closed and settled (losses
//! first: they pay the pool) and every LP redeems its pool shares; then everyone repays,
//! withdraws and leaves, and the banks are left with insurance and dust only (and the pool's
//! dust in the settle bank).

use cross_margin::health::PositionShares;
use cross_margin::state::GroupConfigOptions;
use cross_margin::state::PositionKind;
use cross_margin_client::ix::{self, Movement};

use super::perp_ops::{pool_native, Refusal};
use super::{Amount, Check, Kind, Op, PerpSize, State, World, ACCOUNTS, BANKS};
use crate::*;

/// What the exit phase could not unwind, by the known limits of perps before issue 17.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Leftovers {
    /// A perp gain is left unpaid: the pool's deposit ran out (its LPs' shares are worth
    /// nothing).
    short: bool,
    /// Accounts flagged bankrupt by a token liquidation while holding a perp position: the
    /// program refuses them every order (reduce-only too), every withdrawal and the write-off
    /// (`PerpPositionsOpen`), and the flag never clears while a perp slot is open. Their
    /// position stays open (see `properties.rs`, `bankrupt_flag_locks_perp_position`).
    locked: [bool; ACCOUNTS],
}

impl Leftovers {
    fn any_locked(&self) -> bool {
        self.locked.iter().any(|&l| l)
    }
}

impl World {
    /// Every position is closed and settled and every LP redeems its pool shares; every user
    /// repays every debt (topping up its wallet first), then withdraws every deposit and closes
    /// its account. All of it must succeed: nobody is locked in (but for [`Leftovers`]).
    /// Afterwards the banks hold only insurance and rounding dust, and every ledger is
    /// non-negative: no user took out more than it put in, borrowed, and was credited.
    pub(super) fn exit(&mut self) -> Check {
        let s = self.state();
        if (0..BANKS).any(|b| Self::accrual_overflows(&s, b)) {
            self.stats.overflowed += 1;
            return Ok(());
        }
        self.calm_oracles();
        let admin = self.m.admin.pubkey();
        let ix = ix::configure_group(
            self.m.group,
            admin,
            GroupConfigOptions {
                paused: Some(false),
                reduce_only: Some(false),
                ..Default::default()
            },
        );
        self.send_tx(&[ix]).map_err(|f| format!("unpause: {:?}", f.error))?;
        let left = self.exit_perps()?;
        for u in 0..ACCOUNTS {
            self.repay_everything(u)?;
        }
        for u in (0..ACCOUNTS).filter(|&u| !left.locked[u]) {
            self.withdraw_everything_and_close(u)?;
        }
        self.check_banks_emptied(&left)?;
        self.stats.exits += 1;
        self.stats.pool_short += left.short as u64;
        self.stats.pool_orphaned += self.book.orphaned as u64;
        self.stats.perp_locked += left.any_locked() as u64;
        Ok(())
    }

    /// Closes every perp position, settles every slot (losses first: they pay the pool), then
    /// redeems every LP's shares.
    fn exit_perps(&mut self) -> Result<Leftovers, String> {
        let mut left = Leftovers::default();
        for u in 0..ACCOUNTS {
            let s = self.state();
            if Self::perp_base(&s, u) == 0 {
                continue;
            }
            // A flagged account closes too (finding 24's fix: only new risk is refused).
            let (size, limit_bps) = (PerpSize::Close(0), None);
            let op = Op::PlacePerpOrder {
                user: u as u8,
                long: false,
                size,
                reduce_only: true,
                limit_bps,
            };
            self.exit_perp(&op, &format!("user {u} cannot close its perp position"))?;
        }
        for losses in [true, false] {
            for u in 0..ACCOUNTS {
                let s = self.state();
                if self
                    .simulate_settle_with(&s, u, true)
                    .is_ok_and(|sim| (sim.amount < 0) == losses)
                {
                    let what = format!("user {u}'s PnL cannot be settled");
                    self.exit_perp(&Op::SettleCovered { user: u as u8 }, &what)?;
                }
                if losses {
                    self.pay_the_rest_of_a_loss(u)?;
                }
            }
        }
        let s = self.state();
        let pool = pool_native(&s.perp, &s.banks[s.perp.settle_bank_index as usize]).unwrap();
        for (u, account) in s.accounts.iter().enumerate() {
            let Some(slot) = account.and_then(|a| a.find_perp(0).map(|i| a.perps[i])) else {
                continue;
            };
            if left.locked[u] {
                continue; // settled, but its position stays open
            }
            ensure!(slot.base_lots == 0, "user {u} still holds a perp position");
            ensure!(
                slot.quote_native == 0
                    || (slot.quote_native > 0 && (slot.quote_native as u64) > pool),
                "user {u}'s PnL {} is left unsettled, the pool holding {pool}",
                slot.quote_native
            );
            left.short |= slot.quote_native != 0;
        }
        for u in 0..ACCOUNTS {
            let s = self.state();
            let shares = s.accounts[u]
                .and_then(|a| a.find_perp(0).map(|i| a.perps[i].lp_shares))
                .unwrap_or(0);
            if shares == 0 {
                continue;
            }
            match self.simulate_pool_withdraw(&s, u, shares) {
                Err(Refusal::Error(MarginError::AmountTooSmall)) if left.short => {}
                // Open interest left by a locked account needs its cover.
                Err(Refusal::Error(MarginError::PoolCoverTooLow)) if left.any_locked() => {}
                _ => {
                    let op = Op::PoolWithdraw { user: u as u8, amount: Amount::All };
                    self.exit_perp(&op, &format!("LP {u} cannot redeem its {shares} pool shares"))?;
                }
            }
        }
        Ok(left)
    }

    /// One perp instruction of the exit phase: it must succeed, and is checked like any
    /// successful step.
    fn exit_perp(&mut self, op: &Op, what: &str) -> Check {
        let s = self.state();
        let (result, _) = self.send_perp(op, &s);
        let executed = result.map_err(|f| {
            format!("{what}: {:?} {:?}\n{}", f.error, f.error_name(), f.logs.join("\n"))
        })?;
        let after = self.state();
        self.credit_index_changes(&s, &after);
        self.after_success(op, &s, &after, &executed)?;
        self.check_state(&after, "exit perps")
    }

    /// A loss beyond what the account's equity could settle: the leaving user deposits the
    /// rest (its wallet topped up), and it settles.
    fn pay_the_rest_of_a_loss(&mut self, u: usize) -> Check {
        let s = self.state();
        let Some(account) = s.accounts[u] else { return Ok(()) };
        let Some(slot) = account.find_perp(0).map(|i| account.perps[i]) else { return Ok(()) };
        if slot.base_lots != 0 || slot.quote_native >= 0 {
            return Ok(());
        }
        // Funding is applied first: a unit more for its rounding.
        let owed = slot.quote_native.unsigned_abs() + 1;
        let b = self.perp.settle_bank.index as usize;
        if s.wallets[u][b] < owed {
            self.m.chain.mint_to(&self.users[u].tokens[b], owed - s.wallets[u][b]);
        }
        let s = self.state();
        let op = Op::Deposit { user: u as u8, bank: b as u8, amount: Amount::All };
        let owed = s.wallets[u][b]; // the whole wallet, as `Amount::All` deposits
        let ix = ix::deposit(&self.transfer(u, b), owed);
        self.exit_step(&op, &s, ix, &format!("user {u} cannot deposit {owed}"), "exit deposit")?;
        let what = format!("user {u}'s loss cannot be settled from its deposit");
        self.exit_perp(&Op::SettleCovered { user: u as u8 }, &what)
    }

    fn repay_everything(&mut self, u: usize) -> Check {
        let s = self.state();
        let Some(account) = s.accounts[u] else { return Ok(()) };
        for p in account.active_positions().filter(|p| p.kind() == PositionKind::Borrow) {
            let b = p.bank_index as usize;
            let debt = self.reference(&s, u, b, Kind::Repay);
            let wallet = s.wallets[u][b];
            if wallet < debt {
                self.m.chain.mint_to(&self.users[u].tokens[b], debt - wallet);
            }
            let s = self.state();
            let op = Op::Repay { user: u as u8, bank: b as u8, amount: Amount::All };
            let ix = ix::repay(&self.transfer(u, b), debt);
            let what = format!("user {u} cannot repay {debt} in bank {b}");
            self.exit_step(&op, &s, ix, &what, "exit repay")?;
        }
        Ok(())
    }

    fn withdraw_everything_and_close(&mut self, u: usize) -> Check {
        let s = self.state();
        let Some(account) = s.accounts[u] else { return Ok(()) };
        // Deposit shares worth no native unit (after a socialized loss) cannot be withdrawn;
        // `close_account` burns them (finding 17).
        let mut worthless = Vec::new();
        for p in account.active_positions() {
            let b = p.bank_index as usize;
            let s = self.state();
            let amount = self.reference(&s, u, b, Kind::Withdraw);
            if amount == 0 && p.kind() == PositionKind::Deposit {
                worthless.push(self.banks[b].address);
                continue;
            }
            let op = Op::Withdraw { user: u as u8, bank: b as u8, amount: Amount::All };
            let health = self.health_after(&s, u, b, Movement::Withdraw, amount);
            let ix = ix::withdraw(&self.transfer(u, b), amount, health);
            let what = format!("user {u} cannot withdraw its {amount} from bank {b}");
            self.exit_step(&op, &s, ix, &what, "exit withdraw")?;
        }
        let s = self.state();
        let account = s.accounts[u].as_ref().expect("open");
        ensure!(
            account.active_count() == worthless.len(),
            "user {u} still holds positions after repaying and withdrawing everything"
        );
        if account.has_perps() {
            return Ok(()); // an unpaid gain, or pool shares worth nothing (see `exit_perps`)
        }
        let (address, owner) = (self.users[u].account, self.users[u].keypair.pubkey());
        let ix = ix::close_account_burning(address, owner, &worthless);
        self.send_tx(&[ix]).map_err(|f| format!("user {u} cannot close: {:?}", f.error_name()))?;
        Ok(())
    }

    /// One repay or withdraw of the exit phase, as `op` in state `s`: it must succeed, and is
    /// checked like any successful step.
    fn exit_step(&mut self, op: &Op, s: &State, ix: Instruction, what: &str, when: &str) -> Check {
        let executed = self.send_tx(&[ix]).map_err(|f| {
            format!("{what}: {:?} {:?}\n{}", f.error, f.error_name(), f.logs.join("\n"))
        })?;
        let after = self.state();
        self.credit_index_changes(s, &after);
        self.after_success(op, s, &after, &executed)?;
        self.check_state(&after, when)
    }

    /// No shares left but the pool's (and a locked account's), every vault holds at least its
    /// insurance, every ledger is non-negative; unless something is left over, the perp market
    /// is empty and the pool holds dust only (or what came in while no LP held shares).
    fn check_banks_emptied(&self, left: &Leftovers) -> Check {
        let s = self.state();
        let market = &s.perp;
        let settle = market.settle_bank_index as usize;
        if !left.short && !left.any_locked() {
            ensure!(
                market.long_lots == 0
                    && market.short_lots == 0
                    && market.quote_sum() == 0
                    && market.funding_unapplied() == 0
                    && market.lp_shares == 0,
                "the perp market is not empty after everyone left"
            );
            let pool = pool_native(market, &s.banks[settle]).unwrap();
            let unit = (s.banks[settle].deposit_index() >> 64) as u64 + 1;
            ensure!(
                pool <= unit || self.book.orphaned,
                "the pool keeps {pool} after every LP left"
            );
        }
        for b in 0..BANKS {
            let bank = &s.banks[b];
            let mut left_shares = [0u64; 2];
            if b == settle {
                // The pool's and the market's insurance fund's (which stays).
                left_shares[0] = market.pool_deposit_shares + market.insurance_deposit_shares;
            }
            for (u, account) in s.accounts.iter().enumerate() {
                let Some(account) = account.filter(|_| left.locked[u]) else { continue };
                if let Some(p) = account.find(b as u16).and_then(|i| account.positions[i].shares())
                {
                    match p {
                        PositionShares::Deposit(s) => left_shares[0] += s,
                        PositionShares::Borrow(s) => left_shares[1] += s,
                    }
                }
            }
            ensure!(
                [bank.total_deposit_shares, bank.total_borrow_shares] == left_shares,
                "bank {b} still has shares after everyone left"
            );
            ensure!(
                s.vaults[b] >= bank.insurance_native,
                "bank {b}: vault {} < insurance {}",
                s.vaults[b],
                bank.insurance_native
            );
            for u in 0..ACCOUNTS {
                ensure!(
                    self.ledger[u][b] >= 0,
                    "user {u} took {} more of bank {b} out than it put in, borrowed and was credited",
                    -self.ledger[u][b]
                );
            }
        }
        Ok(())
    }
}
