//! Selectors made concrete: banks (and a liquidatee) given as selectors (>= 4) become the n-th
//! of the user's deposits / borrows / banks it can borrow from, or the most underwater other
//! user. Raw values (< 4) stay as they are, so every combination still happens.

use cross_margin::health::PositionShares;
use cross_margin::liquidation::{end_target, is_liquidatable};

use super::{Op, State, World, ACCOUNTS, BANKS, SIBLING, USERS};

/// Which positions a bank selector picks among.
type Want = fn(Option<PositionShares>) -> bool;

fn deposit(p: Option<PositionShares>) -> bool {
    matches!(p, Some(PositionShares::Deposit(_)))
}

fn borrow(p: Option<PositionShares>) -> bool {
    matches!(p, Some(PositionShares::Borrow(_)))
}

fn not_deposit(p: Option<PositionShares>) -> bool {
    !matches!(p, Some(PositionShares::Deposit(_)))
}

fn any_position(p: Option<PositionShares>) -> bool {
    p.is_some()
}

/// Bank `sel` if it is one, else the n-th bank `user` has a position in.
pub(super) fn position_bank(s: &State, user: u8, sel: u8) -> u8 {
    pick(s, user, sel, any_position)
}

/// Bank `sel` if it is one, else the n-th of `user`'s banks whose position is `want`ed.
fn pick(s: &State, user: u8, sel: u8, want: Want) -> u8 {
    if (sel as usize) < BANKS {
        return sel;
    }
    let candidates: Vec<u8> = match &s.accounts[user as usize] {
        Some(a) => (0..BANKS as u8)
            .filter(|&b| want(a.find(b as u16).and_then(|i| a.positions[i].shares())))
            .collect(),
        None => vec![],
    };
    if candidates.is_empty() {
        sel % BANKS as u8
    } else {
        candidates[sel as usize % candidates.len()]
    }
}

/// User `user` if it is one, else a user flagged bankrupt, if there is one.
fn bankrupt_user(s: &State, user: u8) -> u8 {
    if (user as usize) < USERS {
        return user;
    }
    (0..USERS as u8)
        .find(|&u| s.accounts[u as usize].is_some_and(|a| a.bankrupt != 0))
        .unwrap_or(user % USERS as u8)
}

impl World {
    /// `op` with its selectors made concrete in state `s`.
    pub fn concrete(&self, op: &Op, s: &State) -> Op {
        match *op {
            Op::Withdraw { user, bank, amount } => {
                Op::Withdraw { user, bank: pick(s, user, bank, deposit), amount }
            }
            Op::Repay { user, bank, amount } => {
                Op::Repay { user, bank: pick(s, user, bank, borrow), amount }
            }
            Op::Borrow { user, bank, amount } => {
                Op::Borrow { user, bank: pick(s, user, bank, not_deposit), amount }
            }
            Op::Resolve { user, bank } => {
                let user = bankrupt_user(s, user);
                Op::Resolve { user, bank: pick(s, user, bank, borrow) }
            }
            Op::Squeeze { user, bps } => Op::Price {
                bank: self.largest_deposit(s, user).unwrap_or(user % BANKS as u8),
                change_bps: -(bps as i32),
                conf_bps: 0,
                expo_shift: 0,
            },
            Op::Liquidate { liquidator, liquidatee, liab, asset, amount } => {
                let liquidatee = self.liquidatee(s, liquidator, liquidatee);
                Op::Liquidate {
                    liquidator,
                    liquidatee,
                    liab: pick(s, liquidatee, liab, borrow),
                    asset: pick(s, liquidatee, asset, deposit),
                    amount,
                }
            }
            Op::OracleEdge { bank, edge } => {
                let nearest = self.liquidatee(s, ACCOUNTS as u8, USERS as u8);
                Op::OracleEdge { bank: position_bank(s, nearest, bank), edge }
            }
            Op::ApplyChange { bank, wait } => Op::ApplyChange { bank: queued(s, bank), wait },
            Op::CancelChange { bank } => Op::CancelChange { bank: queued(s, bank) },
            Op::SettlePnl { user } => Op::SettlePnl { user: with_perp_slot(s, user) },
            Op::SettleCovered { user } => Op::SettleCovered { user: with_perp_slot(s, user) },
            Op::LiquidatePerp { liquidator, liquidatee, max } => Op::LiquidatePerp {
                liquidator,
                liquidatee: self.perp_liquidatee(s, liquidatee),
                max,
            },
            Op::ResolvePerp { user } => Op::ResolvePerp { user: self.perp_write_off_user(s, user) },
            other => other,
        }
    }

    /// The bank of the user's most valuable deposit (`None` if it has none, or cannot be priced).
    fn largest_deposit(&self, s: &State, user: u8) -> Option<u8> {
        let prices = self.prices(s);
        let account = s.accounts[user as usize].as_ref()?;
        let report = self.report(account, &s.banks, &prices).ok()?;
        report
            .positions
            .iter()
            .filter(|p| !p.health.is_liability)
            .max_by_key(|p| p.health.value)
            .map(|p| p.bank_index as u8)
    }

    /// User `liquidatee` if it is one, else another user the checks find liquidatable (below
    /// zero, or flagged and short of its end target; for user 0's second account, user 0
    /// first), else the borrower with the lowest maint health.
    fn liquidatee(&self, s: &State, liquidator: u8, liquidatee: u8) -> u8 {
        if (liquidatee as usize) < USERS {
            return liquidatee;
        }
        let prices = self.prices(s);
        let buffer = s.group.liquidation_end_buffer_bps;
        // User 0's second account prefers its owner's first account (finding L-4's attack).
        let other_owner = |u: u8| !(liquidator as usize == SIBLING && u == 0);
        // Liquidatable first, then (for the second account) its owner's, then borrowers, then
        // the lowest maint health.
        const NONE: (bool, bool, bool, i128) = (true, true, true, i128::MAX);
        (0..USERS as u8)
            .filter(|&u| u != liquidator)
            .min_by_key(|&u| match &s.accounts[u as usize] {
                Some(a) => self.report(a, &s.banks, &prices).map_or(NONE, |r| {
                    let t = r.totals;
                    let target = end_target(t.maint_weighted_liabs, buffer);
                    let flagged = a.being_liquidated != 0;
                    let liquidatable = is_liquidatable(t.health.maint, target, flagged);
                    (!liquidatable, other_owner(u), t.maint_weighted_liabs == 0, t.health.maint)
                }),
                None => NONE,
            })
            .unwrap()
    }
}

/// `bank` below `BANKS` as is; a selector (`BANKS..2 * BANKS`) picks a bank with a queued
/// change, if any.
fn queued(s: &State, bank: u8) -> u8 {
    if (bank as usize) < BANKS {
        return bank;
    }
    let with_change = s.banks.iter().position(|b| b.pending.is_queued());
    with_change.map_or(bank % BANKS as u8, |b| b as u8)
}

/// Account `user` if it is one (< `ACCOUNTS`), else the n-th account holding a perp slot with
/// a position or unsettled PnL, if any.
fn with_perp_slot(s: &State, user: u8) -> u8 {
    if (user as usize) < ACCOUNTS {
        return user;
    }
    let holders: Vec<u8> = (0..ACCOUNTS as u8)
        .filter(|&u| {
            s.accounts[u as usize]
                .is_some_and(|a| a.active_perps().any(|p| p.base_lots != 0 || p.quote_native != 0))
        })
        .collect();
    match holders.len() {
        0 => user % ACCOUNTS as u8,
        n => holders[user as usize % n],
    }
}
