use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::GroupConfigChangeQueued;
use crate::instructions::configure_group::apply_options;
use crate::instructions::queue_bank_config::apply_after;
use crate::state::GroupConfigOptions;
use crate::ConfigureGroup;

/// Queues a group change of the settings that can wait (oracle program ids, liquidation end
/// target, dust threshold, delay; one change at a time): from now + the delay anyone may apply
/// it with `apply_group_config`. Pause, reduce-only and the emergency admin cannot be queued.
pub fn handler(ctx: Context<ConfigureGroup>, options: GroupConfigOptions) -> Result<()> {
    require!(!options.has_immediate_only_settings(), MarginError::NotATimelockedSetting);
    require!(options != GroupConfigOptions::default(), MarginError::EmptyConfigChange);
    let mut group = ctx.accounts.group.load_mut()?;
    require!(!group.pending.is_queued(), MarginError::ConfigChangeAlreadyQueued);
    // Validated now on a copy, and again when applied.
    let now = Clock::get()?.unix_timestamp;
    apply_options(&mut { *group }, &options, now)?;
    let change = options.to_pending(apply_after(now, group.config_delay_secs)?);
    group.pending = change;
    emit!(GroupConfigChangeQueued { group: ctx.accounts.group.key(), change });
    Ok(())
}
