//! A ready market on the embedded chain: a group with three banks and real-format Pyth
//! accounts, plus funded users. Prices are chosen exact in Q64.64 so tests can state expected
//! values by hand.
//!
//! | bank | decimals | oracle | price | init/maint asset | maint/init liab |
//! |---|---|---|---|---|---|
//! | USDC | 6 | Pyth pull | $1 | 0.95 / 0.98 | 1.02 / 1.05 |
//! | SOL | 9 | Pyth pull | $125 | 0.80 / 0.90 | 1.10 / 1.20 |
//! | BTC | 8 | Pyth legacy | $100,000 | 0.85 / 0.92 | 1.08 / 1.15 |

use anchor_lang::prelude::AccountMeta;
use anchor_lang::AnchorDeserialize;
use cross_margin::instructions::{AccountHealth, BankConfig};
use cross_margin::state::{Bank, MarginAccount, OracleKind};
use cross_margin_client::ix::{self, BankRef, Movement, Transfer};
use cross_margin_client::pyth::{self, Quote};

use crate::*;

pub const START_TIME: i64 = 1_800_000_000;

pub struct Market {
    pub chain: EmbeddedChain,
    pub admin: Keypair,
    pub group: Pubkey,
    pub receiver_program: Pubkey,
    pub legacy_program: Pubkey,
    pub usdc: BankRef,
    pub sol: BankRef,
    pub btc: BankRef,
    /// Banks added after the first three, in index order.
    pub more_banks: Vec<BankRef>,
}

pub struct User {
    pub keypair: Keypair,
    pub account: Pubkey,
    /// Token account per bank index.
    pub tokens: Vec<Pubkey>,
}

pub fn feed_id(bank_index: u16) -> [u8; 32] {
    let mut id = [0u8; 32];
    id[0] = 0xfe;
    id[1..3].copy_from_slice(&bank_index.to_le_bytes());
    id
}

/// The test banks' configuration: `kind`, weights in bps.
pub fn bank_config(kind: OracleKind, index: u16, weights: [u32; 4]) -> BankConfig {
    BankConfig {
        oracle_kind: kind as u8,
        oracle_feed_id: feed_id(index),
        oracle_max_age_secs: 60,
        oracle_max_conf_bps: 200,
        oracle_conf_multiplier_bps: 10_000,
        init_asset_weight_bps: weights[0],
        maint_asset_weight_bps: weights[1],
        maint_liab_weight_bps: weights[2],
        init_liab_weight_bps: weights[3],
        liquidation_fee_bps: 500,
        insurance_fee_bps: 100,
        optimal_utilization_bps: 8_000,
        min_rate_bps: 0,
        optimal_rate_bps: 1_000,
        max_rate_bps: 10_000,
        deposit_limit_native: u64::MAX,
        borrow_limit_native: u64::MAX,
        deposit_weight_scale_start_quote: 0,
    }
}

