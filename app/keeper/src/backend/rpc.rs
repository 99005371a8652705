//! The JSON-RPC backend: any Solana cluster (a local validator, devnet, mainnet), through the
//! Solana client crate (`solana-rpc-client`'s blocking `RpcClient`). Transport failures are
//! [`BackendError`]s, which the keeper retries with backoff; a malformed answer is a named
//! error, never a panic.

use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine;
use cross_margin_client::Pubkey;
use serde_json::Value;
use solana_account_decoder_client_types::{UiAccount, UiAccountData, UiAccountEncoding};
use solana_commitment_config::CommitmentConfig;
use solana_message::Hash;
use solana_rpc_client::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind};
use solana_rpc_client_api::config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSendTransactionConfig,
    RpcSimulateTransactionConfig, RpcTransactionConfig,
};
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};
use solana_rpc_client_api::request::RpcError;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction_status_client_types::option_serializer::OptionSerializer;
use solana_transaction_status_client_types::UiTransactionEncoding;

use super::{AccountData, Backend, BackendError, Filter, Landed, Rejection, Simulation};

/// The Clock sysvar; `unix_timestamp` is its fifth field (offset 32).
pub const CLOCK_SYSVAR: Pubkey =
    Pubkey::from_str_const("SysvarC1ock11111111111111111111111111111111");
/// `getMultipleAccounts` takes at most 100 keys.
const MAX_KEYS_PER_CALL: usize = 100;
/// `getRecentPrioritizationFees` takes at most 128 accounts.
const MAX_FEE_ACCOUNTS: usize = 128;

pub struct RpcBackend {
    client: RpcClient,
    commitment: CommitmentConfig,
    /// How long to wait for a sent transaction to be confirmed.
    pub confirm_timeout: Duration,
    /// Between two `getSignatureStatuses` while confirming.
    pub confirm_poll: Duration,
}

impl RpcBackend {
    /// `timeout` bounds every request (a server that accepts and never answers times out).
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        let commitment = CommitmentConfig::confirmed();
        Self {
            client: RpcClient::new_with_timeout_and_commitment(url.into(), timeout, commitment),
            commitment,
            confirm_timeout: Duration::from_secs(60),
            confirm_poll: Duration::from_millis(200),
        }
    }

    /// The underlying client, for what the [`Backend`] trait does not cover.
    pub fn client(&self) -> &RpcClient {
        &self.client
    }

    /// Waits until `signature` is confirmed; `Ok(Err)` if it executed and failed.
    fn confirm(
        &self,
        signature: &solana_signature::Signature,
    ) -> Result<Result<(), Rejection>, BackendError> {
        let deadline = Instant::now() + self.confirm_timeout;
        loop {
            let status = self
                .client
                .get_signature_status_with_commitment(signature, self.commitment)
                .map_err(|e| backend_error("getSignatureStatuses", e))?;
            match status {
                Some(Ok(())) => return Ok(Ok(())),
                Some(Err(error)) => {
                    let value = serde_json::to_value(&error).unwrap_or(Value::Null);
                    return Ok(Err(rejection_from(&value, error.to_string(), Vec::new())));
                }
                None if Instant::now() > deadline => {
                    return Err(BackendError::Timeout(format!("{signature} not confirmed")))
                }
                None => std::thread::sleep(self.confirm_poll),
            }
        }
    }

    /// A confirmed transaction's logs and compute units (`getTransaction`).
    fn transaction_logs(
        &self,
        signature: &solana_signature::Signature,
    ) -> Result<(Vec<String>, u64), BackendError> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Json),
            commitment: Some(self.commitment),
            max_supported_transaction_version: Some(0),
        };
        // Right after confirmation the node may not serve it yet: a few short retries.
        let mut last = None;
        for _ in 0..10 {
            match self.client.get_transaction_with_config(signature, config) {
                Ok(tx) => {
                    let meta = tx.transaction.meta.ok_or_else(|| {
                        BackendError::Malformed(format!("getTransaction {signature}: no meta"))
                    })?;
                    let logs = match meta.log_messages {
                        OptionSerializer::Some(logs) => logs,
                        _ => Vec::new(),
                    };
                    let units = match meta.compute_units_consumed {
                        OptionSerializer::Some(units) => units,
                        _ => 0,
                    };
                    return Ok((logs, units));
                }
                Err(error) => last = Some(backend_error("getTransaction", error)),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last.unwrap_or_else(|| BackendError::Timeout(format!("getTransaction {signature}"))))
    }
}

