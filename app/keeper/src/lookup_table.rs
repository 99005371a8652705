//! The address lookup table a keeper needs for accounts whose liquidation does not fit a legacy
//! transaction (an account using all 16 token slots lists 32 health accounts, its liquidator's
//! more): [`keeper_addresses`] lists what to put in it, [`create`] creates and extends it through
//! the chain's Address Lookup Table program and waits until it can be used, [`load`] reads one.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use cross_margin_client::{Instruction, Keypair, Pubkey, Signer};
use solana_address_lookup_table_interface::instruction::{
    create_lookup_table, extend_lookup_table,
};
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_message::{AddressLookupTableAccount, Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

use crate::backend::Backend;
use crate::market::MarketState;

/// Addresses per `extend` transaction: 20 × 32 bytes plus the accounts and signature stay well
/// under the 1,232-byte packet (the test below checks a full chunk's size).
pub const CHUNK: usize = 20;
/// A table holds at most this many addresses.
pub const MAX_ADDRESSES: usize = 256;

/// What a keeper's transactions reference that is not a signer: the group, the liquidator
/// account, every bank with its oracle (and the oracle a queued change would pin) and token
/// program, every perp market with its oracle (and queued oracle), the program and the Compute
/// Budget program. None of the keeper's instructions reads a sysvar account, so none is listed.
/// (Programs an instruction invokes stay in a v0 message's static keys; they are in the table
/// for instructions that pass them as accounts.) In order, without duplicates.
pub fn keeper_addresses(market: &MarketState, liquidator_account: Pubkey) -> Vec<Pubkey> {
    let mut all = vec![
        market.group_address,
        liquidator_account,
        cross_margin::ID,
        solana_compute_budget_interface::ID,
    ];
    for state in market.banks.iter().flatten() {
        let bank = &state.bank;
        all.extend([state.address, bank.oracle, bank.token_program]);
        if bank.pending.is_queued() {
            all.push(bank.pending.oracle);
        }
    }
    for state in market.perps.iter().flatten() {
        let perp = &state.market;
        all.extend([state.address, perp.oracle]);
        if perp.pending.is_queued() {
            all.push(perp.pending.oracle);
        }
    }
    let mut seen = HashSet::new();
    all.retain(|key| *key != Pubkey::default() && seen.insert(*key));
    all
}

/// Reads a lookup table.
pub fn load(backend: &mut dyn Backend, key: Pubkey) -> Result<AddressLookupTableAccount> {
    let account = backend
        .multiple_accounts(&[key])?
        .pop()
        .flatten()
        .ok_or_else(|| anyhow!("lookup table {key} not found"))?;
    if account.owner != solana_address_lookup_table_interface::program::ID {
        bail!("lookup table {key}: owned by {}, not the lookup table program", account.owner);
    }
    let table = AddressLookupTable::deserialize(&account.data)
        .map_err(|e| anyhow!("lookup table {key}: {e:?}"))?;
    Ok(AddressLookupTableAccount { key, addresses: table.addresses.to_vec() })
}

/// The chain's slot (the Clock sysvar's first field).
fn slot(backend: &mut dyn Backend) -> Result<u64> {
    let clock = Pubkey::from_str_const("SysvarC1ock11111111111111111111111111111111");
    let data = backend.multiple_accounts(&[clock])?.pop().flatten().map(|a| a.data);
    let bytes = data.as_deref().and_then(|d| d.get(..8)).ok_or_else(|| anyhow!("no clock"))?;
    Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

fn send(backend: &mut dyn Backend, signer: &Keypair, ix: Instruction, what: &str) -> Result<()> {
    let blockhash = backend.latest_blockhash()?;
    let message = Message::new_with_blockhash(&[ix], Some(&signer.pubkey()), &blockhash);
    let tx = VersionedTransaction::try_new(VersionedMessage::Legacy(message), &[signer])
        .context("signing")?;
    match backend.send_and_confirm(&tx)? {
        Ok(landed) => {
            tracing::info!(signature = %landed.signature, "{what}");
            Ok(())
        }
        Err(rejection) => {
            bail!("{what}: refused: {} {}", rejection.message, rejection.logs.join(" | "))
        }
    }
}

/// Creates a table owned by `signer` (which pays), extends it with `addresses` in chunks of
/// [`CHUNK`], and waits (up to `timeout`) until the chain's slot is past its last extension, when
/// transactions can use it.
pub fn create(
    backend: &mut dyn Backend,
    signer: &Keypair,
    addresses: &[Pubkey],
    timeout: Duration,
) -> Result<AddressLookupTableAccount> {
    if addresses.is_empty() || addresses.len() > MAX_ADDRESSES {
        bail!("a lookup table holds 1 to {MAX_ADDRESSES} addresses, not {}", addresses.len());
    }
    let authority = signer.pubkey();
    // The recent slot must be in the SlotHashes sysvar when the transaction runs: a fresh one
    // on a refusal.
    let mut attempt = 1;
    let key = loop {
        let (ix, key) = create_lookup_table(authority, authority, slot(backend)?);
        match send(backend, signer, ix, "lookup table created") {
            Ok(()) => break key,
            Err(error) if attempt < 3 => {
                tracing::warn!(%error, attempt, "creating the lookup table; trying a newer slot");
                std::thread::sleep(Duration::from_millis(500));
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    };
    for (i, chunk) in addresses.chunks(CHUNK).enumerate() {
        let ix = extend_lookup_table(key, authority, Some(authority), chunk.to_vec());
        let what = format!(
            "lookup table {key} extended (chunk {} of {})",
            i + 1,
            addresses.len().div_ceil(CHUNK)
        );
        send(backend, signer, ix, &what)?;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let raw = backend.multiple_accounts(&[key])?.pop().flatten();
        let raw = raw.ok_or_else(|| anyhow!("lookup table {key} not found after creating it"))?;
        let table = AddressLookupTable::deserialize(&raw.data)
            .map_err(|e| anyhow!("lookup table {key}: {e:?}"))?;
        if table.addresses[..] != *addresses {
            bail!(
                "lookup table {key} holds {} addresses, not the {} sent",
                table.addresses.len(),
                addresses.len()
            );
        }
        if slot(backend)? > table.meta.last_extended_slot {
            return Ok(AddressLookupTableAccount { key, addresses: addresses.to_vec() });
        }
        if Instant::now() > deadline {
            bail!("lookup table {key} not active after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cross_margin_client::tx::{wire_size, MAX_TRANSACTION_SIZE};
    use solana_message::Hash;

    #[test]
    fn a_full_chunk_fits_a_transaction() {
        let signer = Keypair::new();
        let authority = signer.pubkey();
        let addresses: Vec<Pubkey> = (0..CHUNK).map(|_| Pubkey::new_unique()).collect();
        let ix = extend_lookup_table(Pubkey::new_unique(), authority, Some(authority), addresses);
        let message = Message::new_with_blockhash(&[ix], Some(&authority), &Hash::default());
        let tx =
            VersionedTransaction::try_new(VersionedMessage::Legacy(message), &[&signer]).unwrap();
        assert!(wire_size(&tx) <= MAX_TRANSACTION_SIZE, "{} bytes", wire_size(&tx));
        // And one more chunk's worth would not leave much: the chunk is not absurdly small.
        assert!(wire_size(&tx) + 10 * 32 > MAX_TRANSACTION_SIZE / 2);
    }
}
