//! A whole market on the embedded chain: a group, banks with real-format Pyth accounts, and
//! users with token accounts and margin accounts. The integration tests, the keeper's tests, the
//! demo and the stress lab all build their markets with it.

use anchor_lang::prelude::AccountMeta;
use anchor_lang::AnchorDeserialize;
use cross_margin::health::PriceShock;
use cross_margin::instructions::AccountHealth;
use cross_margin::state::BankConfig;
use cross_margin::state::{Bank, Group, MarginAccount, OracleKind};

use cross_margin_client::embedded::{EmbeddedChain, SetupError};
use cross_margin_client::ix::{self, BankRef, Movement, Transfer};
use cross_margin_client::outcome::{Executed, Failed, TxResult};
use cross_margin_client::perp_ix::{health_accounts_with_perps, PerpMarketRef};
use cross_margin_client::pyth::{self, Quote};
use cross_margin_client::{Instruction, Keypair, Pubkey, Signer};

/// The feed id a sandbox bank's pull oracle carries: a recognisable pattern per bank index.
pub fn feed_id(bank_index: u16) -> [u8; 32] {
    let mut id = [0u8; 32];
    id[0] = 0xfe;
    id[1..3].copy_from_slice(&bank_index.to_le_bytes());
    id
}

/// A bank configuration with the given weights (init asset, maint asset, maint liability, init
/// liability, in bps) and the sandbox's defaults: a 60 s max oracle age, 2% max confidence, k = 1,
/// a 0% / 10% / 100% APR curve kinked at 80% utilization, no limits, and liquidation + insurance
/// fees of 5% + 1% for volatile collateral, or 1.5% + 0.5% where (1 + fees) × the maint asset
/// weight would reach 1 (stablecoins: the program refuses fees that make liquidating the
/// collateral lower health). `add_bank` fills in the oracle kind and feed id.
pub fn bank_config(weights: [u32; 4]) -> BankConfig {
    let (liquidation_fee_bps, insurance_fee_bps) =
        if 10_600 * weights[1] as u64 >= 100_000_000 { (150, 50) } else { (500, 100) };
    bank_config_with_fees(weights, liquidation_fee_bps, insurance_fee_bps)
}

/// [`bank_config`] with explicit fees.
pub fn bank_config_with_fees(
    weights: [u32; 4],
    liquidation_fee_bps: u32,
    insurance_fee_bps: u32,
) -> BankConfig {
    BankConfig {
        oracle_kind: OracleKind::PythPull as u8,
        oracle_feed_id: [0; 32],
        oracle_max_age_secs: 60,
        oracle_max_conf_bps: 200,
        oracle_conf_multiplier_bps: 10_000,
        init_asset_weight_bps: weights[0],
        maint_asset_weight_bps: weights[1],
        maint_liab_weight_bps: weights[2],
        init_liab_weight_bps: weights[3],
        liquidation_fee_bps,
        insurance_fee_bps,
        optimal_utilization_bps: 8_000,
        min_rate_bps: 0,
        optimal_rate_bps: 1_000,
        max_rate_bps: 10_000,
        padding: [0; 3],
        deposit_limit_native: u64::MAX,
        borrow_limit_native: u64::MAX,
        deposit_weight_scale_start_quote: 0,
        net_borrow_limit_per_window_quote: 0,
        net_borrow_limit_window_secs: 0,
    }
}

/// `dollars` ± `conf` (in the same 1e-4 dollar units as the mantissa), exponent −4.
pub fn quote_dollars(dollars: i64, conf: u64, publish_time: i64) -> Quote {
    Quote { price: dollars * 10_000, conf, exponent: -4, publish_time }
}

/// A user: a keypair, its margin account (number 0) and a token account per bank index.
pub struct User {
    pub keypair: Keypair,
    pub account: Pubkey,
    /// Token account per bank index (missing entries: see [`Sandbox::fund`]).
    pub tokens: Vec<Pubkey>,
}

pub struct Sandbox {
    pub chain: EmbeddedChain,
    pub admin: Keypair,
    pub group: Pubkey,
    pub receiver_program: Pubkey,
    pub legacy_program: Pubkey,
    /// Every bank, in index order.
    pub banks: Vec<BankRef>,
    /// Every perp market, in index order.
    pub perps: Vec<PerpMarketRef>,
}

