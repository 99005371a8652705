//! Ready-made situations several tests (and the CU table) start from: a liquidatee holding all
//! 16 position slots, and an account left bankrupt by a liquidation.

use cross_margin::events::Liquidation;
use cross_margin::positions;
use cross_margin::state::OracleKind;
use cross_margin_client::pyth::Quote;
use solana_message::AddressLookupTableAccount;

use crate::market::*;
use crate::*;

/// A liquidatee with 10 SOL deposited and `borrowed` USDC borrowed, and a liquidator whose
/// collateral is 1 BTC ($100,000).
pub fn one_asset_one_liability(borrowed: u64) -> (Market, User, User) {
    let mut m = Market::new();
    m.with_liquidity();
    let liquidatee = m.user([0, 10_000_000_000, 0]);
    let liquidator = m.user([0, 0, 100_000_000]);
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    m.deposit(&liquidatee, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&liquidatee, &usdc, borrowed).expect_ok("borrow USDC");
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator collateral");
    (m, liquidatee, liquidator)
}

pub const STABLE_WEIGHTS: [u32; 4] = [9_000, 9_500, 10_500, 11_000];

/// A group of 16 banks: USDC, SOL, BTC and 13 $1 stablecoins (6 decimals).
/// The liquidatee deposits 10 SOL and $10 in each of stables 3..10 (8 deposits) and borrows
/// 900 USDC, 0.0001 BTC and $5 in each of stables 10..16 (8 borrows): 16 positions.
/// The liquidator holds 1 BTC and $10 of stable 3; after taking over USDC debt for SOL it holds 4.
pub fn full_accounts() -> (Market, User, User) {
    let mut m = Market::new();
    while m.banks().len() < 16 {
        m.add_bank(6, OracleKind::PythPull, STABLE_WEIGHTS, (1, 0));
    }
    let banks = m.banks();
    let mut lender = m.with_liquidity();
    m.fund(&mut lender, 1_000_000_000);
    for bank in &banks[10..16] {
        m.deposit(&lender, bank, 1_000_000_000).expect_ok("lend stable");
    }

    let mut liquidatee = m.user([0, 10_000_000_000, 0]);
    m.fund(&mut liquidatee, 10_000_000);
    m.deposit(&liquidatee, &banks[1], 10_000_000_000).expect_ok("deposit SOL");
    for bank in &banks[3..10] {
        m.deposit(&liquidatee, bank, 10_000_000).expect_ok("deposit stable");
    }
    for bank in &banks[10..16] {
        m.borrow(&liquidatee, bank, 5_000_000).expect_ok("borrow stable");
    }
    m.borrow(&liquidatee, &banks[2], 10_000).expect_ok("borrow BTC");
    m.borrow(&liquidatee, &banks[0], 900_000_000).expect_ok("borrow USDC");
    assert_eq!(m.margin_account(&liquidatee).active_count(), 16);

    let mut liquidator = m.user([0, 0, 100_000_000]);
    m.fund(&mut liquidator, 10_000_000);
    m.deposit(&liquidator, &banks[2], 100_000_000).expect_ok("liquidator BTC");
    m.deposit(&liquidator, &banks[3], 10_000_000).expect_ok("liquidator stable");
    (m, liquidatee, liquidator)
}

/// SOL at $93.75 = 3/32 micro-USD per lamport.
pub fn sol_at_93_75(now: i64) -> Quote {
    Quote { price: 9_375, conf: 0, exponent: -2, publish_time: now }
}

/// An address lookup table holding the group and every bank and oracle: what a liquidator
/// keeps to fit a 16-position liquidation into one transaction.
pub fn market_lookup_table(m: &mut Market) -> AddressLookupTableAccount {
    let mut addresses = vec![m.group];
    for bank in m.banks() {
        addresses.extend([bank.address, bank.oracle]);
    }
    m.chain.create_lookup_table(&addresses)
}

/// SOL at $62.50 = 1/16 micro-USD per lamport, exact in Q64.64.
pub fn sol_at_62_50(now: i64) -> Quote {
    Quote { price: 625, conf: 0, exponent: -1, publish_time: now }
}

/// Debt the liquidator can take over for 10 SOL at $62.50: 625 / 1.06 USDC, rounded down.
pub const LIQUIDATED: u64 = 589_622_641;
/// What the liquidatee still owes afterwards, with no collateral left.
pub const DEBT_LEFT: u64 = 900_000_000 - LIQUIDATED;

pub struct Bankrupt {
    pub m: Market,
    pub lender: User,
    pub second_lender: User,
    pub liquidatee: User,
    pub liquidator: User,
}

/// Two USDC lenders (1,000,000 and 500,000 USDC); a liquidatee with 10 SOL borrowing 900 USDC;
/// SOL falls to $62.50 and one liquidation takes all 10 SOL, leaving 310.377359 USDC of debt.
pub fn bankrupt_account() -> Bankrupt {
    let mut m = Market::new();
    let lender = m.with_liquidity();
    let second_lender = m.user([500_000_000_000, 0, 0]);
    let usdc = m.usdc;
    m.deposit(&second_lender, &usdc, 500_000_000_000).expect_ok("second lender");
    let liquidatee = m.user([0, 10_000_000_000, 0]);
    let liquidator = m.user([0, 0, 100_000_000]);
    let (sol, btc) = (m.sol, m.btc);
    m.deposit(&liquidatee, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.borrow(&liquidatee, &usdc, 900_000_000).expect_ok("borrow USDC");
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator collateral");

    let now = m.now();
    m.set_price(&sol, sol_at_62_50(now));
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, u64::MAX).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!(event.liab_amount, LIQUIDATED);
    assert_eq!(event.asset_to_liquidator + event.asset_to_insurance, 10_000_000_000);
    assert!(event.bankrupt);
    let account = m.margin_account(&liquidatee);
    assert_eq!(account.bankrupt, 1);
    assert_eq!(positions::borrow_native(&account, &m.bank(&usdc)), Ok(DEBT_LEFT));
    assert_eq!(account.active_count(), 1, "only the borrow is left");
    m.assert_conservation();
    Bankrupt { m, lender, second_lender, liquidatee, liquidator }
}
