use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::BankConfigured;
use crate::state::{bank_change_needs_delay, Bank, BankConfig, Group};

/// The accounts of `configure_bank` and `queue_bank_config`.
#[derive(Accounts)]
pub struct ConfigureBank<'info> {
    #[account(has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub bank: AccountLoader<'info, Bank>,
    /// CHECK: validated as a price account of the configured kind and feed in the handler; it
    /// becomes the bank's pinned oracle.
    pub oracle: UncheckedAccount<'info>,
}

/// Replaces the bank's whole configuration (and pinned oracle) at once. In a live group only a
/// change that tightens new risk is accepted (`state::config_change`); any other must be queued
/// (`ConfigChangeMustBeQueued`), and a tightened init weight reaches withdrawals only after the
/// delay (`Bank::open_exit_window`). Refused while a change is queued. Interest is accrued
/// first, so the old rates apply up to now.
pub fn handler(ctx: Context<ConfigureBank>, config: BankConfig) -> Result<()> {
    config.validate()?;
    let group = ctx.accounts.group.load()?;
    let mut bank = ctx.accounts.bank.load_mut()?;
    require!(!bank.pending.is_queued(), MarginError::ConfigChangeAlreadyQueued);
    let oracle = ctx.accounts.oracle.key();
    if group.is_live() {
        // Only tightenings of the same oracle and oracle settings pass, so the oracle is not
        // read again: a dead feed must not stop an emergency tightening.
        require!(
            !bank_change_needs_delay(&bank.config, &bank.oracle, &config, &oracle),
            MarginError::ConfigChangeMustBeQueued
        );
        let (old, now) = (bank.config, Clock::get()?.unix_timestamp);
        bank.open_exit_window(&old, &config, now, group.config_delay_secs);
    } else {
        config.validate_oracle(&group, &ctx.accounts.oracle)?;
    }
    apply_config(&mut bank, ctx.accounts.bank.key(), &config, oracle)
}

/// Accrues interest at the old rates, then replaces the configuration and pinned oracle.
pub fn apply_config(
    bank: &mut Bank,
    key: Pubkey,
    config: &BankConfig,
    oracle: Pubkey,
) -> Result<()> {
    bank.accrue_interest(Clock::get()?.unix_timestamp).map_err(|_| MarginError::MathOverflow)?;
    config.apply(bank, oracle);
    emit!(BankConfigured { group: bank.group, bank: key, oracle });
    Ok(())
}
