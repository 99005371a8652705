//! The stateful property campaign: random sequences of user, keeper, admin and oracle actions
//! (and bad inputs) run against the real `.so` in LiteSVM, with the protocol's invariants checked
//! after every step by code that reads the chain and recomputes what it needs with the program's
//! own pure modules (`health`, `oracle`, `positions`, `liquidation`, `bankruptcy`).
//!
//! The market is built once ([`World::new`]); every sequence starts from a clone of that chain
//! ([`World::reset`]), which costs about 50 µs instead of the ~0.5 s a new market takes.
//!
//! The generator (proptest strategies) lives in `tests/tests/properties.rs`; this module is the
//! executor and the checks. See docs/SECURITY.md for the invariants and how to run campaigns.

use cross_margin::instructions::GroupConfigOptions;
use std::collections::BTreeMap;

use anchor_lang::error::ErrorCode as AnchorError;
use anchor_lang::prelude::AccountMeta;
use cross_margin::bankruptcy::can_write_off_account;
use cross_margin::events::{BankruptcyResolved, Liquidation, TokenMovement};
use cross_margin::health::{AccountTotals, PositionHealth, PositionShares};
use cross_margin::liquidation::{end_target, is_liquidatable, liquidation_amounts};
use cross_margin::liquidation::{LiquidationAmounts, LiquidationInputs};
use cross_margin::math::{div_q64, mul_q64, Round, ONE_Q64};
use cross_margin::oracle::{read_bank_price, OracleAccount, OraclePrice};
use cross_margin::positions;
use cross_margin::state::{Bank, Group, MarginAccount, OracleKind, PositionKind};
use cross_margin_client::ix::{self, BankRef, Movement, Transfer};
use cross_margin_client::pyth::Quote;
use litesvm::LiteSVM;
use solana_message::Message;
use solana_transaction::Transaction;

use crate::market::*;
use crate::*;

pub const USERS: usize = 4;
pub const BANKS: usize = 4;

/// How an amount is chosen, relative to what the action can reach (wallet, deposit, debt,
/// borrowing capacity), so that sequences stay productive at every price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Zero,
    /// A few native units: rounding at the edge.
    Units(u64),
    /// Basis points of the reference (up to 120%: some overshoot on purpose).
    Frac(u16),
    All,
    AllPlusOne,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deposit,
    Withdraw,
    Borrow,
    Repay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OracleFault {
    /// Published more than the bank's max age ago.
    Stale,
    /// Partially verified (pull) or not trading (legacy).
    Invalid,
    NonPositive,
    /// Confidence above the bank's maximum.
    WideConf,
}

/// How a withdraw/borrow's health accounts are tampered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    Truncate,
    Extra,
    Reverse,
    Duplicate,
    OracleSwap,
    ForeignBank,
    NotABank,
}

/// An account of one type passed where another is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cosplay {
    AccountAsBank,
    BankAsAccount,
    BankAsGroup,
    OracleAsBank,
}

/// Inputs an attacker controls, each with the errors it may legitimately end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadOp {
    /// `user` signs for `victim`'s margin account.
    ForeignSigner {
        user: u8,
        victim: u8,
        bank: u8,
        kind: Kind,
    },
    /// The owner's signature is missing.
    Unsigned {
        user: u8,
        bank: u8,
        kind: Kind,
    },
    /// A token account of another mint.
    WrongUserToken {
        user: u8,
        bank: u8,
        other: u8,
    },
    /// Another bank's vault.
    WrongVault {
        user: u8,
        bank: u8,
        other: u8,
        kind: Kind,
    },
    /// A bank of another group.
    ForeignBank {
        user: u8,
        kind: Kind,
    },
    Health {
        user: u8,
        bank: u8,
        borrow: bool,
        tamper: Tamper,
        amount: Amount,
    },
    SelfLiquidation {
        user: u8,
        liab: u8,
        asset: u8,
    },
    SameBankLiquidation {
        liquidator: u8,
        liquidatee: u8,
        bank: u8,
    },
    NotAdminFund {
        user: u8,
        bank: u8,
    },
    NotAdminConfigure {
        user: u8,
    },
    Cosplay {
        user: u8,
        bank: u8,
        what: Cosplay,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Deposit {
        user: u8,
        bank: u8,
        amount: Amount,
    },
    Withdraw {
        user: u8,
        bank: u8,
        amount: Amount,
    },
    Borrow {
        user: u8,
        bank: u8,
        amount: Amount,
    },
    Repay {
        user: u8,
        bank: u8,
        amount: Amount,
    },
    /// A new price: the old one moved by `change_bps`, with `conf_bps` of confidence, written
    /// with `expo_shift` more decimals (the same value in another exponent).
    Price {
        bank: u8,
        change_bps: i32,
        conf_bps: u32,
        expo_shift: u8,
    },
    OracleFault {
        bank: u8,
        fault: OracleFault,
    },
    /// The clock moves; `refresh`: every oracle publishes again at the new time.
    Warp {
        secs: u32,
        refresh: bool,
    },
    Liquidate {
        liquidator: u8,
        liquidatee: u8,
        liab: u8,
        asset: u8,
        amount: Amount,
    },
    Resolve {
        user: u8,
        bank: u8,
    },
    FundInsurance {
        bank: u8,
        amount: Amount,
    },
    ReduceOnly(bool),
    Close {
        user: u8,
    },
    Reopen {
        user: u8,
    },
    /// The user repays every debt (its wallet topped up), withdraws every deposit and closes
    /// its account: each of those a step of its own.
    Leave {
        user: u8,
    },
    /// The price of the user's largest deposit falls by `bps` (becomes a `Price` step): the
    /// move that makes borrowers liquidatable, aimed.
    Squeeze {
        user: u8,
        bps: u16,
    },
    /// The user's largest collateral crashes by 97%, another user liquidates it as far as it
    /// goes, then its debts are put to `resolve_bankruptcy`: each a step of its own.
    Collapse {
        user: u8,
        liquidator: u8,
    },
    Bad(BadOp),
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Deposit { .. } => "deposit",
            Op::Withdraw { .. } => "withdraw",
            Op::Borrow { .. } => "borrow",
            Op::Repay { .. } => "repay",
            Op::Price { .. } => "price",
            Op::OracleFault { .. } => "oracle_fault",
            Op::Warp { .. } => "warp",
            Op::Liquidate { .. } => "liquidate",
            Op::Resolve { .. } => "resolve_bankruptcy",
            Op::FundInsurance { .. } => "fund_insurance",
            Op::ReduceOnly(_) => "reduce_only",
            Op::Close { .. } => "close_account",
            Op::Reopen { .. } => "create_account",
            Op::Leave { .. } => "leave",
            Op::Squeeze { .. } => "squeeze",
            Op::Collapse { .. } => "collapse",
            Op::Bad(_) => "bad_input",
        }
    }
}

/// Successes and rejections per action, over a campaign.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub ok: BTreeMap<&'static str, u64>,
    pub rejected: BTreeMap<&'static str, u64>,
    /// Rejections per (action, error name).
    pub reasons: BTreeMap<(&'static str, String), u64>,
    pub steps: u64,
    pub sequences: u64,
    pub exits: u64,
    /// Sequences whose exit phase was skipped because a bank's interest overflowed u64.
    pub overflowed: u64,
}

impl Stats {
    pub fn merge(&mut self, other: &Stats) {
        for (k, v) in &other.ok {
            *self.ok.entry(k).or_default() += v;
        }
        for (k, v) in &other.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
        for (k, v) in &other.reasons {
            *self.reasons.entry(k.clone()).or_default() += v;
        }
        self.steps += other.steps;
        self.sequences += other.sequences;
        self.exits += other.exits;
        self.overflowed += other.overflowed;
    }

    pub fn ok(&self, name: &str) -> u64 {
        self.ok.get(name).copied().unwrap_or(0)
    }
}

/// Everything the checks read from the chain at one point.
#[derive(Clone)]
pub struct State {
    pub now: i64,
    pub group: Group,
    pub banks: Vec<Bank>,
    pub vaults: Vec<u64>,
    pub accounts: Vec<Option<MarginAccount>>,
    pub wallets: Vec<[u64; BANKS]>,
}

