//! The keeper's settings: command-line flags, environment variables and a TOML file.
//!
//! Every `run` flag is also a key of the config file (`--config path` or `KEEPER_CONFIG`), with
//! the flag's name in snake case (`--rpc-url` is `rpc_url`). Precedence, highest first: the flag,
//! its environment variable (clap reads both into [`Options`]), the config file, the default.
//! [`Options::resolve`] validates the merged result: a bad value is an error that names the key.
//! `app/keeper/keeper.example.toml` lists every key.
//!
//! A new flag is a new `Option` field of [`Options`] (clap and serde read it from the same
//! declaration): add it to [`Options::over`], resolve it in [`Options::resolve`], and write it
//! in the example file and docs/KEEPER.md (the example's test fails until it is there).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::builder::BoolishValueParser;
use cross_margin_client::Pubkey;
use serde::Deserialize;

use crate::evaluate::Shard;
use crate::fees::DynamicFee;
use crate::inventory::UnwindMode;

/// The defaults, also in the docs and the example file.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8899";
pub const DEFAULT_INTERVAL_SECS: f64 = 2.0;
pub const DEFAULT_CU_MARGIN_BPS: u32 = 1_000;
pub const DEFAULT_RPC_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
pub const DEFAULT_HEALTH_MAX_AGE_SECS: f64 = 60.0;
pub const DEFAULT_PRIORITY_FEE_PERCENTILE: u8 = 75;
pub const DEFAULT_PRIORITY_FEE_MAX_MICRO_LAMPORTS: u64 = 1_000_000;
pub const DEFAULT_SNAPSHOT_INTERVAL_SECS: f64 = 60.0;
pub const DEFAULT_WS_BACKOFF_MAX_SECS: f64 = 30.0;
pub const DEFAULT_SLIPPAGE_BPS: u16 = 50;
pub const DEFAULT_LANDING_LAG_SECS: u64 = 60;
/// The Solana CLI's default keypair, under `$HOME`.
pub const DEFAULT_KEYPAIR: &str = ".config/solana/id.json";

