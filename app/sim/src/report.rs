//! The stress lab's output: a terminal summary, and a report directory with Markdown tables, a
//! CSV of every step, and SVG charts (plotters) comparing the run with liquidation feedback to
//! the run without it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::charts::{
    feedback_pair, line_chart, Axis, Chart, RGBColor, Series, Stroke, TimeAxis, PALETTE,
    WITHOUT_FEEDBACK,
};
use crate::engine::{RunResult, StepMetrics};
use crate::scenario::Scenario;

/// The headline numbers of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Borrows the program refused when the population was opened (e.g. the size-aware weight).
    pub borrows_refused: usize,
    pub liquidations: usize,
    pub liquidated_debt_usd: f64,
    pub bankruptcies: usize,
    pub bad_debt_usd: f64,
    pub insurance_paid_usd: f64,
    pub sold_usd: f64,
    pub worst_health_p5: f64,
    pub peak_liquidatable_left: usize,
    /// Per bank: (lowest price, peak utilization bps, peak borrow APR bps).
    pub banks: Vec<(f64, u32, u32)>,
}

pub fn totals(run: &RunResult) -> Totals {
    let last = run.steps.last();
    let bank_count = last.map(|s| s.prices.len()).unwrap_or(0);
    Totals {
        borrows_refused: run.borrows_refused,
        liquidations: run.steps.iter().map(|s| s.liquidations).sum(),
        liquidated_debt_usd: run.steps.iter().map(|s| s.liquidated_debt_usd).sum(),
        bankruptcies: run.steps.iter().map(|s| s.bankruptcies).sum(),
        bad_debt_usd: last.map(|s| s.bad_debt_usd).unwrap_or(0.0),
        insurance_paid_usd: last.map(|s| s.insurance_paid_usd).unwrap_or(0.0),
        sold_usd: run.steps.iter().map(|s| s.sold_usd).sum(),
        worst_health_p5: run.steps.iter().map(|s| s.health_p5).fold(f64::INFINITY, f64::min),
        peak_liquidatable_left: run.steps.iter().map(|s| s.liquidatable_left).max().unwrap_or(0),
        banks: (0..bank_count)
            .map(|b| {
                let low = run.steps.iter().map(|s| s.prices[b]).fold(f64::INFINITY, f64::min);
                let util = run.steps.iter().map(|s| s.utilization_bps[b]).max().unwrap_or(0);
                let apr = run.steps.iter().map(|s| s.borrow_apr_bps[b]).max().unwrap_or(0);
                (low, util, apr)
            })
            .collect(),
    }
}

/// For each bank: the exogenous drawdown, the drawdown with feedback, and their ratio (the
/// spiral's amplification; 1 = none).
pub fn amplification(scenario: &Scenario, run: &RunResult) -> Vec<(String, f64, f64, f64)> {
    scenario
        .banks
        .iter()
        .enumerate()
        .map(|(b, spec)| {
            let start = spec.price;
            let exo_low = run.steps.iter().map(|s| s.exogenous[b]).fold(start, f64::min);
            let low = run.steps.iter().map(|s| s.prices[b]).fold(start, f64::min);
            let exo = 1.0 - exo_low / start;
            let real = 1.0 - low / start;
            let ratio = if exo > 1e-9 {
                real / exo
            } else if real > 1e-9 {
                f64::INFINITY
            } else {
                1.0
            };
            (spec.symbol.clone(), exo, real, ratio)
        })
        .collect()
}

/// Whole dollars with thousands separators.
pub fn usd(value: f64) -> String {
    let whole = value.round() as i128;
    let mut digits = whole.unsigned_abs().to_string();
    let mut grouped = String::new();
    while digits.len() > 3 {
        let tail = digits.split_off(digits.len() - 3);
        grouped = format!(",{tail}{grouped}");
    }
    format!("{}${digits}{grouped}", if whole < 0 { "-" } else { "" })
}

