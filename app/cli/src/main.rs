//! `cross-margin`: the project's command-line entry point.
//!
//! `cross-margin demo` is the README's main job: an in-process chain running the real program, a
//! seeded market, a price crash, the reference keeper liquidating, and a summary of what
//! happened and what it cost.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{anyhow, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use cross_margin::math::{mul_q64, Round};
use cross_margin_client::{embedded, EmbeddedChain};
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::evaluate;
use cross_margin_keeper::keeper::RoundReport;
use cross_margin_testkit::scenario::{whole, SeededMarket};

#[derive(Parser)]
#[command(version, about = "Cross-margin protocol: demo, keeper and stress lab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once per process: the size of the simulate arguments does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// On an in-process chain running the real program: seed a market, crash SOL, run the
    /// keeper, and summarise the liquidations, their compute units, insurance and bad debt.
    Demo {
        /// The program to load (default: target/deploy/cross_margin.so).
        #[arg(long, env = "CROSS_MARGIN_SO")]
        program: Option<std::path::PathBuf>,
        /// Borrowers to seed.
        #[arg(long, default_value_t = 60)]
        accounts: usize,
        /// SOL's fall, in percent.
        #[arg(long, default_value_t = 30)]
        crash_pct: u32,
        /// Seed for the portfolios.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// SOL-PERP traders to seed (0: no perp market).
        #[arg(long, default_value_t = 40)]
        perp_traders: usize,
    },
    /// The stress lab: run a scenario (TOML) against the real program, with and without the
    /// liquidation feedback loop, and write a report (Markdown, CSV, SVG charts).
    Simulate(SimulateArgs),
    /// Combines the `monte_carlo.json` of Monte Carlo shards (`simulate --seeds a..b --shard i/n`,
    /// one directory each) into one report in OUT, identical to the unsharded run's.
    Merge {
        /// The merged report's directory.
        out: std::path::PathBuf,
        /// The shards' report directories, in any order.
        #[arg(required = true)]
        shards: Vec<std::path::PathBuf>,
    },
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// The scenario file (see scenarios/).
    scenario: std::path::PathBuf,
    /// Report directory (default: reports/<scenario name>).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// The program to load (default: target/deploy/cross_margin.so).
    #[arg(long, env = "CROSS_MARGIN_SO")]
    program: Option<std::path::PathBuf>,
    /// Override the scenario's number of accounts.
    #[arg(long)]
    accounts: Option<usize>,
    /// Override the scenario's number of steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Override the scenario's seed.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Monte Carlo: run the scenario (with feedback) for every seed of `N` (0..N) or `a..b`
    /// (b excluded) and report the distributions (monte_carlo.md, monte_carlo.json, band charts).
    #[arg(long, conflicts_with = "sweep")]
    seeds: Option<cross_margin_sim::monte_carlo::SeedRange>,
    /// Monte Carlo: run only shard `i/n` of the seeds (the k-th seed of the range is in shard
    /// k mod n); `cross-margin merge` combines the shards' outputs.
    #[arg(long, requires = "seeds")]
    shard: Option<cross_margin_sim::monte_carlo::Shard>,
    /// Monte Carlo: threads (seeds run in parallel); default: the available cores.
    #[arg(long, requires = "seeds", value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Sweep one parameter instead: `BANK.param=v1,v2,...` (e.g. `SOL.maint_asset=8000,8500,9000`).
    #[arg(long)]
    sweep: Option<cross_margin_sim::sweep::Sweep>,
    /// Run without the oracle-manipulation defences: the oracle writer's EMA equals the price
    /// (no stable price) and no bank has a net borrow limit.
    #[arg(long)]
    no_defences: bool,
}

mod monte_carlo;
mod perps;

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Demo { program, accounts, crash_pct, seed, perp_traders } => {
            let program = program.unwrap_or_else(embedded::program_so_path);
            demo(program, accounts, crash_pct, seed, perp_traders)
        }
        Command::Simulate(args) => simulate(args),
        Command::Merge { out, shards } => monte_carlo::merge(&out, &shards),
    }
}

fn bar(len: usize, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    bar
}

