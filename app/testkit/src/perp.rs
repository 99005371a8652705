//! Perp markets in the sandbox: adding them over real-format Pyth accounts, their prices, and
//! the user actions (orders, pool deposits and withdrawals, settlement) with their health
//! accounts built as a client would.

use cross_margin::error::MarginError;
use cross_margin::math::Round;
use cross_margin::perp::actions::touch_market;
use cross_margin::perp::{funding_rate_bps_per_day, PerpOrder, PerpSide};
use cross_margin::state::{
    Bank, MarginAccount, OracleKind, PerpMarket, PerpMarketConfig, PerpSlot,
};
use cross_margin_client::ix::{self, BankRef, Movement};
use cross_margin_client::outcome::{Failed, TxResult};
use cross_margin_client::perp_ix::{self, PerpMarketRef, PerpTrade};
use cross_margin_client::pyth::Quote;
use cross_margin_client::{Instruction, Pubkey, Signer};

use crate::sandbox::{feed_id, Sandbox, User};

/// The feed id of perp market `index`'s pull oracle (apart from every bank's).
pub fn perp_feed_id(index: u16) -> [u8; 32] {
    let mut id = feed_id(index);
    id[0] = 0xfd;
    id
}

/// A perp market over a 6-decimal base (lots of 0.01 token, so whole-dollar prices are exact
/// in Q64.64), with the sandbox's oracle checks
/// (60 s, 2%, k = 1): 10× init and 20× maint leverage (base weights 0.90 / 0.95), unsettled
/// gains at 0.5 (init) and 0.9 (maint), a 0.1% taker fee, impact 1.0 × skew / pool up to 1%,
/// funding 0.1 × skew / pool up to 0.5% a day with 20% kept by the pool, liquidation fees 2% +
/// 1%, a pool cover of 20% and caps of 10,000 tokens a side. `add_perp_market` fills in the
/// oracle kind and feed id.
pub fn perp_config() -> PerpMarketConfig {
    PerpMarketConfig {
        oracle_feed_id: [0; 32],
        oracle_max_age_secs: 60,
        oracle_max_conf_bps: 200,
        oracle_conf_multiplier_bps: 10_000,
        init_base_weight_bps: 9_000,
        maint_base_weight_bps: 9_500,
        init_pnl_weight_bps: 5_000,
        maint_pnl_weight_bps: 9_000,
        taker_fee_bps: 10,
        impact_coeff_bps: 10_000,
        max_impact_bps: 100,
        funding_coeff_bps: 1_000,
        max_funding_bps_per_day: 50,
        pool_funding_share_bps: 2_000,
        liquidation_fee_bps: 200,
        insurance_fee_bps: 100,
        pool_cover_bps: 2_000,
        oracle_kind: OracleKind::PythPull as u8,
        base_decimals: 6,
        padding: [0; 6],
        base_lot_size: 10_000,
        max_long_lots: 1_000_000,
        max_short_lots: 1_000_000,
    }
}

/// An order of `size_lots` on `side` accepting any price.
pub fn market_order(side: PerpSide, size_lots: u64) -> PerpOrder {
    PerpOrder::market(side, size_lots)
}

impl Sandbox {
    /// Adds the group's next perp market, settling in `settle`, its oracle of `kind` quoting
    /// `quote`. The config's oracle kind and feed id are set to match.
    pub fn add_perp_market(
        &mut self,
        settle: &BankRef,
        kind: OracleKind,
        mut config: PerpMarketConfig,
        quote: Quote,
    ) -> Result<PerpMarketRef, Failed> {
        let index = self.group_state().perp_market_count;
        let oracle = self.chain.new_pubkey();
        config.oracle_kind = kind as u8;
        config.oracle_feed_id = perp_feed_id(index);
        self.write_perp_oracle(kind, oracle, index, quote);
        let (ix, address) = perp_ix::add_perp_market(
            self.group,
            self.admin.pubkey(),
            self.chain.payer.pubkey(),
            settle.address,
            oracle,
            index,
            config,
        );
        self.send_as_admin(&[ix])?;
        let market = PerpMarketRef { address, index, oracle, settle_bank: *settle };
        self.perps.push(market);
        Ok(market)
    }

    fn write_perp_oracle(&mut self, kind: OracleKind, oracle: Pubkey, index: u16, quote: Quote) {
        let ema = cross_margin_client::pyth::Ema::at(&quote);
        self.write_oracle_with_feed(kind, oracle, perp_feed_id(index), quote, ema, true);
    }

