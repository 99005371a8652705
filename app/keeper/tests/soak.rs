//! The soak (issue 21, part 3): two keeper binaries (`--shard 0/2` and `1/2`, websocket
//! detection, each with its config file as docs/KEEPER.md documents) watch a market on a real
//! local validator while a seeded random driver (`soak_driver`) sends deposits, borrows,
//! repays, withdrawals, SOL price moves (small, crashes, recoveries), SOL-PERP trades and bad
//! transactions. After every driver action the soak reads every account and judges it with the
//! keeper's own `evaluate` (the program's health code): no account may stay liquidatable (and
//! not bankrupt) for more than [`MAX_LIQUIDATABLE_SLOTS`]. At the end the property campaign's
//! state-only invariants (`cross_margin_testkit::invariants`) are checked against the chain,
//! and the keepers' resident memory must not grow (`rss_growth`).
//!
//! ```text
//! cargo test -p cross-margin-keeper --test soak -- --nocapture           # 60 s of driving
//! SOAK_SECS=1200 cargo test -p cross-margin-keeper --test soak -- --nocapture
//! ```
//!
//! Also SOAK_SEED (default 21) and SOAK_KEEPERS (default 2). docs/KEEPER.md ("Soak") has the
//! choice of N and a long run's result.

mod localnet;
mod soak_driver;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cross_margin_client::{EmbeddedChain, Keypair, Pubkey};
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::keeper::Discovered;
use cross_margin_keeper::{evaluate, Evaluation, Keeper, KeeperConfig};
use cross_margin_testkit::invariants::{
    no_flash_loan_open, perp_aggregates, share_sums, slots_pnl, traders_pnl_brackets,
    vault_covers_claims,
};
use cross_margin_testkit::sandbox::User;
use cross_margin_testkit::scenario::{whole, SeededMarket, BTC, SOL, USDC};
use localnet::{localnet_available, serve, wait_until_the_program_runs};
use soak_driver::{token_amount, Driver, Outcome};
use solana_rpc_client::rpc_client::RpcClient;

/// N: the most slots an account may stay liquidatable (and not bankrupt). From measured keeper
/// latency (docs/KEEPER.md: websocket detection to landing 1 slot, polling p95 5) plus the
/// queue a crash makes (each keeper works its shard's liquidatable accounts one after another,
/// about 2 slots per confirmed transaction) plus this test's own granularity; docs/KEEPER.md
/// ("Soak") has the arithmetic and the measured waits.
const MAX_LIQUIDATABLE_SLOTS: u64 = 40;
/// Keeper memory may not grow: the last quarter's largest sample at most this much above the
/// first quarter's (allocator noise; a leak of one allocation per round or per notification
/// over the run is far larger).
const RSS_GROWTH_KIB: u64 = 8 * 1024;
const RSS_EVERY: Duration = Duration::from_secs(5);
/// The borrowers of the seeded market, the whales (big wallets of every token), the
/// SOL-PERP traders.
const BORROWERS: usize = 24;
const WHALES: usize = 8;
const TRADERS: usize = 6;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The market: USDC, SOL, BTC, SOL-PERP with one LP; borrowers, whales, traders, and one
/// keeper account per keeper with $5M of USDC.
fn build(seed: u64, keepers: usize) -> (SeededMarket, Vec<User>, Vec<(Keeper, User)>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let chain = EmbeddedChain::new().unwrap_or_else(|e| panic!("{e}"));
    let mut market = SeededMarket::new_at(chain, BORROWERS, seed, now).expect("seeded market");
    // Only SOL's price moves; USDC's and BTC's genesis prices must stay usable for the run.
    market.set_max_oracle_age(3_600).expect("oracle age");
    market.add_perps(TRADERS, 1, 500_000, seed).expect("SOL-PERP");
    let mut whales = Vec::with_capacity(WHALES);
    for _ in 0..WHALES {
        let funds = [whole(&USDC, 50_000), whole(&SOL, 400), whole(&BTC, 1) / 2];
        let whale = market.sandbox.user(&funds).expect("whale");
        let sol = market.banks[1];
        market.sandbox.deposit(&whale, &sol, whole(&SOL, 200)).expect("whale collateral");
        whales.push(whale);
    }
    let keepers = (0..keepers).map(|_| market.keeper(5_000_000).expect("keeper")).collect();
    (market, whales, keepers)
}

/// One keeper binary, its config file written as docs/KEEPER.md documents.
struct KeeperProcess {
    child: Child,
    metrics_addr: String,
    /// (seconds since driving started, VmRSS KiB).
    rss: Vec<(f64, u64)>,
}