fn simulate(args: SimulateArgs) -> Result<()> {
    let mut scenario = cross_margin_sim::Scenario::from_file(&args.scenario)?;
    if let Some(accounts) = args.accounts {
        scenario.population.accounts = accounts;
    }
    if let Some(steps) = args.steps {
        scenario.steps = steps;
        if let Some(collapse) = &mut scenario.open_interest_collapse {
            collapse.at_step = collapse.at_step.min(steps);
        }
    }
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if args.no_defences {
        scenario = scenario.without_defences();
    }
    let program = args.program.unwrap_or_else(embedded::program_so_path);
    if let Some(seeds) = args.seeds {
        let out = args.out.unwrap_or_else(|| monte_carlo::default_out(&scenario, args.shard));
        let threads = match args.threads {
            Some(threads) => threads as usize,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        };
        let rerun =
            monte_carlo::rerun_prefix(&args.scenario, args.accounts, args.steps, args.no_defences);
        return monte_carlo::simulate(&scenario, &program, seeds, args.shard, threads, rerun, &out);
    }
    let out = args.out.unwrap_or_else(|| std::path::Path::new("reports").join(&scenario.name));
    if let Some(sweep) = &args.sweep {
        let progress = bar(sweep.values.len(), "sweep");
        let points =
            cross_margin_sim::sweep::run(&scenario, sweep, &program, &out, &mut |_, done, _| {
                progress.set_position(done as u64)
            })?;
        progress.finish();
        for point in &points {
            match &point.outcome {
                Ok(t) => println!(
                    "{}.{} = {}: {} liquidations, bad debt ${:.0}, insurance paid ${:.0}",
                    sweep.bank,
                    sweep.parameter,
                    point.value,
                    t.liquidations,
                    t.bad_debt_usd,
                    t.insurance_paid_usd
                ),
                Err(e) => println!("{}.{} = {}: {e}", sweep.bank, sweep.parameter, point.value),
            }
        }
        println!("sweep report: {}", out.join("sweep.md").display());
        return Ok(());
    }
    // The run with feedback and the run without, side by side on the two cores.
    let total = scenario.population.accounts
        + scenario.population.whales.iter().map(|w| w.count).sum::<usize>();
    let multi = indicatif::MultiProgress::new();
    let bars: Vec<ProgressBar> = ["with feedback", "without feedback"]
        .iter()
        .map(|name| multi.add(bar(total + scenario.steps, name)))
        .collect();
    let (with, without) = std::thread::scope(|scope| {
        let runs: Vec<_> = [true, false]
            .into_iter()
            .zip(&bars)
            .map(|(feedback, progress)| {
                let (scenario, program) = (&scenario, &program);
                scope.spawn(move || {
                    cross_margin_sim::run(scenario, program, feedback, &mut |phase, done, _| {
                        let offset = if phase == "steps" { total } else { 0 };
                        progress.set_position((offset + done) as u64);
                    })
                })
            })
            .collect();
        let mut results = runs.into_iter().map(|r| r.join().expect("run thread"));
        (results.next().expect("with"), results.next().expect("without"))
    });
    for bar in &bars {
        bar.finish();
    }
    let (with, without) = (with?, without?);
    cross_margin_sim::report::write(&out, &scenario, &with, &without)?;
    print!("{}", cross_margin_sim::report::summary(&scenario, &with, &without));
    println!("report: {}", out.join("report.md").display());
    Ok(())
}

/// Each bank's insurance fund at the start, in dollars.
const INSURANCE_USD: u64 = 10_000;

/// Settle (USDC) native units as dollars and cents.
pub(crate) fn usd(quote_units: i128) -> String {
    let sign = if quote_units < 0 { "-" } else { "" };
    let cents = quote_units.unsigned_abs() / 10_000;
    let (dollars, cents) = (cents / 100, cents % 100);
    let mut grouped = String::new();
    for (i, digit) in dollars.to_string().chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}${}.{cents:02}", grouped.chars().rev().collect::<String>())
}

/// SOL-PERP's pool at the start, in dollars, and its LPs.
const PERP_POOL_USD: u64 = 1_000_000;
const PERP_LPS: usize = 4;

