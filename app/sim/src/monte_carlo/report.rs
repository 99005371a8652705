//! A Monte Carlo run's output: `monte_carlo.json` (every seed's outcome and series; what
//! `merge` reads back), `monte_carlo.md` (the distributions, the worst seeds and how to re-run
//! them) and band charts (p5–p95 and the median over time), and a terminal summary. The Markdown
//! and the charts depend on the outcomes only, never on timings, so a merged run's report is the
//! unsharded run's.

use std::fmt::Write as _;
use std::path::Path;

use super::{Band, Distribution, MonteCarlo};
use crate::charts::{self, line_chart, Axis, Chart, RGBColor, Series, Stroke, TimeAxis, PALETTE};
use crate::report::usd;
use anyhow::{Context, Result};

/// The JSON file each run (or shard) writes.
pub const JSON: &str = "monte_carlo.json";

/// Writes `monte_carlo.json`, `monte_carlo.md` and `charts/mc_*.svg` into `dir`.
pub fn write(dir: &Path, mc: &MonteCarlo) -> Result<()> {
    std::fs::create_dir_all(dir.join("charts"))
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(JSON), serde_json::to_string(mc)?)?;
    std::fs::write(dir.join("monte_carlo.md"), markdown(mc))?;
    charts(&dir.join("charts"), mc)
}

/// Reads the `monte_carlo.json` a run wrote into `dir`.
pub fn read(dir: &Path) -> Result<MonteCarlo> {
    let path = dir.join(JSON);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The table rows: (what, distribution, dollars?).
fn rows(mc: &MonteCarlo) -> Vec<(&'static str, Distribution, bool)> {
    vec![
        ("bad debt (insurance + depositors)", mc.bad_debt(), true),
        ("insurance drawn", mc.insurance_drawn(), true),
        ("bad debt shared by depositors", mc.shared_bad_debt(), true),
        ("liquidations", mc.liquidations(), false),
        ("debt liquidated", mc.liquidated_debt(), true),
        ("collateral sold by liquidators", mc.sold(), true),
        ("bankruptcies", mc.bankruptcies(), false),
    ]
}

fn value(x: f64, money: bool) -> String {
    if money {
        usd(x)
    } else {
        format!("{x:.1}")
    }
}

/// The command that re-runs `seed` alone.
pub fn rerun(mc: &MonteCarlo, seed: u64) -> String {
    format!("{} --seed {seed}", mc.rerun)
}

/// Where the run is, for the headline: the range, and the shard if it is one.
fn coverage(mc: &MonteCarlo) -> String {
    match mc.shard {
        Some(shard) => format!("seeds {} (shard {shard}: {} seeds)", mc.seeds, mc.outcomes.len()),
        None => format!("seeds {} ({} seeds)", mc.seeds, mc.outcomes.len()),
    }
}

/// VaR99 bad debt against the insurance funds, in words.
fn verdict(mc: &MonteCarlo) -> String {
    let var99 = mc.bad_debt().var99;
    let within = if var99 <= mc.insurance_fund_usd { "within" } else { "beyond" };
    format!(
        "VaR99 bad debt {} against {} of insurance funds at the start: {within} the funds",
        usd(var99),
        usd(mc.insurance_fund_usd)
    )
}

/// The terminal summary.
pub fn summary(mc: &MonteCarlo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "monte carlo {}: {}", mc.scenario, coverage(mc));
    let _ = writeln!(
        out,
        "  {} accounts, {} steps of {} s, each seed one run with feedback",
        mc.accounts, mc.steps, mc.step_seconds
    );
    let _ = writeln!(
        out,
        "  {:<36} {:>14} {:>14} {:>14} {:>14} {:>14}",
        "", "mean", "VaR95", "VaR99", "CVaR99", "worst seed"
    );
    for (name, d, money) in rows(mc) {
        let _ = writeln!(
            out,
            "  {name:<36} {:>14} {:>14} {:>14} {:>14} {:>14}",
            value(d.mean, money),
            value(d.var95, money),
            value(d.var99, money),
            value(d.cvar99, money),
            d.worst_seed
        );
    }
    let _ = writeln!(out, "  {}", verdict(mc));
    let worst = mc.bad_debt();
    let worst_seed =
        if worst.max > 0.0 { worst.worst_seed } else { mc.liquidated_debt().worst_seed };
    let _ = writeln!(out, "  worst seed {worst_seed}, alone: {}", rerun(mc, worst_seed));
    if mc.threads > 0 {
        let liquidations: usize = mc.outcomes.iter().map(|o| o.liquidations).sum();
        let _ = writeln!(
            out,
            "  throughput: {} seeds in {:.1} s wall on {} threads; {liquidations} liquidation txs, {:.0} per second of wall time",
            mc.outcomes.len(),
            mc.wall_secs,
            mc.threads,
            mc.liquidations_per_second()
        );
    }
    out
}

