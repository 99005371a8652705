//! `liquidate` at full size: a liquidatee holding all 16 position slots, a liquidator holding 4,
//! the liquidator choosing the pair, the CU budget, and the transaction that carries it (a v0
//! transaction with an address lookup table: 6 named accounts and 40 health accounts do not fit
//! a legacy transaction).

use cross_margin::events::Liquidation;
use cross_margin_client::ix::BankRef;
use cross_margin_client::tx::{wire_size, MAX_TRANSACTION_SIZE};
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;
use solana_message::{Message, VersionedMessage};

/// The pair a liquidator picks from the program's own health view: the largest liability and
/// the largest deposit (every asset bank pays the same fee here).
fn choose_pair(m: &mut Market, liquidatee: &User) -> (BankRef, BankRef) {
    let (view, _) = m.health(liquidatee);
    let largest = |liability: bool| {
        let position = view
            .positions
            .iter()
            .filter(|p| p.is_liability == liability)
            .max_by_key(|p| p.value)
            .expect("a position");
        m.bank_by_index(position.bank_index)
    };
    (largest(true), largest(false))
}

#[test]
fn sixteen_positions_liquidated_in_one_v0_transaction() {
    let (mut m, liquidatee, liquidator) = full_accounts();
    let sol = m.sol;
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    // maint: 843.75 + 7 × 9.5 − 6 × 5.25 − 10 × 1.08 − 918 = −50.05 → liquidatable.
    let (view, _) = m.health(&liquidatee);
    assert_eq!(view.maint, -50_050_000);
    assert!(view.liquidatable);

    let (liab, asset) = choose_pair(&mut m, &liquidatee);
    assert_eq!((liab.address, asset.address), (m.usdc.address, sol.address));
    let ix = m.liquidate_ix(&liquidator, &liquidatee, &liab, &asset, u64::MAX);
    // 6 named accounts + 16 pairs for the liquidatee + 4 pairs for the liquidator.
    assert_eq!(ix.accounts.len(), 6 + 32 + 8);

    // As a legacy transaction it is too large for a packet ...
    let legacy = Message::new(std::slice::from_ref(&ix), Some(&m.chain.payer.pubkey()));
    let legacy_size = 1 + 64 * 2 + VersionedMessage::Legacy(legacy.clone()).serialize().len();
    assert!(legacy_size > MAX_TRANSACTION_SIZE, "legacy size {legacy_size}");
    // ... with a lookup table of the group's banks and oracles it fits with room to spare.
    let tables = [market_lookup_table(&mut m)];
    let signer = liquidator.keypair.insecure_clone();
    let tx =
        m.chain.versioned_tx(std::slice::from_ref(&ix), &[&signer], &tables).expect("v0 compiles");
    let size = wire_size(&tx);
    assert!(size <= MAX_TRANSACTION_SIZE, "v0 size {size}");
    println!(
        "liquidate 16+4 positions: {} unique accounts; legacy {legacy_size} B, v0 with a lookup table {size} B (limit {MAX_TRANSACTION_SIZE})",
        legacy.account_keys.len()
    );
    // The account-lock limit is 64 per transaction.
    assert!(legacy.account_keys.len() <= 64);

    let executed = m.chain.send_v0(&[ix], &[&signer], &tables).expect_ok("liquidate 16");
    assert_cu("liquidate (16 / 4 positions)", &executed, budget::LIQUIDATE_16_4);
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!((event.liab_bank, event.asset_bank), (m.usdc.address, sol.address));
    assert!(event.maint_health_after > event.maint_health_before);
    assert!(!event.still_being_liquidated, "one step reaches the end target");
    assert!(event.maint_health_after >= event.end_target_after);
    assert_eq!(m.margin_account(&liquidator).active_count(), 4);
    m.assert_conservation();
}

#[test]
fn the_liquidator_may_choose_any_borrow_and_any_deposit() {
    let (mut m, liquidatee, liquidator) = full_accounts();
    let banks = m.banks();
    let now = m.now();
    let sol = m.sol;
    m.set_price(&sol, sol_at_93_75(now));
    // A small pair instead of the largest: stable 12's $5 borrow against stable 5's deposit.
    let tables = [market_lookup_table(&mut m)];
    let ix = m.liquidate_ix(&liquidator, &liquidatee, &banks[12], &banks[5], u64::MAX);
    let signer = liquidator.keypair.insecure_clone();
    let executed = m.chain.send_v0(&[ix], &[&signer], &tables).expect_ok("liquidate pair");
    let event = &executed.events::<Liquidation>()[0];
    assert_eq!((event.liab_bank, event.asset_bank), (banks[12].address, banks[5].address));
    // The whole $5 debt (index 1.0) is taken over for $5.075 of stable 5 (a stablecoin bank's
    // 1.5% fee) and 0.5% more for the insurance fund.
    assert_eq!(event.liab_amount, 5_000_000);
    assert_eq!(event.asset_to_liquidator, 5_075_000);
    assert_eq!(event.asset_to_insurance, 25_000);
    assert!(event.maint_health_after > event.maint_health_before);
    m.assert_conservation();
}