/// The terminal summary.
pub fn summary(scenario: &Scenario, with: &RunResult, without: &RunResult) -> String {
    let (a, b) = (totals(with), totals(without));
    let mut out = String::new();
    let _ = writeln!(out, "scenario {}: {}", scenario.name, scenario.description);
    let _ = writeln!(
        out,
        "  {} accounts ({} whales), {} steps of {} s, {} keepers; {} borrows refused at setup",
        with.accounts,
        with.whales,
        scenario.steps,
        scenario.step_seconds,
        scenario.keepers.count,
        with.borrows_refused
    );
    let _ = writeln!(out, "  {:<34} {:>16} {:>16}", "", "with feedback", "without");
    let rows: [(&str, String, String); 7] = [
        ("liquidations", a.liquidations.to_string(), b.liquidations.to_string()),
        ("debt liquidated", usd(a.liquidated_debt_usd), usd(b.liquidated_debt_usd)),
        ("collateral sold by liquidators", usd(a.sold_usd), usd(b.sold_usd)),
        ("bankruptcies written off", a.bankruptcies.to_string(), b.bankruptcies.to_string()),
        ("paid by insurance", usd(a.insurance_paid_usd), usd(b.insurance_paid_usd)),
        ("bad debt shared by depositors", usd(a.bad_debt_usd), usd(b.bad_debt_usd)),
        (
            "worst 5th-pct health ratio",
            format!("{:.3}", a.worst_health_p5),
            format!("{:.3}", b.worst_health_p5),
        ),
    ];
    for (name, x, y) in rows.into_iter().chain(attack_rows(scenario, with, without)) {
        let _ = writeln!(out, "  {name:<34} {x:>16} {y:>16}");
    }
    if scenario.attacker.is_some() {
        let _ = writeln!(out, "  defences: {}", defences(scenario));
        for (run, name) in [(with, "with feedback"), (without, "without")] {
            let limits: Vec<String> =
                run.attacker_limited_by.iter().map(|(e, n)| format!("{e} {n}x")).collect();
            let _ = writeln!(out, "  attacker's borrows cut short ({name}): {}", limits.join(", "));
        }
    }
    for (symbol, exo, real, ratio) in amplification(scenario, with) {
        if exo > 0.0 {
            let _ = writeln!(
                out,
                "  {symbol}: exogenous drawdown {:.1}%, with feedback {:.1}% (amplification x{ratio:.2})",
                exo * 100.0,
                real * 100.0
            );
        } else if real > 0.0005 {
            let _ = writeln!(
                out,
                "  {symbol}: no exogenous move; liquidators' sales moved it {:.1}%",
                real * 100.0
            );
        }
    }
    crate::perp_report::summary(scenario, with, &mut out);
    crate::liquidity_report::summary(scenario, with, &mut out);
    for (reason, count) in &with.skipped {
        let _ = writeln!(out, "  left by the keepers {count}x: {reason}");
    }
    let _ = writeln!(
        out,
        "  throughput: {} liquidation txs in {:.1} s of keeper rounds ({:.0} tx/s); {} txs in all; setup {:.1} s, steps {:.1} s; {} invariant checks passed",
        with.liquidation_txs,
        with.keeper_secs,
        with.liquidation_txs as f64 / with.keeper_secs.max(1e-9),
        with.transactions,
        with.setup_secs,
        with.run_secs,
        with.invariant_checks
    );
    out
}

/// The attack's rows (scenarios with an attacker): what it borrowed, the loss (bad debt before
/// insurance), and the insurance funds at the start.
fn attack_rows(
    scenario: &Scenario,
    with: &RunResult,
    without: &RunResult,
) -> Vec<(&'static str, String, String)> {
    if scenario.attacker.is_none() {
        return Vec::new();
    }
    let (a, b) = (totals(with), totals(without));
    let insurance: f64 = scenario.banks.iter().map(|b| b.insurance_usd).sum();
    vec![
        ("attacker borrowed", usd(with.attacker_borrowed_usd), usd(without.attacker_borrowed_usd)),
        (
            "loss (insurance + shared)",
            usd(a.insurance_paid_usd + a.bad_debt_usd),
            usd(b.insurance_paid_usd + b.bad_debt_usd),
        ),
        ("insurance funds at the start", usd(insurance), usd(insurance)),
    ]
}

