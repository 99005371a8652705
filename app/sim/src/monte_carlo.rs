//! Monte Carlo: a scenario over many seeds, in parallel over the cores, and the distributions
//! of what it costs.
//!
//! Each seed is one run with feedback ([`crate::engine::run`], the real program on LiteSVM) of
//! the scenario with `seed` set to it: the seed draws the population and every bank's price
//! noise ([`crate::noise`]). A seed's run is the same whether it runs alone
//! (`cross-margin simulate SCENARIO --seed K`, the "with feedback" column), in a range, on any
//! thread or in any shard.
//!
//! ```text
//! let mc = monte_carlo::run_seeds(&scenario, &program, "0..100".parse()?, 2, &|done, total| {})?;
//! let d = mc.bad_debt();   // Distribution { mean, var95, var99, cvar99, max, worst_seed, seeds }
//! ```
//!
//! Definitions ([`stats`]): over `n` seeds sorted increasingly, `VaR_q` is the value of rank
//! `⌈q·n⌉` and `CVaR99` the mean of ranks `⌈0.99·n⌉..=n`. *Bad debt* is everything written off,
//! paid by the insurance funds or shared by depositors; *insurance drawn* is the part the funds
//! paid.
//!
//! Sharding ([`seeds`]): `--shard i/n` runs the seeds whose position in the range is `i mod n`.
//! Each run writes `monte_carlo.json` ([`report::write`]); [`merge`] combines shards into the
//! result of the unsharded run, refusing shards of another scenario or range, repeated seeds
//! and missing ones ([`MergeError`]).

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};

use crate::engine::{self, RunResult};
use crate::report::totals;
use crate::scenario::Scenario;

pub mod report;
pub mod seeds;
pub mod stats;

pub use seeds::{SeedError, SeedRange, Shard};
pub use stats::{Band, Distribution};

/// What one seed's run with feedback produced (deterministic for the seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedOutcome {
    pub seed: u64,
    pub borrows_refused: usize,
    pub liquidations: usize,
    pub liquidated_debt_usd: f64,
    pub bankruptcies: usize,
    pub insurance_drawn_usd: f64,
    /// Bad debt the insurance funds could not pay, shared by depositors.
    pub shared_bad_debt_usd: f64,
    pub sold_usd: f64,
    /// Per bank: the lowest oracle price over the run / the starting price.
    pub lowest_price_ratio: Vec<f64>,
    pub series: SeedSeries,
}

impl SeedOutcome {
    /// Bad debt written off in all: paid by insurance plus shared by depositors.
    pub fn bad_debt_usd(&self) -> f64 {
        self.insurance_drawn_usd + self.shared_bad_debt_usd
    }

    /// The outcome of `run` (with feedback) for `scenario` run with `seed`.
    pub fn from_run(scenario: &Scenario, seed: u64, run: &RunResult) -> Self {
        let t = totals(run);
        let step_values = |f: &dyn Fn(&engine::StepMetrics) -> f64| -> Vec<f64> {
            run.steps.iter().map(f).collect()
        };
        let mut liquidations = 0.0;
        SeedOutcome {
            seed,
            borrows_refused: t.borrows_refused,
            liquidations: t.liquidations,
            liquidated_debt_usd: t.liquidated_debt_usd,
            bankruptcies: t.bankruptcies,
            insurance_drawn_usd: t.insurance_paid_usd,
            shared_bad_debt_usd: t.bad_debt_usd,
            sold_usd: t.sold_usd,
            lowest_price_ratio: scenario
                .banks
                .iter()
                .zip(&t.banks)
                .map(|(spec, (low, _, _))| low / spec.price)
                .collect(),
            series: SeedSeries {
                price_ratio: scenario
                    .banks
                    .iter()
                    .enumerate()
                    .map(|(b, spec)| step_values(&|m| m.prices[b] / spec.price))
                    .collect(),
                bad_debt_usd: step_values(&|m| m.bad_debt_usd + m.insurance_paid_usd),
                liquidations: run
                    .steps
                    .iter()
                    .map(|m| {
                        liquidations += m.liquidations as f64;
                        liquidations
                    })
                    .collect(),
                insurance_usd: step_values(&|m| m.insurance_usd),
            },
        }
    }
}

/// A seed's values at every step (step 1 to the last), for the bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedSeries {
    /// Per bank: the oracle price / the starting price.
    pub price_ratio: Vec<Vec<f64>>,
    /// Bad debt written off so far (insurance + depositors), dollars.
    pub bad_debt_usd: Vec<f64>,
    /// Liquidations so far.
    pub liquidations: Vec<f64>,
    /// The insurance funds now, dollars.
    pub insurance_usd: Vec<f64>,
}

/// Wall time of one seed's run (not part of the outcome: it depends on the machine's load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedTiming {
    pub seed: u64,
    pub setup_secs: f64,
    pub steps_secs: f64,
    pub keeper_secs: f64,
}

