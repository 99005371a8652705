use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::events::AdminTransferred;
use crate::state::Group;

#[derive(Accounts)]
pub struct AcceptAdmin<'info> {
    #[account(mut)]
    pub group: AccountLoader<'info, Group>,
    /// The proposed admin (a wallet, or a multisig vault PDA signing through CPI).
    pub new_admin: Signer<'info>,
}

/// Second step of an admin transfer: the proposed admin signs and becomes the admin. The old
/// admin loses every power at once. The group's address does not change (its seeds name the
/// admin that created it).
pub fn handler(ctx: Context<AcceptAdmin>) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    require_keys_neq!(group.pending_admin, Pubkey::default(), MarginError::NoAdminTransferPending);
    let new_admin = ctx.accounts.new_admin.key();
    require_keys_eq!(new_admin, group.pending_admin, MarginError::NotPendingAdmin);
    let previous_admin = group.admin;
    group.admin = new_admin;
    group.pending_admin = Pubkey::default();
    emit!(AdminTransferred { group: ctx.accounts.group.key(), previous_admin, new_admin });
    Ok(())
}
