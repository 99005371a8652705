use anchor_lang::prelude::*;

use crate::constants::{
    MAX_BANKRUPTCY_DUST_QUOTE, MAX_CONFIG_DELAY_SECS, MAX_LIQUIDATION_END_BUFFER_BPS,
    MIN_CONFIG_DELAY_SECS,
};
use crate::error::MarginError;
use crate::events::GroupConfigured;
use crate::state::{Group, GroupConfigOptions};

/// The accounts of the admin's group instructions: `configure_group`, `queue_group_config`,
/// `cancel_group_config` and `propose_admin`.
#[derive(Accounts)]
pub struct ConfigureGroup<'info> {
    #[account(mut, has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
}

/// Applies `options` at once. In a live group a change that can hurt positions (oracle program
/// ids, liquidation end target, dust threshold, a lower delay) must be queued instead
/// (`ConfigChangeMustBeQueued`).
pub fn handler(ctx: Context<ConfigureGroup>, options: GroupConfigOptions) -> Result<()> {
    let mut group = ctx.accounts.group.load_mut()?;
    require!(!options.needs_delay(&group), MarginError::ConfigChangeMustBeQueued);
    apply_options(&mut group, &options, Clock::get()?.unix_timestamp)?;
    emit_configured(ctx.accounts.group.key(), &group);
    Ok(())
}

/// Validates and applies every `Some` setting at unix time `now` (shared by `configure_group`,
/// the queue's preview and `apply_group_config`). The first non-zero delay makes the group live
/// and records when.
pub fn apply_options(group: &mut Group, options: &GroupConfigOptions, now: i64) -> Result<()> {
    if let Some(buffer) = options.liquidation_end_buffer_bps {
        // The target must lie above zero, or liquidation would nibble at the boundary forever.
        require!(
            buffer > 0 && buffer <= MAX_LIQUIDATION_END_BUFFER_BPS,
            MarginError::InvalidLiquidationConfig
        );
    }
    if let Some(dust) = options.bankruptcy_dust_quote {
        require!(dust > 0 && dust <= MAX_BANKRUPTCY_DUST_QUOTE, MarginError::InvalidBankruptcyDust);
    }
    if let Some(delay) = options.config_delay_secs {
        require!(
            (MIN_CONFIG_DELAY_SECS..=MAX_CONFIG_DELAY_SECS).contains(&delay),
            MarginError::InvalidConfigDelay
        );
        if !group.is_live() {
            group.live_since_ts = now;
        }
    }
    if options.paused == Some(false) && group.is_paused() {
        group.unpaused_ts = now;
    }
    let receiver = options.pyth_receiver_program.unwrap_or(group.pyth_receiver_program);
    let legacy = options.pyth_legacy_program.unwrap_or(group.pyth_legacy_program);
    crate::instructions::create_group::validate_oracle_programs(&receiver, &legacy)?;
    options.write_to(group);
    Ok(())
}

/// The group's settings after a change.
pub fn emit_configured(key: Pubkey, group: &Group) {
    emit!(GroupConfigured {
        group: key,
        paused: group.is_paused(),
        reduce_only: group.is_reduce_only(),
        pyth_receiver_program: group.pyth_receiver_program,
        pyth_legacy_program: group.pyth_legacy_program,
        liquidation_end_buffer_bps: group.liquidation_end_buffer_bps,
        bankruptcy_dust_quote: group.bankruptcy_dust_quote,
        config_delay_secs: group.config_delay_secs,
        emergency_admin: group.emergency_admin,
    });
}
