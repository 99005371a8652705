//! The actions a sequence is made of. Users' and banks' fields are indices (`u8`); where a
//! field may be a selector (>= 4), `World::concrete` makes it a bank or user first.

use cross_margin_client::ix::Movement;

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
    /// Liquidation only (elsewhere `All`): the closed-form step's debt amount, as the keeper
    /// plans it (`liquidation_amounts` with no cap), moved by `delta` native units: at it (0),
    /// just under (−1) or just over (+1).
    Step {
        delta: i8,
    },
    /// Liquidation only (elsewhere `Frac`): basis points of the closed-form step (a capped
    /// step).
    StepFrac(u16),
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

/// What a perp holder does just before its `liquidate_perp` (`PerpFrontRun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerpAction {
    /// A reduce-only order against its position.
    Close(PerpSize),
    /// Its PnL settled (by anyone).
    Settle,
    /// Its PnL settled with its health accounts (a loss may become a borrow).
    SettleCovered,
    /// A deposit into the settle bank.
    Deposit(Amount),
}

/// A bank's oracle put at the edge of what the bank accepts, its price unchanged: usable up to
/// an offset of 0, refused from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Published `oracle_max_age_secs + offset` seconds ago: about to go stale (or just gone).
    Age(i8),
    /// Confidence `offset` units (of the price's last decimal) from the bank's maximum: about to
    /// go wide (or just gone).
    Conf(i8),
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

/// A perp order's accounts tampered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerpTamper {
    /// Another user's margin account.
    ForeignSigner,
    /// A bank's oracle instead of the market's.
    WrongOracle,
    /// A bank other than the market's settle bank.
    WrongSettleBank,
    /// A bank where the perp market is expected.
    BankAsMarket,
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
    /// A perp order (1 lot long) with `what` tampered, `other` picking the substitute.
    Perp {
        user: u8,
        other: u8,
        what: PerpTamper,
    },
}

/// How a perp order's size is chosen, relative to what the account can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerpSize {
    Zero,
    /// A few lots.
    Lots(u16),
    /// Basis points (up to 120%) of the lots the account's init health can carry on this side,
    /// at most the room left under the side's open-interest cap (of the position's size for a
    /// reduce-only order).
    Frac(u16),
    /// Against the account's position: its whole size plus `extra` lots (a close, or a flip).
    /// Without a position: `extra + 1` lots on the order's side.
    Close(u16),
    /// More lots than an `i64` holds.
    Huge,
}

