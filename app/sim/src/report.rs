//! The stress lab's output: a terminal summary, and a report directory with Markdown tables, a
//! CSV of every step, and SVG charts (plotters) comparing the run with liquidation feedback to
//! the run without it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::engine::RunResult;
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

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub dashed: bool,
}

pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// An SVG line chart.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for s in series {
        for &(x, y) in &s.points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.08).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    let draw =
        |e: DrawingAreaErrorKind<std::io::Error>| anyhow::anyhow!("{}: {e:?}", path.display());
    root.fill(&WHITE).map_err(draw)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1.max(x0 + 1.0), y0..y1)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw)?;
    for s in series {
        let color = s.color;
        let style = color.stroke_width(2);
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(s.points.clone(), 6, 4, style)).map_err(draw)?
        } else {
            chart.draw_series(LineSeries::new(s.points.clone(), style)).map_err(draw)?
        };
        drawn.label(s.name.clone()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
        });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(draw)?;
    root.present().map_err(draw)?;
    Ok(())
}

fn points(run: &RunResult, value: impl Fn(&crate::engine::StepMetrics) -> f64) -> Vec<(f64, f64)> {
    run.steps.iter().map(|m| (m.step as f64, value(m))).collect()
}

fn charts(dir: &Path, scenario: &Scenario, with: &RunResult, without: &RunResult) -> Result<()> {
    // Prices relative to their start, for every asset that moves.
    let mut price_series = Vec::new();
    for (b, spec) in scenario.banks.iter().enumerate() {
        let moves = with.steps.iter().any(|m| (m.prices[b] - spec.price).abs() > spec.price * 1e-6);
        if !moves {
            continue;
        }
        let color = PALETTE[b % PALETTE.len()];
        price_series.push(Series {
            name: format!("{} with feedback", spec.symbol),
            points: points(with, |m| m.prices[b] / spec.price),
            color,
            dashed: false,
        });
        price_series.push(Series {
            name: format!("{} without (exogenous)", spec.symbol),
            points: points(without, |m| m.prices[b] / spec.price),
            color,
            dashed: true,
        });
        if scenario.stable_price.is_some() {
            price_series.push(Series {
                name: format!("{} stable price (EMA), with feedback", spec.symbol),
                points: points(with, |m| m.stable_prices[b] / spec.price),
                color: PALETTE[(b + 3) % PALETTE.len()],
                dashed: false,
            });
        }
    }
    line_chart(
        &dir.join("price.svg"),
        "Oracle price / starting price",
        "step",
        "price ratio",
        &price_series,
    )?;

    let both = |name: &str, value: &dyn Fn(&crate::engine::StepMetrics) -> f64| {
        vec![
            Series {
                name: format!("{name} with feedback"),
                points: points(with, value),
                color: PALETTE[1],
                dashed: false,
            },
            Series {
                name: format!("{name} without"),
                points: points(without, value),
                color: PALETTE[0],
                dashed: true,
            },
        ]
    };
    line_chart(
        &dir.join("health.svg"),
        "Health distribution: maint health / maint-weighted liabilities",
        "step",
        "health ratio",
        &[
            Series {
                name: "5th percentile".into(),
                points: points(with, |m| m.health_p5),
                color: PALETTE[1],
                dashed: false,
            },
            Series {
                name: "25th percentile".into(),
                points: points(with, |m| m.health_p25),
                color: PALETTE[3],
                dashed: false,
            },
            Series {
                name: "median".into(),
                points: points(with, |m| m.health_p50),
                color: PALETTE[2],
                dashed: false,
            },
            Series {
                name: "5th percentile, without feedback".into(),
                points: points(without, |m| m.health_p5),
                color: PALETTE[1],
                dashed: true,
            },
        ],
    )?;
    line_chart(
        &dir.join("liquidations.svg"),
        "Liquidations per step",
        "step",
        "liquidations",
        &both("liquidations", &|m| m.liquidations as f64),
    )?;
    line_chart(
        &dir.join("bad_debt.svg"),
        "Bad debt shared by depositors (cumulative, USD)",
        "step",
        "USD",
        &both("bad debt", &|m| m.bad_debt_usd),
    )?;
    let mut insurance = both("insurance fund", &|m| m.insurance_usd);
    insurance.extend(both("paid out (cumulative)", &|m| m.insurance_paid_usd).into_iter().map(
        |mut s| {
            s.color = if s.dashed { PALETTE[4] } else { PALETTE[3] };
            s
        },
    ));
    line_chart(&dir.join("insurance.svg"), "Insurance funds (USD)", "step", "USD", &insurance)?;
    let utilization: Vec<Series> = scenario
        .banks
        .iter()
        .enumerate()
        .map(|(b, spec)| Series {
            name: format!("{} utilization", spec.symbol),
            points: points(with, |m| m.utilization_bps[b] as f64 / 100.0),
            color: PALETTE[b % PALETTE.len()],
            dashed: false,
        })
        .chain(scenario.banks.iter().enumerate().map(|(b, spec)| Series {
            name: format!("{} borrow APR", spec.symbol),
            points: points(with, |m| m.borrow_apr_bps[b] as f64 / 100.0),
            color: PALETTE[b % PALETTE.len()],
            dashed: true,
        }))
        .collect();
    line_chart(
        &dir.join("utilization.svg"),
        "Utilization and borrow APR (with feedback)",
        "step",
        "percent",
        &utilization,
    )?;
    Ok(())
}