/// A Monte Carlo run (or a shard of one, or shards merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonteCarlo {
    pub scenario: String,
    pub description: String,
    /// Identifies the scenario as run (every field but the seed): shards must share it.
    pub fingerprint: String,
    pub seeds: SeedRange,
    /// The shard this run covers; `None` for the whole range.
    pub shard: Option<Shard>,
    pub accounts: usize,
    pub steps: usize,
    pub step_seconds: i64,
    pub banks: Vec<String>,
    /// The insurance funds at the start, dollars.
    pub insurance_fund_usd: f64,
    /// The command that re-runs one seed alone, without `--seed K`.
    pub rerun: String,
    /// Sorted by seed.
    pub outcomes: Vec<SeedOutcome>,
    pub timings: Vec<SeedTiming>,
    /// Wall time of the whole run (merged: the shards' sum) and the threads it used (merged: 0).
    pub wall_secs: f64,
    pub threads: usize,
}

impl MonteCarlo {
    fn values(&self, value: impl Fn(&SeedOutcome) -> f64) -> Distribution {
        let pairs: Vec<(u64, f64)> = self.outcomes.iter().map(|o| (o.seed, value(o))).collect();
        stats::distribution(&pairs)
    }

    /// Bad debt written off in all (insurance + depositors), dollars.
    pub fn bad_debt(&self) -> Distribution {
        self.values(SeedOutcome::bad_debt_usd)
    }

    /// What the insurance funds paid, dollars.
    pub fn insurance_drawn(&self) -> Distribution {
        self.values(|o| o.insurance_drawn_usd)
    }

    /// Bad debt beyond the insurance funds, shared by depositors, dollars.
    pub fn shared_bad_debt(&self) -> Distribution {
        self.values(|o| o.shared_bad_debt_usd)
    }

    /// Liquidations (transactions) per run.
    pub fn liquidations(&self) -> Distribution {
        self.values(|o| o.liquidations as f64)
    }

    /// Debt liquidated per run, dollars (the liquidated value at risk).
    pub fn liquidated_debt(&self) -> Distribution {
        self.values(|o| o.liquidated_debt_usd)
    }

    pub fn bankruptcies(&self) -> Distribution {
        self.values(|o| o.bankruptcies as f64)
    }

    /// Collateral the liquidators sold, dollars.
    pub fn sold(&self) -> Distribution {
        self.values(|o| o.sold_usd)
    }

    /// Per bank: the drawdown (1 − lowest price / start) with feedback.
    pub fn drawdown(&self, bank: usize) -> Distribution {
        self.values(|o| 1.0 - o.lowest_price_ratio[bank])
    }

    pub fn outcome(&self, seed: u64) -> Option<&SeedOutcome> {
        self.outcomes.iter().find(|o| o.seed == seed)
    }

    /// The band over seeds of a per-step series.
    pub fn band(&self, series: impl Fn(&SeedSeries) -> &[f64]) -> Band {
        let all: Vec<&[f64]> = self.outcomes.iter().map(|o| series(&o.series)).collect();
        stats::band(&all)
    }

    /// Liquidation transactions per second of wall time over the whole run.
    pub fn liquidations_per_second(&self) -> f64 {
        let total: usize = self.outcomes.iter().map(|o| o.liquidations).sum();
        total as f64 / self.wall_secs.max(1e-9)
    }
}

