//! The stateful property campaign: random sequences of user, keeper, admin and oracle actions
//! (and bad inputs) run against the real `.so` in LiteSVM, with the protocol's invariants checked
//! after every step by code that reads the chain and recomputes what it needs with the program's
//! own pure modules (`health`, `oracle`, `positions`, `liquidation`, `bankruptcy`).
//!
//! The market is built once ([`World::new`]); every sequence starts from a clone of that chain
//! ([`World::reset`]), which costs about 50 µs instead of the ~0.5 s a new market takes.
//!
//! The generator (proptest strategies) lives in `tests/tests/properties.rs`. This module is
//! the rest, in parts:
//!
//! - [`ops`]: the actions a sequence is made of ([`Op`], [`BadOp`] and their parameters);
//! - `step`: one step: the local and composite actions, and the verdict on a transaction;
//!   `selectors`: selectors made concrete;
//! - `executor`: one function per action that builds and sends its transaction, with the
//!   outcomes it may have (`outcomes`); `bad_inputs`: the same for the attacks;
//! - `chain` and `oracles`: reading the chain into a [`State`], writing prices;
//! - `models`: what the checks expect, computed independently (amounts, liquidations,
//!   write-offs);
//! - `invariants` (every state), `postconditions` (per successful action) and `exit` (the
//!   exit phase after every sequence); `liquidation_value` (fees, owners) and `liveness`
//!   (issue 23); `front_run`: a liquidatee's own instruction and a liquidation of it in one
//!   transaction, judged against the pair sent one after the other;
//! - the perp market: `perp_ops` (orders, settlement, the pool: each simulated first with the
//!   program's pure perp modules, which says how it must end), `perp_invariants` (open interest,
//!   aggregates, funding, the pool's cash flows and zero-sum, after every step).
//!
//! See docs/SECURITY.md for the invariants and how to run campaigns.

use cross_margin::positions;
use cross_margin::state::{GroupConfigOptions, OracleKind, PerpMarketConfig};
use cross_margin_client::ix::{self, BankRef};
use cross_margin_client::perp_ix::PerpMarketRef;
use cross_margin_client::pyth::Quote;
use litesvm::LiteSVM;

use crate::market::*;
use crate::*;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// The actions that are not a transaction of their own: local (prices, faults, the clock),
/// made of other steps (`Leave`, `Collapse`), or made concrete as another (`Squeeze`).
macro_rules! no_transaction {
    () => {
        Op::Price { .. }
            | Op::OracleFault { .. }
            | Op::PerpPrice { .. }
            | Op::PerpFault(_)
            | Op::Warp { .. }
            | Op::Leave { .. }
            | Op::Squeeze { .. }
            | Op::Collapse { .. }
            | Op::Corner { .. }
            | Op::FrontRun { .. }
            | Op::PerpFrontRun { .. }
            | Op::OracleEdge { .. }
            | Op::Dust { .. }
            | Op::StaleDust { .. }
            | Op::PerpCollapse { .. }
    };
}

mod bad_inputs;
mod chain;
mod executor;
mod exit;
mod front_run;
mod invariants;
mod liquidation_value;
mod liveness;
mod models;
pub mod ops;
mod oracles;
mod outcomes;
mod perp_invariants;
mod perp_liquidation;
mod perp_ops;
mod perp_postconditions;
mod postconditions;
mod selectors;
mod stats;
mod step;

pub use chain::{claims, PositionReport, Report, State};
pub use ops::*;
pub use stats::Stats;

use oracles::Oracle;
use perp_invariants::PerpBook;

/// The users the token actions pick among (they trade perps too).
pub const USERS: usize = 4;
/// Every margin account: the users, the LP and user 0's second account.
pub const ACCOUNTS: usize = USERS + 2;
/// The LP's index among `World::users`: it funds the perp market's pool.
pub const LP: usize = USERS;
/// User 0's second account (`account_num` 1, the same owner and wallets): a liquidator that may
/// liquidate its own owner's first account (finding L-4's attacker).
pub const SIBLING: usize = USERS + 1;
pub const BANKS: usize = 4;
/// The LP's first pool deposit ($100,000), and what it keeps in the USDC bank besides.
pub const POOL_USD: u64 = 100_000_000_000;
const LP_SPARE_USD: u64 = 50_000_000_000;

