//! The lending markets' part of a report: each bank's calibration, utilization, borrow and
//! deposit rates (against the curve's kink) and the liquidity lenders can withdraw, over time;
//! the lenders' run (asked for against withdrawn); and the liquidation-capacity table. CSV
//! columns, Markdown sections, summary lines and charts, in the style of [`crate::report`].

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::charts::{line_chart, Axis, Chart, Series, Stroke, TimeAxis, PALETTE};
use crate::engine::{RunResult, StepMetrics};
use crate::report::usd;
use crate::scenario::Scenario;

/// One bank over a run: (start, peak, end) utilization bps; the same for the borrow and
/// deposit APR (bps); the least liquidity available (dollars); the lenders' run at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct BankLiquidityTotals {
    pub symbol: String,
    pub utilization_bps: (u32, u32, u32),
    pub borrow_apr_bps: (u32, u32, u32),
    pub deposit_apr_bps: (f64, f64, f64),
    pub available_usd_start: f64,
    pub available_usd_low: f64,
    pub lenders_asked_usd: f64,
    pub lenders_withdrawn_usd: f64,
}

pub fn totals(scenario: &Scenario, run: &RunResult) -> Vec<BankLiquidityTotals> {
    let (Some(first), Some(last)) = (run.steps.first(), run.steps.last()) else {
        return Vec::new();
    };
    scenario
        .banks
        .iter()
        .enumerate()
        .map(|(b, spec)| {
            let util = run.steps.iter().map(|s| s.utilization_bps[b]).max().unwrap_or(0);
            let apr = run.steps.iter().map(|s| s.borrow_apr_bps[b]).max().unwrap_or(0);
            let deposit_apr =
                run.steps.iter().map(|s| s.liquidity[b].deposit_apr_bps).fold(0.0, f64::max);
            BankLiquidityTotals {
                symbol: spec.symbol.clone(),
                utilization_bps: (first.utilization_bps[b], util, last.utilization_bps[b]),
                borrow_apr_bps: (first.borrow_apr_bps[b], apr, last.borrow_apr_bps[b]),
                deposit_apr_bps: (
                    first.liquidity[b].deposit_apr_bps,
                    deposit_apr,
                    last.liquidity[b].deposit_apr_bps,
                ),
                available_usd_start: first.liquidity[b].available_usd,
                available_usd_low: run
                    .steps
                    .iter()
                    .map(|s| s.liquidity[b].available_usd)
                    .fold(f64::INFINITY, f64::min),
                lenders_asked_usd: last.liquidity[b].lenders_asked_usd,
                lenders_withdrawn_usd: last.liquidity[b].lenders_withdrawn_usd,
            }
        })
        .collect()
}

/// The CSV header's columns per bank.
pub fn csv_header(scenario: &Scenario, out: &mut String) {
    for bank in &scenario.banks {
        let s = &bank.symbol;
        let _ = write!(
            out,
            ",{s}_deposit_apr_bps,{s}_available_usd,{s}_vault_usd,{s}_lenders_asked_usd,{s}_lenders_withdrawn_usd"
        );
    }
}

/// One step's columns.
pub fn csv_row(m: &StepMetrics, out: &mut String) {
    for l in &m.liquidity {
        let _ = write!(
            out,
            ",{:.2},{:.2},{:.2},{:.2},{:.2}",
            l.deposit_apr_bps,
            l.available_usd,
            l.vault_usd,
            l.lenders_asked_usd,
            l.lenders_withdrawn_usd
        );
    }
}

fn pct(bps: f64) -> String {
    format!("{:.1}%", bps / 100.0)
}