/// `monte_carlo.md`.
pub fn markdown(mc: &MonteCarlo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Monte Carlo: {}\n\n{}\n", mc.scenario, mc.description);
    let _ = writeln!(
        out,
        "{}: {} accounts, {} steps of {} s. Each seed is one run of the real `cross_margin` program in LiteSVM with the liquidators' sales moving prices (feedback); the seed draws the population and every bank's price noise.\n",
        coverage(mc),
        mc.accounts,
        mc.steps,
        mc.step_seconds
    );
    let _ = writeln!(
        out,
        "| | mean | VaR95 | VaR99 | CVaR99 | max | worst seed |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for (name, d, money) in rows(mc) {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            value(d.mean, money),
            value(d.var95, money),
            value(d.var99, money),
            value(d.cvar99, money),
            value(d.max, money),
            d.worst_seed
        );
    }
    for (b, symbol) in mc.banks.iter().enumerate() {
        let d = mc.drawdown(b);
        let _ = writeln!(
            out,
            "| {symbol} drawdown with feedback | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {} |",
            d.mean * 100.0,
            d.var95 * 100.0,
            d.var99 * 100.0,
            d.cvar99 * 100.0,
            d.max * 100.0,
            d.worst_seed
        );
    }
    let _ = writeln!(out, "\n{}.\n", verdict(mc));
    let _ = writeln!(
        out,
        "Over n seeds sorted increasingly, VaR_q is the value of rank ⌈q·n⌉ (with fewer than 100 seeds, VaR99 is the maximum) and CVaR99 the mean of ranks ⌈0.99·n⌉ to n. Bad debt is everything written off, paid by the insurance funds or shared by depositors.\n"
    );
    let _ = writeln!(out, "## The worst seeds, to re-run alone\n");
    let bad_debt = mc.bad_debt();
    let liquidated = mc.liquidated_debt();
    for (what, d) in [("bad debt", bad_debt), ("debt liquidated", liquidated)] {
        if let Some(o) = mc.outcome(d.worst_seed) {
            let _ = writeln!(
                out,
                "- most {what}: seed {}: {} liquidations, {} of debt liquidated, {} bankruptcies, bad debt {} ({} from insurance). `{}`",
                o.seed,
                o.liquidations,
                usd(o.liquidated_debt_usd),
                o.bankruptcies,
                usd(o.bad_debt_usd()),
                usd(o.insurance_drawn_usd),
                rerun(mc, o.seed)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nThe re-run's \"with feedback\" column reproduces these numbers.\n\n![prices](charts/mc_price.svg)\n\n![bad debt](charts/mc_bad_debt.svg)\n\n![liquidations](charts/mc_liquidations.svg)\n\n![insurance](charts/mc_insurance.svg)"
    );
    out
}

/// One quantity's band, drawn as a shaded p5–p95 area and a median line.
pub struct BandSeries {
    pub name: String,
    pub color: RGBColor,
    pub band: Band,
}

/// An SVG chart of bands over time ([`crate::charts`]: legend beside the plot, time in
/// minutes, hours or days), each value multiplied by `scale` (100 for a ratio shown in percent).
pub fn band_chart(
    path: &Path,
    title: &str,
    mc: &MonteCarlo,
    y: Axis,
    scale: f64,
    series: &[BandSeries],
) -> Result<()> {
    let time = TimeAxis::for_run(mc.steps, mc.step_seconds);
    let at = |values: &[f64]| -> Vec<(f64, f64)> {
        values.iter().enumerate().map(|(i, v)| (time.at(i + 1), v * scale)).collect()
    };
    let bands = series
        .iter()
        .map(|s| charts::Band {
            name: format!("{} p5–p95", s.name),
            lower: at(&s.band.p5),
            upper: at(&s.band.p95),
            color: s.color,
        })
        .collect();
    let medians = series
        .iter()
        .map(|s| Series {
            name: format!("{} median", s.name),
            points: at(&s.band.p50),
            color: s.color,
            stroke: Stroke::Solid,
        })
        .collect();
    let chart = Chart { title: title.into(), x: time.axis(), y, series: medians, bands };
    line_chart(path, &chart)
}

fn charts(dir: &Path, mc: &MonteCarlo) -> Result<()> {
    let one = |name: &str, color, band| vec![BandSeries { name: name.into(), color, band }];
    // Prices: every bank whose price moves in some seed.
    let prices: Vec<BandSeries> = mc
        .banks
        .iter()
        .enumerate()
        .filter(|(b, _)| mc.outcomes.iter().any(|o| (o.lowest_price_ratio[*b] - 1.0).abs() > 1e-6))
        .map(|(b, symbol)| BandSeries {
            name: symbol.clone(),
            color: PALETTE[b % PALETTE.len()],
            band: mc.band(|s| &s.price_ratio[b]),
        })
        .collect();
    let seeds = mc.outcomes.len();
    band_chart(
        &dir.join("mc_price.svg"),
        &format!("Oracle price, % of the starting price, with feedback ({seeds} seeds)"),
        mc,
        Axis::percent("price, % of start"),
        100.0,
        &prices,
    )?;
    band_chart(
        &dir.join("mc_bad_debt.svg"),
        &format!("Bad debt written off, cumulative ({seeds} seeds)"),
        mc,
        Axis::money("USD"),
        1.0,
        &one("bad debt", PALETTE[1], mc.band(|s| &s.bad_debt_usd)),
    )?;
    band_chart(
        &dir.join("mc_liquidations.svg"),
        &format!("Liquidations, cumulative ({seeds} seeds)"),
        mc,
        Axis::number("liquidations"),
        1.0,
        &one("liquidations", PALETTE[0], mc.band(|s| &s.liquidations)),
    )?;
    band_chart(
        &dir.join("mc_insurance.svg"),
        &format!("Insurance funds ({seeds} seeds)"),
        mc,
        Axis::money("USD"),
        1.0,
        &one("insurance funds", PALETTE[2], mc.band(|s| &s.insurance_usd)),
    )
}
