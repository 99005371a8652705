//! RPC failures the keeper must survive, against local TCP listeners (no validator): a dead
//! endpoint (connections refused, or accepted and dropped), a send that never gets an answer,
//! and a websocket that keeps dropping. Each runs in about a second.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cross_margin_client::{Keypair, Pubkey, Signer};
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::backend::{Backend, BackendError, Backoff, RetryPolicy};
use cross_margin_keeper::watch::{self, DetectionStats, Subscriptions, Update, WatchConfig};
use cross_margin_keeper::{Keeper, KeeperConfig};
use solana_message::{Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

/// A port nothing listens on (bound, then closed).
fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that accepts every connection and closes it at once (or, with `hold`, keeps it
/// open and never answers). Returns its port and how many connections it accepted.
fn listener(hold: bool) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::Relaxed);
            if hold {
                // Read the request so the client is waiting on the answer, then say nothing.
                let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                let mut buffer = [0u8; 4096];
                let _ = (&stream).read(&mut buffer);
                held.lock().unwrap().push(stream);
            }
        }
    });
    (port, accepted)
}

fn quick_keeper() -> Keeper {
    let mut config = KeeperConfig::new(Pubkey::new_unique(), Pubkey::new_unique());
    config.retry = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
    };
    Keeper::new(config, Keypair::new())
}

fn a_transaction(payer: &Keypair) -> VersionedTransaction {
    let message = Message::new(&[], Some(&payer.pubkey()));
    VersionedTransaction::try_new(VersionedMessage::Legacy(message), &[payer]).unwrap()
}

#[test]
fn a_dead_endpoint_is_a_named_error_and_the_keeper_keeps_retrying() {
    // Connection refused: a transport error, not a panic.
    let mut refused =
        RpcBackend::new(format!("http://127.0.0.1:{}", refused_port()), Duration::from_secs(2));
    let error = refused.latest_blockhash().unwrap_err();
    assert!(matches!(error, BackendError::Transport(_)), "{error:?}");

    // Accepted and dropped: the polling keeper runs its rounds, each retried with backoff, and
    // stops cleanly when asked.
    let (port, accepted) = listener(false);
    let url = format!("http://127.0.0.1:{port}");
    let mut backend = RpcBackend::new(&url, Duration::from_secs(2));
    let error = backend.program_accounts(&cross_margin::ID, &[]).unwrap_err();
    assert!(matches!(error, BackendError::Transport(_)), "{error:?}");
    let keeper = quick_keeper();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let running = scope.spawn(|| keeper.run(&mut backend, Duration::from_millis(100), &stop));
        std::thread::sleep(Duration::from_millis(800));
        stop.store(true, Ordering::Relaxed);
        running.join().expect("no panic").expect("run returns Ok after stop");
    });
    // Several rounds, each with its retries: many connection attempts, all survived.
    let attempts = accepted.load(Ordering::Relaxed);
    assert!(attempts >= 6, "only {attempts} attempts in {:?}", started.elapsed());

    // The websocket keeper against the same dead node: its first snapshot is retried with
    // backoff until stopped.
    let keeper = quick_keeper();
    let mut backend = RpcBackend::new(&url, Duration::from_secs(2));
    let mut config = WatchConfig::new(format!("ws://127.0.0.1:{}", refused_port()));
    config.backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(100),
        jitter_bps: 0,
    };
    let stop = AtomicBool::new(false);
    let before = accepted.load(Ordering::Relaxed);
    std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            let stats = Arc::new(DetectionStats::default());
            watch::run(&keeper, &mut backend, &config, &stop, stats, &mut |_| {})
        });
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::Relaxed);
        running.join().expect("no panic").expect("run returns Ok after stop");
    });
    assert!(accepted.load(Ordering::Relaxed) > before + 3, "the snapshot was retried");
}

#[test]
fn a_send_that_never_gets_an_answer_times_out() {
    let (port, accepted) = listener(true);
    let mut backend =
        RpcBackend::new(format!("http://127.0.0.1:{port}"), Duration::from_millis(300));
    let payer = Keypair::new();
    let started = Instant::now();
    let error = backend.send_and_confirm(&a_transaction(&payer)).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(error, BackendError::Timeout(_)), "{error:?}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(accepted.load(Ordering::Relaxed), 1);

    // The keeper's retry policy gives up after its attempts with the same named error.
    let retry = RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
    };
    let error = retry.run("send", || backend.send_and_confirm(&a_transaction(&payer))).unwrap_err();
    assert!(matches!(error, BackendError::Timeout(_)), "{error:?}");
}

#[test]
fn a_dropping_websocket_is_reconnected_with_backoff() {
    // Accepts the TCP connection and drops it before the websocket handshake completes.
    let (port, accepted) = listener(false);
    let mut config = WatchConfig::new(format!("ws://127.0.0.1:{port}"));
    config.backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(80),
        jitter_bps: 5_000,
    };
    let stats = Arc::new(DetectionStats::default());
    let (sender, updates) = std::sync::mpsc::channel();
    let subscriptions =
        Subscriptions::spawn(&config, vec![Pubkey::new_unique()], vec![], sender, stats.clone())
            .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(subscriptions); // stops the thread, promptly
    let read = stats.read();
    // 700 ms of 20, 40, 80, 80, ... ms waits (minus jitter): at least 6 attempts, not hundreds.
    assert!((6..200).contains(&read.reconnects), "{read:?}");
    assert!(!read.connected);
    assert!(accepted.load(Ordering::Relaxed) as u64 >= read.reconnects);
    let disconnects = updates.try_iter().filter(|u| matches!(u, Update::Disconnected(_))).count();
    assert_eq!(disconnects as u64, read.reconnects, "each drop is reported to the keeper");
}
