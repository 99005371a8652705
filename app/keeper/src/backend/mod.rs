//! The chain the keeper talks to, behind one trait: a JSON-RPC cluster ([`rpc`]) or the
//! in-process LiteSVM chain running the real `.so` ([`embedded`]).

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "rpc")]
pub mod rpc;

use std::time::Duration;

use cross_margin::error::MarginError;
use cross_margin_client::Pubkey;
use solana_message::Hash;
use solana_transaction::versioned::VersionedTransaction;

/// An account as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountData {
    pub owner: Pubkey,
    pub lamports: u64,
    pub data: Vec<u8>,
}

/// A `getProgramAccounts` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    DataSize(u64),
    Memcmp { offset: usize, bytes: Vec<u8> },
}

impl Filter {
    pub fn matches(&self, data: &[u8]) -> bool {
        match self {
            Filter::DataSize(size) => data.len() as u64 == *size,
            Filter::Memcmp { offset, bytes } => {
                data.get(*offset..offset + bytes.len()) == Some(bytes.as_slice())
            }
        }
    }
}

/// The chain refused a transaction (in simulation or on execution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The instruction's custom error code, if it failed with one.
    pub code: Option<u32>,
    pub message: String,
    pub logs: Vec<String>,
}

impl Rejection {
    /// Whether the program refused with this named error.
    pub fn is(&self, error: MarginError) -> bool {
        self.code == Some(error.into())
    }

    /// The error name as Anchor logged it (`Error Code: <Name>`), else the message.
    pub fn describe(&self) -> String {
        self.logs
            .iter()
            .find_map(|line| line.split("Error Code: ").nth(1)?.split('.').next())
            .map(str::to_owned)
            .unwrap_or_else(|| self.message.clone())
    }
}

/// A simulation's result.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub compute_units: u64,
    pub rejection: Option<Rejection>,
    pub logs: Vec<String>,
}

/// A transaction that landed.
#[derive(Debug, Clone)]
pub struct Landed {
    pub signature: String,
    pub compute_units: u64,
    pub logs: Vec<String>,
}

/// A failure to talk to the chain (as opposed to the chain refusing a transaction). Retried
/// with backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    Transport(String),
    Rpc { code: i64, message: String },
    Timeout(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::Rpc { code, message } => write!(f, "RPC error {code}: {message}"),
            Self::Timeout(e) => write!(f, "timed out: {e}"),
        }
    }
}

impl std::error::Error for BackendError {}

pub trait Backend {
    /// A short name for logs ("embedded", the RPC URL).
    fn name(&self) -> String;
    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError>;
    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError>;
    /// The chain's unix time (its Clock sysvar), which oracle staleness is measured against.
    fn unix_timestamp(&mut self) -> Result<i64, BackendError>;
    fn latest_blockhash(&mut self) -> Result<Hash, BackendError>;
    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError>;
    /// Sends and waits for confirmation.
    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError>;
}

/// Bounded retries with exponential backoff for transport-level failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds or the attempts are used up; sleeps between attempts,
    /// doubling the delay each time.
    pub fn run<T>(
        &self,
        what: &str,
        mut call: impl FnMut() -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match call() {
                Ok(value) => return Ok(value),
                Err(error) if attempt < self.attempts => {
                    tracing::warn!(%error, attempt, what, "chain call failed; retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(self.max_delay);
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}
