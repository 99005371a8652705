//! Scenario files (TOML): the banks and their risk parameters, each asset's price path and
//! market depth, the population of accounts (with whales), the keepers, and optional events such
//! as an open-interest collapse. See `scenarios/*.toml` and docs/STRESS.md.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::capacity::CapacitySpec;
use crate::lender_run::LenderRun;
use crate::noise::Noise;
use crate::perp_spec::PerpSpec;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// What the scenario asks, for the report.
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub steps: usize,
    /// Chain time per step (interest accrues over it; oracles are republished every step).
    #[serde(default = "default_step_seconds")]
    pub step_seconds: i64,
    pub banks: Vec<BankSpec>,
    pub population: Population,
    #[serde(default)]
    pub keepers: KeeperSpec,
    #[serde(default)]
    pub open_interest_collapse: Option<OpenInterestCollapse>,
    /// Oracle accounts carry Pyth's EMA as the stable price (else the EMA equals the price).
    #[serde(default)]
    pub stable_price: Option<StablePrice>,
    /// A Mango-v3-style attacker: deposits a token and borrows all it can in other banks.
    #[serde(default)]
    pub attacker: Option<Attacker>,
    /// Perp markets, their pools and traders (`[[perps]]`).
    #[serde(default)]
    pub perps: Vec<PerpSpec>,
    /// Lenders asking for their deposits back, step after step (`[lender_run]`).
    #[serde(default)]
    pub lender_run: Option<LenderRun>,
    /// The liquidation-capacity table's shocks (`[capacity]`; `shocks_pct = []` turns it off).
    #[serde(default)]
    pub capacity: CapacitySpec,
}

/// How the oracle writer computes the EMA it publishes next to each price: Pyth's definition,
/// an inverse-confidence-weighted exponential moving average of the price (and of the
/// confidence), whose samples `half_life_secs` old carry half the weight (docs/STRESS.md,
/// "oracle-pump").
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StablePrice {
    #[serde(default = "default_half_life")]
    pub half_life_secs: f64,
}

fn default_half_life() -> f64 {
    3_600.0
}

/// The attacker of the `oracle-pump` scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attacker {
    /// The token deposited (by symbol) and how much, in dollars at its starting price.
    pub collateral: String,
    pub collateral_usd: f64,
    /// The banks it borrows from, each as much as the program lets it, at every step from
    /// `from_step` to `until_step` (inclusive).
    pub borrow: Vec<String>,
    pub from_step: usize,
    pub until_step: usize,
}

fn default_seed() -> u64 {
    1
}