/// Which oracle-manipulation defences a scenario runs with.
pub fn defences(scenario: &Scenario) -> String {
    let stable = match scenario.stable_price {
        Some(s) => format!("stable price = Pyth's EMA (half-life {} s)", s.half_life_secs),
        None => "no stable price (EMA = oracle)".to_owned(),
    };
    let limits: Vec<String> = scenario
        .banks
        .iter()
        .filter(|b| b.net_borrow_limit_usd > 0.0)
        .map(|b| {
            format!(
                "{} {} per {} s",
                b.symbol,
                usd(b.net_borrow_limit_usd),
                b.net_borrow_limit_window_secs
            )
        })
        .collect();
    let limits =
        if limits.is_empty() { "no net borrow limit".to_owned() } else { limits.join(", ") };
    format!("{stable}; net borrow limits: {limits}")
}

/// Writes `report.md`, `metrics.csv` and `charts/*.svg` into `dir`.
pub fn write(dir: &Path, scenario: &Scenario, with: &RunResult, without: &RunResult) -> Result<()> {
    std::fs::create_dir_all(dir.join("charts"))
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("metrics.csv"), csv(scenario, &[with, without]))?;
    charts(&dir.join("charts"), scenario, with, without)?;
    crate::perp_report::charts(&dir.join("charts"), scenario, with, without)?;
    crate::liquidity_report::charts(&dir.join("charts"), scenario, with)?;
    std::fs::write(dir.join("report.md"), markdown(scenario, with, without))?;
    Ok(())
}

/// Every step of every run, one row each.
pub fn csv(scenario: &Scenario, runs: &[&RunResult]) -> String {
    let mut out = String::from("feedback,step,liquidations,liquidated_debt_usd,bankruptcies,bad_debt_usd,insurance_paid_usd,insurance_usd,sold_usd,health_p5,health_p25,health_p50,accounts_with_debt,liquidatable_left,deposits_usd,borrows_usd");
    for bank in &scenario.banks {
        let s = &bank.symbol;
        let _ = write!(out, ",{s}_price,{s}_exogenous,{s}_utilization_bps,{s}_apr_bps");
    }
    crate::perp_report::csv_header(scenario, &mut out);
    crate::liquidity_report::csv_header(scenario, &mut out);
    out.push('\n');
    for run in runs {
        for m in &run.steps {
            let _ = write!(
                out,
                "{},{},{},{:.2},{},{:.2},{:.2},{:.2},{:.2},{:.6},{:.6},{:.6},{},{},{:.2},{:.2}",
                run.feedback,
                m.step,
                m.liquidations,
                m.liquidated_debt_usd,
                m.bankruptcies,
                m.bad_debt_usd,
                m.insurance_paid_usd,
                m.insurance_usd,
                m.sold_usd,
                m.health_p5,
                m.health_p25,
                m.health_p50,
                m.accounts_with_debt,
                m.liquidatable_left,
                m.deposits_usd,
                m.borrows_usd
            );
            for b in 0..scenario.banks.len() {
                let _ = write!(
                    out,
                    ",{:.8},{:.8},{},{}",
                    m.prices[b], m.exogenous[b], m.utilization_bps[b], m.borrow_apr_bps[b]
                );
            }
            crate::perp_report::csv_row(m, &mut out);
            crate::liquidity_report::csv_row(m, &mut out);
            out.push('\n');
        }
    }
    out
}

