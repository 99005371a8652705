//! The stress lab: what happens to a group, with given parameters, if the market does X.
//!
//! A scenario (TOML, [`scenario`]) is run on the embedded chain with the real `.so`
//! ([`engine`]): a population of accounts opened through real transactions, exogenous price
//! paths with a market-depth model ([`market_model`]), the reference keepers liquidating, and
//! the liquidators selling what they seize, which moves the next oracle price: the liquidation
//! spiral. Every scenario runs twice, with and without that feedback, and [`report`] writes the
//! comparison as Markdown, CSV and SVG charts.

pub mod calibration;
pub mod capacity;
pub mod charts;
pub mod engine;
pub mod invariants;
pub mod lender_run;
pub mod liquidity_report;
pub mod market_model;
pub mod monte_carlo;
pub mod noise;
pub mod perp_engine;
pub mod perp_report;
pub mod perp_spec;
pub mod report;
pub mod scenario;
pub mod sweep;

pub use engine::{run, RunResult, StepMetrics};
pub use scenario::Scenario;
