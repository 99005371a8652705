//! Sending: one function per action, each building its transaction and saying which outcomes
//! it may have (`Allowed`), computed before it is sent.

use anchor_lang::prelude::AccountMeta;
use cross_margin::positions;
use cross_margin::state::{BankConfig, GroupConfigOptions, MarginAccount};
use cross_margin_client::embedded::tx_result;
use cross_margin_client::ix::{self, Movement, Transfer};
use solana_message::Message;
use solana_transaction::Transaction;

use super::models::Judgement;
use super::outcomes::{Allowed, Expect, CLOSED, M, ORACLE_ERRORS};
use super::{Amount, Kind, Op, State, World};
use crate::*;

/// A sent transaction and what it was allowed to do.
pub(super) type Sent = (TxResult, Allowed);

/// Every bank: the instructions with health checks accrue (or price) all of them.
pub(super) const ALL_BANKS: [usize; 4] = [0, 1, 2, 3];

/// One liquidation as sent: who liquidates whom, in which banks, up to how much liability.
#[derive(Debug, Clone, Copy)]
pub(super) struct LiquidationCall {
    pub(super) liquidator: usize,
    pub(super) liquidatee: usize,
    pub(super) liab: usize,
    pub(super) asset: usize,
    pub(super) max: u64,
}

impl World {
    /// Builds and sends the op's transaction. Returns the result and what is allowed: the
    /// errors it may end in, and whether it may succeed.
    pub(super) fn send(&mut self, op: &Op, s: &State) -> Sent {
        match *op {
            Op::Deposit { user, bank, amount } => {
                self.deposit(s, user as usize, bank as usize, amount)
            }
            Op::Repay { user, bank, amount } => self.repay(s, user as usize, bank as usize, amount),
            Op::Withdraw { user, bank, amount } => {
                self.withdraw(s, user as usize, bank as usize, amount)
            }
            Op::Borrow { user, bank, amount } => {
                self.borrow(s, user as usize, bank as usize, amount)
            }
            Op::Liquidate { liquidator, liquidatee, liab, asset, amount } => {
                let call = self.liquidation_call(s, liquidator, liquidatee, liab, asset, amount);
                self.liquidate(s, &call)
            }
            Op::Resolve { user, bank } => self.resolve(s, user as usize, bank as usize),
            Op::FundInsurance { bank, amount } => self.fund_insurance(s, bank as usize, amount),
            Op::ReduceOnly(on) => self.configure_group(GroupConfigOptions {
                reduce_only: Some(on),
                ..Default::default()
            }),
            Op::Pause(on) => {
                self.configure_group(GroupConfigOptions { paused: Some(on), ..Default::default() })
            }
            Op::QueueChange { bank, maint_weight_bps } => {
                self.queue_change(s, bank as usize, maint_weight_bps)
            }
            Op::ApplyChange { bank, .. } => self.apply_change(s, bank as usize),
            Op::CancelChange { bank } => self.cancel_change(s, bank as usize),
            Op::Close { user } => self.close(user as usize),
            Op::Reopen { user } => self.reopen(user as usize),
            Op::Bad(bad) => self.send_bad(bad, s),
            Op::PlacePerpOrder { .. }
            | Op::SettlePnl { .. }
            | Op::SettleCovered { .. }
            | Op::PoolDeposit { .. }
            | Op::PoolWithdraw { .. } => self.send_perp(op, s),
            Op::LiquidatePerp { .. } | Op::ResolvePerp { .. } => self.send_perp_liquidation(op, s),
            no_transaction!() => unreachable!("{op:?} sends no transaction"),
        }
    }

    fn deposit(&mut self, s: &State, u: usize, b: usize, amount: Amount) -> Sent {
        let amount = self.amount(amount, self.reference(s, u, b, Kind::Deposit));
        let ix = ix::deposit(&self.transfer(u, b), amount);
        let mut allowed = Allowed::success(&[
            M(MarginError::ZeroAmount),
            M(MarginError::InsufficientTokenBalance),
            M(MarginError::GroupReduceOnly),
            M(MarginError::DepositLimitExceeded),
            M(MarginError::AmountTooSmall),
            M(MarginError::NoFreePositionSlot),
        ])
        .and(&CLOSED);
        self.overflow_allowed(s, &[b], &mut allowed);
        (self.send_tx(&[ix]), allowed)
    }

