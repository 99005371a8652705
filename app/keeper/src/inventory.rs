//! Inventory: turning what a liquidation leaves in the keeper's margin account (the
//! liquidatee's collateral as a deposit, its debt as a borrow) back into capital. The keeper
//! withdraws the seized collateral to its wallet, swaps it into the debt's mint through its
//! [`SwapAdapter`](crate::swap::SwapAdapter) and repays the debt it took over.
//!
//! Every prediction is the program's own: the position moves are `cross_margin::positions`'
//! functions on copies of the account and banks, and health is the program's init health of
//! the account (`plan::init_health_after_moves`), so the keeper refuses exactly what would
//! leave its account below its floor (see [`floor`]).

use cross_margin::positions;
use cross_margin::state::MarginAccount;
use cross_margin_client::Pubkey;

use crate::market::MarketState;
use crate::plan::{init_health_after_moves, NoPlan};
use crate::swap::{min_out_after_slippage, SwapError, SwapQuote};

/// What the keeper does with a liquidation's inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnwindMode {
    /// Keep it in the margin account (the behaviour before issue 18).
    #[default]
    Off,
    /// After each liquidation lands, a second transaction: withdraw, swap, repay (the keeper
    /// needs collateral of its own to carry the liquidation and the withdrawal).
    After,
    /// One transaction: `flash_loan_begin`, liquidate, withdraw, swap, repay,
    /// `flash_loan_end`. The program judges the account once, at the end: a keeper with no
    /// capital at all can liquidate.
    FlashLoan,
}

impl std::str::FromStr for UnwindMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Self::Off),
            "after" => Ok(Self::After),
            "flash_loan" | "flash-loan" => Ok(Self::FlashLoan),
            other => Err(format!("unwind must be off, after or flash_loan, not '{other}'")),
        }
    }
}

/// The inventory settings (`KeeperConfig::inventory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryConfig {
    pub unwind: UnwindMode,
    /// The init health (quote native units: 1,000,000 = $1) the keeper keeps in its own
    /// account: no liquidation, withdrawal or bracket may leave it below this, or, if it is
    /// already below, lower it further ([`floor`]). The program's own floor is 0.
    pub health_buffer: i128,
    /// Tolerance between a swap's quote and what it must pay (`min_amount_out`).
    pub slippage_bps: u16,
    /// The unwind is judged as if it landed this many seconds after the chain time it was
    /// planned at (interest accrues on the debt meanwhile). With a lag, the keeper repays one
    /// native unit less than the debt and withdraws one unit less than the collateral, so that
    /// the positions left open (and so the health accounts) do not depend on when it lands.
    /// 0 on a chain whose clock does not move between planning and landing (LiteSVM).
    pub landing_lag_secs: i64,
    /// Wallet token accounts by mint; a mint not listed uses the signer's associated token
    /// account (which must exist).
    pub token_accounts: Vec<(Pubkey, Pubkey)>,
    /// Unwind transactions per liquidation in `after` mode (each frees health for the next).
    pub max_unwind_steps: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            unwind: UnwindMode::Off,
            health_buffer: 0,
            slippage_bps: 50,
            landing_lag_secs: 60,
            token_accounts: Vec::new(),
            max_unwind_steps: 4,
        }
    }
}

impl InventoryConfig {
    /// The wallet's token account for `mint`.
    pub fn token_account(&self, owner: &Pubkey, mint: &Pubkey, token_program: &Pubkey) -> Pubkey {
        self.token_accounts
            .iter()
            .find(|(m, _)| m == mint)
            .map(|(_, account)| *account)
            .unwrap_or_else(|| associated_token_address(owner, mint, token_program))
    }
}

/// The associated token account of `owner` for `mint`.
pub fn associated_token_address(owner: &Pubkey, mint: &Pubkey, token_program: &Pubkey) -> Pubkey {
    const ATA_PROGRAM: Pubkey =
        Pubkey::from_str_const("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
    Pubkey::find_program_address(
        &[owner.as_ref(), token_program.as_ref(), mint.as_ref()],
        &ATA_PROGRAM,
    )
    .0
}

/// The init health below which the keeper will not take its account: the buffer, or the
/// health it has now if that is already lower (so acting never makes it worse), and never
/// below the program's 0.
pub fn floor(health_buffer: i128, init_now: i128) -> i128 {
    health_buffer.min(init_now).max(0)
}

/// What a liquidation left to unwind: collateral (a deposit) in `asset_bank` and debt (a
/// borrow) in `liab_bank`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inventory {
    pub liab_bank: u16,
    pub asset_bank: u16,
    /// Native units of the asset bank's mint seized, not yet withdrawn.
    pub collateral: u64,
    /// Native units of debt taken over, not yet repaid.
    pub debt: u64,
}