    pub fn perp(&self, market: &PerpMarketRef) -> PerpMarket {
        self.chain.load(&market.address).expect("the perp market exists")
    }

    pub fn perp_by_index(&self, index: u16) -> PerpMarketRef {
        *self.perps.get(index as usize).expect("a perp market of this sandbox")
    }

    /// Writes `quote` into the perp market's oracle account (EMA equal to it).
    pub fn set_perp_price(&mut self, market: &PerpMarketRef, quote: Quote) {
        let kind = OracleKind::from_u8(self.perp(market).config.oracle_kind).expect("known kind");
        self.write_perp_oracle(kind, market.oracle, market.index, quote);
    }

    pub fn perp_trade(&self, user: &User, market: &PerpMarketRef) -> PerpTrade {
        PerpTrade {
            group: self.group,
            account: user.account,
            owner: user.keypair.pubkey(),
            market: *market,
        }
    }

    /// The health accounts of `account` once it holds a slot in `market`.
    pub fn health_accounts_with_slot(
        &self,
        account: &MarginAccount,
        market: &PerpMarketRef,
    ) -> Vec<anchor_lang::prelude::AccountMeta> {
        let after = perp_ix::account_with_perp_slot(account, market);
        self.health_accounts_of(&after)
    }

    pub fn place_perp_order(
        &mut self,
        user: &User,
        market: &PerpMarketRef,
        order: PerpOrder,
    ) -> TxResult {
        let health = self.health_accounts_with_slot(&self.margin_account(user), market);
        let ix = perp_ix::place_perp_order(&self.perp_trade(user, market), order, health);
        self.chain.send(&[ix], &[&user.keypair])
    }

    /// `pool_deposit`: the health accounts are the account's after the deposit leaves its
    /// settle-bank position (emptied, that position needs the settle bank's own pair).
    pub fn pool_deposit(&mut self, user: &User, market: &PerpMarketRef, amount: u64) -> TxResult {
        let account = self.margin_account(user);
        let bank = self.bank(&market.settle_bank);
        let after = ix::account_after(&account, &bank, Movement::Withdraw, amount, self.now());
        let health = self.health_accounts_with_slot(&after, market);
        let ix = perp_ix::pool_deposit(&self.perp_trade(user, market), amount, health);
        self.chain.send(&[ix], &[&user.keypair])
    }

    pub fn pool_withdraw(&mut self, user: &User, market: &PerpMarketRef, shares: u64) -> TxResult {
        let ix = perp_ix::pool_withdraw(&self.perp_trade(user, market), shares);
        self.chain.send(&[ix], &[&user.keypair])
    }

    /// `settle_pnl` for `account`, sent (and paid) by the chain's fee payer: anyone may. With
    /// the account's health accounts, as a keeper sends it.
    pub fn settle_pnl(&mut self, account: &Pubkey, market: &PerpMarketRef) -> TxResult {
        let health = self.health_accounts_of(&self.chain.load(account).expect("an account"));
        let ix = perp_ix::settle_pnl(self.group, *account, market, health);
        self.chain.send(&[ix], &[])
    }

    /// `liquidate_perp` of `liquidatee`'s position in `market` by `liquidator`'s account.
    pub fn liquidate_perp(
        &mut self,
        liquidator: &User,
        liquidatee: &Pubkey,
        market: &PerpMarketRef,
        max_base_lots: u64,
    ) -> TxResult {
        let ix = self.liquidate_perp_ix(liquidator, liquidatee, market, max_base_lots);
        self.chain.send(&[ix], &[&liquidator.keypair])
    }

    pub fn liquidate_perp_ix(
        &self,
        liquidator: &User,
        liquidatee: &Pubkey,
        market: &PerpMarketRef,
        max_base_lots: u64,
    ) -> Instruction {
        let health = self.health_accounts_of(&self.chain.load(liquidatee).expect("an account"));
        perp_ix::liquidate_perp(
            self.group,
            liquidator.account,
            liquidator.keypair.pubkey(),
            *liquidatee,
            market,
            max_base_lots,
            health,
        )
    }

