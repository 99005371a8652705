//! `liquidate_perp` at full size: a liquidatee holding all 16 token slots and all 8 perp slots,
//! in one v0 transaction with an address lookup table (7 named accounts and 48 health accounts:
//! 55 of the 64 an account-lock limit allows), and its CU budget.

use cross_margin::error::MarginError;
use cross_margin::events::PerpLiquidation;
use cross_margin::state::OracleKind;
use cross_margin_client::tx::{wire_size, MAX_TRANSACTION_SIZE};
use cross_margin_tests::market::*;
use cross_margin_tests::perps::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

#[test]
fn sixteen_token_and_eight_perp_positions_liquidated_in_one_v0_transaction() {
    let (mut m, liquidatee, liquidator) = full_accounts();
    let usdc = m.usdc;
    // Eight perp markets settling in USDC, each with a $10,000 pool.
    while m.sandbox.perps.len() < 8 {
        let quote = quote_dollars(100, 0, m.now());
        let market = m
            .sandbox
            .add_perp_market(&usdc, OracleKind::PythPull, perp_config(), quote)
            .unwrap_or_else(|f| panic!("add perp: {:?}", f.error));
        let lp = m.user([10_000_000_000, 0, 0]);
        m.deposit(&lp, &usdc, 10_000_000_000).expect_ok("LP deposit");
        m.pool_deposit(&lp, &market, 10_000_000_000).expect_ok("pool");
    }
    let markets = m.sandbox.perps.clone();
    for market in &markets {
        m.place_perp_order(&liquidatee, market, order(10)).expect_ok("a $10 long");
    }
    let account = m.margin_account(&liquidatee);
    assert_eq!((account.active_count(), account.active_perp_count()), (16, 8));

    // SOL at $93.75 makes the account liquidatable (maint −$50.05 on its tokens alone).
    let sol = m.sol;
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    // The health view of so many positions outgrows the 1 KiB of return data: refused by name,
    // not by the runtime (a client prices such an account itself, as the keeper does).
    let state = m.margin_account(&liquidatee);
    let view =
        cross_margin_client::ix::health(m.group, liquidatee.account, m.health_accounts_of(&state));
    m.chain.send(&[view], &[]).expect_margin_error(MarginError::HealthViewTooLarge);

    let ix = m.liquidate_perp_ix(&liquidator, &liquidatee.account, &markets[0], u64::MAX);
    // 7 named accounts + 16 token pairs + 8 perp pairs (USDC, the settle bank, is a token
    // position, so no settle pair).
    assert_eq!(ix.accounts.len(), 7 + 32 + 16);
    let mut addresses = vec![m.group];
    for bank in m.banks() {
        addresses.extend([bank.address, bank.oracle]);
    }
    for market in &markets {
        addresses.extend([market.address, market.oracle]);
    }
    let tables = [m.chain.create_lookup_table(&addresses)];
    let signer = liquidator.keypair.insecure_clone();
    let tx =
        m.chain.versioned_tx(std::slice::from_ref(&ix), &[&signer], &tables).expect("v0 compiles");
    let size = wire_size(&tx);
    assert!(size <= MAX_TRANSACTION_SIZE, "v0 size {size}");
    println!("liquidate_perp 16 tokens + 8 perps: v0 with a lookup table {size} B");

    let executed = m.chain.send_v0(&[ix], &[&signer], &tables).expect_ok("liquidate_perp");
    assert_cu("liquidate_perp (16 + 8 positions)", &executed, budget::LIQUIDATE_PERP_16_8);
    let event = &executed.events::<PerpLiquidation>()[0];
    // Closing a $10 position frees little margin: the whole position closes.
    assert_eq!((event.base_lots_before, event.base_lots_after), (10, 0));
    assert!(event.maint_health_after > event.maint_health_before);
    m.assert_conservation();
}
