//! `--recommend` on a small grid finds the boundary a brute-force sweep finds: the Monte Carlo
//! run at every grid value, the riskiest value within the insurance funds taken.

use std::path::Path;

use cross_margin_client::embedded::program_so_path;
use cross_margin_sim::bisect::grid;
use cross_margin_sim::monte_carlo::{self, SeedRange};
use cross_margin_sim::recommend::{self, within_insurance, Recommend};
use cross_margin_sim::scenario::MarketDepth;
use cross_margin_sim::Scenario;

/// whale-unwind cut to 60 accounts and 30 steps, MID's market at $500k a side (so some seeds
/// write off bad debt), and no insurance anywhere but what the search sets.
fn small() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/whale-unwind.toml");
    let mut scenario = Scenario::from_file(&path).unwrap();
    scenario.population.accounts = 60;
    scenario.steps = 30;
    let mid = scenario.bank_index("MID").unwrap();
    if let MarketDepth::ConstantProduct { depth_usd, .. } = &mut scenario.banks[mid].market {
        *depth_usd = 500_000.0;
    }
    for bank in &mut scenario.banks {
        bank.insurance_usd = 0.0;
    }
    scenario
}

#[test]
fn the_recommendation_is_the_boundary_a_brute_force_sweep_finds() {
    let scenario = small();
    let program = program_so_path();
    let seeds: SeedRange = "0..4".parse().unwrap();
    let target: Recommend = "USDC.insurance_usd=0..200".parse().unwrap();
    let target = target.with_resolution(20).unwrap();

    let found = recommend::run(&scenario, &program, &target, seeds, 2, &mut |_| {}).unwrap();
    // Less insurance is riskier (the ends tie on bad debt, so the usual direction).
    assert!(!found.risky_high);

    // Brute force: every grid value, the riskiest (lowest) one within the funds.
    let brute = grid(200, 0, 20)
        .into_iter()
        .filter(|value| {
            let variant = target.target.apply(&scenario, *value as f64).unwrap();
            let mc = monte_carlo::run_seeds(&variant, &program, seeds, 2, &|_, _| {}).unwrap();
            within_insurance(&mc)
        })
        .min();
    assert_eq!(found.value(), brute);
    // The setup puts the boundary inside the grid, so the bisection had work to do.
    let value = found.value().expect("some insurance covers the VaR99");
    assert!(value > 0 && value < 200, "{value}");
    assert!(found.neighbours_agree());
    let mc = &found.runs[&value];
    assert_eq!(mc.bad_debt().seeds, 4);
    assert!(mc.bad_debt().var99 <= value as f64 && mc.bad_debt().var99 > value as f64 - 20.0);
    let text = recommend::summary(&found);
    assert!(text.contains(&format!("within the insurance funds: {value}")), "{text}");
}
