//! The exit phase after every sequence: everyone repays, withdraws and leaves, and the banks
//! are left with insurance and dust only.

use cross_margin::state::GroupConfigOptions;
use cross_margin::state::PositionKind;
use cross_margin_client::ix::{self, Movement};

use super::{Amount, Check, Kind, Op, State, World, BANKS, USERS};
use crate::*;

impl World {
    /// Every user repays every debt (topping up its wallet first), then withdraws every deposit
    /// and closes its account. All of it must succeed: nobody is locked in. Afterwards the banks
    /// hold only insurance and rounding dust, and every ledger is non-negative: no user took out
    /// more than it put in, borrowed, and was credited.
    pub(super) fn exit(&mut self) -> Check {
        let s = self.state();
        if (0..BANKS).any(|b| Self::accrual_overflows(&s, b)) {
            self.stats.overflowed += 1;
            return Ok(());
        }
        self.refresh_oracles();
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
        for u in 0..USERS {
            self.repay_everything(u)?;
        }
        for u in 0..USERS {
            self.withdraw_everything_and_close(u)?;
        }
        self.check_banks_emptied()?;
        self.stats.exits += 1;
        Ok(())
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

    /// No shares left, every vault holds at least its insurance, every ledger is non-negative.
    fn check_banks_emptied(&self) -> Check {
        let s = self.state();
        for b in 0..BANKS {
            let bank = &s.banks[b];
            ensure!(
                bank.total_deposit_shares == 0 && bank.total_borrow_shares == 0,
                "bank {b} still has shares after everyone left"
            );
            ensure!(
                s.vaults[b] >= bank.insurance_native,
                "bank {b}: vault {} < insurance {}",
                s.vaults[b],
                bank.insurance_native
            );
            for u in 0..USERS {
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