impl Market {
    pub fn new() -> Self {
        let mut chain = chain();
        chain.set_unix_timestamp(START_TIME);
        let admin = chain.funded_keypair(100_000_000_000).unwrap();
        let receiver_program: Pubkey = pyth::RECEIVER_PROGRAM_MAINNET.parse().unwrap();
        let legacy_program: Pubkey = pyth::LEGACY_PROGRAM_MAINNET.parse().unwrap();
        let (ix, group) = ix::create_group(
            admin.pubkey(),
            chain.payer.pubkey(),
            0,
            receiver_program,
            legacy_program,
        );
        chain.send(&[ix], &[&admin]).expect_ok("create_group");

        let mut market = Market {
            chain,
            admin,
            group,
            receiver_program,
            legacy_program,
            usdc: placeholder(),
            sol: placeholder(),
            btc: placeholder(),
            more_banks: Vec::new(),
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
        let index = self.chain.load::<cross_margin::state::Group>(&self.group).unwrap().bank_count;
        let mint = self.chain.create_mint(decimals, anchor_spl::token::ID);
        let oracle = self.chain.new_pubkey();
        self.write_oracle(kind, oracle, index, quote_dollars(price.0, price.1, self.now()), true);
        let (ix, bank, _) = ix::add_bank(
            self.group,
            self.admin.pubkey(),
            self.chain.payer.pubkey(),
            mint,
            anchor_spl::token::ID,
            oracle,
            bank_config(kind, index, weights),
        );
        self.chain.send(&[ix], &[&self.admin]).expect_ok("add_bank");
        let bank = self.bank_ref(&bank);
        if index >= 3 {
            self.more_banks.push(bank);
        }
        bank
    }

    pub fn now(&self) -> i64 {
        self.chain.clock().unix_timestamp
    }

    pub fn bank_ref(&self, bank: &Pubkey) -> BankRef {
        BankRef::from_bank(*bank, &self.chain.load::<Bank>(bank).unwrap())
    }

    pub fn bank(&self, bank: &BankRef) -> Bank {
        self.chain.load::<Bank>(&bank.address).unwrap()
    }

    /// Every bank of the group, in index order.
    pub fn banks(&self) -> Vec<BankRef> {
        let mut banks = vec![self.usdc, self.sol, self.btc];
        banks.extend(self.more_banks.iter().copied());
        banks
    }

    pub fn bank_by_index(&self, index: u16) -> BankRef {
        self.banks().into_iter().find(|b| b.index == index).expect("known bank")
    }

    /// Writes a bank's oracle account in its real format.
    pub fn write_oracle(
        &mut self,
        kind: OracleKind,
        oracle: Pubkey,
        index: u16,
        quote: Quote,
        valid: bool,
    ) {
        match kind {
            OracleKind::PythPull => {
                let data = pyth::price_update_v2(feed_id(index), quote, valid);
                self.chain.set_account(oracle, self.receiver_program, data);
            }
            OracleKind::PythLegacy => {
                let data = pyth::legacy_price_account(quote, valid);
                self.chain.set_account(oracle, self.legacy_program, data);
            }
        }
    }

    /// Writes `quote` into the bank's oracle account.
    pub fn set_price(&mut self, bank: &BankRef, quote: Quote) {
        let kind = self.bank(bank).oracle_kind().unwrap();
        self.write_oracle(kind, bank.oracle, bank.index, quote, true);
    }

    /// Refreshes every oracle at its current price to the current time.
    pub fn refresh_prices(&mut self) {
        for bank in self.banks() {
            let mut quote = self.quote(&bank);
            quote.publish_time = self.now();
            self.set_price(&bank, quote);
        }
    }

    /// The quote currently stored in a bank's oracle account.
    pub fn quote(&self, bank: &BankRef) -> Quote {
        let account = self.chain.account(&bank.oracle).unwrap();
        let group = self.chain.load::<cross_margin::state::Group>(&self.group).unwrap();
        let b = self.bank(bank);
        let oracle = cross_margin::oracle::OracleAccount {
            key: &bank.oracle,
            owner: &account.owner,
            data: &account.data,
        };
        let raw = cross_margin::oracle::read_raw(
            b.oracle_kind().unwrap(),
            &group,
            &b.oracle_feed_id,
            oracle,
        )
        .unwrap();
        Quote {
            price: raw.price,
            conf: raw.conf,
            exponent: raw.exponent,
            publish_time: raw.publish_time,
        }
    }

    /// A user with a margin account and `funds[i]` native tokens of bank i's mint (for the first
    /// three banks; see [`Market::fund`] for the others).
    pub fn user(&mut self, funds: [u64; 3]) -> User {
        let keypair = self.chain.funded_keypair(10_000_000_000).unwrap();
        let (ix, account) = ix::create_account(self.group, keypair.pubkey(), keypair.pubkey(), 0);
        self.chain.send(&[ix], &[&keypair]).expect_ok("create_account");
        let tokens = self
            .banks()
            .iter()
            .zip(funds)
            .map(|(bank, amount)| {
                self.chain.create_token_account(&bank.mint, &keypair.pubkey(), amount)
            })
            .collect();
        User { keypair, account, tokens }
    }

    /// Gives `user` a token account for every bank it has none for, holding `amount` of each.
    pub fn fund(&mut self, user: &mut User, amount: u64) {
        for bank in self.banks().into_iter().skip(user.tokens.len()) {
            let token = self.chain.create_token_account(&bank.mint, &user.keypair.pubkey(), amount);
            user.tokens.push(token);
        }
    }

    pub fn margin_account(&self, user: &User) -> MarginAccount {
        self.chain.load(&user.account).unwrap()
    }

    pub fn transfer(&self, user: &User, bank: &BankRef) -> Transfer {
        Transfer {
            group: self.group,
            account: user.account,
            owner: user.keypair.pubkey(),
            bank: *bank,
            // Users get token accounts for the three standard banks; tests that use more banks
            // set `user_token` themselves.
            user_token: user.tokens.get(bank.index as usize).copied().unwrap_or_default(),
        }
    }

    /// Health accounts for the user's positions after `movement` of `amount` in `bank`.
    pub fn health_after(
        &self,
        user: &User,
        bank: &BankRef,
        movement: Movement,
        amount: u64,
    ) -> Vec<AccountMeta> {
        let account = self.margin_account(user);
        let after = ix::account_after(&account, &self.bank(bank), movement, amount, self.now());
        ix::health_accounts(&after, |i| self.bank_by_index(i))
    }

    pub fn health_accounts(&self, user: &User) -> Vec<AccountMeta> {
        ix::health_accounts(&self.margin_account(user), |i| self.bank_by_index(i))
    }

    pub fn deposit(&mut self, user: &User, bank: &BankRef, amount: u64) -> TxResult {
        let ix = ix::deposit(&self.transfer(user, bank), amount);
        self.chain.send(&[ix], &[&user.keypair])
    }

    pub fn repay(&mut self, user: &User, bank: &BankRef, amount: u64) -> TxResult {
        let ix = ix::repay(&self.transfer(user, bank), amount);
        self.chain.send(&[ix], &[&user.keypair])
    }

    pub fn withdraw(&mut self, user: &User, bank: &BankRef, amount: u64) -> TxResult {
        let health = self.health_after(user, bank, Movement::Withdraw, amount);
        let ix = ix::withdraw(&self.transfer(user, bank), amount, health);
        self.chain.send(&[ix], &[&user.keypair])
    }

    pub fn borrow(&mut self, user: &User, bank: &BankRef, amount: u64) -> TxResult {
        let health = self.health_after(user, bank, Movement::Borrow, amount);
        let ix = ix::borrow(&self.transfer(user, bank), amount, health);
        self.chain.send(&[ix], &[&user.keypair])
    }

    /// The `health` view, decoded from return data.
    pub fn health(&mut self, user: &User) -> (AccountHealth, Executed) {
        let ix = ix::health(self.group, user.account, self.health_accounts(user));
        let executed = self.chain.send(&[ix], &[]).expect_ok("health");
        let view = AccountHealth::deserialize(&mut executed.return_data.as_slice())
            .expect("AccountHealth");
        (view, executed)
    }

    /// Every account a user action can touch, for no-state-change assertions.
    pub fn snapshot(&self, user: &User) -> Snapshot {
        let mut addresses = vec![self.group, user.account];
        addresses.extend(user.tokens.iter().copied());
        for bank in self.banks() {
            addresses.extend([bank.address, bank.vault, bank.oracle]);
        }
        Snapshot::take(&self.chain, &addresses)
    }
}

impl Market {
    /// Runs `action`, asserts it failed with `error`, and that none of the user's, the group's
    /// or the banks' accounts changed.
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
        self.chain.send(&[ix], &[&self.admin]).expect_ok("create other group");
        let oracle = self.chain.new_pubkey();
        self.write_oracle(OracleKind::PythPull, oracle, 0, quote_dollars(1, 0, self.now()), true);
        let (ix, bank, _) = ix::add_bank(
            group,
            self.admin.pubkey(),
            self.chain.payer.pubkey(),
            self.usdc.mint,
            anchor_spl::token::ID,
            oracle,
            bank_config(OracleKind::PythPull, 0, [9_500, 9_800, 10_200, 10_500]),
        );
        self.chain.send(&[ix], &[&self.admin]).expect_ok("add other bank");
        (group, self.bank_ref(&bank))
    }
}

