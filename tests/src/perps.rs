//! A perp market on the test market: SOL-PERP-like over a Pyth pull oracle at $100, settling in
//! the USDC bank, its pool funded by an LP with $100,000. Tests state expected numbers by hand
//! from the formulas of docs/PERPS.md.

use cross_margin::perp::{PerpOrder, PerpSide};
use cross_margin::state::{MarginAccount, OracleKind, PerpMarket, PerpSlot};
pub use cross_margin_client::perp_ix::PerpMarketRef;
pub use cross_margin_testkit::perp::{market_order, perp_config};

use crate::market::{quote_dollars, Market, User};
use crate::TxResultExt;

/// The LP's deposit into the pool: $100,000.
pub const POOL_USD: u64 = 100_000_000_000;

/// The test market, its perp market at $100 and the LP, whose $100,000 is in the pool.
pub fn perp_market() -> (Market, PerpMarketRef, User) {
    let mut m = Market::new();
    let usdc = m.usdc;
    let quote = quote_dollars(100, 0, m.now());
    let perp = m
        .sandbox
        .add_perp_market(&usdc, OracleKind::PythPull, perp_config(), quote)
        .unwrap_or_else(|f| panic!("add_perp_market: {:?}\n{}", f.error, f.logs.join("\n")));
    let lp = m.user([POOL_USD, 0, 0]);
    m.deposit(&lp, &usdc, POOL_USD).expect_ok("LP deposit");
    m.pool_deposit(&lp, &perp, POOL_USD).expect_ok("pool deposit");
    (m, perp, lp)
}

/// A trader holding `usdc` native USDC in the bank.
pub fn trader(m: &mut Market, usdc: u64) -> User {
    let user = m.user([usdc, 0, 0]);
    let bank = m.usdc;
    if usdc > 0 {
        m.deposit(&user, &bank, usdc).expect_ok("trader deposit");
    }
    user
}

/// A market order (any price) of `lots`: + buys, − sells.
pub fn order(lots: i64) -> PerpOrder {
    let side = if lots > 0 { PerpSide::Long } else { PerpSide::Short };
    market_order(side, lots.unsigned_abs())
}

impl Market {
    pub fn perp_state(&self, perp: &PerpMarketRef) -> PerpMarket {
        self.sandbox.perp(perp)
    }

    /// The user's slot in `perp` (default when none).
    pub fn perp_slot(&self, user: &User, perp: &PerpMarketRef) -> PerpSlot {
        let account: MarginAccount = self.margin_account(user);
        account.find_perp(perp.index).map(|i| account.perps[i]).unwrap_or_default()
    }

    pub fn margin_account_at(&self, address: &cross_margin_client::Pubkey) -> MarginAccount {
        self.chain.load(address).expect("the margin account exists")
    }

    /// The pool's deposit in the settle bank, native (rounded down).
    pub fn pool_native(&self, perp: &PerpMarketRef) -> u64 {
        let market = self.perp_state(perp);
        let bank = self.bank(&perp.settle_bank);
        cross_margin::math::mul_q64(
            market.pool_deposit_shares,
            bank.deposit_index(),
            cross_margin::math::Round::Down,
        )
        .expect("fits")
    }

    /// The user's signed balance in the USDC bank, native.
    pub fn usdc_balance(&self, user: &User) -> i128 {
        let account = self.margin_account(user);
        cross_margin::positions::balance_native(&account, &self.bank(&self.usdc)).expect("fits")
    }

    /// Sets the perp's oracle to `dollars` (conf 0) at the current time.
    pub fn set_perp_dollars(&mut self, perp: &PerpMarketRef, dollars: i64) {
        let quote = quote_dollars(dollars, 0, self.now());
        self.sandbox.set_perp_price(perp, quote);
    }
}
