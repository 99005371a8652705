//! Who pays a perp loss the account cannot, pure: the account's collateral first (`settle_pnl`,
//! up to its equity, [`loss_borrow_capacity`]), then the market's insurance fund, then the
//! market's LPs ([`write_off`], `resolve_perp_bankruptcy`). Nobody without a stake in the
//! market bears it: the loss never becomes a settle-bank debt beyond the account's equity, which
//! token bankruptcy would share among every depositor of the bank.

use crate::bankruptcy::can_write_off_account;
use crate::error::MarginError;
use crate::health::{AccountTotals, PricedPosition};
use crate::math::{div_q64, mul_q64, Round};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

/// How much of a settled loss may become a borrow in the settle bank: the account's equity
/// outside its settle deposit (its other deposits at their asset prices less every debt at its
/// liability price, token positions only) in settle native units at the settle bank's
/// liability price, rounded down; 0 when that equity is not positive.
pub fn loss_borrow_capacity(
    positions: &[PricedPosition],
    settle_bank_index: u16,
    settle_liab_price: u128,
) -> Result<u64, MarginError> {
    let mut equity: i128 = 0;
    for p in positions {
        if p.health.is_liability {
            equity -= p.health.value as i128;
        } else if p.bank_index != settle_bank_index {
            equity += p.health.value as i128;
        }
    }
    if equity <= 0 || settle_liab_price == 0 {
        return Ok(0);
    }
    let equity = u64::try_from(equity).map_err(|_| MarginError::MathOverflow)?;
    Ok(div_q64(equity, settle_liab_price, Round::Down)?)
}

/// What `resolve_perp_bankruptcy` did: the `PerpBankruptcyResolved` event's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerpWriteOff {
    /// The position's loss (its quote, the position closed), settle native units.
    pub loss: u64,
    /// Paid from the account's settle-bank deposit.
    pub from_collateral: u64,
    /// Paid by the market's insurance fund to the pool.
    pub from_insurance: u64,
    /// Borne by the pool's LPs: the pool's value fell by this much.
    pub socialised: u64,
    pub funding_paid: i64,
}

/// `resolve_perp_bankruptcy`: writes off the account's loss in `market` once nothing else can
/// pay it: every perp position of the account is closed (`PerpPositionsOpen` otherwise), its
/// position in the market is a loss (`PerpNoLossToWriteOff`), and its `totals` (combined,
/// [`crate::health::PerpTotals::combine`], at current prices) allow a write-off
/// ([`can_write_off_account`]: collateral below the dust threshold and insolvent; `NotBankrupt`
/// otherwise). The account's settle deposit pays first, the market's insurance fund next, the
/// rest lowers the pool's value.
pub fn write_off(
    group: &Group,
    market: &mut PerpMarket,
    settle_bank: &mut Bank,
    account: &mut MarginAccount,
    totals: &AccountTotals,
) -> Result<PerpWriteOff, MarginError> {
    let overflow = |_| MarginError::MathOverflow;
    if account.active_perps().any(|p| p.base_lots != 0) {
        return Err(MarginError::PerpPositionsOpen);
    }
    let index = account.find_perp(market.market_index).ok_or(MarginError::PerpNoLossToWriteOff)?;
    let mut slot = account.perps[index];
    let funding_paid = market.apply_funding(&mut slot)?;
    if slot.quote_native >= 0 {
        return Err(MarginError::PerpNoLossToWriteOff);
    }
    if !can_write_off_account(totals, account.bankrupt != 0, group.bankruptcy_dust_quote) {
        return Err(MarginError::NotBankrupt);
    }
    let loss = slot.quote_native.unsigned_abs();

    let from_collateral = positions::deposit_native(account, settle_bank)?.min(loss);
    let mut pool_shares = market.pool_deposit_shares;
    if from_collateral > 0 {
        let amount = -(from_collateral as i64); // <= |quote|, an i64
        positions::pool_transfer(account, settle_bank, &mut pool_shares, amount, false)?;
    }
    let index_q64 = settle_bank.deposit_index();
    let insurance_native =
        mul_q64(market.insurance_deposit_shares, index_q64, Round::Down).map_err(overflow)?;
    let from_insurance = (loss - from_collateral).min(insurance_native);
    let moved = div_q64(from_insurance, index_q64, Round::Up)
        .map_err(overflow)?
        .min(market.insurance_deposit_shares);
    market.insurance_deposit_shares -= moved;
    pool_shares = pool_shares.checked_add(moved).ok_or(MarginError::MathOverflow)?;
    market.pool_deposit_shares = pool_shares;
    let socialised = loss - from_collateral - from_insurance;
    market.socialised_loss = market.socialised_loss.saturating_add(socialised);

    // The position's loss leaves the traders' aggregate: the pool was owed it, and has been
    // paid what the account and the fund could pay.
    let quote = slot.quote_native;
    market.book_settlement(&mut slot, quote)?;
    slot.close_if_empty();
    account.perps[index] = slot;
    account.clear_flags_if_debt_free();
    Ok(PerpWriteOff { loss, from_collateral, from_insurance, socialised, funding_paid })
}
