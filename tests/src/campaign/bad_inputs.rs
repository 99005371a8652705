//! The attacks ([`BadOp`]): one function each, building the tampered transaction and the
//! errors it must end in.

use anchor_lang::error::ErrorCode as AnchorError;
use anchor_lang::prelude::AccountMeta;
use cross_margin::perp::{PerpOrder, PerpSide};
use cross_margin::state::GroupConfigOptions;
use cross_margin_client::ix::{self, Movement, Transfer};
use cross_margin_client::perp_ix;

use super::executor::{LiquidationCall, Sent, ALL_BANKS};
use super::outcomes::{Allowed, Expect, A, CLOSED, M, ORACLE_ERRORS};
use super::{Amount, BadOp, Cosplay, Kind, PerpTamper, State, Tamper, World, BANKS, USERS};
use crate::*;

/// The honest instruction of `kind`.
fn kind_ix(t: &Transfer, kind: Kind, amount: u64, health: Vec<AccountMeta>) -> Instruction {
    match kind {
        Kind::Deposit => ix::deposit(t, amount),
        Kind::Repay => ix::repay(t, amount),
        Kind::Withdraw => ix::withdraw(t, amount, health),
        Kind::Borrow => ix::borrow(t, amount, health),
    }
}

/// `other`, or the next one of `n` if it is `this`.
fn another(this: u8, other: u8, n: usize) -> u8 {
    if other == this {
        (this + 1) % n as u8
    } else {
        other
    }
}

/// The health-check errors a tampered withdraw or borrow may end in, besides the honest
/// instruction's own.
const HEALTH_TAMPERING: [Expect; 19] = [
    M(MarginError::HealthPerpMarketMismatch),
    M(MarginError::HealthSettleBankMismatch),
    M(MarginError::HealthAccountsMissing),
    M(MarginError::HealthAccountsExtra),
    M(MarginError::HealthBankMismatch),
    M(MarginError::HealthBankDuplicate),
    M(MarginError::HealthBankWrongGroup),
    M(MarginError::HealthBankInvalid),
    M(MarginError::OracleAccountMismatch),
    M(MarginError::ZeroAmount),
    M(MarginError::InsufficientDeposit),
    M(MarginError::InsufficientLiquidity),
    M(MarginError::InitHealthNegative),
    M(MarginError::AccountBankrupt),
    M(MarginError::BorrowAgainstOwnDeposit),
    M(MarginError::GroupReduceOnly),
    M(MarginError::GroupPaused),
    M(MarginError::BorrowLimitExceeded),
    M(MarginError::NoFreePositionSlot),
];

impl World {
    pub(super) fn send_bad(&mut self, bad: BadOp, s: &State) -> Sent {
        match bad {
            BadOp::ForeignSigner { user, victim, bank, kind } => {
                self.foreign_signer(s, user, another(user, victim, USERS), bank, kind)
            }
            BadOp::Unsigned { user, bank, kind } => self.unsigned(s, user, bank, kind),
            BadOp::WrongUserToken { user, bank, other } => {
                self.wrong_user_token(user, bank, another(bank, other, BANKS))
            }
            BadOp::WrongVault { user, bank, other, kind } => {
                self.wrong_vault(s, user, bank, another(bank, other, BANKS), kind)
            }
            BadOp::ForeignBank { user, kind } => self.foreign_bank(user, kind),
            BadOp::Health { user, bank, borrow, tamper, amount } => {
                self.tampered_health(s, user as usize, bank as usize, borrow, tamper, amount)
            }
            BadOp::SelfLiquidation { user, liab, asset } => {
                let allowed = Allowed::failure(&[M(MarginError::SelfLiquidation)]);
                self.bad_liquidation(s, user, user, liab, asset, allowed)
            }
            BadOp::SameBankLiquidation { liquidator, liquidatee, bank } => {
                let liquidatee = another(liquidator, liquidatee, USERS);
                let allowed = Allowed::failure(&[M(MarginError::LiquidationSameBank)]);
                self.bad_liquidation(s, liquidator, liquidatee, bank, bank, allowed)
            }
            BadOp::NotAdminFund { user, bank } => self.not_admin_fund(user as usize, bank as usize),
            BadOp::NotAdminConfigure { user } => self.not_admin_configure(user as usize),
            BadOp::Cosplay { user, bank, what } => self.cosplay(user as usize, bank as usize, what),
            BadOp::Perp { user, other, what } => self.bad_perp(s, user, other, what),
        }
    }