/// The `run` (and `create-lookup-table`) options, as flags or environment variables (clap) and
/// as config-file keys (serde). `None` means "not given at this level".
#[derive(Debug, Default, Clone, PartialEq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// A TOML config file; every flag below is also a key there (see keeper.example.toml).
    #[arg(long, env = "KEEPER_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// JSON-RPC endpoint [default: http://127.0.0.1:8899].
    #[arg(long, env = "KEEPER_RPC_URL")]
    pub rpc_url: Option<String>,
    /// The keeper's keypair (JSON array of 64 bytes): pays fees and owns the liquidator account
    /// [default: ~/.config/solana/id.json, as the Solana CLI].
    #[arg(long, env = "KEEPER_KEYPAIR")]
    pub keypair: Option<PathBuf>,
    /// The group to watch (required).
    #[arg(long, env = "KEEPER_GROUP")]
    pub group: Option<String>,
    /// The keeper's own margin account in that group; it takes over the debt (required).
    #[arg(long, env = "KEEPER_LIQUIDATOR_ACCOUNT")]
    pub liquidator_account: Option<String>,
    /// Seconds between rounds [default: 2].
    #[arg(long, env = "KEEPER_INTERVAL_SECS")]
    pub interval_secs: Option<f64>,
    /// Priority fee in micro-lamports per compute unit [default: 0].
    #[arg(long, env = "KEEPER_PRIORITY_FEE")]
    pub priority_fee: Option<u64>,
    /// Extra compute units over the simulated amount, in bps of it [default: 1000].
    #[arg(long, env = "KEEPER_CU_MARGIN_BPS")]
    pub cu_margin_bps: Option<u32>,
    /// Evaluate, plan and simulate, but send nothing [default: false].
    #[arg(long, env = "KEEPER_DRY_RUN", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub dry_run: Option<bool>,
    /// This keeper's share of the accounts when several run side by side: `i/n` [default: 0/1].
    #[arg(long, env = "KEEPER_SHARD")]
    pub shard: Option<String>,
    /// An address lookup table holding the group's banks and oracles (`create-lookup-table`
    /// makes one), for accounts whose liquidation does not fit a legacy transaction.
    #[arg(long, env = "KEEPER_LOOKUP_TABLE")]
    pub lookup_table: Option<String>,
    /// Run one round and exit (exit code 0 whatever it found) [default: false].
    #[arg(long, env = "KEEPER_ONCE", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub once: Option<bool>,
    /// RPC request timeout, seconds [default: 30].
    #[arg(long, env = "KEEPER_RPC_TIMEOUT_SECS")]
    pub rpc_timeout_secs: Option<u64>,
    /// Skip a liquidation whose predicted liquidator profit is below this, in USD; 0 checks
    /// nothing [default: 0].
    #[arg(long, env = "KEEPER_MIN_PROFIT_USD")]
    pub min_profit_usd: Option<f64>,
    /// Where to serve /metrics and /health; empty turns it off [default: 127.0.0.1:9464].
    #[arg(long, env = "KEEPER_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// /health answers 503 once the last successful snapshot is older than this [default: 60].
    #[arg(long, env = "KEEPER_HEALTH_MAX_AGE_SECS")]
    pub health_max_age_secs: Option<f64>,
    /// Which percentile (0-100) of the recent prioritization fees of the accounts a
    /// transaction writes to pay [default: 75].
    #[arg(long, env = "KEEPER_PRIORITY_FEE_PERCENTILE")]
    pub priority_fee_percentile: Option<u8>,
    /// The most the dynamic priority fee pays, micro-lamports per CU [default: 1000000].
    #[arg(long, env = "KEEPER_PRIORITY_FEE_MAX")]
    pub priority_fee_max: Option<u64>,
    /// Pay exactly `priority_fee`, whatever recent transactions paid [default: false].
    #[arg(long, env = "KEEPER_FIXED_PRIORITY_FEE", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub fixed_priority_fee: Option<bool>,
    /// `websocket` or `poll` [default: websocket when a websocket URL is known (`ws_url`, or
    /// derived from `rpc_url`), else poll].
    #[arg(long, env = "KEEPER_DETECTION")]
    pub detection: Option<String>,
    /// The node's websocket endpoint [default: rpc_url with ws(s):// and its port + 1].
    #[arg(long, env = "KEEPER_WS_URL")]
    pub ws_url: Option<String>,
    /// Websocket detection: seconds between full snapshots that repair missed notifications
    /// [default: 60].
    #[arg(long, env = "KEEPER_SNAPSHOT_INTERVAL_SECS")]
    pub snapshot_interval_secs: Option<f64>,
    /// Websocket detection: the longest wait between reconnection attempts, seconds
    /// [default: 30].
    #[arg(long, env = "KEEPER_WS_BACKOFF_MAX_SECS")]
    pub ws_backoff_max_secs: Option<f64>,
    /// What to do with a liquidation's inventory: `off` (keep it), `after` (withdraw, swap and
    /// repay once it lands), `flash_loan` (all in one flash-loan transaction: no capital
    /// needed) [default: off].
    #[arg(long, env = "KEEPER_UNWIND")]
    pub unwind: Option<String>,
    /// The cp_swap pools to unwind through, one per mint pair (comma-separated as a flag)
    /// [default: none].
    #[arg(long, env = "KEEPER_SWAP_POOLS", value_delimiter = ',')]
    pub swap_pools: Option<Vec<String>>,
    /// Init health the keeper keeps in its own account, USD [default: 0].
    #[arg(long, env = "KEEPER_HEALTH_BUFFER_USD")]
    pub health_buffer_usd: Option<f64>,
    /// A swap's tolerance below its quote, bps [default: 50].
    #[arg(long, env = "KEEPER_SLIPPAGE_BPS")]
    pub slippage_bps: Option<u16>,
    /// Seconds an unwind is assumed to land after it was planned [default: 60].
    #[arg(long, env = "KEEPER_LANDING_LAG_SECS")]
    pub landing_lag_secs: Option<u64>,
    /// Log format, `text` or `json` (the global `--log-format` flag; a key only in the file).
    #[arg(skip)]
    pub log_format: Option<String>,
}

/// How the keeper finds the accounts that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// A full read every `interval_secs`.
    Poll,
    /// Websocket subscriptions into an in-memory snapshot (`watch`).
    Websocket { ws_url: String },
}

