//! Detection by websocket: the keeper keeps the group in memory and acts as soon as an update
//! makes an account liquidatable, instead of re-reading everything every round.
//!
//! - [`Subscriptions`] (a thread running `solana-pubsub-client`'s nonblocking client on one
//!   websocket): `accountSubscribe` to the group, its banks, perp markets and oracles and the
//!   Clock sysvar; `programSubscribe` to the program with the margin-account filters (size,
//!   discriminator, group). A dropped or silent websocket is reconnected with capped, jittered
//!   exponential backoff ([`Backoff`]); a changed set of oracles (a re-pin) resubscribes.
//! - [`run`] (the keeper's thread): a full snapshot (`getProgramAccounts` and friends, as a
//!   polling round reads) at start, after every reconnection and every `snapshot_interval`,
//!   repairs whatever the websocket missed; each update is applied to the snapshot; a change of
//!   the market (a price, a bank, a perp market, the group) re-evaluates every account, a change
//!   of margin accounts re-evaluates those; what is liquidatable or bankrupt is acted on at once
//!   with the same `Keeper::act` as a polling round.
//! - [`DetectionStats`]: counters and timings for metrics and health checks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cross_margin::state::MarginAccount;
use cross_margin_client::Pubkey;
use futures_util::stream::{select_all, BoxStream, StreamExt};
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use tokio::sync::Notify;

use crate::backend::rpc::{
    account_config, account_from_ui, clock_slot, clock_unix_timestamp, program_accounts_config,
    CLOCK_SYSVAR,
};
use crate::backend::{jitter_seed, AccountData, Backend, BackendError, Backoff, Filter};
use crate::evaluate::evaluate;
use crate::keeper::{
    account_filters, oracle_keys, Discovered, GroupMarket, Keeper, RawGroup, RoundReport,
};
use crate::market::{decode_margin_account, MarketState};

/// How the websocket detection runs.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// `ws://` or `wss://` endpoint of the same node.
    pub ws_url: String,
    /// Between two full snapshots (the repair of anything the websocket missed).
    pub snapshot_interval: Duration,
    /// Re-evaluate everything at least this often without updates (time moves prices' age,
    /// interest and funding).
    pub evaluate_interval: Duration,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// A websocket with no notification for this long is dead (the Clock sysvar notifies
    /// every slot): reconnect.
    pub silence_timeout: Duration,
    /// How long an account acted on (or refused) is left alone: notifications of its state
    /// between two steps of the keeper's own liquidation are not new work.
    pub cooldown: Duration,
}

impl WatchConfig {
    pub fn new(ws_url: impl Into<String>) -> Self {
        Self {
            ws_url: ws_url.into(),
            snapshot_interval: Duration::from_secs(60),
            evaluate_interval: Duration::from_secs(2),
            backoff: Backoff::default(),
            silence_timeout: Duration::from_secs(10),
            cooldown: Duration::from_secs(2),
        }
    }
}

pub use crate::config::ws_url_from_rpc;

/// What the detection has done, for metrics and health checks (read with
/// [`DetectionStats::read`]; every field is updated as it happens).
#[derive(Debug, Default)]
pub struct DetectionStats {
    /// Unix time of the last full snapshot that succeeded (0: none yet).
    pub last_snapshot_unix: AtomicI64,
    pub snapshots: AtomicU64,
    /// Notifications received (accounts, program accounts, the clock).
    pub updates_received: AtomicU64,
    /// Connections lost or refused (each is followed by a reconnection attempt).
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    /// Evaluations run (of every account or of the changed ones).
    pub evaluations: AtomicU64,
    /// The last update that led to action: the chain's slot when the keeper began acting minus
    /// the update's slot, and the time from its arrival to the action.
    pub detection_lag_slots: AtomicU64,
    pub detection_lag_ms: AtomicU64,
    /// The latest slot the websocket reported.
    pub last_slot: AtomicU64,
}

/// A plain copy of [`DetectionStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectionSnapshot {
    pub last_snapshot_unix: i64,
    pub snapshots: u64,
    pub updates_received: u64,
    pub reconnects: u64,
    pub connected: bool,
    pub evaluations: u64,
    pub detection_lag_slots: u64,
    pub detection_lag_ms: u64,
    pub last_slot: u64,
}