    /// A perp order with one account substituted: Anchor's constraints refuse it by name.
    fn bad_perp(&mut self, s: &State, user: u8, other: u8, what: PerpTamper) -> Sent {
        let u = user as usize;
        let mut trade = self.perp_trade(u);
        let error = match what {
            PerpTamper::ForeignSigner => {
                trade.account =
                    self.users[another(user, other % USERS as u8, USERS) as usize].account;
                M(MarginError::NotAccountOwner)
            }
            PerpTamper::WrongOracle => {
                trade.market.oracle = self.banks[other as usize % BANKS].oracle;
                M(MarginError::OracleAccountMismatch)
            }
            PerpTamper::WrongSettleBank => {
                trade.market.settle_bank = self.banks[1 + other as usize % (BANKS - 1)];
                M(MarginError::InvalidSettleBank)
            }
            PerpTamper::BankAsMarket => {
                trade.market.address = self.banks[other as usize % BANKS].address;
                A(AnchorError::AccountDiscriminatorMismatch)
            }
        };
        let account = s.accounts[u].unwrap_or_else(bytemuck::Zeroable::zeroed);
        let health = self.m.health_accounts_with_slot(&account, &self.perp);
        let order = PerpOrder::market(PerpSide::Long, 1);
        let ix = perp_ix::place_perp_order(&trade, order, health);
        (self.send_tx(&[ix]), Allowed::failure(&[error]).and(&CLOSED))
    }

    /// `user` signs for `victim`'s margin account (with its own token account).
    fn foreign_signer(&mut self, s: &State, user: u8, victim: u8, bank: u8, kind: Kind) -> Sent {
        let (u, v, b) = (user as usize, victim as usize, bank as usize);
        let mut t = self.transfer(v, b);
        t.owner = self.users[u].keypair.pubkey();
        t.user_token = self.users[u].tokens[b];
        let health = self.health_after(s, v, b, kind.movement(), 1_000);
        let ix = kind_ix(&t, kind, 1_000, health);
        let allowed = Allowed::failure(&[M(MarginError::NotAccountOwner)]).and(&CLOSED);
        (self.send_tx(&[ix]), allowed)
    }

    fn unsigned(&mut self, s: &State, user: u8, bank: u8, kind: Kind) -> Sent {
        let (u, b) = (user as usize, bank as usize);
        let t = self.transfer(u, b);
        let health = self.health_after(s, u, b, kind.movement(), 1_000);
        let mut ix = kind_ix(&t, kind, 1_000, health);
        let owner = t.owner;
        ix.accounts.iter_mut().filter(|a| a.pubkey == owner).for_each(|a| a.is_signer = false);
        let allowed = Allowed::failure(&[A(AnchorError::AccountNotSigner)]).and(&CLOSED);
        (self.send_tx(&[ix]), allowed)
    }

    /// A deposit from a token account of another mint.
    fn wrong_user_token(&mut self, user: u8, bank: u8, other: u8) -> Sent {
        let mut t = self.transfer(user as usize, bank as usize);
        t.user_token = self.users[user as usize].tokens[other as usize];
        let ix = ix::deposit(&t, 1_000);
        let allowed = Allowed::failure(&[M(MarginError::WrongMint)]).and(&CLOSED);
        (self.send_tx(&[ix]), allowed)
    }

    fn wrong_vault(&mut self, s: &State, user: u8, bank: u8, other: u8, kind: Kind) -> Sent {
        let (u, b) = (user as usize, bank as usize);
        let mut t = self.transfer(u, b);
        t.bank.vault = self.banks[other as usize].vault;
        let health = self.health_after(s, u, b, kind.movement(), 1_000);
        let ix = kind_ix(&t, kind, 1_000, health);
        let allowed = Allowed::failure(&[M(MarginError::WrongVault)]).and(&CLOSED);
        (self.send_tx(&[ix]), allowed)
    }

    fn foreign_bank(&mut self, user: u8, kind: Kind) -> Sent {
        let mut t = self.transfer(user as usize, 0);
        t.bank = self.foreign;
        let ix = kind_ix(&t, kind, 1_000, vec![]);
        let allowed = Allowed::failure(&[M(MarginError::WrongGroup)]).and(&CLOSED);
        (self.send_tx(&[ix]), allowed)
    }

    /// A withdraw or borrow whose health accounts are tampered with.
    fn tampered_health(
        &mut self,
        s: &State,
        u: usize,
        b: usize,
        borrow: bool,
        tamper: Tamper,
        amount: Amount,
    ) -> Sent {
        let kind = if borrow { Kind::Borrow } else { Kind::Withdraw };
        let movement = kind.movement();
        let amount = self.amount(amount, self.reference(s, u, b, kind));
        let mut health = self.health_after(s, u, b, movement, amount);
        let tampered = self.tamper(&mut health, tamper);
        let t = self.transfer(u, b);
        let ix = kind_ix(&t, kind, amount, health);
        // The tampering is only rejected if the health check runs (the account has
        // borrows after) and the earlier checks pass; otherwise any outcome of the
        // honest instruction is fine.
        let must_fail = tampered && needs_health_check(s, u, b, movement, amount);
        let allowed = if must_fail { Allowed::failure(&[]) } else { Allowed::success(&[]) };
        let mut allowed = allowed.and(&HEALTH_TAMPERING).and(&ORACLE_ERRORS).and(&CLOSED);
        self.overflow_allowed(s, &ALL_BANKS, &mut allowed);
        (self.send_tx(&[ix]), allowed)
    }

