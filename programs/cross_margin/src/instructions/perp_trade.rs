//! Accounts shared by `place_perp_order`, `pool_deposit` and `pool_withdraw` (the owner signs),
//! and the steps every perp instruction starts with: the oracle price and the pool's deposit.

use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::health_accounts::{compute_account_health, Breakdown, Held, LoadedBank, LoadedPerp};
use crate::oracle::{read_price_sides, OracleAccount, PriceSide};
use crate::perp::actions::{touch_market, Touch};
use crate::state::{Bank, Group, MarginAccount, PerpMarket};

#[derive(Accounts)]
pub struct PerpTrade<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = owner @ MarginError::NotAccountOwner,
    )]
    pub account: AccountLoader<'info, MarginAccount>,
    pub owner: Signer<'info>,
    #[account(
        mut,
        has_one = group @ MarginError::WrongGroup,
        has_one = oracle @ MarginError::OracleAccountMismatch,
        has_one = settle_bank @ MarginError::InvalidSettleBank,
    )]
    pub perp_market: AccountLoader<'info, PerpMarket>,
    /// CHECK: must be `perp_market.oracle` (checked above); read and validated in the handler.
    pub oracle: UncheckedAccount<'info>,
    #[account(mut)]
    pub settle_bank: AccountLoader<'info, Bank>,
}

/// The start of every perp instruction: the oracle price (fresh and confident), the settle bank
/// accrued to now, the pool's deposit, and the market's funding accrued to now at them. Returns
/// the time and the price and pool the instruction's action uses.
pub fn touch(
    market: &mut PerpMarket,
    group: &Group,
    oracle: &AccountInfo,
    settle_bank: &mut Bank,
) -> Result<(i64, Touch)> {
    let now = Clock::get()?.unix_timestamp;
    let price = perp_price(market, group, oracle, now)?;
    Ok((now, touch_market(market, settle_bank, now, price)?))
}

/// The init health `place_perp_order` and `pool_deposit` hand to their action (which refuses it
/// below zero): the account's, with the instruction's settle bank and market as they are now
/// (remaining accounts: the health accounts).
pub fn init_health(
    ctx: &Context<PerpTrade>,
    group: &Group,
    account: &MarginAccount,
    (settle_bank, market): (&Bank, &PerpMarket),
    now: i64,
) -> Result<i128> {
    let report = compute_account_health(
        account,
        &ctx.accounts.group.key(),
        group,
        ctx.remaining_accounts,
        now,
        Held {
            banks: &[LoadedBank { key: ctx.accounts.settle_bank.key(), bank: settle_bank }],
            perps: &[LoadedPerp { key: ctx.accounts.perp_market.key(), market }],
        },
        Breakdown::Totals,
    )?;
    Ok(report.health.init)
}

/// The market's oracle price (mid), fresh and confident: a stale price fills, settles and
/// values the pool at nothing (it is exploitable both ways).
pub fn perp_price(
    market: &PerpMarket,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
) -> Result<u128> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let [price] = read_price_sides(&market.pinned_oracle(), group, oracle, now, [PriceSide::Mid])?;
    Ok(price)
}
