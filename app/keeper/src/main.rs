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
use cross_margin_keeper::backend::Backend;
use cross_margin_keeper::inventory::{InventoryConfig, UnwindMode};
use cross_margin_keeper::swap::ConstantProductAdapter;
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
    /// Priority fee in micro-lamports per compute unit.
    #[arg(long, env = "KEEPER_PRIORITY_FEE", default_value_t = 0)]
    priority_fee: u64,
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
    /// What to do with a liquidation's inventory: off (keep it), after (withdraw, swap and
    /// repay once it lands), flash_loan (all in one flash-loan transaction: no capital needed).
    #[arg(long, env = "KEEPER_UNWIND", default_value = "off")]
    unwind: UnwindMode,
    /// Init health (USD) the keeper keeps in its own account.
    #[arg(long, env = "KEEPER_HEALTH_BUFFER_USD", default_value_t = 0)]
    health_buffer_usd: u64,
    /// A swap's tolerance below its quote, bps.
    #[arg(long, env = "KEEPER_SLIPPAGE_BPS", default_value_t = 50)]
    slippage_bps: u16,
    /// Seconds between planning an unwind and its landing, for the interest the debt accrues.
    #[arg(long, env = "KEEPER_LANDING_LAG_SECS", default_value_t = 60)]
    landing_lag_secs: i64,
    /// A cp_swap pool to unwind through (repeat for each mint pair; the test pool program).
    #[arg(long, env = "KEEPER_SWAP_POOLS", value_delimiter = ',')]
    swap_pool: Vec<String>,
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

pub fn read_keypair(path: &PathBuf) -> Result<Keypair> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the keypair {}", path.display()))?;
    let bytes: Vec<u8> = serde_json::from_str(&text)
        .with_context(|| format!("{}: expected a JSON array of 64 bytes", path.display()))?;
    Keypair::try_from(bytes.as_slice())
        .map_err(|e| anyhow!("{}: not a keypair: {e}", path.display()))
}

fn run(args: RunArgs) -> Result<()> {
    let signer = read_keypair(&args.keypair)?;
    let mut config = KeeperConfig::new(
        pubkey("--group", &args.group)?,
        pubkey("--liquidator-account", &args.liquidator_account)?,
    );
    config.shard = args.shard;
    config.priority_fee_micro_lamports = args.priority_fee;
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

    config.inventory = InventoryConfig {
        unwind: args.unwind,
        health_buffer: i128::from(args.health_buffer_usd) * 1_000_000,
        slippage_bps: args.slippage_bps,
        landing_lag_secs: args.landing_lag_secs,
        ..InventoryConfig::default()
    };
    let mut keeper = Keeper::new(config, signer);
    if !args.swap_pool.is_empty() {
        let pools =
            args.swap_pool.iter().map(|p| pubkey("--swap-pool", p)).collect::<Result<Vec<_>>>()?;
        let adapter = ConstantProductAdapter::load(&mut backend, &pools, keeper.config.retry)?;
        keeper = keeper.with_swap_adapter(Box::new(adapter));
    } else if args.unwind != UnwindMode::Off {
        return Err(anyhow!("--unwind {:?} needs a swap venue: pass --swap-pool", args.unwind));
    }
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
    keeper.run(&mut backend, Duration::from_secs_f64(args.interval_secs), &stop)
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
            (args.unwind, args.health_buffer_usd, args.slippage_bps),
            (UnwindMode::Off, 0, 50)
        );
        assert!(args.swap_pool.is_empty());

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
            "--unwind",
            "flash_loan",
            "--health-buffer-usd",
            "250",
            "--swap-pool",
            "P1,P2",
        ]);
        let args = parse(&all).unwrap();
        assert_eq!(args.rpc_url, "http://10.0.0.1:8899");
        assert_eq!(
            (args.interval_secs, args.priority_fee, args.cu_margin_bps),
            (0.5, 5_000, 2_000)
        );
        assert!(args.dry_run && args.once);
        assert_eq!(args.shard, Shard { index: 1, count: 3 });
        assert_eq!((args.unwind, args.health_buffer_usd), (UnwindMode::FlashLoan, 250));
        assert_eq!(args.swap_pool, ["P1", "P2"]);
    }

    #[test]
    fn bad_flags_are_refused_with_a_reason() {
        // The keypair, the group and the liquidator account are required.
        assert!(parse(&["--group", "G", "--liquidator-account", "L"]).is_err());
        let mut bad_shard = REQUIRED.to_vec();
        bad_shard.extend(["--shard", "3/3"]);
        let error = parse(&bad_shard).err().unwrap().to_string();
        assert!(error.contains("need 0 <= i < n"), "{error}");
        let mut bad_fee = REQUIRED.to_vec();
        bad_fee.extend(["--priority-fee", "-1"]);
        assert!(parse(&bad_fee).is_err());
        let mut bad_unwind = REQUIRED.to_vec();
        bad_unwind.extend(["--unwind", "later"]);
        let error = parse(&bad_unwind).err().unwrap().to_string();
        assert!(error.contains("off, after or flash_loan"), "{error}");
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
