//! A real local validator for tests: finds the `solana-test-validator` that
//! `scripts/install-localnet.sh` installs, starts it on loopback with the program and a directory
//! of genesis accounts, and stops it when dropped. Also writes a market built on the embedded
//! chain as genesis accounts, so the same state can be served over JSON-RPC by a real validator.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use cross_margin_client::{EmbeddedChain, Pubkey};

/// Where `scripts/install-localnet.sh` puts its binaries: `$CROSS_MARGIN_TOOLS/bin`, by default
/// `~/.cache/cross-margin/tools/bin`.
pub fn tools_bin() -> PathBuf {
    let root = std::env::var_os("CROSS_MARGIN_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/cross-margin/tools")
    });
    root.join("bin")
}

/// The `solana-test-validator` to use: `$CROSS_MARGIN_VALIDATOR`, the project's installed one, or
/// one on PATH. `None` when there is none on this machine.
pub fn find_validator() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CROSS_MARGIN_VALIDATOR") {
        return Some(PathBuf::from(path));
    }
    let installed = tools_bin().join("solana-test-validator");
    if installed.is_file() {
        return Some(installed);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("solana-test-validator"))
            .find(|candidate| candidate.is_file())
    })
}

/// A `solana-test-validator` this process started; killed on drop.
pub struct Validator {
    child: Child,
    pub rpc_url: String,
    /// The websocket (pubsub) endpoint: the RPC port + 1.
    pub ws_url: String,
    pub ledger: PathBuf,
}

impl Validator {
    /// Starts a validator with a fresh ledger under `workdir`, the program at genesis and every
    /// account file in `accounts_dir`, and waits until its RPC answers.
    pub fn start(
        binary: &Path,
        program_id: &Pubkey,
        program_so: &Path,
        accounts_dir: Option<&Path>,
        workdir: &Path,
    ) -> std::io::Result<Self> {
        Self::start_with_programs(binary, &[(*program_id, program_so)], accounts_dir, workdir)
    }

    /// [`Validator::start`] with several programs at genesis (e.g. a test oracle writer at the
    /// Pyth receiver's address).
    pub fn start_with_programs(
        binary: &Path,
        programs: &[(Pubkey, &Path)],
        accounts_dir: Option<&Path>,
        workdir: &Path,
    ) -> std::io::Result<Self> {
        let rpc_port = free_port_block(40)?;
        let ledger = workdir.join("ledger");
        let mut command = Command::new(binary);
        command
            .arg("--ledger")
            .arg(&ledger)
            .arg("--reset")
            .arg("--quiet")
            .args(["--bind-address", "127.0.0.1"])
            .args(["--rpc-port", &rpc_port.to_string()])
            .args(["--faucet-port", &(rpc_port + 2).to_string()])
            .args(["--gossip-port", &(rpc_port + 3).to_string()])
            .args(["--dynamic-port-range", &format!("{}-{}", rpc_port + 4, rpc_port + 40)]);
        // Loader v3 (upgradeable): the validator no longer runs genesis programs of the
        // deprecated loader v2 (`--bpf-program` gives UnsupportedProgramId). Nobody holds the
        // upgrade authority (the system program's id).
        for (program_id, program_so) in programs {
            command
                .arg("--upgradeable-program")
                .arg(program_id.to_string())
                .arg(program_so)
                .arg("11111111111111111111111111111111");
        }
        if let Some(dir) = accounts_dir {
            command.arg("--account-dir").arg(dir);
        }
        let log = std::fs::File::create(workdir.join("validator.out"))?;
        command.stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log)).stdin(Stdio::null());
        let child = command.spawn()?;
        let mut validator = Validator {
            child,
            rpc_url: format!("http://127.0.0.1:{rpc_port}"),
            ws_url: format!("ws://127.0.0.1:{}", rpc_port + 1),
            ledger,
        };
        validator.wait_healthy(Duration::from_secs(90))?;
        Ok(validator)
    }

    fn wait_healthy(&mut self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        let port: u16 = self.rpc_url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "solana-test-validator exited ({status}); see {}",
                    self.ledger.join("validator.log").display()
                )));
            }
            if health_ok(port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other("solana-test-validator not healthy in time"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `getHealth` over a raw HTTP/1.1 request (no client library needed for one probe).
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"getHealth"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains(r#""result":"ok""#)
}

/// A port `p` such that `p..p + span` were all free a moment ago.
fn free_port_block(span: u16) -> std::io::Result<u16> {
    for _ in 0..50 {
        let probe = TcpListener::bind("127.0.0.1:0")?;
        let base = probe.local_addr()?.port();
        drop(probe);
        if !(20_000..=60_000).contains(&base) {
            continue;
        }
        let all_free = (base..base + span).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok(base);
        }
    }
    Err(std::io::Error::other("no free block of ports"))
}

/// One account as `solana-test-validator --account-dir` reads it (the `solana account --output
/// json` format).
pub fn account_json(address: &Pubkey, owner: &Pubkey, lamports: u64, data: &[u8]) -> String {
    let space = data.len();
    let data = base64::engine::general_purpose::STANDARD.encode(data);
    format!(
        r#"{{"pubkey":"{address}","account":{{"lamports":{lamports},"data":["{data}","base64"],"owner":"{owner}","executable":false,"rentEpoch":0,"space":{space}}}}}"#
    )
}

/// Writes every account of `chain` owned by one of `owners` (not executable) as a genesis
/// account file into `dir`; returns how many.
pub fn write_genesis_accounts(
    chain: &EmbeddedChain,
    dir: &Path,
    owners: &[Pubkey],
) -> std::io::Result<usize> {
    use solana_account::ReadableAccount;
    std::fs::create_dir_all(dir)?;
    let mut written = 0;
    let mut accounts: Vec<_> = chain.svm.accounts_db().inner.iter().collect();
    accounts.sort_by_key(|(key, _)| **key);
    for (address, account) in accounts {
        if account.executable() || !owners.contains(account.owner()) {
            continue;
        }
        let json = account_json(address, account.owner(), account.lamports(), account.data());
        std::fs::write(dir.join(format!("{address}.json")), json)?;
        written += 1;
    }
    Ok(written)
}
