//! Group and bank administration: happy paths, the admin check, and configuration validation.

use cross_margin::constants::MAX_LIQUIDATION_END_BUFFER_BPS;
use cross_margin::events::{BankAdded, BankConfigured, GroupConfigured};
use cross_margin::math::ONE_Q64;
use cross_margin::state::GroupConfigOptions;
use cross_margin::state::{Bank, Group, MarginAccount, OracleKind};
use cross_margin_client::ix;
use cross_margin_tests::market::*;
use cross_margin_tests::*;

fn sol_config() -> cross_margin::state::BankConfig {
    bank_config(OracleKind::PythPull, 1, [8_000, 9_000, 11_000, 12_000])
}

#[test]
fn add_bank_stores_its_configuration() {
    let m = Market::new();
    let bank: Bank = m.bank(&m.sol);
    assert_eq!(bank.group, m.group);
    assert_eq!((bank.bank_index, bank.decimals), (1, 9));
    assert_eq!(bank.oracle, m.sol.oracle);
    assert_eq!(bank.oracle_kind(), Some(OracleKind::PythPull));
    assert_eq!(bank.config.oracle_feed_id, feed_id(1));
    assert_eq!(bank.vault, Bank::vault_address(&m.sol.address).0);
    assert_eq!(bank.token_program, anchor_spl::token::ID);
    assert_eq!((bank.deposit_index(), bank.borrow_index()), (ONE_Q64, ONE_Q64));
    assert_eq!(
        (
            bank.config.init_asset_weight_bps,
            bank.config.maint_asset_weight_bps,
            bank.config.maint_liab_weight_bps,
            bank.config.init_liab_weight_bps
        ),
        (8_000, 9_000, 11_000, 12_000)
    );
    assert_eq!(bank.last_accrual_ts, START_TIME);
    assert_eq!(m.chain.load::<Group>(&m.group).unwrap().bank_count, 3);
    assert_eq!(m.bank(&m.btc).oracle_kind(), Some(OracleKind::PythLegacy));
    // The vault is a token account of the bank's mint, owned by the bank PDA.
    assert_eq!(m.chain.token_balance(&m.sol.vault), 0);
}

#[test]
fn add_bank_emits_an_event() {
    let mut m = Market::new();
    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let (ix, bank, oracle) = m.add_usd_bank_ix(mint, anchor_spl::token::ID);
    let admin = m.admin.insecure_clone();
    let executed = m.chain.send(&[ix], &[&admin]).expect_ok("add_bank");
    let events = executed.events::<BankAdded>();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].bank, events[0].mint, events[0].bank_index, events[0].oracle),
        (bank, mint, 3, oracle)
    );
}

#[test]
fn a_token_2022_mint_works_end_to_end() {
    let mut m = Market::new();
    let mint = m.chain.create_mint(6, anchor_spl::token_2022::ID);
    let (ix, bank, _) = m.add_usd_bank_ix(mint, anchor_spl::token_2022::ID);
    let admin = m.admin.insecure_clone();
    m.chain.send(&[ix], &[&admin]).expect_ok("add Token-2022 bank");
    let bank = m.bank_ref(&bank);
    assert_eq!(bank.token_program, anchor_spl::token_2022::ID);
    let user = m.user([0, 0, 0]);
    let mut transfer = m.transfer(&user, &bank);
    transfer.user_token = m.chain.create_token_account(&mint, &user.keypair.pubkey(), 5_000_000);
    m.chain.send(&[ix::deposit(&transfer, 5_000_000)], &[&user.keypair]).expect_ok("deposit");
    assert_eq!(m.chain.token_balance(&bank.vault), 5_000_000);
    m.chain
        .send(&[ix::withdraw(&transfer, 2_000_000, vec![])], &[&user.keypair])
        .expect_ok("withdraw");
    assert_eq!(m.chain.token_balance(&transfer.user_token), 2_000_000);
}

#[test]
fn configure_group_flips_switches_and_moves_oracle_programs() {
    let mut m = Market::new();
    let admin = m.admin.insecure_clone();
    let new_receiver = m.chain.new_pubkey();
    let ix = ix::configure_group(
        m.group,
        admin.pubkey(),
        GroupConfigOptions {
            paused: Some(true),
            reduce_only: Some(true),
            pyth_receiver_program: Some(new_receiver),
            ..Default::default()
        },
    );
    let executed = m.chain.send(&[ix], &[&admin]).expect_ok("configure_group");
    let group: Group = m.chain.load(&m.group).unwrap();
    assert!(group.is_paused() && group.is_reduce_only());
    assert_eq!(group.pyth_receiver_program, new_receiver);
    assert_eq!(group.pyth_legacy_program, m.legacy_program);
    let event = &executed.events::<GroupConfigured>()[0];
    assert!(event.paused && event.reduce_only);
    assert_eq!(event.pyth_receiver_program, new_receiver);
}

