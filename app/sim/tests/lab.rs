//! The stress lab on the real `.so`: a small run is deterministic for its seed, keeps every
//! invariant at every step (the engine stops with an error otherwise; `invariants::tests` shows
//! each check failing), and liquidation feedback can only push prices down in a sell-only
//! market, constant-product or linear. Reports and sweeps are written in full.

use std::path::{Path, PathBuf};

use cross_margin_client::embedded::program_so_path;
use cross_margin_sim::report;
use cross_margin_sim::scenario::{MarketDepth, PricePath};
use cross_margin_sim::sweep::{self, Sweep};
use cross_margin_sim::{run, RunResult, Scenario};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// The bundled crash scenario cut down to 100 accounts and 20 steps.
fn small() -> Scenario {
    let mut scenario = Scenario::from_file(&scenarios().join("crash-30pct.toml")).unwrap();
    scenario.population.accounts = 100;
    scenario.steps = 20;
    scenario
}

#[test]
fn every_bundled_scenario_parses() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(scenarios()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let scenario = Scenario::from_file(&path).unwrap();
            assert_eq!(path.file_stem().unwrap().to_str(), Some(scenario.name.as_str()));
            names.push(scenario.name);
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "bleed-and-spike",
            "crash-30pct",
            "crash-high-utilization",
            "oi-collapse",
            "oracle-pump",
            "perp-oi-collapse",
            "perp-whale",
            "usdc-depeg",
            "whale-unwind"
        ]
    );
}

#[test]
fn bad_scenarios_are_refused_with_a_reason() {
    let good = std::fs::read_to_string(scenarios().join("crash-30pct.toml")).unwrap();
    let unknown_bank = good.replace("borrow = { USDC = 8", "borrow = { DOGE = 8");
    let error = Scenario::from_toml(&unknown_bank).unwrap_err();
    assert!(format!("{error:#}").contains("no bank named DOGE"), "{error:#}");
    let typo = good.replace("steps = 120", "stepz = 120");
    assert!(Scenario::from_toml(&typo).is_err());
    let leverage =
        good.replace("leverage = { min = 0.3, max = 0.97 }", "leverage = { min = 0.3, max = 1.5 }");
    assert!(format!("{:#}", Scenario::from_toml(&leverage).unwrap_err()).contains("leverage"));
}

#[test]
fn a_small_run_is_deterministic_and_feedback_only_pushes_prices_down() {
    let scenario = small();
    let program = program_so_path();
    let (first, second, without) = std::thread::scope(|scope| {
        let a = scope.spawn(|| run(&scenario, &program, true, &mut |_, _, _| {}));
        let b = scope.spawn(|| run(&scenario, &program, true, &mut |_, _, _| {}));
        let c = run(&scenario, &program, false, &mut |_, _, _| {});
        (a.join().unwrap(), b.join().unwrap(), c)
    });
    let (first, second, without) = (first.unwrap(), second.unwrap(), without.unwrap());

    // Deterministic: the same seed gives the same run, step for step.
    assert_eq!(first.steps, second.steps);
    assert_eq!(report::csv(&scenario, &[&first]), report::csv(&scenario, &[&second]));
    assert_eq!(first.transactions, second.transactions);

    // The crash liquidates accounts, and every step's invariants were checked.
    let totals = report::totals(&first);
    assert!(totals.liquidations > 0, "the crash liquidates someone");
    assert!(first.invariant_checks >= scenario.steps * scenario.banks.len());

    // Sell-only market: with feedback every price is at or below the same step without it.
    let sol = scenario.bank_index("SOL").unwrap();
    assert!(matches!(scenario.banks[sol].market, MarketDepth::ConstantProduct { .. }));
    assert_feedback_only_lowers_prices(&scenario, &first, &without);
    assert!(totals.sold_usd > 0.0);
    let lowest = |steps: &[cross_margin_sim::StepMetrics]| {
        steps.iter().map(|m| m.prices[sol]).fold(f64::INFINITY, f64::min)
    };
    assert!(lowest(&first.steps) < lowest(&without.steps), "the sales moved SOL");
}

