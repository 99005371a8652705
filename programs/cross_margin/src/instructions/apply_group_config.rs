use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::GroupConfigChangeApplied;
use crate::instructions::configure_group::{apply_options, emit_configured};
use crate::state::{Group, GroupConfigOptions, PendingGroupChange};

#[derive(Accounts)]
pub struct ApplyGroupConfig<'info> {
    #[account(mut)]
    pub group: AccountLoader<'info, Group>,
}

/// Applies the group's queued change once its delay has passed. Permissionless.
pub fn handler(ctx: Context<ApplyGroupConfig>) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    let pending = group.pending;
    require!(pending.is_queued(), MarginError::NoConfigChangeQueued);
    require!(
        Clock::get()?.unix_timestamp >= pending.apply_after_ts,
        MarginError::ConfigChangeNotReady
    );
    apply_options(&mut group, &GroupConfigOptions::from_pending(&pending))?;
    group.pending = PendingGroupChange::default();
    let key = ctx.accounts.group.key();
    emit!(GroupConfigChangeApplied { group: key });
    emit_configured(key, &group);
    Ok(())
}
