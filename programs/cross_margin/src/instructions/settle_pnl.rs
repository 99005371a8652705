use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::PnlSettled;
use crate::health_accounts::Breakdown;
use crate::instructions::perp_trade::{health_with, touch, HeldPerp, PerpKeeper};
use crate::perp::actions;
use crate::perp::bankruptcy::loss_borrow_capacity;

/// Moves the position's PnL at the oracle price (funding applied first) into the account's
/// settle-bank position, with no token transfer: a gain (capped by the pool's deposit) becomes
/// a deposit paid by the pool; a loss reduces the deposit, and beyond it becomes a borrow only
/// up to the account's equity outside the settle deposit (remaining accounts: the health
/// accounts; none, and only the deposit pays). The rest stays unsettled: if the account is
/// bankrupt, `resolve_perp_bankruptcy` has it paid by the market's insurance fund and LPs, never
/// by the settle bank's depositors. Permissionless: the PnL already counted in the settle bank's
/// balance for health, so settling it never lowers health (beyond share rounding).
pub fn handler(ctx: Context<PerpKeeper>) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut market = ctx.accounts.perp_market.load_mut()?;
    let mut bank = ctx.accounts.settle_bank.load_mut()?;
    let (now, touched) = touch(&mut market, &group, &ctx.accounts.oracle, &mut bank)?;

    let mut account = ctx.accounts.account.load_mut()?;
    require!(!account.is_in_flash_loan(), MarginError::AccountInFlashLoan);
    let (group_key, market_key, bank_key) =
        (ctx.accounts.group.key(), ctx.accounts.perp_market.key(), ctx.accounts.settle_bank.key());
    let outcome = actions::settle(
        &mut market,
        &mut account,
        &mut bank,
        touched,
        |account, market, bank| -> Result<u64> {
            if ctx.remaining_accounts.is_empty() {
                return Ok(0);
            }
            let held = HeldPerp { bank: (bank_key, bank), market: (market_key, market) };
            let (group, remaining) = ((&group_key, &*group), ctx.remaining_accounts);
            let report = health_with(account, group, remaining, now, held, Breakdown::PerPosition)?;
            let settle = report.perp.ok_or(MarginError::HealthSettleBankMismatch)?;
            Ok(loss_borrow_capacity(
                &report.positions,
                settle.settle_bank_index,
                settle.settle_risk.liab_price,
            )?)
        },
    )?;

    emit!(PnlSettled {
        group: market.group,
        account: ctx.accounts.account.key(),
        perp_market: ctx.accounts.perp_market.key(),
        amount: outcome.amount,
        funding_paid: outcome.funding_paid,
        balance_change: outcome.balance_change,
        pool_deposit_shares: market.pool_deposit_shares,
    });
    Ok(())
}
