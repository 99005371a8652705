use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::MovementKind;
use crate::instructions::bank_transfer::BankTransfer;
use crate::positions;

/// Deposits `amount` native tokens. A borrow in the same bank is repaid first; the rest becomes
/// a deposit. Needs no oracle, so it works while prices are stale, and works while the group is
/// paused.
pub fn handler(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    ctx.accounts.require_wallet_balance(amount)?;
    let group = ctx.accounts.group.load()?;

    let mut bank = ctx.accounts.bank.load_mut()?;
    bank.accrue_interest(Clock::get()?.unix_timestamp).map_err(|_| MarginError::MathOverflow)?;
    let mut account = ctx.accounts.account.load_mut()?;
    let outcome = positions::deposit(&mut account, &mut bank, amount)?;
    account.clear_flags_if_debt_free();
    if outcome.deposited > 0 {
        require!(!group.is_reduce_only(), MarginError::GroupReduceOnly);
        // Deposits beyond u64 are beyond any limit.
        let total = bank.total_deposits_native().map_err(|_| MarginError::DepositLimitExceeded)?;
        require_gte!(bank.config.deposit_limit_native, total, MarginError::DepositLimitExceeded);
    }
    ctx.accounts.transfer_in(amount, bank.decimals)?;

    ctx.accounts.emit_movement(&bank, MovementKind::Deposit, amount, outcome.repaid, 0);
    Ok(())
}
