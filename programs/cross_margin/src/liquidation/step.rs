//! One liquidation step on loaded state: from the liquidatee's health before to the
//! liquidator's health after. The program's `liquidate` handler loads the accounts, prices the
//! liquidatee and calls [`step`]; the keeper's planner calls the same function on copies to
//! predict what the program will do.

use super::{
    end_target, fee_cap, is_liquidatable, liquidation_amounts, solvency_slack, LiquidationAmounts,
    LiquidationInputs,
};
use crate::bankruptcy::can_write_off_account;
use crate::constants::HEALTH_CHECK_DEFERRED;
use crate::error::MarginError;
use crate::health::{
    find_position, AccountTotals, Health, PerpTotals, PositionShares, PricedPosition,
};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount};

/// The accounts one step changes. The caller has loaded them and accrued both banks to now.
pub struct StepAccounts<'a> {
    pub liquidatee: &'a mut MarginAccount,
    pub liquidator: &'a mut MarginAccount,
    pub liab_bank: &'a mut Bank,
    pub asset_bank: &'a mut Bank,
}

/// What one step did: the `Liquidation` event's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepOutcome {
    pub amounts: LiquidationAmounts,
    /// The liability bank's oracle price the debt was exchanged at (Q64.64 quote per native).
    pub liab_price: u128,
    /// The asset bank's oracle price the collateral was exchanged at (Q64.64 quote per native).
    pub asset_price: u128,
    pub maint_health_before: i128,
    pub maint_health_after: i128,
    /// The end target at the liquidatee's maint-weighted liabilities after the step.
    pub end_target_after: i128,
    /// The liquidatee stays flagged `being_liquidated`: still below its end target.
    pub still_being_liquidated: bool,
    /// The liquidatee is flagged `bankrupt`: the step left it insolvent with only dust.
    pub bankrupt: bool,
    /// [`HEALTH_CHECK_DEFERRED`] when the liquidator is inside a flash loan.
    pub liquidator_init_health_after: i128,
}

