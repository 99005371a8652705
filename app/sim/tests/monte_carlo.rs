//! Monte Carlo on the real `.so`, with a small population: a seed range gives the same result
//! on any number of threads, shards merged in any order give the unsharded result (and bad
//! shards are refused by name), and the worst seed re-run alone reproduces its outcome.

use std::path::{Path, PathBuf};

use cross_margin_client::embedded::program_so_path;
use cross_margin_sim::monte_carlo::{
    self, fingerprint, merge, report, MergeError, MonteCarlo, SeedError, SeedOutcome, SeedRange,
    Shard,
};
use cross_margin_sim::{report as run_report, run, Scenario};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// crash-30pct (with its price noise) cut to 60 accounts and 20 steps, without its perp market.
fn small() -> Scenario {
    let mut scenario = Scenario::from_file(&scenarios().join("crash-30pct.toml")).unwrap();
    scenario.population.accounts = 60;
    scenario.steps = 20;
    scenario.perps.clear();
    scenario
}

fn seeds(range: &str) -> SeedRange {
    range.parse().unwrap()
}

fn run_range(scenario: &Scenario, range: &str, shard: Option<Shard>, threads: usize) -> MonteCarlo {
    monte_carlo::run_shard(scenario, &program_so_path(), seeds(range), shard, threads, &|_, _| {})
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cm-mc-{name}-{}", std::process::id()))
}

