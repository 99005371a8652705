//! Accounts shared by `deposit`, `repay`, `withdraw` and `borrow`: one margin account, one
//! bank, and the owner's token account for the bank's mint. Withdraw and borrow also take the
//! health accounts as remaining accounts.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{TokenAccount, TokenInterface};

use crate::constants::HEALTH_CHECK_DEFERRED;
use crate::error::MarginError;
use crate::events::{MovementKind, TokenMovement};
use crate::state::{Bank, Group, MarginAccount};

#[derive(Accounts)]
pub struct BankTransfer<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = owner @ MarginError::NotAccountOwner,
    )]
    pub account: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = vault @ MarginError::WrongVault,
        has_one = mint @ MarginError::WrongMint,
        has_one = token_program @ MarginError::WrongTokenProgram,
    )]
    pub bank: AccountLoader<'info, Bank>,
    /// CHECK: must be `bank.vault` (checked above); the token program checks the rest.
    #[account(mut)]
    pub vault: UncheckedAccount<'info>,
    /// CHECK: must be `bank.mint` (checked above).
    pub mint: UncheckedAccount<'info>,
    /// The owner's token account: source for deposit/repay, destination for withdraw/borrow.
    #[account(mut, constraint = user_token.mint == mint.key() @ MarginError::WrongMint)]
    pub user_token: Box<InterfaceAccount<'info, TokenAccount>>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl<'info> BankTransfer<'info> {
    /// Deposit and repay check the wallet first, before any arithmetic on the amount.
    pub fn require_wallet_balance(&self, amount: u64) -> Result<()> {
        require_gte!(self.user_token.amount, amount, MarginError::InsufficientTokenBalance);
        Ok(())
    }

    pub fn transfer_in(&self, amount: u64, decimals: u8) -> Result<()> {
        crate::token::transfer_to_vault(
            &self.token_program.to_account_info(),
            &self.user_token.to_account_info(),
            &self.vault.to_account_info(),
            &self.mint.to_account_info(),
            &self.owner.to_account_info(),
            amount,
            decimals,
        )
    }

    /// The `TokenMovement` event of an instruction on this bank.
    pub fn emit_movement(
        &self,
        bank: &Bank,
        kind: MovementKind,
        amount: u64,
        repaid: u64,
        init_health_after: i128,
    ) {
        emit!(TokenMovement {
            group: bank.group,
            account: self.account.key(),
            bank: self.bank.key(),
            kind,
            amount,
            repaid,
            deposit_index: bank.deposit_index(),
            borrow_index: bank.borrow_index(),
            init_health_after,
        });
    }

    pub fn transfer_out(&self, bank: &Bank, amount: u64) -> Result<()> {
        crate::token::transfer_from_vault(
            bank,
            &self.bank.to_account_info(),
            &self.token_program.to_account_info(),
            &self.vault.to_account_info(),
            &self.user_token.to_account_info(),
            &self.mint.to_account_info(),
            amount,
        )
    }
}

/// The end of withdraw and borrow: `amount` leaves the vault, then the account's init health
/// must be >= 0 ([`require_init_health`]), and the movement is emitted.
pub fn pay_out(
    ctx: &Context<BankTransfer>,
    group: &Group,
    bank: &Bank,
    now: i64,
    kind: MovementKind,
    amount: u64,
) -> Result<()> {
    ctx.accounts.transfer_out(bank, amount)?;
    let account = ctx.accounts.account.load()?;
    let init_health_after = require_init_health(ctx, group, &account, bank, now, kind)?;
    ctx.accounts.emit_movement(bank, kind, amount, 0, init_health_after);
    Ok(())
}

/// The init-health gate of withdraw and borrow: returns init health, or fails if it is < 0.
/// An account without borrows or perp positions cannot have negative health, so it needs no
/// prices (a stale oracle then does not block withdrawing collateral). Inside a flash loan the
/// check moves to `flash_loan_end` ([`HEALTH_CHECK_DEFERRED`]).
pub fn require_init_health(
    ctx: &Context<BankTransfer>,
    group: &Group,
    account: &MarginAccount,
    bank: &Bank,
    now: i64,
    kind: MovementKind,
) -> Result<i128> {
    if account.is_in_flash_loan() {
        return Ok(HEALTH_CHECK_DEFERRED);
    }
    if !account.has_risk() {
        return Ok(0);
    }
    let report = crate::health_accounts::compute_account_health(
        account,
        &ctx.accounts.group.key(),
        group,
        ctx.remaining_accounts,
        now,
        crate::health_accounts::Held {
            banks: &[crate::health_accounts::LoadedBank { key: ctx.accounts.bank.key(), bank }],
            perps: &[],
            shocks: Default::default(),
        },
        match kind {
            MovementKind::Withdraw => crate::health_accounts::Breakdown::Withdrawal,
            _ => crate::health_accounts::Breakdown::Totals,
        },
    )?;
    require_gte!(report.health.init, 0, MarginError::InitHealthNegative);
    Ok(report.health.init)
}
