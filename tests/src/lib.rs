//! Test kit shared by every integration test: the real `target/deploy/cross_margin.so` in
//! LiteSVM (through the client's [`EmbeddedChain`]), plus assertions for errors, unchanged state
//! and compute budgets.

pub mod campaign;
pub mod flash_loans;
pub mod market;
pub mod perps;
pub mod scenarios;

pub use cross_margin;
pub use cross_margin::error::MarginError;
pub use cross_margin_client::{
    ix, outcome, EmbeddedChain, Executed, Failed, Instruction, Keypair, Pubkey, Signer, TxResult,
};

use anchor_lang::error::ErrorCode as AnchorErrorCode;
use solana_account::Account;

/// A chain with the program loaded, or a panic that says how to build it.
pub fn chain() -> EmbeddedChain {
    EmbeddedChain::new().unwrap_or_else(|e| panic!("{e}"))
}

/// Stand-ins for the Pyth program ids (any distinct non-default keys work for the group).
pub fn oracle_program_ids(chain: &mut EmbeddedChain) -> (Pubkey, Pubkey) {
    (chain.new_pubkey(), chain.new_pubkey())
}

pub trait TxResultExt {
    /// The executed transaction, or a panic that shows the error and the program logs.
    fn expect_ok(self, what: &str) -> Executed;
    /// Asserts that the transaction failed with this program error (code and logged name).
    fn expect_margin_error(self, expected: MarginError) -> Failed;
    /// Asserts that the transaction failed with this Anchor framework error.
    fn expect_anchor_error(self, expected: AnchorErrorCode) -> Failed;
    /// Asserts that the transaction failed with this custom code (e.g. from a CPI'd program).
    fn expect_custom_code(self, code: u32) -> Failed;
}

impl TxResultExt for TxResult {
    fn expect_ok(self, what: &str) -> Executed {
        match self {
            Ok(executed) => executed,
            Err(failed) => panic!(
                "{what}: expected success, got {:?}\nlogs:\n{}",
                failed.error,
                failed.logs.join("\n")
            ),
        }
    }

    fn expect_margin_error(self, expected: MarginError) -> Failed {
        let name = format!("{expected:?}");
        let failed = self.expect_custom_code(expected.into());
        assert_eq!(failed.error_name(), Some(name.as_str()), "logs:\n{}", failed.logs.join("\n"));
        failed
    }

    fn expect_anchor_error(self, expected: AnchorErrorCode) -> Failed {
        let name = format!("{expected:?}");
        let failed = self.expect_custom_code(expected.into());
        assert_eq!(failed.error_name(), Some(name.as_str()), "logs:\n{}", failed.logs.join("\n"));
        failed
    }

    fn expect_custom_code(self, code: u32) -> Failed {
        match self {
            Ok(executed) => panic!(
                "expected failure with code {code}, but it succeeded\nlogs:\n{}",
                executed.logs.join("\n")
            ),
            Err(failed) => {
                assert_eq!(
                    failed.custom_code(),
                    Some(code),
                    "wrong error {:?}\nlogs:\n{}",
                    failed.error,
                    failed.logs.join("\n")
                );
                failed
            }
        }
    }
}

/// The exact bytes, lamports and owner of a set of accounts, to prove a rejected instruction
/// changed nothing.
pub struct Snapshot(Vec<(Pubkey, Option<Account>)>);

impl Snapshot {
    pub fn take(chain: &EmbeddedChain, addresses: &[Pubkey]) -> Self {
        Self(addresses.iter().map(|a| (*a, chain.account(a))).collect())
    }

    pub fn assert_unchanged(&self, chain: &EmbeddedChain) {
        for (address, before) in &self.0 {
            assert_eq!(&chain.account(address), before, "account {address} changed");
        }
    }

    /// The first account that changed, if any.
    pub fn changed(&self, chain: &EmbeddedChain) -> Option<Pubkey> {
        self.0.iter().find(|(address, before)| &chain.account(address) != before).map(|(a, _)| *a)
    }
}