fn demo(
    program: std::path::PathBuf,
    accounts: usize,
    crash_pct: u32,
    seed: u64,
    perp_traders: usize,
) -> Result<()> {
    if crash_pct >= 100 {
        return Err(anyhow!("--crash-pct must be below 100"));
    }
    let started = Instant::now();
    let chain = EmbeddedChain::with_program(&program)?;
    println!("embedded chain: LiteSVM running {} as {}", program.display(), cross_margin::ID);

    let bar = ProgressBar::new(accounts as u64).with_style(
        ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("seeding borrowers");
    let mut market = SeededMarket::new_with_progress(chain, accounts, seed, &mut |_| bar.inc(1))?;
    bar.finish();
    if perp_traders > 0 {
        market.add_perps(perp_traders, PERP_LPS, PERP_POOL_USD, seed)?;
    }
    let (keeper, keeper_user) = market.keeper(5_000_000)?;
    let banks = market.banks.clone();
    let symbols: Vec<&str> = market.assets.iter().map(|a| a.symbol).collect();
    for (bank, asset) in banks.iter().zip(market.assets.clone()) {
        let amount = whole(&asset, INSURANCE_USD) / asset.price as u64;
        market
            .sandbox
            .fund_insurance(bank, amount)
            .map_err(|f| anyhow!("fund_insurance: {}", f.error_name().unwrap_or("?")))?;
    }
    println!(
        "market: group {} with banks {}; {accounts} borrowers; insurance funds of ${INSURANCE_USD} each; a keeper holding $5,000,000 of USDC",
        market.sandbox.group,
        symbols.join(", ")
    );

    let perps_before = perps::snapshot(&market)?;
    if let Some(p) = &market.perps {
        println!(
            "perps: SOL-PERP settling in USDC, a pool of {} from {PERP_LPS} LPs, {} traders ({} orders refused for health)",
            usd(PERP_POOL_USD as i128 * 1_000_000),
            p.traders.len(),
            p.refused
        );
    }
    let sol_before = market.assets[1].price;
    let sol_after_e4 = sol_before * 10_000 * (100 - crash_pct as i64) / 100;
    market.set_price(1, sol_after_e4);
    println!("price: SOL ${sol_before} -> ${:.2} (-{crash_pct}%)", sol_after_e4 as f64 / 1e4);

    let stop = AtomicBool::new(false);
    let mut reports: Vec<RoundReport> = Vec::new();
    for round in 1..=5 {
        let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
        let discovered = keeper.discover(&mut backend)?;
        let evaluation = evaluate(&discovered.market, &discovered.accounts);
        let work = (evaluation.liquidatable.len() + evaluation.bankrupt.len()) as u64;
        if work == 0 {
            break;
        }
        let bar = ProgressBar::new(work).with_style(
            ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(format!("keeper round {round}"));
        let report =
            keeper.act_observed(&mut backend, &discovered, &evaluation, &stop, &mut |_, _| {
                bar.inc(1)
            })?;
        bar.finish();
        reports.push(report);
    }
    summarise(&mut market, &reports, &symbols)?;
    if let Some(before) = perps_before {
        perps::summarise(&market, &before, &reports)?;
    }
    let (view, _) =
        market.sandbox.health_of(&keeper_user.account).map_err(|f| anyhow!("{:?}", f.error))?;
    println!(
        "keeper account after: init health {}, maint health {}",
        usd(view.init),
        usd(view.maint)
    );
    for bank in &banks {
        let (vault, claims) = market.sandbox.vault_and_claims(bank);
        if (vault as i128) < claims {
            return Err(anyhow!("bank {}: vault {vault} below claims {claims}", bank.index));
        }
    }
    println!(
        "every vault covers deposits - borrows + insurance; done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn summarise(market: &mut SeededMarket, reports: &[RoundReport], symbols: &[&str]) -> Result<()> {
    let liquidations: Vec<_> = reports.iter().flat_map(|r| &r.liquidations).collect();
    let resolutions: Vec<_> = reports.iter().flat_map(|r| &r.resolutions).collect();
    let first = reports.first().cloned().unwrap_or_default();
    let accounts: std::collections::BTreeSet<_> =
        liquidations.iter().map(|l| l.event.liquidatee).collect();
    println!("\nkeeper: {} rounds", reports.len());
    println!(
        "  scanned {} accounts: {} liquidatable, {} bankrupt, {} healthy, {} unpriced",
        first.accounts, first.liquidatable, first.bankrupt, first.healthy, first.unpriced
    );
    println!(
        "  {} liquidations on {} accounts, {} bankruptcies written off, {} lost races",
        liquidations.len(),
        accounts.len(),
        resolutions.len(),
        reports.iter().map(RoundReport::lost_races).sum::<usize>()
    );

    let index_of = |address| market.banks.iter().position(|b| b.address == address).unwrap_or(0);
    // Per (debt bank, collateral bank): steps, debt taken over, collateral seized, insured, fee.
    type PairTotals = (usize, u64, u64, u64, i128);
    let mut by_pair: BTreeMap<(usize, usize), PairTotals> = BTreeMap::new();
    for done in &liquidations {
        let e = &done.event;
        let entry = by_pair
            .entry((index_of(e.liab_bank), index_of(e.asset_bank)))
            .or_insert((0, 0, 0, 0, 0));
        entry.0 += 1;
        entry.1 += e.liab_amount;
        entry.2 += e.asset_to_liquidator;
        entry.3 += e.asset_to_insurance;
        entry.4 += done.profit_quote;
    }
    println!("\n  | debt -> collateral | steps | debt taken over | collateral to keeper | to insurance | keeper's fee |");
    println!("  |---|---:|---:|---:|---:|---:|");
    for ((liab, asset), (steps, debt, seized, insured, fee)) in &by_pair {
        let amount = |index: usize, native: u64| {
            let decimals = market.assets[index].decimals as i32;
            format!("{:.4} {}", native as f64 / 10f64.powi(decimals), symbols[index])
        };
        println!(
            "  | {} -> {} | {steps} | {} | {} | {} | {} |",
            symbols[*liab],
            symbols[*asset],
            amount(*liab, *debt),
            amount(*asset, *seized),
            amount(*asset, *insured),
            usd(*fee)
        );
    }
    let debt_value: i128 = liquidations
        .iter()
        .map(|l| mul_q64(l.event.liab_amount, l.event.liab_price, Round::Down).unwrap_or(0) as i128)
        .sum();
    let profit: i128 = liquidations.iter().map(|l| l.profit_quote).sum();
    println!("  debt liquidated: {}; keeper's fees: {}", usd(debt_value), usd(profit));

    if !liquidations.is_empty() {
        let units: Vec<u64> = liquidations.iter().map(|l| l.compute_units).collect();
        let total: u64 = units.iter().sum();
        println!(
            "\n  compute units per liquidation: min {}, mean {}, max {} (limits set from simulation: {}..{}); total {}",
            units.iter().min().unwrap(),
            total / units.len() as u64,
            units.iter().max().unwrap(),
            liquidations.iter().map(|l| l.compute_limit).min().unwrap(),
            liquidations.iter().map(|l| l.compute_limit).max().unwrap(),
            total
        );
    }
    let tokens = |index: usize, native: u64| {
        let decimals = market.assets[index].decimals as i32;
        format!("{:.6} {}", native as f64 / 10f64.powi(decimals), symbols[index])
    };
    println!("\n  bad debt: {} write-offs", resolutions.len());
    for r in &resolutions {
        let bank = index_of(r.event.liab_bank);
        println!(
            "    owed {}: insurance paid {}, depositors {} (deposit index x{:.9})",
            tokens(bank, r.event.debt),
            tokens(bank, r.event.from_insurance),
            tokens(bank, r.event.socialized),
            r.event.deposit_index_after as f64 / r.event.deposit_index_before as f64
        );
    }
    println!("\n  insurance funds after:");
    for (index, bank) in market.banks.iter().enumerate() {
        println!("    {}", tokens(index, market.sandbox.bank(bank).insurance_native));
    }
    Ok(())
}