impl DetectionStats {
    pub fn read(&self) -> DetectionSnapshot {
        let get = |v: &AtomicU64| v.load(Ordering::Relaxed);
        DetectionSnapshot {
            last_snapshot_unix: self.last_snapshot_unix.load(Ordering::Relaxed),
            snapshots: get(&self.snapshots),
            updates_received: get(&self.updates_received),
            reconnects: get(&self.reconnects),
            connected: self.connected.load(Ordering::Relaxed),
            evaluations: get(&self.evaluations),
            detection_lag_slots: get(&self.detection_lag_slots),
            detection_lag_ms: get(&self.detection_lag_ms),
            last_slot: get(&self.last_slot),
        }
    }
}

/// One notification, or a change of the connection.
#[derive(Debug)]
pub enum Update {
    Account {
        key: Pubkey,
        slot: u64,
        account: AccountData,
        received: Instant,
    },
    /// A notification whose account did not parse.
    Malformed {
        key: Option<Pubkey>,
        error: BackendError,
    },
    Connected,
    Disconnected(String),
}

/// The subscription thread. Dropping it stops the thread (within ~200 ms).
pub struct Subscriptions {
    keys: Arc<Mutex<Vec<Pubkey>>>,
    resubscribe: Arc<Notify>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Subscriptions {
    /// Subscribes to `keys` (accounts) and to the program's accounts matching `filters`, and
    /// sends every notification to `updates`.
    pub fn spawn(
        config: &WatchConfig,
        keys: Vec<Pubkey>,
        filters: Vec<Filter>,
        updates: Sender<Update>,
        stats: Arc<DetectionStats>,
    ) -> std::io::Result<Self> {
        let keys = Arc::new(Mutex::new(keys));
        let resubscribe = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let session = Session {
            url: config.ws_url.clone(),
            keys: keys.clone(),
            filters,
            commitment: CommitmentConfig::confirmed(),
            updates,
            resubscribe: resubscribe.clone(),
            stop: stop.clone(),
            stats,
            silence: config.silence_timeout,
        };
        let backoff = config.backoff;
        let thread = std::thread::Builder::new().name("keeper-ws".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = session.updates.send(Update::Disconnected(format!("runtime: {error}")));
                    return;
                }
            };
            runtime.block_on(session.run_forever(backoff));
        })?;
        Ok(Self { keys, resubscribe, stop, thread: Some(thread) })
    }

    /// Replaces the watched accounts (reconnects with the new set).
    pub fn set_keys(&self, keys: Vec<Pubkey>) {
        *self.keys.lock().unwrap_or_else(|e| e.into_inner()) = keys;
        self.resubscribe.notify_one();
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.resubscribe.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Session {
    url: String,
    keys: Arc<Mutex<Vec<Pubkey>>>,
    filters: Vec<Filter>,
    commitment: CommitmentConfig,
    updates: Sender<Update>,
    resubscribe: Arc<Notify>,
    stop: Arc<AtomicBool>,
    stats: Arc<DetectionStats>,
    silence: Duration,
}

/// How a connection ended.
enum Ended {
    /// Stop, or a new set of keys: connect again at once.
    Asked,
    /// Lost (`connected`: after subscribing, so the backoff starts over).
    Dropped { reason: String, connected: bool },
}

impl Session {
    async fn run_forever(self, backoff: Backoff) {
        let mut attempt = 0;
        while !self.stop.load(Ordering::Relaxed) {
            match self.connect_once().await {
                Ended::Asked => attempt = 0,
                Ended::Dropped { reason, connected } => {
                    self.stats.connected.store(false, Ordering::Relaxed);
                    self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    if connected {
                        attempt = 0;
                    }
                    let delay = backoff.delay(attempt, jitter_seed());
                    tracing::warn!(%reason, attempt, ?delay, "websocket down; reconnecting");
                    if self.updates.send(Update::Disconnected(reason)).is_err() {
                        return;
                    }
                    attempt = attempt.saturating_add(1);
                    let deadline = tokio::time::Instant::now() + delay;
                    while tokio::time::Instant::now() < deadline
                        && !self.stop.load(Ordering::Relaxed)
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    }

    async fn connect_once(&self) -> Ended {
        let dropped = |reason: String| Ended::Dropped { reason, connected: false };
        let connect = tokio::time::timeout(Duration::from_secs(10), PubsubClient::new(&*self.url));
        let client = match connect.await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => return dropped(format!("connecting to {}: {error}", self.url)),
            Err(_) => return dropped(format!("connecting to {}: timed out", self.url)),
        };
        let ended = self.subscribed(&client).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), client.shutdown()).await;
        ended
    }

    async fn subscribed(&self, client: &PubsubClient) -> Ended {
        let dropped = |reason: String| Ended::Dropped { reason, connected: false };
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut streams: Vec<BoxStream<'_, Update>> = Vec::with_capacity(keys.len() + 1);
        let config = program_accounts_config(&self.filters, self.commitment);
        match client.program_subscribe(&cross_margin::ID, Some(config)).await {
            Ok((stream, _)) => streams.push(
                stream
                    .map(|response| {
                        let slot = response.context.slot;
                        let keyed = response.value;
                        match keyed.pubkey.parse::<Pubkey>() {
                            Ok(key) => account_update(key, slot, &keyed.account),
                            Err(_) => Update::Malformed {
                                key: None,
                                error: BackendError::Malformed(format!(
                                    "programSubscribe: bad key {}",
                                    keyed.pubkey
                                )),
                            },
                        }
                    })
                    .boxed(),
            ),
            Err(error) => return dropped(format!("programSubscribe: {error}")),
        }
        for key in keys {
            match client.account_subscribe(&key, Some(account_config(self.commitment))).await {
                Ok((stream, _)) => streams.push(
                    stream
                        .map(move |response| {
                            account_update(key, response.context.slot, &response.value)
                        })
                        .boxed(),
                ),
                Err(error) => return dropped(format!("accountSubscribe {key}: {error}")),
            }
        }
        self.stats.connected.store(true, Ordering::Relaxed);
        if self.updates.send(Update::Connected).is_err() {
            return Ended::Asked;
        }
        let mut all = select_all(streams);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut last = Instant::now();
        loop {
            tokio::select! {
                update = all.next() => match update {
                    Some(update) => {
                        last = Instant::now();
                        self.stats.updates_received.fetch_add(1, Ordering::Relaxed);
                        if let Update::Account { slot, .. } = &update {
                            self.stats.last_slot.fetch_max(*slot, Ordering::Relaxed);
                        }
                        if self.updates.send(update).is_err() {
                            return Ended::Asked;
                        }
                    }
                    None => {
                        return Ended::Dropped {
                            reason: "the websocket closed".into(),
                            connected: true,
                        }
                    }
                },
                _ = self.resubscribe.notified() => return Ended::Asked,
                _ = tick.tick() => {
                    if self.stop.load(Ordering::Relaxed) {
                        return Ended::Asked;
                    }
                    if last.elapsed() > self.silence {
                        return Ended::Dropped {
                            reason: format!("no notification for {:?}", self.silence),
                            connected: true,
                        };
                    }
                }
            }
        }
    }
}

fn account_update(
    key: Pubkey,
    slot: u64,
    account: &solana_account_decoder_client_types::UiAccount,
) -> Update {
    match account_from_ui(account) {
        Ok(account) => Update::Account { key, slot, account, received: Instant::now() },
        Err(error) => Update::Malformed { key: Some(key), error },
    }
}

/// The keeper's in-memory view of its group: what a polling round would read, kept current by
/// notifications.
pub struct Snapshot {
    pub raw: RawGroup,
    /// This keeper's shard of the margin accounts, decoded.
    pub accounts: BTreeMap<Pubkey, MarginAccount>,
    pub slot: u64,
    market: Option<MarketState>,
    after_pending: Option<MarketState>,
}

/// What an update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Nothing the evaluation reads (an unknown key, the same bytes).
    Nothing,
    /// The clock: the time and slot moved.
    Clock,
    /// A price, a bank, a perp market or the group: every account must be evaluated again.
    Market,
    /// One margin account.
    Account,
    /// A bank or perp market now pins another oracle: fetch it and resubscribe.
    Oracles,
}