/// The liquidation end target must lie above zero (else an account would be nibbled at the
/// boundary forever) and the dust threshold too (else no account could ever be written off).
#[test]
fn invalid_liquidation_settings_are_rejected() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.insecure_clone();
    let cases = [
        (Some(0), None, MarginError::InvalidLiquidationConfig),
        (Some(MAX_LIQUIDATION_END_BUFFER_BPS + 1), None, MarginError::InvalidLiquidationConfig),
        (None, Some(0), MarginError::InvalidBankruptcyDust),
    ];
    for (liquidation_end_buffer_bps, bankruptcy_dust_quote, error) in cases {
        let settings = GroupConfigOptions {
            liquidation_end_buffer_bps,
            bankruptcy_dust_quote,
            ..Default::default()
        };
        let ix = ix::configure_group(m.group, admin.pubkey(), settings);
        m.assert_rejected(&user, error, |m| m.chain.send(&[ix], &[&admin]));
    }
    // The bounds themselves are accepted.
    let settings = GroupConfigOptions {
        liquidation_end_buffer_bps: Some(1),
        bankruptcy_dust_quote: Some(1),
        ..Default::default()
    };
    let ix = ix::configure_group(m.group, admin.pubkey(), settings);
    let executed = m.chain.send(&[ix], &[&admin]).expect_ok("smallest settings");
    let event = &executed.events::<GroupConfigured>()[0];
    assert_eq!((event.liquidation_end_buffer_bps, event.bankruptcy_dust_quote), (1, 1));
    let settings = GroupConfigOptions {
        liquidation_end_buffer_bps: Some(MAX_LIQUIDATION_END_BUFFER_BPS),
        ..Default::default()
    };
    let ix = ix::configure_group(m.group, admin.pubkey(), settings);
    m.chain.send(&[ix], &[&admin]).expect_ok("largest end buffer");
    let group: Group = m.chain.load(&m.group).unwrap();
    assert_eq!(group.liquidation_end_buffer_bps, MAX_LIQUIDATION_END_BUFFER_BPS);
}

#[test]
fn configure_bank_replaces_the_configuration() {
    let mut m = Market::new();
    let admin = m.admin.insecure_clone();
    let sol = m.sol;
    let mut config = sol_config();
    config.init_asset_weight_bps = 7_000;
    config.deposit_limit_native = 123;
    config.padding = [1, 2, 3];
    let ix = ix::configure_bank(m.group, admin.pubkey(), sol.address, sol.oracle, config);
    let executed = m.chain.send(&[ix], &[&admin]).expect_ok("configure_bank");
    assert_eq!(executed.events::<BankConfigured>()[0].bank, sol.address);
    let bank = m.bank(&sol);
    assert_eq!((bank.config.init_asset_weight_bps, bank.config.deposit_limit_native), (7_000, 123));
    // The stored config is the argument, field for field, with its padding zeroed.
    assert_eq!(bank.config, cross_margin::state::BankConfig { padding: [0; 3], ..config });
}

#[test]
fn only_the_admin_can_administer() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let impostor = user.keypair.insecure_clone();
    let (group, sol) = (m.group, m.sol);
    let ix = ix::configure_group(
        group,
        impostor.pubkey(),
        GroupConfigOptions { paused: Some(true), ..Default::default() },
    );
    m.assert_rejected(&user, MarginError::NotGroupAdmin, |m| m.chain.send(&[ix], &[&impostor]));
    let ix = ix::configure_bank(group, impostor.pubkey(), sol.address, sol.oracle, sol_config());
    m.assert_rejected(&user, MarginError::NotGroupAdmin, |m| m.chain.send(&[ix], &[&impostor]));
    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let (ix, bank, _) = ix::add_bank(
        group,
        impostor.pubkey(),
        impostor.pubkey(),
        mint,
        anchor_spl::token::ID,
        sol.oracle,
        sol_config(),
    );
    m.assert_rejected(&user, MarginError::NotGroupAdmin, |m| m.chain.send(&[ix], &[&impostor]));
    assert!(m.chain.account(&bank).is_none());
}

#[test]
fn configure_bank_rejects_a_bank_of_another_group() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let (_, foreign) = m.other_group_bank();
    let admin = m.admin.insecure_clone();
    let ix =
        ix::configure_bank(m.group, admin.pubkey(), foreign.address, foreign.oracle, sol_config());
    m.assert_rejected(&user, MarginError::WrongGroup, |m| m.chain.send(&[ix], &[&admin]));
}

