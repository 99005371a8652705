//! Worked numbers for the health formula. Prices here are chosen to be exact in Q64.64
//! (e.g. SOL at $125 is 0.125 micro-USD per lamport = 1/8), so every expected value below is
//! plain decimal arithmetic that can be checked by hand.

use super::*;
use crate::math::ONE_Q64;

const USDC: BankRisk = BankRisk {
    deposit_index: ONE_Q64,
    borrow_index: ONE_Q64,
    oracle_price: ONE_Q64,
    asset_price: ONE_Q64, // $1 = 1 micro-USD per micro-USDC
    liab_price: ONE_Q64,
    init_asset_price: ONE_Q64,
    init_liab_price: ONE_Q64,
    init_asset_weight_bps: 9_500,
    maint_asset_weight_bps: 9_800,
    init_liab_weight_bps: 10_500,
    maint_liab_weight_bps: 10_200,
    deposit_weight_scale_start_quote: 0,
    total_deposits_native: 0,
};

const SOL: BankRisk = BankRisk {
    deposit_index: ONE_Q64,
    borrow_index: ONE_Q64,
    oracle_price: ONE_Q64 / 8,
    asset_price: ONE_Q64 / 8, // $125 = 125e6 micro-USD per 1e9 lamports
    liab_price: ONE_Q64 / 8,
    init_asset_price: ONE_Q64 / 8,
    init_liab_price: ONE_Q64 / 8,
    init_asset_weight_bps: 8_000,
    maint_asset_weight_bps: 9_000,
    init_liab_weight_bps: 12_000,
    maint_liab_weight_bps: 11_000,
    deposit_weight_scale_start_quote: 0,
    total_deposits_native: 0,
};

#[test]
fn one_deposit_one_borrow() {
    // 10 SOL deposited ($1,250), 1,000 USDC borrowed.
    let health = compute_health([
        (&SOL, PositionShares::Deposit(10_000_000_000)),
        (&USDC, PositionShares::Borrow(1_000_000_000)),
    ])
    .unwrap();
    // init:  1,250 × 0.80 − 1,000 × 1.05 = 1,000 − 1,050 = −$50
    // maint: 1,250 × 0.90 − 1,000 × 1.02 = 1,125 − 1,020 = +$105
    assert_eq!(health, Health { init: -50_000_000, maint: 105_000_000 });
    assert!(!health.is_liquidatable());
}

#[test]
fn liquidatable_exactly_below_zero() {
    // maint assets: 10 SOL × 125 × 0.9 = 1,125. Borrowing 1,125 / 1.02 USDC puts maint at ~0:
    // 1,102,941,176 × 1.02 = 1,124,999,999.52, rounded up to 1,125,000,000 → maint = 0,
    // which is not liquidatable (that takes < 0).
    let at_edge = compute_health([
        (&SOL, PositionShares::Deposit(10_000_000_000)),
        (&USDC, PositionShares::Borrow(1_102_941_176)),
    ])
    .unwrap();
    assert_eq!(at_edge.maint, 0);
    assert!(!at_edge.is_liquidatable());
    let over = compute_health([
        (&SOL, PositionShares::Deposit(10_000_000_000)),
        (&USDC, PositionShares::Borrow(1_102_941_177)),
    ])
    .unwrap();
    // 1,102,941,177 × 1.02 = 1,125,000,000.54 → rounded up to 1,125,000,001.
    assert_eq!(over.maint, -1);
    assert!(over.is_liquidatable());
}

