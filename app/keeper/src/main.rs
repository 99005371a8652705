//! `cross-margin-keeper`: the liquidation bot, against any JSON-RPC cluster.
//!
//! ```text
//! cross-margin-keeper run --rpc-url http://127.0.0.1:8899 --keypair ~/.config/solana/id.json \
//!     --group <GROUP> --liquidator-account <MARGIN ACCOUNT> [--dry-run] [--shard 0/2]
//! cross-margin-keeper run --config keeper.toml
//! cross-margin-keeper create-lookup-table --config keeper.toml
//! ```
//! Every flag can also come from the environment and from a TOML config file (see `--help`,
//! `keeper.example.toml` and docs/KEEPER.md). Logs are structured (`tracing`; `--log-format json`
//! for machines, `RUST_LOG` to filter). `/metrics` and `/health` are served on `--metrics-addr`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use cross_margin_client::Keypair;
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::backend::{Backend, Backoff};
use cross_margin_keeper::config::{Detection, Options, Settings};
use cross_margin_keeper::inventory::InventoryConfig;
use cross_margin_keeper::metrics::{Metered, Metrics, QUOTE_PER_USD};
use cross_margin_keeper::swap::ConstantProductAdapter;
use cross_margin_keeper::watch::{self, DetectionStats, WatchConfig};
use cross_margin_keeper::{http, lookup_table, Keeper, KeeperConfig, Shard};

#[derive(Parser)]
#[command(version, about = "Liquidation keeper for the cross_margin protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format, text or json [default: text; config key `log_format`].
    #[arg(long, global = true, value_enum, env = "KEEPER_LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the group and liquidate (or write off) every account that needs it, until Ctrl-C.
    Run(Options),
    /// Create an address lookup table holding what the keeper's transactions reference (the
    /// group's banks, oracles, perp markets, the programs), wait until it is active, and print
    /// its address (the last line of stdout) for `--lookup-table`.
    CreateLookupTable(Options),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let (options, create_table) = match cli.command {
        Command::Run(options) => (options, false),
        Command::CreateLookupTable(options) => (options, true),
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let settings = options.with_config_file()?.resolve(home.as_deref())?;
    let json = match cli.log_format {
        Some(format) => format == LogFormat::Json,
        None => settings.log_json.unwrap_or(false),
    };
    init_logs(json);
    match create_table {
        false => run(settings),
        true => create_lookup_table(settings),
    }
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match json {
        false => builder.init(),
        true => builder.json().init(),
    }
}

/// A keypair file as the Solana CLI writes it (`solana_keypair::read_keypair_file`).
pub fn read_keypair(path: &Path) -> Result<Keypair> {
    std::fs::metadata(path).with_context(|| format!("reading the keypair {}", path.display()))?;
    solana_keypair::read_keypair_file(path)
        .map_err(|e| anyhow!("{}: not a keypair: {e}", path.display()))
}

fn run(settings: Settings) -> Result<()> {
    let signer = read_keypair(&settings.keypair)?;
    let metrics = Arc::new(Metrics::new());
    let mut config = KeeperConfig::new(settings.group, settings.liquidator_account);
    config.shard = settings.shard;
    config.priority_fee_micro_lamports = settings.priority_fee;
    config.dynamic_fee = settings.dynamic_fee;
    config.compute_margin_bps = settings.cu_margin_bps;
    config.dry_run = settings.dry_run;
    config.min_profit_quote = (settings.min_profit_usd * QUOTE_PER_USD).round() as i128;
    config.inventory = InventoryConfig {
        unwind: settings.unwind,
        health_buffer: (settings.health_buffer_usd * QUOTE_PER_USD).round() as i128,
        slippage_bps: settings.slippage_bps,
        landing_lag_secs: settings.landing_lag_secs,
        ..InventoryConfig::default()
    };
    config.metrics = metrics.clone();
    let rpc = RpcBackend::new(&settings.rpc_url, settings.rpc_timeout);
    let mut backend = Metered::new(rpc, metrics.clone());
    if let Some(table) = settings.lookup_table {
        config.lookup_table = Some(lookup_table::load(&mut backend, table)?);
    }
    if let Some(addr) = settings.metrics_addr {
        let bound = http::serve(addr, metrics, settings.health_max_age)
            .with_context(|| format!("metrics_addr {addr}: cannot listen"))?;
        tracing::info!(%bound, "serving /metrics and /health");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        tracing::info!("Ctrl-C: finishing the current step, then stopping");
        flag.store(true, Ordering::Relaxed);
    })
    .context("installing the Ctrl-C handler")?;

    let mut keeper = Keeper::new(config, signer);
    if !settings.swap_pools.is_empty() {
        let adapter =
            ConstantProductAdapter::load(&mut backend, &settings.swap_pools, keeper.config.retry)?;
        keeper = keeper.with_swap_adapter(Box::new(adapter));
    }
    tracing::info!(
        rpc = %backend.name(),
        signer = %keeper.signer(),
        group = %keeper.config.group,
        shard = ?keeper.config.shard,
        dry_run = keeper.config.dry_run,
        min_profit_usd = settings.min_profit_usd,
        unwind = ?settings.unwind,
        "keeper starting"
    );
    if settings.once {
        keeper.run_round(&mut backend, &stop)?.log();
        return Ok(());
    }
    match settings.detection {
        Detection::Websocket { ws_url } => {
            let mut watch = WatchConfig::new(ws_url);
            watch.snapshot_interval = settings.snapshot_interval;
            watch.evaluate_interval = settings.interval;
            watch.backoff = Backoff { max: settings.ws_backoff_max, ..Backoff::default() };
            tracing::info!(ws = %watch.ws_url, "detection: websocket");
            let stats = Arc::new(DetectionStats::default());
            watch::run(&keeper, &mut backend, &watch, &stop, stats, &mut |_| {})
        }
        Detection::Poll => {
            tracing::info!(interval = ?settings.interval, "detection: polling");
            keeper.run(&mut backend, settings.interval, &stop)
        }
    }
}