/// Why an unwind is not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnwindError {
    /// Unwinding is configured but the keeper has no swap adapter.
    NoAdapter,
    /// No collateral or no debt left to unwind.
    NothingToUnwind,
    /// The swap cannot be quoted or built.
    Swap(SwapError),
    /// Every withdrawal would take the account's init health below the floor (the best
    /// reachable, quote native units).
    BelowFloor { floor: i128, best: i128 },
    /// The program would refuse a move, or a price is unusable.
    Refused(String),
}

impl std::fmt::Display for UnwindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoAdapter => f.write_str("unwinding needs a swap adapter"),
            Self::NothingToUnwind => f.write_str("nothing to unwind"),
            Self::Swap(error) => write!(f, "{error}"),
            Self::BelowFloor { floor, best } => write!(
                f,
                "the keeper's init health would fall to {} USD, below its floor of {} USD",
                *best as f64 / 1e6,
                *floor as f64 / 1e6
            ),
            Self::Refused(why) => write!(f, "{why}"),
        }
    }
}

impl From<SwapError> for UnwindError {
    fn from(error: SwapError) -> Self {
        Self::Swap(error)
    }
}

impl From<NoPlan> for UnwindError {
    fn from(error: NoPlan) -> Self {
        match error {
            // A position move the program would refuse, named.
            NoPlan::NoPair(error) => {
                Self::Refused(format!("the program would refuse it ({error:?})"))
            }
            error => Self::Refused(error.to_string()),
        }
    }
}

/// One unwind, as planned.
#[derive(Debug, Clone, Copy)]
pub struct UnwindPlan {
    pub inventory: Inventory,
    /// Collateral withdrawn and swapped.
    pub withdraw: u64,
    pub quote: SwapQuote,
    /// The swap's `min_amount_out`.
    pub min_out: u64,
    /// Debt repaid (at most `min_out`: the swap pays at least that).
    pub repay: u64,
    /// The account's init health right after the withdrawal, and after the repayment (as if
    /// landing `landing_lag_secs` late).
    pub init_after_withdraw: i128,
    pub init_after: i128,
    /// The account after the withdrawal, and at the end (for health accounts).
    pub account_after_withdraw: MarginAccount,
    pub account_after: MarginAccount,
}

/// The inputs of [`plan_unwind`].
pub struct UnwindInputs<'a> {
    /// The market at the chain time the unwind is planned at.
    pub market: &'a MarketState,
    /// The keeper's account as the unwind starts (after the liquidation).
    pub account: &'a MarginAccount,
    pub inventory: Inventory,
    pub floor: i128,
    /// Outside a flash-loan bracket the program judges the withdrawal on its own (the debt
    /// still open); inside, only the end.
    pub withdrawal_judged: bool,
    pub landing_lag_secs: i64,
    pub slippage_bps: u16,
}