#[test]
fn indices_convert_shares_in_the_protocols_favour() {
    let bank = BankRisk { deposit_index: ONE_Q64 / 2, borrow_index: ONE_Q64 / 2, ..USDC };
    assert_eq!(bank.deposit_native(3), Ok(1)); // 1.5 → 1
    assert_eq!(bank.borrow_native(3), Ok(2)); // 1.5 → 2
    let grown = BankRisk { deposit_index: ONE_Q64 * 3 / 2, borrow_index: ONE_Q64 * 5 / 4, ..USDC };
    let deposit = grown.position_health(PositionShares::Deposit(1_000)).unwrap();
    assert_eq!((deposit.native, deposit.value), (1_500, 1_500));
    assert_eq!((deposit.init, deposit.maint), (1_425, 1_470));
    let borrow = grown.position_health(PositionShares::Borrow(1_000)).unwrap();
    assert_eq!((borrow.native, borrow.value), (1_250, 1_250));
    // 1,250 × 1.05 = 1,312.5 → −1,313; × 1.02 = 1,275 → −1,275.
    assert_eq!((borrow.init, borrow.maint), (-1_313, -1_275));
}

#[test]
fn asset_and_liability_prices_are_used_on_their_own_side() {
    // Oracle $125 ± $5 conf (k = 1): assets at $120, liabilities at $130.
    let sol =
        BankRisk { asset_price: ONE_Q64 * 120 / 1_000, liab_price: ONE_Q64 * 130 / 1_000, ..SOL };
    let deposit = sol.position_health(PositionShares::Deposit(1_000_000_000)).unwrap();
    let borrow = sol.position_health(PositionShares::Borrow(1_000_000_000)).unwrap();
    // 0.12 and 0.13 are not exact in binary: the asset value rounds down, the liability up.
    assert_eq!(deposit.value, 119_999_999);
    assert_eq!(borrow.value, 130_000_000);
}

#[test]
fn init_health_uses_the_stable_price_and_maint_the_oracle() {
    // A pumped SOL: oracle $625 (5/8 per lamport), stable (EMA) $125. Init values the deposit at
    // min = $125, maint at the oracle's $625; a borrow of it costs max = $625 in both.
    let pumped = BankRisk {
        asset_price: ONE_Q64 * 5 / 8,
        liab_price: ONE_Q64 * 5 / 8,
        init_asset_price: ONE_Q64 / 8,
        init_liab_price: ONE_Q64 * 5 / 8,
        ..SOL
    };
    let deposit = pumped.position_health(PositionShares::Deposit(10_000_000_000)).unwrap();
    assert_eq!(deposit.value, 6_250_000_000); // at the oracle
    assert_eq!(deposit.maint, 5_625_000_000); // 6,250 × 0.90
    assert_eq!(deposit.init, 1_000_000_000); // 1,250 × 0.80: the stable price
    assert_eq!(pumped.init_contribution(PositionShares::Deposit(10_000_000_000)), Ok(deposit.init));
    // A dumped SOL: oracle $125, stable $625. A borrow of it costs the stable $625 in init
    // health, the oracle's $125 in maint health.
    let dumped = BankRisk { init_liab_price: ONE_Q64 * 5 / 8, ..SOL };
    let borrow = dumped.position_health(PositionShares::Borrow(1_000_000_000)).unwrap();
    assert_eq!(borrow.value, 125_000_000);
    assert_eq!(borrow.maint, -137_500_000); // 125 × 1.10
    assert_eq!(borrow.init, -750_000_000); // 625 × 1.20
    assert_eq!(dumped.init_contribution(PositionShares::Borrow(1_000_000_000)), Ok(borrow.init));
}

#[test]
fn size_aware_init_weight_shrinks_above_the_threshold() {
    // 1,000 SOL deposited in the bank ($125,000) against a $50,000 threshold:
    // init weight 0.80 × 50,000 / 125,000 = 0.32. Maint is untouched.
    let whale_bank = BankRisk {
        deposit_weight_scale_start_quote: 50_000_000_000,
        total_deposits_native: 1_000_000_000_000,
        ..SOL
    };
    assert_eq!(whale_bank.scaled_init_asset_weight_bps(), Ok(3_200));
    let deposit = whale_bank.position_health(PositionShares::Deposit(10_000_000_000)).unwrap();
    assert_eq!(deposit.init, 400_000_000); // 1,250 × 0.32
    assert_eq!(deposit.maint, 1_125_000_000); // 1,250 × 0.90

    // Below the threshold the weight is the configured one.
    let small_bank = BankRisk { total_deposits_native: 400_000_000_000, ..whale_bank };
    assert_eq!(small_bank.scaled_init_asset_weight_bps(), Ok(8_000));
}

