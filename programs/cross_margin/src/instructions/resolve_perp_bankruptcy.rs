use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PerpBankruptcyResolved;
use crate::health_accounts::Breakdown;
use crate::instructions::perp_trade::{health_with, touch, HeldPerp, PerpKeeper};
use crate::perp::bankruptcy::write_off;

/// Writes off the account's loss in the market (`crate::perp::bankruptcy::write_off` has the
/// rules): its settle deposit pays first, the market's insurance fund next, the pool's LPs the
/// rest. Permissionless.
///
/// Remaining accounts: the account's health accounts (`crate::health_accounts`).
pub fn handler(ctx: Context<PerpKeeper>) -> Result<()> {
    let accounts = &ctx.accounts;
    let group = accounts.group.load()?;
    let mut market = accounts.perp_market.load_mut()?;
    let mut bank = accounts.settle_bank.load_mut()?;
    let (now, _) = touch(&mut market, &group, &accounts.oracle, &mut bank)?;
    let mut account = accounts.account.load_mut()?;
    require!(!account.is_in_flash_loan(), MarginError::AccountInFlashLoan);
    let (group_key, market_key) = (accounts.group.key(), accounts.perp_market.key());
    let held =
        HeldPerp { bank: (accounts.settle_bank.key(), &*bank), market: (market_key, &*market) };
    let (group_ref, remaining) = ((&group_key, &*group), ctx.remaining_accounts);
    let report = health_with(&account, group_ref, remaining, now, held, Breakdown::PerPosition)?;
    let totals = report.totals()?;
    let done = write_off(&group, &mut market, &mut bank, &mut account, &totals)?;
    emit!(PerpBankruptcyResolved {
        group: group_key,
        account: accounts.account.key(),
        perp_market: market_key,
        loss: done.loss,
        from_collateral: done.from_collateral,
        from_insurance: done.from_insurance,
        socialised: done.socialised,
        insurance_shares_after: market.insurance_deposit_shares,
        socialised_loss_total: market.socialised_loss,
    });
    Ok(())
}
