use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::instructions::configure_group::emit_configured;
use crate::state::Group;

#[derive(Accounts)]
pub struct Halt<'info> {
    #[account(mut)]
    pub group: AccountLoader<'info, Group>,
    /// The admin or the emergency admin.
    pub authority: Signer<'info>,
}

/// Turns on pause and/or reduce-only (`false` leaves a switch as it is): the one power of the
/// emergency admin, so the main admin key can stay in cold storage. Only the admin lifts them
/// (`configure_group`).
pub fn handler(ctx: Context<Halt>, pause: bool, reduce_only: bool) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    let signer = ctx.accounts.authority.key();
    let emergency = group.emergency_admin != Pubkey::default() && signer == group.emergency_admin;
    require!(signer == group.admin || emergency, MarginError::NotGroupAdminOrEmergency);
    require!(pause || reduce_only, MarginError::NothingToHalt);
    if pause {
        group.paused = 1;
    }
    if reduce_only {
        group.reduce_only = 1;
    }
    emit_configured(ctx.accounts.group.key(), &group);
    Ok(())
}
