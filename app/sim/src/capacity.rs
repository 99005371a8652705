//! Liquidation capacity: for each collateral, what a 10%, 20% or 30% fall from the current
//! state would hand the liquidators, and whether the market could take it. The engine finds
//! the accounts the shock makes liquidatable with the program's own `health_under_shock` view
//! and sizes each one's liquidation with the keeper's planner (`engine/capacity.rs`); the
//! aggregation and the market's absorption are here, pure.

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::market_model::AssetMarket;
use crate::scenario::MarketDepth;

/// The shocks of the capacity table (`[capacity]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// Price falls, percent; empty: no table.
    #[serde(default = "default_shocks")]
    pub shocks_pct: Vec<u32>,
    /// Also measure at the end of the run (the start is always measured).
    #[serde(default = "default_at_end")]
    pub at_end: bool,
}

fn default_shocks() -> Vec<u32> {
    vec![10, 20, 30]
}

fn default_at_end() -> bool {
    true
}

impl Default for CapacitySpec {
    fn default() -> Self {
        Self { shocks_pct: default_shocks(), at_end: default_at_end() }
    }
}

impl CapacitySpec {
    pub fn validate(&self) -> Result<()> {
        for &pct in &self.shocks_pct {
            if pct == 0 || pct > 99 {
                bail!("capacity.shocks_pct: each shock within 1..=99 percent, got {pct}");
            }
        }
        Ok(())
    }
}

/// One account under one shock, as the engine measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AccountUnderShock {
    /// The program's `health_under_shock` said liquidatable.
    pub liquidatable: bool,
    /// Collateral of the shocked bank the planned steps take from it (to the liquidator and
    /// to the insurance fund), native units.
    pub seized_native: u64,
    /// Debt the liquidators take over, dollars at the shocked prices.
    pub debt_usd: f64,
    /// What the program would write off instead of liquidating (the account left insolvent
    /// with collateral below the dust threshold), dollars at the shocked prices.
    pub written_off_usd: f64,
    /// Liquidatable, yet the keeper's planner found no step the program would accept.
    pub unplanned: bool,
}

/// The sum over accounts of one shock: (liquidatable, seized native, debt dollars, written-off
/// dollars, unplanned). A healthy account contributes nothing, whatever it carries.
pub fn aggregate(accounts: &[AccountUnderShock]) -> (usize, u64, f64, f64, usize) {
    accounts.iter().filter(|a| a.liquidatable).fold((0, 0, 0.0, 0.0, 0), |acc, a| {
        (
            acc.0 + 1,
            acc.1.saturating_add(a.seized_native),
            acc.2 + a.debt_usd,
            acc.3 + a.written_off_usd,
            acc.4 + usize::from(a.unplanned),
        )
    })
}

/// Selling `tokens` at `price` into the scenario's market for that asset, from rest: the
/// proceeds (dollars) and the price move (percent, negative), by [`AssetMarket::sell`].
pub fn absorb(depth: MarketDepth, price: f64, tokens: f64) -> (f64, f64) {
    let mut market = AssetMarket::new(vec![price], depth, true);
    let proceeds = market.sell(0, tokens);
    (proceeds, (market.price(0) / price - 1.0) * 100.0)
}

/// The depth of a market, in words.
pub fn describe(depth: MarketDepth) -> String {
    match depth {
        MarketDepth::ConstantProduct { depth_usd, .. } => {
            format!("pool {} a side", crate::report::usd(depth_usd))
        }
        MarketDepth::Linear { impact_bps_per_million_usd, .. } => {
            format!("linear, {impact_bps_per_million_usd} bps per $1M")
        }
        MarketDepth::Infinite => "no impact".into(),
    }
}

/// One row of the table: one collateral under one shock.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityRow {
    pub symbol: String,
    pub shock_pct: u32,
    /// Accounts holding this collateral with debt (the ones asked about).
    pub accounts_checked: usize,
    pub liquidatable: usize,
    pub seized_tokens: f64,
    /// At the shocked price.
    pub seized_usd: f64,
    pub debt_usd: f64,
    /// Debt the program would write off (insurance first, then the depositors).
    pub written_off_usd: f64,
    /// Selling the seized collateral into the market at the shocked price.
    pub sale_proceeds_usd: f64,
    pub price_impact_pct: f64,
    pub depth: String,
    /// This bank's insurance fund, and all banks' together, at the shocked prices.
    pub bank_insurance_usd: f64,
    pub insurance_usd: f64,
    pub unplanned: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(seized: u64, debt: f64) -> AccountUnderShock {
        AccountUnderShock {
            liquidatable: true,
            seized_native: seized,
            debt_usd: debt,
            ..Default::default()
        }
    }

    #[test]
    fn only_liquidatable_accounts_add_to_the_sum() {
        let healthy = AccountUnderShock {
            seized_native: 999,
            debt_usd: 5.0,
            written_off_usd: 7.0,
            ..Default::default()
        };
        let stuck = AccountUnderShock { unplanned: true, ..hit(0, 0.0) };
        let dust = AccountUnderShock { written_off_usd: 0.25, ..hit(0, 0.0) };
        assert_eq!(
            aggregate(&[hit(10, 2.0), healthy, hit(5, 1.5), stuck, dust]),
            (4, 15, 3.5, 0.25, 1)
        );
        assert_eq!(aggregate(&[]), (0, 0, 0.0, 0.0, 0));
    }

    #[test]
    fn absorption_follows_the_market_model() {
        // $100k into a $1M pool moves the price by (10,000 / 11,000)² − 1.
        let pool = MarketDepth::ConstantProduct { depth_usd: 1e6, recovery_pct: 0.0 };
        let (proceeds, impact) = absorb(pool, 100.0, 1_000.0);
        let factor = (10_000.0f64 / 11_000.0).powi(2);
        assert!((impact - (factor - 1.0) * 100.0).abs() < 1e-9);
        assert!((proceeds - 1_000.0 * 100.0 * (1.0 + factor) / 2.0).abs() < 1e-6);
        assert_eq!(absorb(MarketDepth::Infinite, 2.0, 10.0), (20.0, 0.0));
        assert_eq!(absorb(pool, 100.0, 0.0), (0.0, 0.0));
    }
}
