use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::health_accounts::{compute_account_health, decode_bank, Breakdown, LoadedBank};
use crate::state::{Group, MarginAccount};

#[derive(Accounts)]
pub struct HealthView<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(has_one = group @ MarginError::WrongGroup)]
    pub account: AccountLoader<'info, MarginAccount>,
}

/// One position's part of the health view.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct PositionHealthView {
    pub bank_index: u16,
    pub is_liability: bool,
    /// Native tokens (deposits rounded down, borrows up).
    pub native: u64,
    /// Value at the conservative price, quote native units (micro-USD).
    pub value: u64,
    pub init: i128,
    pub maint: i128,
}

/// What the `health` instruction returns (as return data).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct AccountHealth {
    pub init: i128,
    pub maint: i128,
    pub liquidatable: bool,
    pub positions: Vec<PositionHealthView>,
}

/// Read-only: the account's init and maint health and per-position values at current prices,
/// for frontends and keepers to simulate. Remaining accounts: `(bank, oracle)` per active
/// position, in slot order. Uses the banks' stored indices (interest since the last touch of a
/// bank is not included).
pub fn handler(ctx: Context<HealthView>) -> Result<AccountHealth> {
    view(ctx, false)
}

/// The `health` view as it will be once every queued change applies: the group's and those of
/// the banks passed. A bank with a queued re-pin is passed with its queued oracle.
pub fn after_pending_changes(ctx: Context<HealthView>) -> Result<AccountHealth> {
    view(ctx, true)
}

fn view(ctx: Context<HealthView>, pending_applied: bool) -> Result<AccountHealth> {
    let stored = ctx.accounts.group.load()?;
    let account = ctx.accounts.account.load()?;
    // With the queued changes: the group copied and previewed, and each bank passed, decoded
    // and previewed here, handed over as held, so the health accounts price it as it will be.
    let preview;
    let group: &Group = if pending_applied {
        preview = stored.with_pending_change();
        &preview
    } else {
        &stored
    };
    let mut previews = Vec::new();
    if pending_applied {
        for bank_info in ctx.remaining_accounts.iter().step_by(2) {
            let data = bank_info.try_borrow_data()?;
            let bank = decode_bank(bank_info.owner, &data)?.with_pending_change();
            previews.push((bank_info.key(), bank));
        }
    }
    let held: Vec<LoadedBank> =
        previews.iter().map(|(key, bank)| LoadedBank { key: *key, bank }).collect();
    let report = compute_account_health(
        &account,
        &ctx.accounts.group.key(),
        group,
        ctx.remaining_accounts,
        Clock::get()?.unix_timestamp,
        &held,
        Breakdown::PerPosition,
    )?;
    Ok(AccountHealth {
        init: report.health.init,
        maint: report.health.maint,
        liquidatable: report.health.is_liquidatable(),
        positions: report
            .positions
            .iter()
            .map(|p| PositionHealthView {
                bank_index: p.bank_index,
                is_liability: p.health.is_liability,
                native: p.health.native,
                value: p.health.value,
                init: p.health.init,
                maint: p.health.maint,
            })
            .collect(),
    })
}