/// An account's health as the checks compute it: the program's health module on its positions,
/// priced from the oracle accounts on chain.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Summed by the program's own `AccountTotals`.
    pub totals: AccountTotals,
    /// (bank index, shares, contribution, asset price, liab price).
    pub positions: Vec<(u16, PositionShares, PositionHealth, u128, u128)>,
}

impl Report {
    fn position(&self, bank: u16) -> Option<&(u16, PositionShares, PositionHealth, u128, u128)> {
        self.positions.iter().find(|p| p.0 == bank)
    }
}

/// What a write-off is judged by (`World::write_off_facts`).
#[derive(Debug, Clone, Copy)]
struct WriteOffFacts {
    deposits: u64,
    liabs: Option<u64>,
    flagged: bool,
}

impl WriteOffFacts {
    /// Deposits below the dust threshold, and insolvent now or flagged by a liquidation.
    fn allowed(&self, dust: u64) -> bool {
        self.deposits < dust && (self.flagged || self.liabs.is_some_and(|l| self.deposits < l))
    }
}

/// The checks' verdict on a liquidatee before `liquidate` runs.
#[derive(Debug, Clone, Copy)]
struct Judgement {
    write_off: bool,
    liquidatable: bool,
}

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// A bank's oracle as the campaign writes it: a value in units of $0.0001, written with `shift`
/// more decimals (the same price in another exponent), and possibly a fault.
#[derive(Debug, Clone, Copy)]
struct Oracle {
    value: i64,
    conf: u64,
    shift: u8,
    publish: i64,
    fault: Option<OracleFault>,
}

/// What an error may be, for the allowed-outcome lists.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Margin(MarginError),
    Anchor(AnchorError),
    /// A custom code from another program (the system program's "already in use" is 0).
    Code(u32),
}

impl Expect {
    fn code(self) -> u32 {
        match self {
            Expect::Margin(e) => e.into(),
            Expect::Anchor(e) => e.into(),
            Expect::Code(c) => c,
        }
    }
}

use Expect::{Anchor as A, Margin as M};

const ORACLE_ERRORS: [Expect; 8] = [
    M(MarginError::OracleStale),
    M(MarginError::OracleConfidenceTooWide),
    M(MarginError::OracleNotFullyVerified),
    M(MarginError::OracleNotTrading),
    M(MarginError::OracleNonPositivePrice),
    M(MarginError::OracleWrongFeed),
    M(MarginError::OracleInvalidAccount),
    M(MarginError::OracleWrongOwner),
];

/// A closed margin account fails Anchor's account check.
const CLOSED: [Expect; 2] =
    [A(AnchorError::AccountNotInitialized), A(AnchorError::AccountOwnedByWrongProgram)];

pub struct World {
    pub m: Market,
    pub banks: Vec<BankRef>,
    pub users: Vec<User>,
    /// A bank of another group (same admin, same USDC mint).
    pub foreign: BankRef,
    base: LiteSVM,
    base_oracles: Vec<Oracle>,
    // --- per sequence ---
    oracles: Vec<Oracle>,
    /// Every user's (in − out + protocol credits) per bank, in native units: what its position
    /// may be worth at most (no-free-lunch ledger).
    ledger: Vec<[i128; BANKS]>,
    /// Tokens the vault may hold beyond deposits − borrows + insurance: rounding dust, at most a
    /// few index units per operation.
    dust_budget: [u128; BANKS],
    pub stats: Stats,
    pub trace: bool,
}

impl World {
    /// The market every sequence starts from: USDC, SOL (pull), BTC (legacy) and a fourth,
    /// riskier pull bank (size-aware init weight from $20,000 of deposits, a steeper interest
    /// curve, deposit and borrow limits); four users with wallets of every token, the fourth also
    /// a lender in every bank; a bank of another group for substitution attempts.
    pub fn new() -> Self {
        let mut m = Market::new();
        let alt = m.add_bank(9, OracleKind::PythPull, [7_000, 8_500, 11_500, 13_000], (2, 5_000));
        let mut config =
            bank_config(OracleKind::PythPull, alt.index, [7_000, 8_500, 11_500, 13_000]);
        config.deposit_weight_scale_start_quote = 20_000_000_000;
        config.optimal_utilization_bps = 7_000;
        config.min_rate_bps = 200;
        config.optimal_rate_bps = 2_000;
        config.max_rate_bps = 30_000;
        config.deposit_limit_native = 500_000_000_000_000;
        config.borrow_limit_native = 100_000_000_000_000;
        config.liquidation_fee_bps = 400;
        config.insurance_fee_bps = 200;
        let ix = ix::configure_bank(m.group, m.admin.pubkey(), alt.address, alt.oracle, config);
        m.send_as_admin(&[ix]).expect_ok("configure the fourth bank");
        // Price it at exactly $2.50 (the helper's second field is confidence, not cents).
        let now = m.now();
        m.set_price(&alt, Quote { price: 25_000, conf: 0, exponent: -4, publish_time: now });

        let banks = m.banks();
        let wallet = [
            10_000_000_000_000u64, // 10M USDC
            100_000_000_000_000,   // 100k SOL
            10_000_000_000,        // 100 BTC
            1_000_000_000_000_000, // 1M ALT
        ];
        let mut users = Vec::new();
        for _ in 0..USERS {
            let mut user = m.user([wallet[0], wallet[1], wallet[2]]);
            m.fund(&mut user, wallet[3]);
            users.push(user);
        }
        // The lender: liquidity in every bank. The others start with some collateral.
        let lend = [2_000_000_000_000u64, 20_000_000_000_000, 2_000_000_000, 100_000_000_000_000];
        for (bank, amount) in banks.iter().zip(lend) {
            m.deposit(&users[3], bank, amount).expect_ok("lend");
        }
        m.deposit(&users[0], &banks[1], 100_000_000_000).expect_ok("100 SOL");
        m.deposit(&users[1], &banks[2], 100_000_000).expect_ok("1 BTC");
        m.deposit(&users[2], &banks[0], 20_000_000_000).expect_ok("20,000 USDC");
        m.deposit(&users[2], &banks[3], 4_000_000_000_000).expect_ok("4,000 ALT");
        let (_, foreign) = m.other_group_bank();
        // Signatures are the runtime's business, and verifying them is 90% of a debug build's
        // time per transaction. Signer flags still reach the program (and are tested).
        let svm = std::mem::take(&mut m.chain.svm);
        m.chain.svm = svm.with_sigverify(false);
        let base_oracles = banks
            .iter()
            .map(|b| {
                let q = m.quote(b);
                assert_eq!(q.exponent, -4, "the markets' prices are written with exponent -4");
                Oracle {
                    value: q.price,
                    conf: q.conf,
                    shift: 0,
                    publish: q.publish_time,
                    fault: None,
                }
            })
            .collect::<Vec<_>>();
        let base = m.chain.svm.clone();
        let mut world = World {
            m,
            banks,
            users,
            foreign,
            base,
            oracles: base_oracles.clone(),
            base_oracles,
            ledger: vec![[0; BANKS]; USERS],
            dust_budget: [0; BANKS],
            stats: Stats::default(),
            trace: false,
        };
        world.reset();
        world
    }

    /// Back to the starting market (a clone of the chain) with fresh bookkeeping.
    pub fn reset(&mut self) {
        self.m.chain.svm = self.base.clone();
        self.oracles = self.base_oracles.clone();
        self.ledger = vec![[0; BANKS]; USERS];
        // The starting deposits are the starting point of the ledgers.
        let state = self.state();
        for b in 0..BANKS {
            for u in 0..USERS {
                if let Some(account) = &state.accounts[u] {
                    self.ledger[u][b] =
                        positions::deposit_native(account, &state.banks[b]).unwrap() as i128;
                }
            }
            let (vault, claims) = claims(&state, b);
            self.dust_budget[b] = (vault as i128 - claims).max(0) as u128 + 16;
        }
    }