/// The websocket URL of an RPC URL, as Solana nodes serve it: `http` → `ws`, `https` → `wss`,
/// an explicit port + 1 (8899 → 8900). `None` if it is not an http(s) URL.
pub fn ws_url_from_rpc(rpc_url: &str) -> Option<String> {
    let (scheme, rest) = rpc_url.split_once("://")?;
    let scheme = match scheme {
        "http" => "ws",
        "https" => "wss",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return None;
    }
    let authority = match authority.rsplit_once(':') {
        // Not an IPv6 literal's colon.
        Some((host, port)) if !port.contains(']') => {
            let port: u16 = port.parse().ok()?;
            format!("{host}:{}", port.checked_add(1)?)
        }
        _ => authority.to_owned(),
    };
    Some(format!("{scheme}://{authority}{path}"))
}

/// The settings once merged and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rpc_url: String,
    pub keypair: PathBuf,
    pub group: Pubkey,
    pub liquidator_account: Pubkey,
    pub interval: Duration,
    pub priority_fee: u64,
    pub cu_margin_bps: u32,
    pub dry_run: bool,
    pub shard: Shard,
    pub lookup_table: Option<Pubkey>,
    pub once: bool,
    pub rpc_timeout: Duration,
    pub min_profit_usd: f64,
    /// `None`: no metrics server.
    pub metrics_addr: Option<SocketAddr>,
    pub health_max_age: Duration,
    /// `Some(true)` for json; `None` when neither the flag nor the file says.
    pub log_json: Option<bool>,
    /// `None` with `fixed_priority_fee`: pay `priority_fee` exactly.
    pub dynamic_fee: Option<DynamicFee>,
    pub detection: Detection,
    pub snapshot_interval: Duration,
    pub ws_backoff_max: Duration,
    pub unwind: UnwindMode,
    pub swap_pools: Vec<Pubkey>,
    pub health_buffer_usd: f64,
    pub slippage_bps: u16,
    pub landing_lag_secs: i64,
}