impl KeeperProcess {
    fn spawn(
        dir: &Path,
        index: usize,
        count: usize,
        user: &User,
        group: &Pubkey,
        urls: (&str, &str),
    ) -> Self {
        let keypair = dir.join(format!("keeper-{index}.json"));
        std::fs::write(&keypair, format!("{:?}", user.keypair.to_bytes().to_vec())).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let metrics_addr = format!("127.0.0.1:{port}");
        let config = format!(
            "group = \"{group}\"\nliquidator_account = \"{}\"\nkeypair = \"{}\"\n\
             rpc_url = \"{}\"\nws_url = \"{}\"\nshard = \"{index}/{count}\"\n\
             metrics_addr = \"{metrics_addr}\"\nlog_format = \"json\"\n",
            user.account,
            keypair.display(),
            urls.0,
            urls.1
        );
        let path = dir.join(format!("keeper-{index}.toml"));
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.join(format!("keeper-{index}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cross-margin-keeper"))
            .arg("run")
            .arg("--config")
            .arg(&path)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("the keeper binary starts");
        Self { child, metrics_addr, rss: Vec::new() }
    }

    fn metrics(&self) -> String {
        let Ok(mut stream) = std::net::TcpStream::connect(&self.metrics_addr) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: soak\r\n\r\n");
        let mut body = String::new();
        let _ = stream.read_to_string(&mut body);
        body
    }

    /// A series' value in /metrics, summed over its label sets when `series` has none.
    fn metric(text: &str, series: &str) -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(key, _)| *key == series || key.starts_with(&format!("{series}{{")))
            .filter_map(|(_, v)| v.parse::<f64>().ok())
            .fold(0.0, |sum, v| sum + v)
    }

    fn sample_rss(&mut self, at: f64) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        self.rss.push((at, kib.expect("the keeper is running")));
    }

    /// SIGINT (the keeper finishes its step and stops), then waits.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for KeeperProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Per account, the slot it became liquidatable (at the latest): the slot after the last
/// observation that saw it otherwise, so waits are over-, never under-estimated.
#[derive(Default)]
struct Liveness {
    since: HashMap<Pubkey, u64>,
    last_slot: u64,
    /// Completed waits, slots.
    waits: Vec<u64>,
    observations: u64,
    most_at_once: usize,
}

impl Liveness {
    fn observe(&mut self, slot: u64, evaluation: &Evaluation) -> Result<(), String> {
        self.observations += 1;
        let now: Vec<Pubkey> = evaluation.liquidatable.iter().map(|t| t.address).collect();
        self.most_at_once = self.most_at_once.max(now.len());
        let last = self.last_slot;
        let mut ended = Vec::new();
        for (account, since) in &self.since {
            if !now.contains(account) {
                ended.push((*account, slot - since));
            }
        }
        for (account, wait) in ended {
            self.since.remove(&account);
            self.waits.push(wait);
        }
        for account in now {
            let since = *self.since.entry(account).or_insert(last + 1);
            if slot.saturating_sub(since) > MAX_LIQUIDATABLE_SLOTS {
                return Err(format!(
                    "account {account} liquidatable since slot {since}, still at slot {slot}: \
                     more than N = {MAX_LIQUIDATABLE_SLOTS} slots"
                ));
            }
        }
        self.last_slot = slot;
        Ok(())
    }
}

/// Every account read and judged by the keeper's own code, at a slot no later than the read.
fn observe(
    observer: &Keeper,
    backend: &mut RpcBackend,
    rpc: &RpcClient,
) -> (u64, Discovered, Evaluation) {
    let slot = rpc.get_slot().expect("slot");
    let discovered = observer.discover(backend).expect("discovery");
    let evaluation = evaluate(&discovered.market, &discovered.accounts);
    (slot, discovered, evaluation)
}

/// The campaign's state-only invariants on the chain's state (the keepers stopped, so the
/// reads agree): every vault covers its bank's claims, share sums per bank, no account inside
/// a flash loan, the perp market's aggregates and its rounded PnL bracket.
fn check_invariants(d: &Discovered, vaults: &[u64]) -> Result<Vec<String>, String> {
    let when = "end of the soak";
    let accounts = || d.accounts.iter().map(|(key, account)| (key, account));
    let perps: Vec<_> = d.market.perps.iter().flatten().map(|p| p.market).collect();
    let mut checked = Vec::new();
    for (state, vault) in d.market.banks.iter().flatten().zip(vaults) {
        let dust = vault_covers_claims(&state.bank, *vault, when)?;
        share_sums(&state.bank, &perps, accounts().map(|(_, a)| a), when)?;
        checked.push(format!(
            "bank {}: vault covers claims (dust {dust}), shares sum",
            state.bank.bank_index
        ));
    }
    no_flash_loan_open(accounts(), when)?;
    checked.push(format!("{} accounts: none inside a flash loan", d.accounts.len()));
    for state in d.market.perps.iter().flatten() {
        let market = &state.market;
        perp_aggregates(market, accounts(), when)?;
        let price = state.price.as_ref().map_err(|e| format!("SOL-PERP unpriced: {e:?}"))?.mid;
        let slots = slots_pnl(accounts().map(|(_, a)| a), market, price).ok_or("PnL overflows")?;
        traders_pnl_brackets(market, price, slots, when)?;
        checked.push(format!(
            "perp market {}: open interest {}/{} lots, quote, LP shares and funding are the \
             slots' sums; traders_pnl brackets the exact PnL",
            market.market_index, market.long_lots, market.short_lots
        ));
    }
    Ok(checked)
}

