use anchor_lang::prelude::*;

use crate::constants::MAX_LIQUIDATION_END_BUFFER_BPS;
use crate::error::MarginError;
use crate::events::GroupConfigured;
use crate::state::Group;

#[derive(Accounts)]
pub struct ConfigureGroup<'info> {
    #[account(mut, has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
}

/// What `configure_group` changes: each `None` leaves that setting as it is (`Default` changes
/// nothing).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupConfigOptions {
    pub paused: Option<bool>,
    pub reduce_only: Option<bool>,
    pub pyth_receiver_program: Option<Pubkey>,
    pub pyth_legacy_program: Option<Pubkey>,
    /// A liquidation continues until maint health >= this fraction (bps) of the account's
    /// maint-weighted liabilities.
    pub liquidation_end_buffer_bps: Option<u32>,
    /// Deposits worth less than this (quote native units) count as exhausted.
    pub bankruptcy_dust_quote: Option<u64>,
}

/// Flips the global switches, sets the liquidation end target and the bankruptcy dust
/// threshold, and, when Pyth moves, the trusted oracle program ids.
/// `None` leaves a setting as it is.
pub fn handler(ctx: Context<ConfigureGroup>, options: GroupConfigOptions) -> Result<()> {
    let GroupConfigOptions {
        paused,
        reduce_only,
        pyth_receiver_program,
        pyth_legacy_program,
        liquidation_end_buffer_bps,
        bankruptcy_dust_quote,
    } = options;
    let mut group = ctx.accounts.group.load_mut()?;
    if let Some(buffer) = liquidation_end_buffer_bps {
        // The target must lie above zero, or liquidation would nibble at the boundary forever.
        require!(
            buffer > 0 && buffer <= MAX_LIQUIDATION_END_BUFFER_BPS,
            MarginError::InvalidLiquidationConfig
        );
        group.liquidation_end_buffer_bps = buffer;
    }
    if let Some(dust) = bankruptcy_dust_quote {
        require!(dust > 0, MarginError::InvalidBankruptcyDust);
        group.bankruptcy_dust_quote = dust;
    }
    if let Some(paused) = paused {
        group.paused = paused as u8;
    }
    if let Some(reduce_only) = reduce_only {
        group.reduce_only = reduce_only as u8;
    }
    let receiver = pyth_receiver_program.unwrap_or(group.pyth_receiver_program);
    let legacy = pyth_legacy_program.unwrap_or(group.pyth_legacy_program);
    crate::instructions::create_group::validate_oracle_programs(&receiver, &legacy)?;
    group.pyth_receiver_program = receiver;
    group.pyth_legacy_program = legacy;

    emit!(GroupConfigured {
        group: ctx.accounts.group.key(),
        paused: group.is_paused(),
        reduce_only: group.is_reduce_only(),
        pyth_receiver_program: receiver,
        pyth_legacy_program: legacy,
        liquidation_end_buffer_bps: group.liquidation_end_buffer_bps,
        bankruptcy_dust_quote: group.bankruptcy_dust_quote,
    });
    Ok(())
}