impl Options {
    /// Reads a config file. Unknown keys and ill-typed values are errors naming the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("config file {}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| anyhow!("{}", e.to_string().trim_end()))
    }

    /// Every field set here wins; the rest come from `lower`.
    pub fn over(self, lower: Options) -> Options {
        Options {
            config: self.config.or(lower.config),
            rpc_url: self.rpc_url.or(lower.rpc_url),
            keypair: self.keypair.or(lower.keypair),
            group: self.group.or(lower.group),
            liquidator_account: self.liquidator_account.or(lower.liquidator_account),
            interval_secs: self.interval_secs.or(lower.interval_secs),
            priority_fee: self.priority_fee.or(lower.priority_fee),
            cu_margin_bps: self.cu_margin_bps.or(lower.cu_margin_bps),
            dry_run: self.dry_run.or(lower.dry_run),
            shard: self.shard.or(lower.shard),
            lookup_table: self.lookup_table.or(lower.lookup_table),
            once: self.once.or(lower.once),
            rpc_timeout_secs: self.rpc_timeout_secs.or(lower.rpc_timeout_secs),
            min_profit_usd: self.min_profit_usd.or(lower.min_profit_usd),
            metrics_addr: self.metrics_addr.or(lower.metrics_addr),
            health_max_age_secs: self.health_max_age_secs.or(lower.health_max_age_secs),
            unwind: self.unwind.or(lower.unwind),
            swap_pools: self.swap_pools.or(lower.swap_pools),
            health_buffer_usd: self.health_buffer_usd.or(lower.health_buffer_usd),
            slippage_bps: self.slippage_bps.or(lower.slippage_bps),
            landing_lag_secs: self.landing_lag_secs.or(lower.landing_lag_secs),
            log_format: self.log_format.or(lower.log_format),
            priority_fee_percentile: self.priority_fee_percentile.or(lower.priority_fee_percentile),
            priority_fee_max: self.priority_fee_max.or(lower.priority_fee_max),
            fixed_priority_fee: self.fixed_priority_fee.or(lower.fixed_priority_fee),
            detection: self.detection.or(lower.detection),
            ws_url: self.ws_url.or(lower.ws_url),
            snapshot_interval_secs: self.snapshot_interval_secs.or(lower.snapshot_interval_secs),
            ws_backoff_max_secs: self.ws_backoff_max_secs.or(lower.ws_backoff_max_secs),
        }
    }

    /// The flags and environment (`self`) over the config file they name, if any.
    pub fn with_config_file(self) -> Result<Options> {
        match self.config.clone() {
            Some(path) => Ok(self.over(Options::from_file(&path)?)),
            None => Ok(self),
        }
    }

    /// Applies the defaults and validates. `home` is `$HOME`, for the default keypair and `~/`.
    pub fn resolve(self, home: Option<&Path>) -> Result<Settings> {
        let keypair = match self.keypair {
            Some(path) => expand_home(path, home)?,
            None => home.map(|home| home.join(DEFAULT_KEYPAIR)).ok_or_else(|| {
                anyhow!(
                    "keypair: not given and $HOME is not set for the default ~/{DEFAULT_KEYPAIR}"
                )
            })?,
        };
        let required = |key: &str, value: Option<String>| {
            value.ok_or_else(|| anyhow!("{key}: required (--{} or config key `{key}`)", flag(key)))
        };
        let group = pubkey("group", &required("group", self.group)?)?;
        let liquidator_account = pubkey(
            "liquidator_account",
            &required("liquidator_account", self.liquidator_account)?,
        )?;
        let interval =
            seconds("interval_secs", self.interval_secs.unwrap_or(DEFAULT_INTERVAL_SECS))?;
        let health_max_age = seconds(
            "health_max_age_secs",
            self.health_max_age_secs.unwrap_or(DEFAULT_HEALTH_MAX_AGE_SECS),
        )?;
        let shard = match self.shard {
            Some(text) => Shard::from_str(&text).map_err(|e| anyhow!("shard: '{text}': {e}"))?,
            None => Shard::ALL,
        };
        let lookup_table = self.lookup_table.map(|t| pubkey("lookup_table", &t)).transpose()?;
        let min_profit_usd = self.min_profit_usd.unwrap_or(0.0);
        if !min_profit_usd.is_finite() || min_profit_usd < 0.0 {
            bail!("min_profit_usd: {min_profit_usd} is not a number >= 0");
        }
        let metrics_addr = match self.metrics_addr.as_deref().unwrap_or(DEFAULT_METRICS_ADDR) {
            "" => None,
            text => Some(text.parse::<SocketAddr>().map_err(|_| {
                anyhow!(
                    "metrics_addr: '{text}' is not ip:port (e.g. 127.0.0.1:9464; empty for none)"
                )
            })?),
        };
        let log_json = match self.log_format.as_deref() {
            None => None,
            Some("text") => Some(false),
            Some("json") => Some(true),
            Some(other) => bail!("log_format: '{other}' is neither text nor json"),
        };
        let unwind = match self.unwind.as_deref() {
            None => UnwindMode::Off,
            Some(text) => text.parse().map_err(|e| anyhow!("unwind: {e}"))?,
        };
        let swap_pools = self.swap_pools.unwrap_or_default();
        let swap_pools =
            swap_pools.iter().map(|p| pubkey("swap_pools", p)).collect::<Result<Vec<_>>>()?;
        if unwind != UnwindMode::Off && swap_pools.is_empty() {
            bail!("unwind: '{}' needs a swap venue: set swap_pools", flag_value(unwind));
        }
        let health_buffer_usd = self.health_buffer_usd.unwrap_or(0.0);
        if !health_buffer_usd.is_finite() || health_buffer_usd < 0.0 {
            bail!("health_buffer_usd: {health_buffer_usd} is not a number >= 0");
        }
        let slippage_bps = self.slippage_bps.unwrap_or(DEFAULT_SLIPPAGE_BPS);
        if slippage_bps > 10_000 {
            bail!("slippage_bps: {slippage_bps} is more than 10000 (100%)");
        }
        let landing_lag_secs = self.landing_lag_secs.unwrap_or(DEFAULT_LANDING_LAG_SECS);
        let landing_lag_secs = i64::try_from(landing_lag_secs)
            .map_err(|_| anyhow!("landing_lag_secs: {landing_lag_secs} is too large"))?;
        let rpc_timeout_secs = self.rpc_timeout_secs.unwrap_or(DEFAULT_RPC_TIMEOUT_SECS);
        if rpc_timeout_secs == 0 {
            bail!("rpc_timeout_secs: must be at least 1");
        }
        let percentile = self.priority_fee_percentile.unwrap_or(DEFAULT_PRIORITY_FEE_PERCENTILE);
        if percentile > 100 {
            bail!("priority_fee_percentile: {percentile} is not a percentile (0 to 100)");
        }
        let dynamic_fee = match self.fixed_priority_fee.unwrap_or(false) {
            true => None,
            false => Some(DynamicFee {
                percentile,
                max_micro_lamports: self
                    .priority_fee_max
                    .unwrap_or(DEFAULT_PRIORITY_FEE_MAX_MICRO_LAMPORTS),
            }),
        };
        let rpc_url = self.rpc_url.unwrap_or_else(|| DEFAULT_RPC_URL.into());
        let ws_url = self.ws_url.or_else(|| ws_url_from_rpc(&rpc_url));
        let detection = match (self.detection.as_deref(), ws_url) {
            (Some("poll"), _) => Detection::Poll,
            (None | Some("websocket"), Some(ws_url)) => Detection::Websocket { ws_url },
            (None, None) => Detection::Poll,
            (Some("websocket"), None) => bail!(
                "detection: websocket, but no websocket URL (set ws_url; rpc_url '{rpc_url}' \
                 gives none)"
            ),
            (Some(other), _) => bail!("detection: '{other}' is neither websocket nor poll"),
        };
        let snapshot_interval = seconds(
            "snapshot_interval_secs",
            self.snapshot_interval_secs.unwrap_or(DEFAULT_SNAPSHOT_INTERVAL_SECS),
        )?;
        let ws_backoff_max = seconds(
            "ws_backoff_max_secs",
            self.ws_backoff_max_secs.unwrap_or(DEFAULT_WS_BACKOFF_MAX_SECS),
        )?;
        Ok(Settings {
            rpc_url,
            keypair,
            group,
            liquidator_account,
            interval,
            priority_fee: self.priority_fee.unwrap_or(0),
            cu_margin_bps: self.cu_margin_bps.unwrap_or(DEFAULT_CU_MARGIN_BPS),
            dry_run: self.dry_run.unwrap_or(false),
            shard,
            lookup_table,
            once: self.once.unwrap_or(false),
            rpc_timeout: Duration::from_secs(rpc_timeout_secs),
            min_profit_usd,
            metrics_addr,
            health_max_age,
            log_json,
            dynamic_fee,
            detection,
            snapshot_interval,
            ws_backoff_max,
            unwind,
            swap_pools,
            health_buffer_usd,
            slippage_bps,
            landing_lag_secs,
        })
    }
}

