use anchor_lang::prelude::*;

use crate::events::GroupConfigChangeApplied;
use crate::instructions::configure_group::{apply_options, emit_configured};
use crate::state::{Group, GroupConfigOptions, PendingGroupChange};

#[derive(Accounts)]
pub struct ApplyGroupConfig<'info> {
    #[account(mut)]
    pub group: AccountLoader<'info, Group>,
}

/// Applies the group's queued change once it is due (`Group::config_change_due`).
/// Permissionless.
pub fn handler(ctx: Context<ApplyGroupConfig>) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    let pending = group.pending;
    let now = Clock::get()?.unix_timestamp;
    group.config_change_ready(pending.apply_after_ts, now)?;
    apply_options(&mut group, &GroupConfigOptions::from_pending(&pending), now)?;
    group.pending = PendingGroupChange::default();
    let key = ctx.accounts.group.key();
    emit!(GroupConfigChangeApplied { group: key });
    emit_configured(key, &group);
    Ok(())
}
