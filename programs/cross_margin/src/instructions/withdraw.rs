use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::MovementKind;
use crate::instructions::bank_transfer::{pay_out, BankTransfer};
use crate::positions;

/// Withdraws `amount` native tokens from the account's deposit in this bank. Afterwards the
/// account's init health must be >= 0 at fresh prices: remaining accounts are `(bank, oracle)`
/// for every active position, in slot order. Refused while the group is paused (`GroupPaused`).
pub fn handler(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    let group = ctx.accounts.group.load()?;
    require!(!group.is_paused(), MarginError::GroupPaused);

    let now = Clock::get()?.unix_timestamp;
    // State changes first, in a scope: the bank account is the vault's signing authority in the
    // transfer below, so its data must not be borrowed during the CPI.
    let bank = {
        let mut bank = ctx.accounts.bank.load_mut()?;
        bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
        let mut account = ctx.accounts.account.load_mut()?;
        account.clear_flags_if_debt_free();
        require!(account.bankrupt == 0, MarginError::AccountBankrupt);
        let liquidity = bank.available_liquidity().map_err(|_| MarginError::MathOverflow)?;
        positions::withdraw(&mut account, &mut bank, amount)?;
        require_gte!(liquidity, amount, MarginError::InsufficientLiquidity);
        *bank
    };

    pay_out(&ctx, &group, &bank, now, MovementKind::Withdraw, amount)
}