impl Sandbox {
    /// Creates group 0 of a new funded admin, trusting Pyth's mainnet program ids.
    pub fn new(mut chain: EmbeddedChain) -> Result<Self, SetupError> {
        let admin = chain.funded_keypair(100_000_000_000)?;
        let receiver_program: Pubkey = pyth::RECEIVER_PROGRAM_MAINNET.parse().expect("valid key");
        let legacy_program: Pubkey = pyth::LEGACY_PROGRAM_MAINNET.parse().expect("valid key");
        let (ix, group) = ix::create_group(
            admin.pubkey(),
            chain.payer.pubkey(),
            0,
            receiver_program,
            legacy_program,
        );
        chain.send(&[ix], &[&admin]).map_err(|f| setup_failed("create_group", &f))?;
        Ok(Self {
            chain,
            admin,
            group,
            receiver_program,
            legacy_program,
            banks: Vec::new(),
            perps: Vec::new(),
        })
    }

    /// Sends `instructions` signed by the group admin (and the fee payer).
    pub fn send_as_admin(&mut self, instructions: &[Instruction]) -> TxResult {
        self.chain.send(instructions, &[&self.admin])
    }

    pub fn now(&self) -> i64 {
        self.chain.clock().unix_timestamp
    }

    pub fn group_state(&self) -> Group {
        self.chain.load(&self.group).expect("the group exists")
    }

    /// Adds a bank for a new SPL Token mint, its oracle of `kind` quoting `quote`. The config's
    /// oracle kind and feed id are set to match the oracle account the sandbox writes.
    pub fn add_bank(
        &mut self,
        decimals: u8,
        kind: OracleKind,
        mut config: BankConfig,
        quote: Quote,
    ) -> Result<BankRef, Failed> {
        let index = self.group_state().bank_count;
        let mint = self.chain.create_mint(decimals, anchor_spl::token::ID);
        let oracle = self.chain.new_pubkey();
        self.write_oracle(kind, oracle, index, quote, true);
        config.oracle_kind = kind as u8;
        config.oracle_feed_id = feed_id(index);
        let (ix, bank, _) = ix::add_bank(
            self.group,
            self.admin.pubkey(),
            self.chain.payer.pubkey(),
            mint,
            anchor_spl::token::ID,
            oracle,
            config,
        );
        self.chain.send(&[ix], &[&self.admin])?;
        let bank = self.bank_ref(&bank);
        self.banks.push(bank);
        Ok(bank)
    }

    pub fn bank_ref(&self, bank: &Pubkey) -> BankRef {
        BankRef::from_bank(*bank, &self.chain.load::<Bank>(bank).expect("the bank exists"))
    }

    pub fn bank(&self, bank: &BankRef) -> Bank {
        self.chain.load::<Bank>(&bank.address).expect("the bank exists")
    }

    pub fn bank_by_index(&self, index: u16) -> BankRef {
        *self.banks.get(index as usize).expect("a bank of this sandbox")
    }

    /// Writes an oracle account in its real format (`valid`: fully verified / trading), its EMA
    /// equal to the price.
    pub fn write_oracle(
        &mut self,
        kind: OracleKind,
        oracle: Pubkey,
        index: u16,
        quote: Quote,
        valid: bool,
    ) {
        self.write_oracle_with_ema(kind, oracle, index, quote, pyth::Ema::at(&quote), valid);
    }

    /// [`Sandbox::write_oracle`] with an EMA (the program's stable price) of its own.
    pub fn write_oracle_with_ema(
        &mut self,
        kind: OracleKind,
        oracle: Pubkey,
        index: u16,
        quote: Quote,
        ema: pyth::Ema,
        valid: bool,
    ) {
        self.write_oracle_with_feed(kind, oracle, feed_id(index), quote, ema, valid);
    }

    /// Writes an oracle account carrying `feed` (pull) in its real format.
    pub fn write_oracle_with_feed(
        &mut self,
        kind: OracleKind,
        oracle: Pubkey,
        feed: [u8; 32],
        quote: Quote,
        ema: pyth::Ema,
        valid: bool,
    ) {
        match kind {
            OracleKind::PythPull => {
                let data = pyth::price_update_v2_with_ema(feed, quote, ema, valid);
                self.chain.set_account(oracle, self.receiver_program, data);
            }
            OracleKind::PythLegacy => {
                let data = pyth::legacy_price_account_with_ema(quote, ema, valid);
                self.chain.set_account(oracle, self.legacy_program, data);
            }
        }
    }

