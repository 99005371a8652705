use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::health::{PriceShock, Shocks};
use crate::health_accounts::{
    compute_account_health, decode_bank, decode_perp_market, Breakdown, LoadedBank, LoadedPerp,
};
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

/// One perp slot's part of the health view (funding accrued in its market applied).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct PerpPositionView {
    pub market_index: u16,
    /// Signed lots (+ long).
    pub base_lots: i64,
    /// Everything paid (−) and received (+) since last settled, settle native units.
    pub quote_native: i64,
    pub lp_shares: u64,
    /// Unrealised PnL at the oracle price, settle native units.
    pub pnl: i128,
    /// Contributions to init and maint health in settle native units, before they join the
    /// settle bank's balance (the totals above include them that way).
    pub init: i128,
    pub maint: i128,
}

/// Serialized sizes (Borsh) of the view's parts: what must fit the runtime's 1 KiB of return data.
const VIEW_HEADER_BYTES: usize = 16 + 16 + 1 + 4 + 4;
const POSITION_VIEW_BYTES: usize = 2 + 1 + 8 + 8 + 16 + 16;
const PERP_VIEW_BYTES: usize = 2 + 8 + 8 + 8 + 16 + 16 + 16;
/// The runtime's limit on return data (`MAX_RETURN_DATA`).
const MAX_RETURN_DATA: usize = 1024;

/// Whether the view of `positions` token and `perps` perp positions fits the return data: 16
/// token positions with up to 2 perp positions do, 7 with all 8 do; 16 with 3, or 8 with 8, do not.
pub fn view_fits(positions: usize, perps: usize) -> bool {
    VIEW_HEADER_BYTES + POSITION_VIEW_BYTES * positions + PERP_VIEW_BYTES * perps <= MAX_RETURN_DATA
}

/// What the `health` instruction returns (as return data).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct AccountHealth {
    pub init: i128,
    pub maint: i128,
    pub liquidatable: bool,
    pub positions: Vec<PositionHealthView>,
    pub perp_positions: Vec<PerpPositionView>,
}

/// Read-only: the account's init and maint health and per-position values at current prices,
/// for frontends and keepers to simulate. Remaining accounts: the health accounts
/// (`health_accounts`: token pairs, the settle bank's pair if needed, perp pairs). Uses the banks' stored indices (interest since the last touch of a
/// bank is not included).
pub fn handler(ctx: Context<HealthView>) -> Result<AccountHealth> {
    view(ctx, false, Shocks::default())
}

/// The `health` view as it will be once every queued change applies: the group's and those of
/// the banks and perp markets passed. A bank with a queued re-pin is passed with its queued oracle.
pub fn after_pending_changes(ctx: Context<HealthView>) -> Result<AccountHealth> {
    view(ctx, true, Shocks::default())
}

/// The `health` view with the prices of some banks and perp markets moved (`crate::health::shock`
/// has the rule): "what move liquidates me", computed by the program's own health code. Invalid
/// shocks are refused (`InvalidPriceShock`). Read-only, as `health`.
pub fn under_shock(
    ctx: Context<HealthView>,
    token_shocks: Vec<PriceShock>,
    perp_shocks: Vec<PriceShock>,
) -> Result<AccountHealth> {
    let shocks = Shocks { banks: &token_shocks, perps: &perp_shocks };
    shocks.validate()?;
    view(ctx, false, shocks)
}

fn view(ctx: Context<HealthView>, pending_applied: bool, shocks: Shocks) -> Result<AccountHealth> {
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
    let (mut previews, mut perp_previews) = (Vec::new(), Vec::new());
    if pending_applied {
        // The perp tail's markets are decoded as perp markets, every other pair as a bank.
        let perp_pairs = account.active_perp_count();
        let pairs = ctx.remaining_accounts.len() / 2;
        for (pair, info) in ctx.remaining_accounts.iter().step_by(2).enumerate() {
            let data = info.try_borrow_data()?;
            if pair + perp_pairs >= pairs {
                let market = decode_perp_market(info.owner, &data)?.with_pending_change();
                perp_previews.push((info.key(), market));
            } else {
                previews.push((info.key(), decode_bank(info.owner, &data)?.with_pending_change()));
            }
        }
    }
    let held: Vec<LoadedBank> =
        previews.iter().map(|(key, bank)| LoadedBank { key: *key, bank }).collect();
    let held_perps: Vec<LoadedPerp> =
        perp_previews.iter().map(|(key, market)| LoadedPerp { key: *key, market }).collect();
    let report = compute_account_health(
        &account,
        &ctx.accounts.group.key(),
        group,
        ctx.remaining_accounts,
        Clock::get()?.unix_timestamp,
        crate::health_accounts::Held { banks: &held, perps: &held_perps, shocks },
        Breakdown::PerPosition,
    )?;
    // Refused by name, not by the runtime's return-data limit.
    require!(
        view_fits(report.positions.len(), report.perps.len()),
        MarginError::HealthViewTooLarge
    );
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
        perp_positions: report
            .perps
            .iter()
            .map(|p| PerpPositionView {
                market_index: p.market_index,
                base_lots: p.base_lots,
                quote_native: p.quote_native,
                lp_shares: p.lp_shares,
                pnl: p.pnl,
                init: p.init,
                maint: p.maint,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(positions: usize, perps: usize) -> AccountHealth {
        let position = PositionHealthView {
            bank_index: 0,
            is_liability: false,
            native: 0,
            value: 0,
            init: 0,
            maint: 0,
        };
        let perp = PerpPositionView {
            market_index: 0,
            base_lots: 0,
            quote_native: 0,
            lp_shares: 0,
            pnl: 0,
            init: 0,
            maint: 0,
        };
        AccountHealth {
            init: 0,
            maint: 0,
            liquidatable: false,
            positions: vec![position; positions],
            perp_positions: vec![perp; perps],
        }
    }

    #[test]
    fn the_size_rule_is_the_serialized_size() {
        for (positions, perps) in [(0, 0), (1, 0), (0, 1), (16, 3), (16, 4), (16, 8), (8, 8)] {
            let mut bytes = Vec::new();
            view(positions, perps).serialize(&mut bytes).unwrap();
            let bytes = bytes.len();
            assert_eq!(
                view_fits(positions, perps),
                bytes <= MAX_RETURN_DATA,
                "{positions}+{perps}"
            );
        }
        assert!(view_fits(16, 2) && !view_fits(16, 3) && view_fits(7, 8) && !view_fits(8, 8));
    }
}