/// An invariant's verdict: the first broken one, described.
type Check = Result<(), String>;

pub struct World {
    pub m: Market,
    pub banks: Vec<BankRef>,
    /// The users, then the LP ([`LP`]).
    pub users: Vec<User>,
    /// A bank of another group (same admin, same USDC mint).
    pub foreign: BankRef,
    /// The perp market (SOL-PERP-like at $100, settling in USDC).
    pub perp: PerpMarketRef,
    base: LiteSVM,
    base_oracles: Vec<Oracle>,
    base_perp_oracle: Oracle,
    // --- per sequence ---
    oracles: Vec<Oracle>,
    perp_oracle: Oracle,
    /// The perp market's cash flows, as its events report them.
    book: PerpBook,
    /// Every user's (in − out + protocol credits) per bank, in native units: what its position
    /// may be worth at most (no-free-lunch ledger).
    ledger: Vec<[i128; BANKS]>,
    /// Tokens the vault may hold beyond deposits − borrows + insurance: rounding dust, at most a
    /// few index units per operation.
    dust_budget: [u128; BANKS],
    pub stats: Stats,
    pub trace: bool,
    /// While a front-run is judged: every transaction sent, in order (`World::front_run`).
    recording: Option<Vec<front_run::Sent>>,
}

impl World {
    /// The market every sequence starts from: USDC, SOL (pull), BTC (legacy) and a fourth,
    /// riskier pull bank (size-aware init weight from $20,000 of deposits, a steeper interest
    /// curve, deposit and borrow limits); a perp market at $100 settling in USDC; four users
    /// with wallets of every token, the fourth also a lender in every bank; an LP with $100,000
    /// in the perp pool; a bank of another group for substitution attempts.
    pub fn new() -> Self {
        let mut m = Market::new();
        add_risky_bank(&mut m);
        let banks = m.banks();
        let perp = add_perp_market(&mut m, &banks[0]);
        let mut users = fund_users(&mut m, &banks);
        users.push(fund_lp(&mut m, &banks, &perp));
        let sibling = open_sibling(&mut m, &banks, &users[0]);
        users.push(sibling);
        let (_, foreign) = m.other_group_bank();
        // Live: changes that can hurt positions wait a day (finding M-1).
        let live = GroupConfigOptions {
            config_delay_secs: Some(cross_margin::constants::MIN_CONFIG_DELAY_SECS),
            ..Default::default()
        };
        let ix = ix::configure_group(m.group, m.admin.pubkey(), live);
        m.send_as_admin(&[ix]).expect_ok("go live");
        // Signatures are the runtime's business, and verifying them is 90% of a debug build's
        // time per transaction. Signer flags still reach the program (and are tested).
        let svm = std::mem::take(&mut m.chain.svm);
        m.chain.svm = svm.with_sigverify(false);
        let base_oracles = banks.iter().map(|b| Oracle::from_quote(m.quote(b))).collect::<Vec<_>>();
        let base_perp_oracle = Oracle::from_quote(m.perp_quote(&perp));
        let base = m.chain.svm.clone();
        let mut world = World {
            m,
            banks,
            users,
            foreign,
            perp,
            base,
            oracles: base_oracles.clone(),
            base_oracles,
            perp_oracle: base_perp_oracle,
            base_perp_oracle,
            book: PerpBook::default(),
            ledger: vec![[0; BANKS]; ACCOUNTS],
            dust_budget: [0; BANKS],
            stats: Stats::default(),
            trace: false,
            recording: None,
        };
        world.reset();
        world
    }