/// A client error as a [`BackendError`]: the node's own JSON-RPC error, a timeout, or a
/// transport failure (connection refused or reset, bad HTTP, a body that is not JSON-RPC).
pub fn backend_error(method: &str, error: ClientError) -> BackendError {
    match error.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
            BackendError::Rpc { code: *code, message: message.clone() }
        }
        ErrorKind::Reqwest(e) if e.is_timeout() => BackendError::Timeout(format!("{method}: {e}")),
        ErrorKind::SerdeJson(e) => BackendError::Malformed(format!("{method}: {e}")),
        ErrorKind::RpcError(RpcError::ParseError(e)) => {
            BackendError::Malformed(format!("{method}: expected {e}"))
        }
        _ => BackendError::Transport(format!("{method}: {error}")),
    }
}

/// An account as the RPC (or the websocket) sent it, base64 encoded.
pub fn account_from_ui(account: &UiAccount) -> Result<AccountData, BackendError> {
    let bad = |what: &str| BackendError::Malformed(format!("account: {what}"));
    let owner = Pubkey::from_str(&account.owner).map_err(|_| bad("owner is not a key"))?;
    let data = match &account.data {
        UiAccountData::Binary(data, UiAccountEncoding::Base64) => {
            base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| bad("base64"))?
        }
        _ => return Err(bad("not base64 encoded")),
    };
    Ok(AccountData { owner, lamports: account.lamports, data })
}

/// `{"InstructionError": [0, {"Custom": 6035}]}` and friends.
fn rejection_from(err: &Value, message: String, logs: Vec<String>) -> Rejection {
    let code = err
        .get("InstructionError")
        .and_then(|e| e.get(1))
        .and_then(|e| e.get("Custom"))
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok());
    Rejection { code, message, logs }
}

fn rpc_filter(filter: &Filter) -> RpcFilterType {
    match filter {
        Filter::DataSize(size) => RpcFilterType::DataSize(*size),
        Filter::Memcmp { offset, bytes } => {
            RpcFilterType::Memcmp(Memcmp::new_raw_bytes(*offset, bytes.clone()))
        }
    }
}

/// The `getProgramAccounts` / `programSubscribe` configuration for `filters`.
pub fn program_accounts_config(
    filters: &[Filter],
    commitment: CommitmentConfig,
) -> RpcProgramAccountsConfig {
    RpcProgramAccountsConfig {
        filters: Some(filters.iter().map(rpc_filter).collect()),
        account_config: account_config(commitment),
        with_context: None,
        sort_results: None,
    }
}

/// Base64, at `commitment`.
pub fn account_config(commitment: CommitmentConfig) -> RpcAccountInfoConfig {
    RpcAccountInfoConfig {
        encoding: Some(UiAccountEncoding::Base64),
        data_slice: None,
        commitment: Some(commitment),
        min_context_slot: None,
    }
}