fn create_lookup_table(settings: Settings) -> Result<()> {
    let signer = read_keypair(&settings.keypair)?;
    let mut backend = RpcBackend::new(&settings.rpc_url, settings.rpc_timeout);
    let mut config = KeeperConfig::new(settings.group, settings.liquidator_account);
    config.shard = Shard::ALL;
    let keeper = Keeper::new(config, signer.insecure_clone());
    let discovered = keeper.discover(&mut backend)?;
    let addresses = lookup_table::keeper_addresses(&discovered.market, settings.liquidator_account);
    tracing::info!(
        addresses = addresses.len(),
        banks = discovered.market.banks.iter().flatten().count(),
        perp_markets = discovered.market.perps.iter().flatten().count(),
        "creating the lookup table"
    );
    let table = lookup_table::create(&mut backend, &signer, &addresses, Duration::from_secs(60))?;
    tracing::info!(table = %table.key, addresses = table.addresses.len(), "lookup table active");
    println!("{}", table.key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cross-margin-keeper").chain(args.iter().copied()))
    }

    fn options(cli: Cli) -> Options {
        match cli.command {
            Command::Run(options) | Command::CreateLookupTable(options) => options,
        }
    }

    const G: &str = "11111111111111111111111111111112";

    #[test]
    fn the_subcommands_take_the_same_options() {
        let args = ["--group", G, "--liquidator-account", G, "--priority-fee", "5000", "--once"];
        let mut run = vec!["--log-format", "json", "run"];
        run.extend(args);
        let cli = parse(&run).unwrap();
        assert_eq!(cli.log_format, Some(LogFormat::Json));
        let run = options(cli);
        assert_eq!((run.priority_fee, run.once), (Some(5_000), Some(true)));
        let mut create = vec!["create-lookup-table"];
        create.extend(args);
        let create = options(parse(&create).unwrap());
        assert_eq!(create, run);
        let s = run.resolve(Some(Path::new("/home/op"))).unwrap();
        assert_eq!(s.keypair, PathBuf::from("/home/op/.config/solana/id.json"));
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        let error = parse(&["run", "--priority-fee=-1"]).err().unwrap().to_string();
        assert!(error.contains("--priority-fee"), "{error}");
        let error = parse(&["run", "--interval-secs", "soon"]).err().unwrap().to_string();
        assert!(error.contains("--interval-secs"), "{error}");
        let error = parse(&["run", "--log-format", "xml"]).err().unwrap().to_string();
        assert!(error.contains("--log-format"), "{error}");
        assert!(parse(&["run", "--no-such-flag"]).is_err());
        // Resolution names the key that is missing or wrong.
        let missing = options(parse(&["run"]).unwrap()).resolve(Some(Path::new("/h")));
        assert!(missing.unwrap_err().to_string().starts_with("group: required"));
        let bad = options(parse(&["run", "--group", "G", "--liquidator-account", G]).unwrap());
        let error = bad.resolve(Some(Path::new("/h"))).unwrap_err().to_string();
        assert!(error.contains("'G' is not a base58 public key"), "{error}");
    }

    #[test]
    fn a_keypair_file_must_hold_64_bytes() {
        let dir = std::env::temp_dir().join(format!("keeper-keypair-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        let bytes: Vec<u8> = Keypair::new().to_bytes().to_vec();
        std::fs::write(&good, serde_json::to_string(&bytes).unwrap()).unwrap();
        assert!(read_keypair(&good).is_ok());
        let short = dir.join("short.json");
        std::fs::write(&short, "[1, 2, 3]").unwrap();
        assert!(read_keypair(&short).unwrap_err().to_string().contains("not a keypair"));
        let missing = dir.join("missing.json");
        assert!(read_keypair(&missing).unwrap_err().to_string().contains("reading the keypair"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