impl Market {
    /// `liquidator` liquidates up to `max_liab_amount` of `liquidatee`'s debt in `liab`, taking
    /// collateral in `asset`.
    pub fn liquidate(
        &mut self,
        liquidator: &User,
        liquidatee: &User,
        liab: &BankRef,
        asset: &BankRef,
        max_liab_amount: u64,
    ) -> TxResult {
        let ix = self.liquidate_ix(liquidator, liquidatee, liab, asset, max_liab_amount);
        self.chain.send(&[ix], &[&liquidator.keypair])
    }

    pub fn liquidate_ix(
        &self,
        liquidator: &User,
        liquidatee: &User,
        liab: &BankRef,
        asset: &BankRef,
        max_liab_amount: u64,
    ) -> Instruction {
        let owed = cross_margin::positions::borrow_native(
            &self.margin_account(liquidatee),
            &self.bank(liab),
        )
        .unwrap_or(0);
        // The liquidator's positions after: any positive amounts give the same set of slots.
        let after = ix::liquidator_after(
            &self.margin_account(liquidator),
            &self.bank(liab),
            max_liab_amount.min(owed).max(1),
            &self.bank(asset),
            1,
            self.now(),
        );
        ix::liquidate(
            self.group,
            liquidator.account,
            liquidator.keypair.pubkey(),
            liquidatee.account,
            liab.address,
            asset.address,
            max_liab_amount,
            self.health_accounts(liquidatee),
            ix::health_accounts(&after, |i| self.bank_by_index(i)),
        )
    }

