//! Accounts shared by `place_perp_order`, `pool_deposit` and `pool_withdraw` (the owner signs),
//! and the steps every perp instruction starts with: the oracle price and the pool's deposit.

use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::health_accounts::{
    compute_account_health, Breakdown, HealthReport, Held, LoadedBank, LoadedPerp,
};
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

/// The accounts of the permissionless perp instructions on one account, `settle_pnl` and
/// `resolve_perp_bankruptcy` (remaining accounts: the account's health accounts).
#[derive(Accounts)]
pub struct PerpKeeper<'info> {
    pub group: AccountLoader<'info, Group>,
    #[account(mut, has_one = group @ MarginError::WrongGroup)]
    pub account: AccountLoader<'info, MarginAccount>,
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

/// The instruction's settle bank and perp market, as it holds them (mutably, maybe changed).
pub struct HeldPerp<'a> {
    pub bank: (Pubkey, &'a Bank),
    pub market: (Pubkey, &'a PerpMarket),
}

/// An account's health over its health accounts (`remaining`), the instruction's settle bank
/// and market taken as it holds them.
pub fn health_with(
    account: &MarginAccount,
    (group_key, group): (&Pubkey, &Group),
    remaining: &[AccountInfo],
    now: i64,
    held: HeldPerp,
    breakdown: Breakdown,
) -> Result<HealthReport> {
    let (bank_key, bank) = held.bank;
    let (market_key, market) = held.market;
    compute_account_health(
        account,
        group_key,
        group,
        remaining,
        now,
        Held {
            banks: &[LoadedBank { key: bank_key, bank }],
            perps: &[LoadedPerp { key: market_key, market }],
            shocks: Default::default(),
        },
        breakdown,
    )
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
    let held = HeldPerp {
        bank: (ctx.accounts.settle_bank.key(), settle_bank),
        market: (ctx.accounts.perp_market.key(), market),
    };
    let group_key = ctx.accounts.group.key();
    let report = health_with(
        account,
        (&group_key, group),
        ctx.remaining_accounts,
        now,
        held,
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
