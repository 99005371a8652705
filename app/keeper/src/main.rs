//! `cross-margin-keeper`: the liquidation bot, against any JSON-RPC cluster.
//!
//! ```text
//! cross-margin-keeper run --rpc-url http://127.0.0.1:8899 --keypair ~/.config/solana/id.json \
//!     --group <GROUP> --liquidator-account <MARGIN ACCOUNT> [--dry-run] [--shard 0/2]
//! ```
//! Every flag can also come from the environment (see `--help`). Logs are structured
//! (`tracing`; `--log-format json` for machines, `RUST_LOG` to filter).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use cross_margin_client::{Keypair, Pubkey};
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::backend::{Backend, Backoff};
use cross_margin_keeper::fees::DynamicFee;
use cross_margin_keeper::watch::{self, ws_url_from_rpc, DetectionStats, WatchConfig};
use cross_margin_keeper::{Keeper, KeeperConfig, Shard};
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_message::AddressLookupTableAccount;

#[derive(Parser)]
#[command(version, about = "Liquidation keeper for the cross_margin protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text", env = "KEEPER_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// How the keeper learns that an account needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Detection {
    /// A full read every `--interval-secs`.
    Poll,
    /// Websocket subscriptions into an in-memory snapshot, repaired by a full read every
    /// `--snapshot-interval-secs`.
    Websocket,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the group and liquidate (or write off) every account that needs it, until Ctrl-C.
    Run(RunArgs),
}

