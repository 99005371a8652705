//! Parameter sweeps: the same scenario across a grid of one parameter, bad debt charted against
//! it. `SOL.maint_asset=8000,8500,9000` sweeps SOL's maint asset weight; the parameters are a
//! bank's `init_asset`, `maint_asset`, `maint_liab`, `init_liab` (bps), `liquidation_fee_bps`,
//! `insurance_fee_bps`, `depth_usd` (constant-product depth), `insurance_usd` and
//! `deposit_weight_scale_start_usd` (the size-aware init weight's threshold).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::charts::{line_chart, Axis, Chart, Series, Stroke, PALETTE};
use crate::engine::{self, Progress};
use crate::report;
use crate::scenario::{MarketDepth, Scenario};

#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub bank: String,
    pub parameter: String,
    pub values: Vec<f64>,
}

impl std::str::FromStr for Sweep {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let (bank, parameter, values) = split_target(s, "v1,v2,...")?;
        let values = parse_values(values)?;
        Ok(Sweep { bank: bank.into(), parameter: parameter.into(), values })
    }
}

/// `BANK.param=REST` as (bank, param, rest); `form` names what REST should be, for the error.
pub fn split_target<'a>(s: &'a str, form: &str) -> Result<(&'a str, &'a str, &'a str)> {
    let (target, rest) =
        s.split_once('=').ok_or_else(|| anyhow!("expected BANK.param={form}, got '{s}'"))?;
    let (bank, parameter) =
        target.split_once('.').ok_or_else(|| anyhow!("expected BANK.param before '=' in '{s}'"))?;
    Ok((bank, parameter, rest))
}

/// A sweep's values, `v1,v2,...`.
pub fn parse_values(values: &str) -> Result<Vec<f64>> {
    let values = values
        .split(',')
        .map(|v| v.trim().parse::<f64>().map_err(|_| anyhow!("'{v}' is not a number")))
        .collect::<Result<Vec<_>>>()?;
    if values.is_empty() {
        bail!("no values to sweep");
    }
    Ok(values)
}

impl Sweep {
    /// The scenario with the parameter set to `value`.
    pub fn apply(&self, scenario: &Scenario, value: f64) -> Result<Scenario> {
        let mut scenario = scenario.clone();
        let index = scenario.bank_index(&self.bank)?;
        let bank = &mut scenario.banks[index];
        let bps = value.round() as u32;
        match self.parameter.as_str() {
            "init_asset" => bank.weights.init_asset = bps,
            "maint_asset" => bank.weights.maint_asset = bps,
            "maint_liab" => bank.weights.maint_liab = bps,
            "init_liab" => bank.weights.init_liab = bps,
            "liquidation_fee_bps" => bank.liquidation_fee_bps = bps,
            "insurance_fee_bps" => bank.insurance_fee_bps = bps,
            "insurance_usd" => bank.insurance_usd = value,
            "deposit_weight_scale_start_usd" => bank.deposit_weight_scale_start_usd = value,
            "depth_usd" => match &mut bank.market {
                MarketDepth::ConstantProduct { depth_usd, .. } => *depth_usd = value,
                _ => bail!("{}: depth_usd needs a constant_product market", self.bank),
            },
            other => bail!("unknown sweep parameter {other}"),
        }
        Ok(scenario)
    }
}

/// One point of a sweep: the value, and the run's totals (or why the program refused it).
pub struct Point {
    pub value: f64,
    pub outcome: Result<report::Totals, String>,
}