/// Compute-unit budgets per instruction, measured on the upstream SBF route in LiteSVM. Every
/// integration test that runs an instruction asserts against these, so a regression fails.
/// The measured figures are in docs/CU.md (the last step of `scripts/test.sh` prints them).
pub mod budget {
    /// PDA init through a system-program CPI, plus the event, with a canonical bump of 255.
    pub const CREATE_GROUP: u64 = 8_000;
    /// Each bump below 255 costs one more `create_program_address` in the canonical-bump
    /// search. Instructions that create PDAs add it per bump below 255 (`with_bump_search`).
    pub const PER_BUMP_ATTEMPT: u64 = 1_600;
    pub const CONFIGURE_GROUP: u64 = 2_000;
    pub const ADD_BANK: u64 = 16_500;
    pub const CONFIGURE_BANK: u64 = 3_500;
    pub const QUEUE_BANK_CONFIG: u64 = 3_300;
    pub const APPLY_BANK_CONFIG: u64 = 3_000;
    /// `cancel_bank_config`, `cancel_group_config`.
    pub const CANCEL_CONFIG: u64 = 1_800;
    /// `queue_group_config`, `apply_group_config`.
    pub const GROUP_QUEUE: u64 = 2_700;
    /// `propose_admin`, `accept_admin`.
    pub const ADMIN_TRANSFER: u64 = 1_500;
    pub const HALT: u64 = 1_500;
    pub const HEALTH_AFTER_PENDING_2: u64 = 8_500;
    pub const CREATE_ACCOUNT: u64 = 7_000;
    pub const DEPOSIT: u64 = 8_000;
    pub const REPAY: u64 = 7_500;
    pub const WITHDRAW_NO_BORROWS: u64 = 8_000;
    pub const WITHDRAW_2: u64 = 12_500;
    pub const BORROW_2: u64 = 12_500;
    /// (6,000 until issue 16: the perp slots' scan and the view's perp list cost about 230.)
    pub const HEALTH_2: u64 = 6_300;
    /// `health_under_shock` with 2 positions and 1 shock: the view, the shocks' decoding and
    /// validation, and each priced side scaled.
    pub const HEALTH_UNDER_SHOCK_2: u64 = 7_500;
    pub const CLOSE_ACCOUNT: u64 = 2_000;
    /// `flash_loan_begin`: the instructions sysvar read for the current index, then every
    /// instruction up to the matching end (the zero-capital liquidation's end is 6 later).
    pub const FLASH_LOAN_BEGIN: u64 = 6_000;
    /// `flash_loan_end` on an account with no risk left (no prices read); with positions, add
    /// `HEALTH_CHECK_PER_POSITION` per position.
    pub const FLASH_LOAN_END_EMPTY: u64 = 2_500;
    /// What a borrow's health check costs beyond the per-position pricing (the saving of a
    /// borrow inside a flash loan, with its positions: `BORROW_2 − HEALTH_CHECK` is its budget).
    pub const HEALTH_CHECK: u64 = 3_000;
    /// One SPL Token `transfer` (the test swap's legs).
    pub const TOKEN_TRANSFER: u64 = 4_700;
    /// 1 asset + 1 liability on each side (issue 14's budget: at most 25k).
    pub const LIQUIDATE_SMALL: u64 = 21_000;
    /// The liquidatee holding 16 positions and the liquidator 4 (issue 14's budget: at most
    /// 70k). 62,000 until issue 16: the perp slots' scan and the settle-bank check in every
    /// health pass, and 912-byte accounts, added about 1,000.
    pub const LIQUIDATE_16_4: u64 = 63_000;
    /// A bankrupt account with one borrow and no deposits left; each deposit still held adds a
    /// priced position (about `HEALTH_CHECK_PER_POSITION`).
    pub const RESOLVE_BANKRUPTCY: u64 = 4_000;
    /// Each leftover deposit a write-off moves into its bank's insurance fund (finding L-4): the
    /// bank loaded mutably, accrued, and a `CollateralSeized` event.
    pub const SEIZE_DEPOSIT: u64 = 2_000;
    /// SPL Token `transfer_checked`.
    pub const FUND_INSURANCE: u64 = 6_500;
    /// Marginal CU of one more position in the `health` view (it also builds and serializes
    /// the per-position return data, prices both the maint and the init (stable-price) side of
    /// each position, and prices as liquidation does: a dust position with an unusable price let
    /// through).
    pub const HEALTH_PER_POSITION: u64 = 2_100;
    /// Marginal CU of one more position in the withdraw/borrow health check (goal: at most
    /// 1,500).
    pub const HEALTH_CHECK_PER_POSITION: u64 = 1_500;

