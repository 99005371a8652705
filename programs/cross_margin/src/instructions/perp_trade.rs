//! Accounts shared by `place_perp_order`, `pool_deposit` and `pool_withdraw` (the owner signs),
//! and the steps every perp instruction starts with: the oracle price and the pool's deposit.

use anchor_lang::prelude::*;

use crate::error::MarginError;
use crate::math::{mul_q64, Round};
use crate::oracle::{read_price_sides, OracleAccount, PriceSide};
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

/// The pool's deposit in the settle bank, native units rounded down.
pub fn pool_native(market: &PerpMarket, settle_bank: &Bank) -> Result<u64> {
    mul_q64(market.pool_deposit_shares, settle_bank.deposit_index(), Round::Down)
        .map_err(|_| error!(MarginError::MathOverflow))
}