    fn repay(&mut self, s: &State, u: usize, b: usize, amount: Amount) -> Sent {
        let amount = self.amount(amount, self.reference(s, u, b, Kind::Repay));
        let ix = ix::repay(&self.transfer(u, b), amount);
        let mut allowed = Allowed::success(&[
            M(MarginError::ZeroAmount),
            M(MarginError::InsufficientTokenBalance),
            M(MarginError::NoBorrow),
            M(MarginError::RepayExceedsDebt),
            M(MarginError::AmountTooSmall),
        ])
        .and(&CLOSED);
        self.overflow_allowed(s, &[b], &mut allowed);
        (self.send_tx(&[ix]), allowed)
    }

    fn withdraw(&mut self, s: &State, u: usize, b: usize, amount: Amount) -> Sent {
        let amount = self.amount(amount, self.reference(s, u, b, Kind::Withdraw));
        let health = self.health_after(s, u, b, Movement::Withdraw, amount);
        let ix = ix::withdraw(&self.transfer(u, b), amount, health);
        let mut allowed = Allowed::success(&[
            M(MarginError::ZeroAmount),
            M(MarginError::InsufficientDeposit),
            M(MarginError::InsufficientLiquidity),
            M(MarginError::InitHealthNegative),
            M(MarginError::AccountBankrupt),
            M(MarginError::GroupPaused),
        ])
        .and(&ORACLE_ERRORS)
        .and(&CLOSED);
        self.overflow_allowed(s, &ALL_BANKS, &mut allowed);
        (self.send_tx(&[ix]), allowed)
    }

    fn borrow(&mut self, s: &State, u: usize, b: usize, amount: Amount) -> Sent {
        let amount = self.amount(amount, self.reference(s, u, b, Kind::Borrow));
        let health = self.health_after(s, u, b, Movement::Borrow, amount);
        let ix = ix::borrow(&self.transfer(u, b), amount, health);
        let mut allowed = Allowed::success(&[
            M(MarginError::ZeroAmount),
            M(MarginError::InsufficientLiquidity),
            M(MarginError::BorrowLimitExceeded),
            M(MarginError::InitHealthNegative),
            M(MarginError::AccountBankrupt),
            M(MarginError::BorrowAgainstOwnDeposit),
            M(MarginError::GroupReduceOnly),
            M(MarginError::NoFreePositionSlot),
            M(MarginError::GroupPaused),
        ])
        .and(&ORACLE_ERRORS)
        .and(&CLOSED);
        self.overflow_allowed(s, &ALL_BANKS, &mut allowed);
        (self.send_tx(&[ix]), allowed)
    }

    /// The liquidation an `Op::Liquidate` with these fields sends in state `s`.
    pub(super) fn liquidation_call(
        &self,
        s: &State,
        liquidator: u8,
        liquidatee: u8,
        liab: u8,
        asset: u8,
        amount: Amount,
    ) -> LiquidationCall {
        let (le, l) = (liquidatee as usize, liab as usize);
        LiquidationCall {
            liquidator: liquidator as usize,
            liquidatee: le,
            liab: l,
            asset: asset as usize,
            max: self.liquidation_max(s, (le, l, asset as usize), amount),
        }
    }

    fn liquidate(&mut self, s: &State, call: &LiquidationCall) -> Sent {
        let ix = self.liquidate_ix(s, call);
        let allowed = self.liquidation_allowed(s, call);
        (self.send_tx(&[ix]), allowed)
    }

    /// The outcomes a liquidation may have in state `s`.
    pub(super) fn liquidation_allowed(&self, s: &State, call: &LiquidationCall) -> Allowed {
        let mut allowed = Allowed::success(&[
            M(MarginError::SelfLiquidation),
            M(MarginError::LiquidationSameBank),
            M(MarginError::ZeroAmount),
            M(MarginError::LiquidationLiabNotBorrow),
            M(MarginError::LiquidationAssetNotDeposit),
            M(MarginError::LiquidationAmountZero),
            M(MarginError::LiquidationDidNotImprove),
            M(MarginError::LiquidatorInitHealthNegative),
            M(MarginError::AmountTooSmall),
            M(MarginError::NoFreePositionSlot),
        ]);
        allowed.extend(&self.liquidatee_refusals(s, call));
        allowed.extend(&ORACLE_ERRORS);
        allowed.extend(&CLOSED);
        self.overflow_allowed(s, &ALL_BANKS, &mut allowed);
        allowed
    }

    /// Refusals that judge the account must agree with the checks' own judgement (when they
    /// can make one: an open account with every position priced).
    fn liquidatee_refusals(&self, s: &State, call: &LiquidationCall) -> Vec<Expect> {
        match self.judge_liquidatee(s, call.liquidatee, call.liab, call.asset) {
            Some(Judgement { write_off: true, .. }) => vec![M(MarginError::AccountBankrupt)],
            Some(Judgement { liquidatable: false, .. }) => vec![M(MarginError::NotLiquidatable)],
            Some(_) => vec![],
            None => vec![M(MarginError::AccountBankrupt), M(MarginError::NotLiquidatable)],
        }
    }