    /// Writes `quote` into the bank's oracle account.
    pub fn set_price(&mut self, bank: &BankRef, quote: Quote) {
        let kind = self.bank(bank).oracle_kind().expect("a known oracle kind");
        self.write_oracle(kind, bank.oracle, bank.index, quote, true);
    }

    /// Writes `quote` and a separate EMA (stable price) into the bank's oracle account.
    pub fn set_price_with_ema(&mut self, bank: &BankRef, quote: Quote, ema: pyth::Ema) {
        let kind = self.bank(bank).oracle_kind().expect("a known oracle kind");
        self.write_oracle_with_ema(kind, bank.oracle, bank.index, quote, ema, true);
    }

    /// Republishes every oracle (banks' and perp markets') at its current price with the
    /// current time.
    pub fn refresh_prices(&mut self) {
        for bank in self.banks.clone() {
            let quote = Quote { publish_time: self.now(), ..self.quote(&bank) };
            self.set_price(&bank, quote);
        }
        for market in self.perps.clone() {
            let quote = Quote { publish_time: self.now(), ..self.perp_quote(&market) };
            self.set_perp_price(&market, quote);
        }
    }

    /// The quote currently stored in a perp market's oracle account.
    pub fn perp_quote(&self, market: &PerpMarketRef) -> Quote {
        let account = self.chain.account(&market.oracle).expect("the oracle exists");
        let m = self.perp(market);
        let oracle = cross_margin::oracle::OracleAccount {
            key: &market.oracle,
            owner: &account.owner,
            data: &account.data,
        };
        let kind = OracleKind::from_u8(m.config.oracle_kind).expect("a known oracle kind");
        let raw = cross_margin::oracle::read_raw(
            kind,
            &self.group_state(),
            &m.config.oracle_feed_id,
            oracle,
        )
        .expect("the sandbox writes readable oracles");
        Quote {
            price: raw.price,
            conf: raw.conf,
            exponent: raw.exponent,
            publish_time: raw.publish_time,
        }
    }

    /// The quote currently stored in a bank's oracle account.
    pub fn quote(&self, bank: &BankRef) -> Quote {
        let account = self.chain.account(&bank.oracle).expect("the oracle exists");
        let b = self.bank(bank);
        let oracle = cross_margin::oracle::OracleAccount {
            key: &bank.oracle,
            owner: &account.owner,
            data: &account.data,
        };
        let kind = b.oracle_kind().expect("a known oracle kind");
        let raw = cross_margin::oracle::read_raw(
            kind,
            &self.group_state(),
            &b.config.oracle_feed_id,
            oracle,
        )
        .expect("the sandbox writes readable oracles");
        Quote {
            price: raw.price,
            conf: raw.conf,
            exponent: raw.exponent,
            publish_time: raw.publish_time,
        }
    }

    /// A new user with a margin account and `funds[i]` native tokens of bank i's mint (banks
    /// beyond `funds` get no token account; see [`Sandbox::fund`]).
    pub fn user(&mut self, funds: &[u64]) -> Result<User, Failed> {
        let keypair = self.chain.funded_keypair(10_000_000_000).map_err(|e| Failed {
            error: solana_transaction_error::TransactionError::AccountNotFound,
            compute_units: 0,
            logs: vec![e.to_string()],
        })?;
        let (ix, account) = ix::create_account(self.group, keypair.pubkey(), keypair.pubkey(), 0);
        self.chain.send(&[ix], &[&keypair])?;
        let tokens = self
            .banks
            .clone()
            .iter()
            .zip(funds)
            .map(|(bank, &amount)| {
                self.chain.create_token_account(&bank.mint, &keypair.pubkey(), amount)
            })
            .collect();
        Ok(User { keypair, account, tokens })
    }

    /// Gives `user` a token account for every bank it has none for, holding `amount` of each.
    pub fn fund(&mut self, user: &mut User, amount: u64) {
        for bank in self.banks.clone().into_iter().skip(user.tokens.len()) {
            let token = self.chain.create_token_account(&bank.mint, &user.keypair.pubkey(), amount);
            user.tokens.push(token);
        }
    }

    pub fn margin_account(&self, user: &User) -> MarginAccount {
        self.chain.load(&user.account).expect("the margin account exists")
    }

