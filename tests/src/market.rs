//! A ready market on the embedded chain: a group with three banks and real-format Pyth
//! accounts, plus funded users. Prices are chosen exact in Q64.64 so tests can state expected
//! values by hand.
//!
//! | bank | decimals | oracle | price | init/maint asset | maint/init liab | liquidation + insurance fee |
//! |---|---|---|---|---|---|---|
//! | USDC | 6 | Pyth pull | $1 | 0.95 / 0.98 | 1.02 / 1.05 | 1.5% + 0.5% |
//! | SOL | 9 | Pyth pull | $125 | 0.80 / 0.90 | 1.10 / 1.20 | 5% + 1% |
//! | BTC | 8 | Pyth legacy | $100,000 | 0.85 / 0.92 | 1.08 / 1.15 | 5% + 1% |
//!
//! `Market` is the test kit's [`Sandbox`] (which it dereferences to, for every user action) plus
//! the assertions tests need: rejections that change nothing, and vault conservation.

use std::ops::{Deref, DerefMut};

use anchor_spl::token_2022::spl_token_2022;
use cross_margin::instructions::AccountHealth;
use cross_margin::state::BankConfig;
use cross_margin::state::OracleKind;
use cross_margin_client::ix::{self, BankRef};
pub use cross_margin_testkit::sandbox::{feed_id, quote_dollars, Sandbox, User};

use crate::*;

pub const START_TIME: i64 = 1_800_000_000;

/// Dropping a `Market` at the end of a test that did not fail asserts that every vault covers
/// its bank's claims ([`Market::assert_vaults_cover_claims`]), so every test that uses one
/// checks conservation.
pub struct Market {
    pub sandbox: Sandbox,
    pub usdc: BankRef,
    pub sol: BankRef,
    pub btc: BankRef,
    /// Every user's margin account and token accounts, for the no-state-change snapshots.
    users: Vec<Pubkey>,
}

impl Deref for Market {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl DerefMut for Market {
    fn deref_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }
}

/// The test banks' configuration: `kind`, weights in bps (the sandbox's defaults otherwise).
pub fn bank_config(kind: OracleKind, index: u16, weights: [u32; 4]) -> BankConfig {
    BankConfig {
        oracle_kind: kind as u8,
        oracle_feed_id: feed_id(index),
        ..cross_margin_testkit::sandbox::bank_config(weights)
    }
}

impl Market {
    pub fn new() -> Self {
        let mut chain = chain();
        chain.set_unix_timestamp(START_TIME);
        let sandbox = Sandbox::new(chain).unwrap_or_else(|e| panic!("{e}"));
        let mut market = Market {
            sandbox,
            usdc: placeholder(),
            sol: placeholder(),
            btc: placeholder(),
            users: Vec::new(),
        };
        market.usdc =
            market.add_bank(6, OracleKind::PythPull, [9_500, 9_800, 10_200, 10_500], (1, 0));
        market.sol =
            market.add_bank(9, OracleKind::PythPull, [8_000, 9_000, 11_000, 12_000], (125, 0));
        market.btc = market.add_bank(
            8,
            OracleKind::PythLegacy,
            [8_500, 9_200, 10_800, 11_500],
            (100_000, 0),
        );
        market
    }

    /// Adds a bank for a new SPL Token mint with its oracle at `price` dollars.
    pub fn add_bank(
        &mut self,
        decimals: u8,
        kind: OracleKind,
        weights: [u32; 4],
        price: (i64, u64),
    ) -> BankRef {
        let index = self.banks.len() as u16;
        let quote = quote_dollars(price.0, price.1, self.now());
        match self.sandbox.add_bank(decimals, kind, bank_config(kind, index, weights), quote) {
            Ok(bank) => bank,
            Err(failed) => panic!("add_bank: {:?}\n{}", failed.error, failed.logs.join("\n")),
        }
    }

    /// Every bank of the group, in index order.
    pub fn banks(&self) -> Vec<BankRef> {
        self.sandbox.banks.clone()
    }

    /// A user with a margin account and `funds[i]` native tokens of bank i's mint (for the first
    /// three banks; see `Sandbox::fund` for the others).
    pub fn user(&mut self, funds: [u64; 3]) -> User {
        match self.sandbox.user(&funds) {
            Ok(user) => {
                self.users.push(user.account);
                self.users.extend(user.tokens.iter().copied());
                user
            }
            Err(failed) => panic!("create user: {:?}\n{}", failed.error, failed.logs.join("\n")),
        }
    }