#[test]
fn empty_account_has_zero_health() {
    assert_eq!(compute_health([]).unwrap(), Health::default());
}

#[test]
fn overflow_is_an_error_not_a_wrap() {
    let absurd = BankRisk { asset_price: u128::MAX, ..SOL };
    assert_eq!(absurd.position_health(PositionShares::Deposit(u64::MAX)), Err(Overflow));
    let absurd_index = BankRisk { borrow_index: u128::MAX, ..SOL };
    assert_eq!(absurd_index.position_health(PositionShares::Borrow(2)), Err(Overflow));
}

#[test]
fn account_totals_sum_each_side() {
    // 10 SOL deposited ($1,250) and 1,000 USDC borrowed; then a borrow position of zero shares.
    let sol = SOL.position_health(PositionShares::Deposit(10_000_000_000)).unwrap();
    let usdc = USDC.position_health(PositionShares::Borrow(1_000_000_000)).unwrap();
    let nothing = USDC.position_health(PositionShares::Borrow(0)).unwrap();
    let totals = AccountTotals::of([&sol, &usdc]).unwrap();
    assert_eq!(totals.health, Health { init: -50_000_000, maint: 105_000_000 });
    assert_eq!(totals.maint_weighted_liabs, 1_020_000_000); // 1,000 × 1.02
    assert_eq!(totals.deposits_value, 1_250_000_000);
    assert_eq!(totals.liabs_value, 1_000_000_000);
    assert!(totals.has_debt);
    // A borrow worth nothing is no debt.
    let empty = AccountTotals::of([&sol, &nothing]).unwrap();
    assert!(!empty.has_debt);
    assert_eq!(empty.liabs_value, 0);
}

#[test]
fn account_totals_overflow_is_an_error() {
    let huge = PositionHealth {
        native: u64::MAX,
        is_liability: false,
        value: u64::MAX,
        init: 0,
        maint: 0,
    };
    assert_eq!(AccountTotals::of([&huge, &huge]), Err(Overflow));
}

/// M-2: a dust position with an unusable price is let through (a deposit counts for nothing, a
/// borrow at its last price); a larger one waits for a usable price with the oracle's error.
#[test]
fn m2_only_dust_with_an_unusable_price_is_let_through() {
    let stale = Some(MarginError::OracleStale);
    let dust = 1_000_000; // $1
                          // 7 lamports of SOL (a few micro-USD): counts for nothing, and is marked.
    let p = PricedPosition::at_last_price(1, SOL, PositionShares::Deposit(7), stale, dust).unwrap();
    assert_eq!((p.health.native, p.health.value, p.health.init, p.health.maint), (7, 0, 0, 0));
    assert_eq!(p.unusable, stale);
    // 0.5 USDC of debt: valued at its last price.
    let p = PricedPosition::at_last_price(0, USDC, PositionShares::Borrow(500_000), stale, dust)
        .unwrap();
    assert_eq!((p.health.value, p.health.maint), (500_000, -510_000));
    // $1 of SOL (8,000,000 lamports) or of debt is not dust: the oracle's error.
    let big = PositionShares::Deposit(8_000_000);
    assert_eq!(
        PricedPosition::at_last_price(1, SOL, big, stale, dust),
        Err(MarginError::OracleStale)
    );
    let wide = MarginError::OracleConfidenceTooWide;
    let debt = PositionShares::Borrow(1_000_000);
    assert_eq!(PricedPosition::at_last_price(0, USDC, debt, Some(wide), dust), Err(wide));
    // A borrow whose last price is not positive cannot be bounded: it always waits.
    let zero = BankRisk { oracle_price: 0, liab_price: 0, ..USDC };
    let tiny = PositionShares::Borrow(1);
    let error = MarginError::OracleNonPositivePrice;
    assert_eq!(PricedPosition::at_last_price(0, zero, tiny, Some(error), dust), Err(error));
    // A usable price: exactly `new`.
    let p = PricedPosition::at_last_price(1, SOL, big, None, dust).unwrap();
    assert_eq!(p, PricedPosition::new(1, SOL, big).unwrap());
}