    fn resolve(&mut self, s: &State, u: usize, b: usize) -> Sent {
        let health = match &s.accounts[u] {
            Some(a) => self.m.write_off_accounts_of(a),
            None => vec![],
        };
        let ix = ix::resolve_bankruptcy(
            self.m.group,
            self.users[u].account,
            self.banks[b].address,
            health,
        );
        // Perp PnL is not collateral a write-off can take: refused first (issue 17).
        if s.accounts[u].is_some_and(|a| a.has_perps()) {
            let mut allowed = Allowed::failure(&[M(MarginError::PerpPositionsOpen)]);
            self.overflow_allowed(s, &[b], &mut allowed);
            return (self.send_tx(&[ix]), allowed);
        }
        let mut allowed = Allowed::success(&[M(MarginError::NoBorrow)]);
        // NotBankrupt only where the checks find no write-off allowed (or cannot tell).
        if self.judge_write_off(s, u, b) != Some(true) {
            allowed.extend(&[M(MarginError::NotBankrupt)]);
        }
        allowed.extend(&ORACLE_ERRORS);
        allowed.extend(&CLOSED);
        self.overflow_allowed(s, &ALL_BANKS, &mut allowed);
        // Socializing more than the bank's deposits would take the index to zero.
        if let Some(account) = &s.accounts[u] {
            let banks = Self::accrued(s, &[b]);
            let debt = positions::borrow_native(account, &banks[b]).unwrap_or(0);
            let deposits = banks[b].total_deposits_native().unwrap_or(0);
            if debt.saturating_sub(banks[b].insurance_native) >= deposits {
                allowed.extend(&[M(MarginError::LossExceedsDeposits)]);
            }
        }
        (self.send_tx(&[ix]), allowed)
    }

    fn fund_insurance(&mut self, s: &State, b: usize, amount: Amount) -> Sent {
        let decimals = s.banks[b].decimals as u32;
        let amount = self.amount(amount, 1_000 * 10u64.pow(decimals));
        let amount = if amount == u64::MAX { 1 } else { amount };
        let allowed = Allowed::success(&[M(MarginError::ZeroAmount)]);
        let bank = self.banks[b];
        (self.m.fund_insurance(&bank, amount), allowed)
    }

    fn configure_group(&mut self, options: GroupConfigOptions) -> Sent {
        let admin = self.m.admin.pubkey();
        let ix = ix::configure_group(self.m.group, admin, options);
        (self.send_tx(&[ix]), Allowed::success(&[]))
    }

    /// The bank's configuration with maint asset weight `weight` and init at most 5 points
    /// below: always valid for the campaign's banks (weight 5,000..=9,000, fees at most 6%).
    pub(super) fn changed_config(s: &State, b: usize, weight: u16) -> BankConfig {
        let config = s.banks[b].config;
        let maint = weight as u32;
        BankConfig {
            maint_asset_weight_bps: maint,
            init_asset_weight_bps: config.init_asset_weight_bps.min(maint - 500),
            ..config
        }
    }

    fn queue_change(&mut self, s: &State, b: usize, weight: u16) -> Sent {
        let bank = self.banks[b];
        let config = Self::changed_config(s, b, weight);
        let admin = self.m.admin.pubkey();
        let ix = ix::queue_bank_config(self.m.group, admin, bank.address, bank.oracle, config);
        // Queueing reads the oracle account (not its age) first: a corrupted one is refused.
        let allowed = match s.banks[b].pending.is_queued() {
            true => Allowed::failure(&[M(MarginError::ConfigChangeAlreadyQueued)]),
            false => Allowed::success(&[]),
        }
        .and(&ORACLE_ERRORS);
        (self.send_tx(&[ix]), allowed)
    }

    fn apply_change(&mut self, s: &State, b: usize) -> Sent {
        let bank = &s.banks[b];
        let ix = ix::apply_bank_config(self.m.group, self.banks[b].address, bank.pending.oracle);
        let allowed = if !bank.pending.is_queued() {
            Allowed::failure(&[M(MarginError::NoConfigChangeQueued)])
        } else if s.group.is_paused() {
            Allowed::failure(&[M(MarginError::ConfigChangeWhilePaused)])
        } else if s.now < s.group.config_change_due(bank.pending.apply_after_ts) {
            Allowed::failure(&[M(MarginError::ConfigChangeNotReady)])
        } else {
            Allowed::success(&ORACLE_ERRORS)
        };
        (self.send_tx(&[ix]), allowed)
    }