/// The Markdown sections: utilization and liquidity (run with feedback), then capacity.
pub fn markdown(scenario: &Scenario, with: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Utilization, rates and liquidity (with feedback)\n");
    let _ = writeln!(out, "Calibration sizes the lenders' deposit after the population is opened so that borrows / deposits reaches the bank's target (within {} bps). Rates are the program's: the borrow APR from its curve at the step's utilization, the deposit APR from one day of its own interest accrual. *Available* is what lenders can withdraw (deposits − borrows).\n", crate::calibration::TOLERANCE_BPS);
    let _ = writeln!(out, "| bank | target | after setup | utilization start / peak / end | kink (rate there) | borrow APR start / peak / end | deposit APR start / peak | available start / lowest |\n|---|---:|---:|---:|---:|---:|---:|---:|");
    for ((spec, setup), t) in scenario.banks.iter().zip(&with.banks).zip(totals(scenario, with)) {
        let (target, reached) = match setup.calibrated {
            Some(c) => (pct(c.target_bps as f64), pct(c.reached_bps as f64)),
            None => ("-".into(), "-".into()),
        };
        let (u0, u1, u2) = t.utilization_bps;
        let (r0, r1, r2) = t.borrow_apr_bps;
        let _ = writeln!(
            out,
            "| {} | {target} | {reached} | {} / {} / {} | {} ({}) | {} / {} / {} | {} / {} | {} / {} |",
            spec.symbol,
            pct(u0 as f64),
            pct(u1 as f64),
            pct(u2 as f64),
            pct(setup.kink_utilization_bps as f64),
            pct(setup.kink_rate_bps as f64),
            pct(r0 as f64),
            pct(r1 as f64),
            pct(r2 as f64),
            pct(t.deposit_apr_bps.0),
            pct(t.deposit_apr_bps.1),
            usd(t.available_usd_start),
            usd(t.available_usd_low),
        );
    }
    if let Some(run) = &scenario.lender_run {
        let _ = writeln!(out, "\n**Lenders' run** from step {}: {}% of their start deposit asked back at every step (cumulative), withdrawn as far as liquidity allows.\n\n| bank | asked for | withdrawn | left behind |\n|---|---:|---:|---:|", run.from_step, run.request_pct);
        for t in totals(scenario, with).iter().filter(|t| run.runs_on(&t.symbol)) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                t.symbol,
                usd(t.lenders_asked_usd),
                usd(t.lenders_withdrawn_usd),
                usd(t.lenders_asked_usd - t.lenders_withdrawn_usd)
            );
        }
    }
    let _ = writeln!(out, "\n![rates](charts/rates.svg)\n\n![liquidity](charts/liquidity.svg)\n");
    out.push_str(&capacity_markdown(with));
    out
}

/// The capacity tables (after setup, and at the end if measured).
pub fn capacity_markdown(with: &RunResult) -> String {
    let mut out = String::new();
    for (when, rows) in [("after setup", &with.capacity_start), ("at the end", &with.capacity_end)]
    {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## Liquidation capacity ({when})\n");
        let _ = writeln!(out, "Each collateral's price alone shocked down from the state {when}. *Liquidatable*: accounts holding it with debt that the program's `health_under_shock` view says would be liquidatable. *Seized*: the collateral the keeper's planner takes from them, step after step until each is back at its end target (to the liquidator and the insurance fund), valued at the shocked price; *debt*: what the liquidators take over; *written off*: what the program would write off instead (an account left insolvent with collateral below the dust threshold), paid by insurance first. *Sale*: selling the seized tokens at once into the scenario's market model at the shocked price. *Insurance*: this bank's fund / all funds.\n");
        let _ = writeln!(out, "| collateral | shock | liquidatable | seized | seized (USD) | debt taken over | written off | sale proceeds | price impact | market | insurance |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | -{}% | {} of {}{} | {:.4} | {} | {} | {} | {} | {:.2}% | {} | {} / {} |",
                r.symbol,
                r.shock_pct,
                r.liquidatable,
                r.accounts_checked,
                if r.unplanned > 0 {
                    format!(" ({} unplanned)", r.unplanned)
                } else {
                    String::new()
                },
                r.seized_tokens,
                usd(r.seized_usd),
                usd(r.debt_usd),
                usd(r.written_off_usd),
                usd(r.sale_proceeds_usd),
                r.price_impact_pct,
                r.depth,
                usd(r.bank_insurance_usd),
                usd(r.insurance_usd)
            );
        }
        out.push('\n');
    }
    out
}

