use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::BankConfigChangeQueued;
use crate::state::{Bank, BankConfig, PendingBankChange};
use crate::ConfigureBank;

/// Queues a bank configuration change (any change; one at a time per bank): from now + the
/// group's delay anyone may apply it with `apply_bank_config`. Validated now and again when
/// applied.
pub fn handler(ctx: Context<ConfigureBank>, config: BankConfig) -> Result<()> {
    config.validate()?;
    let group = ctx.accounts.group.load()?;
    // An oracle of the program ids a queued group change moves to is accepted too, so that
    // re-pins can mature with that change instead of a delay after it.
    config.validate_oracle(&group, &ctx.accounts.oracle).or_else(|error| {
        match group.pending.is_queued() {
            true => config.validate_oracle(&group.with_pending_change(), &ctx.accounts.oracle),
            false => Err(error),
        }
    })?;
    let mut bank = ctx.accounts.bank.load_mut()?;
    require!(!bank.pending.is_queued(), MarginError::ConfigChangeAlreadyQueued);
    let (key, oracle) = (ctx.accounts.bank.key(), ctx.accounts.oracle.key());
    let now = Clock::get()?.unix_timestamp;
    queue(&mut bank, key, &config, oracle, now, group.config_delay_secs)
}

/// Stores `config` pinned to `oracle` as the bank's queued change, due `delay_secs` after
/// `now`, and emits it: the end of `queue_bank_config`, and of `add_bank` in a live group.
pub fn queue(
    bank: &mut Bank,
    key: Pubkey,
    config: &BankConfig,
    oracle: Pubkey,
    now: i64,
    delay_secs: u32,
) -> Result<()> {
    let apply_after_ts = apply_after(now, delay_secs)?;
    let config = BankConfig { padding: [0; 3], ..*config };
    bank.pending = PendingBankChange { apply_after_ts, oracle, config };
    emit!(BankConfigChangeQueued { group: bank.group, bank: key, oracle, config, apply_after_ts });
    Ok(())
}

/// When a change queued at `now` may be applied: `now + delay`, and never 0 (which means
/// nothing queued).
pub fn apply_after(now: i64, delay_secs: u32) -> Result<i64> {
    let ts = now.checked_add(delay_secs as i64).ok_or(MarginError::MathOverflow)?;
    Ok(ts.max(1))
}