    fn cancel_change(&mut self, s: &State, b: usize) -> Sent {
        let ix = ix::cancel_bank_config(self.m.group, self.m.admin.pubkey(), self.banks[b].address);
        let allowed = match s.banks[b].pending.is_queued() {
            true => Allowed::success(&[]),
            false => Allowed::failure(&[M(MarginError::NoConfigChangeQueued)]),
        };
        (self.send_tx(&[ix]), allowed)
    }

    fn close(&mut self, user: usize) -> Sent {
        let u = &self.users[user];
        let ix = ix::close_account(u.account, u.keypair.pubkey());
        let allowed = Allowed::success(&[M(MarginError::AccountNotEmpty)]).and(&CLOSED);
        (self.send_tx(&[ix]), allowed)
    }

    fn reopen(&mut self, user: usize) -> Sent {
        let u = &self.users[user];
        let num = u32::from(user == super::SIBLING);
        let (ix, _) = ix::create_account(self.m.group, u.keypair.pubkey(), u.keypair.pubkey(), num);
        // The system program refuses an address already in use (its error 0).
        (self.send_tx(&[ix]), Allowed::success(&[Expect::Code(0)]))
    }

    /// Sends `ixs` with the chain's fee payer, unsigned: the campaign's chain does not verify
    /// signatures (see `World::new`), and the signer flags in the message are what the program
    /// sees. Ed25519 signing would otherwise be most of a debug build's time per step.
    pub fn send_tx(&mut self, ixs: &[Instruction]) -> TxResult {
        let chain = &mut self.m.chain;
        let mut message = Message::new(ixs, Some(&chain.payer.pubkey()));
        message.recent_blockhash = chain.svm.latest_blockhash();
        let tx = Transaction::new_unsigned(message);
        let result = chain.svm.send_transaction(tx);
        chain.svm.expire_blockhash();
        let result = tx_result(result);
        if let Some(sent) = &mut self.recording {
            sent.push(super::front_run::Sent::of(ixs, &result));
        }
        result
    }

    pub(super) fn transfer(&self, user: usize, bank: usize) -> Transfer {
        self.m.transfer(&self.users[user], &self.banks[bank])
    }

    /// Health accounts for the user's positions after `movement` (empty for a closed account).
    pub(super) fn health_after(
        &self,
        state: &State,
        user: usize,
        bank: usize,
        mv: Movement,
        amount: u64,
    ) -> Vec<AccountMeta> {
        let Some(account) = &state.accounts[user] else { return vec![] };
        let after = ix::account_after(account, &state.banks[bank], mv, amount, state.now);
        self.m.health_accounts_of(&after)
    }

    pub(super) fn liquidate_ix(&self, s: &State, call: &LiquidationCall) -> Instruction {
        let lr = call.liquidator;
        let liquidator = (self.users[lr].account, s.accounts[lr].as_ref());
        self.liquidate_ix_by(s, call, liquidator, self.users[lr].keypair.pubkey())
    }

    /// `liquidate_ix` with any liquidator account (its address and state) and owner: its
    /// health accounts as they will be after the planned step.
    pub(super) fn liquidate_ix_by(
        &self,
        s: &State,
        call: &LiquidationCall,
        (liquidator, state): (Pubkey, Option<&MarginAccount>),
        owner: Pubkey,
    ) -> Instruction {
        let LiquidationCall { liquidatee: le, liab: l, asset: a, max, .. } = *call;
        let liquidatee_health = match &s.accounts[le] {
            Some(account) => self.m.health_accounts_of(account),
            None => vec![],
        };
        ix::liquidate(
            self.m.group,
            liquidator,
            owner,
            self.users[le].account,
            self.banks[l].address,
            self.banks[a].address,
            max,
            liquidatee_health,
            self.liquidator_health(s, call, state),
        )
    }

    /// The liquidator's health accounts (of `state`, its account) as they will be after the
    /// step the checks plan for `call` in state `s`.
    pub(super) fn liquidator_health(
        &self,
        s: &State,
        call: &LiquidationCall,
        state: Option<&MarginAccount>,
    ) -> Vec<AccountMeta> {
        let LiquidationCall { liquidatee: le, liab: l, asset: a, max, .. } = *call;
        let (liab_amount, to_liquidator) = match self.plan_liquidation(s, le, l, a, max) {
            Some(amounts) => (amounts.liab.max(1), amounts.asset_to_liquidator.max(1)),
            None => (1, 1),
        };
        let Some(account) = state else { return vec![] };
        let after = ix::liquidator_after(
            account,
            &s.banks[l],
            liab_amount,
            &s.banks[a],
            to_liquidator,
            s.now,
        );
        self.m.health_accounts_of(&after)
    }
}
