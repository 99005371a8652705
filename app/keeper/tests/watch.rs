//! Websocket detection on a real local validator: a price update that makes an account
//! liquidatable is acted on from the notification (the full snapshot that would repair a miss is
//! an hour away), and after the websocket is cut (a proxy between keeper and validator closes
//! every connection) the keeper reconnects, repairs its snapshot, and detects the next one.

mod localnet;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cross_margin_keeper::backend::Backoff;
use cross_margin_keeper::watch::{self, DetectionStats, WatchConfig};
use localnet::{crash_price_e4, localnet_available, Ladder, StopOnDrop};

/// A TCP proxy to `upstream` whose connections can all be cut at once.
struct Proxy {
    port: u16,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let registry = live.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let mut list = registry.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Self { port, live }
    }

    /// Closes every connection (the listener stays: reconnecting works).
    fn cut(&self) -> usize {
        let mut live = self.live.lock().unwrap();
        for stream in live.iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let cut = live.len() / 2;
        live.clear();
        cut
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_websocket_keeper_detects_reconnects_after_a_drop_and_detects_again() {
    let Some(binary) = localnet_available("websocket detection") else { return };
    let ladder = Ladder::start(&binary, 2, 0, "watch");
    let ws_port: u16 = ladder.validator.ws_url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(ws_port);
    let mut config = WatchConfig::new(format!("ws://127.0.0.1:{}", proxy.port));
    // Only the websocket can bring the news: no repair snapshot, no periodic re-read.
    config.snapshot_interval = Duration::from_secs(3_600);
    config.backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(1),
        jitter_bps: 2_000,
    };
    let stats = Arc::new(DetectionStats::default());
    let stop = AtomicBool::new(false);
    let (reports, liquidated) = channel();
    let started = Instant::now();

    std::thread::scope(|scope| {
        let keeper = &ladder.keeper;
        let (config, stats_for_keeper, stop) = (&config, stats.clone(), &stop);
        let mut backend = ladder.backend();
        let _guard = StopOnDrop(stop);
        let running = scope.spawn(move || {
            watch::run(keeper, &mut backend, config, stop, stats_for_keeper, &mut |report| {
                for done in &report.liquidations {
                    let _ = reports.send((done.event.liquidatee, done.signature.clone()));
                }
            })
        });
        wait_for("the subscriptions", Duration::from_secs(30), || stats.read().connected);

        // 1. A price update the websocket delivers: victim 0 is liquidated.
        let price_slot = ladder.set_sol_price(crash_price_e4(0));
        let (victim, signature) =
            liquidated.recv_timeout(Duration::from_secs(20)).expect("victim 0 liquidated");
        assert_eq!(victim, ladder.victims[0].user.account, "the victim, and only it");
        let landed = ladder.slot_of(&signature.parse().unwrap());
        assert!(landed >= price_slot);
        eprintln!("detected and liquidated {} slots after the price update", landed - price_slot);
        ladder.top_up(0);

        // 2. Cut the websocket: the keeper reconnects (with backoff) and takes a snapshot.
        let before = stats.read();
        assert!(before.updates_received > 0 && before.reconnects == 0, "{before:?}");
        assert!(proxy.cut() >= 1, "the keeper was connected through the proxy");
        wait_for("the reconnection", Duration::from_secs(30), || {
            let now = stats.read();
            now.reconnects >= 1 && now.connected && now.snapshots > before.snapshots
        });

        // 3. The next price update still arrives: victim 1 is liquidated.
        ladder.set_sol_price(crash_price_e4(1));
        let (victim, _) =
            liquidated.recv_timeout(Duration::from_secs(20)).expect("victim 1 liquidated");
        assert_eq!(victim, ladder.victims[1].user.account, "the next victim, and only it");

        stop.store(true, Ordering::Relaxed);
        running.join().expect("no panic").expect("the keeper stops cleanly");
    });
    let read = stats.read();
    eprintln!("websocket test in {:.1} s: {read:?}", started.elapsed().as_secs_f64());
    assert!(read.evaluations >= 2 && read.reconnects >= 1);
    ladder.finish();
}