/// Each invalid configuration is refused by `configure_bank` with its own error.
#[test]
fn invalid_bank_configurations_are_rejected() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.insecure_clone();
    let sol = m.sol;
    type Edit = fn(&mut cross_margin::state::BankConfig);
    let cases: [(Edit, MarginError); 10] = [
        (|c| c.init_asset_weight_bps = 0, MarginError::InvalidRiskWeights),
        (|c| c.init_asset_weight_bps = 9_500, MarginError::InvalidRiskWeights), // > maint 0.9
        (|c| c.maint_liab_weight_bps = 9_999, MarginError::InvalidRiskWeights), // < 1
        (|c| c.liquidation_fee_bps = 2_501, MarginError::InvalidFee),
        // SOL's maint asset weight 0.9 with 10% + 1% fees: 1.11 × 0.9 = 0.999 is accepted,
        // 1.12 × 0.9 = 1.008 would make every liquidation against SOL lower health.
        (|c| c.liquidation_fee_bps = 1_100, MarginError::LiquidationFeeTooHigh),
        (|c| c.optimal_utilization_bps = 10_000, MarginError::InvalidInterestCurve),
        (|c| c.min_rate_bps = 2_000, MarginError::InvalidInterestCurve), // above the optimal rate
        (|c| c.oracle_max_age_secs = 0, MarginError::InvalidOracleConfig),
        (|c| c.oracle_kind = 7, MarginError::InvalidOracleKind),
        (|c| c.oracle_feed_id = feed_id(42), MarginError::OracleWrongFeed),
    ];
    for (edit, error) in cases {
        let mut config = sol_config();
        edit(&mut config);
        let ix = ix::configure_bank(m.group, admin.pubkey(), sol.address, sol.oracle, config);
        m.assert_rejected(&user, error, |m| m.chain.send(&[ix], &[&admin]));
    }
    // Just below the bound is fine.
    let mut config = sol_config();
    config.liquidation_fee_bps = 1_000;
    let ix = ix::configure_bank(m.group, admin.pubkey(), sol.address, sol.oracle, config);
    m.chain.send(&[ix], &[&admin]).expect_ok("fees at 0.999 of the bound");
}

#[test]
fn add_bank_rejects_mints_with_too_many_decimals_and_bad_oracles() {
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.insecure_clone();
    let (group, sol) = (m.group, m.sol);
    let mint = m.chain.create_mint(13, anchor_spl::token::ID);
    let (ix, _, _) = ix::add_bank(
        group,
        admin.pubkey(),
        admin.pubkey(),
        mint,
        anchor_spl::token::ID,
        sol.oracle,
        sol_config(),
    );
    m.assert_rejected(&user, MarginError::UnsupportedMintDecimals, |m| {
        m.chain.send(&[ix], &[&admin])
    });

    // An oracle account owned by someone else than the group's Pyth receiver.
    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let fake = m.chain.new_pubkey();
    let data =
        cross_margin_client::pyth::price_update_v2(feed_id(1), quote_dollars(1, 0, m.now()), true);
    let owner = m.chain.new_pubkey();
    m.chain.set_account(fake, owner, data);
    let (ix, _, _) = ix::add_bank(
        group,
        admin.pubkey(),
        admin.pubkey(),
        mint,
        anchor_spl::token::ID,
        fake,
        sol_config(),
    );
    m.assert_rejected(&user, MarginError::OracleWrongOwner, |m| m.chain.send(&[ix], &[&admin]));
}

#[test]
fn create_account_stores_owner_and_group_and_cannot_be_repeated() {
    let mut m = Market::new();
    let owner = m.chain.funded_keypair(1_000_000_000).unwrap();
    let (ix, account) = ix::create_account(m.group, owner.pubkey(), owner.pubkey(), 5);
    m.chain.send(std::slice::from_ref(&ix), &[&owner]).expect_ok("create_account");
    let stored: MarginAccount = m.chain.load(&account).unwrap();
    assert_eq!((stored.group, stored.owner, stored.account_num), (m.group, owner.pubkey(), 5));
    assert!(stored.is_empty());
    assert_eq!(m.chain.account(&account).unwrap().data.len(), 8 + MarginAccount::SIZE);
    // The same seeds again: the system program refuses to recreate it.
    let before = Snapshot::take(&m.chain, &[account]);
    m.chain.send(&[ix], &[&owner]).expect_custom_code(0);
    before.assert_unchanged(&m.chain);
}

#[test]
fn token_2022_mints_with_a_transfer_hook_are_rejected() {
    use anchor_spl::token_2022::spl_token_2022::extension::transfer_hook::TransferHook;
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let mint = m.token_2022_mint_with::<TransferHook>(|_| {});
    m.assert_rejected_token_2022_mint(&user, mint);
}
