use anchor_lang::prelude::*;

use crate::constants::{
    DEFAULT_BANKRUPTCY_DUST_QUOTE, DEFAULT_LIQUIDATION_END_BUFFER_BPS, GROUP_SEED, GROUP_VERSION,
};
use crate::error::MarginError;
use crate::events::GroupCreated;
use crate::state::Group;

#[derive(Accounts)]
#[instruction(group_num: u32)]
pub struct CreateGroup<'info> {
    #[account(
        init,
        payer = payer,
        space = 8 + Group::SIZE,
        seeds = [GROUP_SEED, admin.key().as_ref(), &group_num.to_le_bytes()],
        bump,
    )]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    pub system_program: Program<'info, System>,
}

pub fn handler(
    ctx: Context<CreateGroup>,
    group_num: u32,
    pyth_receiver_program: Pubkey,
    pyth_legacy_program: Pubkey,
) -> Result<()> {
    require_keys_neq!(
        pyth_receiver_program,
        Pubkey::default(),
        MarginError::OracleProgramIdIsDefault
    );
    require_keys_neq!(
        pyth_legacy_program,
        Pubkey::default(),
        MarginError::OracleProgramIdIsDefault
    );
    require_keys_neq!(
        pyth_receiver_program,
        pyth_legacy_program,
        MarginError::OracleProgramIdsNotDistinct
    );

    let mut group = ctx.accounts.group.load_init()?;
    group.admin = ctx.accounts.admin.key();
    group.pyth_receiver_program = pyth_receiver_program;
    group.pyth_legacy_program = pyth_legacy_program;
    group.group_num = group_num;
    group.bank_count = 0;
    group.version = GROUP_VERSION;
    group.bump = ctx.bumps.group;
    group.liquidation_end_buffer_bps = DEFAULT_LIQUIDATION_END_BUFFER_BPS;
    group.bankruptcy_dust_quote = DEFAULT_BANKRUPTCY_DUST_QUOTE;

    emit!(GroupCreated {
        group: ctx.accounts.group.key(),
        admin: group.admin,
        group_num,
        pyth_receiver_program,
        pyth_legacy_program,
    });
    Ok(())
}

/// Both ids set, and different (a price account must not be readable as both formats).
pub fn validate_oracle_programs(receiver: &Pubkey, legacy: &Pubkey) -> Result<()> {
    require_keys_neq!(*receiver, Pubkey::default(), MarginError::OracleProgramIdIsDefault);
    require_keys_neq!(*legacy, Pubkey::default(), MarginError::OracleProgramIdIsDefault);
    require_keys_neq!(*receiver, *legacy, MarginError::OracleProgramIdsNotDistinct);
    Ok(())
}