impl Snapshot {
    /// A full read: the group, banks, perp markets, oracles, the clock and every margin
    /// account of the keeper's shard.
    pub fn fetch(keeper: &Keeper, backend: &mut dyn Backend) -> anyhow::Result<Self> {
        let raw = keeper.fetch_group(backend)?;
        let filters = account_filters(&keeper.config.group);
        let listed = keeper
            .config
            .retry
            .run("accounts", || backend.program_accounts(&cross_margin::ID, &filters))?;
        let mut accounts = BTreeMap::new();
        for (address, data) in listed {
            if !keeper.config.shard.contains(&address) {
                continue;
            }
            match decode_margin_account(&data) {
                Ok(account) => {
                    accounts.insert(address, account);
                }
                Err(error) => tracing::warn!(%address, %error, "skipping an undecodable account"),
            }
        }
        let mut snapshot = Self { raw, accounts, slot: 0, market: None, after_pending: None };
        snapshot.rebuild_market()?;
        Ok(snapshot)
    }

    /// The accounts to watch one by one: the group, the banks, the perp markets, the oracles
    /// and the clock.
    pub fn watched_keys(&self) -> Vec<Pubkey> {
        let mut keys = vec![self.raw.group_key, CLOCK_SYSVAR];
        keys.extend(self.raw.banks.iter().map(|(key, _)| *key));
        keys.extend(self.raw.perps.iter().map(|(key, _)| *key));
        let mut oracles: Vec<Pubkey> = self.raw.oracles.keys().copied().collect();
        oracles.sort();
        keys.extend(oracles);
        keys
    }

