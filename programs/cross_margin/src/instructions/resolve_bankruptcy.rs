use anchor_lang::prelude::*;

use crate::bankruptcy::{write_off, Collateral};
use crate::error::MarginError;
use crate::events::{BankruptcyResolved, CollateralSeized};
use crate::health_accounts::{compute_account_health, decode_bank, Breakdown, LoadedBank};
use crate::positions;
use crate::state::{Bank, Group, MarginAccount, PositionKind};

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
/// the rest lowers the bank's deposit index (shared by its depositors). Permissionless, and
/// works while the group is paused.
///
/// The account must be bankrupt at current prices (deposits worth less than the group's dust
/// threshold, and some debt) and insolvent: its deposits worth less than its debts now, or
/// flagged by the liquidation that exhausted it (`crate::bankruptcy::can_write_off`).
/// The account's leftover deposits (all together worth less than the dust threshold) then go to
/// their banks' insurance funds: its owner keeps nothing the write-off paid for.
///
/// Remaining accounts: `(bank, oracle)` for every active position, in slot order, the deposits'
/// banks writable; a flagged account's debts are not priced.
pub fn handler(ctx: Context<ResolveBankruptcy>) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let now = Clock::get()?.unix_timestamp;

    let mut bank = ctx.accounts.liab_bank.load_mut()?;
    bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    let mut account = ctx.accounts.account.load_mut()?;
    require!(!account.is_in_flash_loan(), MarginError::AccountInFlashLoan);
    // Perp PnL is not collateral a write-off can take (issue 17 resolves perp bankruptcy).
    require!(!account.has_perps(), MarginError::PerpPositionsOpen);
    let (group_key, bank_key) = (ctx.accounts.group.key(), ctx.accounts.liab_bank.key());
    let dust = group.bankruptcy_dust_quote;
    let done = write_off(&mut account, &mut bank, dust, |account, bank| -> Result<_> {
        // A flagged account (the liquidation that exhausted it found it insolvent) needs only
        // its deposits priced; any other must be insolvent now, so its debts are priced too.
        let flagged = account.bankrupt != 0;
        let breakdown = if flagged { Breakdown::Collateral } else { Breakdown::PerPosition };
        let report = compute_account_health(
            account,
            &group_key,
            &group,
            ctx.remaining_accounts,
            now,
            crate::health_accounts::Held {
                banks: &[LoadedBank { key: bank_key, bank }],
                perps: &[],
                shocks: Default::default(),
            },
            breakdown,
        )?;
        Ok(if flagged {
            Collateral {
                deposits_value: report.deposits_value,
                liabs_value: None,
                has_debt: report.has_debt,
            }
        } else {
            let totals = report.totals()?;
            Collateral {
                deposits_value: totals.deposits_value,
                liabs_value: Some(totals.liabs_value),
                has_debt: totals.has_debt,
            }
        })
    })?;
    let settlement = done.settlement;
    let account_key = ctx.accounts.account.key();
    seize_leftovers(
        &mut account,
        &group_key,
        &account_key,
        &bank_key,
        ctx.remaining_accounts,
        now,
    )?;

    emit!(BankruptcyResolved {
        group: group_key,
        account: account_key,
        liab_bank: bank_key,
        debt: settlement.debt,
        from_insurance: settlement.from_insurance,
        socialized: settlement.socialized,
        deposit_index_before: done.deposit_index_before,
        deposit_index_after: settlement.deposit_index,
        insurance_after: bank.insurance_native,
        deposits_value: done.collateral.deposits_value,
        still_bankrupt: done.still_bankrupt,
    });
    Ok(())
}

/// Moves every deposit the account still holds into its bank's insurance fund (accrued first),
/// with a `CollateralSeized` event each. The banks are the health accounts the write-off was
/// judged with (validated there); the written-off bank holds no deposit of the account.
fn seize_leftovers<'info>(
    account: &mut MarginAccount,
    group_key: &Pubkey,
    account_key: &Pubkey,
    liab_bank_key: &Pubkey,
    remaining: &'info [AccountInfo<'info>],
    now: i64,
) -> Result<()> {
    for bank_info in remaining.iter().step_by(2) {
        if bank_info.key == liab_bank_key {
            continue;
        }
        let deposited = {
            let data = bank_info.try_borrow_data()?;
            let bank = decode_bank(bank_info.owner, &data)?;
            // Pairs no position needed were skipped unchecked by the health check: a bank of
            // another group with the same index must not be written.
            require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
            let slot = account.find(bank.bank_index);
            slot.is_some_and(|s| account.positions[s].kind() == PositionKind::Deposit)
        };
        if !deposited {
            continue;
        }
        require!(bank_info.is_writable, MarginError::WriteOffBankNotWritable);
        let loader = AccountLoader::<Bank>::try_from(bank_info)?;
        let mut bank = loader.load_mut()?;
        bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
        let native = positions::seize_deposit(account, &mut bank)?;
        emit!(CollateralSeized {
            group: *group_key,
            account: *account_key,
            bank: *bank_info.key,
            native,
            insurance_after: bank.insurance_native,
        });
    }
    Ok(())
}
