//! Measurements on a real local validator (ignored: minutes each; docs/KEEPER.md has the
//! results):
//!
//! ```text
//! cargo test -p cross-margin-keeper --test latency -- --ignored --nocapture
//! ```
//!
//! - `detection_to_landing_latency`: the slot a price update lands in (it makes exactly one
//!   account liquidatable) to the slot the keeper's liquidation of that account lands in, over
//!   LATENCY_EVENTS events (default 50) with websocket detection, then as many with polling at
//!   the default 2 s interval; prints the median, p95 and max of each.
//! - `rss_and_cpu_watching_many_accounts`: the keeper binary (release build not required: the
//!   one cargo builds for the tests) watching WATCH_ACCOUNTS margin accounts (default 10,000)
//!   over the websocket; prints its resident memory and CPU use while idle and through price
//!   moves.

mod localnet;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cross_margin_client::Pubkey;
use cross_margin_keeper::watch::{self, DetectionStats, WatchConfig};
use cross_margin_keeper::RoundReport;
use localnet::{crash_price_e4, localnet_available, Ladder, StopOnDrop};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Nearest-rank percentile of slot lags.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// For each victim in `range`: crash the price just under its threshold, wait for the keeper's
/// transaction on it, record the slot lag, top it up.
fn events(
    ladder: &Ladder,
    reports: &Receiver<(Pubkey, String)>,
    range: std::ops::Range<usize>,
    label: &str,
) -> Vec<u64> {
    let mut lags = Vec::with_capacity(range.len());
    for k in range {
        // A pause of 0.4 to 2.4 s (spread evenly, pseudo-random) before each event, so that
        // one event's work does not delay the next and the updates fall at every phase of a
        // polling keeper's 2 s interval.
        let spread = (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 53; // 0..2047
        std::thread::sleep(Duration::from_millis(400 + spread * 2_000 / 2_048));
        let price_slot = ladder.set_sol_price(crash_price_e4(k));
        let account = ladder.victims[k].user.account;
        let landed = ladder
            .liquidation_slot(reports, &account, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{label}: victim {k} was not liquidated within 30 s"));
        lags.push(landed - price_slot);
        // Let the keeper finish its steps on it, then make it healthy for good.
        std::thread::sleep(Duration::from_millis(500));
        ladder.top_up(k);
    }
    lags
}

fn forward(reports: &Sender<(Pubkey, String)>, report: &RoundReport) {
    for done in &report.liquidations {
        let _ = reports.send((done.event.liquidatee, done.signature.clone()));
    }
}

fn summary(label: &str, lags: &[u64]) -> String {
    let mut sorted = lags.to_vec();
    sorted.sort_unstable();
    let mean = sorted.iter().sum::<u64>() as f64 / sorted.len() as f64;
    format!(
        "| {label} | {} | {} | {} | {} | {mean:.2} |",
        sorted.len(),
        percentile(&sorted, 50),
        percentile(&sorted, 95),
        sorted[sorted.len() - 1]
    )
}

#[test]
#[ignore = "minutes on a local validator; prints the latency table of docs/KEEPER.md"]
fn detection_to_landing_latency() {
    let Some(binary) = localnet_available("latency") else { return };
    let n = env_usize("LATENCY_EVENTS", 50);
    let ladder = Ladder::start(&binary, 2 * n, 0, "latency");
    let started = Instant::now();

    // Websocket detection (the binary's defaults: snapshot every 60 s, evaluation every 2 s).
    let stats = Arc::new(DetectionStats::default());
    let stop = AtomicBool::new(false);
    let config = WatchConfig::new(ladder.validator.ws_url.clone());
    let (sender, reports) = channel();
    let websocket = std::thread::scope(|scope| {
        let mut backend = ladder.backend();
        let (keeper, config, stop, keeper_stats) = (&ladder.keeper, &config, &stop, stats.clone());
        let _guard = StopOnDrop(stop);
        let running = scope.spawn(move || {
            watch::run(keeper, &mut backend, config, stop, keeper_stats, &mut |report| {
                forward(&sender, report)
            })
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stats.read().connected {
            assert!(Instant::now() < deadline, "never connected");
            std::thread::sleep(Duration::from_millis(50));
        }
        let lags = events(&ladder, &reports, 0..n, "websocket");
        stop.store(true, Ordering::Relaxed);
        running.join().expect("no panic").expect("stops");
        lags
    });
    eprintln!("websocket: {:?} in {:.0} s", stats.read(), started.elapsed().as_secs_f64());

    // Polling every 2 s (the binary's default interval): `Keeper::run`'s loop (a round, then
    // the interval), with the round's report forwarded.
    let stop = AtomicBool::new(false);
    let (sender, reports) = channel();
    let polling = std::thread::scope(|scope| {
        let mut backend = ladder.backend();
        let (keeper, stop) = (&ladder.keeper, &stop);
        let _guard = StopOnDrop(stop);
        let running = scope.spawn(move || -> anyhow::Result<()> {
            while !stop.load(Ordering::Relaxed) {
                match keeper.run_round(&mut backend, stop) {
                    Ok(report) => forward(&sender, &report),
                    Err(error) => eprintln!("round failed: {error}"),
                }
                std::thread::sleep(Duration::from_secs(2));
            }
            Ok(())
        });
        let lags = events(&ladder, &reports, n..2 * n, "polling");
        stop.store(true, Ordering::Relaxed);
        running.join().expect("no panic").expect("stops");
        lags
    });

    println!("\nDetection to landing, slots (price update's slot to the liquidation's slot):\n");
    println!("| detection | events | median | p95 | max | mean |");
    println!("|---|---|---|---|---|---|");
    println!("{}", summary("websocket", &websocket));
    println!("{}", summary("polling, 2 s", &polling));
    println!("\nwebsocket lags: {websocket:?}\npolling lags: {polling:?}");
    println!("({:.0} s in all)", started.elapsed().as_secs_f64());
    let median = |lags: &[u64]| {
        let mut sorted = lags.to_vec();
        sorted.sort_unstable();
        percentile(&sorted, 50)
    };
    assert!(median(&websocket) <= median(&polling), "websocket detection is not slower");
    ladder.finish();
}

/// Resident memory (kB) and CPU time (clock ticks, user + system) of a process.
fn rss_and_cpu(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (rss, ticks(11) + ticks(12))
}

#[test]
#[ignore = "seeds thousands of accounts and runs minutes; prints the RSS/CPU figures of docs/KEEPER.md"]
fn rss_and_cpu_watching_many_accounts() {
    let Some(binary) = localnet_available("rss") else { return };
    let accounts = env_usize("WATCH_ACCOUNTS", 10_000);
    let moves = 10;
    let seeding = Instant::now();
    let ladder = Ladder::start(&binary, moves, accounts - moves, "rss");
    eprintln!("seeded and started in {:.0} s", seeding.elapsed().as_secs_f64());
    let keypair = ladder.workdir.join("keeper.json");
    let bytes = ladder.keeper_keypair_bytes();
    std::fs::write(&keypair, format!("{bytes:?}")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cross-margin-keeper"))
        .args(["run", "--rpc-url", &ladder.validator.rpc_url, "--ws-url", &ladder.validator.ws_url])
        .arg("--keypair")
        .arg(&keypair)
        .args(["--group", &ladder.market.sandbox.group.to_string()])
        .args(["--liquidator-account", &ladder.keeper.config.liquidator_account.to_string()])
        .args(["--log-format", "json"])
        // Its logs go to stdout.
        .stdout(std::fs::File::create(ladder.workdir.join("keeper.log")).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the keeper binary starts");
    let pid = child.id();
    let ticks_per_sec = 100.0; // USER_HZ on Linux
                               // Startup: the first snapshot of every account and the subscriptions.
    std::thread::sleep(Duration::from_secs(20));
    let (rss_started, cpu_started) = rss_and_cpu(pid);
    // Idle: 60 s of notifications (the clock every slot) and re-evaluations every 2 s.
    let idle = Duration::from_secs(60);
    std::thread::sleep(idle);
    let (rss_idle, cpu_idle) = rss_and_cpu(pid);
    // Busy: price moves, each re-evaluating every account and liquidating one.
    let busy_started = Instant::now();
    let lags = events_for_rss(&ladder, moves);
    let busy = busy_started.elapsed();
    let (rss_busy, cpu_busy) = rss_and_cpu(pid);
    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    // The keeper's own log: the most accounts one evaluation covered (a price move evaluates
    // every account of the snapshot: the bystanders, the victims, the keeper's own and the
    // seeded market's lender).
    let log = std::fs::read_to_string(ladder.workdir.join("keeper.log")).unwrap_or_default();
    let evaluated = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|line| line["fields"]["accounts"].as_u64())
        .max()
        .unwrap_or(0);
    assert_eq!(evaluated as usize, accounts + 2, "every account is in the keeper's snapshot");
    let cpu =
        |ticks: u64, over: Duration| ticks as f64 / ticks_per_sec / over.as_secs_f64() * 100.0;
    println!("\nThe keeper binary watching {accounts} margin accounts over the websocket:\n");
    println!("| phase | RSS | CPU (one core = 100%) |");
    println!("|---|---|---|");
    println!(
        "| after the first snapshot (20 s) | {} MiB | {:.1}% |",
        rss_started / 1024,
        cpu(cpu_started, Duration::from_secs(20))
    );
    println!(
        "| idle, 60 s | {} MiB | {:.1}% |",
        rss_idle / 1024,
        cpu(cpu_idle - cpu_started, idle)
    );
    println!(
        "| {moves} price moves, {:.0} s | {} MiB | {:.1}% |",
        busy.as_secs_f64(),
        rss_busy / 1024,
        cpu(cpu_busy - cpu_idle, busy)
    );
    println!("\npeak RSS {peak}; one evaluation covered {evaluated} accounts");
    println!(
        "slots from each price update to seeing the victim changed (an upper bound): {lags:?}"
    );
    ladder.finish();
}

/// Price moves for the RSS measurement: the keeper is another process, so its liquidation is
/// seen as the victim's account changing on chain.
fn events_for_rss(ladder: &Ladder, moves: usize) -> Vec<u64> {
    let mut lags = Vec::with_capacity(moves);
    for k in 0..moves {
        std::thread::sleep(Duration::from_millis(400));
        let account = ladder.victims[k].user.account;
        let before = ladder.rpc.get_account(&account).expect("victim").data;
        let price_slot = ladder.set_sol_price(crash_price_e4(k));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = ladder.rpc.get_account_with_commitment(&account, ladder.rpc.commitment());
            let seen = seen.expect("victim");
            if seen.value.map(|a| a.data) != Some(before.clone()) {
                lags.push(seen.context.slot - price_slot);
                break;
            }
            assert!(Instant::now() < deadline, "victim {k} was not liquidated within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        ladder.top_up(k);
    }
    lags
}