/// Growth rule: the last quarter's largest sample at most [`RSS_GROWTH_KIB`] above the first
/// quarter's.
fn rss_growth(samples: &[(f64, u64)]) -> (u64, u64, bool) {
    let quarter = (samples.len() / 4).max(1);
    let first = samples[..quarter].iter().map(|s| s.1).max().unwrap_or(0);
    let last = samples[samples.len() - quarter..].iter().map(|s| s.1).max().unwrap_or(0);
    (first, last, last <= first + RSS_GROWTH_KIB)
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(p * sorted.len()).div_ceil(100).max(1) - 1]
}

fn loadavg() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[test]
fn soak() {
    let Some(binary) = localnet_available("soak") else { return };
    let seconds = env_u64("SOAK_SECS", 60);
    let seed = env_u64("SOAK_SEED", 21);
    let count = env_u64("SOAK_KEEPERS", 2) as usize;
    let load_at_start = loadavg();
    let setup = Instant::now();
    let (market, whales, keepers) = build(seed, count);
    let served = serve(&binary, &market, "soak");
    let (rpc_url, ws_url) = (served.validator.rpc_url.clone(), served.validator.ws_url.clone());
    let mut backend = RpcBackend::new(&rpc_url, Duration::from_secs(30));
    wait_until_the_program_runs(&mut backend, &market, &market.users[0]);
    let group = market.sandbox.group;
    let mut processes: Vec<KeeperProcess> = keepers
        .iter()
        .enumerate()
        .map(|(i, (_, user))| {
            KeeperProcess::spawn(&served.workdir, i, count, user, &group, (&rpc_url, &ws_url))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for keeper in &processes {
        while KeeperProcess::metric(&keeper.metrics(), "keeper_accounts_watched") < 1.0 {
            assert!(Instant::now() < deadline, "a keeper never took its first snapshot");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    eprintln!("soak: setup {:.0} s; driving {seconds} s", setup.elapsed().as_secs_f64());

    let observer = Keeper::new(KeeperConfig::new(group, keepers[0].1.account), Keypair::new());
    let mut driver = Driver::new(&market, &whales, &served.rpc, &rpc_url, &served.payer, seed);
    let mut liveness = Liveness::default();
    let (first_slot, mut seen, _) = observe(&observer, &mut backend, &served.rpc);
    liveness.last_slot = first_slot;
    let started = Instant::now();
    let mut next_rss = started;
    let driving = Duration::from_secs(seconds);
    let mut verdict = Ok(());
    while started.elapsed() < driving && verdict.is_ok() {
        if Instant::now() >= next_rss {
            let at = started.elapsed().as_secs_f64();
            processes.iter_mut().for_each(|k| k.sample_rss(at));
            next_rss += RSS_EVERY;
        }
        driver.step(&seen);
        let (slot, discovered, evaluation) = observe(&observer, &mut backend, &served.rpc);
        verdict = liveness.observe(slot, &evaluation);
        seen = discovered;
    }
    let driven = started.elapsed();
    // The drain: back to the starting price, then every account must leave liquidation
    // within N slots.
    driver.recover();
    while verdict.is_ok() && !liveness.since.is_empty() {
        std::thread::sleep(Duration::from_millis(400));
        let (slot, _, evaluation) = observe(&observer, &mut backend, &served.rpc);
        verdict = liveness.observe(slot, &evaluation);
    }
    let at = started.elapsed().as_secs_f64();
    processes.iter_mut().for_each(|k| k.sample_rss(at));
    let metrics: Vec<String> = processes.iter().map(KeeperProcess::metrics).collect();
    processes.iter_mut().for_each(KeeperProcess::stop);
    let (last_slot, end, evaluation) = observe(&observer, &mut backend, &served.rpc);
    let vaults: Vec<u64> = {
        let keys: Vec<Pubkey> = market.banks.iter().map(|b| b.vault).collect();
        let accounts = served.rpc.get_multiple_accounts(&keys).expect("vaults");
        accounts.iter().map(|a| token_amount(&a.as_ref().expect("a vault").data)).collect()
    };
    let invariants = check_invariants(&end, &vaults);

    // The report.
    println!("\n## Soak: seed {seed}, {count} keeper(s), {} accounts\n", end.accounts.len());
    println!(
        "driving {:.0} s, slots {first_slot}..{last_slot} ({}), {} observations; load average \
         {load_at_start} at the start, {} at the end (2 cores)\n",
        driven.as_secs_f64(),
        last_slot - first_slot,
        liveness.observations,
        loadavg()
    );
    println!("| action | landed | refused | skipped |\n|---|---|---|---|");
    let mut by_kind: BTreeMap<&str, (u64, BTreeMap<String, u64>, u64)> = BTreeMap::new();
    for ((kind, outcome), n) in &driver.tally {
        let row = by_kind.entry(kind).or_default();
        match outcome {
            Outcome::Landed => row.0 += n,
            Outcome::Refused(reason) => *row.1.entry(reason.clone()).or_default() += n,
            Outcome::Skipped => row.2 += n,
        }
    }
    let (mut sent, mut refused) = (0, 0);
    for (kind, (landed, reasons, skipped)) in &by_kind {
        let list: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        sent += landed + reasons.values().sum::<u64>();
        refused += reasons.values().sum::<u64>();
        println!("| {kind} | {landed} | {} | {skipped} |", list.join(", "));
    }
    println!("\n{sent} transactions sent by the driver, {refused} refused\n");
    println!("| keeper | liquidate | liquidate_perp | settle_pnl | write-offs | failed | RSS first / max / last (MiB) |\n|---|---|---|---|---|---|---|");
    let mut rss_ok = true;
    for (i, (keeper, text)) in processes.iter().zip(&metrics).enumerate() {
        let landed = |kind: &str| {
            KeeperProcess::metric(
                text,
                &format!("keeper_transactions_landed_total{{kind=\"{kind}\"}}"),
            )
        };
        let mib = |kib: u64| kib as f64 / 1024.0;
        let max = keeper.rss.iter().map(|s| s.1).max().unwrap_or(0);
        let (first_q, last_q, ok) = rss_growth(&keeper.rss);
        rss_ok &= ok;
        println!(
            "| {i} | {} | {} | {} | {} | {} | {:.1} / {:.1} / {:.1} (first quarter's max {:.1}, last quarter's {:.1}) |",
            landed("liquidate"),
            landed("liquidate_perp"),
            landed("settle_pnl"),
            landed("resolve_bankruptcy") + landed("resolve_perp_bankruptcy"),
            KeeperProcess::metric(text, "keeper_transactions_failed_total"),
            mib(keeper.rss.first().map_or(0, |s| s.1)),
            mib(max),
            mib(keeper.rss.last().map_or(0, |s| s.1)),
            mib(first_q),
            mib(last_q)
        );
        let failed: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("keeper_transactions_failed_total{") && !l.ends_with(" 0"))
            .collect();
        if !failed.is_empty() {
            println!("  refused: {}", failed.join("; "));
        }
        let samples: Vec<String> =
            keeper.rss.iter().map(|(t, kib)| format!("{t:.0}s:{:.1}", mib(*kib))).collect();
        println!("  RSS samples (MiB): {}", samples.join(" "));
    }
    let mut waits = liveness.waits.clone();
    waits.sort_unstable();
    println!(
        "\nliquidatable episodes {}: wait median {} p95 {} max {} slots (N = {MAX_LIQUIDATABLE_SLOTS}); \
         at most {} liquidatable at once; at the end {} liquidatable, {} bankrupt, {} unpriced",
        waits.len(),
        percentile(&waits, 50),
        percentile(&waits, 95),
        waits.last().copied().unwrap_or(0),
        liveness.most_at_once,
        evaluation.liquidatable.len(),
        evaluation.bankrupt.len(),
        evaluation.unpriced.len()
    );
    match &invariants {
        Ok(list) => println!("\ninvariants at the end:\n- {}", list.join("\n- ")),
        Err(e) => println!("\ninvariant broken: {e}"),
    }
    drop(processes);
    let workdir = served.workdir.clone();
    drop(served);
    verdict.unwrap_or_else(|e| panic!("liveness: {e}"));
    invariants.unwrap_or_else(|e| panic!("{e}"));
    assert!(rss_ok, "a keeper's memory grew by more than {} MiB", RSS_GROWTH_KIB / 1024);
    let _ = std::fs::remove_dir_all(workdir);
}
