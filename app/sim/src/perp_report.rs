//! The perp part of a report: CSV columns, a Markdown section, summary lines and charts (open
//! interest, the pool against what it owes, funding, perp liquidations and socialised loss), in
//! the style of [`crate::report`]. Scenarios without perps get none of it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::charts::{line_chart, Axis, Chart, Scale, Series, Stroke, TimeAxis, PALETTE};
use crate::engine::{RunResult, StepMetrics};
use crate::perp_engine::PerpStepMetrics;
use crate::report::{over_time, usd};
use crate::scenario::Scenario;

/// Headline perp numbers of one run, per market.
#[derive(Debug, Clone, PartialEq)]
pub struct PerpTotals {
    pub name: String,
    pub first: PerpStepMetrics,
    pub last: PerpStepMetrics,
    pub peak_oi_usd: f64,
    pub low_oi_usd: f64,
    pub low_pool_value_usd: f64,
    pub peak_funding_bps: i64,
    pub peak_shortfall_usd: f64,
    pub peak_accounts_short: usize,
    pub liquidations: usize,
}

fn oi(m: &PerpStepMetrics) -> f64 {
    m.long_oi_usd + m.short_oi_usd
}

pub fn totals(scenario: &Scenario, run: &RunResult) -> Vec<PerpTotals> {
    let series = |p: usize| run.steps.iter().map(move |s| &s.perps[p]);
    scenario
        .perps
        .iter()
        .enumerate()
        .filter(|_| !run.steps.is_empty())
        .map(|(p, spec)| PerpTotals {
            name: spec.name.clone(),
            first: run.steps[0].perps[p].clone(),
            last: run.steps[run.steps.len() - 1].perps[p].clone(),
            peak_oi_usd: series(p).map(oi).fold(0.0, f64::max),
            low_oi_usd: series(p).map(oi).fold(f64::INFINITY, f64::min),
            low_pool_value_usd: series(p).map(|m| m.pool_value_usd).fold(f64::INFINITY, f64::min),
            peak_funding_bps: series(p)
                .map(|m| m.funding_bps_per_day)
                .max_by_key(|r| r.abs())
                .unwrap_or(0),
            peak_shortfall_usd: series(p).map(|m| m.shortfall_usd).fold(0.0, f64::max),
            peak_accounts_short: series(p).map(|m| m.accounts_short).max().unwrap_or(0),
            liquidations: series(p).map(|m| m.liquidations).sum(),
        })
        .collect()
}

/// The CSV header's perp columns.
pub fn csv_header(scenario: &Scenario, out: &mut String) {
    for spec in &scenario.perps {
        let n = &spec.name;
        let _ = write!(
            out,
            ",{n}_long_oi_usd,{n}_short_oi_usd,{n}_pool_deposit_usd,{n}_pool_value_usd,{n}_traders_gains_usd,{n}_funding_bps_per_day,{n}_shortfall_usd,{n}_accounts_short,{n}_unpaid_usd,{n}_liquidations,{n}_socialised_loss_usd"
        );
    }
}

/// One step's perp columns.
pub fn csv_row(step: &StepMetrics, out: &mut String) {
    for m in &step.perps {
        let _ = write!(
            out,
            ",{:.2},{:.2},{:.2},{:.2},{:.2},{},{:.2},{},{:.2},{},{:.2}",
            m.long_oi_usd,
            m.short_oi_usd,
            m.pool_deposit_usd,
            m.pool_value_usd,
            m.traders_gains_usd,
            m.funding_bps_per_day,
            m.shortfall_usd,
            m.accounts_short,
            m.unpaid_usd,
            m.liquidations,
            m.socialised_loss_usd
        );
    }
}

/// Lines of the terminal summary (with feedback).
pub fn summary(scenario: &Scenario, run: &RunResult, out: &mut String) {
    for t in totals(scenario, run) {
        let _ = writeln!(
            out,
            "  {}: open interest {} -> {} (low {}); pool value {} -> {} (low {}), deposit {} against traders' gains {} at the end; funding up to {} bps/day",
            t.name,
            usd(oi(&t.first)),
            usd(oi(&t.last)),
            usd(t.low_oi_usd),
            usd(t.first.pool_value_usd),
            usd(t.last.pool_value_usd),
            usd(t.low_pool_value_usd),
            usd(t.last.pool_deposit_usd),
            usd(t.last.traders_gains_usd),
            t.peak_funding_bps
        );
        let _ = writeln!(
            out,
            "  {}: losses beyond collateral up to {} on {} accounts; gains left unpaid {}; perp liquidations {}, loss socialised onto the pool {}",
            t.name,
            usd(t.peak_shortfall_usd),
            t.peak_accounts_short,
            usd(t.last.unpaid_usd),
            t.liquidations,
            usd(t.last.socialised_loss_usd)
        );
    }
    if !scenario.perps.is_empty() && run.perp_orders_refused > 0 {
        let _ = writeln!(out, "  perp orders refused at setup: {}", run.perp_orders_refused);
    }
}