/// With feedback, every bank's price is at or below the same step without it, which follows the
/// exogenous path exactly.
fn assert_feedback_only_lowers_prices(scenario: &Scenario, with: &RunResult, without: &RunResult) {
    for (w, o) in with.steps.iter().zip(&without.steps) {
        for bank in 0..scenario.banks.len() {
            assert!(w.prices[bank] <= o.prices[bank] * (1.0 + 1e-12), "step {}", w.step);
            assert_eq!(o.prices[bank], o.exogenous[bank]);
        }
    }
}

/// bleed-and-spike cut down to 100 accounts and 30 steps, its volatility spike moved to step 5,
/// without its price noise:
/// a slow BTC bleed into a linear-impact market and a SOL random walk, both on the program.
#[test]
fn a_bleed_and_a_volatility_spike_into_a_linear_market() {
    let mut scenario = Scenario::from_file(&scenarios().join("bleed-and-spike.toml")).unwrap();
    scenario.population.accounts = 100;
    scenario.steps = 30;
    let sol = scenario.bank_index("SOL").unwrap();
    let btc = scenario.bank_index("BTC").unwrap();
    scenario.banks[sol].path =
        PricePath::Volatility { from_step: 5, steps: 10, sigma_pct: 6.0, drift_pct: -1.0 };
    // The shapes alone: without the Monte Carlo noise the file adds on top of them.
    for bank in &mut scenario.banks {
        bank.noise = None;
    }
    assert!(matches!(scenario.banks[btc].market, MarketDepth::Linear { .. }));
    let program = program_so_path();
    let (with, without) = std::thread::scope(|scope| {
        let a = scope.spawn(|| run(&scenario, &program, true, &mut |_, _, _| {}));
        let b = run(&scenario, &program, false, &mut |_, _, _| {});
        (a.join().unwrap().unwrap(), b.unwrap())
    });
    assert!(report::totals(&with).liquidations > 0);
    assert!(with.invariant_checks >= scenario.steps * scenario.banks.len());
    assert_feedback_only_lowers_prices(&scenario, &with, &without);
    // The bleed is the documented straight line: 25% over the run.
    let last = without.steps.last().unwrap();
    assert!((last.exogenous[btc] / 100_000.0 - 0.75).abs() < 1e-9, "{}", last.exogenous[btc]);
    // The spike moved SOL, and held it once over.
    let sol_path: Vec<f64> = without.steps.iter().map(|m| m.exogenous[sol]).collect();
    assert!(sol_path.windows(2).any(|w| w[0] != w[1]));
    assert!(sol_path[16..].windows(2).all(|w| w[0] == w[1]));

    // The report: Markdown with its tables, the CSV with a row per step of both runs, and every
    // chart.
    let dir = std::env::temp_dir().join(format!("cm-lab-report-{}", std::process::id()));
    report::write(&dir, &scenario, &with, &without).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.starts_with("# Stress report: bleed-and-spike"));
    assert!(md.contains("| liquidations |") && md.contains("| BTC |"), "{md}");
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + with.steps.len() + without.steps.len());
    for chart in ["price", "health", "liquidations", "bad_debt", "insurance", "utilization"] {
        let svg = std::fs::read_to_string(dir.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{chart}.svg");
        assert!(md.contains(&format!("(charts/{chart}.svg)")), "{chart} is in the report");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_runs_every_value_and_writes_its_table_and_chart() {
    let mut scenario = small();
    scenario.population.accounts = 40;
    scenario.steps = 15;
    let sweep: Sweep = "SOL.maint_asset=8500,9000".parse().unwrap();
    let dir = std::env::temp_dir().join(format!("cm-lab-sweep-{}", std::process::id()));
    let mut calls = 0;
    let points =
        sweep::run(&scenario, &sweep, &program_so_path(), &dir, &mut |_, _, _| calls += 1).unwrap();
    assert_eq!(calls, 2);
    assert_eq!(points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![8_500.0, 9_000.0]);
    let totals: Vec<_> = points.iter().map(|p| p.outcome.as_ref().unwrap()).collect();
    // Both values ran the crash through liquidations. (The number of steps is not monotone in
    // the maint weight: a later liquidation at a lower price can take more, or more steps.)
    assert!(totals.iter().all(|t| t.liquidations > 0), "{totals:?}");
    let md = std::fs::read_to_string(dir.join("sweep.md")).unwrap();
    assert!(md.contains("| 8500 |") && md.contains("| 9000 |"), "{md}");
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Bad debt against SOL.maint_asset"));
    std::fs::remove_dir_all(&dir).unwrap();
}
