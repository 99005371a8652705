//! Transaction outcomes, independent of the chain backend.

use anchor_lang::{AnchorDeserialize, Discriminator, Event};
use base64::Engine;
use solana_instruction::error::InstructionError;
use solana_transaction_error::TransactionError;

/// A transaction that landed.
#[derive(Debug, Clone)]
pub struct Executed {
    /// Compute units consumed by the whole transaction.
    pub compute_units: u64,
    pub logs: Vec<String>,
    /// Return data of the last instruction that set it (e.g. the `health` view).
    pub return_data: Vec<u8>,
}

/// A transaction that was rejected; nothing it did was kept.
#[derive(Debug, Clone)]
pub struct Failed {
    pub error: TransactionError,
    pub compute_units: u64,
    pub logs: Vec<String>,
}

pub type TxResult = Result<Executed, Failed>;

impl Executed {
    /// Every event of type `E` the transaction emitted, in order.
    pub fn events<E: Event + AnchorDeserialize + Discriminator>(&self) -> Vec<E> {
        decode_events(&self.logs)
    }
}

impl Failed {
    /// The custom error code (Anchor's or the program's), if the failure carried one.
    pub fn custom_code(&self) -> Option<u32> {
        match &self.error {
            TransactionError::InstructionError(_, InstructionError::Custom(code)) => Some(*code),
            _ => None,
        }
    }

    /// The program's error name as logged by Anchor (`Error Code: <Name>`), if any.
    pub fn error_name(&self) -> Option<&str> {
        self.logs.iter().find_map(|line| {
            let rest = line.split("Error Code: ").nth(1)?;
            rest.split('.').next()
        })
    }
}

/// Decodes Anchor events (`Program data: <base64>` log lines) of type `E`.
pub fn decode_events<E: AnchorDeserialize + Discriminator>(logs: &[String]) -> Vec<E> {
    logs.iter()
        .filter_map(|line| line.strip_prefix("Program data: "))
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .filter(|bytes| bytes.starts_with(E::DISCRIMINATOR))
        .filter_map(|bytes| E::try_from_slice(&bytes[E::DISCRIMINATOR.len()..]).ok())
        .collect()
}