/// One liquidation step: the liquidator's account takes over up to `max_liab_amount` of the
/// liquidatee's debt in `liab_bank` and receives the liquidatee's deposit in `asset_bank` plus
/// the fees (`crate::liquidation::liquidation_amounts`).
///
/// `before` is the liquidatee's every position priced now (with both banks accrued).
/// `liquidator_health` prices the liquidator's account after the step, given the two banks as
/// the step left them, or returns `None` when the check is deferred (the liquidator is inside a
/// flash loan: `flash_loan_end` checks it). Refused, with the program's error, when:
/// - the account may be written off instead (`AccountBankrupt`);
/// - `liab_bank` is not a borrow or `asset_bank` not a deposit of the liquidatee;
/// - the account is not liquidatable (`NotLiquidatable`);
/// - the amounts round to zero (`LiquidationAmountZero`);
/// - the step does not raise maint health and the debt is not gone (`LiquidationDidNotImprove`);
/// - the liquidator's init health would be negative (`LiquidatorInitHealthNegative`).
///
/// On a refusal the accounts may be partly changed: the program's transaction reverts them, and
/// a planner passes copies.
pub fn step<E: From<MarginError>>(
    group: &Group,
    accounts: StepAccounts,
    before: &[PricedPosition],
    perp: Option<&PerpTotals>,
    max_liab_amount: u64,
    liquidator_health: impl FnOnce(&MarginAccount, &Bank, &Bank) -> Result<Option<Health>, E>,
) -> Result<StepOutcome, E> {
    let StepAccounts { liquidatee, liquidator, liab_bank, asset_bank } = accounts;
    let totals_before = totals(before, perp)?;
    // An account whose debt may be written off is left to `resolve_bankruptcy`. Judged at
    // current prices, not by the flag alone: a flagged account whose collateral came back (a
    // deposit, a price) must be liquidatable again.
    let dust = group.bankruptcy_dust_quote;
    if can_write_off_account(&totals_before, liquidatee.bankrupt != 0, dust) {
        return Err(MarginError::AccountBankrupt.into());
    }
    let liab = find_position(before, liab_bank.bank_index)
        .filter(|p| matches!(p.shares, PositionShares::Borrow(_)))
        .ok_or(MarginError::LiquidationLiabNotBorrow)?;
    let asset = find_position(before, asset_bank.bank_index)
        .filter(|p| matches!(p.shares, PositionShares::Deposit(_)))
        .ok_or(MarginError::LiquidationAssetNotDeposit)?;
    // A dust position whose price is unusable counts for health but is never exchanged.
    if let Some(error) = liab.unusable.or(asset.unusable) {
        return Err(error.into());
    }

    let buffer = group.liquidation_end_buffer_bps;
    let maint_before = totals_before.health.maint;
    let target_before = end_target(totals_before.maint_weighted_liabs, buffer);
    if !is_liquidatable(maint_before, target_before, liquidatee.being_liquidated != 0) {
        return Err(MarginError::NotLiquidatable.into());
    }

    // The exchange is at the oracle prices (M-3); the fees may not take a solvent account's
    // equity below zero (L-4).
    let (liab_price, asset_price) = (liab.risk.liab_price, asset.risk.asset_price);
    let slack = solvency_slack(liab_price, asset_price).map_err(|_| MarginError::MathOverflow)?;
    let amounts = liquidation_amounts(&LiquidationInputs {
        maint_health: maint_before,
        maint_weighted_liabs: totals_before.maint_weighted_liabs,
        end_buffer_bps: buffer,
        liab_price,
        liab_exchange_price: liab.risk.oracle_price,
        liab_maint_weight_bps: liab_bank.config.maint_liab_weight_bps,
        asset_price,
        asset_exchange_price: asset.risk.oracle_price,
        asset_maint_weight_bps: asset_bank.config.maint_asset_weight_bps,
        liquidation_fee_bps: asset_bank.config.liquidation_fee_bps,
        insurance_fee_bps: asset_bank.config.insurance_fee_bps,
        liab_owed: liab.health.native,
        asset_available: asset.health.native,
        max_liab_amount,
        max_fee_quote: fee_cap(totals_before.deposits_value, totals_before.liabs_value, slack),
    })
    .map_err(|_| MarginError::MathOverflow)?;
    if amounts.liab == 0 || amounts.asset_to_liquidator == 0 {
        return Err(MarginError::LiquidationAmountZero.into());
    }

    // Move the debt and the collateral between the two accounts.
    positions::move_liquidated(liquidatee, liquidator, liab_bank, asset_bank, &amounts)?;

    // The liquidatee after, at the same prices.
    let after = reprice(before, liquidatee, [liab_bank, asset_bank])?;
    let totals_after = totals(&after, perp)?;
    let maint_after = totals_after.health.maint;
    let liab_gone = positions::borrow_native(liquidatee, liab_bank)? == 0;
    if maint_after <= maint_before && !liab_gone {
        return Err(MarginError::LiquidationDidNotImprove.into());
    }
    let target_after = end_target(totals_after.maint_weighted_liabs, buffer);
    let still_being_liquidated = maint_after < target_after;
    liquidatee.being_liquidated = still_being_liquidated as u8;
    // After a liquidation the flag is set only when the step leaves the account insolvent.
    let bankrupt = can_write_off_account(&totals_after, false, dust);
    liquidatee.bankrupt = bankrupt as u8;

    // The liquidator must be able to carry what it took over.
    let liquidator_init = match liquidator_health(liquidator, liab_bank, asset_bank)? {
        Some(health) if health.init < 0 => {
            return Err(MarginError::LiquidatorInitHealthNegative.into())
        }
        Some(health) => health.init,
        None => HEALTH_CHECK_DEFERRED,
    };

    Ok(StepOutcome {
        amounts,
        liab_price: liab.risk.oracle_price,
        asset_price: asset.risk.oracle_price,
        maint_health_before: maint_before,
        maint_health_after: maint_after,
        end_target_after: target_after,
        still_being_liquidated,
        bankrupt,
        liquidator_init_health_after: liquidator_init,
    })
}

/// The account's totals; with perp positions, as [`PerpTotals::combine`] judges them, recomputed
/// from the positions as they are, so a step that moves the settle bank's balance is judged with
/// it.
pub fn totals(
    positions: &[PricedPosition],
    perp: Option<&PerpTotals>,
) -> Result<AccountTotals, MarginError> {
    let totals = match perp {
        Some(perp) => perp.combine(positions),
        None => AccountTotals::of(positions.iter().map(|p| &p.health)),
    };
    totals.map_err(|_| MarginError::MathOverflow)
}