/// An unwind mode as the key's value.
fn flag_value(mode: UnwindMode) -> &'static str {
    match mode {
        UnwindMode::Off => "off",
        UnwindMode::After => "after",
        UnwindMode::FlashLoan => "flash_loan",
    }
}

/// The config key's flag: `rpc_url` -> `rpc-url`.
fn flag(key: &str) -> String {
    key.replace('_', "-")
}

/// A base58 public key, or an error naming the key.
pub fn pubkey(key: &str, value: &str) -> Result<Pubkey> {
    Pubkey::from_str(value.trim())
        .map_err(|_| anyhow!("{key} (--{}): '{value}' is not a base58 public key", flag(key)))
}

fn seconds(key: &str, value: f64) -> Result<Duration> {
    if !value.is_finite() || value <= 0.0 || value > 1e9 {
        bail!("{key}: {value} is not a number of seconds > 0");
    }
    Ok(Duration::from_secs_f64(value))
}

/// `~/x` -> `$HOME/x` (a config file is not expanded by a shell).
fn expand_home(path: PathBuf, home: Option<&Path>) -> Result<PathBuf> {
    match path.strip_prefix("~") {
        Ok(rest) => home
            .map(|home| home.join(rest))
            .ok_or_else(|| anyhow!("keypair: '{}' needs $HOME, which is not set", path.display())),
        Err(_) => Ok(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const GROUP: &str = "11111111111111111111111111111112";
    const LIQUIDATOR: &str = "SysvarC1ock11111111111111111111111111111111";

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        options: Options,
    }

    fn flags(args: &[&str]) -> Result<Options, clap::Error> {
        Cli::try_parse_from(std::iter::once("keeper").chain(args.iter().copied()))
            .map(|c| c.options)
    }

    impl Settings {
        fn with_table(mut self, table: &str) -> Self {
            self.lookup_table = Some(Pubkey::from_str(table).unwrap());
            self.log_json = Some(false);
            self
        }
    }

    fn required() -> Options {
        Options {
            group: Some(GROUP.into()),
            liquidator_account: Some(LIQUIDATOR.into()),
            ..Options::default()
        }
    }

    #[test]
    fn the_example_file_parses_and_names_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("keeper.example.toml");
        // As shipped (everything commented out): valid, and the defaults.
        let example = Options::from_file(&path).unwrap();
        assert_eq!(example, Options::default());
        // Every key is written out in it: uncommenting every `# key = value` line must parse
        // (so each key exists with a value of its type) and set every field.
        let text = std::fs::read_to_string(&path).unwrap();
        let uncommented: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").filter(|r| r.contains(" = ")).unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let mut all = Options::from_toml(&uncommented).unwrap();
        all.config = Some(path.clone()); // not a key of the file
        let debug = format!("{all:?}");
        assert!(!debug.contains("None"), "a key is missing from the example: {debug}");
        // The values shown are the defaults (the placeholders aside).
        let placeholders =
            Options { lookup_table: Some(GROUP.into()), ..required() }.over(all.clone());
        let shown = placeholders.resolve(Some(Path::new("/home/op"))).unwrap();
        assert_eq!(
            shown,
            required().resolve(Some(Path::new("/home/op"))).unwrap().with_table(GROUP)
        );
        assert_eq!(all.log_format.as_deref(), Some("text"));
    }

    #[test]
    fn defaults() {
        let s = required().resolve(Some(Path::new("/home/op"))).unwrap();
        assert_eq!(s.keypair, PathBuf::from("/home/op/.config/solana/id.json"));
        assert_eq!(s.rpc_url, DEFAULT_RPC_URL);
        assert_eq!(s.interval, Duration::from_secs(2));
        assert_eq!((s.priority_fee, s.cu_margin_bps), (0, 1_000));
        assert!(!s.dry_run && !s.once);
        assert_eq!(s.shard, Shard::ALL);
        assert_eq!(s.lookup_table, None);
        assert_eq!(s.rpc_timeout, Duration::from_secs(30));
        assert_eq!(s.min_profit_usd, 0.0);
        assert_eq!(s.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(s.health_max_age, Duration::from_secs(60));
        assert_eq!(s.log_json, None);
        assert_eq!(
            s.dynamic_fee,
            Some(DynamicFee { percentile: 75, max_micro_lamports: 1_000_000 })
        );
        assert_eq!(s.detection, Detection::Websocket { ws_url: "ws://127.0.0.1:8900".into() });
        assert_eq!(s.snapshot_interval, Duration::from_secs(60));
        assert_eq!(s.ws_backoff_max, Duration::from_secs(30));
        assert!(required().resolve(None).unwrap_err().to_string().contains("$HOME"));
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file = Options::from_toml(&format!(
            "group = \"{GROUP}\"\nliquidator_account = \"{LIQUIDATOR}\"\n\
             priority_fee = 7\ninterval_secs = 0.5\nkeypair = \"~/k.json\"\n\
             metrics_addr = \"\"\nmin_profit_usd = 2.5\ndry_run = true\nshard = \"1/3\"\n",
        ))
        .unwrap();
        let cli = flags(&["--priority-fee", "9", "--dry-run=false", "--once"]).unwrap();
        let s = cli.over(file).resolve(Some(Path::new("/h"))).unwrap();
        assert_eq!(s.priority_fee, 9, "the flag wins");
        assert!(!s.dry_run && s.once, "an explicit false flag wins over the file's true");
        assert_eq!(s.interval, Duration::from_millis(500), "the file wins over the default");
        assert_eq!(s.keypair, PathBuf::from("/h/k.json"), "~ expands");
        assert_eq!(s.metrics_addr, None, "empty turns the server off");
        assert_eq!(s.min_profit_usd, 2.5);
        assert_eq!(s.shard, Shard { index: 1, count: 3 });
        assert_eq!(s.cu_margin_bps, DEFAULT_CU_MARGIN_BPS, "the default when nobody says");

        // The environment sits between the flag and the file (one test owns this variable).
        std::env::set_var("KEEPER_CU_MARGIN_BPS", "1500");
        let from_env = flags(&[]).unwrap();
        let from_flag = flags(&["--cu-margin-bps", "2500"]).unwrap();
        std::env::remove_var("KEEPER_CU_MARGIN_BPS");
        let file = Options { cu_margin_bps: Some(500), ..required() };
        let resolve = |o: Options| o.over(file.clone()).resolve(Some(Path::new("/h"))).unwrap();
        assert_eq!(resolve(from_env).cu_margin_bps, 1_500, "the environment over the file");
        assert_eq!(resolve(from_flag).cu_margin_bps, 2_500, "the flag over the environment");
    }

    #[test]
    fn the_inventory_keys() {
        let home = Some(Path::new("/h"));
        let s = required().resolve(home).unwrap();
        assert_eq!((s.unwind, s.swap_pools.len()), (UnwindMode::Off, 0));
        assert_eq!((s.health_buffer_usd, s.slippage_bps, s.landing_lag_secs), (0.0, 50, 60));

        let file = Options::from_toml(&format!(
            "unwind = \"flash_loan\"\nswap_pools = [\"{GROUP}\"]\nhealth_buffer_usd = 250.0\n"
        ))
        .unwrap();
        let pools = format!("{GROUP},{LIQUIDATOR}");
        let cli = flags(&["--slippage-bps", "80", "--swap-pools", &pools]).unwrap();
        let s = cli.over(file).over(required()).resolve(home).unwrap();
        assert_eq!(s.unwind, UnwindMode::FlashLoan);
        assert_eq!(s.swap_pools.len(), 2, "the flag's list wins over the file's");
        assert_eq!((s.health_buffer_usd, s.slippage_bps), (250.0, 80));

        let bad = |o: Options| o.over(required()).resolve(home).unwrap_err().to_string();
        let mode = bad(Options { unwind: Some("later".into()), ..Options::default() });
        assert!(mode.starts_with("unwind: unwind must be off, after or flash_loan"), "{mode}");
        let venue = bad(Options { unwind: Some("after".into()), ..Options::default() });
        assert!(venue.contains("needs a swap venue: set swap_pools"), "{venue}");
        let pool = bad(Options { swap_pools: Some(vec!["x".into()]), ..Options::default() });
        assert!(pool.starts_with("swap_pools"), "{pool}");
        let slip = bad(Options { slippage_bps: Some(10_001), ..Options::default() });
        assert!(slip.starts_with("slippage_bps"), "{slip}");
        let buffer = bad(Options { health_buffer_usd: Some(-1.0), ..Options::default() });
        assert!(buffer.starts_with("health_buffer_usd"), "{buffer}");
    }

    #[test]
    fn bad_input_is_an_error_naming_the_key() {
        let error = |text: &str| Options::from_toml(text).unwrap_err().to_string();
        let unknown = error("rpc_url = \"http://x\"\npriority_fees = 3\n");
        assert!(unknown.contains("unknown field `priority_fees`"), "{unknown}");
        let typed = error("priority_fee = \"lots\"\n");
        assert!(typed.contains("priority_fee") && typed.contains("invalid type"), "{typed}");
        assert!(error("group = \n").contains("TOML parse error"));

        let resolve = |o: Options| o.resolve(Some(Path::new("/h"))).unwrap_err().to_string();
        let bad = |o: Options| resolve(o.over(required()));
        assert!(resolve(Options::default()).contains("group: required"));
        let group = bad(Options { group: Some("not-a-key".into()), ..Options::default() });
        assert!(group.contains("group (--group): 'not-a-key' is not a base58"), "{group}");
        let liq = bad(Options { liquidator_account: Some("0OIl".into()), ..Options::default() });
        assert!(liq.starts_with("liquidator_account"), "{liq}");
        let table = bad(Options { lookup_table: Some("x".into()), ..Options::default() });
        assert!(table.starts_with("lookup_table"), "{table}");
        let shard = bad(Options { shard: Some("3/3".into()), ..Options::default() });
        assert!(shard.contains("shard: '3/3'") && shard.contains("need 0 <= i < n"), "{shard}");
        for secs in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = bad(Options { interval_secs: Some(secs), ..Options::default() });
            assert!(e.starts_with("interval_secs"), "{e}");
        }
        let age = bad(Options { health_max_age_secs: Some(0.0), ..Options::default() });
        assert!(age.starts_with("health_max_age_secs"), "{age}");
        let profit = bad(Options { min_profit_usd: Some(-1.0), ..Options::default() });
        assert!(profit.starts_with("min_profit_usd"), "{profit}");
        let addr = bad(Options { metrics_addr: Some("localhost".into()), ..Options::default() });
        assert!(addr.starts_with("metrics_addr: 'localhost'"), "{addr}");
        let log = bad(Options { log_format: Some("xml".into()), ..Options::default() });
        assert!(log.starts_with("log_format"), "{log}");
        let timeout = bad(Options { rpc_timeout_secs: Some(0), ..Options::default() });
        assert!(timeout.starts_with("rpc_timeout_secs"), "{timeout}");
        // clap refuses an ill-typed flag, naming it.
        let fee = flags(&["--priority-fee=-1"]).err().unwrap().to_string();
        assert!(fee.contains("--priority-fee"), "{fee}");
        let missing = Options::from_file(Path::new("/nonexistent/keeper.toml")).unwrap_err();
        assert!(format!("{missing:#}").contains("/nonexistent/keeper.toml"));
    }

    #[test]
    fn detection_and_the_dynamic_fee() {
        let resolve =
            |args: &[&str]| flags(args).unwrap().over(required()).resolve(Some(Path::new("/h")));
        let poll = resolve(&["--detection", "poll", "--fixed-priority-fee"]).unwrap();
        assert_eq!((poll.detection, poll.dynamic_fee), (Detection::Poll, None));
        let wss = resolve(&["--rpc-url", "https://rpc.example.com/k"]).unwrap();
        assert_eq!(
            wss.detection,
            Detection::Websocket { ws_url: "wss://rpc.example.com/k".into() }
        );
        let given = resolve(&[
            "--ws-url",
            "ws://10.0.0.2:9000",
            "--priority-fee-percentile",
            "90",
            "--priority-fee-max",
            "20000",
            "--snapshot-interval-secs",
            "15",
        ])
        .unwrap();
        assert_eq!(given.detection, Detection::Websocket { ws_url: "ws://10.0.0.2:9000".into() });
        assert_eq!(
            given.dynamic_fee,
            Some(DynamicFee { percentile: 90, max_micro_lamports: 20_000 })
        );
        assert_eq!(given.snapshot_interval, Duration::from_secs(15));
        // Without a websocket URL: polling by default, an error if websocket is asked for.
        let unix = resolve(&["--rpc-url", "unix:/tmp/node.sock"]).unwrap();
        assert_eq!(unix.detection, Detection::Poll);
        let error = resolve(&["--rpc-url", "unix:/x", "--detection", "websocket"]).unwrap_err();
        assert!(error.to_string().starts_with("detection: websocket, but no websocket URL"));
        let error = resolve(&["--detection", "push"]).unwrap_err().to_string();
        assert!(error.contains("'push' is neither websocket nor poll"), "{error}");
        let error = resolve(&["--priority-fee-percentile", "101"]).unwrap_err().to_string();
        assert!(error.starts_with("priority_fee_percentile: 101"), "{error}");
        let error = resolve(&["--snapshot-interval-secs", "0"]).unwrap_err().to_string();
        assert!(error.starts_with("snapshot_interval_secs"), "{error}");
        // The file's keys, under the flags.
        let file = Options::from_toml("detection = \"poll\"\nfixed_priority_fee = true\n").unwrap();
        let s = flags(&["--detection", "websocket"]).unwrap().over(file).over(required());
        let s = s.resolve(Some(Path::new("/h"))).unwrap();
        assert!(matches!(s.detection, Detection::Websocket { .. }) && s.dynamic_fee.is_none());
    }
}
