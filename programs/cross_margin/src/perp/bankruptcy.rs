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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::PositionShares;
    use crate::math::ONE_Q64;
    use crate::perp::FundingIndices;

    use crate::perp::liquidation::tests::{usdc_at_one as usdc, POOL};

    #[test]
    fn a_loss_may_borrow_only_up_to_the_equity_outside_the_settle_deposit() {
        let (_, risk) = usdc();
        let at = |bank, shares| PricedPosition::new(bank, risk, shares).unwrap();
        let positions = [
            at(0, PositionShares::Deposit(100_000_000)), // the settle deposit: not counted
            at(1, PositionShares::Deposit(50_000_000)),
            at(2, PositionShares::Borrow(20_000_000)),
        ];
        assert_eq!(loss_borrow_capacity(&positions, 0, ONE_Q64), Ok(30_000_000));
        assert_eq!(loss_borrow_capacity(&positions, 0, 2 * ONE_Q64), Ok(15_000_000));
        assert_eq!(loss_borrow_capacity(&positions, 0, 0), Ok(0));
        // Counted from bank 1's side: the settle deposit is bank 1's now.
        assert_eq!(loss_borrow_capacity(&positions, 1, ONE_Q64), Ok(80_000_000));
        // No equity, or less than none: nothing may be borrowed.
        let even = [at(1, PositionShares::Deposit(20_000_000)), positions[2]];
        assert_eq!(loss_borrow_capacity(&even, 0, ONE_Q64), Ok(0));
        let under = [at(1, PositionShares::Deposit(10_000_000)), positions[2]];
        assert_eq!(loss_borrow_capacity(&under, 0, ONE_Q64), Ok(0));
    }

    /// An account with a closed position owing `loss` in market 0, `collateral` of settle
    /// deposit, flagged bankrupt; the market's fund holds `insurance`.
    fn bankrupt(loss: i64, collateral: u64, insurance: u64) -> (PerpMarket, Bank, MarginAccount) {
        let (mut usdc, _) = usdc();
        let mut market: PerpMarket = bytemuck::Zeroable::zeroed();
        market.pool_deposit_shares = POOL - insurance;
        market.insurance_deposit_shares = insurance;
        market.set_quote_sum(-(loss as i128));
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        if collateral > 0 {
            positions::deposit(&mut account, &mut usdc, collateral).unwrap();
        }
        let i = account.find_or_open_perp(0, 0, &FundingIndices::default()).unwrap();
        account.perps[i].quote_native = -loss;
        account.bankrupt = 1;
        (market, usdc, account)
    }

    fn group() -> Group {
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.bankruptcy_dust_quote = 1_000_000;
        group
    }

    fn insolvent(collateral: u64, loss: u64) -> AccountTotals {
        AccountTotals {
            deposits_value: collateral,
            liabs_value: loss,
            has_debt: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_collateral_pays_first_then_the_fund_then_the_pool() {
        // $30 owed, $0.50 of collateral, $5 in the fund: the pool bears $24.50.
        let (mut market, mut usdc, mut account) = bankrupt(30_000_000, 500_000, 5_000_000);
        let totals = insolvent(500_000, 30_000_000);
        let done = write_off(&group(), &mut market, &mut usdc, &mut account, &totals).unwrap();
        let expected = PerpWriteOff {
            loss: 30_000_000,
            from_collateral: 500_000,
            from_insurance: 5_000_000,
            socialised: 24_500_000,
            funding_paid: 0,
        };
        assert_eq!(done, expected);
        assert_eq!(market.insurance_deposit_shares, 0);
        assert_eq!(market.pool_deposit_shares, POOL - 5_000_000 + 500_000 + 5_000_000);
        assert_eq!((market.socialised_loss, market.quote_sum()), (24_500_000, 0));
        assert_eq!(positions::deposit_native(&account, &usdc), Ok(0));
        assert!(account.is_empty() && account.active_perps().count() == 0);
        assert_eq!(account.bankrupt, 0, "no debt left: the flag clears");

        // A fund larger than what is left pays only that; nothing is socialised.
        let (mut market, mut usdc, mut account) = bankrupt(3_000_000, 0, 5_000_000);
        let totals = insolvent(0, 3_000_000);
        let done = write_off(&group(), &mut market, &mut usdc, &mut account, &totals).unwrap();
        assert_eq!((done.from_collateral, done.from_insurance, done.socialised), (0, 3_000_000, 0));
        assert_eq!(market.insurance_deposit_shares, 2_000_000);
        assert_eq!(market.pool_deposit_shares, POOL - 5_000_000 + 3_000_000);

        // The fund pays what the collateral left: $3 owed, $0.50 of collateral, $2.50 from it.
        let (mut market, mut usdc, mut account) = bankrupt(3_000_000, 500_000, 5_000_000);
        let totals = insolvent(500_000, 3_000_000);
        let done = write_off(&group(), &mut market, &mut usdc, &mut account, &totals).unwrap();
        assert_eq!(
            (done.from_collateral, done.from_insurance, done.socialised),
            (500_000, 2_500_000, 0)
        );
    }

    #[test]
    fn a_write_off_needs_a_closed_losing_position_and_a_bankrupt_account() {
        let totals = insolvent(500_000, 30_000_000);
        let (mut market, mut usdc, mut account) = bankrupt(30_000_000, 500_000, 0);
        account.perps[0].base_lots = 1;
        let open = write_off(&group(), &mut market, &mut usdc, &mut account, &totals);
        assert_eq!(open, Err(MarginError::PerpPositionsOpen));
        for quote in [0, 1] {
            let (mut market, mut usdc, mut account) = bankrupt(30_000_000, 500_000, 0);
            account.perps[0].quote_native = quote;
            let gain = write_off(&group(), &mut market, &mut usdc, &mut account, &totals);
            assert_eq!(gain, Err(MarginError::PerpNoLossToWriteOff));
        }
        // $2 of collateral is above the $1 dust threshold: not a write-off.
        let (mut market, mut usdc, mut account) = bankrupt(30_000_000, 2_000_000, 0);
        let rich = insolvent(2_000_000, 30_000_000);
        let refused = write_off(&group(), &mut market, &mut usdc, &mut account, &rich);
        assert_eq!(refused, Err(MarginError::NotBankrupt));
        // Solvent dust is written off only when a liquidation flagged it.
        let solvent = insolvent(500_000, 400_000);
        let (mut market, mut usdc, mut account) = bankrupt(400_000, 500_000, 0);
        account.bankrupt = 0;
        let refused = write_off(&group(), &mut market, &mut usdc, &mut account, &solvent);
        assert_eq!(refused, Err(MarginError::NotBankrupt));
        let (mut market, mut usdc, mut account) = bankrupt(400_000, 500_000, 0);
        assert!(write_off(&group(), &mut market, &mut usdc, &mut account, &solvent).is_ok());
    }
}
