//! The stress lab on the real `.so`: a small run is deterministic for its seed, keeps every
//! invariant at every step (the engine stops with an error otherwise), and liquidation feedback
//! can only push prices down in a sell-only market.

use std::path::{Path, PathBuf};

use cross_margin_client::embedded::program_so_path;
use cross_margin_sim::report;
use cross_margin_sim::scenario::MarketDepth;
use cross_margin_sim::{run, Scenario};

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
    assert_eq!(names, ["crash-30pct", "oi-collapse", "usdc-depeg", "whale-unwind"]);
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
    for (with, without) in first.steps.iter().zip(&without.steps) {
        for bank in 0..scenario.banks.len() {
            assert!(
                with.prices[bank] <= without.prices[bank] * (1.0 + 1e-12),
                "step {}",
                with.step
            );
            assert_eq!(without.prices[bank], without.exogenous[bank]);
        }
    }
    assert!(totals.sold_usd > 0.0);
    let lowest = |steps: &[cross_margin_sim::StepMetrics]| {
        steps.iter().map(|m| m.prices[sol]).fold(f64::INFINITY, f64::min)
    };
    assert!(lowest(&first.steps) < lowest(&without.steps), "the sales moved SOL");
}