/// A perp oracle fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerpFault {
    /// Published more than the market's max age ago.
    Stale,
    /// Confidence above the market's maximum.
    WideConf,
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
    /// The admin pauses or unpauses the group: only withdraw and borrow stop (finding L-6).
    Pause(bool),
    /// The admin queues a change of the bank's maint asset weight to `maint_weight_bps` (its
    /// init weight to at most 5 points below): it waits the group's delay (finding M-1).
    QueueChange {
        bank: u8,
        maint_weight_bps: u16,
    },
    /// Anyone applies the bank's queued change (refused before its time). `wait`: the clock
    /// first moves to the change's time and every oracle publishes again (a step of its own).
    ApplyChange {
        bank: u8,
        wait: bool,
    },
    /// The admin cancels the bank's queued change.
    CancelChange {
        bank: u8,
    },
    Close {
        user: u8,
    },
    Reopen {
        user: u8,
    },
    /// The user closes its perp position (reduce-only), settles it and redeems its pool shares,
    /// repays every debt (its wallet topped up), withdraws every deposit and closes its
    /// account: each of those a step of its own.
    Leave {
        user: u8,
    },
    /// The price of the user's largest deposit falls by `bps` (becomes a `Price` step): the
    /// move that makes borrowers liquidatable, aimed.
    Squeeze {
        user: u8,
        bps: u16,
    },
    /// The borrower nearest to liquidation (not the liquidator) is pushed just past it: its
    /// largest collateral's price falls by what takes its maint health to `depth_bps` of its
    /// maint-weighted liabilities below zero (a `Price` step); with `edge`, the oracle of one of
    /// its banks (a bank, or a selector among its positions) is then put at the edge
    /// (`OracleEdge`); then `liquidator` liquidates it by `amount`, banks picked by the
    /// selectors. Each a step of its own.
    Corner {
        liquidator: u8,
        depth_bps: u16,
        amount: Amount,
        edge: Option<(u8, Edge)>,
    },
    /// A front-run: the borrower nearest to liquidation is pushed past it as in `Corner`; then
    /// one transaction holds its own action (`kind` in `bank`, by `amount`) followed by
    /// `liquidator`'s liquidation of it by `liquidation`. Judged against the same two
    /// instructions sent one after the other (see `World::front_run`).
    FrontRun {
        liquidator: u8,
        depth_bps: u16,
        kind: Kind,
        bank: u8,
        amount: Amount,
        liquidation: Amount,
    },
    /// A perp front-run: the user's perp position (opened if it has none) moves `move_bps`
    /// against it; a user other than it (`liquidator` picks which) builds its `liquidate_perp`;
    /// the user's `action` lands first, in the same transaction (judged as `FrontRun`).
    PerpFrontRun {
        user: u8,
        liquidator: u8,
        move_bps: u16,
        action: PerpAction,
    },
    /// Bank `bank`'s oracle is put at the edge of what the bank accepts (`bank` >= 4: a
    /// selector among the positions of the borrower nearest to liquidation).
    OracleEdge {
        bank: u8,
        edge: Edge,
    },
    /// The user starts over with a dust account near the write-off threshold: it leaves
    /// (`Leave`), opens its account again, deposits `cents` worth of bank `collateral` and
    /// borrows `borrow_bps` of its capacity in bank `debt`. Each a step of its own.
    Dust {
        user: u8,
        collateral: u8,
        debt: u8,
        cents: u16,
        borrow_bps: u16,
    },
    /// The user deposits `units` native units into bank `bank`, whose oracle then fails
    /// (`fault`): a small position whose price goes unusable, the setting of finding M-2. Each
    /// a step of its own.
    StaleDust {
        user: u8,
        bank: u8,
        units: u16,
        fault: OracleFault,
    },
    /// The user's largest collateral crashes by 97%, another user liquidates it as far as it
    /// goes, then its debts are put to `resolve_bankruptcy`: each a step of its own.
    Collapse {
        user: u8,
        liquidator: u8,
    },
    Bad(BadOp),
    /// An order in the perp market: `long` buys; `limit_bps`: worst average price this far from
    /// the oracle price (else any price).
    PlacePerpOrder {
        user: u8,
        long: bool,
        size: PerpSize,
        reduce_only: bool,
        limit_bps: Option<u16>,
    },
    /// Anyone settles the user's perp PnL (the chain's fee payer sends it).
    SettlePnl {
        user: u8,
    },
    /// As `SettlePnl`, with the user's health accounts: a loss beyond the settle deposit may
    /// become a borrow up to the account's other equity.
    SettleCovered {
        user: u8,
    },
    /// `liquidator`'s account closes up to `max` of `liquidatee`'s perp position against the
    /// pool (a `liquidatee` beyond the users: one the checks find liquidatable, if any).
    LiquidatePerp {
        liquidator: u8,
        liquidatee: u8,
        max: PerpSize,
    },
    /// Anyone writes off the user's perp loss (a `user` beyond the users: one whose loss can be).
    ResolvePerp {
        user: u8,
    },
    /// The perp price moves 40% against the user's position; another user liquidates it as far
    /// as it goes, settles it with its health accounts, liquidates its tokens, then its losses are
    /// put to `resolve_perp_bankruptcy` and `resolve_bankruptcy`: each a step of its own.
    PerpCollapse {
        user: u8,
        liquidator: u8,
    },
    /// The user moves `amount` of its settle-bank deposit into the pool (user 4 is the LP).
    PoolDeposit {
        user: u8,
        amount: Amount,
    },
    /// The user redeems `amount` of its pool shares.
    PoolWithdraw {
        user: u8,
        amount: Amount,
    },
    /// The perp oracle's price moves by `change_bps` (within $20..$500) with `conf_bps` of
    /// confidence, published now.
    PerpPrice {
        change_bps: i32,
        conf_bps: u32,
    },
    PerpFault(PerpFault),
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
            Op::Pause(_) => "pause",
            Op::QueueChange { .. } => "queue_bank_config",
            Op::ApplyChange { .. } => "apply_bank_config",
            Op::CancelChange { .. } => "cancel_bank_config",
            Op::Close { .. } => "close_account",
            Op::Reopen { .. } => "create_account",
            Op::Leave { .. } => "leave",
            Op::Squeeze { .. } => "squeeze",
            Op::Corner { .. } => "corner",
            Op::FrontRun { .. } => "front_run",
            Op::PerpFrontRun { .. } => "perp_front_run",
            Op::OracleEdge { .. } => "oracle_edge",
            Op::Dust { .. } => "dust_account",
            Op::StaleDust { .. } => "stale_dust",
            Op::Collapse { .. } => "collapse",
            Op::Bad(_) => "bad_input",
            Op::PlacePerpOrder { .. } => "place_perp_order",
            Op::SettlePnl { .. } => "settle_pnl",
            Op::SettleCovered { .. } => "settle_pnl_with_health",
            Op::LiquidatePerp { .. } => "liquidate_perp",
            Op::ResolvePerp { .. } => "resolve_perp_bankruptcy",
            Op::PerpCollapse { .. } => "perp_collapse",
            Op::PoolDeposit { .. } => "pool_deposit",
            Op::PoolWithdraw { .. } => "pool_withdraw",
            Op::PerpPrice { .. } => "perp_price",
            Op::PerpFault(_) => "perp_oracle_fault",
        }
    }
}

impl Kind {
    /// The user's action of this kind.
    pub fn op(self, user: u8, bank: u8, amount: Amount) -> Op {
        match self {
            Kind::Deposit => Op::Deposit { user, bank, amount },
            Kind::Withdraw => Op::Withdraw { user, bank, amount },
            Kind::Borrow => Op::Borrow { user, bank, amount },
            Kind::Repay => Op::Repay { user, bank, amount },
        }
    }

    /// The token movement of this kind of action.
    pub fn movement(self) -> Movement {
        match self {
            Kind::Deposit => Movement::Deposit,
            Kind::Withdraw => Movement::Withdraw,
            Kind::Borrow => Movement::Borrow,
            Kind::Repay => Movement::Repay,
        }
    }
}