/// Runs the scenario (with feedback) for every value; writes `sweep.md` and `sweep.svg` to `dir`.
pub fn run(
    scenario: &Scenario,
    sweep: &Sweep,
    program: &Path,
    dir: &Path,
    progress: Progress,
) -> Result<Vec<Point>> {
    let mut results = Vec::new();
    for (i, value) in sweep.values.iter().enumerate() {
        let variant = sweep.apply(scenario, *value)?;
        let outcome = engine::run(&variant, program, true, &mut |_, _, _| {})
            .map(|run| report::totals(&run))
            .map_err(|e| format!("{e:#}"));
        results.push(Point { value: *value, outcome });
        progress("sweep", i + 1, sweep.values.len());
    }
    results.sort_by(|a, b| a.value.total_cmp(&b.value));
    std::fs::create_dir_all(dir)?;
    let label = format!("{}.{}", sweep.bank, sweep.parameter);
    let mut md = format!(
        "# Sweep of {label}: {}\n\n| {label} | borrows refused at setup | liquidations | debt liquidated | bankruptcies | paid by insurance | bad debt shared |\n|---:|---:|---:|---:|---:|---:|---:|\n",
        scenario.name
    );
    for point in &results {
        match &point.outcome {
            Ok(t) => {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | ${:.0} | {} | ${:.0} | ${:.0} |",
                    point.value,
                    t.borrows_refused,
                    t.liquidations,
                    t.liquidated_debt_usd,
                    t.bankruptcies,
                    t.insurance_paid_usd,
                    t.bad_debt_usd
                );
            }
            Err(e) => {
                let _ = writeln!(
                    md,
                    "| {} | refused: {} | | | | | |",
                    point.value,
                    e.lines().next().unwrap_or("")
                );
            }
        }
    }
    md.push_str("\n![bad debt against the parameter](sweep.svg)\n");
    std::fs::write(dir.join("sweep.md"), md)?;
    let ok: Vec<&Point> = results.iter().filter(|p| p.outcome.is_ok()).collect();
    let series = |name: &str, color, f: &dyn Fn(&report::Totals) -> f64| Series {
        name: name.into(),
        points: ok.iter().map(|p| (p.value, f(p.outcome.as_ref().expect("ok")))).collect(),
        color,
        stroke: Stroke::Solid,
    };
    line_chart(
        &dir.join("sweep.svg"),
        &Chart::new(
            &format!("Bad debt against {label} ({})", scenario.name),
            Axis::number(&label),
            Axis::money("USD"),
            vec![
                series("bad debt shared by depositors", PALETTE[1], &|t| t.bad_debt_usd),
                series("paid by insurance", PALETTE[0], &|t| t.insurance_paid_usd),
            ],
        ),
    )?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crash() -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/crash-30pct.toml");
        Scenario::from_file(&path).unwrap()
    }

    #[test]
    fn a_sweep_is_bank_parameter_and_values() {
        let sweep: Sweep = "SOL.maint_asset=8000, 8500,9000".parse().unwrap();
        assert_eq!(sweep.bank, "SOL");
        assert_eq!(sweep.parameter, "maint_asset");
        assert_eq!(sweep.values, vec![8_000.0, 8_500.0, 9_000.0]);
        for bad in ["SOL.maint_asset", "maint_asset=1,2", "SOL.maint_asset=1,x", "SOL.x="] {
            assert!(bad.parse::<Sweep>().is_err(), "{bad}");
        }
    }

    #[test]
    fn applying_a_value_changes_that_parameter_only() {
        let base = crash();
        let sweep: Sweep = "SOL.maint_asset=8500".parse().unwrap();
        let swept = sweep.apply(&base, 8_500.0).unwrap();
        let sol = base.bank_index("SOL").unwrap();
        assert_eq!(swept.banks[sol].weights.maint_asset, 8_500);
        assert_eq!(base.banks[sol].weights.maint_asset, 9_000, "the base is untouched");
        assert_eq!(swept.banks[sol].weights.init_asset, base.banks[sol].weights.init_asset);
        let depth: Sweep = "SOL.depth_usd=1e6".parse().unwrap();
        match depth.apply(&base, 1e6).unwrap().banks[sol].market {
            MarketDepth::ConstantProduct { depth_usd, .. } => assert_eq!(depth_usd, 1e6),
            other => panic!("{other:?}"),
        }
        let scale: Sweep = "SOL.deposit_weight_scale_start_usd=4e6".parse().unwrap();
        let swept = scale.apply(&base, 4e6).unwrap();
        assert_eq!(swept.banks[sol].deposit_weight_scale_start_usd, 4e6);
    }

    #[test]
    fn unknown_banks_and_parameters_are_refused() {
        let base = crash();
        let unknown_bank: Sweep = "DOGE.maint_asset=1".parse().unwrap();
        assert!(unknown_bank.apply(&base, 1.0).is_err());
        let unknown: Sweep = "SOL.leverage=1".parse().unwrap();
        let error = unknown.apply(&base, 1.0).unwrap_err();
        assert!(error.to_string().contains("unknown sweep parameter"), "{error}");
        // USDC's market is infinite: no depth to sweep.
        let depth: Sweep = "USDC.depth_usd=1".parse().unwrap();
        assert!(depth.apply(&base, 1.0).is_err());
    }
}
