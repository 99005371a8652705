//! The JSON-RPC backend: any Solana cluster (a local validator, devnet, mainnet). A small
//! blocking client over `ureq` for the eight methods the keeper uses; transport failures are
//! [`BackendError`]s, which the keeper retries with backoff.

use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine;
use cross_margin_client::tx::wire_bytes;
use cross_margin_client::Pubkey;
use serde_json::{json, Value};
use solana_message::Hash;
use solana_transaction::versioned::VersionedTransaction;

use super::{AccountData, Backend, BackendError, Filter, Landed, Rejection, Simulation};

/// The Clock sysvar; `unix_timestamp` is its fifth field (offset 32).
const CLOCK_SYSVAR: &str = "SysvarC1ock11111111111111111111111111111111";
/// `getMultipleAccounts` takes at most 100 keys.
const MAX_KEYS_PER_CALL: usize = 100;

pub struct RpcBackend {
    url: String,
    agent: ureq::Agent,
    commitment: String,
    /// How long to wait for a sent transaction to be confirmed.
    pub confirm_timeout: Duration,
    next_id: u64,
}

impl RpcBackend {
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        let agent = ureq::AgentBuilder::new().timeout(timeout).build();
        Self {
            url: url.into(),
            agent,
            commitment: "confirmed".into(),
            confirm_timeout: Duration::from_secs(60),
            next_id: 1,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value, BackendError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let response = match self.agent.post(&self.url).send_json(request) {
            Ok(response) => response,
            Err(ureq::Error::Status(code, response)) => {
                let body = response.into_string().unwrap_or_default();
                return Err(BackendError::Transport(format!("HTTP {code} from {method}: {body}")));
            }
            Err(e) => return Err(BackendError::Transport(format!("{method}: {e}"))),
        };
        let body: Value = response
            .into_json()
            .map_err(|e| BackendError::Transport(format!("{method}: bad JSON: {e}")))?;
        if let Some(error) = body.get("error") {
            return Err(BackendError::Rpc {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            });
        }
        body.get("result")
            .cloned()
            .ok_or_else(|| BackendError::Transport(format!("{method}: no result")))
    }

    fn confirm(&mut self, signature: &str) -> Result<Result<(), Rejection>, BackendError> {
        let deadline = Instant::now() + self.confirm_timeout;
        loop {
            let result = self.call("getSignatureStatuses", json!([[signature]]))?;
            let status = &result["value"][0];
            if !status.is_null() {
                let level = status["confirmationStatus"].as_str().unwrap_or("");
                if !status["err"].is_null() {
                    return Ok(Err(rejection_from(&status["err"], Vec::new())));
                }
                if level == "confirmed" || level == "finalized" {
                    return Ok(Ok(()));
                }
            }
            if Instant::now() > deadline {
                return Err(BackendError::Timeout(format!("{signature} not confirmed")));
            }
            std::thread::sleep(Duration::from_millis(400));
        }
    }
}

fn parse_account(value: &Value) -> Result<Option<AccountData>, BackendError> {
    if value.is_null() {
        return Ok(None);
    }
    let bad = |what: &str| BackendError::Transport(format!("malformed account: {what}"));
    let owner = value["owner"].as_str().ok_or_else(|| bad("owner"))?;
    let owner = Pubkey::from_str(owner).map_err(|_| bad("owner key"))?;
    let lamports = value["lamports"].as_u64().ok_or_else(|| bad("lamports"))?;
    let data = value["data"][0].as_str().ok_or_else(|| bad("data"))?;
    let data = base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| bad("base64"))?;
    Ok(Some(AccountData { owner, lamports, data }))
}

/// `{"InstructionError": [0, {"Custom": 6035}]}` and friends.
fn rejection_from(err: &Value, logs: Vec<String>) -> Rejection {
    let code = err
        .get("InstructionError")
        .and_then(|e| e.get(1))
        .and_then(|e| e.get("Custom"))
        .and_then(Value::as_u64)
        .map(|c| c as u32);
    Rejection { code, message: err.to_string(), logs }
}