fn markdown(scenario: &Scenario, with: &RunResult, without: &RunResult) -> String {
    let (a, b) = (totals(with), totals(without));
    let mut out = String::new();
    let _ = writeln!(out, "# Stress report: {}\n\n{}\n", scenario.name, scenario.description);
    let _ = writeln!(
        out,
        "{} accounts ({} whales), {} steps of {} s, {} keepers, seed {}. Every number below comes from the real `cross_margin` program running in LiteSVM; the scenario runs twice, with the liquidators' sales moving prices (feedback) and without.\n",
        with.accounts, with.whales, scenario.steps, scenario.step_seconds, scenario.keepers.count, scenario.seed
    );
    let _ = writeln!(out, "| | with feedback | without |\n|---|---:|---:|");
    let _ = writeln!(out, "| liquidations | {} | {} |", a.liquidations, b.liquidations);
    let _ = writeln!(
        out,
        "| debt liquidated | {} | {} |",
        usd(a.liquidated_debt_usd),
        usd(b.liquidated_debt_usd)
    );
    let _ = writeln!(
        out,
        "| collateral sold by liquidators | {} | {} |",
        usd(a.sold_usd),
        usd(b.sold_usd)
    );
    let _ = writeln!(out, "| bankruptcies written off | {} | {} |", a.bankruptcies, b.bankruptcies);
    let _ = writeln!(
        out,
        "| paid by insurance | {} | {} |",
        usd(a.insurance_paid_usd),
        usd(b.insurance_paid_usd)
    );
    let _ = writeln!(
        out,
        "| bad debt shared by depositors | {} | {} |",
        usd(a.bad_debt_usd),
        usd(b.bad_debt_usd)
    );
    let _ = writeln!(
        out,
        "| worst 5th-percentile health ratio | {:.3} | {:.3} |",
        a.worst_health_p5, b.worst_health_p5
    );
    for (name, x, y) in attack_rows(scenario, with, without) {
        let _ = writeln!(out, "| {name} | {x} | {y} |");
    }
    if scenario.attacker.is_some() {
        let _ = writeln!(out, "\nDefences: {}.", defences(scenario));
    }
    let _ = writeln!(
        out,
        "| most accounts left liquidatable after a round | {} | {} |",
        a.peak_liquidatable_left, b.peak_liquidatable_left
    );
    let _ = writeln!(out, "\n## Prices and the spiral\n\n| bank | exogenous drawdown | with feedback | amplification | peak utilization | peak borrow APR |\n|---|---:|---:|---:|---:|---:|");
    for ((symbol, exo, real, ratio), (_, util, apr)) in
        amplification(scenario, with).into_iter().zip(&a.banks)
    {
        let ratio = if exo > 0.0 { format!("x{ratio:.2}") } else { "-".into() };
        let _ = writeln!(
            out,
            "| {symbol} | {:.1}% | {:.1}% | {ratio} | {:.1}% | {:.1}% |",
            exo * 100.0,
            real * 100.0,
            *util as f64 / 100.0,
            *apr as f64 / 100.0
        );
    }
    let _ = writeln!(out, "\n![prices](charts/price.svg)\n\n![health](charts/health.svg)\n\n![liquidations](charts/liquidations.svg)\n\n![bad debt](charts/bad_debt.svg)\n\n![insurance](charts/insurance.svg)\n\n![utilization](charts/utilization.svg)\n");
    out.push_str(&crate::perp_report::markdown(scenario, with, without));
    out.push_str(&crate::liquidity_report::markdown(scenario, with));
    let _ = writeln!(
        out,
        "## Run\n\n{} transactions; setup {:.1} s, {} steps {:.1} s; {} liquidation transactions in {:.1} s of keeper rounds ({:.0} per second); {} invariant checks passed (vault conservation per bank per step, no healthy account liquidated, bad debt only from exhausted collateral); largest vault surplus (rounding dust) {} native units. Per-step data: `metrics.csv`.",
        with.transactions,
        with.setup_secs,
        scenario.steps,
        with.run_secs,
        with.liquidation_txs,
        with.keeper_secs,
        with.liquidation_txs as f64 / with.keeper_secs.max(1e-9),
        with.invariant_checks,
        with.max_vault_surplus
    );
    out
}

/// A run's values over time, one point per step, on `time`.
pub fn over_time(
    run: &RunResult,
    time: &TimeAxis,
    value: impl Fn(&StepMetrics) -> f64,
) -> Vec<(f64, f64)> {
    run.steps.iter().map(|m| (time.at(m.step), value(m))).collect()
}

/// A measure with feedback (solid) and without (dashed), in the `pair`-th pair's colours.
fn with_and_without(
    name: &str,
    pair: usize,
    time: &TimeAxis,
    (with, without): (&RunResult, &RunResult),
    value: &dyn Fn(&StepMetrics) -> f64,
) -> [Series; 2] {
    let (with_color, without_color, _) = feedback_pair(pair);
    [
        Series {
            name: format!("{name}, with feedback"),
            points: over_time(with, time, value),
            color: with_color,
            stroke: Stroke::Solid,
        },
        Series {
            name: format!("{name}, without"),
            points: over_time(without, time, value),
            color: without_color,
            stroke: Stroke::Dashed,
        },
    ]
}