/// Summary lines: calibration, the lenders' run, capacity after setup.
pub fn summary(scenario: &Scenario, with: &RunResult, out: &mut String) {
    for (spec, setup) in scenario.banks.iter().zip(&with.banks) {
        if let Some(c) = setup.calibrated {
            let _ = writeln!(
                out,
                "  {}: calibrated to {} utilization (target {}); kink {} at {}",
                spec.symbol,
                pct(c.reached_bps as f64),
                pct(c.target_bps as f64),
                pct(setup.kink_rate_bps as f64),
                pct(setup.kink_utilization_bps as f64)
            );
        }
    }
    if let Some(run) = &scenario.lender_run {
        for t in totals(scenario, with).iter().filter(|t| run.runs_on(&t.symbol)) {
            let _ = writeln!(
                out,
                "  {} lenders asked for {}, withdrew {}; peak utilization {}, peak borrow APR {}",
                t.symbol,
                usd(t.lenders_asked_usd),
                usd(t.lenders_withdrawn_usd),
                pct(t.utilization_bps.1 as f64),
                pct(t.borrow_apr_bps.1 as f64)
            );
        }
    }
    for r in &with.capacity_start {
        let _ = writeln!(
            out,
            "  capacity {} -{}%: {} of {} liquidatable, {} seized ({:.2}% impact), {} written off, insurance {}",
            r.symbol,
            r.shock_pct,
            r.liquidatable,
            r.accounts_checked,
            usd(r.seized_usd),
            r.price_impact_pct,
            usd(r.written_off_usd),
            usd(r.insurance_usd)
        );
    }
}

fn points(
    time: &TimeAxis,
    run: &RunResult,
    value: impl Fn(&StepMetrics) -> f64,
) -> Vec<(f64, f64)> {
    run.steps.iter().map(|m| (time.at(m.step), value(m))).collect()
}

/// `rates.svg` (borrow and deposit APR per bank, the kink rate of calibrated banks) and
/// `liquidity.svg` (available liquidity; the lenders' run, asked for and withdrawn).
pub fn charts(dir: &Path, scenario: &Scenario, with: &RunResult) -> Result<()> {
    let time = TimeAxis::for_run(scenario.steps, scenario.step_seconds);
    let mut rates = Vec::new();
    let mut liquidity = Vec::new();
    for (b, spec) in scenario.banks.iter().enumerate() {
        let color = PALETTE[b % PALETTE.len()];
        let borrowed = with.steps.iter().any(|m| m.borrow_apr_bps[b] > 0);
        if borrowed {
            rates.push(Series {
                name: format!("{} borrow APR", spec.symbol),
                points: points(&time, with, |m| m.borrow_apr_bps[b] as f64 / 100.0),
                color,
                stroke: Stroke::Solid,
            });
            rates.push(Series {
                name: format!("{} deposit APR", spec.symbol),
                points: points(&time, with, |m| m.liquidity[b].deposit_apr_bps / 100.0),
                color,
                stroke: Stroke::Dotted,
            });
        }
        if let (Some(_), Some(setup)) = (spec.target_utilization_pct, with.banks.get(b)) {
            let rate = setup.kink_rate_bps as f64 / 100.0;
            rates.push(Series {
                name: format!("{} rate at the kink", spec.symbol),
                points: points(&time, with, |_| rate),
                color: PALETTE[(b + 3) % PALETTE.len()],
                stroke: Stroke::Dotted,
            });
        }
        liquidity.push(Series {
            name: format!("{} available to withdraw", spec.symbol),
            points: points(&time, with, |m| m.liquidity[b].available_usd),
            color,
            stroke: Stroke::Solid,
        });
        if scenario.lender_run.as_ref().is_some_and(|r| r.runs_on(&spec.symbol)) {
            liquidity.push(Series {
                name: format!("{} lenders asked for (cumulative)", spec.symbol),
                points: points(&time, with, |m| m.liquidity[b].lenders_asked_usd),
                color: PALETTE[(b + 3) % PALETTE.len()],
                stroke: Stroke::Dotted,
            });
            liquidity.push(Series {
                name: format!("{} lenders withdrew (cumulative)", spec.symbol),
                points: points(&time, with, |m| m.liquidity[b].lenders_withdrawn_usd),
                color: PALETTE[(b + 4) % PALETTE.len()],
                stroke: Stroke::Solid,
            });
        }
    }
    line_chart(
        &dir.join("rates.svg"),
        &Chart::new(
            "Borrow and deposit APR (with feedback)",
            time.axis(),
            Axis::percent("APR"),
            rates,
        ),
    )?;
    line_chart(
        &dir.join("liquidity.svg"),
        &Chart::new(
            "Liquidity lenders can withdraw (with feedback)",
            time.axis(),
            Axis::money("USD"),
            liquidity,
        ),
    )?;
    Ok(())
}