fn logs_of(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|lines| lines.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

impl Backend for RpcBackend {
    fn name(&self) -> String {
        self.url.clone()
    }

    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
        let filters: Vec<Value> = filters
            .iter()
            .map(|f| match f {
                Filter::DataSize(size) => json!({ "dataSize": size }),
                Filter::Memcmp { offset, bytes } => json!({
                    "memcmp": { "offset": offset, "bytes": bs58::encode(bytes).into_string() }
                }),
            })
            .collect();
        let config = json!({
            "encoding": "base64",
            "commitment": self.commitment,
            "filters": filters,
        });
        let result = self.call("getProgramAccounts", json!([program.to_string(), config]))?;
        let entries = result
            .as_array()
            .ok_or_else(|| BackendError::Transport("getProgramAccounts: not a list".into()))?;
        let mut accounts = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = entry["pubkey"].as_str().and_then(|k| Pubkey::from_str(k).ok());
            let key = key.ok_or_else(|| BackendError::Transport("bad pubkey".into()))?;
            if let Some(account) = parse_account(&entry["account"])? {
                accounts.push((key, account));
            }
        }
        accounts.sort_by_key(|(key, _)| *key);
        Ok(accounts)
    }

    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError> {
        let mut accounts = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_KEYS_PER_CALL) {
            let keys: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            let config = json!({ "encoding": "base64", "commitment": self.commitment });
            let result = self.call("getMultipleAccounts", json!([keys, config]))?;
            let values = result["value"]
                .as_array()
                .ok_or_else(|| BackendError::Transport("getMultipleAccounts: no value".into()))?;
            for value in values {
                accounts.push(parse_account(value)?);
            }
        }
        Ok(accounts)
    }

    fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
        let clock = Pubkey::from_str(CLOCK_SYSVAR).expect("valid sysvar id");
        let account = self.multiple_accounts(&[clock])?.pop().flatten();
        let data = account.map(|a| a.data).unwrap_or_default();
        let bytes = data.get(32..40).ok_or_else(|| BackendError::Transport("no clock".into()))?;
        Ok(i64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    fn latest_blockhash(&mut self) -> Result<Hash, BackendError> {
        let result = self.call("getLatestBlockhash", json!([{ "commitment": self.commitment }]))?;
        let hash = result["value"]["blockhash"].as_str().unwrap_or_default();
        Hash::from_str(hash).map_err(|_| BackendError::Transport(format!("bad blockhash {hash}")))
    }

    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(wire_bytes(tx));
        let config = json!({
            "encoding": "base64",
            "commitment": self.commitment,
            "sigVerify": false,
            "replaceRecentBlockhash": true,
        });
        let result = self.call("simulateTransaction", json!([encoded, config]))?;
        let value = &result["value"];
        let logs = logs_of(&value["logs"]);
        let rejection =
            (!value["err"].is_null()).then(|| rejection_from(&value["err"], logs.clone()));
        Ok(Simulation {
            compute_units: value["unitsConsumed"].as_u64().unwrap_or(0),
            rejection,
            logs,
        })
    }

    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(wire_bytes(tx));
        // Simulated just before; preflight would only repeat it.
        let config = json!({ "encoding": "base64", "skipPreflight": true, "maxRetries": 5 });
        let signature = match self.call("sendTransaction", json!([encoded, config])) {
            Ok(value) => value.as_str().unwrap_or_default().to_owned(),
            Err(BackendError::Rpc { code, message }) => {
                return Ok(Err(Rejection {
                    code: None,
                    message: format!("{code}: {message}"),
                    logs: vec![],
                }))
            }
            Err(e) => return Err(e),
        };
        if let Err(rejection) = self.confirm(&signature)? {
            let logs = self.transaction_logs(&signature).map(|(logs, _)| logs).unwrap_or_default();
            return Ok(Err(Rejection { logs, ..rejection }));
        }
        let (logs, compute_units) = self.transaction_logs(&signature)?;
        Ok(Ok(Landed { signature, compute_units, logs }))
    }
}

impl RpcBackend {
    /// A confirmed transaction's logs and compute units (`getTransaction`).
    fn transaction_logs(&mut self, signature: &str) -> Result<(Vec<String>, u64), BackendError> {
        let config = json!({
            "encoding": "json",
            "commitment": self.commitment,
            "maxSupportedTransactionVersion": 0,
        });
        // Right after confirmation the node may not serve it yet: a few short retries.
        for _ in 0..10 {
            let result = self.call("getTransaction", json!([signature, config.clone()]))?;
            if !result.is_null() {
                let meta = &result["meta"];
                return Ok((
                    logs_of(&meta["logMessages"]),
                    meta["computeUnitsConsumed"].as_u64().unwrap_or(0),
                ));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Err(BackendError::Timeout(format!("getTransaction {signature}")))
    }
}
