//! An in-process chain: LiteSVM with the real SBF build of `cross_margin` loaded.

use std::path::{Path, PathBuf};

use anchor_lang::prelude::Pubkey;
use anchor_lang::{AccountDeserialize, Owner, ZeroCopy};
use litesvm::types::TransactionResult;
use litesvm::LiteSVM;
use solana_account::Account;
use solana_address_lookup_table_interface::state::{AddressLookupTable, LookupTableMeta};
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_message::{v0, AddressLookupTableAccount, Message, VersionedMessage};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;

use anchor_spl::token::spl_token::state::{
    Account as TokenAccountState, AccountState, Mint as MintState,
};
use solana_clock::Clock;
use solana_program_option::COption;
use solana_program_pack::Pack;

use crate::outcome::{Executed, Failed, TxResult};

/// A LiteSVM transaction result (of `send_transaction`, or of `simulate_transaction` mapped to
/// its `meta`) as a [`TxResult`].
pub fn tx_result(result: TransactionResult) -> TxResult {
    match result {
        Ok(meta) => Ok(Executed {
            compute_units: meta.compute_units_consumed,
            logs: meta.logs,
            return_data: meta.return_data.data,
        }),
        Err(failed) => Err(Failed {
            error: failed.err,
            compute_units: failed.meta.compute_units_consumed,
            logs: failed.meta.logs,
        }),
    }
}

/// Where the build script puts the program: `<workspace>/target/deploy/cross_margin.so`.
/// `CROSS_MARGIN_SO` overrides it.
pub fn program_so_path() -> PathBuf {
    if let Ok(path) = std::env::var("CROSS_MARGIN_SO") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root).join("target/deploy/cross_margin.so")
}

/// Errors from setting the chain up (not from transactions, which return [`TxResult`]).
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

fn deterministic_keypair(index: u64) -> Keypair {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&index.to_le_bytes());
    secret[8..].copy_from_slice(b"cross-margin test key v1");
    Keypair::new_from_array(secret)
}

pub struct EmbeddedChain {
    pub svm: LiteSVM,
    /// Funded fee payer used by [`EmbeddedChain::send`].
    pub payer: Keypair,
    /// Keys are derived from a counter, not drawn at random, so that a run is reproducible
    /// (PDA bump searches, and so compute units, depend on the keys).
    keys_issued: u64,
}

impl EmbeddedChain {
    /// Starts a chain with the program from [`program_so_path`] and a payer holding 1,000 SOL.
    pub fn new() -> Result<Self, SetupError> {
        Self::with_program(&program_so_path())
    }

    pub fn with_program(so_path: &Path) -> Result<Self, SetupError> {
        let bytes = std::fs::read(so_path).map_err(|e| {
            SetupError(format!(
                "cannot read {}: {e}. Build the program first: scripts/build-sbf.sh",
                so_path.display()
            ))
        })?;
        let mut svm = LiteSVM::new();
        svm.add_program(cross_margin::ID, &bytes)
            .map_err(|e| SetupError(format!("LiteSVM rejected {}: {e:?}", so_path.display())))?;
        let mut chain = Self { svm, payer: deterministic_keypair(0), keys_issued: 1 };
        chain.fund(&chain.payer.pubkey(), 1_000_000_000_000)?;
        Ok(chain)
    }

    /// A new keypair, the same sequence on every run.
    pub fn new_keypair(&mut self) -> Keypair {
        self.keys_issued += 1;
        deterministic_keypair(self.keys_issued)
    }

    /// A new address nobody holds the key to (for accounts the test fills in itself).
    pub fn new_pubkey(&mut self) -> Pubkey {
        self.new_keypair().pubkey()
    }

    pub fn fund(&mut self, who: &Pubkey, lamports: u64) -> Result<(), SetupError> {
        self.svm
            .airdrop(who, lamports)
            .map(|_| ())
            .map_err(|e| SetupError(format!("airdrop failed: {:?}", e.err)))
    }

    /// A new keypair holding `lamports`.
    pub fn funded_keypair(&mut self, lamports: u64) -> Result<Keypair, SetupError> {
        let keypair = self.new_keypair();
        self.fund(&keypair.pubkey(), lamports)?;
        Ok(keypair)
    }