    /// `place_perp_order` opening a perp position, the account holding 1 token position (the
    /// settle bank's) and the perp (issue 16's budget: at most 25k).
    pub const PLACE_PERP_ORDER_1_1: u64 = 11_000;
    /// Marginal CU of one more perp position in an order's health check (issue 16's budget).
    pub const HEALTH_PER_PERP: u64 = 1_500;
    /// Marginal CU of one more perp position in the `health` view (three sides priced, both
    /// healths, the PnL and the per-position return data).
    pub const HEALTH_VIEW_PER_PERP: u64 = 2_300;
    /// `settle_pnl` of a gain, the account's health accounts passed as a keeper passes them
    /// (1 token + 8 perps: 18 remaining accounts, unread for a gain; issue 16's budget: at
    /// most 15k).
    pub const SETTLE_PNL: u64 = 9_000;
    /// `pool_deposit` without a health check, and `pool_withdraw` (which never needs one).
    pub const POOL_DEPOSIT: u64 = 6_500;
    pub const POOL_WITHDRAW: u64 = 6_500;
    /// `liquidate_perp` with 1 token + 1 perp position on the liquidatee (issue 17's budget: at
    /// most 35k); `resolve_perp_bankruptcy` likewise; `fund_perp_insurance` (SPL Token
    /// `transfer_checked`).
    pub const LIQUIDATE_PERP_1_1: u64 = 28_000;
    pub const RESOLVE_PERP_BANKRUPTCY_1_1: u64 = 13_000;
    pub const FUND_PERP_INSURANCE: u64 = 8_000;
    /// `liquidate_perp` with 16 token + 8 perp positions on the liquidatee, closing a whole
    /// position (a partial close also evaluates the account at each kink's two lots and at the
    /// answer).
    pub const LIQUIDATE_PERP_16_8: u64 = 66_000;
    /// `add_perp_market` (a PDA init and the oracle check) with a canonical bump of 255;
    /// `configure_perp_market`.
    pub const ADD_PERP_MARKET: u64 = 8_000;
    pub const CONFIGURE_PERP_MARKET: u64 = 3_000;

    /// The `health` view with `n` positions.
    pub fn health(n: u64) -> u64 {
        2_000 + HEALTH_PER_POSITION * n
    }

    /// A borrow that leaves the account with `n` positions (`n − 1` deposits and the borrow);
    /// 33,500 for 16 (issue goal: at most 60k).
    pub fn borrow(n: u64) -> u64 {
        BORROW_2 - 2 * HEALTH_CHECK_PER_POSITION + HEALTH_CHECK_PER_POSITION * n
    }

    /// The budget of an instruction that initialises a PDA whose canonical bump is `bump`.
    pub fn with_bump_search(base: u64, bump: u8) -> u64 {
        base + PER_BUMP_ATTEMPT * u64::from(255 - bump)
    }
}

/// Compute units of each top-level instruction of an executed transaction, in order, from the
/// runtime's "Program … consumed N of M compute units" log lines at invoke depth 1 (a CPI's own
/// lines, deeper, are part of its caller's figure).
pub fn cu_per_instruction(executed: &Executed) -> Vec<u64> {
    let mut depth = 0usize;
    let mut units = Vec::new();
    for line in &executed.logs {
        if let Some(rest) = line.strip_prefix("Program ") {
            if let Some(open) = rest.find(" invoke [") {
                depth = rest[open + 9..].trim_end_matches(']').parse().unwrap_or(depth + 1);
            } else if rest.ends_with(" success") || rest.contains(" failed: ") {
                depth = depth.saturating_sub(1);
            } else if let Some(at) = rest.find(" consumed ") {
                if depth == 1 {
                    let figure = rest[at + 10..].split(' ').next().unwrap_or("");
                    units.push(figure.parse().expect("a consumed line holds a number"));
                }
            }
        }
    }
    units
}

/// Prints a CU line (collected by `scripts/test.sh` into the CU table) and fails if the
/// instruction went over its budget, so regressions fail the suite.
pub fn assert_cu(instruction: &str, executed: &Executed, budget: u64) {
    assert_cu_units(instruction, executed.compute_units, budget);
}

/// As [`assert_cu`], for one figure (e.g. one instruction of a transaction,
/// [`cu_per_instruction`]).
pub fn assert_cu_units(instruction: &str, units: u64, budget: u64) {
    println!("CU {instruction:<32} {units:>8} (budget {budget})");
    assert!(units <= budget, "{instruction} used {units} CU, over its budget of {budget}");
}