fn default_step_seconds() -> i64 {
    60
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OracleFormat {
    /// Pyth pull oracle (`PriceUpdateV2`).
    Pull,
    /// Legacy Pyth push account.
    Legacy,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub init_asset: u32,
    pub maint_asset: u32,
    pub maint_liab: u32,
    pub init_liab: u32,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterestCurve {
    pub optimal_utilization_bps: u32,
    pub min_rate_bps: u32,
    pub optimal_rate_bps: u32,
    pub max_rate_bps: u32,
}

impl Default for InterestCurve {
    fn default() -> Self {
        Self {
            optimal_utilization_bps: 8_000,
            min_rate_bps: 0,
            optimal_rate_bps: 1_000,
            max_rate_bps: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSpec {
    pub symbol: String,
    pub decimals: u8,
    #[serde(default = "default_oracle")]
    pub oracle: OracleFormat,
    /// Starting price, dollars per whole token.
    pub price: f64,
    /// Oracle confidence interval, bps of the price.
    #[serde(default)]
    pub conf_bps: u32,
    pub weights: Weights,
    #[serde(default = "default_liquidation_fee")]
    pub liquidation_fee_bps: u32,
    #[serde(default = "default_insurance_fee")]
    pub insurance_fee_bps: u32,
    /// Insurance fund at the start, dollars.
    #[serde(default)]
    pub insurance_usd: f64,
    /// Size-aware init asset weight threshold, dollars (0 = off).
    #[serde(default)]
    pub deposit_weight_scale_start_usd: f64,
    /// Net borrow limit per window, dollars (0 = off), and the window length in seconds.
    #[serde(default)]
    pub net_borrow_limit_usd: f64,
    #[serde(default = "default_net_borrow_window")]
    pub net_borrow_limit_window_secs: u64,
    #[serde(default)]
    pub interest: InterestCurve,
    /// Lenders' deposits at the start, dollars: the liquidity borrowers draw on.
    #[serde(default = "default_liquidity")]
    pub liquidity_usd: f64,
    /// Utilization to calibrate to after the population is opened, percent: the lenders'
    /// deposit is resized so that borrows / deposits reaches it (`calibration`).
    #[serde(default)]
    pub target_utilization_pct: Option<f64>,
    pub market: MarketDepth,
    #[serde(default)]
    pub path: PricePath,
    /// Random noise multiplied onto `path` (geometric Brownian motion with jumps; none: the path
    /// as it is). See [`crate::noise`].
    #[serde(default)]
    pub noise: Option<Noise>,
}

fn default_net_borrow_window() -> u64 {
    3_600
}

fn default_oracle() -> OracleFormat {
    OracleFormat::Pull
}

fn default_liquidation_fee() -> u32 {
    500
}

fn default_insurance_fee() -> u32 {
    100
}

fn default_liquidity() -> f64 {
    50_000_000.0
}

/// How the market absorbs the collateral liquidators sell (docs/STRESS.md, "Market model").
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum MarketDepth {
    /// A constant-product pool holding `depth_usd` of quote at the start: selling `q` tokens
    /// moves the price by the factor `(x / (x + q))^2`. `recovery_pct` of the gap to the
    /// exogenous price closes each step (arbitrage).
    ConstantProduct {
        depth_usd: f64,
        #[serde(default)]
        recovery_pct: f64,
    },
    /// Linear impact: each $1M sold lowers the price by `impact_bps_per_million_usd`.
    Linear {
        impact_bps_per_million_usd: f64,
        #[serde(default)]
        recovery_pct: f64,
    },
    /// No impact (a deep market).
    Infinite,
}

/// The exogenous price path: what the market does, before liquidations add to it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PricePath {
    #[default]
    Constant,
    /// Falls by `drop_pct` linearly over `over_steps` steps from `at_step`, then holds.
    Crash { at_step: usize, drop_pct: f64, over_steps: usize },
    /// Falls by `drop_pct` linearly over the whole run.
    Bleed { drop_pct: f64 },
    /// A stablecoin depeg: down to `to` (e.g. 0.9 of the peg) between `from_step` and
    /// `bottom_step`, back to the peg by `recover_step`.
    Depeg { to: f64, from_step: usize, bottom_step: usize, recover_step: usize },
    /// A pump: `factor` × the start price for `steps` steps from `from_step` (exclusive), then
    /// back to the start price.
    Pump { from_step: usize, steps: usize, factor: f64 },
    /// A volatility spike: a seeded random walk with `sigma_pct` per step (and a `drift_pct`
    /// per step) for `steps` steps from `from_step`, then holds.
    Volatility {
        from_step: usize,
        steps: usize,
        sigma_pct: f64,
        #[serde(default)]
        drift_pct: f64,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub accounts: usize,
    /// Relative weights of each bank (by symbol) as the main collateral.
    pub collateral: BTreeMap<String, f64>,
    /// Relative weights of each bank as the borrowed asset (a bank is never both).
    pub borrow: BTreeMap<String, f64>,
    /// Fraction of the account's init capacity it borrows.
    pub leverage: Range,
    /// Collateral per account, dollars (log-uniform).
    pub size_usd: Range,
    /// Share of accounts with a second collateral asset, percent.
    #[serde(default)]
    pub second_collateral_pct: f64,
    #[serde(default)]
    pub whales: Vec<Whale>,
}

/// A few accounts holding a large share of one collateral.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Whale {
    pub count: usize,
    pub collateral: String,
    pub borrow: String,
    /// Their collateral together, as a share of the population's other deposits of that
    /// asset (e.g. 0.5: the whales hold a third of all of it).
    pub share: f64,
    pub leverage: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeeperSpec {
    pub count: usize,
    /// Each keeper's own collateral, dollars.
    pub collateral_usd: f64,
    /// The bank that collateral sits in (default: the first). Keepers' deposits count in its
    /// utilization, so keep it out of a bank whose utilization the scenario studies.
    #[serde(default)]
    pub collateral: Option<String>,
}

impl Default for KeeperSpec {
    fn default() -> Self {
        Self { count: 2, collateral_usd: 50_000_000.0, collateral: None }
    }
}

/// At `at_step`, a fraction of borrowers repay and withdraw everything, and lenders pull a
/// fraction of their deposits (as much as the banks' liquidity allows).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenInterestCollapse {
    pub at_step: usize,
    pub borrower_fraction: f64,
    #[serde(default)]
    pub lender_fraction: f64,
}

impl Scenario {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the scenario {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("scenario {}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario without the oracle-manipulation defences: the oracle writer publishes an
    /// EMA equal to the price (the stable price then never differs from the oracle) and no
    /// bank has a net borrow limit.
    pub fn without_defences(&self) -> Self {
        let mut scenario = self.clone();
        scenario.stable_price = None;
        for bank in &mut scenario.banks {
            bank.net_borrow_limit_usd = 0.0;
        }
        scenario
    }

    pub fn bank_index(&self, symbol: &str) -> Result<usize> {
        self.banks
            .iter()
            .position(|b| b.symbol == symbol)
            .ok_or_else(|| anyhow!("no bank named {symbol}"))
    }

    fn validate(&self) -> Result<()> {
        if self.banks.is_empty() || self.banks.len() > 16 {
            bail!("between 1 and 16 banks");
        }
        if self.steps == 0 {
            bail!("steps must be > 0");
        }
        for bank in &self.banks {
            if bank.price.is_nan() || bank.price <= 0.0 {
                bail!("{}: price must be > 0", bank.symbol);
            }
            if bank.decimals > 12 {
                bail!("{}: at most 12 decimals", bank.symbol);
            }
            if let Some(noise) = &bank.noise {
                noise.validate(&bank.symbol)?;
            }
        }
        let population = &self.population;
        for symbol in population.collateral.keys().chain(population.borrow.keys()) {
            self.bank_index(symbol)?;
        }
        for whale in &population.whales {
            self.bank_index(&whale.collateral)?;
            self.bank_index(&whale.borrow)?;
            if whale.collateral == whale.borrow {
                bail!("a whale cannot borrow its collateral asset");
            }
        }
        if population.collateral.is_empty() || population.borrow.is_empty() {
            bail!("population needs collateral and borrow weights");
        }
        if !(0.0 < population.leverage.min && population.leverage.max <= 1.0)
            || population.leverage.min > population.leverage.max
        {
            bail!("leverage must be within (0, 1]");
        }
        if population.size_usd.min <= 0.0 || population.size_usd.min > population.size_usd.max {
            bail!("size_usd must be a positive range");
        }
        if self.keepers.count == 0 {
            bail!("at least one keeper");
        }
        if let Some(attacker) = &self.attacker {
            self.bank_index(&attacker.collateral)?;
            for symbol in &attacker.borrow {
                if *symbol == attacker.collateral {
                    bail!("the attacker cannot borrow its collateral asset");
                }
                self.bank_index(symbol)?;
            }
            if attacker.from_step == 0 || attacker.from_step > attacker.until_step {
                bail!("the attacker acts from a step >= 1 to a later or equal one");
            }
        }
        if let Some(stable) = &self.stable_price {
            if stable.half_life_secs.is_nan() || stable.half_life_secs <= 0.0 {
                bail!("stable_price.half_life_secs must be > 0");
            }
        }
        if let Some(symbol) = &self.keepers.collateral {
            self.bank_index(symbol)?;
        }
        for perp in &self.perps {
            perp.validate(self)?;
        }
        for bank in &self.banks {
            crate::calibration::validate_target(&bank.symbol, bank.target_utilization_pct)?;
        }
        if let Some(run) = &self.lender_run {
            run.validate(self)?;
        }
        self.capacity.validate()?;
        Ok(())
    }
}
