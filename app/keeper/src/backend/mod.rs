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
    Rpc {
        code: i64,
        message: String,
    },
    Timeout(String),
    /// The node answered with something that does not parse (a bad account encoding, a
    /// truncated sysvar, a body that is not JSON-RPC).
    Malformed(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::Rpc { code, message } => write!(f, "RPC error {code}: {message}"),
            Self::Timeout(e) => write!(f, "timed out: {e}"),
            Self::Malformed(e) => write!(f, "malformed answer: {e}"),
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
    /// The prioritization fees (micro-lamports per CU) of recent slots' transactions that
    /// wrote any of `writable` (`getRecentPrioritizationFees`). A chain without a fee market
    /// (the embedded one) has none.
    fn recent_prioritization_fees(
        &mut self,
        writable: &[Pubkey],
    ) -> Result<Vec<u64>, BackendError> {
        let _ = writable;
        Ok(Vec::new())
    }
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

/// Exponential backoff for reconnecting: `first` doubling per failed attempt up to `max`, each
/// delay jittered down by up to `jitter_bps` of it (so that many keepers, or many
/// subscriptions, do not reconnect in lockstep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub jitter_bps: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_millis(250), max: Duration::from_secs(30), jitter_bps: 2_000 }
    }
}

impl Backoff {
    /// The delay before reconnection attempt `attempt` (0 = the first after a drop), with
    /// `random` (any u64) choosing the jitter.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let doubled = self.first.saturating_mul(1u32 << attempt.min(20));
        let capped = doubled.min(self.max);
        let jitter_bps = u64::from(self.jitter_bps.min(10_000));
        let cut = capped.as_micros() as u64 * jitter_bps / 10_000;
        let cut = if cut == 0 { 0 } else { random % (cut + 1) };
        capped - Duration::from_micros(cut)
    }
}

/// A cheap, non-cryptographic random u64 for jitter (the clock's nanoseconds, mixed).
pub fn jitter_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitters_down_only() {
        let backoff = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(2),
            jitter_bps: 2_000,
        };
        // No jitter drawn (random = 0): 100, 200, 400, 800, 1600, then the cap.
        let plain: Vec<u128> = (0..7).map(|a| backoff.delay(a, 0).as_millis()).collect();
        assert_eq!(plain, [100, 200, 400, 800, 1_600, 2_000, 2_000]);
        assert_eq!(backoff.delay(1_000, 0), Duration::from_secs(2), "no overflow");
        // The most jitter takes 20% off, never more, never adds.
        for random in [1, 7, 12_345, u64::MAX] {
            for attempt in 0..8 {
                let capped = backoff.delay(attempt, 0);
                let jittered = backoff.delay(attempt, random);
                assert!(jittered <= capped && jittered >= capped * 8 / 10, "{jittered:?}");
            }
        }
        assert_eq!(backoff.delay(3, 80_000), Duration::from_millis(720));
    }
}