    /// Runs one sequence from the starting market, then unwinds every account (the exit
    /// phase). Returns the first broken invariant.
    pub fn run(&mut self, ops: &[Op]) -> Check {
        self.reset();
        self.stats.sequences += 1;
        self.check_state(&self.state(), "start")?;
        for (i, op) in ops.iter().enumerate() {
            self.stats.steps += 1;
            self.step(op).map_err(|e| format!("step {i} {op:?}: {e}"))?;
        }
        self.exit().map_err(|e| format!("exit phase: {e}"))
    }

    // ------------------------------------------------------------------ reading the chain

    pub fn state(&self) -> State {
        let chain = &self.m.chain;
        State {
            now: self.m.now(),
            group: self.m.group_state(),
            banks: self.banks.iter().map(|b| self.m.bank(b)).collect(),
            vaults: self.banks.iter().map(|b| chain.token_balance(&b.vault)).collect(),
            accounts: self.users.iter().map(|u| chain.load::<MarginAccount>(&u.account)).collect(),
            wallets: self
                .users
                .iter()
                .map(|u| {
                    let mut w = [0; BANKS];
                    for (b, w) in w.iter_mut().enumerate() {
                        *w = chain.token_balance(&u.tokens[b]);
                    }
                    w
                })
                .collect(),
        }
    }

    /// Every account an action can touch, for the no-state-change check.
    fn all_addresses(&self) -> Vec<Pubkey> {
        let mut addresses = vec![self.m.group, self.foreign.address, self.m.admin.pubkey()];
        for b in &self.banks {
            addresses.extend([b.address, b.vault, b.oracle, b.mint]);
        }
        for u in &self.users {
            addresses.extend([u.account, u.keypair.pubkey()]);
            addresses.extend(u.tokens.iter().copied());
        }
        addresses
    }

    /// Each bank's price as the program reads it now (or its oracle error).
    fn prices(&self, state: &State) -> Vec<Result<OraclePrice, MarginError>> {
        self.banks
            .iter()
            .zip(&state.banks)
            .map(|(r, bank)| {
                let account = self.m.chain.account(&r.oracle).expect("oracle exists");
                let oracle =
                    OracleAccount { key: &r.oracle, owner: &account.owner, data: &account.data };
                read_bank_price(bank, &state.group, oracle, state.now)
            })
            .collect()
    }

    /// The account's health with `banks` (stored, or accrued copies where the program accrues)
    /// and the current prices: the program's health module, fed by the checks.
    fn report(
        &self,
        account: &MarginAccount,
        banks: &[Bank],
        prices: &[Result<OraclePrice, MarginError>],
    ) -> Result<Report, MarginError> {
        let mut report = Report::default();
        for p in account.active_positions() {
            let i = p.bank_index as usize;
            let shares = p.shares().expect("active");
            let price = prices[i]?;
            let risk = banks[i]
                .risk(price.asset_price, price.liab_price)
                .map_err(|_| MarginError::MathOverflow)?;
            let ph = risk.position_health(shares).map_err(|_| MarginError::MathOverflow)?;
            report.totals.add(&ph).map_err(|_| MarginError::MathOverflow)?;
            report.positions.push((p.bank_index, shares, ph, price.asset_price, price.liab_price));
        }
        Ok(report)
    }

    fn accrued(state: &State, which: &[usize]) -> Vec<Bank> {
        let mut banks = state.banks.clone();
        for &i in which {
            let _ = banks[i].accrue_interest(state.now);
        }
        banks
    }

    fn accrual_overflows(state: &State, bank: usize) -> bool {
        state.banks[bank].clone().accrue_interest(state.now).is_err()
    }

    // ------------------------------------------------------------------ invariants

