//! `health_under_shock` on the real SBF build: the account priced as if some prices had moved,
//! by the program's own health code. Each shock is checked against the same move made for real
//! (the oracle written at the shocked price, its EMA with it), which must give the identical
//! view; and bad shocks are refused by name.

use anchor_lang::AnchorDeserialize;
use cross_margin::health::shock::{MAX_SHOCKS, MAX_SHOCK_BPS, MIN_SHOCK_BPS};
use cross_margin::health::PriceShock;
use cross_margin::instructions::AccountHealth;
use cross_margin_client::pyth::Quote;
use cross_margin_tests::market::*;
use cross_margin_tests::perps::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

fn shock(index: u16, bps: i32) -> PriceShock {
    PriceShock { index, bps }
}

fn view(executed: &Executed) -> AccountHealth {
    AccountHealth::deserialize(&mut executed.return_data.as_slice()).expect("an AccountHealth")
}

#[test]
fn a_token_shock_prices_the_account_as_the_real_move_would() {
    let (mut m, liquidatee, _) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    let now = m.now();
    // SOL at $125 with no confidence interval, so −25% is exactly $93.75 on every side.
    m.set_price(&sol, Quote { price: 12_500, conf: 0, exponent: -2, publish_time: now });
    let (before, _) = m.health(&liquidatee);
    assert!(!before.liquidatable);

    let account = liquidatee.account;
    let executed = m
        .health_under_shock(&account, &[shock(sol.index, -2_500)], &[])
        .expect_ok("health_under_shock");
    assert_cu("health_under_shock, 2 positions", &executed, budget::HEALTH_UNDER_SHOCK_2);
    let shocked = view(&executed);
    // 10 SOL × $93.75 × 0.9 = $843.75 against 900 USDC × 1.02 = $918 (docs/LIQUIDATION.md).
    assert_eq!(shocked.maint, -74_250_000);
    assert!(shocked.liquidatable);
    // The view changed nothing: the account is as healthy as before.
    assert_eq!(m.health(&liquidatee).0, before);

    m.set_price(&sol, sol_at_93_75(now));
    assert_eq!(m.health(&liquidatee).0, shocked, "the real move gives the same view");
    // No shock is the plain view; a shock on a bank the account does not hold changes nothing.
    let btc = m.btc;
    let executed = m.health_under_shock(&account, &[shock(btc.index, -9_000)], &[]);
    assert_eq!(view(&executed.expect_ok("unrelated shock")), shocked);
    let _ = usdc;
}

#[test]
fn a_liability_shock_rounds_against_the_account() {
    let (mut m, user) = market_with_borrower();
    let (usdc, sol) = (m.usdc, m.sol);
    let account = user.account;
    let (plain, _) = m.health(&user);
    // USDC debt up 100% (twice the liability) and SOL down 100% (worth nothing): 100 USDC ×
    // 2 × 1.02 = $204 of maint liability, $210 of init, against no collateral.
    let shocks = [shock(usdc.index, 10_000), shock(sol.index, MIN_SHOCK_BPS)];
    let shocked = view(&m.health_under_shock(&account, &shocks, &[]).expect_ok("shocked"));
    assert_eq!((shocked.maint, shocked.init), (-204_000_000, -210_000_000));
    assert!(shocked.liquidatable && !plain.liquidatable);
}

#[test]
fn a_perp_shock_prices_the_position_as_the_real_move_would() {
    let (mut m, perp, _lp) = perp_market();
    let alice = trader(&mut m, 1_000_000_000);
    m.place_perp_order(&alice, &perp, order(100)).expect_ok("open long");
    let bob = trader(&mut m, 1_000_000_000);
    m.place_perp_order(&bob, &perp, order(-100)).expect_ok("open short");

    // The long at $50 (−50%) and the short at $150 (+50%), each against the real move.
    for (user, bps, dollars) in [(&alice, -5_000, 50), (&bob, 5_000, 150)] {
        let account = user.account;
        let executed = m.health_under_shock(&account, &[], &[shock(perp.index, bps)]);
        let shocked = view(&executed.expect_ok("perp shock"));
        let saved = m.chain.svm.clone();
        m.set_perp_dollars(&perp, dollars);
        assert_eq!(m.health(user).0, shocked, "{bps} bps is ${dollars}");
        m.chain.svm = saved;
    }
}

#[test]
fn bad_shocks_are_refused_by_name() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let account = user.account;
    let too_many: Vec<PriceShock> = (0..=MAX_SHOCKS as u16).map(|i| shock(i, 0)).collect();
    let cases: [(&[PriceShock], &[PriceShock]); 5] = [
        (&[shock(sol.index, MIN_SHOCK_BPS - 1)], &[]),
        (&[shock(sol.index, MAX_SHOCK_BPS + 1)], &[]),
        (&[shock(sol.index, -100), shock(sol.index, -200)], &[]),
        (&[], &[shock(0, 1), shock(0, 1)]),
        (&too_many, &[]),
    ];
    for (tokens, perps) in cases {
        m.assert_rejected(&user, MarginError::InvalidPriceShock, |m| {
            m.health_under_shock(&account, tokens, perps)
        });
    }
}