    /// Signs with the payer plus `signers` and executes. Each call gets a fresh blockhash, so
    /// identical transactions sent twice are two transactions.
    pub fn send(&mut self, instructions: &[Instruction], signers: &[&Keypair]) -> TxResult {
        let message = Message::new(instructions, Some(&self.payer.pubkey()));
        let tx = Transaction::new(&self.signers(signers), message, self.svm.latest_blockhash());
        self.execute(tx.into())
    }

    /// Like [`send`](Self::send), as a v0 transaction that takes account keys from address
    /// lookup tables (for instructions with more accounts than a legacy transaction holds).
    pub fn send_v0(
        &mut self,
        instructions: &[Instruction],
        signers: &[&Keypair],
        tables: &[AddressLookupTableAccount],
    ) -> TxResult {
        let tx = self.versioned_tx(instructions, signers, tables)?;
        self.execute(tx)
    }

    /// The signed v0 transaction [`send_v0`](Self::send_v0) would send, e.g. to measure its size.
    pub fn versioned_tx(
        &self,
        instructions: &[Instruction],
        signers: &[&Keypair],
        tables: &[AddressLookupTableAccount],
    ) -> Result<VersionedTransaction, Failed> {
        let compile_error = |e: String| Failed {
            error: solana_transaction_error::TransactionError::SanitizeFailure,
            compute_units: 0,
            logs: vec![e],
        };
        let message = v0::Message::try_compile(
            &self.payer.pubkey(),
            instructions,
            tables,
            self.svm.latest_blockhash(),
        )
        .map_err(|e| compile_error(format!("v0 message: {e}")))?;
        VersionedTransaction::try_new(VersionedMessage::V0(message), &self.signers(signers))
            .map_err(|e| compile_error(format!("signing: {e}")))
    }

    /// Writes an active address lookup table holding `addresses` and returns it, ready for
    /// [`send_v0`](Self::send_v0) (tables are usable from the slot after they were extended).
    pub fn create_lookup_table(&mut self, addresses: &[Pubkey]) -> AddressLookupTableAccount {
        let key = self.new_pubkey();
        let mut meta = LookupTableMeta::new(self.payer.pubkey());
        meta.last_extended_slot = self.clock().slot;
        let table = AddressLookupTable { meta, addresses: addresses.to_vec().into() };
        let data = table.serialize_for_tests().expect("lookup table serializes");
        let lamports = self.svm.minimum_balance_for_rent_exemption(data.len());
        let owner = solana_address_lookup_table_interface::program::ID;
        let account = Account { lamports, data, owner, executable: false, rent_epoch: 0 };
        self.svm.set_account(key, account).expect("LiteSVM accepts lookup tables");
        let mut clock = self.clock();
        clock.slot += 1;
        self.svm.set_sysvar(&clock);
        AddressLookupTableAccount { key, addresses: addresses.to_vec() }
    }

