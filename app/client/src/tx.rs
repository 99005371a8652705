//! Transactions as they go on the wire, for any backend.

use solana_transaction::versioned::VersionedTransaction;

/// The largest transaction a validator accepts (`PACKET_DATA_SIZE`).
pub const MAX_TRANSACTION_SIZE: usize = 1_232;

/// The transaction's wire format: the signature count (compact-u16), the signatures, the
/// message (legacy or versioned).
pub fn wire_bytes(tx: &VersionedTransaction) -> Vec<u8> {
    let count = tx.signatures.len();
    let mut bytes = Vec::with_capacity(MAX_TRANSACTION_SIZE);
    // Compact-u16: 7 bits per byte, high bit = more bytes follow.
    let mut rest = count;
    loop {
        let byte = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    for signature in &tx.signatures {
        bytes.extend_from_slice(signature.as_ref());
    }
    bytes.extend_from_slice(&tx.message.serialize());
    bytes
}

/// Bytes a transaction takes on the wire.
pub fn wire_size(tx: &VersionedTransaction) -> usize {
    wire_bytes(tx).len()
}