    /// The `health` view, decoded from return data.
    pub fn health(&mut self, user: &User) -> (AccountHealth, Executed) {
        match self.sandbox.health_of(&user.account) {
            Ok(view) => view,
            Err(failed) => panic!("health: {:?}\n{}", failed.error, failed.logs.join("\n")),
        }
    }

    /// Every account a user action can touch, for no-state-change assertions: the group, every
    /// bank with its vault and oracle, and every user's accounts (the acting `user`'s included,
    /// with token accounts funded since it was created).
    pub fn snapshot(&self, user: &User) -> Snapshot {
        let mut addresses = vec![self.group, user.account];
        addresses.extend(user.tokens.iter().copied());
        addresses.extend(self.users.iter().copied());
        addresses.sort();
        addresses.dedup();
        for bank in self.banks() {
            addresses.extend([bank.address, bank.vault, bank.oracle]);
        }
        for market in self.sandbox.perps.clone() {
            addresses.extend([market.address, market.oracle]);
        }
        Snapshot::take(&self.chain, &addresses)
    }

    /// Runs `action`, asserts it failed with `error`, and that none of the market's accounts
    /// (group, banks, vaults, oracles, perp markets, every user's) changed.
    pub fn assert_rejected(
        &mut self,
        user: &User,
        error: MarginError,
        action: impl FnOnce(&mut Market) -> TxResult,
    ) {
        let before = self.snapshot(user);
        action(self).expect_margin_error(error);
        before.assert_unchanged(&self.chain);
    }

    /// Like `assert_rejected`, for errors raised by Anchor's account validation.
    pub fn assert_rejected_by_anchor(
        &mut self,
        user: &User,
        error: anchor_lang::error::ErrorCode,
        action: impl FnOnce(&mut Market) -> TxResult,
    ) {
        let before = self.snapshot(user);
        action(self).expect_anchor_error(error);
        before.assert_unchanged(&self.chain);
    }

    /// A Token-2022 mint (6 decimals) carrying one extension of type `E`, set up by `init`,
    /// written straight into the chain.
    pub fn token_2022_mint_with<E>(&mut self, init: impl FnOnce(&mut E)) -> Pubkey
    where
        E: spl_token_2022::extension::Extension + bytemuck::Pod + Default,
    {
        use spl_token_2022::extension::{
            BaseStateWithExtensionsMut, ExtensionType, StateWithExtensionsMut,
        };
        use spl_token_2022::state::Mint;
        let len = ExtensionType::try_calculate_account_len::<Mint>(&[E::TYPE]).unwrap();
        let mut data = vec![0u8; len];
        let mut state = StateWithExtensionsMut::<Mint>::unpack_uninitialized(&mut data).unwrap();
        init(state.init_extension::<E>(true).unwrap());
        state.base = Mint { decimals: 6, is_initialized: true, ..Mint::default() };
        state.pack_base();
        state.init_account_type().unwrap();
        let mint = self.chain.new_pubkey();
        self.chain.set_account(mint, anchor_spl::token_2022::ID, data);
        mint
    }

    /// `add_bank` (signed by the admin, who also pays) for `mint` under `token_program`, with a
    /// new $1 pull oracle (feed 3) and weights 0.90 / 0.95 / 1.05 / 1.10: the instruction, the
    /// bank it creates and its oracle.
    pub fn add_usd_bank_ix(
        &mut self,
        mint: Pubkey,
        token_program: Pubkey,
    ) -> (Instruction, Pubkey, Pubkey) {
        let oracle = self.chain.new_pubkey();
        let quote = quote_dollars(1, 0, self.now());
        self.write_oracle(OracleKind::PythPull, oracle, 3, quote, true);
        let config = bank_config(OracleKind::PythPull, 3, [9_000, 9_500, 10_500, 11_000]);
        let admin = self.admin.pubkey();
        let (ix, bank, _) =
            ix::add_bank(self.group, admin, admin, mint, token_program, oracle, config);
        (ix, bank, oracle)
    }