    /// Anyone (here the fee payer) writes off `account`'s debt in `liab`.
    pub fn resolve_bankruptcy(&mut self, account: &User, liab: &BankRef) -> TxResult {
        let health = self.health_accounts(account);
        let ix = ix::resolve_bankruptcy(self.group, account.account, liab.address, health);
        self.chain.send(&[ix], &[])
    }

    /// The admin tops up `bank`'s insurance fund with `amount` freshly minted tokens.
    pub fn fund_insurance(&mut self, bank: &BankRef, amount: u64) -> TxResult {
        let source = self.chain.create_token_account(&bank.mint, &self.admin.pubkey(), amount);
        let ix = ix::fund_insurance(self.group, self.admin.pubkey(), bank, source, amount);
        self.chain.send(&[ix], &[&self.admin])
    }

    /// For every bank: the vault holds at least deposits − borrows + insurance, and at most a
    /// few units more (rounding always leaves dust in the vault, never takes it out).
    pub fn assert_conservation(&self) {
        for bank in self.banks() {
            let b = self.bank(&bank);
            let vault = self.chain.token_balance(&bank.vault) as i128;
            let owed = b.total_deposits_native().unwrap() as i128
                - b.total_borrows_native().unwrap() as i128
                + b.insurance_native as i128;
            assert!(
                vault >= owed,
                "bank {}: vault {vault} < deposits − borrows + insurance {owed}",
                bank.index
            );
            assert!(
                vault - owed <= 16,
                "bank {}: vault {vault} exceeds claims {owed} by more than rounding",
                bank.index
            );
        }
    }
}

impl Default for Market {
    fn default() -> Self {
        Self::new()
    }
}

/// `dollars` ± `conf` (in the same 1e-4 dollar units as the mantissa), exponent −4.
pub fn quote_dollars(dollars: i64, conf: u64, publish_time: i64) -> Quote {
    Quote { price: dollars * 10_000, conf, exponent: -4, publish_time }
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