    /// Back to the starting market (a clone of the chain) with fresh bookkeeping.
    pub fn reset(&mut self) {
        self.m.chain.svm = self.base.clone();
        self.oracles = self.base_oracles.clone();
        self.perp_oracle = self.base_perp_oracle;
        self.ledger = vec![[0; BANKS]; ACCOUNTS];
        // The starting deposits are the starting point of the ledgers.
        let state = self.state();
        self.book = PerpBook::start(&state);
        for b in 0..BANKS {
            for u in 0..ACCOUNTS {
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
        self.replay(ops)?;
        self.exit().map_err(|e| format!("exit phase: {e}"))
    }

    /// Runs one sequence from the starting market, every step checked, without the exit phase
    /// (for reproductions that go on by hand).
    pub fn replay(&mut self, ops: &[Op]) -> Check {
        self.reset();
        self.stats.sequences += 1;
        self.check_state(&self.state(), "start")?;
        for (i, op) in ops.iter().enumerate() {
            self.stats.steps += 1;
            self.step(op).map_err(|e| format!("step {i} {op:?}: {e}"))?;
            let state = self.state();
            self.check_liveness(&state).map_err(|e| format!("after step {i} {op:?}: {e}"))?;
        }
        Ok(())
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// The fourth bank: ALT, a riskier pull bank priced at exactly $2.50.
fn add_risky_bank(m: &mut Market) {
    let alt = m.add_bank(9, OracleKind::PythPull, [7_000, 8_500, 11_500, 13_000], (2, 5_000));
    let mut config = bank_config(OracleKind::PythPull, alt.index, [7_000, 8_500, 11_500, 13_000]);
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
}

/// The campaign's perp market, added before the group goes live (a live group opens a market
/// only once its queued configuration applies): the test kit's configuration, with caps of
/// 50,000 lots ($50,000 at $100) a side against the $100,000 pool.
fn add_perp_market(m: &mut Market, usdc: &BankRef) -> PerpMarketRef {
    let config = PerpMarketConfig {
        max_long_lots: 50_000,
        max_short_lots: 50_000,
        ..crate::perps::perp_config()
    };
    let quote = quote_dollars(100, 0, m.now());
    m.sandbox
        .add_perp_market(usdc, OracleKind::PythPull, config, quote)
        .unwrap_or_else(|f| panic!("add_perp_market: {:?}\n{}", f.error, f.logs.join("\n")))
}

/// The LP: $150,000 deposited in the USDC bank, $100,000 of it moved into the pool; a wallet of
/// $1,000,000 more.
fn fund_lp(m: &mut Market, banks: &[BankRef], perp: &PerpMarketRef) -> User {
    let deposit = POOL_USD + LP_SPARE_USD;
    let mut lp = m.user([deposit + 1_000_000_000_000, 0, 0]);
    m.fund(&mut lp, 0);
    m.deposit(&lp, &banks[0], deposit).expect_ok("LP deposit");
    m.pool_deposit(&lp, perp, POOL_USD).expect_ok("LP pool deposit");
    lp
}

/// User 0's second account, with $20,000 of USDC and 100 SOL of collateral from its wallets.
fn open_sibling(m: &mut Market, banks: &[BankRef], owner: &User) -> User {
    let keypair = owner.keypair.insecure_clone();
    let (ix, account) = ix::create_account(m.group, keypair.pubkey(), keypair.pubkey(), 1);
    m.chain.send(&[ix], &[&keypair]).expect_ok("the second account");
    let sibling = User { keypair, account, tokens: owner.tokens.clone() };
    m.deposit(&sibling, &banks[0], 20_000_000_000).expect_ok("20,000 USDC");
    m.deposit(&sibling, &banks[1], 100_000_000_000).expect_ok("100 SOL");
    sibling
}

/// Four users with wallets of every token; the fourth lends in every bank, the others start
/// with some collateral.
fn fund_users(m: &mut Market, banks: &[BankRef]) -> Vec<User> {
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
    let lend = [2_000_000_000_000u64, 20_000_000_000_000, 2_000_000_000, 100_000_000_000_000];
    for (bank, amount) in banks.iter().zip(lend) {
        m.deposit(&users[3], bank, amount).expect_ok("lend");
    }
    m.deposit(&users[0], &banks[1], 100_000_000_000).expect_ok("100 SOL");
    m.deposit(&users[1], &banks[2], 100_000_000).expect_ok("1 BTC");
    m.deposit(&users[2], &banks[0], 20_000_000_000).expect_ok("20,000 USDC");
    m.deposit(&users[2], &banks[3], 4_000_000_000_000).expect_ok("4,000 ALT");
    users
}
