//! The invariants every step of a run must keep; the engine stops the run at the first one
//! broken. Pure functions of what the step produced, so that each can be shown to fail.

use anyhow::{bail, Result};
use cross_margin::events::{BankruptcyResolved, Liquidation};
use cross_margin::state::{PerpMarket, PerpSlot};

/// No healthy account is liquidated: maint health was below zero, or a liquidation was under
/// way on the account (it stays liquidatable up to its end target). And every liquidation
/// raised the liquidatee's maint health, or left it bankrupt, or cleared its debt in the bank
/// (`debt_gone`, read from the account after the keepers' round).
pub fn check_liquidation(
    step: usize,
    event: &Liquidation,
    was_flagged: bool,
    debt_gone: bool,
) -> Result<()> {
    if event.maint_health_before >= 0 && !was_flagged {
        bail!("step {step}: healthy account {} liquidated", event.liquidatee);
    }
    if event.maint_health_after <= event.maint_health_before && !event.bankrupt && !debt_gone {
        bail!("step {step}: liquidation of {} did not improve it", event.liquidatee);
    }
    Ok(())
}

/// Bad debt only where the collateral is exhausted (below the dust threshold).
pub fn check_write_off(step: usize, event: &BankruptcyResolved, dust_quote: u64) -> Result<()> {
    if event.deposits_value >= dust_quote {
        bail!("step {step}: bad debt from {} with collateral left", event.account);
    }
    Ok(())
}

/// Vault conservation for one bank: the vault holds at least what the bank owes (deposits −
/// borrows + insurance), and the surplus is no more than the rounding of `transactions`
/// transactions (a couple of units each). Returns the surplus.
pub fn check_vault(
    step: usize,
    bank: u16,
    vault: u64,
    claims: i128,
    transactions: usize,
) -> Result<u64> {
    if (vault as i128) < claims {
        bail!("step {step}: bank {bank} vault {vault} below claims {claims}");
    }
    let surplus = (vault as i128 - claims) as u64;
    if surplus > 16 + 2 * transactions as u64 {
        bail!("step {step}: bank {bank} vault surplus {surplus} beyond rounding");
    }
    Ok(surplus)
}

/// A perp market's books match its positions: the open interest per side, the quote sum and
/// the LP shares equal the sums over every slot in it (`slots`: all the accounts that ever
/// used the market, an empty slot for those that left).
pub fn check_perp_book(
    step: usize,
    index: u16,
    market: &PerpMarket,
    slots: &[PerpSlot],
) -> Result<()> {
    let long: u64 = slots.iter().map(|s| s.base_lots.max(0) as u64).sum();
    let short: u64 = slots.iter().map(|s| s.base_lots.min(0).unsigned_abs()).sum();
    let quote: i128 = slots.iter().map(|s| s.quote_native as i128).sum();
    let lp_shares: u64 = slots.iter().map(|s| s.lp_shares).sum();
    if (long, short) != (market.long_lots, market.short_lots) {
        bail!(
            "step {step}: perp market {index} open interest {}/{} but positions sum to {long}/{short}",
            market.long_lots,
            market.short_lots
        );
    }
    if quote != market.quote_sum() || lp_shares != market.lp_shares {
        bail!("step {step}: perp market {index} quote sum or LP shares differ from its positions");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cross_margin_client::Pubkey;

    fn liquidation(before: i128, after: i128, bankrupt: bool) -> Liquidation {
        Liquidation {
            group: Pubkey::default(),
            liquidator: Pubkey::default(),
            liquidatee: Pubkey::new_from_array([1; 32]),
            liab_bank: Pubkey::default(),
            asset_bank: Pubkey::default(),
            liab_amount: 1,
            asset_to_liquidator: 1,
            asset_to_insurance: 0,
            liab_price: 0,
            asset_price: 0,
            maint_health_before: before,
            maint_health_after: after,
            end_target_after: 0,
            still_being_liquidated: false,
            bankrupt,
            liquidator_init_health_after: 0,
        }
    }

    #[test]
    fn a_healthy_account_liquidated_breaks_the_run() {
        assert!(check_liquidation(3, &liquidation(-5, 10, false), false, false).is_ok());
        let error = check_liquidation(3, &liquidation(0, 10, false), false, false).unwrap_err();
        assert!(error.to_string().contains("healthy account"), "{error}");
        // Above zero but under way: allowed up to the end target.
        assert!(check_liquidation(3, &liquidation(7, 10, false), true, false).is_ok());
    }

    #[test]
    fn a_liquidation_that_does_not_improve_health_breaks_the_run() {
        let error = check_liquidation(3, &liquidation(-5, -5, false), false, false).unwrap_err();
        assert!(error.to_string().contains("did not improve"), "{error}");
        // Unless it exhausted the account: bankrupt.
        assert!(check_liquidation(3, &liquidation(-5, -6, true), false, false).is_ok());
        // Or cleared the debt in that bank (the program's own exception).
        assert!(check_liquidation(3, &liquidation(-5, -6, false), false, true).is_ok());
    }

    #[test]
    fn bad_debt_with_collateral_left_breaks_the_run() {
        let mut event = BankruptcyResolved {
            group: Pubkey::default(),
            account: Pubkey::default(),
            liab_bank: Pubkey::default(),
            debt: 10,
            from_insurance: 10,
            socialized: 0,
            deposit_index_before: 0,
            deposit_index_after: 0,
            insurance_after: 0,
            deposits_value: 999_999,
            still_bankrupt: false,
        };
        assert!(check_write_off(1, &event, 1_000_000).is_ok());
        event.deposits_value = 1_000_000;
        let error = check_write_off(1, &event, 1_000_000).unwrap_err();
        assert!(error.to_string().contains("collateral left"), "{error}");
    }

    #[test]
    fn a_perp_market_whose_books_differ_from_its_positions_breaks_the_run() {
        let mut market: PerpMarket = bytemuck::Zeroable::zeroed();
        let slot = |base_lots, quote_native, lp_shares| PerpSlot {
            base_lots,
            quote_native,
            lp_shares,
            ..Default::default()
        };
        let slots = [slot(300, -30_000, 0), slot(-100, 10_000, 0), slot(0, 0, 5)];
        (market.long_lots, market.short_lots, market.lp_shares) = (300, 100, 5);
        market.set_quote_sum(-20_000);
        assert!(check_perp_book(1, 0, &market, &slots).is_ok());
        market.short_lots = 101;
        let error = check_perp_book(1, 0, &market, &slots).unwrap_err();
        assert!(error.to_string().contains("open interest"), "{error}");
        market.short_lots = 100;
        market.lp_shares = 6;
        assert!(check_perp_book(1, 0, &market, &slots).is_err());
    }

    #[test]
    fn a_vault_short_of_its_claims_or_with_too_much_dust_breaks_the_run() {
        assert_eq!(check_vault(2, 0, 1_010, 1_000, 0).unwrap(), 10);
        let short = check_vault(2, 0, 999, 1_000, 100).unwrap_err();
        assert!(short.to_string().contains("below claims"), "{short}");
        // 16 + 2 per transaction: 5 transactions allow 26 units of dust, not 27.
        assert!(check_vault(2, 0, 1_026, 1_000, 5).is_ok());
        let dust = check_vault(2, 0, 1_027, 1_000, 5).unwrap_err();
        assert!(dust.to_string().contains("beyond rounding"), "{dust}");
    }
}
