//! The keeper's Prometheus metrics (text exposition format 0.0.4) and the `/health` decision.
//!
//! One [`Metrics`] per process, shared (`Arc`) by the keeper loop ([`crate::KeeperConfig`]'s
//! `metrics`), the [`Metered`] backend wrapper (RPC requests and errors) and the HTTP server
//! ([`crate::http`]). docs/KEEPER.md lists every metric.
//!
//! Hooks for other detection engines: [`Metrics::observe_detection_lag`] (the polling loop feeds
//! it the age of the round's snapshot; a websocket engine feeds it notification-to-action times)
//! and [`Metrics::snapshot_taken`] (what `/health` and `keeper_last_snapshot_age_seconds` read).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anchor_lang::Discriminator;
use cross_margin_client::{Instruction, Pubkey};
use solana_message::Hash;
use solana_transaction::versioned::VersionedTransaction;

use crate::backend::{AccountData, Backend, BackendError, Filter, Landed, Rejection, Simulation};
use crate::keeper::{RoundReport, Skipped};

/// The instructions the keeper sends, as the `kind` label.
pub const KINDS: [&str; 5] =
    ["liquidate", "liquidate_perp", "settle_pnl", "resolve_bankruptcy", "resolve_perp_bankruptcy"];
/// The `reason` label of `keeper_skipped_total`.
pub const SKIP_REASONS: [&str; 5] =
    ["lost_race", "no_plan", "dry_run", "refused", "below_min_profit"];
/// The detection-lag histogram's upper bounds, seconds (and `+Inf`).
pub const LAG_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];
/// Quote native units per USD (the program's health is in micro-USD).
pub const QUOTE_PER_USD: f64 = 1e6;

/// The `kind` label of an instruction the keeper sends ("other" for anything else).
pub fn kind_of(instruction: &Instruction) -> &'static str {
    use cross_margin::instruction as ix;
    let tag = instruction.data.get(..8).unwrap_or_default();
    let known: [(&[u8], &str); 5] = [
        (ix::Liquidate::DISCRIMINATOR, KINDS[0]),
        (ix::LiquidatePerp::DISCRIMINATOR, KINDS[1]),
        (ix::SettlePnl::DISCRIMINATOR, KINDS[2]),
        (ix::ResolveBankruptcy::DISCRIMINATOR, KINDS[3]),
        (ix::ResolvePerpBankruptcy::DISCRIMINATOR, KINDS[4]),
    ];
    match known.iter().find(|(d, _)| *d == tag) {
        Some((_, kind)) if instruction.program_id == cross_margin::ID => kind,
        _ => "other",
    }
}

/// A failure reason as a label value: the program's error name, or a fixed word. Anything that
/// is not a short identifier becomes "other", so the label's values stay few.
pub fn reason_label(reason: &str) -> String {
    let ok = !reason.is_empty()
        && reason.len() <= 64
        && reason.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        reason.to_owned()
    } else {
        "other".to_owned()
    }
}

#[derive(Debug, Default)]
struct Inner {
    rounds: u64,
    rounds_failed: u64,
    round_seconds: Option<f64>,
    watched: u64,
    liquidatable: u64,
    bankrupt: u64,
    unpriced: u64,
    sent: BTreeMap<&'static str, u64>,
    landed: BTreeMap<&'static str, u64>,
    /// (kind, stage, reason)
    failed: BTreeMap<(&'static str, &'static str, String), u64>,
    skipped: BTreeMap<&'static str, u64>,
    profit_predicted_usd: BTreeMap<&'static str, f64>,
    profit_realized_usd: BTreeMap<&'static str, f64>,
    rpc_requests: BTreeMap<&'static str, u64>,
    /// (method, kind)
    rpc_errors: BTreeMap<(&'static str, &'static str), u64>,
    detection_lag: Option<f64>,
    /// Cumulative counts per bound of [`LAG_BUCKETS`], the sum and the count.
    lag_buckets: [u64; LAG_BUCKETS.len()],
    lag_sum: f64,
    lag_count: u64,
    last_snapshot: Option<Instant>,
}