    /// Tampers with health accounts; false if this tampering does not apply to the list.
    fn tamper(&self, health: &mut Vec<AccountMeta>, tamper: Tamper) -> bool {
        let n = health.len() / 2;
        match tamper {
            Tamper::Truncate if n > 0 => {
                health.truncate(2 * n - 2);
                true
            }
            Tamper::Extra => {
                let b = &self.banks[(n % BANKS + 1) % BANKS];
                health.push(AccountMeta::new_readonly(b.address, false));
                health.push(AccountMeta::new_readonly(b.oracle, false));
                true
            }
            Tamper::Reverse if n > 1 => {
                let pairs: Vec<_> = health.chunks(2).rev().flat_map(|c| c.to_vec()).collect();
                *health = pairs;
                true
            }
            Tamper::Duplicate if n > 1 => {
                health[2] = health[0].clone();
                health[3] = health[1].clone();
                true
            }
            Tamper::OracleSwap if n > 0 => {
                let other = self.banks.iter().find(|b| b.oracle != health[1].pubkey).unwrap();
                health[1].pubkey = other.oracle;
                true
            }
            Tamper::ForeignBank if n > 0 => {
                health[0].pubkey = self.foreign.address;
                health[1].pubkey = self.foreign.oracle;
                true
            }
            Tamper::NotABank if n > 0 => {
                health[0].pubkey = self.m.group;
                true
            }
            _ => false,
        }
    }

    /// A liquidation of everything the program must refuse whatever the amounts.
    fn bad_liquidation(
        &mut self,
        s: &State,
        liquidator: u8,
        liquidatee: u8,
        liab: u8,
        asset: u8,
        allowed: Allowed,
    ) -> Sent {
        let call = LiquidationCall {
            liquidator: liquidator as usize,
            liquidatee: liquidatee as usize,
            liab: liab as usize,
            asset: asset as usize,
            max: u64::MAX,
        };
        let ix = self.liquidate_ix(s, &call);
        (self.send_tx(&[ix]), allowed.and(&CLOSED))
    }

    fn not_admin_fund(&mut self, user: usize, bank: usize) -> Sent {
        let u = &self.users[user];
        let source = u.tokens[bank];
        let ix =
            ix::fund_insurance(self.m.group, u.keypair.pubkey(), &self.banks[bank], source, 1_000);
        (self.send_tx(&[ix]), Allowed::failure(&[M(MarginError::NotGroupAdmin)]))
    }

    fn not_admin_configure(&mut self, user: usize) -> Sent {
        let signer = self.users[user].keypair.pubkey();
        let ix = ix::configure_group(
            self.m.group,
            signer,
            GroupConfigOptions {
                paused: Some(true),
                reduce_only: Some(true),
                ..Default::default()
            },
        );
        (self.send_tx(&[ix]), Allowed::failure(&[M(MarginError::NotGroupAdmin)]))
    }

    /// A deposit with an account of one type where another is expected.
    fn cosplay(&mut self, u: usize, b: usize, what: Cosplay) -> Sent {
        let mut t = self.transfer(u, b);
        match what {
            Cosplay::AccountAsBank => t.bank.address = self.users[u].account,
            Cosplay::BankAsAccount => t.account = self.banks[b].address,
            Cosplay::BankAsGroup => t.group = self.banks[b].address,
            Cosplay::OracleAsBank => t.bank.address = self.banks[b].oracle,
        }
        let ix = ix::deposit(&t, 1_000);
        let allowed = Allowed::failure(&[
            A(AnchorError::AccountDiscriminatorMismatch),
            A(AnchorError::AccountOwnedByWrongProgram),
            A(AnchorError::AccountNotInitialized),
        ]);
        (self.send_tx(&[ix]), allowed)
    }
}

/// Whether the instruction runs a health check: the account has borrows or perps after `mv`.
fn needs_health_check(state: &State, user: usize, bank: usize, mv: Movement, amount: u64) -> bool {
    let Some(account) = &state.accounts[user] else { return false };
    ix::account_after(account, &state.banks[bank], mv, amount, state.now).has_risk()
}
