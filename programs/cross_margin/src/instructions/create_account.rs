use anchor_lang::prelude::*;

use crate::constants::{ACCOUNT_SEED, ACCOUNT_VERSION};
use crate::events::AccountCreated;
use crate::state::{Group, MarginAccount};

#[derive(Accounts)]
#[instruction(account_num: u32)]
pub struct CreateAccount<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(
        init,
        payer = payer,
        space = 8 + MarginAccount::SIZE,
        seeds = [ACCOUNT_SEED, group.key().as_ref(), owner.key().as_ref(), &account_num.to_le_bytes()],
        bump,
    )]
    pub account: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    pub system_program: Program<'info, System>,
}

/// Creates an empty margin account. Works while the group is paused (an account adds no risk, and
/// a liquidator may need a new one).
pub fn handler(ctx: Context<CreateAccount>, account_num: u32) -> Result<()> {
    let mut account = ctx.accounts.account.load_init()?;
    account.group = ctx.accounts.group.key();
    account.owner = ctx.accounts.owner.key();
    account.account_num = account_num;
    account.version = ACCOUNT_VERSION;
    account.bump = ctx.bumps.account;
    emit!(AccountCreated {
        group: account.group,
        account: ctx.accounts.account.key(),
        owner: account.owner,
        account_num,
    });
    Ok(())
}