    /// The invariants that hold in every state: vault conservation and share sums per bank,
    /// and every user's no-free-lunch ledger.
    fn check_state(&self, state: &State, when: &str) -> Check {
        for b in 0..BANKS {
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
            let (mut deposit_shares, mut borrow_shares) = (0u128, 0u128);
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
        }
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
    fn credit_index_changes(&mut self, before: &State, after: &State) {
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

    fn touch(&mut self, state: &State, bank: usize) {
        let b = &state.banks[bank];
        let index = b.deposit_index().max(b.borrow_index()).max(ONE_Q64);
        let units = (index >> 64) + 2;
        self.dust_budget[bank] += 8 * units;
    }

    // ------------------------------------------------------------------ one step

    fn step(&mut self, op: &Op) -> Check {
        if self.trace {
            eprintln!("  {op:?}");
        }
        let before = self.state();
        let op = &self.concrete(op, &before);
        if self.trace {
            eprintln!("    as {op:?}");
        }
        match *op {
            Op::Price { bank, change_bps, conf_bps, expo_shift } => {
                let o = &mut self.oracles[bank as usize];
                let value = o.value as i128 * (10_000 + change_bps as i128) / 10_000;
                o.value = value.clamp(1, 1_000_000_000_000) as i64;
                o.conf = (o.value as u128 * conf_bps as u128 / 10_000) as u64;
                o.shift = expo_shift;
                o.publish = before.now;
                o.fault = None;
                self.write_oracle(bank as usize);
                self.stats_ok(op);
                return Ok(());
            }
            Op::OracleFault { bank, fault } => {
                let o = &mut self.oracles[bank as usize];
                o.fault = Some(fault);
                if fault == OracleFault::Stale {
                    o.publish = before.now - 61;
                }
                self.write_oracle(bank as usize);
                self.stats_ok(op);
                return Ok(());
            }
            Op::Leave { user } => {
                let u = user as usize;
                let Some(account) = before.accounts[u] else { return Ok(()) };
                for p in account.active_positions().filter(|p| p.kind() == PositionKind::Borrow) {
                    let b = p.bank_index as usize;
                    let s = self.state();
                    let debt = self.reference(&s, u, b, Kind::Repay);
                    if s.wallets[u][b] < debt {
                        self.m.chain.mint_to(&self.users[u].tokens[b], debt - s.wallets[u][b]);
                    }
                    self.step(&Op::Repay { user, bank: b as u8, amount: Amount::All })?;
                }
                for p in account.active_positions() {
                    let bank = p.bank_index as u8;
                    self.step(&Op::Withdraw { user, bank, amount: Amount::All })?;
                }
                self.stats_ok(op);
                return self.step(&Op::Close { user });
            }
            Op::Collapse { user, liquidator } => {
                let liquidator = (user + 1 + liquidator % (USERS as u8 - 1)) % USERS as u8;
                self.step(&Op::Squeeze { user, bps: 9_700 })?;
                for sel in 4..7 {
                    let amount = Amount::Max;
                    let (liab, asset) = (sel, sel);
                    self.step(&Op::Liquidate {
                        liquidator,
                        liquidatee: user,
                        liab,
                        asset,
                        amount,
                    })?;
                }
                for sel in 4..6 {
                    self.step(&Op::Resolve { user, bank: sel })?;
                }
                self.stats_ok(op);
                return Ok(());
            }
            Op::Warp { secs, refresh } => {
                self.m.chain.warp_seconds(secs as i64);
                if refresh {
                    self.refresh_oracles();
                }
                self.stats_ok(op);
                return Ok(());
            }
            _ => {}
        }
        let snapshot = Snapshot::take(&self.m.chain, &self.all_addresses());
        let (result, expectation) = self.send(op, &before);
        self.judge(op, &before, &snapshot, result, expectation)
    }

    /// Banks (and a liquidatee) given as selectors (>= 4) become concrete: the n-th of the
    /// user's deposits / borrows / banks it can borrow from, or the most underwater other user.
    /// Raw values (< 4) stay as they are, so every combination still happens.
    pub fn concrete(&self, op: &Op, s: &State) -> Op {
        let pick = |user: u8, sel: u8, want: fn(Option<PositionShares>) -> bool| -> u8 {
            if (sel as usize) < BANKS {
                return sel;
            }
            let candidates: Vec<u8> = match &s.accounts[user as usize] {
                Some(a) => (0..BANKS as u8)
                    .filter(|&b| want(a.find(b as u16).and_then(|i| a.positions[i].shares())))
                    .collect(),
                None => vec![],
            };
            if candidates.is_empty() {
                sel % BANKS as u8
            } else {
                candidates[sel as usize % candidates.len()]
            }
        };
        let deposit = |p: Option<PositionShares>| matches!(p, Some(PositionShares::Deposit(_)));
        let borrow = |p: Option<PositionShares>| matches!(p, Some(PositionShares::Borrow(_)));
        let not_deposit =
            |p: Option<PositionShares>| !matches!(p, Some(PositionShares::Deposit(_)));
        match *op {
            Op::Withdraw { user, bank, amount } => {
                Op::Withdraw { user, bank: pick(user, bank, deposit), amount }
            }
            Op::Repay { user, bank, amount } => {
                Op::Repay { user, bank: pick(user, bank, borrow), amount }
            }
            Op::Borrow { user, bank, amount } => {
                Op::Borrow { user, bank: pick(user, bank, not_deposit), amount }
            }
            Op::Resolve { user, bank } => {
                // A selector picks a user flagged bankrupt, if there is one.
                let user = if (user as usize) < USERS {
                    user
                } else {
                    (0..USERS as u8)
                        .find(|&u| s.accounts[u as usize].is_some_and(|a| a.bankrupt != 0))
                        .unwrap_or(user % USERS as u8)
                };
                Op::Resolve { user, bank: pick(user, bank, borrow) }
            }
            Op::Squeeze { user, bps } => {
                let prices = self.prices(s);
                let largest = s.accounts[user as usize].as_ref().and_then(|a| {
                    let report = self.report(a, &s.banks, &prices).ok()?;
                    report
                        .positions
                        .iter()
                        .filter(|p| !p.2.is_liability)
                        .max_by_key(|p| p.2.value)
                        .map(|p| p.0 as u8)
                });
                Op::Price {
                    bank: largest.unwrap_or(user % BANKS as u8),
                    change_bps: -(bps as i32),
                    conf_bps: 0,
                    expo_shift: 0,
                }
            }
            Op::Liquidate { liquidator, liquidatee, liab, asset, amount } => {
                let liquidatee = if (liquidatee as usize) < USERS {
                    liquidatee
                } else {
                    // Another user the checks find liquidatable (below zero, or flagged and
                    // short of its end target), else the one with the lowest maint health.
                    let prices = self.prices(s);
                    let buffer = s.group.liquidation_end_buffer_bps;
                    (0..USERS as u8)
                        .filter(|&u| u != liquidator)
                        .min_by_key(|&u| match &s.accounts[u as usize] {
                            Some(a) => {
                                self.report(a, &s.banks, &prices).map_or((true, i128::MAX), |r| {
                                    let t = r.totals;
                                    let target = end_target(t.maint_weighted_liabs, buffer);
                                    let flagged = a.being_liquidated != 0;
                                    (
                                        !is_liquidatable(t.health.maint, target, flagged),
                                        t.health.maint,
                                    )
                                })
                            }
                            None => (true, i128::MAX),
                        })
                        .unwrap()
                };
                Op::Liquidate {
                    liquidator,
                    liquidatee,
                    liab: pick(liquidatee, liab, borrow),
                    asset: pick(liquidatee, asset, deposit),
                    amount,
                }
            }
            other => other,
        }
    }

    fn write_oracle(&mut self, b: usize) {
        let kind = if b == 2 { OracleKind::PythLegacy } else { OracleKind::PythPull };
        let (oracle, index) = (self.banks[b].oracle, self.banks[b].index);
        let o = self.oracles[b];
        let scale = 10i64.pow(o.shift as u32);
        let price = if o.fault == Some(OracleFault::NonPositive) { 0 } else { o.value * scale };
        let conf = if o.fault == Some(OracleFault::WideConf) {
            (o.value * scale / 30) as u64
        } else {
            o.conf * scale as u64
        };
        let quote = Quote { price, conf, exponent: -4 - o.shift as i32, publish_time: o.publish };
        self.m.write_oracle(kind, oracle, index, quote, o.fault != Some(OracleFault::Invalid));
    }

    /// Every oracle publishes again now, valid, at its last price.
    fn refresh_oracles(&mut self) {
        let now = self.m.now();
        for b in 0..BANKS {
            let o = &mut self.oracles[b];
            o.publish = now;
            o.fault = None;
            self.write_oracle(b);
        }
    }

    /// Sends `ixs` with the chain's fee payer, unsigned: the campaign's chain does not verify
    /// signatures (see `World::new`), and the signer flags in the message are what the program
    /// sees. Ed25519 signing would otherwise be most of a debug build's time per step.
    fn send_tx(&mut self, ixs: &[Instruction]) -> TxResult {
        let chain = &mut self.m.chain;
        let mut message = Message::new(ixs, Some(&chain.payer.pubkey()));
        message.recent_blockhash = chain.svm.latest_blockhash();
        let tx = Transaction::new_unsigned(message);
        let result = chain.svm.send_transaction(tx);
        chain.svm.expire_blockhash();
        match result {
            Ok(meta) => Ok(Executed {
                compute_units: meta.compute_units_consumed,
                logs: meta.logs,
                return_data: meta.return_data.data,
            }),
            Err(failed) => Err(Failed {
                error: failed.err,
                compute_units: failed.meta.compute_units_consumed,
                logs: failed.meta.logs,
            }),
        }
    }

    fn stats_ok(&mut self, op: &Op) {
        *self.stats.ok.entry(op.name()).or_default() += 1;
    }

    fn reference(&self, state: &State, user: usize, bank: usize, kind: Kind) -> u64 {
        let Some(account) = &state.accounts[user] else { return 1_000 };
        let banks = Self::accrued(state, &[bank]);
        match kind {
            Kind::Deposit => state.wallets[user][bank],
            Kind::Withdraw => positions::deposit_native(account, &banks[bank]).unwrap_or(0),
            Kind::Repay => positions::borrow_native(account, &banks[bank]).unwrap_or(0),
            Kind::Borrow => {
                let prices = self.prices(state);
                let capacity = match (self.report(account, &banks, &prices), &prices[bank]) {
                    (Ok(r), Ok(p)) if r.totals.health.init > 0 => {
                        let weighted = r.totals.health.init.min(u64::MAX as i128) as u64;
                        let value = cross_margin::math::mul_div(
                            weighted,
                            10_000,
                            banks[bank].config.init_liab_weight_bps as u64,
                            Round::Down,
                        )
                        .unwrap_or(0);
                        div_q64(value, p.liab_price, Round::Down).unwrap_or(0)
                    }
                    _ => 1_000,
                };
                capacity.min(banks[bank].available_liquidity().unwrap_or(0)).max(1)
            }
        }
    }

    fn amount(&self, amount: Amount, reference: u64) -> u64 {
        match amount {
            Amount::Zero => 0,
            Amount::Units(n) => n,
            Amount::Frac(bps) => (reference as u128 * bps as u128 / 10_000) as u64,
            Amount::All => reference,
            Amount::AllPlusOne => reference.saturating_add(1),
            Amount::Max => u64::MAX,
        }
    }

    fn transfer(&self, user: usize, bank: usize) -> Transfer {
        self.m.transfer(&self.users[user], &self.banks[bank])
    }

    /// Health accounts for the user's positions after `movement` (empty for a closed account).
    fn health_after(
        &self,
        state: &State,
        user: usize,
        bank: usize,
        mv: Movement,
        amount: u64,
    ) -> Vec<AccountMeta> {
        let Some(account) = &state.accounts[user] else { return vec![] };
        let after = ix::account_after(account, &state.banks[bank], mv, amount, state.now);
        ix::health_accounts(&after, |i| self.m.bank_by_index(i))
    }

    fn needs_health_check(
        state: &State,
        user: usize,
        bank: usize,
        mv: Movement,
        amount: u64,
    ) -> bool {
        let Some(account) = &state.accounts[user] else { return false };
        ix::account_after(account, &state.banks[bank], mv, amount, state.now).has_borrows()
    }

    // ------------------------------------------------------------------ sending

    /// Builds and sends the op's transaction. Returns the result and what is allowed: the
    /// errors it may end in, and whether it may succeed.
    fn send(&mut self, op: &Op, s: &State) -> (TxResult, Allowed) {
        match *op {
            Op::Deposit { user, bank, amount } => {
                let (u, b) = (user as usize, bank as usize);
                let amount = self.amount(amount, self.reference(s, u, b, Kind::Deposit));
                let ix = ix::deposit(&self.transfer(u, b), amount);
                let mut allowed = Allowed::success(&[
                    M(MarginError::ZeroAmount),
                    M(MarginError::InsufficientTokenBalance),
                    M(MarginError::GroupReduceOnly),
                    M(MarginError::DepositLimitExceeded),
                    M(MarginError::AmountTooSmall),
                    M(MarginError::NoFreePositionSlot),
                ]);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[b], &mut allowed);
                (self.send_tx(&[ix]), allowed)
            }
            Op::Repay { user, bank, amount } => {
                let (u, b) = (user as usize, bank as usize);
                let amount = self.amount(amount, self.reference(s, u, b, Kind::Repay));
                let ix = ix::repay(&self.transfer(u, b), amount);
                let mut allowed = Allowed::success(&[
                    M(MarginError::ZeroAmount),
                    M(MarginError::InsufficientTokenBalance),
                    M(MarginError::NoBorrow),
                    M(MarginError::RepayExceedsDebt),
                    M(MarginError::AmountTooSmall),
                ]);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[b], &mut allowed);
                (self.send_tx(&[ix]), allowed)
            }
            Op::Withdraw { user, bank, amount } => {
                let (u, b) = (user as usize, bank as usize);
                let amount = self.amount(amount, self.reference(s, u, b, Kind::Withdraw));
                let health = self.health_after(s, u, b, Movement::Withdraw, amount);
                let ix = ix::withdraw(&self.transfer(u, b), amount, health);
                let mut allowed = Allowed::success(&[
                    M(MarginError::ZeroAmount),
                    M(MarginError::InsufficientDeposit),
                    M(MarginError::InsufficientLiquidity),
                    M(MarginError::InitHealthNegative),
                    M(MarginError::AccountBankrupt),
                ]);
                allowed.extend(&ORACLE_ERRORS);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[0, 1, 2, 3], &mut allowed);
                (self.send_tx(&[ix]), allowed)
            }
            Op::Borrow { user, bank, amount } => {
                let (u, b) = (user as usize, bank as usize);
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
                ]);
                allowed.extend(&ORACLE_ERRORS);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[0, 1, 2, 3], &mut allowed);
                (self.send_tx(&[ix]), allowed)
            }
            Op::Liquidate { liquidator, liquidatee, liab, asset, amount } => {
                let (lr, le, l, a) =
                    (liquidator as usize, liquidatee as usize, liab as usize, asset as usize);
                let owed = self.reference(s, le, l, Kind::Repay);
                let max = match amount {
                    Amount::Max | Amount::All => u64::MAX,
                    other => self.amount(other, owed),
                };
                let ix = self.liquidate_ix(s, lr, le, l, a, max);
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
                    M(MarginError::BorrowAgainstOwnDeposit),
                ]);
                // Refusals that judge the account must agree with the checks' own judgement
                // (when they can make one: an open account with every position priced).
                match self.judge_liquidatee(s, le, l, a) {
                    Some(Judgement { write_off, liquidatable }) => {
                        if write_off {
                            allowed.extend(&[M(MarginError::AccountBankrupt)]);
                        } else if !liquidatable {
                            allowed.extend(&[M(MarginError::NotLiquidatable)]);
                        }
                    }
                    None => allowed.extend(&[
                        M(MarginError::AccountBankrupt),
                        M(MarginError::NotLiquidatable),
                    ]),
                }
                allowed.extend(&ORACLE_ERRORS);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[0, 1, 2, 3], &mut allowed);
                (self.send_tx(&[ix]), allowed)
            }
            Op::Resolve { user, bank } => {
                let (u, b) = (user as usize, bank as usize);
                let health = match &s.accounts[u] {
                    Some(a) => self.m.health_accounts_of(a),
                    None => vec![],
                };
                let ix = ix::resolve_bankruptcy(
                    self.m.group,
                    self.users[u].account,
                    self.banks[b].address,
                    health,
                );
                let mut allowed = Allowed::success(&[M(MarginError::NoBorrow)]);
                // NotBankrupt only where the checks find no write-off allowed (or cannot tell).
                if self.judge_write_off(s, u, b) != Some(true) {
                    allowed.extend(&[M(MarginError::NotBankrupt)]);
                }
                allowed.extend(&ORACLE_ERRORS);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[0, 1, 2, 3], &mut allowed);
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
            Op::FundInsurance { bank, amount } => {
                let b = bank as usize;
                let decimals = s.banks[b].decimals as u32;
                let amount = self.amount(amount, 1_000 * 10u64.pow(decimals));
                let amount = if amount == u64::MAX { 1 } else { amount };
                let allowed = Allowed::success(&[M(MarginError::ZeroAmount)]);
                let bank = self.banks[b];
                (self.m.fund_insurance(&bank, amount), allowed)
            }
            Op::ReduceOnly(on) => {
                let ix = ix::configure_group(
                    self.m.group,
                    self.m.admin.pubkey(),
                    GroupConfigOptions { reduce_only: Some(on), ..Default::default() },
                );
                (self.send_tx(&[ix]), Allowed::success(&[]))
            }
            Op::Close { user } => {
                let u = &self.users[user as usize];
                let ix = ix::close_account(u.account, u.keypair.pubkey());
                let mut allowed = Allowed::success(&[M(MarginError::AccountNotEmpty)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            Op::Reopen { user } => {
                let u = &self.users[user as usize];
                let (ix, _) =
                    ix::create_account(self.m.group, u.keypair.pubkey(), u.keypair.pubkey(), 0);
                // The system program refuses an address already in use (its error 0).
                (self.send_tx(&[ix]), Allowed::success(&[Expect::Code(0)]))
            }
            Op::Bad(bad) => self.send_bad(bad, s),
            Op::Price { .. }
            | Op::OracleFault { .. }
            | Op::Warp { .. }
            | Op::Leave { .. }
            | Op::Squeeze { .. }
            | Op::Collapse { .. } => unreachable!(),
        }
    }

    /// How `liquidate` must judge the liquidatee, computed by the checks: `None` when they cannot
    /// (no account, or a position without a usable price).
    fn judge_liquidatee(&self, s: &State, le: usize, l: usize, a: usize) -> Option<Judgement> {
        let account = s.accounts[le].as_ref()?;
        let banks = Self::accrued(s, &[l, a]);
        let report = self.report(account, &banks, &self.prices(s)).ok()?;
        let dust = s.group.bankruptcy_dust_quote;
        let write_off = can_write_off_account(&report.totals, account.bankrupt != 0, dust);
        let target =
            end_target(report.totals.maint_weighted_liabs, s.group.liquidation_end_buffer_bps);
        let under_way = account.being_liquidated != 0;
        let liquidatable = is_liquidatable(report.totals.health.maint, target, under_way);
        Some(Judgement { write_off, liquidatable })
    }

    /// What a write-off of user `u`'s debt in bank `b` is judged by, computed independently of
    /// the program's bankruptcy module: its deposits' value (always priced), its debts' value
    /// (`None` when a debt has no usable price) and whether a liquidation flagged it.
    fn write_off_facts(&self, s: &State, u: usize, b: usize) -> Result<WriteOffFacts, String> {
        let account = s.accounts[u].as_ref().ok_or("no account")?;
        let banks = Self::accrued(s, &[b]);
        let prices = self.prices(s);
        let mut deposits = 0u64;
        let mut liabs = Some(0u64);
        for p in account.active_positions() {
            let i = p.bank_index as usize;
            match p.shares().unwrap() {
                PositionShares::Deposit(sh) => {
                    let price = prices[i].map_err(|e| format!("a deposit has no price: {e:?}"))?;
                    let risk = banks[i].risk(price.asset_price, 0).unwrap();
                    deposits += risk.position_health(PositionShares::Deposit(sh)).unwrap().value;
                }
                PositionShares::Borrow(sh) => match prices[i] {
                    Ok(price) => {
                        let risk = banks[i].risk(0, price.liab_price).unwrap();
                        let value = risk.position_health(PositionShares::Borrow(sh)).unwrap().value;
                        liabs = liabs.map(|l| l + value);
                    }
                    Err(_) => liabs = None,
                },
            }
        }
        Ok(WriteOffFacts { deposits, liabs, flagged: account.bankrupt != 0 })
    }

    /// Whether `resolve_bankruptcy` may write off user `u`'s debt in bank `b`: `None` when the
    /// checks cannot tell (no account or debt there, or a price the program needs is missing).
    fn judge_write_off(&self, s: &State, u: usize, b: usize) -> Option<bool> {
        let account = s.accounts[u].as_ref()?;
        let bank = &Self::accrued(s, &[b])[b];
        if positions::borrow_native(account, bank).ok()? == 0 {
            return None;
        }
        let facts = self.write_off_facts(s, u, b).ok()?;
        if !facts.flagged && facts.liabs.is_none() {
            return None;
        }
        Some(facts.allowed(s.group.bankruptcy_dust_quote))
    }

    /// MathOverflow is expected exactly when a bank the instruction accrues cannot accrue:
    /// its debt has outgrown u64 (more than any token's supply). Checked against the program's
    /// own accrual, so an overflow anywhere else still fails the campaign.
    fn overflow_allowed(&self, s: &State, banks: &[usize], allowed: &mut Allowed) {
        if banks.iter().any(|&b| Self::accrual_overflows(s, b)) {
            allowed.extend(&[M(MarginError::MathOverflow)]);
        }
    }

    fn liquidate_ix(
        &self,
        s: &State,
        lr: usize,
        le: usize,
        l: usize,
        a: usize,
        max: u64,
    ) -> Instruction {
        let (liab_amount, to_liquidator) = match self.plan_liquidation(s, le, l, a, max) {
            Some(amounts) => (amounts.liab.max(1), amounts.asset_to_liquidator.max(1)),
            None => (1, 1),
        };
        let liquidator_health = match &s.accounts[lr] {
            Some(account) => {
                let after = ix::liquidator_after(
                    account,
                    &s.banks[l],
                    liab_amount,
                    &s.banks[a],
                    to_liquidator,
                    s.now,
                );
                ix::health_accounts(&after, |i| self.m.bank_by_index(i))
            }
            None => vec![],
        };
        let liquidatee_health = match &s.accounts[le] {
            Some(account) => self.m.health_accounts_of(account),
            None => vec![],
        };
        ix::liquidate(
            self.m.group,
            self.users[lr].account,
            self.users[lr].keypair.pubkey(),
            self.users[le].account,
            self.banks[l].address,
            self.banks[a].address,
            max,
            liquidatee_health,
            liquidator_health,
        )
    }

    /// The amounts the program will compute: the pure liquidation module on the liquidatee's
    /// health with the two banks accrued (as the program does first).
    fn plan_liquidation(
        &self,
        s: &State,
        le: usize,
        l: usize,
        a: usize,
        max: u64,
    ) -> Option<LiquidationAmounts> {
        let account = s.accounts[le].as_ref()?;
        let banks = Self::accrued(s, &[l, a]);
        let prices = self.prices(s);
        let before = self.report(account, &banks, &prices).ok()?;
        let liab =
            before.position(l as u16).filter(|p| matches!(p.1, PositionShares::Borrow(_)))?;
        let asset =
            before.position(a as u16).filter(|p| matches!(p.1, PositionShares::Deposit(_)))?;
        liquidation_amounts(&LiquidationInputs {
            maint_health: before.totals.health.maint,
            maint_weighted_liabs: before.totals.maint_weighted_liabs,
            end_buffer_bps: s.group.liquidation_end_buffer_bps,
            liab_price: liab.4,
            liab_maint_weight_bps: banks[l].config.maint_liab_weight_bps,
            asset_price: asset.3,
            asset_maint_weight_bps: banks[a].config.maint_asset_weight_bps,
            liquidation_fee_bps: banks[a].config.liquidation_fee_bps,
            insurance_fee_bps: banks[a].config.insurance_fee_bps,
            liab_owed: liab.2.native,
            asset_available: asset.2.native,
            max_liab_amount: max,
        })
        .ok()
    }

    fn send_bad(&mut self, bad: BadOp, s: &State) -> (TxResult, Allowed) {
        let kind_ix =
            |w: &World, t: &Transfer, kind: Kind, amount: u64, health: Vec<AccountMeta>| match kind
            {
                Kind::Deposit => ix::deposit(t, amount),
                Kind::Repay => ix::repay(t, amount),
                Kind::Withdraw => ix::withdraw(t, amount, health),
                Kind::Borrow => {
                    let _ = w;
                    ix::borrow(t, amount, health)
                }
            };
        match bad {
            BadOp::ForeignSigner { user, victim, bank, kind } => {
                let victim = if victim == user { (user + 1) % USERS as u8 } else { victim };
                let mut t = self.transfer(victim as usize, bank as usize);
                t.owner = self.users[user as usize].keypair.pubkey();
                t.user_token = self.users[user as usize].tokens[bank as usize];
                let health = self.health_after(s, victim as usize, bank as usize, mv(kind), 1_000);
                let ix = kind_ix(self, &t, kind, 1_000, health);
                let mut allowed = Allowed::failure(&[M(MarginError::NotAccountOwner)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::Unsigned { user, bank, kind } => {
                let t = self.transfer(user as usize, bank as usize);
                let health = self.health_after(s, user as usize, bank as usize, mv(kind), 1_000);
                let mut ix = kind_ix(self, &t, kind, 1_000, health);
                let owner = t.owner;
                ix.accounts
                    .iter_mut()
                    .filter(|a| a.pubkey == owner)
                    .for_each(|a| a.is_signer = false);
                let mut allowed = Allowed::failure(&[A(AnchorError::AccountNotSigner)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::WrongUserToken { user, bank, other } => {
                let other = if other == bank { (bank + 1) % BANKS as u8 } else { other };
                let mut t = self.transfer(user as usize, bank as usize);
                t.user_token = self.users[user as usize].tokens[other as usize];
                let ix = ix::deposit(&t, 1_000);
                let mut allowed = Allowed::failure(&[M(MarginError::WrongMint)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::WrongVault { user, bank, other, kind } => {
                let other = if other == bank { (bank + 1) % BANKS as u8 } else { other };
                let mut t = self.transfer(user as usize, bank as usize);
                t.bank.vault = self.banks[other as usize].vault;
                let health = self.health_after(s, user as usize, bank as usize, mv(kind), 1_000);
                let ix = kind_ix(self, &t, kind, 1_000, health);
                let mut allowed = Allowed::failure(&[M(MarginError::WrongVault)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::ForeignBank { user, kind } => {
                let mut t = self.transfer(user as usize, 0);
                t.bank = self.foreign;
                let ix = kind_ix(self, &t, kind, 1_000, vec![]);
                let mut allowed = Allowed::failure(&[M(MarginError::WrongGroup)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::Health { user, bank, borrow, tamper, amount } => {
                let (u, b) = (user as usize, bank as usize);
                let (kind, movement) = if borrow {
                    (Kind::Borrow, Movement::Borrow)
                } else {
                    (Kind::Withdraw, Movement::Withdraw)
                };
                let amount = self.amount(amount, self.reference(s, u, b, kind));
                let mut health = self.health_after(s, u, b, movement, amount);
                let tampered = self.tamper(&mut health, tamper);
                let t = self.transfer(u, b);
                let ix = kind_ix(self, &t, kind, amount, health);
                // The tampering is only rejected if the health check runs (the account has
                // borrows after) and the earlier checks pass; otherwise any outcome of the
                // honest instruction is fine.
                let must_fail = tampered && Self::needs_health_check(s, u, b, movement, amount);
                let mut allowed =
                    if must_fail { Allowed::failure(&[]) } else { Allowed::success(&[]) };
                allowed.extend(&[
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
                    M(MarginError::BorrowLimitExceeded),
                    M(MarginError::NoFreePositionSlot),
                ]);
                allowed.extend(&ORACLE_ERRORS);
                allowed.extend(&CLOSED);
                self.overflow_allowed(s, &[0, 1, 2, 3], &mut allowed);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::SelfLiquidation { user, liab, asset } => {
                let ix = self.liquidate_ix(
                    s,
                    user as usize,
                    user as usize,
                    liab as usize,
                    asset as usize,
                    u64::MAX,
                );
                let mut allowed = Allowed::failure(&[M(MarginError::SelfLiquidation)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::SameBankLiquidation { liquidator, liquidatee, bank } => {
                let liquidatee = if liquidatee == liquidator {
                    (liquidator + 1) % USERS as u8
                } else {
                    liquidatee
                };
                let b = bank as usize;
                let ix =
                    self.liquidate_ix(s, liquidator as usize, liquidatee as usize, b, b, u64::MAX);
                let mut allowed = Allowed::failure(&[M(MarginError::LiquidationSameBank)]);
                allowed.extend(&CLOSED);
                (self.send_tx(&[ix]), allowed)
            }
            BadOp::NotAdminFund { user, bank } => {
                let u = &self.users[user as usize];
                let source = u.tokens[bank as usize];
                let ix = ix::fund_insurance(
                    self.m.group,
                    u.keypair.pubkey(),
                    &self.banks[bank as usize],
                    source,
                    1_000,
                );
                (self.send_tx(&[ix]), Allowed::failure(&[M(MarginError::NotGroupAdmin)]))
            }
            BadOp::NotAdminConfigure { user } => {
                let u = &self.users[user as usize];
                let ix = ix::configure_group(
                    self.m.group,
                    u.keypair.pubkey(),
                    GroupConfigOptions {
                        paused: Some(true),
                        reduce_only: Some(true),
                        ..Default::default()
                    },
                );
                (self.send_tx(&[ix]), Allowed::failure(&[M(MarginError::NotGroupAdmin)]))
            }
            BadOp::Cosplay { user, bank, what } => {
                let (u, b) = (user as usize, bank as usize);
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

    // ------------------------------------------------------------------ judging a step

    fn judge(
        &mut self,
        op: &Op,
        before: &State,
        snapshot: &Snapshot,
        result: TxResult,
        allowed: Allowed,
    ) -> Check {
        let logs = match &result {
            Ok(e) => &e.logs,
            Err(f) => &f.logs,
        };
        if let Some(line) = logs.iter().find(|l| l.to_lowercase().contains("panicked")) {
            return Err(format!("the program panicked: {line}"));
        }
        let after = self.state();
        match result {
            Err(failed) => {
                *self.stats.rejected.entry(op.name()).or_default() += 1;
                let reason =
                    failed.error_name().map_or_else(|| format!("{:?}", failed.error), String::from);
                *self.stats.reasons.entry((op.name(), reason)).or_default() += 1;
                ensure!(
                    !format!("{:?}", failed.error).contains("ProgramFailedToComplete"),
                    "ProgramFailedToComplete\n{}",
                    failed.logs.join("\n")
                );
                let code = failed.custom_code();
                ensure!(
                    code.is_some_and(|c| allowed.errors.iter().any(|e| e.code() == c)),
                    "unexpected error {:?} ({:?}), allowed {:?}\n{}",
                    failed.error,
                    failed.error_name(),
                    allowed.errors,
                    failed.logs.join("\n")
                );
                // A rejected instruction changes nothing: LiteSVM keeps no state of a failed
                // transaction but the fee, and the payer is not among these accounts.
                self.unchanged(before, &after)?;
                snapshot
                    .changed(&self.m.chain)
                    .map_or(Ok(()), |a| Err(format!("a rejected instruction changed account {a}")))
            }
            Ok(executed) => {
                *self.stats.ok.entry(op.name()).or_default() += 1;
                ensure!(allowed.success, "succeeded, but must fail\n{}", executed.logs.join("\n"));
                self.credit_index_changes(before, &after);
                self.after_success(op, before, &after, &executed)?;
                self.check_state(&after, "after")
            }
        }
    }

    fn unchanged(&self, before: &State, after: &State) -> Check {
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

    /// The per-action invariants of a successful instruction, and the ledger.
    fn after_success(&mut self, op: &Op, s0: &State, s1: &State, executed: &Executed) -> Check {
        let prices = self.prices(s1);
        match *op {
            Op::Deposit { user, bank, .. } | Op::Repay { user, bank, .. } => {
                let (u, b) = (user as usize, bank as usize);
                let paid = s0.wallets[u][b] - s1.wallets[u][b];
                ensure!(
                    s1.vaults[b] == s0.vaults[b] + paid,
                    "vault did not receive what the wallet paid"
                );
                self.ledger[u][b] += paid as i128;
                self.touch(s1, b);
            }
            Op::Withdraw { user, bank, .. } | Op::Borrow { user, bank, .. } => {
                let (u, b) = (user as usize, bank as usize);
                let got = s1.wallets[u][b] - s0.wallets[u][b];
                ensure!(
                    s0.vaults[b] == s1.vaults[b] + got,
                    "wallet received what the vault did not pay"
                );
                self.ledger[u][b] -= got as i128;
                self.touch(s1, b);
                let account = s1.accounts[u].as_ref().expect("open");
                if account.has_borrows() {
                    let report = self.report(account, &s1.banks, &prices).map_err(|e| {
                        format!("the program passed a health check the checks cannot price: {e:?}")
                    })?;
                    ensure!(
                        report.totals.health.init >= 0,
                        "init health {} < 0 after a successful {}",
                        report.totals.health.init,
                        op.name()
                    );
                    let event = &executed.events::<TokenMovement>()[0];
                    ensure!(
                        event.init_health_after == report.totals.health.init,
                        "event init health {} != recomputed {}",
                        event.init_health_after,
                        report.totals.health.init
                    );
                }
            }
            Op::Liquidate { liquidator, liquidatee, liab, asset, amount } => {
                let (lr, le, l, a) =
                    (liquidator as usize, liquidatee as usize, liab as usize, asset as usize);
                let max = match amount {
                    Amount::Max | Amount::All => u64::MAX,
                    other => self.amount(other, self.reference(s0, le, l, Kind::Repay)),
                };
                self.check_liquidation(s0, s1, lr, le, l, a, max, executed)?;
            }
            Op::Resolve { user, bank } => {
                let (u, b) = (user as usize, bank as usize);
                let facts = self
                    .write_off_facts(s0, u, b)
                    .map_err(|e| format!("resolve priced what the checks cannot: {e}"))?;
                let WriteOffFacts { deposits, liabs, flagged } = facts;
                ensure!(
                    deposits < s0.group.bankruptcy_dust_quote,
                    "wrote off an account with {deposits} of deposits (dust {})",
                    s0.group.bankruptcy_dust_quote
                );
                ensure!(
                    flagged || liabs.is_some_and(|liabs| deposits < liabs),
                    "wrote off the debt of a solvent account: deposits {deposits} >= debts {liabs:?}, never flagged by a liquidation"
                );
                let event = &executed.events::<BankruptcyResolved>()[0];
                self.ledger[u][b] += event.debt as i128;
                self.touch(s1, b);
            }
            Op::FundInsurance { bank, .. } => {
                let b = bank as usize;
                let added = s1.banks[b].insurance_native - s0.banks[b].insurance_native;
                ensure!(s1.vaults[b] == s0.vaults[b] + added, "insurance funding not in the vault");
            }
            Op::Close { user } => {
                ensure!(
                    s0.accounts[user as usize].as_ref().is_some_and(|a| a.is_empty()),
                    "closed an account with positions"
                );
                ensure!(s1.accounts[user as usize].is_none(), "closed account still there");
            }
            Op::Reopen { user } => {
                let a = s1.accounts[user as usize].as_ref().expect("created");
                ensure!(
                    a.is_empty() && a.bankrupt == 0 && a.being_liquidated == 0,
                    "a re-created account is not empty"
                );
            }
            Op::ReduceOnly(_) => {}
            Op::Bad(bad) => {
                // Only health tampering that the program may ignore can succeed: apply the
                // honest instruction's bookkeeping.
                if let BadOp::Health { user, bank, borrow, amount, .. } = bad {
                    let honest = if borrow {
                        Op::Borrow { user, bank, amount }
                    } else {
                        Op::Withdraw { user, bank, amount }
                    };
                    return self.after_success(&honest, s0, s1, executed);
                }
                return Err(format!("bad input {bad:?} succeeded"));
            }
            Op::Price { .. }
            | Op::OracleFault { .. }
            | Op::Warp { .. }
            | Op::Leave { .. }
            | Op::Squeeze { .. }
            | Op::Collapse { .. } => unreachable!(),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn check_liquidation(
        &mut self,
        s0: &State,
        s1: &State,
        lr: usize,
        le: usize,
        l: usize,
        a: usize,
        max: u64,
        executed: &Executed,
    ) -> Check {
        let event = executed.events::<Liquidation>()[0].clone();
        let account0 = s0.accounts[le].as_ref().expect("open");
        let banks0 = Self::accrued(s0, &[l, a]);
        let prices = self.prices(s0);
        let before = self
            .report(account0, &banks0, &prices)
            .map_err(|e| format!("liquidatee unpriceable: {e:?}"))?;
        let target =
            end_target(before.totals.maint_weighted_liabs, s0.group.liquidation_end_buffer_bps);
        ensure!(
            is_liquidatable(before.totals.health.maint, target, account0.being_liquidated != 0),
            "liquidated an account at maint health {} (target {target}, flagged {})",
            before.totals.health.maint,
            account0.being_liquidated
        );
        ensure!(
            event.maint_health_before == before.totals.health.maint,
            "event maint before {} != recomputed {}",
            event.maint_health_before,
            before.totals.health.maint
        );
        let planned = self
            .plan_liquidation(s0, le, l, a, max)
            .ok_or("the checks cannot plan a liquidation the program ran")?;
        ensure!(
            (event.liab_amount, event.asset_to_liquidator, event.asset_to_insurance)
                == (planned.liab, planned.asset_to_liquidator, planned.asset_to_insurance),
            "amounts {:?} differ from the liquidation module's {planned:?}",
            (event.liab_amount, event.asset_to_liquidator, event.asset_to_insurance)
        );
        let account1 = s1.accounts[le].as_ref().expect("open");
        let after = self.report(account1, &s1.banks, &prices).map_err(|e| format!("{e:?}"))?;
        let liab_gone = positions::borrow_native(account1, &s1.banks[l]).unwrap() == 0;
        ensure!(
            after.totals.health.maint > before.totals.health.maint || liab_gone,
            "maint health {} -> {}: not improved",
            before.totals.health.maint,
            after.totals.health.maint
        );
        ensure!(
            event.maint_health_after == after.totals.health.maint,
            "event maint after {} != recomputed {}",
            event.maint_health_after,
            after.totals.health.maint
        );
        if event.bankrupt {
            ensure!(
                can_write_off_account(&after.totals, false, s1.group.bankruptcy_dust_quote),
                "flagged bankrupt while solvent or above dust: deposits {} debts {}",
                after.totals.deposits_value,
                after.totals.liabs_value
            );
        }
        let liquidator = s1.accounts[lr].as_ref().expect("open");
        let lh = self.report(liquidator, &s1.banks, &prices).map_err(|e| format!("{e:?}"))?;
        ensure!(lh.totals.health.init >= 0, "liquidator init health {} < 0", lh.totals.health.init);
        ensure!(s0.vaults == s1.vaults, "a liquidation moved tokens");
        self.ledger[lr][l] -= event.liab_amount as i128;
        self.ledger[lr][a] += event.asset_to_liquidator as i128;
        self.ledger[le][l] += event.liab_amount as i128;
        self.ledger[le][a] -= (event.asset_to_liquidator + event.asset_to_insurance) as i128;
        self.touch(s1, l);
        self.touch(s1, a);
        Ok(())
    }

    // ------------------------------------------------------------------ exit phase

    /// Every user repays every debt (topping up its wallet first), then withdraws every deposit
    /// and closes its account. All of it must succeed: nobody is locked in. Afterwards the banks
    /// hold only insurance and rounding dust, and every ledger is non-negative: no user took out
    /// more than it put in, borrowed, and was credited.
    fn exit(&mut self) -> Check {
        let s = self.state();
        if (0..BANKS).any(|b| Self::accrual_overflows(&s, b)) {
            self.stats.overflowed += 1;
            return Ok(());
        }
        self.refresh_oracles();
        let ix = ix::configure_group(
            self.m.group,
            self.m.admin.pubkey(),
            GroupConfigOptions {
                paused: Some(false),
                reduce_only: Some(false),
                ..Default::default()
            },
        );
        self.send_tx(&[ix]).map_err(|f| format!("unpause: {:?}", f.error))?;
        for u in 0..USERS {
            let s = self.state();
            let Some(account) = s.accounts[u] else { continue };
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
                let result = self.send_tx(&[ix]);
                let result = result.map_err(|f| {
                    format!(
                        "user {u} cannot repay {debt} in bank {b}: {:?} {:?}\n{}",
                        f.error,
                        f.error_name(),
                        f.logs.join("\n")
                    )
                })?;
                let after = self.state();
                self.credit_index_changes(&s, &after);
                self.after_success(&op, &s, &after, &result)?;
                self.check_state(&after, "exit repay")?;
            }
        }
        for u in 0..USERS {
            let s = self.state();
            let Some(account) = s.accounts[u] else { continue };
            for p in account.active_positions() {
                let b = p.bank_index as usize;
                let s = self.state();
                let amount = self.reference(&s, u, b, Kind::Withdraw);
                let op = Op::Withdraw { user: u as u8, bank: b as u8, amount: Amount::All };
                let health = self.health_after(&s, u, b, Movement::Withdraw, amount);
                let ix = ix::withdraw(&self.transfer(u, b), amount, health);
                let result = self.send_tx(&[ix]).map_err(|f| {
                    format!(
                        "user {u} cannot withdraw its {amount} from bank {b}: {:?} {:?}\n{}",
                        f.error,
                        f.error_name(),
                        f.logs.join("\n")
                    )
                })?;
                let after = self.state();
                self.credit_index_changes(&s, &after);
                self.after_success(&op, &s, &after, &result)?;
                self.check_state(&after, "exit withdraw")?;
            }
            let s = self.state();
            let account = s.accounts[u].as_ref().expect("open");
            ensure!(
                account.is_empty(),
                "user {u} still holds positions after repaying and withdrawing everything"
            );
            let ix = ix::close_account(self.users[u].account, self.users[u].keypair.pubkey());
            self.send_tx(&[ix])
                .map_err(|f| format!("user {u} cannot close: {:?}", f.error_name()))?;
        }
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
        self.stats.exits += 1;
        Ok(())
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

fn mv(kind: Kind) -> Movement {
    match kind {
        Kind::Deposit => Movement::Deposit,
        Kind::Withdraw => Movement::Withdraw,
        Kind::Borrow => Movement::Borrow,
        Kind::Repay => Movement::Repay,
    }
}

/// A bank's vault balance and what it owes: deposits − borrows + insurance.
pub fn claims(state: &State, b: usize) -> (u64, i128) {
    let bank = &state.banks[b];
    let claims = bank.total_deposits_native().expect("fits") as i128
        - bank.total_borrows_native().expect("fits") as i128
        + bank.insurance_native as i128;
    (state.vaults[b], claims)
}

/// Which outcomes an action may have.
#[derive(Debug, Clone)]
struct Allowed {
    success: bool,
    errors: Vec<Expect>,
}

impl Allowed {
    fn success(errors: &[Expect]) -> Self {
        Self { success: true, errors: errors.to_vec() }
    }

    fn failure(errors: &[Expect]) -> Self {
        Self { success: false, errors: errors.to_vec() }
    }

    fn extend(&mut self, errors: &[Expect]) {
        self.errors.extend_from_slice(errors);
    }
}
