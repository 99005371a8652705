use anchor_lang::prelude::*;

use crate::bankruptcy::{can_write_off, settle};
use crate::error::MarginError;
use crate::events::BankruptcyResolved;
use crate::health_accounts::{compute_account_health, Breakdown, LoadedBank};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount};

#[derive(Accounts)]
pub struct ResolveBankruptcy<'info> {
    pub group: AccountLoader<'info, Group>,
    /// The bankrupt account. Anyone may resolve it: it only loses debt.
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub account: AccountLoader<'info, MarginAccount>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub liab_bank: AccountLoader<'info, Bank>,
}

/// Writes off the account's whole borrow in `liab_bank`: the bank's insurance fund pays first,
/// the rest lowers the bank's deposit index (shared by its depositors). Permissionless.
///
/// The account must be bankrupt at current prices (deposits worth less than the group's dust
/// threshold, and some debt) and insolvent: its deposits worth less than its debts now, or
/// flagged by the liquidation that exhausted it (`crate::bankruptcy::can_write_off`).
/// Remaining accounts: `(bank, oracle)` for every active position, in slot order; a flagged
/// account's debts are not priced.
pub fn handler(ctx: Context<ResolveBankruptcy>) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    require!(!group.is_paused(), MarginError::GroupPaused);
    let now = Clock::get()?.unix_timestamp;

    let mut bank = ctx.accounts.liab_bank.load_mut()?;
    bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    let mut account = ctx.accounts.account.load_mut()?;
    let debt = positions::borrow_native(&account, &bank)?;
    require!(debt > 0, MarginError::NoBorrow);

    // A flagged account (the liquidation that exhausted it found it insolvent) needs only its
    // deposits priced; any other must be insolvent now, so its debts are priced too.
    let flagged = account.bankrupt != 0;
    let breakdown = if flagged { Breakdown::Collateral } else { Breakdown::PerPosition };
    let collateral = compute_account_health(
        &account,
        &ctx.accounts.group.key(),
        &group,
        ctx.remaining_accounts,
        now,
        &[LoadedBank { key: ctx.accounts.liab_bank.key(), bank: &bank }],
        breakdown,
    )?;
    let (deposits_value, liabs_value, has_debt) = if flagged {
        (collateral.deposits_value, None, collateral.has_debt)
    } else {
        let totals = collateral.totals()?;
        (totals.deposits_value, Some(totals.liabs_value), totals.has_debt)
    };
    require!(
        can_write_off(deposits_value, liabs_value, has_debt, flagged, group.bankruptcy_dust_quote),
        MarginError::NotBankrupt
    );

    let deposit_index_before = bank.deposit_index();
    let settlement =
        settle(debt, bank.insurance_native, deposit_index_before, bank.total_deposit_shares)
            .map_err(|_| MarginError::LossExceedsDeposits)?;
    positions::forgive_debt(&mut account, &mut bank)?;
    bank.insurance_native -= settlement.from_insurance;
    bank.set_deposit_index(settlement.deposit_index);

    let debt_left =
        account.active_positions().any(|p| p.kind() == crate::state::PositionKind::Borrow);
    account.bankrupt = debt_left as u8;
    if !debt_left {
        account.being_liquidated = 0;
    }

    emit!(BankruptcyResolved {
        group: ctx.accounts.group.key(),
        account: ctx.accounts.account.key(),
        liab_bank: ctx.accounts.liab_bank.key(),
        debt,
        from_insurance: settlement.from_insurance,
        socialized: settlement.socialized,
        deposit_index_before,
        deposit_index_after: settlement.deposit_index,
        insurance_after: bank.insurance_native,
        deposits_value,
        still_bankrupt: debt_left,
    });
    Ok(())
}
