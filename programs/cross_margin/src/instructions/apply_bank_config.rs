use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::BankConfigChangeApplied;
use crate::instructions::configure_bank::apply_config;
use crate::state::{Bank, Group};

#[derive(Accounts)]
pub struct ApplyBankConfig<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub bank: AccountLoader<'info, Bank>,
    /// CHECK: must be the queued change's oracle; validated as a price account in the handler.
    pub oracle: UncheckedAccount<'info>,
}

/// Applies the bank's queued change once it is due (`Group::config_change_due`: its time, and in
/// a live group at least the delay after the group went live). Permissionless. The change is
/// validated again (the group may have gone live, or its oracle programs moved, since).
pub fn handler(ctx: Context<ApplyBankConfig>) -> Result<()> {
    let group = ctx.accounts.group.load()?;
    let mut bank = ctx.accounts.bank.load_mut()?;
    let pending = bank.pending;
    group.config_change_ready(pending.apply_after_ts, Clock::get()?.unix_timestamp)?;
    require_keys_eq!(ctx.accounts.oracle.key(), pending.oracle, MarginError::OracleAccountMismatch);
    pending.config.validate()?;
    pending.config.validate_oracle(&group, &ctx.accounts.oracle)?;
    bank.pending = bytemuck::Zeroable::zeroed();
    let key = ctx.accounts.bank.key();
    emit!(BankConfigChangeApplied { group: bank.group, bank: key });
    apply_config(&mut bank, key, &pending.config, pending.oracle)
}
