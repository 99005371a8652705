use anchor_lang::prelude::*;

use crate::events::AdminTransferProposed;
use crate::ConfigureGroup;

/// First step of an admin transfer: the admin names its successor, which takes over only when
/// it signs `accept_admin` (so a mistyped key cannot lock the group). Any signer may be named,
/// a multisig vault PDA included. `Pubkey::default()` withdraws a proposal; a new proposal
/// replaces the last.
pub fn handler(ctx: Context<ConfigureGroup>, new_admin: Pubkey) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    group.pending_admin = new_admin;
    emit!(AdminTransferProposed {
        group: ctx.accounts.group.key(),
        admin: group.admin,
        proposed_admin: new_admin,
    });
    Ok(())
}