#[derive(Parser)]
struct RunArgs {
    /// JSON-RPC endpoint.
    #[arg(long, env = "KEEPER_RPC_URL", default_value = "http://127.0.0.1:8899")]
    rpc_url: String,
    /// The keeper's keypair (JSON array of 64 bytes): pays fees and owns the liquidator account.
    #[arg(long, env = "KEEPER_KEYPAIR")]
    keypair: PathBuf,
    /// The group to watch.
    #[arg(long, env = "KEEPER_GROUP")]
    group: String,
    /// The keeper's own margin account in that group (it takes over the debt).
    #[arg(long, env = "KEEPER_LIQUIDATOR_ACCOUNT")]
    liquidator_account: String,
    /// Seconds between rounds.
    #[arg(long, env = "KEEPER_INTERVAL_SECS", default_value_t = 2.0)]
    interval_secs: f64,
    /// Priority fee in micro-lamports per compute unit: the floor of the dynamic fee, or the
    /// fee itself with `--fixed-priority-fee`.
    #[arg(long, env = "KEEPER_PRIORITY_FEE", default_value_t = 0)]
    priority_fee: u64,
    /// Which percentile of the recent prioritization fees of the accounts a transaction
    /// writes to pay (`getRecentPrioritizationFees`).
    #[arg(long, env = "KEEPER_PRIORITY_FEE_PERCENTILE", default_value_t = 75,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    priority_fee_percentile: u8,
    /// The most the dynamic fee pays, micro-lamports per compute unit.
    #[arg(long, env = "KEEPER_PRIORITY_FEE_MAX", default_value_t = 1_000_000)]
    priority_fee_max: u64,
    /// Pay exactly `--priority-fee`, whatever recent transactions paid.
    #[arg(long, env = "KEEPER_FIXED_PRIORITY_FEE")]
    fixed_priority_fee: bool,
    /// Detection: `websocket` (default when a websocket URL is known: `--ws-url`, or derived
    /// from `--rpc-url`) or `poll`.
    #[arg(long, env = "KEEPER_DETECTION", value_enum)]
    detection: Option<Detection>,
    /// The node's websocket endpoint (default: `--rpc-url` with ws(s):// and port + 1).
    #[arg(long, env = "KEEPER_WS_URL")]
    ws_url: Option<String>,
    /// With websocket detection: seconds between full snapshots that repair missed updates.
    #[arg(long, env = "KEEPER_SNAPSHOT_INTERVAL_SECS", default_value_t = 60.0)]
    snapshot_interval_secs: f64,
    /// With websocket detection: the longest wait between reconnection attempts, seconds.
    #[arg(long, env = "KEEPER_WS_BACKOFF_MAX_SECS", default_value_t = 30.0)]
    ws_backoff_max_secs: f64,
    /// Extra compute units over the simulated amount, in bps of it.
    #[arg(long, env = "KEEPER_CU_MARGIN_BPS", default_value_t = 1_000)]
    cu_margin_bps: u32,
    /// Evaluate, plan and simulate, but send nothing.
    #[arg(long, env = "KEEPER_DRY_RUN")]
    dry_run: bool,
    /// This keeper's share of the accounts when several run side by side: `i/n`.
    #[arg(long, env = "KEEPER_SHARD", default_value = "0/1")]
    shard: Shard,
    /// An address lookup table holding the group's banks and oracles, for accounts whose
    /// liquidation does not fit a legacy transaction.
    #[arg(long, env = "KEEPER_LOOKUP_TABLE")]
    lookup_table: Option<String>,
    /// Run one round and exit (exit code 0 whatever it found).
    #[arg(long)]
    once: bool,
    /// RPC request timeout, seconds.
    #[arg(long, env = "KEEPER_RPC_TIMEOUT_SECS", default_value_t = 30)]
    rpc_timeout_secs: u64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    match cli.command {
        Command::Run(args) => run(args),
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn pubkey(what: &str, value: &str) -> Result<Pubkey> {
    Pubkey::from_str(value).map_err(|_| anyhow!("{what}: '{value}' is not a base58 public key"))
}

/// A keypair file as the Solana CLI writes it (`solana_keypair::read_keypair_file`).
pub fn read_keypair(path: &PathBuf) -> Result<Keypair> {
    std::fs::metadata(path).with_context(|| format!("reading the keypair {}", path.display()))?;
    solana_keypair::read_keypair_file(path)
        .map_err(|e| anyhow!("{}: not a keypair: {e}", path.display()))
}

impl RunArgs {
    /// The detection to run and, for websockets, the URL.
    fn detection(&self) -> Result<(Detection, Option<String>)> {
        let ws_url = self.ws_url.clone().or_else(|| ws_url_from_rpc(&self.rpc_url));
        match (self.detection, ws_url) {
            (Some(Detection::Poll), _) => Ok((Detection::Poll, None)),
            (_, Some(url)) => Ok((Detection::Websocket, Some(url))),
            (Some(Detection::Websocket), None) => Err(anyhow!(
                "--detection websocket: no websocket URL (pass --ws-url; '{}' gives none)",
                self.rpc_url
            )),
            (None, None) => Ok((Detection::Poll, None)),
        }
    }

    fn dynamic_fee(&self) -> Option<DynamicFee> {
        (!self.fixed_priority_fee).then_some(DynamicFee {
            percentile: self.priority_fee_percentile,
            max_micro_lamports: self.priority_fee_max,
        })
    }
}

fn run(args: RunArgs) -> Result<()> {
    let signer = read_keypair(&args.keypair)?;
    let mut config = KeeperConfig::new(
        pubkey("--group", &args.group)?,
        pubkey("--liquidator-account", &args.liquidator_account)?,
    );
    config.shard = args.shard;
    config.priority_fee_micro_lamports = args.priority_fee;
    config.dynamic_fee = args.dynamic_fee();
    config.compute_margin_bps = args.cu_margin_bps;
    config.dry_run = args.dry_run;
    let mut backend = RpcBackend::new(&args.rpc_url, Duration::from_secs(args.rpc_timeout_secs));
    if let Some(table) = &args.lookup_table {
        config.lookup_table =
            Some(load_lookup_table(&mut backend, pubkey("--lookup-table", table)?)?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        tracing::info!("Ctrl-C: finishing the current step, then stopping");
        flag.store(true, Ordering::Relaxed);
    })
    .context("installing the Ctrl-C handler")?;

    let keeper = Keeper::new(config, signer);
    tracing::info!(
        rpc = %backend.name(),
        signer = %keeper.signer(),
        group = %keeper.config.group,
        shard = ?keeper.config.shard,
        dry_run = keeper.config.dry_run,
        "keeper starting"
    );
    if args.once {
        keeper.run_round(&mut backend, &stop)?.log();
        return Ok(());
    }
    match args.detection()? {
        (Detection::Websocket, Some(ws_url)) => {
            let mut watch = WatchConfig::new(ws_url);
            watch.snapshot_interval = Duration::from_secs_f64(args.snapshot_interval_secs);
            watch.evaluate_interval = Duration::from_secs_f64(args.interval_secs);
            watch.backoff = Backoff {
                max: Duration::from_secs_f64(args.ws_backoff_max_secs),
                ..Backoff::default()
            };
            tracing::info!(ws = %watch.ws_url, "detection: websocket");
            let stats = Arc::new(DetectionStats::default());
            watch::run(&keeper, &mut backend, &watch, &stop, stats, &mut |_| {})
        }
        _ => {
            tracing::info!(interval_secs = args.interval_secs, "detection: polling");
            keeper.run(&mut backend, Duration::from_secs_f64(args.interval_secs), &stop)
        }
    }
}

fn load_lookup_table(backend: &mut RpcBackend, key: Pubkey) -> Result<AddressLookupTableAccount> {
    let account = backend
        .multiple_accounts(&[key])?
        .pop()
        .flatten()
        .ok_or_else(|| anyhow!("lookup table {key} not found"))?;
    let table = AddressLookupTable::deserialize(&account.data)
        .map_err(|e| anyhow!("lookup table {key}: {e:?}"))?;
    Ok(AddressLookupTableAccount { key, addresses: table.addresses.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let mut argv = vec!["cross-margin-keeper", "run"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Run(args) => args,
        })
    }

    const REQUIRED: [&str; 6] =
        ["--keypair", "k.json", "--group", "G", "--liquidator-account", "L"];

    #[test]
    fn the_run_flags_and_their_defaults() {
        let args = parse(&REQUIRED).unwrap();
        assert_eq!(args.rpc_url, "http://127.0.0.1:8899");
        assert_eq!((args.group.as_str(), args.liquidator_account.as_str()), ("G", "L"));
        assert_eq!(args.interval_secs, 2.0);
        assert_eq!((args.priority_fee, args.cu_margin_bps), (0, 1_000));
        assert!(!args.dry_run && !args.once);
        assert_eq!(args.shard, Shard::ALL);
        assert_eq!(
            args.detection().unwrap(),
            (Detection::Websocket, Some("ws://127.0.0.1:8900".into()))
        );
        assert_eq!(
            args.dynamic_fee(),
            Some(DynamicFee { percentile: 75, max_micro_lamports: 1_000_000 })
        );
        assert_eq!((args.snapshot_interval_secs, args.ws_backoff_max_secs), (60.0, 30.0));

        let mut all = REQUIRED.to_vec();
        all.extend([
            "--rpc-url",
            "http://10.0.0.1:8899",
            "--interval-secs",
            "0.5",
            "--priority-fee",
            "5000",
            "--cu-margin-bps",
            "2000",
            "--dry-run",
            "--shard",
            "1/3",
            "--once",
            "--priority-fee-percentile",
            "90",
            "--priority-fee-max",
            "20000",
            "--ws-url",
            "wss://ws.example.com/k",
            "--snapshot-interval-secs",
            "15",
        ]);
        let args = parse(&all).unwrap();
        assert_eq!(
            args.dynamic_fee(),
            Some(DynamicFee { percentile: 90, max_micro_lamports: 20_000 })
        );
        assert_eq!(args.detection().unwrap().1.as_deref(), Some("wss://ws.example.com/k"));
        assert_eq!(args.snapshot_interval_secs, 15.0);
        let mut fixed = REQUIRED.to_vec();
        fixed.extend(["--fixed-priority-fee", "--detection", "poll"]);
        let args_fixed = parse(&fixed).unwrap();
        assert_eq!(args_fixed.dynamic_fee(), None);
        assert_eq!(args_fixed.detection().unwrap(), (Detection::Poll, None));
        assert_eq!(args.rpc_url, "http://10.0.0.1:8899");
        assert_eq!(
            (args.interval_secs, args.priority_fee, args.cu_margin_bps),
            (0.5, 5_000, 2_000)
        );
        assert!(args.dry_run && args.once);
        assert_eq!(args.shard, Shard { index: 1, count: 3 });
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        // The keypair, the group and the liquidator account are required.
        assert!(parse(&["--group", "G", "--liquidator-account", "L"]).is_err());
        let mut bad_shard = REQUIRED.to_vec();
        bad_shard.extend(["--shard", "3/3"]);
        let error = parse(&bad_shard).err().unwrap().to_string();
        assert!(error.contains("need 0 <= i < n"), "{error}");
        let mut bad_percentile = REQUIRED.to_vec();
        bad_percentile.extend(["--priority-fee-percentile", "101"]);
        assert!(parse(&bad_percentile).is_err());
        let mut no_ws = REQUIRED.to_vec();
        no_ws.extend(["--rpc-url", "unix:/tmp/socket", "--detection", "websocket"]);
        let error = parse(&no_ws).unwrap().detection().unwrap_err().to_string();
        assert!(error.contains("no websocket URL"), "{error}");
        let mut bad_fee = REQUIRED.to_vec();
        bad_fee.extend(["--priority-fee", "-1"]);
        assert!(parse(&bad_fee).is_err());
        assert!(pubkey("--group", "not-a-key").unwrap_err().to_string().contains("base58"));
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