/// The scenario's fingerprint: FNV-1a (64 bits) of its description with the seed zeroed.
pub fn fingerprint(scenario: &Scenario) -> String {
    let mut unseeded = scenario.clone();
    unseeded.seed = 0;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{unseeded:?}").bytes() {
        hash = (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Progress callback: (seeds done, seeds in all). Called from the worker threads.
pub type SeedProgress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Runs every seed of `seeds` (see the module doc) on `threads` threads.
pub fn run_seeds(
    scenario: &Scenario,
    program: &Path,
    seeds: SeedRange,
    threads: usize,
    progress: SeedProgress,
) -> Result<MonteCarlo> {
    run_shard(scenario, program, seeds, None, threads, progress)
}

/// A seed and its run's outcome (or why it failed).
type SeedResult = (u64, Result<(SeedOutcome, SeedTiming)>);

/// Runs shard `shard` of `seeds` (all of them with `None`) on `threads` threads, each with its
/// own engine; the first failing seed (in seed order) fails the run and names its seed.
pub fn run_shard(
    scenario: &Scenario,
    program: &Path,
    seeds: SeedRange,
    shard: Option<Shard>,
    threads: usize,
    progress: SeedProgress,
) -> Result<MonteCarlo> {
    if threads == 0 {
        return Err(anyhow!("threads must be at least 1"));
    }
    if let Some(shard) = shard {
        seeds.check_shard(shard)?;
    }
    let started = Instant::now();
    let list = seeds.seeds(shard);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(list.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= list.len() || failed.load(Ordering::Relaxed) {
                    break;
                }
                let seed = list[i];
                let result = run_one(scenario, program, seed);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().expect("results lock").push((seed, result));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, list.len());
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|r| r.0);
    let mut outcomes = Vec::with_capacity(results.len());
    let mut timings = Vec::with_capacity(results.len());
    for (seed, result) in results {
        let (outcome, timing) = result.map_err(|e| e.context(format!("seed {seed}")))?;
        outcomes.push(outcome);
        timings.push(timing);
    }
    Ok(MonteCarlo {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        fingerprint: fingerprint(scenario),
        seeds,
        shard,
        accounts: scenario.population.accounts
            + scenario.population.whales.iter().map(|w| w.count).sum::<usize>(),
        steps: scenario.steps,
        step_seconds: scenario.step_seconds,
        banks: scenario.banks.iter().map(|b| b.symbol.clone()).collect(),
        insurance_fund_usd: scenario.banks.iter().map(|b| b.insurance_usd).sum(),
        rerun: format!("cross-margin simulate scenarios/{}.toml", scenario.name),
        outcomes,
        timings,
        wall_secs: started.elapsed().as_secs_f64(),
        threads,
    })
}

/// One seed's run with feedback.
pub fn run_one(
    scenario: &Scenario,
    program: &Path,
    seed: u64,
) -> Result<(SeedOutcome, SeedTiming)> {
    let mut seeded = scenario.clone();
    seeded.seed = seed;
    let run = engine::run(&seeded, program, true, &mut |_, _, _| {})?;
    let timing = SeedTiming {
        seed,
        setup_secs: run.setup_secs,
        steps_secs: run.run_secs,
        keeper_secs: run.keeper_secs,
    };
    Ok((SeedOutcome::from_run(&seeded, seed, &run), timing))
}

/// Shards that cannot be merged.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeError {
    NoShards,
    /// A shard of another scenario (or the same file with other parameters).
    DifferentScenario {
        expected: String,
        found: String,
    },
    /// A shard of another seed range.
    DifferentRange {
        expected: SeedRange,
        found: SeedRange,
    },
    /// A seed given by two shards.
    RepeatedSeed(u64),
    /// Seeds of the range no shard covers.
    MissingSeeds {
        count: usize,
        first: u64,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoShards => write!(f, "no shard to merge"),
            MergeError::DifferentScenario { expected, found } => write!(
                f,
                "the shards ran different scenarios ({expected} and {found}): same file and the same --accounts/--steps/--no-defences"
            ),
            MergeError::DifferentRange { expected, found } => {
                write!(f, "the shards split different seed ranges ({expected} and {found})")
            }
            MergeError::RepeatedSeed(seed) => {
                write!(f, "seed {seed} is in two shards (a shard given twice, or overlapping shards)")
            }
            MergeError::MissingSeeds { count, first } => {
                write!(f, "{count} seeds of the range are in no shard given (the first: {first})")
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// Combines the shards of one run (in any order) into the run over the whole range.
pub fn merge(parts: &[MonteCarlo]) -> Result<MonteCarlo, MergeError> {
    let first = parts.first().ok_or(MergeError::NoShards)?;
    for part in parts {
        if part.fingerprint != first.fingerprint {
            return Err(MergeError::DifferentScenario {
                expected: format!("{} {}", first.scenario, first.fingerprint),
                found: format!("{} {}", part.scenario, part.fingerprint),
            });
        }
        if part.seeds != first.seeds {
            return Err(MergeError::DifferentRange { expected: first.seeds, found: part.seeds });
        }
    }
    let mut outcomes: Vec<SeedOutcome> = parts.iter().flat_map(|p| p.outcomes.clone()).collect();
    let mut timings: Vec<SeedTiming> = parts.iter().flat_map(|p| p.timings.clone()).collect();
    outcomes.sort_by_key(|o| o.seed);
    timings.sort_by_key(|t| t.seed);
    if let Some(pair) = outcomes.windows(2).find(|w| w[0].seed == w[1].seed) {
        return Err(MergeError::RepeatedSeed(pair[0].seed));
    }
    let missing: Vec<u64> = first
        .seeds
        .seeds(None)
        .into_iter()
        .filter(|s| outcomes.binary_search_by_key(s, |o| o.seed).is_err())
        .collect();
    if let Some(&first_missing) = missing.first() {
        return Err(MergeError::MissingSeeds { count: missing.len(), first: first_missing });
    }
    Ok(MonteCarlo {
        shard: None,
        outcomes,
        timings,
        wall_secs: parts.iter().map(|p| p.wall_secs).sum(),
        threads: 0,
        ..first.clone()
    })
}