#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut inner = Inner::default();
        for kind in KINDS {
            inner.sent.insert(kind, 0);
            inner.landed.insert(kind, 0);
        }
        for reason in SKIP_REASONS {
            inner.skipped.insert(reason, 0);
        }
        for kind in [KINDS[0], KINDS[1]] {
            inner.profit_predicted_usd.insert(kind, 0.0);
            inner.profit_realized_usd.insert(kind, 0.0);
        }
        Self { inner: Mutex::new(inner) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain counters: still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A transaction sent (after its simulation passed; not in a dry run).
    pub fn tx_sent(&self, kind: &'static str) {
        *self.lock().sent.entry(kind).or_default() += 1;
    }

    /// A sent transaction confirmed without error.
    pub fn tx_landed(&self, kind: &'static str) {
        *self.lock().landed.entry(kind).or_default() += 1;
    }

    /// Refused in simulation (`stage` "simulate") or on execution ("send"), or lost in transport.
    pub fn tx_failed(&self, kind: &'static str, stage: &'static str, reason: &str) {
        *self.lock().failed.entry((kind, stage, reason_label(reason))).or_default() += 1;
    }

    /// A landed liquidation's fee: predicted by the plan, and as the event reports it (quote
    /// native units, valued at the program's prices).
    pub fn profit(&self, kind: &'static str, predicted_quote: i128, realized_quote: i128) {
        let mut inner = self.lock();
        *inner.profit_predicted_usd.entry(kind).or_default() +=
            predicted_quote as f64 / QUOTE_PER_USD;
        *inner.profit_realized_usd.entry(kind).or_default() +=
            realized_quote as f64 / QUOTE_PER_USD;
    }

    pub fn rpc_request(&self, method: &'static str) {
        *self.lock().rpc_requests.entry(method).or_default() += 1;
    }

    pub fn rpc_error(&self, method: &'static str, error: &BackendError) {
        let kind = match error {
            BackendError::Transport(_) => "transport",
            BackendError::Rpc { .. } => "rpc",
            BackendError::Timeout(_) => "timeout",
            BackendError::Malformed(_) => "malformed",
        };
        *self.lock().rpc_errors.entry((method, kind)).or_default() += 1;
    }

    /// The chain was read successfully (a round's discovery, or a websocket update applied).
    pub fn snapshot_taken(&self, at: Instant) {
        let mut inner = self.lock();
        inner.last_snapshot = Some(inner.last_snapshot.map_or(at, |last| last.max(at)));
    }

    /// How long after the chain changed the keeper acted on it. Polling feeds the age of the
    /// round's snapshot when the round ends; a push-based engine may feed its own measure.
    pub fn observe_detection_lag(&self, lag: Duration) {
        let lag = lag.as_secs_f64();
        let mut inner = self.lock();
        inner.detection_lag = Some(lag);
        for (bound, count) in LAG_BUCKETS.iter().zip(inner.lag_buckets.iter_mut()) {
            if lag <= *bound {
                *count += 1;
            }
        }
        inner.lag_sum += lag;
        inner.lag_count += 1;
    }

    /// A round finished: its gauges, and its skipped accounts by reason.
    pub fn round_done(&self, report: &RoundReport, took: Duration) {
        let mut inner = self.lock();
        inner.rounds += 1;
        inner.round_seconds = Some(took.as_secs_f64());
        inner.watched = report.accounts as u64;
        inner.liquidatable = report.liquidatable as u64;
        inner.bankrupt = report.bankrupt as u64;
        inner.unpriced = report.unpriced as u64;
        for skipped in &report.skipped {
            let reason = match skipped {
                Skipped::LostRace { .. } => "lost_race",
                Skipped::NoPlan { .. } => "no_plan",
                Skipped::DryRun { .. } => "dry_run",
                Skipped::Refused { .. } => "refused",
                Skipped::BelowMinProfit { .. } => "below_min_profit",
            };
            *inner.skipped.entry(reason).or_default() += 1;
        }
    }

    /// A round ended in an error (the chain could not be read, a transport failure).
    pub fn round_failed(&self) {
        let mut inner = self.lock();
        inner.rounds += 1;
        inner.rounds_failed += 1;
    }

    /// `/health`: 200 while the last snapshot is at most `max_age` old, else 503.
    pub fn health(&self, now: Instant, max_age: Duration) -> (u16, String) {
        match self.lock().last_snapshot {
            None => (503, "starting: no successful snapshot of the chain yet\n".into()),
            Some(at) => {
                let age = now.saturating_duration_since(at).as_secs_f64();
                let limit = max_age.as_secs_f64();
                if age <= limit {
                    (200, format!("ok: last snapshot {age:.1} s ago (limit {limit} s)\n"))
                } else {
                    (503, format!("stale: last snapshot {age:.1} s ago (limit {limit} s)\n"))
                }
            }
        }
    }

    /// The text exposition format, HELP and TYPE for every family.
    pub fn render(&self, now: Instant) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {}", number(value));
            }
        };
        let one = |v: f64| vec![(String::new(), v)];
        let by = |label: &str, map: &BTreeMap<&'static str, u64>| -> Vec<(String, f64)> {
            map.iter().map(|(k, v)| (labels(&[(label, *k)]), *v as f64)).collect()
        };
        let by_f = |label: &str, map: &BTreeMap<&'static str, f64>| -> Vec<(String, f64)> {
            map.iter().map(|(k, v)| (labels(&[(label, *k)]), *v)).collect()
        };
        family(
            "keeper_rounds_total",
            "counter",
            "Rounds run (failed ones too).",
            one(inner.rounds as f64),
        );
        family(
            "keeper_rounds_failed_total",
            "counter",
            "Rounds that ended in an error (the chain could not be read).",
            one(inner.rounds_failed as f64),
        );
        family(
            "keeper_round_duration_seconds",
            "gauge",
            "How long the last successful round took.",
            one(inner.round_seconds.unwrap_or(0.0)),
        );
        family(
            "keeper_accounts_watched",
            "gauge",
            "Margin accounts of this keeper's shard in the last round.",
            one(inner.watched as f64),
        );
        family(
            "keeper_accounts_liquidatable",
            "gauge",
            "Accounts the last round found liquidatable.",
            one(inner.liquidatable as f64),
        );
        family(
            "keeper_accounts_bankrupt",
            "gauge",
            "Accounts the last round found bankrupt (to write off).",
            one(inner.bankrupt as f64),
        );
        family(
            "keeper_accounts_unpriced",
            "gauge",
            "Accounts the last round could not price (an oracle the program would refuse).",
            one(inner.unpriced as f64),
        );
        family(
            "keeper_transactions_sent_total",
            "counter",
            "Transactions sent, by instruction (liquidate, liquidate_perp, settle_pnl, resolve_bankruptcy, resolve_perp_bankruptcy).",
            by("kind", &inner.sent),
        );
        family(
            "keeper_transactions_landed_total",
            "counter",
            "Transactions confirmed without error, by instruction.",
            by("kind", &inner.landed),
        );
        family(
            "keeper_transactions_failed_total",
            "counter",
            "Transactions refused in simulation or on execution, or lost in transport, by instruction, stage and reason (the program's error name).",
            inner
                .failed
                .iter()
                .map(|((kind, stage, reason), v)| {
                    let pairs = [("kind", *kind), ("stage", *stage), ("reason", reason.as_str())];
                    (labels(&pairs), *v as f64)
                })
                .collect(),
        );
        family(
            "keeper_skipped_total",
            "counter",
            "Accounts passed over, by reason (below_min_profit: the predicted fee was under min_profit_usd).",
            by("reason", &inner.skipped),
        );
        family(
            "keeper_profit_predicted_usd_total",
            "counter",
            "Liquidation fees of landed liquidations as the plan predicted them, USD at the program's prices.",
            by_f("kind", &inner.profit_predicted_usd),
        );
        family(
            "keeper_profit_realized_usd_total",
            "counter",
            "Liquidation fees of landed liquidations from their events, USD at the program's prices.",
            by_f("kind", &inner.profit_realized_usd),
        );
        family(
            "keeper_rpc_requests_total",
            "counter",
            "Chain requests by backend method (retries count).",
            by("method", &inner.rpc_requests),
        );
        family(
            "keeper_rpc_errors_total",
            "counter",
            "Failed chain requests by backend method and kind (transport, rpc, timeout).",
            inner
                .rpc_errors
                .iter()
                .map(|((method, kind), v)| {
                    (labels(&[("method", *method), ("kind", *kind)]), *v as f64)
                })
                .collect(),
        );
        family(
            "keeper_detection_lag_last_seconds",
            "gauge",
            "The last detection lag observed (polling: the age of the round's snapshot when it ended).",
            one(inner.detection_lag.unwrap_or(0.0)),
        );
        let mut lag: Vec<(String, f64)> = LAG_BUCKETS
            .iter()
            .zip(inner.lag_buckets)
            .map(|(bound, count)| {
                (format!("_bucket{}", labels(&[("le", &bound.to_string())])), count as f64)
            })
            .collect();
        lag.push(("_bucket{le=\"+Inf\"}".into(), inner.lag_count as f64));
        lag.push(("_sum".into(), inner.lag_sum));
        lag.push(("_count".into(), inner.lag_count as f64));
        family(
            "keeper_detection_lag_seconds",
            "histogram",
            "How long after the chain changed the keeper acted (polling: each round's snapshot age at its end).",
            lag,
        );
        let age = inner
            .last_snapshot
            .map_or(f64::INFINITY, |at| now.saturating_duration_since(at).as_secs_f64());
        family(
            "keeper_last_snapshot_age_seconds",
            "gauge",
            "Seconds since the last successful read of the chain (+Inf before the first).",
            one(age),
        );
        out
    }
}

