//! Off-chain health of every account, with the program's own health module (the same
//! `BankRisk::position_health` the program runs), and the ranking of what to act on.
//!
//! This runs over every account of a group each round, so it is written for speed: banks are
//! priced once, accounts are read in place, nothing is allocated per account.

use cross_margin::error::MarginError;
use cross_margin::health::{BankRisk, Health, PositionHealth};
use cross_margin::liquidation::{end_target, is_liquidatable};
use cross_margin::state::MarginAccount;
use cross_margin_client::Pubkey;

use crate::market::MarketState;

/// What the keeper should do about an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Healthy,
    /// Maint health < 0, or below the end target while a liquidation is under way.
    Liquidatable,
    /// Deposits below the dust threshold and debt left: to be written off.
    Bankrupt,
    /// A position's bank has no acceptable price (or is unknown): cannot be judged now.
    Unpriced {
        bank_index: u16,
        error: MarginError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    pub status: Status,
    pub health: Health,
    /// Maint-weighted liabilities (positive quote units).
    pub maint_weighted_liabs: i128,
    /// Deposits at their asset prices (quote units).
    pub deposits_value: u64,
    pub has_debt: bool,
}

/// The health of one account at the banks' prices. `risks` is `MarketState::risks()`.
pub fn assess(
    risks: &[Result<BankRisk, MarginError>],
    account: &MarginAccount,
    end_buffer_bps: u32,
    dust_quote: u64,
) -> Assessment {
    let mut assessment = Assessment {
        status: Status::Healthy,
        health: Health::default(),
        maint_weighted_liabs: 0,
        deposits_value: 0,
        has_debt: false,
    };
    for position in &account.positions {
        let Some(shares) = position.shares() else { continue };
        let risk = match risks.get(position.bank_index as usize) {
            Some(Ok(risk)) => risk,
            Some(Err(error)) => {
                let error = *error;
                assessment.status = Status::Unpriced { bank_index: position.bank_index, error };
                return assessment;
            }
            None => {
                let error = MarginError::HealthBankInvalid;
                assessment.status = Status::Unpriced { bank_index: position.bank_index, error };
                return assessment;
            }
        };
        let contribution = match risk.position_health(shares) {
            Ok(contribution) => contribution,
            Err(_) => {
                let error = MarginError::MathOverflow;
                assessment.status = Status::Unpriced { bank_index: position.bank_index, error };
                return assessment;
            }
        };
        add(&mut assessment, &contribution);
    }
    let target = end_target(assessment.maint_weighted_liabs, end_buffer_bps);
    let being_liquidated = account.being_liquidated != 0;
    assessment.status = if account.bankrupt != 0
        || cross_margin::bankruptcy::is_bankrupt(
            assessment.deposits_value,
            assessment.has_debt,
            dust_quote,
        ) {
        Status::Bankrupt
    } else if is_liquidatable(assessment.health.maint, target, being_liquidated) {
        Status::Liquidatable
    } else {
        Status::Healthy
    };
    assessment
}

#[inline]
fn add(assessment: &mut Assessment, contribution: &PositionHealth) {
    // Health sums cannot overflow i128 with u64 values and at most 16 positions.
    assessment.health.init += contribution.init;
    assessment.health.maint += contribution.maint;
    if contribution.is_liability {
        assessment.maint_weighted_liabs -= contribution.maint;
        assessment.has_debt |= contribution.native > 0;
    } else {
        assessment.deposits_value = assessment.deposits_value.saturating_add(contribution.value);
    }
}

/// An account that needs action, ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub address: Pubkey,
    /// Index into the accounts the evaluation ran over.
    pub index: usize,
    pub assessment: Assessment,
}

/// The result of evaluating every account.
#[derive(Debug, Default, Clone)]
pub struct Evaluation {
    /// Liquidatable accounts, the furthest below zero first.
    pub liquidatable: Vec<Target>,
    pub bankrupt: Vec<Target>,
    /// Accounts that could not be judged, with why.
    pub unpriced: Vec<Target>,
    pub healthy: usize,
}

/// Assesses every account and ranks those that need action: bankrupt ones, then liquidatable
/// ones by maint health, lowest first.
pub fn evaluate(market: &MarketState, accounts: &[(Pubkey, MarginAccount)]) -> Evaluation {
    let risks = market.risks();
    let buffer = market.group.liquidation_end_buffer_bps;
    let dust = market.group.bankruptcy_dust_quote;
    let mut evaluation = Evaluation::default();
    for (index, (address, account)) in accounts.iter().enumerate() {
        let assessment = assess(&risks, account, buffer, dust);
        let target = Target { address: *address, index, assessment };
        match assessment.status {
            Status::Healthy => evaluation.healthy += 1,
            Status::Liquidatable => evaluation.liquidatable.push(target),
            Status::Bankrupt => evaluation.bankrupt.push(target),
            Status::Unpriced { .. } => evaluation.unpriced.push(target),
        }
    }
    evaluation.liquidatable.sort_by_key(|t| (t.assessment.health.maint, t.address));
    evaluation
}

/// `--shard i/n`: this keeper's share of the accounts, split by key so that keepers running
/// side by side never work on the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn contains(&self, key: &Pubkey) -> bool {
        let bytes = key.to_bytes();
        let word = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        word % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (index, count) = s.split_once('/').ok_or("expected i/n, e.g. 0/3")?;
        let index: u64 = index.trim().parse().map_err(|_| "shard index is not a number")?;
        let count: u64 = count.trim().parse().map_err(|_| "shard count is not a number")?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_keys() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        for i in 0..300u32 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            let key = Pubkey::new_from_array(bytes);
            assert_eq!(shards.iter().filter(|s| s.contains(&key)).count(), 1);
        }
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert!("3/3".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