impl Backend for RpcBackend {
    fn name(&self) -> String {
        self.client.url()
    }

    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
        let config = program_accounts_config(filters, self.commitment);
        let entries = self
            .client
            .get_program_ui_accounts_with_config(program, config)
            .map_err(|e| backend_error("getProgramAccounts", e))?;
        let mut accounts = entries
            .iter()
            .map(|(key, account)| Ok((*key, account_from_ui(account)?)))
            .collect::<Result<Vec<_>, BackendError>>()?;
        accounts.sort_by_key(|(key, _)| *key);
        Ok(accounts)
    }

    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError> {
        let mut accounts = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_KEYS_PER_CALL) {
            let fetched = self
                .client
                .get_multiple_ui_accounts_with_config(chunk, account_config(self.commitment))
                .map_err(|e| backend_error("getMultipleAccounts", e))?
                .value;
            if fetched.len() != chunk.len() {
                return Err(BackendError::Malformed(format!(
                    "getMultipleAccounts: {} accounts for {} keys",
                    fetched.len(),
                    chunk.len()
                )));
            }
            for account in &fetched {
                accounts.push(account.as_ref().map(account_from_ui).transpose()?);
            }
        }
        Ok(accounts)
    }

    fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
        let account = self.multiple_accounts(&[CLOCK_SYSVAR])?.pop().flatten();
        clock_unix_timestamp(&account.map(|a| a.data).unwrap_or_default())
    }

    fn latest_blockhash(&mut self) -> Result<Hash, BackendError> {
        self.client
            .get_latest_blockhash_with_commitment(self.commitment)
            .map(|(hash, _)| hash)
            .map_err(|e| backend_error("getLatestBlockhash", e))
    }

    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError> {
        let config = RpcSimulateTransactionConfig {
            sig_verify: false,
            replace_recent_blockhash: true,
            commitment: Some(self.commitment),
            encoding: Some(UiTransactionEncoding::Base64),
            ..RpcSimulateTransactionConfig::default()
        };
        let value = self
            .client
            .simulate_transaction_with_config(tx, config)
            .map_err(|e| backend_error("simulateTransaction", e))?
            .value;
        let logs = value.logs.unwrap_or_default();
        let rejection = value.err.map(|err| {
            let json = serde_json::to_value(&err).unwrap_or(Value::Null);
            rejection_from(&json, json.to_string(), logs.clone())
        });
        Ok(Simulation { compute_units: value.units_consumed.unwrap_or(0), rejection, logs })
    }

    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError> {
        // Simulated just before; preflight would only repeat it.
        let config = RpcSendTransactionConfig {
            skip_preflight: true,
            max_retries: Some(5),
            encoding: Some(UiTransactionEncoding::Base64),
            ..RpcSendTransactionConfig::default()
        };
        let signature = match self.client.send_transaction_with_config(tx, config) {
            Ok(signature) => signature,
            Err(error) => match backend_error("sendTransaction", error) {
                BackendError::Rpc { code, message } => {
                    return Ok(Err(Rejection {
                        code: None,
                        message: format!("{code}: {message}"),
                        logs: vec![],
                    }))
                }
                other => return Err(other),
            },
        };
        if let Err(rejection) = self.confirm(&signature)? {
            let logs = self.transaction_logs(&signature).map(|(logs, _)| logs).unwrap_or_default();
            return Ok(Err(Rejection { logs, ..rejection }));
        }
        let (logs, compute_units) = self.transaction_logs(&signature)?;
        Ok(Ok(Landed { signature: signature.to_string(), compute_units, logs }))
    }

    fn recent_prioritization_fees(
        &mut self,
        writable: &[Pubkey],
    ) -> Result<Vec<u64>, BackendError> {
        let accounts = &writable[..writable.len().min(MAX_FEE_ACCOUNTS)];
        let fees = self
            .client
            .get_recent_prioritization_fees(accounts)
            .map_err(|e| backend_error("getRecentPrioritizationFees", e))?;
        Ok(fees.into_iter().map(|fee| fee.prioritization_fee).collect())
    }
}

/// The Clock sysvar's `unix_timestamp` (bytes 32..40).
pub fn clock_unix_timestamp(data: &[u8]) -> Result<i64, BackendError> {
    let bytes: [u8; 8] = data
        .get(32..40)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| BackendError::Malformed(format!("clock sysvar of {} bytes", data.len())))?;
    Ok(i64::from_le_bytes(bytes))
}

/// The Clock sysvar's `slot` (bytes 0..8).
pub fn clock_slot(data: &[u8]) -> Result<u64, BackendError> {
    let bytes: [u8; 8] = data
        .get(0..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| BackendError::Malformed(format!("clock sysvar of {} bytes", data.len())))?;
    Ok(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_program_error_keeps_its_code() {
        let err = serde_json::json!({ "InstructionError": [0, { "Custom": 6035 }] });
        assert_eq!(rejection_from(&err, String::new(), vec![]).code, Some(6035));
        let other = serde_json::json!("AccountInUse");
        assert_eq!(rejection_from(&other, String::new(), vec![]).code, None);
    }

    #[test]
    fn malformed_accounts_are_named_errors() {
        let good = UiAccount {
            lamports: 7,
            data: UiAccountData::Binary("AQID".into(), UiAccountEncoding::Base64),
            owner: Pubkey::new_unique().to_string(),
            executable: false,
            rent_epoch: 0,
            space: Some(3),
        };
        assert_eq!(account_from_ui(&good).unwrap().data, vec![1, 2, 3]);
        let bad_owner = UiAccount { owner: "nope".into(), ..good.clone() };
        assert!(matches!(account_from_ui(&bad_owner), Err(BackendError::Malformed(_))));
        let bad_data = UiAccount {
            data: UiAccountData::Binary("!!".into(), UiAccountEncoding::Base64),
            ..good
        };
        assert!(matches!(account_from_ui(&bad_data), Err(BackendError::Malformed(_))));
        assert!(matches!(clock_unix_timestamp(&[0; 12]), Err(BackendError::Malformed(_))));
        assert!(matches!(clock_slot(&[0; 3]), Err(BackendError::Malformed(_))));
    }
}