    /// `resolve_perp_bankruptcy` of `account`'s loss in `market`, sent by the fee payer.
    pub fn resolve_perp_bankruptcy(
        &mut self,
        account: &Pubkey,
        market: &PerpMarketRef,
    ) -> TxResult {
        let health = self.health_accounts_of(&self.chain.load(account).expect("an account"));
        let ix = perp_ix::resolve_perp_bankruptcy(self.group, *account, market, health);
        self.chain.send(&[ix], &[])
    }

    /// `fund_perp_insurance` of `amount` settle tokens, minted to the admin first.
    pub fn fund_perp_insurance(&mut self, market: &PerpMarketRef, amount: u64) -> TxResult {
        let mint = market.settle_bank.mint;
        let source = self.chain.create_token_account(&mint, &self.admin.pubkey(), amount);
        let ix =
            perp_ix::fund_perp_insurance(self.group, self.admin.pubkey(), market, source, amount);
        self.chain.send(&[ix], &[&self.admin])
    }
}

/// A perp market as its next instruction would find it (funding and the settle bank's interest
/// accrued to now, at the oracle price), from the program's own pure code: for reports and tests.
#[derive(Debug, Clone, Copy)]
pub struct PerpSnapshot {
    /// The market after `touch_market` (funding accrued to now).
    pub market: PerpMarket,
    /// The settle bank with interest accrued to now.
    pub settle_bank: Bank,
    /// Oracle price, Q64.64 settle native units per base native unit.
    pub price: u128,
    /// The pool's deposit in the settle bank, native.
    pub pool_native: u64,
    /// `PerpMarket::pool_value` rounded down (what LPs could claim), native; may be negative.
    pub pool_value: i128,
    /// `PerpMarket::traders_pnl` rounded up (the pool value's other side), native.
    pub traders_pnl: i128,
    /// `funding_rate_bps_per_day` at this skew and pool (+: longs pay).
    pub funding_bps_per_day: i64,
}

impl PerpSnapshot {
    /// A slot's PnL at the snapshot's price with its pending funding applied, as `settle_pnl`
    /// would see it (`PerpPosition::pnl` after `PerpMarket::apply_funding`, on copies).
    pub fn slot_pnl(&self, slot: &PerpSlot) -> Result<i128, MarginError> {
        let (mut market, mut slot) = (self.market, *slot);
        market.apply_funding(&mut slot)?;
        Ok(slot.position().pnl(&market.config.params(), self.price)?)
    }

    /// `base_lots` (either sign) in whole base tokens.
    pub fn tokens(&self, lots: u64) -> f64 {
        let c = &self.market.config;
        (lots as f64) * c.base_lot_size as f64 / 10f64.powi(c.base_decimals as i32)
    }

    /// The oracle price in dollars per whole base token (settle token = $1, 6 decimals).
    pub fn price_dollars(&self) -> f64 {
        let per_native = self.price as f64 / cross_margin::math::ONE_Q64 as f64;
        per_native * 10f64.powi(self.market.config.base_decimals as i32) / 1e6
    }
}

impl Sandbox {
    /// The perp market's oracle price now, read by the program's oracle code (the mid price).
    pub fn perp_price(&self, market: &PerpMarketRef) -> Result<u128, MarginError> {
        let state = self.perp(market);
        let account =
            self.chain.account(&market.oracle).ok_or(MarginError::OracleAccountMismatch)?;
        let oracle = cross_margin::oracle::OracleAccount {
            key: &market.oracle,
            owner: &account.owner,
            data: &account.data,
        };
        let group = self.group_state();
        Ok(cross_margin::oracle::read_price(&state.pinned_oracle(), &group, oracle, self.now())?
            .price)
    }

    /// The market as its next instruction would find it ([`PerpSnapshot`]).
    pub fn perp_snapshot(&self, market: &PerpMarketRef) -> Result<PerpSnapshot, MarginError> {
        let price = self.perp_price(market)?;
        let mut state = self.perp(market);
        let mut settle_bank = self.bank(&market.settle_bank);
        let touch = touch_market(&mut state, &mut settle_bank, self.now(), price)?;
        let params = state.config.params();
        Ok(PerpSnapshot {
            market: state,
            settle_bank,
            price,
            pool_native: touch.pool,
            pool_value: state.pool_value(touch.pool, price, Round::Down)?,
            traders_pnl: state.traders_pnl(price, Round::Up)?,
            funding_bps_per_day: funding_rate_bps_per_day(
                &params,
                price,
                touch.pool,
                state.skew_lots()?,
            )?,
        })
    }
}
