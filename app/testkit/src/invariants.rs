//! The property campaign's state-only invariants (tests/src/campaign), callable on accounts
//! however they were read: from LiteSVM by the campaign, over JSON-RPC by the keeper's soak on a
//! local validator (app/keeper/tests/soak.rs).
//!
//! The checks that need the campaign's per-operation bookkeeping stay in the campaign: each
//! user's no-free-lunch ledger, each vault's rounding budget (the upper bound of the dust),
//! and the perp pool's cash-flow book (pool shares, fees, write-offs, zero-sum).

use std::fmt::Display;

use cross_margin::health::PositionShares;
use cross_margin::math::Round;
use cross_margin::state::{Bank, MarginAccount, PerpMarket};

/// An invariant's verdict: the first broken one, described.
pub type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// What a bank owes, native: deposits − borrows + insurance.
pub fn claims(bank: &Bank) -> i128 {
    bank.total_deposits_native().expect("fits") as i128
        - bank.total_borrows_native().expect("fits") as i128
        + bank.insurance_native as i128
}

/// The vault covers the bank's claims. Returns what it holds beyond them (rounding dust).
pub fn vault_covers_claims(bank: &Bank, vault: u64, when: &str) -> Result<i128, String> {
    let claims = claims(bank);
    let vault = vault as i128;
    ensure!(
        vault >= claims,
        "{when}: bank {}: vault {vault} < deposits − borrows + insurance {claims}",
        bank.bank_index
    );
    Ok(vault - claims)
}

/// No account is left inside a flash loan.
pub fn no_flash_loan_open<'a, L: Display>(
    accounts: impl IntoIterator<Item = (L, &'a MarginAccount)>,
    when: &str,
) -> Check {
    for (label, account) in accounts {
        ensure!(
            !account.is_in_flash_loan(),
            "{when}: {label}'s account is left inside a flash loan"
        );
    }
    Ok(())
}

/// The accounts' deposit and borrow shares in `bank` sum to the bank's totals; the pool and
/// insurance deposit shares of the perp markets settling in it are part of its deposits.
pub fn share_sums<'a>(
    bank: &Bank,
    perps: &[PerpMarket],
    accounts: impl IntoIterator<Item = &'a MarginAccount>,
    when: &str,
) -> Check {
    let b = bank.bank_index;
    let (mut deposit_shares, mut borrow_shares) = (0u128, 0u128);
    for market in perps.iter().filter(|m| m.settle_bank_index == b) {
        deposit_shares += market.pool_deposit_shares as u128;
        deposit_shares += market.insurance_deposit_shares as u128;
    }
    for account in accounts {
        for p in account.active_positions().filter(|p| p.bank_index == b) {
            match p.shares().expect("active") {
                PositionShares::Deposit(s) => deposit_shares += s as u128,
                PositionShares::Borrow(s) => borrow_shares += s as u128,
            }
        }
    }
    ensure!(
        deposit_shares == bank.total_deposit_shares as u128,
        "{when}: bank {b}: accounts hold {deposit_shares} deposit shares, bank counts {}",
        bank.total_deposit_shares
    );
    ensure!(
        borrow_shares == bank.total_borrow_shares as u128,
        "{when}: bank {b}: accounts owe {borrow_shares} borrow shares, bank counts {}",
        bank.total_borrow_shares
    );
    Ok(())
}

/// A slot's funding owed and not applied: `base × (index − snapshot)` on its side (Q64.64).
pub fn owed_funding(market: &PerpMarket, base: i64, snapshot: (i128, i128)) -> Option<i128> {
    let funding = market.funding();
    let delta = if base >= 0 {
        funding.long.checked_sub(snapshot.0)?
    } else {
        funding.short.checked_sub(snapshot.1)?
    };
    (base as i128).checked_mul(delta)
}

/// The traders' PnL at `price` summed over every slot in `market`, unrounded (2⁻⁶⁴ quote
/// native units).
pub fn slots_pnl<'a>(
    accounts: impl IntoIterator<Item = &'a MarginAccount>,
    market: &PerpMarket,
    price: u128,
) -> Option<i128> {
    let lot = market.config.base_lot_size as i128;
    let mut total = 0i128;
    for account in accounts {
        for slot in account.active_perps().filter(|s| s.market_index == market.market_index) {
            let p = slot.position();
            let snapshot = (p.funding_snapshot.long, p.funding_snapshot.short);
            let value = (p.base_lots as i128).checked_mul(lot)?.checked_mul(price as i128)?;
            let quote = (p.quote_native as i128).checked_mul(1 << 64)?;
            let owed = owed_funding(market, p.base_lots, snapshot)?;
            total = total.checked_add(value)?.checked_add(quote)?.checked_sub(owed)?;
        }
    }
    Some(total)
}

/// The market's aggregates are the sums of its slots, exactly: open interest
/// (`long_lots = Σ max(base, 0)`, `short_lots = Σ max(−base, 0)`), `quote_sum`, `lp_shares`,
/// and `funding_unapplied = Σ base × (index − snapshot)`; every slot settles in its bank.
pub fn perp_aggregates<'a, L: Display>(
    market: &PerpMarket,
    accounts: impl IntoIterator<Item = (L, &'a MarginAccount)>,
    when: &str,
) -> Check {
    let (mut long, mut short, mut quote, mut lp, mut owed) = (0u64, 0u64, 0i128, 0u64, 0i128);
    for (label, account) in accounts {
        for slot in account.active_perps().filter(|s| s.market_index == market.market_index) {
            ensure!(
                slot.settle_bank_index == market.settle_bank_index,
                "{when}: {label} holds a slot of market {} settling in bank {}",
                slot.market_index,
                slot.settle_bank_index
            );
            let p = slot.position();
            long += p.base_lots.max(0) as u64;
            short += p.base_lots.min(0).unsigned_abs();
            quote += p.quote_native as i128;
            lp += slot.lp_shares;
            let snapshot = (p.funding_snapshot.long, p.funding_snapshot.short);
            owed += owed_funding(market, p.base_lots, snapshot)
                .ok_or_else(|| format!("{when}: {label}'s funding overflows"))?;
        }
    }
    ensure!(
        (market.long_lots, market.short_lots) == (long, short),
        "{when}: open interest {}/{} lots, positions sum to {long}/{short}",
        market.long_lots,
        market.short_lots
    );
    ensure!(
        market.quote_sum() == quote,
        "{when}: quote_sum {} != Σ quote {quote}",
        market.quote_sum()
    );
    ensure!(market.lp_shares == lp, "{when}: lp_shares {} != Σ {lp}", market.lp_shares);
    ensure!(
        market.funding_unapplied() == owed,
        "{when}: funding_unapplied {} != Σ owed {owed}",
        market.funding_unapplied()
    );
    Ok(())
}

/// The program's rounded aggregate PnL (`traders_pnl`, down and up) brackets the exact sum of
/// the slots' PnL at `price` (`slots`, from [`slots_pnl`]).
pub fn traders_pnl_brackets(market: &PerpMarket, price: u128, slots: i128, when: &str) -> Check {
    let one = 1i128 << 64;
    for (round, bound) in [(Round::Down, -1i128), (Round::Up, 1)] {
        if let Ok(rounded) = market.traders_pnl(price, round) {
            ensure!(
                (rounded * one - slots) * bound >= 0,
                "{when}: traders_pnl({round:?}) = {rounded} on the wrong side of the exact \
                 {slots} (2^-64)"
            );
        }
    }
    Ok(())
}