/// `{a="x",b="y"}` with the values escaped as the format requires.
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{value}")
    }
}

/// A [`Backend`] that counts every request and error into [`Metrics`].
pub struct Metered<B> {
    pub inner: B,
    pub metrics: Arc<Metrics>,
}

impl<B: Backend> Metered<B> {
    pub fn new(inner: B, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(
        &self,
        method: &'static str,
        result: Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        self.metrics.rpc_request(method);
        if let Err(error) = &result {
            self.metrics.rpc_error(method, error);
        }
        result
    }
}

impl<B: Backend> Backend for Metered<B> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
        let result = self.inner.program_accounts(program, filters);
        self.count("program_accounts", result)
    }
    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError> {
        let result = self.inner.multiple_accounts(keys);
        self.count("multiple_accounts", result)
    }
    fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
        let result = self.inner.unix_timestamp();
        self.count("unix_timestamp", result)
    }
    fn latest_blockhash(&mut self) -> Result<Hash, BackendError> {
        let result = self.inner.latest_blockhash();
        self.count("latest_blockhash", result)
    }
    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError> {
        let result = self.inner.simulate(tx);
        self.count("simulate", result)
    }
    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError> {
        let result = self.inner.send_and_confirm(tx);
        self.count("send_and_confirm", result)
    }
    fn recent_prioritization_fees(
        &mut self,
        writable: &[Pubkey],
    ) -> Result<Vec<u64>, BackendError> {
        let result = self.inner.recent_prioritization_fees(writable);
        self.count("recent_prioritization_fees", result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::LiquidationDone;

    /// The value of the sample `name{labels}` (exactly that series).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == series).then(|| value.parse().unwrap())
        })
    }

    #[test]
    fn the_exposition_format() {
        let metrics = Metrics::new();
        let t0 = Instant::now();
        let text = metrics.render(t0);
        // Before anything: every family is there, counters at zero, no snapshot yet.
        assert_eq!(sample(&text, "keeper_rounds_total"), Some(0.0));
        assert_eq!(
            sample(&text, "keeper_transactions_landed_total{kind=\"liquidate\"}"),
            Some(0.0)
        );
        assert!(text.contains("keeper_last_snapshot_age_seconds +Inf\n"), "{text}");

        metrics.snapshot_taken(t0);
        metrics.tx_sent("liquidate");
        metrics.tx_sent("liquidate");
        metrics.tx_landed("liquidate");
        metrics.tx_failed("liquidate", "send", "NotLiquidatable");
        metrics.tx_failed("liquidate_perp", "simulate", "{\"InstructionError\": [0, \"x\"]}");
        metrics.profit("liquidate", 1_500_000, 1_250_000);
        metrics.rpc_request("simulate");
        metrics.rpc_error("simulate", &BackendError::Timeout("slow".into()));
        metrics.observe_detection_lag(Duration::from_millis(1_500));
        metrics.observe_detection_lag(Duration::from_millis(100));
        let report = RoundReport {
            accounts: 12,
            liquidatable: 3,
            bankrupt: 1,
            skipped: vec![
                Skipped::BelowMinProfit { account: Pubkey::new_unique(), predicted_quote: 5 },
                Skipped::LostRace { account: Pubkey::new_unique(), error: "x".into() },
            ],
            liquidations: Vec::<LiquidationDone>::new(),
            ..RoundReport::default()
        };
        metrics.round_done(&report, Duration::from_millis(250));
        metrics.round_failed();
        let text = metrics.render(t0 + Duration::from_secs(3));

        let expect = [
            ("keeper_rounds_total", 2.0),
            ("keeper_rounds_failed_total", 1.0),
            ("keeper_round_duration_seconds", 0.25),
            ("keeper_accounts_watched", 12.0),
            ("keeper_accounts_liquidatable", 3.0),
            ("keeper_accounts_bankrupt", 1.0),
            ("keeper_transactions_sent_total{kind=\"liquidate\"}", 2.0),
            ("keeper_transactions_landed_total{kind=\"liquidate\"}", 1.0),
            ("keeper_transactions_landed_total{kind=\"resolve_bankruptcy\"}", 0.0),
            (
                "keeper_transactions_failed_total{kind=\"liquidate\",stage=\"send\",reason=\"NotLiquidatable\"}",
                1.0,
            ),
            (
                "keeper_transactions_failed_total{kind=\"liquidate_perp\",stage=\"simulate\",reason=\"other\"}",
                1.0,
            ),
            ("keeper_skipped_total{reason=\"below_min_profit\"}", 1.0),
            ("keeper_skipped_total{reason=\"lost_race\"}", 1.0),
            ("keeper_skipped_total{reason=\"dry_run\"}", 0.0),
            ("keeper_profit_predicted_usd_total{kind=\"liquidate\"}", 1.5),
            ("keeper_profit_realized_usd_total{kind=\"liquidate\"}", 1.25),
            ("keeper_rpc_requests_total{method=\"simulate\"}", 1.0),
            ("keeper_rpc_errors_total{method=\"simulate\",kind=\"timeout\"}", 1.0),
            ("keeper_detection_lag_last_seconds", 0.1),
            ("keeper_detection_lag_seconds_bucket{le=\"0.05\"}", 0.0),
            ("keeper_detection_lag_seconds_bucket{le=\"0.1\"}", 1.0),
            ("keeper_detection_lag_seconds_bucket{le=\"1\"}", 1.0),
            ("keeper_detection_lag_seconds_bucket{le=\"2\"}", 2.0),
            ("keeper_detection_lag_seconds_bucket{le=\"60\"}", 2.0),
            ("keeper_detection_lag_seconds_bucket{le=\"+Inf\"}", 2.0),
            ("keeper_detection_lag_seconds_sum", 1.6),
            ("keeper_detection_lag_seconds_count", 2.0),
            ("keeper_last_snapshot_age_seconds", 3.0),
        ];
        for (series, value) in expect {
            assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
        }
        // Every sample's family has one HELP and one TYPE line before it, and nothing else is
        // in the text: comments, or `name{labels} value`.
        let (mut declared, mut types) = (Vec::new(), Vec::new());
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                declared.push(rest.split(' ').next().unwrap().to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut words = rest.split(' ');
                assert_eq!(words.next(), declared.last().map(String::as_str), "{line}");
                let kind = words.next().unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                types.push(kind.to_owned());
                let name = declared.last().unwrap();
                assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            let family = declared.last().unwrap();
            let suffix = name.strip_prefix(family.as_str()).unwrap_or_else(|| panic!("{line}"));
            match types.last().unwrap().as_str() {
                "histogram" => assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{line}"),
                _ => assert_eq!(suffix, "", "{line}"),
            }
            let value = line.rsplit(' ').next().unwrap();
            assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{line}");
        }
        let mut unique = declared.clone();
        unique.dedup();
        assert_eq!(unique.len(), declared.len(), "a family declared twice");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(labels(&[("a", "x\"y\\z\nw")]), "{a=\"x\\\"y\\\\z\\nw\"}");
        assert_eq!(reason_label("HealthAccountsMissing"), "HealthAccountsMissing");
        assert_eq!(reason_label("custom program error: 0x1"), "other");
        assert_eq!(reason_label(&"A".repeat(65)), "other");
        assert_eq!(reason_label(""), "other");
    }

    #[test]
    fn health_is_the_age_of_the_last_snapshot() {
        let metrics = Metrics::new();
        let t0 = Instant::now();
        let limit = Duration::from_secs(10);
        let (code, body) = metrics.health(t0, limit);
        assert_eq!(code, 503);
        assert!(body.starts_with("starting"), "{body}");
        metrics.snapshot_taken(t0);
        assert_eq!(metrics.health(t0 + Duration::from_secs(10), limit).0, 200, "at the limit");
        let (code, body) = metrics.health(t0 + Duration::from_millis(10_001), limit);
        assert_eq!(code, 503);
        assert!(body.starts_with("stale: last snapshot 10.0 s ago (limit 10 s)"), "{body}");
        // A failed round does not refresh it; a later snapshot does (an older one does not).
        metrics.round_failed();
        assert_eq!(metrics.health(t0 + Duration::from_secs(11), limit).0, 503);
        metrics.snapshot_taken(t0 + Duration::from_secs(11));
        metrics.snapshot_taken(t0);
        assert_eq!(metrics.health(t0 + Duration::from_secs(20), limit).0, 200);
    }

    /// A chain that is never there.
    struct Dead;

    impl Backend for Dead {
        fn name(&self) -> String {
            "dead".into()
        }
        fn program_accounts(
            &mut self,
            _: &Pubkey,
            _: &[Filter],
        ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
            Err(BackendError::Transport("refused".into()))
        }
        fn multiple_accounts(
            &mut self,
            _: &[Pubkey],
        ) -> Result<Vec<Option<AccountData>>, BackendError> {
            Err(BackendError::Transport("refused".into()))
        }
        fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
            Err(BackendError::Timeout("clock".into()))
        }
        fn latest_blockhash(&mut self) -> Result<Hash, BackendError> {
            Err(BackendError::Transport("refused".into()))
        }
        fn simulate(&mut self, _: &VersionedTransaction) -> Result<Simulation, BackendError> {
            Err(BackendError::Transport("refused".into()))
        }
        fn send_and_confirm(
            &mut self,
            _: &VersionedTransaction,
        ) -> Result<Result<Landed, Rejection>, BackendError> {
            Err(BackendError::Transport("refused".into()))
        }
    }

    #[test]
    fn a_round_against_a_dead_chain_counts_its_errors_and_stays_unhealthy() {
        use crate::{Keeper, KeeperConfig, RetryPolicy};
        let metrics = Arc::new(Metrics::new());
        let mut config = KeeperConfig::new(Pubkey::new_unique(), Pubkey::new_unique());
        config.retry = RetryPolicy { attempts: 3, first_delay: Duration::ZERO, ..config.retry };
        config.metrics = metrics.clone();
        let keeper = Keeper::new(config, cross_margin_client::Keypair::new());
        let mut backend = Metered::new(Dead, metrics.clone());
        let stop = std::sync::atomic::AtomicBool::new(false);
        assert!(keeper.run_round(&mut backend, &stop).is_err());
        let text = metrics.render(Instant::now());
        assert_eq!(sample(&text, "keeper_rounds_total"), Some(1.0));
        assert_eq!(sample(&text, "keeper_rounds_failed_total"), Some(1.0));
        // The round's first call (the clock), tried three times.
        let errors = "keeper_rpc_errors_total{method=\"unix_timestamp\",kind=\"timeout\"}";
        assert_eq!(sample(&text, errors), Some(3.0), "{text}");
        assert_eq!(
            sample(&text, "keeper_rpc_requests_total{method=\"unix_timestamp\"}"),
            Some(3.0)
        );
        assert!(text.contains("keeper_last_snapshot_age_seconds +Inf\n"));
        assert_eq!(metrics.health(Instant::now(), Duration::from_secs(60)).0, 503);
    }

    #[test]
    fn instructions_are_labelled_by_kind() {
        use cross_margin_client::ix;
        let k = Pubkey::new_unique;
        let liquidate = ix::liquidate(k(), k(), k(), k(), k(), k(), 1, vec![], vec![]);
        assert_eq!(kind_of(&liquidate), "liquidate");
        let resolve = ix::resolve_bankruptcy(k(), k(), k(), vec![]);
        assert_eq!(kind_of(&resolve), "resolve_bankruptcy");
        let mut foreign = resolve.clone();
        foreign.program_id = k();
        assert_eq!(kind_of(&foreign), "other");
    }
}