/// The largest unwind that keeps the account at or above `floor`: withdraw `w` of the
/// collateral, swap it, repay `min(min_out, debt)`. `quote(amount_in)` prices a swap.
///
/// The search estimates smaller swaps from the quote for the whole collateral by proportion
/// (below what a constant-product pool, or any venue with rising price impact, pays), then
/// quotes the chosen amount exactly and judges it again with that quote.
pub fn plan_unwind(
    inputs: &UnwindInputs,
    quote: &mut dyn FnMut(u64) -> Result<SwapQuote, SwapError>,
) -> Result<UnwindPlan, UnwindError> {
    let UnwindInputs { market, account, inventory, floor, .. } = *inputs;
    let (liab, asset) = (inventory.liab_bank, inventory.asset_bank);
    let refused = |what: &str| UnwindError::Refused(format!("{what}: bank missing or unpriced"));
    let liab_bank = market.bank(liab).ok_or_else(|| refused("debt bank"))?;
    let liab_now = liab_bank.accrued(market.now).map_err(|_| refused("debt bank"))?;
    let owed = positions::borrow_native(account, &liab_now).map_err(|_| refused("debt"))?;
    let asset_bank = market.bank(asset).ok_or_else(|| refused("collateral bank"))?;
    let asset_now = asset_bank.accrued(market.now).map_err(|_| refused("collateral bank"))?;
    // What the account can withdraw: the deposit's shares round down, so a deposit of `C` may
    // be worth a unit less.
    let held = positions::deposit_native(account, &asset_now).map_err(|_| refused("deposit"))?;
    let lagged = inputs.landing_lag_secs > 0;
    // With a lag, one native unit stays on each side so that both positions stay open.
    let debt = inventory.debt.min(owed.saturating_sub(lagged as u64));
    let collateral = inventory.collateral.min(held).saturating_sub(lagged as u64);
    if debt == 0 || collateral == 0 {
        return Err(UnwindError::NothingToUnwind);
    }
    let mut later = market.clone();
    later.now = market.now.saturating_add(inputs.landing_lag_secs);

    let full = quote(collateral)?;
    let estimate = |w: u64| -> u64 {
        let out = u128::from(full.amount_out) * u128::from(w) / u128::from(collateral);
        min_out_after_slippage(out as u64, inputs.slippage_bps)
    };
    let judge = |w: u64, min_out: u64| -> Result<Judged, UnwindError> {
        let repay = min_out.min(debt);
        let (after_withdraw, init_after_withdraw) =
            init_health_after_moves(&later, liab, asset, account, |account, _, asset_bank| {
                positions::withdraw(account, asset_bank, w)
            })?;
        let (after, init_after) = init_health_after_moves(
            &later,
            liab,
            asset,
            account,
            |account, liab_bank, asset_bank| {
                positions::withdraw(account, asset_bank, w)?;
                if repay > 0 {
                    positions::repay(account, liab_bank, repay)?;
                }
                Ok(())
            },
        )?;
        let ok = init_after >= floor && (!inputs.withdrawal_judged || init_after_withdraw >= floor);
        let worst = if inputs.withdrawal_judged { init_after_withdraw } else { init_after };
        Ok(Judged { ok, worst, repay, init_after_withdraw, init_after, after_withdraw, after })
    };

    // The search's lower end: outside a bracket health falls as `w` grows (the withdrawal is
    // judged with the debt open); inside, it rises until the swap covers the debt, then falls.
    let mut low = 0u64;
    if !inputs.withdrawal_judged {
        let (mut lo, mut hi) = (0u64, collateral);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if estimate(mid) >= debt {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        low = hi;
    }
    let best = if judge(collateral, estimate(collateral))?.ok {
        collateral
    } else {
        let at_low = judge(low.max(1), estimate(low.max(1)))?;
        if !at_low.ok {
            return Err(UnwindError::BelowFloor { floor, best: at_low.worst });
        }
        let (mut lo, mut hi) = (low.max(1), collateral);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if judge(mid, estimate(mid))?.ok {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let exact = quote(best)?;
    let min_out = min_out_after_slippage(exact.amount_out, inputs.slippage_bps);
    let judged = judge(best, min_out)?;
    if !judged.ok {
        return Err(UnwindError::BelowFloor { floor, best: judged.worst });
    }
    if judged.repay == 0 {
        return Err(UnwindError::NothingToUnwind);
    }
    Ok(UnwindPlan {
        inventory,
        withdraw: best,
        quote: exact,
        min_out,
        repay: judged.repay,
        init_after_withdraw: judged.init_after_withdraw,
        init_after: judged.init_after,
        account_after_withdraw: judged.after_withdraw,
        account_after: judged.after,
    })
}

struct Judged {
    ok: bool,
    /// The health the floor is tested against where it binds.
    worst: i128,
    repay: u64,
    init_after_withdraw: i128,
    init_after: i128,
    after_withdraw: MarginAccount,
    after: MarginAccount,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_buffer_or_the_health_now_never_below_zero() {
        let usd = 1_000_000i128;
        assert_eq!(floor(100 * usd, 500 * usd), 100 * usd);
        // Already below the buffer: acting must not make it worse.
        assert_eq!(floor(100 * usd, 40 * usd), 40 * usd);
        // The program's own floor.
        assert_eq!(floor(0, 500 * usd), 0);
        assert_eq!(floor(100 * usd, -5 * usd), 0);
    }

    #[test]
    fn unwind_modes_parse_by_name() {
        assert_eq!("off".parse(), Ok(UnwindMode::Off));
        assert_eq!("after".parse(), Ok(UnwindMode::After));
        assert_eq!("flash_loan".parse(), Ok(UnwindMode::FlashLoan));
        assert_eq!("flash-loan".parse(), Ok(UnwindMode::FlashLoan));
        assert!("later".parse::<UnwindMode>().unwrap_err().contains("off, after or flash_loan"));
    }
}