/// The report's perp section (empty without perps).
pub fn markdown(scenario: &Scenario, with: &RunResult, without: &RunResult) -> String {
    if scenario.perps.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Perps\n\nOpen interest at the oracle price; the pool's value is `PerpMarket::pool_value` (its deposit less the traders' PnL, rounded down), its capacity to pay is its deposit against the traders' gains; shortfall is traders' losses beyond their settle-bank balance (what a perp bankruptcy would write off onto the pool). Perp liquidations and the socialised loss are the keepers' `PerpLiquidation` and `PerpBankruptcyResolved` events (`perp_engine::perp_liquidation_metrics`).\n\n| market | | with feedback | without |\n|---|---|---:|---:|\n");
    for (a, b) in totals(scenario, with).iter().zip(totals(scenario, without)) {
        let rows: [(&str, String, String); 9] = [
            ("open interest at the start", usd(oi(&a.first)), usd(oi(&b.first))),
            ("open interest at the end", usd(oi(&a.last)), usd(oi(&b.last))),
            (
                "pool value start -> end",
                format!("{} -> {}", usd(a.first.pool_value_usd), usd(a.last.pool_value_usd)),
                format!("{} -> {}", usd(b.first.pool_value_usd), usd(b.last.pool_value_usd)),
            ),
            (
                "pool deposit / traders' gains at the end",
                format!("{} / {}", usd(a.last.pool_deposit_usd), usd(a.last.traders_gains_usd)),
                format!("{} / {}", usd(b.last.pool_deposit_usd), usd(b.last.traders_gains_usd)),
            ),
            (
                "peak funding (bps/day)",
                a.peak_funding_bps.to_string(),
                b.peak_funding_bps.to_string(),
            ),
            (
                "peak losses beyond collateral",
                format!("{} ({} accounts)", usd(a.peak_shortfall_usd), a.peak_accounts_short),
                format!("{} ({} accounts)", usd(b.peak_shortfall_usd), b.peak_accounts_short),
            ),
            ("gains left unpaid at the end", usd(a.last.unpaid_usd), usd(b.last.unpaid_usd)),
            ("perp liquidations", a.liquidations.to_string(), b.liquidations.to_string()),
            (
                "loss socialised onto the pool",
                usd(a.last.socialised_loss_usd),
                usd(b.last.socialised_loss_usd),
            ),
        ];
        for (name, x, y) in rows {
            let _ = writeln!(out, "| {} | {name} | {x} | {y} |", a.name);
        }
    }
    for (file, title, ..) in CHARTS {
        let _ = write!(out, "\n![{title}](charts/{file}.svg)\n");
    }
    out.push('\n');
    out
}

/// A per-step perp value a chart draws.
type Field = fn(&PerpStepMetrics) -> f64;

/// One line of a perp chart: its label (after the market's name), the value, its colour in
/// [`PALETTE`], and whether it comes from the run without feedback (drawn dashed).
type Line = (&'static str, Field, usize, bool);

/// The perp charts: file name, title, y axis and its scale, lines (one set per market).
const CHARTS: [(&str, &str, &str, Scale, &[Line]); 5] = [
    (
        "perp_open_interest",
        "Perp open interest at the oracle price",
        "open interest",
        Scale::Money,
        &[
            ("long, with feedback", |m| m.long_oi_usd, 2, false),
            ("short, with feedback", |m| m.short_oi_usd, 3, false),
            ("long, without", |m| m.long_oi_usd, 4, true),
            ("short, without", |m| m.short_oi_usd, 9, true),
        ],
    ),
    (
        "perp_pool",
        "Perp pool: value, deposit and what it owes (with feedback)",
        "USD",
        Scale::Money,
        &[
            ("pool value", |m| m.pool_value_usd, 0, false),
            ("pool deposit", |m| m.pool_deposit_usd, 2, false),
            ("traders' gains", |m| m.traders_gains_usd, 3, false),
            ("losses beyond collateral", |m| m.shortfall_usd, 1, false),
        ],
    ),
    (
        "perp_funding",
        "Perp funding rate (+ longs pay)",
        "bps per day",
        Scale::Number,
        &[
            ("with feedback", |m| m.funding_bps_per_day as f64, 1, false),
            ("without", |m| m.funding_bps_per_day as f64, 0, true),
        ],
    ),
    (
        "perp_liquidations",
        "Perp liquidations per step",
        "liquidations",
        Scale::Number,
        &[
            ("with feedback", |m| m.liquidations as f64, 1, false),
            ("without", |m| m.liquidations as f64, 0, true),
        ],
    ),
    (
        "perp_socialised_loss",
        "Perp loss socialised onto the pool (cumulative)",
        "loss",
        Scale::Money,
        &[
            ("with feedback", |m| m.socialised_loss_usd, 1, false),
            ("without", |m| m.socialised_loss_usd, 0, true),
        ],
    ),
];

/// The perp charts (none without perps).
pub fn charts(
    dir: &Path,
    scenario: &Scenario,
    with: &RunResult,
    without: &RunResult,
) -> Result<()> {
    if scenario.perps.is_empty() {
        return Ok(());
    }
    let time = TimeAxis::for_run(scenario.steps, scenario.step_seconds);
    for (file, title, unit, scale, lines) in CHARTS {
        let mut series = Vec::new();
        for (p, spec) in scenario.perps.iter().enumerate() {
            for &(label, field, color, from_without) in lines {
                let run = if from_without { without } else { with };
                series.push(Series {
                    name: format!("{} {label}", spec.name),
                    points: over_time(run, &time, |m| field(&m.perps[p])),
                    color: PALETTE[(3 * p + color) % PALETTE.len()],
                    stroke: if from_without { Stroke::Dashed } else { Stroke::Solid },
                });
            }
        }
        let y = Axis { label: unit.into(), scale };
        line_chart(&dir.join(format!("{file}.svg")), &Chart::new(title, time.axis(), y, series))?;
    }
    Ok(())
}