/// The account's positions at the prices of `before`, with its current shares and the current
/// indices of the banks the step changed.
fn reprice(
    before: &[PricedPosition],
    account: &MarginAccount,
    changed: [&Bank; 2],
) -> Result<Vec<PricedPosition>, MarginError> {
    let mut after = Vec::with_capacity(before.len());
    for priced in before {
        // A dust position with an unusable price is never exchanged, so it is as before:
        // repricing it would count a deposit that counted for nothing (finding M-2's rule).
        if priced.unusable.is_some() {
            after.push(*priced);
            continue;
        }
        let Some(slot) = account.find(priced.bank_index) else { continue };
        let Some(shares) = account.positions[slot].shares() else { continue };
        let mut risk = priced.risk;
        if let Some(bank) = changed.iter().find(|b| b.bank_index == priced.bank_index) {
            risk.deposit_index = bank.deposit_index();
            risk.borrow_index = bank.borrow_index();
        }
        after.push(PricedPosition::new(priced.bank_index, risk, shares)?);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::super::amounts::tests::inputs;
    use super::*;
    use crate::health::BankRisk;
    use crate::math::ONE_Q64;

    const USDC: u16 = 0;
    const SOL: u16 = 1;

    /// USDC at $1 (maint liability weight 1.1) and SOL at $125 per 10^9 lamports (maint asset
    /// weight 0.9, fees 5% + 1%).
    fn banks() -> (Bank, Bank) {
        let mut usdc: Bank = bytemuck::Zeroable::zeroed();
        usdc.bank_index = USDC;
        usdc.config.maint_liab_weight_bps = 11_000;
        usdc.config.init_liab_weight_bps = 12_000;
        let mut sol: Bank = bytemuck::Zeroable::zeroed();
        sol.bank_index = SOL;
        sol.config.maint_asset_weight_bps = 9_000;
        sol.config.init_asset_weight_bps = 8_000;
        sol.config.liquidation_fee_bps = 500;
        sol.config.insurance_fee_bps = 100;
        for bank in [&mut usdc, &mut sol] {
            bank.set_deposit_index(ONE_Q64);
            bank.set_borrow_index(ONE_Q64);
        }
        (usdc, sol)
    }

    fn group() -> Group {
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.liquidation_end_buffer_bps = 500;
        group.bankruptcy_dust_quote = 1_000_000;
        group
    }

    /// 10 SOL ($1,250) against `debt` USDC, and the liquidatee's positions priced.
    fn liquidatee(debt: u64) -> (MarginAccount, Bank, Bank, Vec<PricedPosition>) {
        holding(10_000_000_000, debt)
    }

    /// `lamports` of SOL against `debt` USDC, and the account's positions priced.
    fn holding(lamports: u64, debt: u64) -> (MarginAccount, Bank, Bank, Vec<PricedPosition>) {
        let (mut usdc, mut sol) = banks();
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        positions::deposit(&mut account, &mut sol, lamports).unwrap();
        usdc.total_deposit_shares = u64::MAX / 2; // liquidity to borrow from
        positions::borrow(&mut account, &mut usdc, debt).unwrap();
        let before = price(&account, &usdc, &sol);
        (account, usdc, sol, before)
    }

    fn price(account: &MarginAccount, usdc: &Bank, sol: &Bank) -> Vec<PricedPosition> {
        account
            .active_positions()
            .map(|p| {
                let risk = match p.bank_index {
                    USDC => BankRisk {
                        oracle_price: ONE_Q64,
                        ..usdc.risk(0, ONE_Q64, 0, ONE_Q64).unwrap()
                    },
                    _ => BankRisk {
                        oracle_price: ONE_Q64 / 8,
                        ..sol.risk(ONE_Q64 / 8, 0, ONE_Q64 / 8, 0).unwrap()
                    },
                };
                PricedPosition::new(p.bank_index, risk, p.shares().unwrap()).unwrap()
            })
            .collect()
    }

    fn run(
        account: &mut MarginAccount,
        liquidator: &mut MarginAccount,
        usdc: &mut Bank,
        sol: &mut Bank,
        before: &[PricedPosition],
        liquidator_init: i128,
    ) -> Result<StepOutcome, MarginError> {
        run_capped(account, liquidator, usdc, sol, before, liquidator_init, u64::MAX)
    }

    /// [`run`] with at most `max_liab_amount` of debt taken over.
    fn run_capped(
        account: &mut MarginAccount,
        liquidator: &mut MarginAccount,
        usdc: &mut Bank,
        sol: &mut Bank,
        before: &[PricedPosition],
        liquidator_init: i128,
        max_liab_amount: u64,
    ) -> Result<StepOutcome, MarginError> {
        step(
            &group(),
            StepAccounts { liquidatee: account, liquidator, liab_bank: usdc, asset_bank: sol },
            before,
            None,
            max_liab_amount,
            |_, _, _| Ok(Some(Health { init: liquidator_init, maint: liquidator_init })),
        )
    }

    #[test]
    fn a_step_moves_the_closed_form_amounts_and_sets_the_flags() {
        // Maint: 1,250 × 0.9 = 1,125 against 1,030 × 1.1 = 1,133: −$8.
        let (mut account, mut usdc, mut sol, before) = liquidatee(1_030_000_000);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let outcome = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1).unwrap();
        assert_eq!(outcome.maint_health_before, -8_000_000);
        // The same market as the closed form's unit tests.
        let expected =
            liquidation_amounts(&inputs(-8_000_000, 1_133_000_000, 1_030_000_000)).unwrap();
        assert_eq!(outcome.amounts, expected);
        assert_eq!(outcome.amounts.limited_by, crate::liquidation::Limit::EndTarget);
        // The debt moved to the liquidator, the collateral and its fee to it and the fund.
        let moved = expected.asset_to_liquidator + expected.asset_to_insurance;
        assert_eq!(positions::borrow_native(&liquidator, &usdc), Ok(expected.liab));
        assert_eq!(positions::deposit_native(&liquidator, &sol), Ok(expected.asset_to_liquidator));
        assert_eq!(positions::deposit_native(&account, &sol), Ok(10_000_000_000 - moved));
        assert_eq!(sol.insurance_native, expected.asset_to_insurance);
        // It reached the end target, so the account is no longer being liquidated.
        assert!(outcome.maint_health_after >= outcome.end_target_after);
        assert_eq!(
            outcome.maint_health_after,
            totals(&price(&account, &usdc, &sol), None).unwrap().health.maint
        );
        assert!(!outcome.still_being_liquidated && !outcome.bankrupt);
        assert_eq!((account.being_liquidated, account.bankrupt), (0, 0));
    }

    #[test]
    fn refusals_name_the_rule() {
        // Healthy: maint 1,125 against 1,000 × 1.1 = 1,100.
        let (mut account, mut usdc, mut sol, before) = liquidatee(1_000_000_000);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let result = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1);
        assert_eq!(result, Err(MarginError::NotLiquidatable));

        let (mut account, mut usdc, mut sol, before) = liquidatee(1_030_000_000);
        let result = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, -1);
        assert_eq!(result, Err(MarginError::LiquidatorInitHealthNegative));

        // The banks swapped: SOL is not a borrow of the account.
        let (mut account, mut usdc, mut sol, before) = liquidatee(1_030_000_000);
        let result = run(&mut account, &mut liquidator, &mut sol, &mut usdc, &before, 1);
        assert_eq!(result, Err(MarginError::LiquidationLiabNotBorrow));
    }

    #[test]
    fn an_account_that_may_be_written_off_is_not_liquidated() {
        // $0.50 of SOL (below the $1 dust) against $100 of debt: insolvent dust.
        let (mut account, mut usdc, mut sol, before) = holding(4_000_000, 100_000_000);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let result = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1);
        assert_eq!(result, Err(MarginError::AccountBankrupt));
    }

    #[test]
    fn a_liquidator_at_exactly_zero_init_health_may_take_the_step() {
        let (mut account, mut usdc, mut sol, before) = liquidatee(1_030_000_000);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let outcome = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 0);
        assert_eq!(outcome.map(|o| o.liquidator_init_health_after), Ok(0));
    }

    /// A capped step that leaves the account short of its end target keeps it flagged; the
    /// step that reaches the target exactly clears the flag.
    #[test]
    fn the_flag_stays_until_the_end_target_is_reached() {
        let (mut account, mut usdc, mut sol, before) = liquidatee(1_030_000_000);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let outcome =
            run_capped(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1, 1_000_000)
                .unwrap();
        assert!(outcome.maint_health_after < outcome.end_target_after);
        assert!(outcome.still_being_liquidated && account.being_liquidated == 1);
    }

    /// A solvent account below the dust threshold is liquidated, unless a past liquidation
    /// flagged it bankrupt (then it is left to `resolve_bankruptcy`).
    #[test]
    fn the_bankrupt_flag_decides_for_a_solvent_dust_account() {
        // $0.90 of SOL against $0.85 of USDC: maint 0.81 − 0.935 < 0, but solvent.
        let (mut account, mut usdc, mut sol, before) = holding(7_200_000, 850_000);
        let mut flagged = account;
        flagged.bankrupt = 1;
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let (mut u, mut s) = (usdc, sol);
        let result = run(&mut flagged, &mut liquidator, &mut u, &mut s, &before, 1);
        assert_eq!(result, Err(MarginError::AccountBankrupt));
        let result = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1);
        assert!(result.is_ok(), "{result:?}");
    }

    /// With a maint liability weight of 1 and collateral at 0.98 with 6% of fees, each unit of
    /// debt repaid costs more maint value than it frees: a capped step lowers maint health and
    /// is refused, though the debt is not cleared. Taking all the collateral still improves.
    #[test]
    fn a_step_that_lowers_maint_health_is_refused() {
        let (mut account, mut usdc, mut sol, _) = liquidatee(1_230_000_000);
        usdc.config.maint_liab_weight_bps = 10_000;
        sol.config.maint_asset_weight_bps = 9_800;
        let before = price(&account, &usdc, &sol);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let (mut a, mut l, mut u, mut s) = (account, liquidator, usdc, sol);
        let all = run(&mut a, &mut l, &mut u, &mut s, &before, 1).unwrap();
        assert_eq!(all.amounts.limited_by, crate::liquidation::Limit::Collateral);
        assert!(all.maint_health_after > all.maint_health_before);
        let capped =
            run_capped(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1, 100_000_000);
        assert_eq!(capped, Err(MarginError::LiquidationDidNotImprove));
    }

    /// The step judges the liquidatee after it at the banks' current indices: a borrow index
    /// above one (interest) is carried into the repriced debt.
    #[test]
    fn the_account_after_the_step_is_priced_at_the_current_indices() {
        let (mut account, mut usdc, mut sol, _) = liquidatee(1_030_000_000);
        usdc.set_borrow_index(ONE_Q64 * 101 / 100); // the debt grew 1%
        let before = price(&account, &usdc, &sol);
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let outcome = run(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1).unwrap();
        let after = totals(&price(&account, &usdc, &sol), None).unwrap();
        assert_eq!(outcome.maint_health_after, after.health.maint);
    }

    /// One lamport of SOL debt ($0.000000125) buys less than one native unit of USDC
    /// collateral: the step would pay the liquidator nothing and is refused.
    #[test]
    fn a_step_that_pays_the_liquidator_nothing_is_refused() {
        let (mut usdc, mut sol) = banks();
        usdc.config.maint_asset_weight_bps = 9_000;
        sol.config.maint_liab_weight_bps = 11_000;
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        positions::deposit(&mut account, &mut usdc, 1_000_000_000).unwrap(); // $1,000
        sol.total_deposit_shares = u64::MAX / 2;
        positions::borrow(&mut account, &mut sol, 10_000_000_000).unwrap(); // $1,250
        let before: Vec<PricedPosition> = account
            .active_positions()
            .map(|p| {
                let (bank, price) =
                    if p.bank_index == USDC { (&usdc, ONE_Q64) } else { (&sol, ONE_Q64 / 8) };
                let risk = bank.risk(price, price, price, price).unwrap();
                let risk = BankRisk { oracle_price: price, ..risk };
                PricedPosition::new(p.bank_index, risk, p.shares().unwrap()).unwrap()
            })
            .collect();
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let result = run_capped(&mut account, &mut liquidator, &mut sol, &mut usdc, &before, 1, 1);
        assert_eq!(result.map(|o| o.amounts), Err(MarginError::LiquidationAmountZero));
    }

    /// A step that lands exactly on the end target (found by a search over the debt and the
    /// cap: 1,030.000001 USDC of debt, at most 321.641801 taken over) clears the flag: the
    /// target is reached, not only passed.
    #[test]
    fn a_step_that_lands_exactly_on_the_end_target_clears_the_flag() {
        let (mut account, mut usdc, mut sol, before) = liquidatee(1_030_000_001);
        account.being_liquidated = 1;
        let mut liquidator: MarginAccount = bytemuck::Zeroable::zeroed();
        let max = 321_641_801;
        let outcome =
            run_capped(&mut account, &mut liquidator, &mut usdc, &mut sol, &before, 1, max)
                .unwrap();
        assert_eq!(outcome.maint_health_after, outcome.end_target_after);
        assert!(!outcome.still_being_liquidated && account.being_liquidated == 0);
    }
}