    fn signers<'a>(&'a self, signers: &[&'a Keypair]) -> Vec<&'a Keypair> {
        let mut all: Vec<&Keypair> = vec![&self.payer];
        all.extend(signers.iter().copied().filter(|s| s.pubkey() != self.payer.pubkey()));
        all
    }

    /// Executes an already signed transaction (legacy or v0).
    pub fn send_versioned(&mut self, tx: VersionedTransaction) -> TxResult {
        self.execute(tx)
    }

    /// Simulates a signed transaction without changing any account.
    pub fn simulate_versioned(&self, tx: VersionedTransaction) -> TxResult {
        tx_result(self.svm.simulate_transaction(tx).map(|info| info.meta))
    }

    fn execute(&mut self, tx: VersionedTransaction) -> TxResult {
        let result = self.svm.send_transaction(tx);
        self.svm.expire_blockhash();
        tx_result(result)
    }

    pub fn account(&self, address: &Pubkey) -> Option<Account> {
        self.svm.get_account(address)
    }

    /// Decodes a zero-copy account of the program (checks owner and discriminator).
    pub fn load<T: ZeroCopy + Owner>(&self, address: &Pubkey) -> Option<T> {
        let account = self.account(address)?;
        if account.owner != T::owner() || !account.data.starts_with(T::DISCRIMINATOR) {
            return None;
        }
        let start = T::DISCRIMINATOR.len();
        let bytes = account.data.get(start..start + core::mem::size_of::<T>())?;
        Some(bytemuck::pod_read_unaligned(bytes))
    }

    /// Decodes a Borsh (non-zero-copy) account through the program's own type.
    pub fn load_borsh<T: AccountDeserialize>(&self, address: &Pubkey) -> Option<T> {
        let account = self.account(address)?;
        T::try_deserialize(&mut account.data.as_slice()).ok()
    }

    /// Writes an account as-is (oracle accounts, fixtures).
    pub fn set_account(&mut self, address: Pubkey, owner: Pubkey, data: Vec<u8>) {
        let lamports = self.svm.minimum_balance_for_rent_exemption(data.len()).max(1);
        let account = Account { lamports, data, owner, executable: false, rent_epoch: 0 };
        self.svm.set_account(address, account).expect("LiteSVM accepts plain accounts");
    }

    /// A new mint owned by `token_program` (SPL Token or Token-2022, no extensions).
    pub fn create_mint(&mut self, decimals: u8, token_program: Pubkey) -> Pubkey {
        let mint = self.new_pubkey();
        let state = MintState {
            mint_authority: COption::Some(self.payer.pubkey()),
            supply: 0,
            decimals,
            is_initialized: true,
            freeze_authority: COption::None,
        };
        let mut data = vec![0; MintState::LEN];
        MintState::pack(state, &mut data).expect("mint state packs");
        self.set_account(mint, token_program, data);
        mint
    }

    /// A new token account for `mint`, owned by `owner`, holding `amount` (minted).
    pub fn create_token_account(&mut self, mint: &Pubkey, owner: &Pubkey, amount: u64) -> Pubkey {
        let address = self.new_pubkey();
        let token_program = self.account(mint).expect("mint exists").owner;
        let state = TokenAccountState {
            mint: *mint,
            owner: *owner,
            amount: 0,
            delegate: COption::None,
            state: AccountState::Initialized,
            is_native: COption::None,
            delegated_amount: 0,
            close_authority: COption::None,
        };
        let mut data = vec![0; TokenAccountState::LEN];
        TokenAccountState::pack(state, &mut data).expect("token account state packs");
        self.set_account(address, token_program, data);
        self.mint_to(&address, amount);
        address
    }

    /// Adds `amount` to a token account and to its mint's supply.
    pub fn mint_to(&mut self, token_account: &Pubkey, amount: u64) {
        let mut account = self.account(token_account).expect("token account exists");
        let mut state = TokenAccountState::unpack(&account.data[..TokenAccountState::LEN]).unwrap();
        state.amount = state.amount.checked_add(amount).expect("balance fits u64");
        TokenAccountState::pack(state, &mut account.data[..TokenAccountState::LEN]).unwrap();
        self.svm.set_account(*token_account, account).unwrap();

        let mut mint = self.account(&state.mint).expect("mint exists");
        let mut mint_state = MintState::unpack(&mint.data[..MintState::LEN]).unwrap();
        mint_state.supply = mint_state.supply.checked_add(amount).expect("supply fits u64");
        MintState::pack(mint_state, &mut mint.data[..MintState::LEN]).unwrap();
        self.svm.set_account(state.mint, mint).unwrap();
    }

    /// The balance of a token account (SPL Token or Token-2022).
    pub fn token_balance(&self, token_account: &Pubkey) -> u64 {
        let account = self.account(token_account).expect("token account exists");
        TokenAccountState::unpack(&account.data[..TokenAccountState::LEN]).unwrap().amount
    }

    pub fn clock(&self) -> Clock {
        self.svm.get_sysvar::<Clock>()
    }

    /// Sets the chain's unix time (and advances the slot so transactions are new).
    pub fn set_unix_timestamp(&mut self, unix_timestamp: i64) {
        let mut clock = self.clock();
        clock.unix_timestamp = unix_timestamp;
        clock.slot += 1;
        self.svm.set_sysvar(&clock);
    }

    /// Moves the clock forward by `seconds`.
    pub fn warp_seconds(&mut self, seconds: i64) {
        let now = self.clock().unix_timestamp;
        self.set_unix_timestamp(now + seconds);
    }
}