    pub fn transfer(&self, user: &User, bank: &BankRef) -> Transfer {
        Transfer {
            group: self.group,
            account: user.account,
            owner: user.keypair.pubkey(),
            bank: *bank,
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
        self.health_accounts_of(&after)
    }

    pub fn health_accounts(&self, user: &User) -> Vec<AccountMeta> {
        self.health_accounts_of(&self.margin_account(user))
    }

    /// The health accounts of `account` (token pairs, the settle bank's pair if needed, perp
    /// pairs).
    pub fn health_accounts_of(&self, account: &MarginAccount) -> Vec<AccountMeta> {
        health_accounts_with_perps(account, |i| self.bank_by_index(i), |i| self.perp_by_index(i))
    }

    /// `resolve_bankruptcy`'s remaining accounts: the health accounts, deposit banks writable.
    pub fn write_off_accounts_of(&self, account: &MarginAccount) -> Vec<AccountMeta> {
        ix::write_off_accounts(account, |i| self.bank_by_index(i))
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

    /// The program's `health` view of a margin account, decoded from its return data.
    pub fn health_of(&mut self, account: &Pubkey) -> Result<(AccountHealth, Executed), Failed> {
        let state: MarginAccount = self.chain.load(account).expect("the margin account exists");
        let ix = ix::health(self.group, *account, self.health_accounts_of(&state));
        let executed = self.chain.send(&[ix], &[])?;
        let view = AccountHealth::deserialize(&mut executed.return_data.as_slice())
            .expect("the health view returns AccountHealth");
        Ok((view, executed))
    }

    /// The program's `health_under_shock` view of a margin account.
    pub fn health_under_shock(
        &mut self,
        account: &Pubkey,
        token_shocks: &[PriceShock],
        perp_shocks: &[PriceShock],
    ) -> TxResult {
        let state: MarginAccount = self.chain.load(account).expect("the margin account exists");
        let health = self.health_accounts_of(&state);
        let (tokens, perps) = (token_shocks.to_vec(), perp_shocks.to_vec());
        let ix = ix::health_under_shock(self.group, *account, health, tokens, perps);
        self.chain.send(&[ix], &[])
    }

    /// The program's `health_under_shock` view of a margin account by simulation: nothing is
    /// executed or kept (hence `&self`), the view decoded from its return data.
    pub fn simulate_health_under_shock(
        &self,
        account: &Pubkey,
        token_shocks: &[PriceShock],
        perp_shocks: &[PriceShock],
    ) -> Result<AccountHealth, Failed> {
        let state: MarginAccount = self.chain.load(account).expect("the margin account exists");
        let health = self.health_accounts_of(&state);
        let (tokens, perps) = (token_shocks.to_vec(), perp_shocks.to_vec());
        let ix = ix::health_under_shock(self.group, *account, health, tokens, perps);
        let executed =
            self.chain.simulate_versioned(self.chain.versioned_tx(&[ix], &[], &[])?)?;
        Ok(AccountHealth::deserialize(&mut executed.return_data.as_slice())
            .expect("the health_under_shock view returns AccountHealth"))
    }

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
        // The liquidator's positions after, for a small amount (the keeper plans exact ones).
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
            self.health_accounts_of(&after),
        )
    }

    /// Anyone (here the fee payer) writes off `account`'s debt in `liab`.
    pub fn resolve_bankruptcy(&mut self, account: &User, liab: &BankRef) -> TxResult {
        let health = self.write_off_accounts_of(&self.margin_account(account));
        let ix = ix::resolve_bankruptcy(self.group, account.account, liab.address, health);
        self.chain.send(&[ix], &[])
    }

    /// The admin tops up `bank`'s insurance fund with `amount` freshly minted tokens.
    pub fn fund_insurance(&mut self, bank: &BankRef, amount: u64) -> TxResult {
        let source = self.chain.create_token_account(&bank.mint, &self.admin.pubkey(), amount);
        let ix = ix::fund_insurance(self.group, self.admin.pubkey(), bank, source, amount);
        self.chain.send(&[ix], &[&self.admin])
    }

    /// For one bank: the tokens in its vault, and what it owes (deposits − borrows + insurance).
    /// Rounding always leaves dust in the vault, so the first is at least the second.
    pub fn vault_and_claims(&self, bank: &BankRef) -> (u64, i128) {
        let b = self.bank(bank);
        let vault = self.chain.token_balance(&bank.vault);
        let claims = b.total_deposits_native().expect("fits") as i128
            - b.total_borrows_native().expect("fits") as i128
            + b.insurance_native as i128;
        (vault, claims)
    }
}

fn setup_failed(what: &str, failed: &Failed) -> SetupError {
    SetupError(format!("{what} failed: {:?}\n{}", failed.error, failed.logs.join("\n")))
}