#[test]
fn a_seed_range_gives_the_same_result_on_one_thread_or_two() {
    let scenario = small();
    assert!(scenario.banks.iter().any(|b| b.noise.is_some()), "the bundled crash has noise");
    let one = run_range(&scenario, "0..4", None, 1);
    let two = run_range(&scenario, "0..4", None, 2);
    assert_eq!(one.outcomes, two.outcomes);
    assert_eq!(one.bad_debt(), two.bad_debt());
    assert_eq!(report::markdown(&one), report::markdown(&two));
    assert_eq!(one.outcomes.iter().map(|o| o.seed).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    // The seeds differ: each draws its own noise (SOL's lowest price is never the same twice).
    let sol = scenario.bank_index("SOL").unwrap();
    let mut lows: Vec<f64> = one.outcomes.iter().map(|o| o.lowest_price_ratio[sol]).collect();
    lows.sort_by(f64::total_cmp);
    lows.dedup();
    assert_eq!(lows.len(), 4, "{lows:?}");
    assert!(one.outcomes.iter().all(|o| o.liquidations > 0), "the crash liquidates in every seed");
    // The per-step series cover every step, and the cumulative ones never fall.
    for o in &one.outcomes {
        assert_eq!(o.series.liquidations.len(), scenario.steps);
        assert_eq!(*o.series.liquidations.last().unwrap(), o.liquidations as f64);
        assert!(o.series.liquidations.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn shards_merged_in_any_order_equal_the_unsharded_run() {
    let scenario = small();
    let whole = run_range(&scenario, "3..7", None, 2);
    let dirs: Vec<PathBuf> = (0..2).map(|i| temp_dir(&format!("shard-{i}"))).collect();
    let shards: Vec<MonteCarlo> = (0..2)
        .map(|i| {
            let shard = run_range(&scenario, "3..7", Some(Shard { index: i, count: 2 }), 1);
            report::write(&dirs[i as usize], &shard).unwrap();
            report::read(&dirs[i as usize]).unwrap()
        })
        .collect();
    assert_eq!(shards[0].outcomes.iter().map(|o| o.seed).collect::<Vec<_>>(), vec![3, 5]);
    assert_eq!(shards[1].outcomes.iter().map(|o| o.seed).collect::<Vec<_>>(), vec![4, 6]);
    let whole_dir = temp_dir("whole");
    report::write(&whole_dir, &whole).unwrap();
    let whole_read = report::read(&whole_dir).unwrap();

    let forward = merge(&shards).unwrap();
    let backward = merge(&[shards[1].clone(), shards[0].clone()]).unwrap();
    for merged in [&forward, &backward] {
        assert_eq!(merged.outcomes, whole_read.outcomes);
        assert_eq!(merged.shard, None);
        assert_eq!(report::markdown(merged), report::markdown(&whole));
    }
    // The merged directory's report is the unsharded one's, chart for chart.
    let merged_dir = temp_dir("merged");
    report::write(&merged_dir, &backward).unwrap();
    for file in ["monte_carlo.md", "charts/mc_price.svg", "charts/mc_bad_debt.svg"] {
        let read = |dir: &Path| std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(read(&merged_dir), read(&whole_dir), "{file}");
    }

    // Refused, by name: a shard given twice, a shard missing, another scenario, another range.
    let twice = merge(&[shards[0].clone(), shards[0].clone(), shards[1].clone()]).unwrap_err();
    assert_eq!(twice, MergeError::RepeatedSeed(3));
    assert_eq!(merge(&shards[..1]).unwrap_err(), MergeError::MissingSeeds { count: 2, first: 4 });
    let mut other = shards[1].clone();
    let mut longer = scenario.clone();
    longer.steps += 1;
    other.fingerprint = fingerprint(&longer);
    assert!(matches!(
        merge(&[shards[0].clone(), other]).unwrap_err(),
        MergeError::DifferentScenario { .. }
    ));
    let mut range = shards[1].clone();
    range.seeds = seeds("3..8");
    assert!(matches!(
        merge(&[shards[0].clone(), range]).unwrap_err(),
        MergeError::DifferentRange { .. }
    ));
    assert_eq!(merge(&[]).unwrap_err(), MergeError::NoShards);
    for dir in dirs.iter().chain([&whole_dir, &merged_dir]) {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn the_worst_seed_run_alone_reproduces_its_outcome() {
    let scenario = small();
    let mc = run_range(&scenario, "0..3", None, 2);
    let bad_debt = mc.bad_debt();
    let worst =
        if bad_debt.max > 0.0 { bad_debt.worst_seed } else { mc.liquidated_debt().worst_seed };
    let command = report::rerun(&mc, worst);
    assert!(command.ends_with(&format!("--seed {worst}")), "{command}");
    assert!(report::markdown(&mc).contains(&command));

    // What `simulate SCENARIO --seed K` runs: the scenario with that seed, with feedback.
    let mut alone = scenario.clone();
    alone.seed = worst;
    let run = run(&alone, &program_so_path(), true, &mut |_, _, _| {}).unwrap();
    let outcome = mc.outcome(worst).unwrap();
    assert_eq!(&SeedOutcome::from_run(&alone, worst, &run), outcome);
    let totals = run_report::totals(&run);
    assert_eq!(totals.liquidations, outcome.liquidations);
    assert_eq!(totals.liquidated_debt_usd, outcome.liquidated_debt_usd);
    assert_eq!(totals.insurance_paid_usd + totals.bad_debt_usd, outcome.bad_debt_usd());
    assert!(mc.liquidated_debt().max == outcome.liquidated_debt_usd || bad_debt.max > 0.0);
}

#[test]
fn bad_seed_shard_and_noise_input_is_refused_by_name() {
    let scenario = small();
    let program = program_so_path();
    let too_many = monte_carlo::run_shard(
        &scenario,
        &program,
        seeds("0..2"),
        Some(Shard { index: 0, count: 3 }),
        1,
        &|_, _| {},
    )
    .unwrap_err();
    assert_eq!(
        too_many.downcast_ref::<SeedError>(),
        Some(&SeedError::MoreShardsThanSeeds { shards: 3, seeds: 2 })
    );
    let no_threads =
        monte_carlo::run_seeds(&scenario, &program, seeds("1"), 0, &|_, _| {}).unwrap_err();
    assert!(no_threads.to_string().contains("threads"), "{no_threads}");
    assert_eq!("10..3".parse::<SeedRange>(), Err(SeedError::EmptyRange("10..3".into())));

    let good = std::fs::read_to_string(scenarios().join("crash-30pct.toml")).unwrap();
    assert!(good.contains("noise = { sigma_pct = 0.3,"));
    let negative = good.replacen("noise = { sigma_pct = 0.3,", "noise = { sigma_pct = -0.3,", 1);
    let error = format!("{:#}", Scenario::from_toml(&negative).unwrap_err());
    assert!(error.contains("SOL: noise.sigma_pct"), "{error}");
    let typo = good.replacen("jump_per_step", "jumps_per_step", 1);
    assert!(format!("{:#}", Scenario::from_toml(&typo).unwrap_err()).contains("jumps_per_step"));
    // The seed is not part of the scenario's identity; every other field is.
    let mut reseeded = scenario.clone();
    reseeded.seed = 99;
    assert_eq!(fingerprint(&reseeded), fingerprint(&scenario));
    let mut deeper = scenario.clone();
    deeper.population.accounts += 1;
    assert_ne!(fingerprint(&deeper), fingerprint(&scenario));
}