    pub fn market(&self) -> Option<&MarketState> {
        self.market.as_ref()
    }

    fn rebuild_market(&mut self) -> anyhow::Result<()> {
        let GroupMarket { market, after_pending, undecodable } = self.raw.market()?;
        for (address, error) in undecodable {
            tracing::warn!(%address, %error, "skipping an undecodable bank or perp market");
        }
        self.market = Some(market);
        self.after_pending = after_pending;
        Ok(())
    }

    /// Applies one notification.
    pub fn apply(
        &mut self,
        shard: &crate::evaluate::Shard,
        key: Pubkey,
        slot: u64,
        account: AccountData,
    ) -> Changed {
        self.slot = self.slot.max(slot);
        if key == CLOCK_SYSVAR {
            if let Ok(now) = clock_unix_timestamp(&account.data) {
                self.raw.now = now;
            }
            if let Ok(slot) = clock_slot(&account.data) {
                self.slot = self.slot.max(slot);
            }
            return Changed::Clock;
        }
        if key == self.raw.group_key {
            return replace(&mut self.raw.group, account);
        }
        if let Some(entry) = self.raw.oracles.get_mut(&key) {
            return replace(entry, account);
        }
        let mut found = None;
        for list in [&mut self.raw.banks, &mut self.raw.perps] {
            if let Some((_, entry)) = list.iter_mut().find(|(k, _)| *k == key) {
                found = Some(replace(entry, account.clone()));
                break;
            }
        }
        match found {
            Some(Changed::Nothing) => return Changed::Nothing,
            Some(_) => {
                let wanted: HashSet<Pubkey> =
                    oracle_keys(&self.raw.banks, &self.raw.perps).into_iter().collect();
                let have: HashSet<Pubkey> = self.raw.oracles.keys().copied().collect();
                return if wanted == have { Changed::Market } else { Changed::Oracles };
            }
            None => {}
        }
        if !shard.contains(&key) {
            return Changed::Nothing;
        }
        match decode_margin_account(&account) {
            Ok(decoded) => {
                self.accounts.insert(key, decoded);
                Changed::Account
            }
            Err(error) => {
                tracing::warn!(address = %key, %error, "an undecodable account update");
                Changed::Nothing
            }
        }
    }

    /// Reads the oracles the banks and perp markets now pin (after a re-pin), dropping the
    /// ones no longer pinned.
    fn refresh_oracles(
        &mut self,
        keeper: &Keeper,
        backend: &mut dyn Backend,
    ) -> anyhow::Result<()> {
        let keys = oracle_keys(&self.raw.banks, &self.raw.perps);
        let fetched = keeper.config.retry.run("oracles", || backend.multiple_accounts(&keys))?;
        self.raw.oracles = keys
            .into_iter()
            .zip(fetched)
            .filter_map(|(key, account)| Some((key, account?)))
            .collect();
        Ok(())
    }

