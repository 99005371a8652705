use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::MovementKind;
use crate::instructions::bank_transfer::BankTransfer;
use crate::positions;

/// Repays `amount` native tokens of the account's borrow in this bank (at most the debt).
/// Needs no oracle, so it works while prices are stale, and works while the group is paused.
pub fn handler(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    ctx.accounts.require_wallet_balance(amount)?;

    let mut bank = ctx.accounts.bank.load_mut()?;
    let now = Clock::get()?.unix_timestamp;
    bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
    let mut account = ctx.accounts.account.load_mut()?;
    positions::repay(&mut account, &mut bank, amount)?;
    bank.record_net_repay(amount, now);
    account.clear_flags_if_debt_free();
    ctx.accounts.transfer_in(amount, bank.decimals)?;

    ctx.accounts.emit_movement(&bank, MovementKind::Repay, amount, amount, 0);
    Ok(())
}
