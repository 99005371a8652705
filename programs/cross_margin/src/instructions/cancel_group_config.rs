use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::GroupConfigChangeCancelled;
use crate::state::PendingGroupChange;
use crate::ConfigureGroup;

/// Withdraws the group's queued change (the admin, at any time before it is applied).
pub fn handler(ctx: Context<ConfigureGroup>) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    require!(group.pending.is_queued(), MarginError::NoConfigChangeQueued);
    group.pending = PendingGroupChange::default();
    emit!(GroupConfigChangeCancelled { group: ctx.accounts.group.key() });
    Ok(())
}