    /// The market and the given accounts as a polling round would have discovered them.
    fn discovered(&self, accounts: Vec<(Pubkey, MarginAccount)>) -> Option<Discovered> {
        Some(Discovered {
            market: self.market.clone()?,
            after_pending: self.after_pending.clone(),
            accounts,
            undecodable: Vec::new(),
        })
    }
}

fn replace(entry: &mut AccountData, account: AccountData) -> Changed {
    if *entry == account {
        return Changed::Nothing;
    }
    *entry = account;
    Changed::Market
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The work an evaluation is owed.
#[derive(Default)]
struct Pending {
    market: bool,
    accounts: HashSet<Pubkey>,
    /// The first update (arrival, slot) since the last evaluation that changed something.
    first: Option<(Instant, u64)>,
}

impl Pending {
    fn note(&mut self, received: Instant, slot: u64) {
        self.first.get_or_insert((received, slot));
    }
}

/// Watches the group over the websocket and acts on every account that needs it, until `stop`.
/// `on_report` sees every report (of a snapshot round or of an update).
pub fn run(
    keeper: &Keeper,
    backend: &mut dyn Backend,
    config: &WatchConfig,
    stop: &AtomicBool,
    stats: Arc<DetectionStats>,
    on_report: &mut dyn FnMut(&RoundReport),
) -> anyhow::Result<()> {
    let (sender, updates) = channel();
    let Some(mut current) = first_snapshot(keeper, backend, config, stop, &stats)? else {
        return Ok(());
    };
    let filters = account_filters(&keeper.config.group).to_vec();
    let subscriptions =
        Subscriptions::spawn(config, current.watched_keys(), filters, sender, stats.clone())?;
    let mut watcher = Watcher {
        keeper,
        config,
        stats,
        subscriptions,
        cooldown: HashMap::new(),
        next_snapshot: Instant::now() + config.snapshot_interval,
        next_evaluation: Instant::now(),
        pending: Pending { market: true, ..Pending::default() },
    };
    while !stop.load(Ordering::Relaxed) {
        watcher.wait_and_apply(&updates, &mut current, backend);
        if Instant::now() >= watcher.next_snapshot {
            match Snapshot::fetch(keeper, backend) {
                Ok(fresh) => watcher.replace_snapshot(&mut current, fresh),
                Err(error) => {
                    tracing::error!(%error, "snapshot failed; retrying");
                    watcher.next_snapshot = Instant::now()
                        + config.backoff.delay(0, jitter_seed()).max(config.backoff.first);
                }
            }
        }
        if Instant::now() >= watcher.next_evaluation {
            watcher.pending.market = true;
        }
        if watcher.pending.market || !watcher.pending.accounts.is_empty() {
            match watcher.evaluate_and_act(&current, backend, stop) {
                Ok(Some(report)) => on_report(&report),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "acting failed; the next update retries"),
            }
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The first snapshot, retried with backoff until it succeeds or `stop` (`None`).
fn first_snapshot(
    keeper: &Keeper,
    backend: &mut dyn Backend,
    config: &WatchConfig,
    stop: &AtomicBool,
    stats: &DetectionStats,
) -> anyhow::Result<Option<Snapshot>> {
    let mut attempt = 0;
    while !stop.load(Ordering::Relaxed) {
        match Snapshot::fetch(keeper, backend) {
            Ok(snapshot) => {
                stats.snapshots.fetch_add(1, Ordering::Relaxed);
                stats.last_snapshot_unix.store(unix_now(), Ordering::Relaxed);
                keeper.config.metrics.snapshot_taken(Instant::now());
                return Ok(Some(snapshot));
            }
            Err(error) => {
                let delay = config.backoff.delay(attempt, jitter_seed());
                tracing::error!(%error, ?delay, "first snapshot failed; retrying");
                attempt = attempt.saturating_add(1);
                sleep_unless_stopped(delay, stop);
            }
        }
    }
    Ok(None)
}

fn sleep_unless_stopped(delay: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50).min(deadline - Instant::now()));
    }
}

