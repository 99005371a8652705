//! The perp part of a scenario file (`[[perps]]`): a perp market that tracks one bank's oracle
//! price (so it shares that bank's price path and the liquidators' feedback on it), its pool and
//! LPs, its traders (leverage, long/short mix, size), optional whales, and an optional
//! open-interest collapse. See docs/STRESS.md ("Perps").

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::scenario::{Range, Scenario};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpSpec {
    /// For reports, e.g. "SOL-PERP".
    pub name: String,
    /// The bank whose oracle price (path, feedback and confidence) the market's oracle carries.
    pub tracks: String,
    /// The settle bank (6 decimals; the traders' and LPs' collateral).
    #[serde(default = "default_settle")]
    pub settle: String,
    /// Lot size in whole base tokens.
    #[serde(default = "default_lot")]
    pub lot_tokens: f64,
    #[serde(default)]
    pub risk: PerpRisk,
    pub pool: PerpPool,
    pub traders: PerpTraders,
    #[serde(default)]
    pub whales: Vec<PerpWhale>,
    #[serde(default)]
    pub collapse: Option<PerpCollapse>,
}

fn default_settle() -> String {
    "USDC".into()
}

fn default_lot() -> f64 {
    0.01
}

/// The market's risk parameters (bps); the defaults are the test kit's `perp_config`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerpRisk {
    pub init_base_weight_bps: u32,
    pub maint_base_weight_bps: u32,
    pub init_pnl_weight_bps: u32,
    pub maint_pnl_weight_bps: u32,
    pub taker_fee_bps: u32,
    pub impact_coeff_bps: u32,
    pub max_impact_bps: u32,
    pub funding_coeff_bps: u32,
    pub max_funding_bps_per_day: u32,
    pub pool_funding_share_bps: u32,
    pub pool_cover_bps: u32,
    /// Open-interest cap per side in dollars at the starting price (0: no cap).
    pub max_oi_usd: f64,
}

impl Default for PerpRisk {
    fn default() -> Self {
        let c = cross_margin_testkit::perp::perp_config();
        Self {
            init_base_weight_bps: c.init_base_weight_bps,
            maint_base_weight_bps: c.maint_base_weight_bps,
            init_pnl_weight_bps: c.init_pnl_weight_bps,
            maint_pnl_weight_bps: c.maint_pnl_weight_bps,
            taker_fee_bps: c.taker_fee_bps,
            impact_coeff_bps: c.impact_coeff_bps,
            max_impact_bps: c.max_impact_bps,
            funding_coeff_bps: c.funding_coeff_bps,
            max_funding_bps_per_day: c.max_funding_bps_per_day,
            pool_funding_share_bps: c.pool_funding_share_bps,
            pool_cover_bps: c.pool_cover_bps,
            max_oi_usd: 0.0,
        }
    }
}

/// The LPs: `count` accounts depositing `usd` in all into the pool, in equal parts.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpPool {
    pub usd: f64,
    #[serde(default = "default_lps")]
    pub lps: usize,
}

fn default_lps() -> usize {
    4
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpTraders {
    pub count: usize,
    /// Notional / collateral (e.g. 1 to 8); an order the program refuses is retried smaller.
    pub leverage: Range,
    /// Share of traders that go long, percent.
    pub long_pct: f64,
    /// Settle-bank collateral per trader, dollars (log-uniform).
    pub size_usd: Range,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Long,
    Short,
}

/// One account holding `oi_share` of its side's open interest once it has traded.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpWhale {
    pub side: Side,
    pub oi_share: f64,
    pub leverage: f64,
}

/// From `from_step`, over `over_steps` steps, `close_fraction` of the traders close their
/// positions (reduce-only) and settle; each step the LPs withdraw `lp_fraction` of their shares'
/// value, as far as the pool's cover rule allows.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpCollapse {
    pub from_step: usize,
    pub over_steps: usize,
    pub close_fraction: f64,
    #[serde(default = "default_lp_fraction")]
    pub lp_fraction: f64,
}

fn default_lp_fraction() -> f64 {
    1.0
}

impl PerpSpec {
    pub fn validate(&self, scenario: &Scenario) -> Result<()> {
        let name = &self.name;
        scenario.bank_index(&self.tracks)?;
        let settle = scenario.bank_index(&self.settle)?;
        if scenario.banks[settle].decimals != 6 {
            bail!("{name}: the settle bank must have 6 decimals");
        }
        let decimals = scenario.banks[scenario.bank_index(&self.tracks)?].decimals;
        let lot = self.lot_tokens * 10f64.powi(decimals as i32);
        if !(lot >= 1.0 && lot.fract() == 0.0) {
            bail!("{name}: lot_tokens must be a whole number of native units");
        }
        if self.pool.usd <= 0.0 || self.pool.lps == 0 {
            bail!("{name}: the pool needs LPs and a deposit above 0");
        }
        let t = &self.traders;
        if !(1.0..=100.0).contains(&t.leverage.min) || t.leverage.min > t.leverage.max {
            bail!("{name}: trader leverage must be a range from 1");
        }
        if t.size_usd.min <= 0.0 || t.size_usd.min > t.size_usd.max {
            bail!("{name}: size_usd must be a positive range");
        }
        if !(0.0..=100.0).contains(&t.long_pct) {
            bail!("{name}: long_pct is a percentage");
        }
        for whale in &self.whales {
            if !(0.0 < whale.oi_share && whale.oi_share < 1.0) || whale.leverage < 1.0 {
                bail!("{name}: a whale's oi_share is in (0, 1) and its leverage at least 1");
            }
        }
        if let Some(c) = &self.collapse {
            if c.over_steps == 0 || !(0.0..=1.0).contains(&c.close_fraction) {
                bail!("{name}: collapse over at least one step, close_fraction in [0, 1]");
            }
            if !(0.0..=1.0).contains(&c.lp_fraction) {
                bail!("{name}: collapse lp_fraction in [0, 1]");
            }
        }
        Ok(())
    }
}
