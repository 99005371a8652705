use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::MovementKind;
use crate::instructions::bank_transfer::{pay_out, BankTransfer};
use crate::oracle::{read_bank_price_sides, OracleAccount, PriceSide};
use crate::positions;
use crate::state::{Bank, Group};

/// Borrows `amount` native tokens from this bank. Afterwards the account's init health must be
/// at least 0 at fresh prices: remaining accounts are `(bank, oracle)` for every active position
/// (including this one), in slot order. Refused while the group is paused (`GroupPaused`).
pub fn handler(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
    require!(amount > 0, MarginError::ZeroAmount);
    let group = ctx.accounts.group.load()?;
    require!(!group.is_paused(), MarginError::GroupPaused);
    require!(!group.is_reduce_only(), MarginError::GroupReduceOnly);

    let now = Clock::get()?.unix_timestamp;
    // State changes first, in a scope: the bank account is the vault's signing authority in the
    // transfer below, so its data must not be borrowed during the CPI.
    let bank = {
        let mut bank = ctx.accounts.bank.load_mut()?;
        bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
        let mut account = ctx.accounts.account.load_mut()?;
        require!(account.bankrupt == 0, MarginError::AccountBankrupt);
        let liquidity = bank.available_liquidity().map_err(|_| MarginError::MathOverflow)?;
        require_gte!(liquidity, amount, MarginError::InsufficientLiquidity);
        if bank.net_borrow_limit_enabled() {
            let price = net_borrow_price(&ctx, &group, &bank, now)?;
            bank.record_net_borrow(amount, price, now)?;
        }
        positions::borrow(&mut account, &mut bank, amount)?;
        // Borrows beyond u64 are beyond any limit.
        let total = bank.total_borrows_native().map_err(|_| MarginError::BorrowLimitExceeded)?;
        require_gte!(bank.config.borrow_limit_native, total, MarginError::BorrowLimitExceeded);
        *bank
    };

    pay_out(&ctx, &group, &bank, now, MovementKind::Borrow, amount)
}

/// The borrowed bank's init liability price, max(price + k·conf, ema + k·ema_conf), from its
/// oracle among the health accounts (the borrow's own position is one of them): what the net
/// borrow limit values the window's borrows at.
fn net_borrow_price(
    ctx: &Context<BankTransfer>,
    group: &Group,
    bank: &Bank,
    now: i64,
) -> Result<u128> {
    let oracle_info = ctx
        .remaining_accounts
        .iter()
        .skip(1)
        .step_by(2)
        .find(|a| *a.key == bank.oracle)
        .ok_or(MarginError::HealthAccountsMissing)?;
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let [price] = read_bank_price_sides(bank, group, oracle, now, [PriceSide::InitLiability])?;
    Ok(price)
}