struct Watcher<'a> {
    keeper: &'a Keeper,
    config: &'a WatchConfig,
    stats: Arc<DetectionStats>,
    subscriptions: Subscriptions,
    cooldown: HashMap<Pubkey, Instant>,
    next_snapshot: Instant,
    next_evaluation: Instant,
    pending: Pending,
}

impl Watcher<'_> {
    /// Waits for the next update (or a deadline), then applies every queued one.
    fn wait_and_apply(
        &mut self,
        updates: &Receiver<Update>,
        snapshot: &mut Snapshot,
        backend: &mut dyn Backend,
    ) {
        let deadline = self.next_snapshot.min(self.next_evaluation);
        let wait =
            deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(200));
        let first = match updates.recv_timeout(wait) {
            Ok(update) => update,
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                // The subscription thread is gone: polling by snapshots until it is back.
                std::thread::sleep(wait);
                return;
            }
        };
        let mut oracles_moved = false;
        for update in std::iter::once(first).chain(updates.try_iter()) {
            match update {
                Update::Account { key, slot, account, received } => {
                    // The in-memory state is current as of this notification: what /health's
                    // snapshot age measures (the clock notifies every slot while connected).
                    self.keeper.config.metrics.snapshot_taken(received);
                    match snapshot.apply(&self.keeper.config.shard, key, slot, account) {
                        Changed::Nothing | Changed::Clock => {}
                        Changed::Market => {
                            self.pending.market = true;
                            self.pending.note(received, slot);
                        }
                        Changed::Oracles => {
                            oracles_moved = true;
                            self.pending.market = true;
                            self.pending.note(received, slot);
                        }
                        Changed::Account => {
                            self.pending.accounts.insert(key);
                            self.pending.note(received, slot);
                        }
                    }
                }
                Update::Malformed { key, error } => {
                    tracing::warn!(?key, %error, "a notification that does not parse; ignored")
                }
                // Whatever changed while disconnected: the snapshot repairs it.
                Update::Connected => self.next_snapshot = Instant::now(),
                Update::Disconnected(reason) => tracing::warn!(%reason, "websocket lost"),
            }
        }
        if oracles_moved {
            match snapshot.refresh_oracles(self.keeper, backend) {
                Ok(()) => self.subscriptions.set_keys(snapshot.watched_keys()),
                Err(error) => {
                    tracing::error!(%error, "reading re-pinned oracles failed; snapshot next");
                    self.next_snapshot = Instant::now();
                }
            }
        }
        if self.pending.market {
            if let Err(error) = snapshot.rebuild_market() {
                tracing::error!(%error, "the group does not decode; snapshot next");
                self.next_snapshot = Instant::now();
                self.pending.market = false;
            }
        }
    }

    fn replace_snapshot(&mut self, current: &mut Snapshot, fresh: Snapshot) {
        let keys_before = current.watched_keys();
        let slot = current.slot;
        *current = fresh;
        current.slot = current.slot.max(slot);
        if current.watched_keys() != keys_before {
            self.subscriptions.set_keys(current.watched_keys());
        }
        self.stats.snapshots.fetch_add(1, Ordering::Relaxed);
        self.stats.last_snapshot_unix.store(unix_now(), Ordering::Relaxed);
        self.keeper.config.metrics.snapshot_taken(Instant::now());
        self.next_snapshot = Instant::now() + self.config.snapshot_interval;
        self.pending.market = true;
        self.cooldown.clear();
    }

    /// Evaluates what changed (every account after a market change) and acts on what needs it.
    fn evaluate_and_act(
        &mut self,
        snapshot: &Snapshot,
        backend: &mut dyn Backend,
        stop: &AtomicBool,
    ) -> anyhow::Result<Option<RoundReport>> {
        let pending = std::mem::take(&mut self.pending);
        self.next_evaluation = Instant::now() + self.config.evaluate_interval;
        let accounts: Vec<(Pubkey, MarginAccount)> = if pending.market {
            snapshot.accounts.iter().map(|(k, a)| (*k, *a)).collect()
        } else {
            pending.accounts.iter().filter_map(|k| Some((*k, *snapshot.accounts.get(k)?))).collect()
        };
        let Some(discovered) = snapshot.discovered(accounts) else { return Ok(None) };
        let started = Instant::now();
        let mut evaluation = evaluate(&discovered.market, &discovered.accounts);
        self.stats.evaluations.fetch_add(1, Ordering::Relaxed);
        // What a full evaluation found, for the metrics' gauges (before the cooldown filter).
        let found = RoundReport {
            accounts: snapshot.accounts.len(),
            healthy: evaluation.healthy,
            liquidatable: evaluation.liquidatable.len(),
            bankrupt: evaluation.bankrupt.len(),
            unpriced: evaluation.unpriced.len(),
            ..RoundReport::default()
        };
        let now = Instant::now();
        self.cooldown.retain(|_, until| *until > now);
        let cooling = |t: &crate::evaluate::Target| self.cooldown.contains_key(&t.address);
        evaluation.liquidatable.retain(|t| !cooling(t));
        evaluation.bankrupt.retain(|t| !cooling(t));
        // Unpriced accounts are reported (logged by `act`) by full evaluations only, not on
        // every account update.
        if !pending.market {
            evaluation.unpriced.clear();
        }
        if evaluation.liquidatable.is_empty() && evaluation.bankrupt.is_empty() {
            // A full evaluation with nothing to do is a round of the metrics too: the gauges
            // say what it found, and the rounds keep counting while the group is quiet
            // (logged like a polling round, so that the last "round done" line says the
            // group is quiet).
            if pending.market {
                self.keeper.config.metrics.round_done(&found, started.elapsed());
                found.log();
            }
            return Ok(None);
        }
        if let Some((received, slot)) = pending.first {
            self.keeper.config.metrics.observe_detection_lag(received.elapsed());
            let lag_ms = received.elapsed().as_millis() as u64;
            self.stats.detection_lag_ms.store(lag_ms, Ordering::Relaxed);
            let lag_slots = snapshot.slot.saturating_sub(slot);
            self.stats.detection_lag_slots.store(lag_slots, Ordering::Relaxed);
            tracing::debug!(lag_ms, lag_slots, "acting on an update");
        }
        let targets: Vec<Pubkey> =
            evaluation.bankrupt.iter().chain(&evaluation.liquidatable).map(|t| t.address).collect();
        let report = self.keeper.act(backend, &discovered, &evaluation, stop);
        let until = Instant::now() + self.config.cooldown;
        for address in targets {
            self.cooldown.insert(address, until);
        }
        let metrics = &self.keeper.config.metrics;
        let mut report = match report {
            Ok(report) => report,
            Err(error) => {
                metrics.round_failed();
                return Err(error);
            }
        };
        // A "round" of the metrics: one action on what the notifications changed, over the
        // accounts watched.
        report.accounts = snapshot.accounts.len();
        metrics.round_done(&report, started.elapsed());
        report.log();
        Ok(Some(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_url_of_an_rpc_url() {
        let ws = |url: &str| ws_url_from_rpc(url);
        assert_eq!(ws("http://127.0.0.1:8899").as_deref(), Some("ws://127.0.0.1:8900"));
        assert_eq!(ws("http://localhost:18899/").as_deref(), Some("ws://localhost:18900/"));
        assert_eq!(
            ws("https://api.mainnet-beta.solana.com").as_deref(),
            Some("wss://api.mainnet-beta.solana.com")
        );
        assert_eq!(
            ws("https://rpc.example.com/v1/KEY").as_deref(),
            Some("wss://rpc.example.com/v1/KEY")
        );
        assert_eq!(ws("http://[::1]:8899").as_deref(), Some("ws://[::1]:8900"));
        assert_eq!(ws("http://[::1]").as_deref(), Some("ws://[::1]"));
        assert_eq!(ws("ftp://x"), None);
        assert_eq!(ws("127.0.0.1:8899"), None);
        assert_eq!(ws("http://host:65535"), None, "no port above 65535");
        assert_eq!(ws("http://host:notaport"), None);
    }

    #[test]
    fn stats_read_back_what_was_counted() {
        let stats = DetectionStats::default();
        stats.updates_received.fetch_add(3, Ordering::Relaxed);
        stats.reconnects.fetch_add(1, Ordering::Relaxed);
        stats.last_slot.fetch_max(42, Ordering::Relaxed);
        let read = stats.read();
        assert_eq!((read.updates_received, read.reconnects, read.last_slot), (3, 1, 42));
        assert!(!read.connected);
    }
}