fn charts(dir: &Path, scenario: &Scenario, with: &RunResult, without: &RunResult) -> Result<()> {
    let time = TimeAxis::for_run(scenario.steps, scenario.step_seconds);
    let runs = (with, without);
    // Prices relative to their start, for every asset that moves.
    let mut price_series = Vec::new();
    let moving = scenario.banks.iter().enumerate().filter(|(b, spec)| {
        with.steps.iter().any(|m| (m.prices[*b] - spec.price).abs() > spec.price * 1e-6)
    });
    for (pair, (b, spec)) in moving.enumerate() {
        let percent_of_start = move |m: &StepMetrics| m.prices[b] / spec.price * 100.0;
        price_series.extend(with_and_without(&spec.symbol, pair, &time, runs, &percent_of_start));
        if scenario.stable_price.is_some() {
            price_series.push(Series {
                name: format!("{} stable price (EMA), with feedback", spec.symbol),
                points: over_time(with, &time, |m| m.stable_prices[b] / spec.price * 100.0),
                color: feedback_pair(pair).2,
                stroke: Stroke::Dotted,
            });
        }
    }
    let chart =
        |title: &str, y: Axis, series: Vec<Series>| Chart::new(title, time.axis(), y, series);
    line_chart(
        &dir.join("price.svg"),
        &chart("Oracle price, % of the starting price", Axis::percent("price"), price_series),
    )?;

    type Percentile = (&'static str, RGBColor, fn(&StepMetrics) -> f64);
    let percentiles: [Percentile; 3] = [
        ("5th percentile, with feedback", PALETTE[1], |m| m.health_p5),
        ("25th percentile, with feedback", PALETTE[3], |m| m.health_p25),
        ("median, with feedback", PALETTE[2], |m| m.health_p50),
    ];
    let mut health: Vec<Series> = percentiles
        .into_iter()
        .map(|(name, color, value)| Series {
            name: name.into(),
            points: over_time(with, &time, value),
            color,
            stroke: Stroke::Solid,
        })
        .collect();
    health.push(Series {
        name: "5th percentile, without".into(),
        points: over_time(without, &time, |m| m.health_p5),
        color: WITHOUT_FEEDBACK,
        stroke: Stroke::Dashed,
    });
    line_chart(
        &dir.join("health.svg"),
        &chart(
            "Health distribution: maint health / maint-weighted liabilities",
            Axis::number("health ratio (0 = liquidatable)"),
            health,
        ),
    )?;
    line_chart(
        &dir.join("liquidations.svg"),
        &chart(
            &format!("Liquidations per step (steps of {} s)", scenario.step_seconds),
            Axis::number("liquidations"),
            with_and_without("liquidations", 0, &time, runs, &|m| m.liquidations as f64).into(),
        ),
    )?;
    line_chart(
        &dir.join("bad_debt.svg"),
        &chart(
            "Bad debt shared by depositors (cumulative)",
            Axis::money("bad debt"),
            with_and_without("bad debt", 0, &time, runs, &|m| m.bad_debt_usd).into(),
        ),
    )?;
    let mut insurance: Vec<Series> =
        with_and_without("insurance funds", 0, &time, runs, &|m| m.insurance_usd).into();
    insurance.extend(with_and_without("paid out (cumulative)", 1, &time, runs, &|m| {
        m.insurance_paid_usd
    }));
    line_chart(
        &dir.join("insurance.svg"),
        &chart("Insurance funds, and what they paid", Axis::money("USD"), insurance),
    )?;
    let utilization = scenario
        .banks
        .iter()
        .enumerate()
        .flat_map(|(b, spec)| {
            let color = PALETTE[b % PALETTE.len()];
            [
                Series {
                    name: format!("{} utilization", spec.symbol),
                    points: over_time(with, &time, |m| m.utilization_bps[b] as f64 / 100.0),
                    color,
                    stroke: Stroke::Solid,
                },
                Series {
                    name: format!("{} borrow APR", spec.symbol),
                    points: over_time(with, &time, |m| m.borrow_apr_bps[b] as f64 / 100.0),
                    color,
                    stroke: Stroke::Dotted,
                },
            ]
        })
        .collect();
    line_chart(
        &dir.join("utilization.svg"),
        &chart("Utilization and borrow APR (with feedback)", Axis::percent("percent"), utilization),
    )?;
    Ok(())
}