/// The perps join the settle bank's balance (USDC, bank 0): 1 SOL ($125) deposited in bank 1.
fn with_sol(settle: PositionShares) -> [PricedPosition; 2] {
    [
        PricedPosition::new(0, USDC, settle).unwrap(),
        PricedPosition::new(1, SOL, PositionShares::Deposit(1_000_000_000)).unwrap(),
    ]
}

fn perp_totals(init: i128, maint: i128, pnl: i128) -> PerpTotals {
    PerpTotals { settle_bank_index: 0, settle_risk: USDC, perps: Health { init, maint }, pnl }
}

#[test]
fn perp_gains_offset_a_settle_borrow_as_one_balance() {
    // $100 borrowed, perps worth +$300 (init) and +$400 (maint), PnL +$50. The borrow alone:
    // init −105, maint −102. Combined: −100 + 300 = $200 at 0.95 = 190; −100 + 400 = $300 at
    // 0.98 = 294.
    let positions = with_sol(PositionShares::Borrow(100_000_000));
    let perps = perp_totals(300_000_000, 400_000_000, 50_000_000);
    let adjustment = perps.adjustment(&positions).unwrap();
    assert_eq!(adjustment, Health { init: 295_000_000, maint: 396_000_000 });
    // SOL: init 100, maint 112.5; plus the combined balance. The borrow's maint-weighted $102
    // is gone (the combined balance is an asset); equity −100 + 50 = −$50 is debt.
    let totals = perps.combine(&positions).unwrap();
    assert_eq!(totals.health, Health { init: 290_000_000, maint: 406_500_000 });
    assert_eq!(totals.maint_weighted_liabs, 0);
    assert_eq!((totals.deposits_value, totals.liabs_value), (125_000_000, 50_000_000));
    assert!(totals.has_debt);
}

#[test]
fn a_perp_loss_turns_a_settle_deposit_into_debt() {
    // $100 deposited (init 95, maint 98), perps −$300 (init) and −$200 (maint), PnL −$150.
    // Combined: −$200 at 1.05 = −210 (init); −$100 at 1.02 = −102 (maint), now a liability.
    let positions = with_sol(PositionShares::Deposit(100_000_000));
    let totals = perp_totals(-300_000_000, -200_000_000, -150_000_000).combine(&positions).unwrap();
    assert_eq!(totals.health, Health { init: -110_000_000, maint: 10_500_000 });
    assert_eq!(totals.maint_weighted_liabs, 102_000_000);
    // Equity 100 − 150 = −$50: the deposit's $100 leaves the deposits, $50 of debt appears.
    assert_eq!((totals.deposits_value, totals.liabs_value), (125_000_000, 50_000_000));
    assert!(totals.has_debt);
}

#[test]
fn perp_equity_is_valued_at_its_own_sides_price() {
    // A settle bank whose confidence is wide: $0.50 for assets, $2 for debts. No token
    // position; only the perps' PnL makes the equity.
    let wide = BankRisk { asset_price: ONE_Q64 / 2, liab_price: 2 * ONE_Q64, ..USDC };
    let pnl = |pnl| PerpTotals { settle_risk: wide, ..perp_totals(0, 0, pnl) };
    let owed = pnl(-50_000_000).combine(&[]).unwrap();
    assert_eq!((owed.deposits_value, owed.liabs_value, owed.has_debt), (0, 100_000_000, true));
    let held = pnl(50_000_000).combine(&[]).unwrap();
    assert_eq!((held.deposits_value, held.liabs_value, held.has_debt), (25_000_000, 0, false));
    // An equity of exactly zero is no debt.
    let flat = pnl(0).combine(&[]).unwrap();
    assert_eq!((flat.deposits_value, flat.liabs_value, flat.has_debt), (0, 0, false));
}
