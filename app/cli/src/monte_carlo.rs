//! `simulate --seeds` (Monte Carlo, optionally one shard of it) and `merge` (shards into one
//! report): the plumbing around `cross_margin_sim::monte_carlo`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cross_margin_sim::monte_carlo::{self, report, SeedRange, Shard};
use cross_margin_sim::Scenario;

/// `reports/<scenario>-mc`, or `reports/<scenario>-mc-shard-<i>-of-<n>` for a shard.
pub fn default_out(scenario: &Scenario, shard: Option<Shard>) -> PathBuf {
    let name = match shard {
        Some(Shard { index, count }) => format!("{}-mc-shard-{index}-of-{count}", scenario.name),
        None => format!("{}-mc", scenario.name),
    };
    Path::new("reports").join(name)
}

/// The command that re-runs one seed with the same scenario overrides (`--seed K` follows).
pub fn rerun_prefix(
    scenario: &Path,
    accounts: Option<usize>,
    steps: Option<usize>,
    no_defences: bool,
) -> String {
    let mut command = format!("cross-margin simulate {}", scenario.display());
    if let Some(accounts) = accounts {
        command.push_str(&format!(" --accounts {accounts}"));
    }
    if let Some(steps) = steps {
        command.push_str(&format!(" --steps {steps}"));
    }
    if no_defences {
        command.push_str(" --no-defences");
    }
    command
}

pub fn simulate(
    scenario: &Scenario,
    program: &Path,
    seeds: SeedRange,
    shard: Option<Shard>,
    threads: usize,
    rerun: String,
    out: &Path,
) -> Result<()> {
    let total = seeds.seeds(shard).len();
    let progress = crate::bar(total, "seeds");
    let mut mc = monte_carlo::run_shard(scenario, program, seeds, shard, threads, &|done, _| {
        progress.set_position(done as u64)
    })?;
    progress.finish();
    mc.rerun = rerun;
    report::write(out, &mc)?;
    print!("{}", report::summary(&mc));
    println!("report: {}", out.join("monte_carlo.md").display());
    Ok(())
}

pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<()> {
    let parts = shards.iter().map(|dir| report::read(dir)).collect::<Result<Vec<_>>>()?;
    let merged = monte_carlo::merge(&parts).context("merging the shards")?;
    report::write(out, &merged)?;
    print!("{}", report::summary(&merged));
    println!("merged {} shards: {}", parts.len(), out.join("monte_carlo.md").display());
    Ok(())
}