    /// `add_bank` for a Token-2022 `mint` is refused with `UnsupportedMintExtension`, changing
    /// nothing and creating no bank.
    pub fn assert_rejected_token_2022_mint(&mut self, user: &User, mint: Pubkey) {
        let (ix, bank, _) = self.add_usd_bank_ix(mint, anchor_spl::token_2022::ID);
        self.assert_rejected(user, MarginError::UnsupportedMintExtension, |m| {
            m.send_as_admin(&[ix])
        });
        assert!(self.chain.account(&bank).is_none());
    }

    /// A lender holding 1,000,000 USDC, 10,000 SOL and 100 BTC in the banks, so that borrows
    /// have liquidity.
    pub fn with_liquidity(&mut self) -> User {
        let amounts = [1_000_000_000_000, 10_000_000_000_000, 10_000_000_000];
        let lender = self.user(amounts);
        for (bank, amount) in self.banks().into_iter().zip(amounts) {
            self.deposit(&lender, &bank, amount).expect_ok("lender deposit");
        }
        lender
    }

    /// A second group (same admin, group_num 1) with one USDC-like bank of its own.
    pub fn other_group_bank(&mut self) -> (Pubkey, BankRef) {
        let (ix, group) = ix::create_group(
            self.admin.pubkey(),
            self.chain.payer.pubkey(),
            1,
            self.receiver_program,
            self.legacy_program,
        );
        let admin = self.admin.insecure_clone();
        self.chain.send(&[ix], &[&admin]).expect_ok("create other group");
        let oracle = self.chain.new_pubkey();
        let quote = quote_dollars(1, 0, self.now());
        self.write_oracle(OracleKind::PythPull, oracle, 0, quote, true);
        let (ix, bank, _) = ix::add_bank(
            group,
            self.admin.pubkey(),
            self.chain.payer.pubkey(),
            self.usdc.mint,
            anchor_spl::token::ID,
            oracle,
            bank_config(OracleKind::PythPull, 0, [9_500, 9_800, 10_200, 10_500]),
        );
        self.chain.send(&[ix], &[&admin]).expect_ok("add other bank");
        (group, self.bank_ref(&bank))
    }

    /// For every bank: the vault holds at least deposits − borrows + insurance. Rounding leaves
    /// dust in the vault, never takes it out; the dust grows with the number of operations.
    pub fn assert_vaults_cover_claims(&self) {
        for bank in self.banks() {
            let (vault, claims) = self.vault_and_claims(&bank);
            assert!(
                vault as i128 >= claims,
                "bank {}: vault {vault} < deposits − borrows + insurance {claims}",
                bank.index
            );
        }
    }

    /// [`Self::assert_vaults_cover_claims`], and at most a few units of dust: for tests with a
    /// handful of operations.
    pub fn assert_conservation(&self) {
        self.assert_vaults_cover_claims();
        for bank in self.banks() {
            let (vault, claims) = self.vault_and_claims(&bank);
            let vault = vault as i128;
            assert!(
                vault - claims <= 16,
                "bank {}: vault {vault} exceeds claims {claims} by more than rounding",
                bank.index
            );
        }
    }
}

impl Drop for Market {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_vaults_cover_claims();
        }
    }
}

impl Default for Market {
    fn default() -> Self {
        Self::new()
    }
}

fn placeholder() -> BankRef {
    BankRef {
        address: Pubkey::default(),
        index: u16::MAX,
        mint: Pubkey::default(),
        vault: Pubkey::default(),
        oracle: Pubkey::default(),
        token_program: Pubkey::default(),
    }
}

/// Sends `ix` signed by `signer` (the chain's payer pays).
pub fn send(m: &mut Market, ix: Instruction, signer: &User) -> TxResult {
    let kp = signer.keypair.insecure_clone();
    m.chain.send(&[ix], &[&kp])
}

/// `ix` with `key`'s signer flag cleared.
pub fn unsigned(mut ix: Instruction, key: Pubkey) -> Instruction {
    ix.accounts.iter_mut().filter(|a| a.pubkey == key).for_each(|a| a.is_signer = false);
    ix
}

/// A market with liquidity and a user holding 10 SOL deposited and 100 USDC borrowed.
pub fn market_with_borrower() -> (Market, User) {
    let mut m = Market::new();
    m.with_liquidity();
    let user = m.user([1_000_000_000, 20_000_000_000, 100_000_000]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&user, &usdc, 100_000_000).expect_ok("borrow USDC");
    (m, user)
}
