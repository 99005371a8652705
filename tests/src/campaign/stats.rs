//! What a campaign did: successes and rejections per action.

use std::collections::BTreeMap;

/// Successes and rejections per action, over a campaign.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub ok: BTreeMap<&'static str, u64>,
    pub rejected: BTreeMap<&'static str, u64>,
    /// Rejections per (action, error name).
    pub reasons: BTreeMap<(&'static str, String), u64>,
    pub steps: u64,
    pub sequences: u64,
    pub exits: u64,
    /// Sequences whose exit phase was skipped because a bank's interest overflowed u64.
    pub overflowed: u64,
    /// Exit phases that left a perp gain unpaid because the pool ran out (and its LPs' shares
    /// worth nothing).
    pub pool_short: u64,
    /// Sequences in which the perp market traded while no LP held pool shares.
    pub pool_orphaned: u64,
    /// Exit phases that left a perp position open on an account flagged bankrupt.
    pub perp_locked: u64,
}

impl Stats {
    pub fn merge(&mut self, other: &Stats) {
        for (k, v) in &other.ok {
            *self.ok.entry(k).or_default() += v;
        }
        for (k, v) in &other.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
        for (k, v) in &other.reasons {
            *self.reasons.entry(k.clone()).or_default() += v;
        }
        self.steps += other.steps;
        self.sequences += other.sequences;
        self.exits += other.exits;
        self.overflowed += other.overflowed;
        self.pool_short += other.pool_short;
        self.pool_orphaned += other.pool_orphaned;
        self.perp_locked += other.perp_locked;
    }

    pub fn ok(&self, name: &str) -> u64 {
        self.ok.get(name).copied().unwrap_or(0)
    }
}
