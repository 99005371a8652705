//! Admin safety (finding M-1): two-step admin rotation, the delay on configuration changes that
//! can hurt positions, the changes that apply at once, bounds, and the emergency admin.

use anchor_lang::prelude::Pubkey;
use cross_margin::constants::{
    LIVE_MAX_ORACLE_AGE_SECS, MAX_CONFIG_DELAY_SECS, MIN_CONFIG_DELAY_SECS,
};
use cross_margin::events::*;
use cross_margin::state::{BankConfig, Group, GroupConfigOptions, OracleKind};
use cross_margin_client::ix;
use cross_margin_tests::market::*;
use cross_margin_tests::*;

const DAY: u32 = MIN_CONFIG_DELAY_SECS;

/// One kind of bank configuration change.
type Change = fn(&mut BankConfig);

/// The market's group made live: changes that can hurt positions wait a day.
fn live_market() -> Market {
    let mut m = Market::new();
    let options = GroupConfigOptions { config_delay_secs: Some(DAY), ..Default::default() };
    let ix = ix::configure_group(m.group, m.admin.pubkey(), options);
    let executed = m.send_as_admin(&[ix]).expect_ok("go live");
    assert_eq!(executed.events::<GroupConfigured>()[0].config_delay_secs, DAY);
    m
}

fn configure_sol(m: &mut Market, config: BankConfig) -> TxResult {
    let ix = ix::configure_bank(m.group, m.admin.pubkey(), m.sol.address, m.sol.oracle, config);
    m.send_as_admin(&[ix])
}

fn queue_sol(m: &mut Market, oracle: Pubkey, config: BankConfig) -> TxResult {
    let ix = ix::queue_bank_config(m.group, m.admin.pubkey(), m.sol.address, oracle, config);
    m.send_as_admin(&[ix])
}

fn apply_sol(m: &mut Market, oracle: Pubkey) -> TxResult {
    let ix = ix::apply_bank_config(m.group, m.sol.address, oracle);
    m.chain.send(&[ix], &[])
}

/// Moves the clock by `seconds` and republishes every price (the delay outlasts the max age).
fn wait(m: &mut Market, seconds: u32) {
    m.chain.warp_seconds(seconds as i64);
    m.refresh_prices();
}

fn health_after_pending(m: &mut Market, user: &User) -> cross_margin::instructions::AccountHealth {
    let account = m.margin_account(user);
    let pairs = ix::health_accounts(&account, |i| {
        let bank = m.bank_by_index(i);
        ix::BankRef::after_pending_change(bank.address, &m.bank(&bank))
    });
    let ix = ix::health_after_pending_changes(m.group, user.account, pairs);
    let executed = m.chain.send(&[ix], &[]).expect_ok("health_after_pending_changes");
    anchor_lang::AnchorDeserialize::deserialize(&mut executed.return_data.as_slice()).unwrap()
}

#[test]
fn the_admin_rotates_in_two_steps() {
    let mut m = Market::new();
    let group = m.group;
    let stranger = m.user([0, 0, 0]);
    let (old, new) = (m.admin.insecure_clone(), m.chain.new_keypair());
    // Nothing proposed: nobody can accept.
    m.assert_rejected(&stranger, MarginError::NoAdminTransferPending, |m| {
        m.chain.send(&[ix::accept_admin(group, new.pubkey())], &[&new])
    });
    let executed = m
        .send_as_admin(&[ix::propose_admin(group, old.pubkey(), new.pubkey())])
        .expect_ok("propose");
    let proposed = &executed.events::<AdminTransferProposed>()[0];
    assert_eq!((proposed.admin, proposed.proposed_admin), (old.pubkey(), new.pubkey()));
    assert_eq!(m.group_state().pending_admin, new.pubkey());
    // Only the proposed key can accept.
    let key = stranger.keypair.pubkey();
    m.assert_rejected(&stranger, MarginError::NotPendingAdmin, |m| {
        m.chain.send(&[ix::accept_admin(group, key)], &[&stranger.keypair])
    });
    // Withdrawn: the proposed key cannot accept any more.
    m.send_as_admin(&[ix::propose_admin(group, old.pubkey(), Pubkey::default())])
        .expect_ok("withdraw the proposal");
    m.assert_rejected(&stranger, MarginError::NoAdminTransferPending, |m| {
        m.chain.send(&[ix::accept_admin(group, new.pubkey())], &[&new])
    });
    // Proposed again and accepted.
    m.send_as_admin(&[ix::propose_admin(group, old.pubkey(), new.pubkey())]).expect_ok("again");
    let executed =
        m.chain.send(&[ix::accept_admin(group, new.pubkey())], &[&new]).expect_ok("accept");
    let moved = &executed.events::<AdminTransferred>()[0];
    assert_eq!((moved.previous_admin, moved.new_admin), (old.pubkey(), new.pubkey()));
    let state: Group = m.group_state();
    assert_eq!((state.admin, state.pending_admin), (new.pubkey(), Pubkey::default()));
    // The old admin has lost every power; the new one has them.
    let pause = GroupConfigOptions { paused: Some(true), ..Default::default() };
    m.assert_rejected(&stranger, MarginError::NotGroupAdmin, |m| {
        m.chain.send(&[ix::configure_group(group, old.pubkey(), pause.clone())], &[&old])
    });
    m.chain
        .send(&[ix::configure_group(group, new.pubkey(), pause)], &[&new])
        .expect_ok("the new admin configures");
    assert!(m.group_state().is_paused());
}

/// Finding M-1, after the fix: lowering SOL's weights and raising its fee would make a healthy
/// borrower liquidatable at once. Now the change must be queued; the victim sees it on the
/// bank and in the health preview, repays before the delay ends and is not liquidatable when it
/// applies. A borrower who did nothing becomes liquidatable only once it applies.
#[test]
fn m1_a_harmful_change_waits_and_the_victim_can_act() {
    let mut m = live_market();
    m.with_liquidity();
    let (usdc, sol) = (m.usdc, m.sol);
    let admin_account = m.user([0, 0, 0]);
    let liquidator = m.user([1_000_000_000_000, 0, 0]);
    m.deposit(&liquidator, &usdc, 1_000_000_000_000).expect_ok("liquidator deposit");
    // Each: 10 SOL ($1,250) backing $900 of USDC. Maint +$207, init +$55.
    let (active, passive) = (m.user([0, 10_000_000_000, 0]), m.user([0, 10_000_000_000, 0]));
    for victim in [&active, &passive] {
        m.deposit(victim, &sol, 10_000_000_000).expect_ok("deposit");
        m.borrow(victim, &usdc, 900_000_000).expect_ok("borrow");
        assert_eq!(m.health(victim).0.maint, 207_000_000);
    }
    // Maint asset weight 0.90 -> 0.70 (init 0.80 -> 0.60), liquidation fee 5% -> 20%.
    let harmful = BankConfig {
        init_asset_weight_bps: 6_000,
        maint_asset_weight_bps: 7_000,
        liquidation_fee_bps: 2_000,
        ..m.bank(&sol).config
    };
    m.assert_rejected(&admin_account, MarginError::ConfigChangeMustBeQueued, |m| {
        configure_sol(m, harmful)
    });
    let executed = queue_sol(&mut m, sol.oracle, harmful).expect_ok("queue");
    let queued = &executed.events::<BankConfigChangeQueued>()[0];
    let apply_after_ts = m.now() + DAY as i64;
    assert_eq!(
        (queued.bank, queued.config, queued.apply_after_ts),
        (sol.address, harmful, apply_after_ts)
    );
    // The victim sees it: on the bank, and as its health once the change applies.
    let bank = m.bank(&sol);
    assert_eq!((bank.pending.config, bank.pending.apply_after_ts), (harmful, apply_after_ts));
    assert_eq!(bank.config.maint_asset_weight_bps, 9_000, "not applied yet");
    let preview = health_after_pending(&mut m, &active);
    assert_eq!(preview.maint, 875_000_000 - 918_000_000);
    assert!(preview.liquidatable);
    assert!(!m.health(&active).0.liquidatable);
    // Nobody can apply it early, and nobody can liquidate meanwhile.
    wait(&mut m, DAY - 1);
    m.assert_rejected(&admin_account, MarginError::ConfigChangeNotReady, |m| {
        apply_sol(m, sol.oracle)
    });
    m.assert_rejected(&liquidator, MarginError::NotLiquidatable, |m| {
        m.liquidate(&liquidator, &passive, &usdc, &sol, 100_000_000)
    });
    // The active victim repays $500 in time.
    m.repay(&active, &usdc, 500_000_000).expect_ok("repay");
    wait(&mut m, 1);
    let executed = apply_sol(&mut m, sol.oracle).expect_ok("anyone applies");
    assert_eq!(executed.events::<BankConfigChangeApplied>()[0].bank, sol.address);
    assert_eq!(executed.events::<BankConfigured>().len(), 1);
    let bank = m.bank(&sol);
    assert_eq!(bank.config, harmful);
    assert!(!bank.pending.is_queued());
    // The active victim is safe; the passive one is liquidatable now, and only now.
    assert!(!m.health(&active).0.liquidatable);
    m.assert_rejected(&liquidator, MarginError::NotLiquidatable, |m| {
        m.liquidate(&liquidator, &active, &usdc, &sol, 100_000_000)
    });
    assert!(m.health(&passive).0.liquidatable);
    m.liquidate(&liquidator, &passive, &usdc, &sol, 100_000_000).expect_ok("liquidate");
}

/// Every bank change that can hurt positions: configure_bank refuses it, a queued one cannot be
/// applied early or queued twice, a cancelled one cannot be applied, and after the delay anyone
/// applies it.
#[test]
fn each_harmful_bank_change_waits_for_the_delay() {
    let kinds: [(&str, Change); 9] = [
        ("lower maint asset weight", |c| c.maint_asset_weight_bps = 8_500),
        ("raise maint liability weight", |c| c.maint_liab_weight_bps = 11_500),
        ("raise liquidation fee", |c| c.liquidation_fee_bps = 600),
        ("raise insurance fee", |c| c.insurance_fee_bps = 200),
        ("raise oracle max age", |c| c.oracle_max_age_secs = 120),
        ("raise oracle max conf", |c| c.oracle_max_conf_bps += 1),
        ("lower size-aware threshold", |c| c.deposit_weight_scale_start_quote = 1_000_000),
        ("raise init asset weight", |c| c.init_asset_weight_bps = 8_500),
        ("change the interest curve", |c| c.max_rate_bps += 1),
    ];
    for (name, change) in kinds {
        let mut m = live_market();
        let group = m.group;
        let stranger = m.user([0, 0, 0]);
        let sol = m.sol;
        let mut config = m.bank(&sol).config;
        change(&mut config);
        assert_ne!(config, m.bank(&sol).config, "{name}");
        m.assert_rejected(&stranger, MarginError::ConfigChangeMustBeQueued, |m| {
            configure_sol(m, config)
        });
        queue_sol(&mut m, sol.oracle, config).expect_ok(name);
        m.assert_rejected(&stranger, MarginError::ConfigChangeAlreadyQueued, |m| {
            queue_sol(m, sol.oracle, config)
        });
        m.assert_rejected(&stranger, MarginError::ConfigChangeAlreadyQueued, |m| {
            configure_sol(m, m.bank(&sol).config)
        });
        m.assert_rejected(&stranger, MarginError::ConfigChangeNotReady, |m| {
            apply_sol(m, sol.oracle)
        });
        // Cancelled: nothing to apply, even after the delay.
        let cancel = ix::cancel_bank_config(group, m.admin.pubkey(), sol.address);
        let executed = m.send_as_admin(&[cancel]).expect_ok("cancel");
        assert_eq!(executed.events::<BankConfigChangeCancelled>()[0].bank, sol.address);
        wait(&mut m, DAY);
        m.assert_rejected(&stranger, MarginError::NoConfigChangeQueued, |m| {
            apply_sol(m, sol.oracle)
        });
        // Queued again, applied after the delay.
        queue_sol(&mut m, sol.oracle, config).expect_ok(name);
        wait(&mut m, DAY);
        apply_sol(&mut m, sol.oracle).expect_ok(name);
        assert_eq!(m.bank(&sol).config, config, "{name}");
    }
}

/// Re-pinning the oracle waits too; the preview and the application take the queued oracle.
#[test]
fn re_pinning_an_oracle_waits_for_the_delay() {
    let mut m = live_market();
    let group = m.group;
    let stranger = m.user([0, 0, 0]);
    let sol = m.sol;
    let new_oracle = m.chain.new_pubkey();
    let quote = quote_dollars(125, 0, m.now());
    m.write_oracle(OracleKind::PythPull, new_oracle, 1, quote, true);
    let config = m.bank(&sol).config;
    let ix = ix::configure_bank(group, m.admin.pubkey(), sol.address, new_oracle, config);
    m.assert_rejected(&stranger, MarginError::ConfigChangeMustBeQueued, |m| m.send_as_admin(&[ix]));
    queue_sol(&mut m, new_oracle, config).expect_ok("queue the re-pin");
    wait(&mut m, DAY);
    let quote = quote_dollars(125, 0, m.now());
    m.write_oracle(OracleKind::PythPull, new_oracle, 1, quote, true);
    // Only the queued oracle is accepted.
    m.assert_rejected(&stranger, MarginError::OracleAccountMismatch, |m| apply_sol(m, sol.oracle));
    apply_sol(&mut m, new_oracle).expect_ok("apply the re-pin");
    assert_eq!(m.bank(&sol).oracle, new_oracle);
}

/// Every group change that can hurt positions waits; cancelling works; the change applies after
/// the delay.
#[test]
fn each_harmful_group_change_waits_for_the_delay() {
    let kinds = |m: &mut Market| {
        let group = m.group_state();
        [
            GroupConfigOptions {
                pyth_receiver_program: Some(m.chain.new_pubkey()),
                ..Default::default()
            },
            GroupConfigOptions {
                pyth_legacy_program: Some(m.chain.new_pubkey()),
                ..Default::default()
            },
            GroupConfigOptions {
                liquidation_end_buffer_bps: Some(group.liquidation_end_buffer_bps + 100),
                ..Default::default()
            },
            GroupConfigOptions {
                bankruptcy_dust_quote: Some(group.bankruptcy_dust_quote * 2),
                ..Default::default()
            },
            GroupConfigOptions { config_delay_secs: Some(DAY), ..Default::default() },
        ]
    };
    for kind in 0..5 {
        let mut m = live_market();
        let (group, admin) = (m.group, m.admin.pubkey());
        // Raise the delay first (at once), so that lowering it back is a change that waits.
        let raise = GroupConfigOptions { config_delay_secs: Some(2 * DAY), ..Default::default() };
        m.send_as_admin(&[ix::configure_group(group, admin, raise)]).expect_ok("raise");
        let stranger = m.user([0, 0, 0]);
        let mut options = kinds(&mut m)[kind].clone();
        if kind == 4 {
            options.config_delay_secs = Some(DAY); // lower than 2 days
        }
        m.assert_rejected(&stranger, MarginError::ConfigChangeMustBeQueued, |m| {
            m.send_as_admin(&[ix::configure_group(group, admin, options.clone())])
        });
        let executed = m
            .send_as_admin(&[ix::queue_group_config(group, admin, options.clone())])
            .expect_ok("queue");
        let queued = executed.events::<GroupConfigChangeQueued>()[0].change;
        assert_eq!(GroupConfigOptions::from_pending(&queued), options);
        let delay = m.group_state().config_delay_secs;
        assert_eq!(queued.apply_after_ts, m.now() + delay as i64);
        m.assert_rejected(&stranger, MarginError::ConfigChangeAlreadyQueued, |m| {
            m.send_as_admin(&[ix::queue_group_config(group, admin, options.clone())])
        });
        m.assert_rejected(&stranger, MarginError::ConfigChangeNotReady, |m| {
            m.chain.send(&[ix::apply_group_config(group)], &[])
        });
        let executed =
            m.send_as_admin(&[ix::cancel_group_config(group, admin)]).expect_ok("cancel");
        assert_eq!(executed.events::<GroupConfigChangeCancelled>().len(), 1);
        m.assert_rejected(&stranger, MarginError::NoConfigChangeQueued, |m| {
            m.chain.send(&[ix::apply_group_config(group)], &[])
        });
        m.send_as_admin(&[ix::queue_group_config(group, admin, options.clone())])
            .expect_ok("queue again");
        wait(&mut m, delay);
        let executed = m.chain.send(&[ix::apply_group_config(group)], &[]).expect_ok("apply");
        assert_eq!(executed.events::<GroupConfigChangeApplied>().len(), 1);
        let group = m.group_state();
        assert!(!group.pending.is_queued());
        let applied = GroupConfigOptions {
            pyth_receiver_program: Some(group.pyth_receiver_program),
            pyth_legacy_program: Some(group.pyth_legacy_program),
            liquidation_end_buffer_bps: Some(group.liquidation_end_buffer_bps),
            bankruptcy_dust_quote: Some(group.bankruptcy_dust_quote),
            config_delay_secs: Some(group.config_delay_secs),
            ..Default::default()
        };
        for (new, now) in [
            (options.pyth_receiver_program, applied.pyth_receiver_program),
            (options.pyth_legacy_program, applied.pyth_legacy_program),
        ] {
            assert!(new.is_none() || new == now);
        }
        assert!(options
            .liquidation_end_buffer_bps
            .is_none_or(|b| Some(b) == applied.liquidation_end_buffer_bps));
        assert!(options
            .bankruptcy_dust_quote
            .is_none_or(|d| Some(d) == applied.bankruptcy_dust_quote));
        assert!(options.config_delay_secs.is_none_or(|d| Some(d) == applied.config_delay_secs));
    }
}

/// Changes that only tighten new risk apply at once in a live group.
#[test]
fn protective_changes_apply_at_once() {
    let mut m = live_market();
    let (group, admin) = (m.group, m.admin.pubkey());
    let sol = m.sol;
    let old = m.bank(&sol).config;
    let tighter = BankConfig {
        init_asset_weight_bps: old.init_asset_weight_bps - 1_000,
        init_liab_weight_bps: old.init_liab_weight_bps + 1_000,
        deposit_limit_native: 5_000_000_000,
        borrow_limit_native: 1_000_000_000,
        net_borrow_limit_per_window_quote: 10_000_000,
        net_borrow_limit_window_secs: 3_600,
        ..old
    };
    configure_sol(&mut m, tighter).expect_ok("tighten");
    assert_eq!(m.bank(&sol).config, tighter);

    let emergency = m.chain.new_pubkey();
    let switches = GroupConfigOptions {
        paused: Some(true),
        reduce_only: Some(true),
        emergency_admin: Some(emergency),
        config_delay_secs: Some(3 * DAY),
        ..Default::default()
    };
    m.send_as_admin(&[ix::configure_group(group, admin, switches)]).expect_ok("switches");
    let state = m.group_state();
    assert!(state.is_paused() && state.is_reduce_only());
    assert_eq!((state.emergency_admin, state.config_delay_secs), (emergency, 3 * DAY));
    // Unchanged settings passed along count as no change.
    let same = GroupConfigOptions {
        liquidation_end_buffer_bps: Some(state.liquidation_end_buffer_bps),
        pyth_receiver_program: Some(state.pyth_receiver_program),
        paused: Some(false),
        ..Default::default()
    };
    m.send_as_admin(&[ix::configure_group(group, admin, same)]).expect_ok("unpause");
    assert!(!m.group_state().is_paused());
}

/// Bounds: the delay, a live group's oracle max age (also capped for banks configured in setup),
/// the dust threshold; what cannot be queued.
#[test]
fn live_groups_bound_the_delay_and_the_oracle_age() {
    let mut m = Market::new();
    let (group, admin) = (m.group, m.admin.pubkey());
    let stranger = m.user([0, 0, 0]);

    // In setup, a bank may accept old prices (the localnet's fixed genesis prices need it).
    let mut long_age = m.bank(&m.sol).config;
    long_age.oracle_max_age_secs = 10 * LIVE_MAX_ORACLE_AGE_SECS;
    configure_sol(&mut m, long_age).expect_ok("setup: any age");
    for delay in [0, MIN_CONFIG_DELAY_SECS - 1, MAX_CONFIG_DELAY_SECS + 1] {
        let options = GroupConfigOptions { config_delay_secs: Some(delay), ..Default::default() };
        m.assert_rejected(&stranger, MarginError::InvalidConfigDelay, |m| {
            m.send_as_admin(&[ix::configure_group(group, admin, options)])
        });
    }
    let dust =
        GroupConfigOptions { bankruptcy_dust_quote: Some(1_000_000_001), ..Default::default() };
    m.assert_rejected(&stranger, MarginError::InvalidBankruptcyDust, |m| {
        m.send_as_admin(&[ix::configure_group(group, admin, dust)])
    });
    let sol = m.sol;
    let mut m = {
        let options = GroupConfigOptions { config_delay_secs: Some(DAY), ..Default::default() };
        m.send_as_admin(&[ix::configure_group(group, admin, options)]).expect_ok("go live");
        m
    };
    // Live: a price older than an hour is stale whatever the bank says.
    m.with_liquidity();
    let user = m.user([0, 10_000_000_000, 0]);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit");
    let usdc = m.usdc;
    m.borrow(&user, &usdc, 1_000_000).expect_ok("borrow");
    // An hour and a second later USDC's price is republished; SOL's is within the bank's own
    // 10 hours but past the live cap.
    m.chain.warp_seconds(LIVE_MAX_ORACLE_AGE_SECS as i64 + 1);
    let quote = quote_dollars(1, 0, m.now());
    m.set_price(&usdc, quote);
    m.assert_rejected(&user, MarginError::OracleStale, |m| m.withdraw(&user, &sol, 1));
    // Configuring or queueing a longer age is refused.
    m.refresh_prices();
    long_age.oracle_max_age_secs = LIVE_MAX_ORACLE_AGE_SECS + 1;
    m.assert_rejected(&stranger, MarginError::OracleMaxAgeTooLong, |m| {
        queue_sol(m, sol.oracle, long_age)
    });
    // Pause, reduce-only and the emergency admin cannot be queued; nor can nothing.
    for options in [
        GroupConfigOptions { paused: Some(true), ..Default::default() },
        GroupConfigOptions { emergency_admin: Some(admin), ..Default::default() },
    ] {
        m.assert_rejected(&stranger, MarginError::NotATimelockedSetting, |m| {
            m.send_as_admin(&[ix::queue_group_config(group, admin, options)])
        });
    }
    m.assert_rejected(&stranger, MarginError::EmptyConfigChange, |m| {
        m.send_as_admin(&[ix::queue_group_config(group, admin, GroupConfigOptions::default())])
    });
}

/// In a live group a new bank opens (deposit and borrow limits) only once its queued
/// configuration applies.
#[test]
fn a_new_bank_in_a_live_group_opens_after_the_delay() {
    let mut m = live_market();
    let group = m.group;
    let bank = m.add_bank(6, OracleKind::PythPull, [9_000, 9_500, 10_500, 11_000], (1, 0));
    let state = m.bank(&bank);
    assert_eq!((state.config.deposit_limit_native, state.config.borrow_limit_native), (0, 0));
    assert!(state.pending.is_queued());
    assert_eq!(state.pending.config.deposit_limit_native, u64::MAX);
    let mut user = m.user([0, 0, 0]);
    m.fund(&mut user, 1_000);
    m.assert_rejected(&user, MarginError::DepositLimitExceeded, |m| m.deposit(&user, &bank, 1_000));
    wait(&mut m, DAY);
    let ix = ix::apply_bank_config(group, bank.address, bank.oracle);
    m.chain.send(&[ix], &[]).expect_ok("open the bank");
    m.deposit(&user, &bank, 1_000).expect_ok("deposit");
}

/// The emergency admin can only turn pause and reduce-only on.
#[test]
fn the_emergency_admin_can_only_halt() {
    let mut m = live_market();
    let (group, admin) = (m.group, m.admin.pubkey());
    let stranger = m.user([0, 0, 0]);
    let emergency = m.chain.new_keypair();

    let set =
        GroupConfigOptions { emergency_admin: Some(emergency.pubkey()), ..Default::default() };
    m.send_as_admin(&[ix::configure_group(group, admin, set)]).expect_ok("name it");
    let halt = |key: &Keypair, pause, reduce_only| {
        (ix::halt(group, key.pubkey(), pause, reduce_only), key.insecure_clone())
    };
    let (ix, key) = halt(&stranger.keypair, true, false);
    m.assert_rejected(&stranger, MarginError::NotGroupAdminOrEmergency, |m| {
        m.chain.send(&[ix], &[&key])
    });
    let (ix, key) = halt(&emergency, false, false);
    m.assert_rejected(&stranger, MarginError::NothingToHalt, |m| m.chain.send(&[ix], &[&key]));
    let (ix, key) = halt(&emergency, true, true);
    let executed = m.chain.send(&[ix], &[&key]).expect_ok("halt");
    assert!(executed.events::<GroupConfigured>()[0].paused);
    assert!(m.group_state().is_paused() && m.group_state().is_reduce_only());
    // It cannot lift them, nor configure anything.
    let lift = GroupConfigOptions { paused: Some(false), ..Default::default() };
    let ix = ix::configure_group(group, emergency.pubkey(), lift.clone());
    m.assert_rejected(&stranger, MarginError::NotGroupAdmin, |m| {
        m.chain.send(&[ix], &[&emergency])
    });
    m.send_as_admin(&[ix::configure_group(group, admin, lift)]).expect_ok("the admin lifts");
    // The admin may halt too.
    let ix = ix::halt(group, admin, true, false);
    m.send_as_admin(&[ix]).expect_ok("the admin halts");
}

/// Every admin instruction refuses a signer that is not the admin, with a named error and no
/// state change.
#[test]
fn every_admin_instruction_refuses_a_stranger() {
    let mut m = live_market();
    let (group, admin) = (m.group, m.admin.pubkey());
    let stranger = m.user([0, 0, 0]);
    let key = stranger.keypair.pubkey();
    let (group, sol) = (group, m.sol);
    let config = m.bank(&sol).config;
    // Something queued, so that the cancels have something to refuse.
    queue_sol(&mut m, sol.oracle, config).expect_ok("queue");
    let buffer = GroupConfigOptions { liquidation_end_buffer_bps: Some(600), ..Default::default() };
    m.send_as_admin(&[ix::queue_group_config(group, admin, buffer.clone())])
        .expect_ok("queue group");
    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let source = m.chain.create_token_account(&sol.mint, &key, 10);
    let instructions = [
        ix::configure_group(
            group,
            key,
            GroupConfigOptions { paused: Some(true), ..Default::default() },
        ),
        ix::configure_bank(group, key, sol.address, sol.oracle, config),
        ix::queue_bank_config(group, key, sol.address, sol.oracle, config),
        ix::cancel_bank_config(group, key, sol.address),
        ix::queue_group_config(group, key, buffer),
        ix::cancel_group_config(group, key),
        ix::propose_admin(group, key, key),
        ix::add_bank(group, key, key, mint, anchor_spl::token::ID, sol.oracle, config).0,
        ix::fund_insurance(group, key, &sol, source, 10),
    ];
    for ix in instructions {
        m.assert_rejected(&stranger, MarginError::NotGroupAdmin, |m| {
            m.chain.send(&[ix], &[&stranger.keypair])
        });
    }
}

/// Nothing assumes the admin is a wallet: a program-derived address (off the curve, as a
/// Squads vault is) can be proposed, accept, and administer. A PDA signs only through its
/// program's `invoke_signed`, which sets the account's signer flag; with signature checks off
/// the test sets that flag directly, which is all the program sees either way.
#[test]
fn a_program_derived_address_can_be_the_admin() {
    let mut m = live_market();
    let (group, admin) = (m.group, m.admin.pubkey());
    let (vault, _) = Pubkey::find_program_address(&[b"multisig", b"vault"], &anchor_spl::token::ID);
    assert!(!vault.is_on_curve());
    m.send_as_admin(&[ix::propose_admin(group, admin, vault)]).expect_ok("propose");
    let svm = std::mem::take(&mut m.chain.svm);
    m.chain.svm = svm.with_sigverify(false);
    let send_as_pda = |m: &mut Market, ix: Instruction| {
        let chain = &mut m.chain;
        let mut message = solana_message::Message::new(&[ix], Some(&chain.payer.pubkey()));
        message.recent_blockhash = chain.svm.latest_blockhash();
        let tx = solana_transaction::Transaction::new_unsigned(message);
        let result = chain.svm.send_transaction(tx);
        chain.svm.expire_blockhash();
        cross_margin_client::embedded::tx_result(result)
    };
    send_as_pda(&mut m, ix::accept_admin(group, vault)).expect_ok("the PDA accepts");
    assert_eq!(m.group_state().admin, vault);
    let pause = GroupConfigOptions { paused: Some(true), ..Default::default() };
    send_as_pda(&mut m, ix::configure_group(group, vault, pause)).expect_ok("the PDA configures");
    assert!(m.group_state().is_paused());
}

/// A change queued while the group is in setup is due at once, but it cannot wait there as a
/// trap: once the group goes live it still waits the delay from then.
#[test]
fn a_change_queued_in_setup_still_waits_the_delay_once_live() {
    let mut m = Market::new();
    let stranger = m.user([0, 0, 0]);
    let (group, admin, sol) = (m.group, m.admin.pubkey(), m.sol);
    let harmful = BankConfig { maint_asset_weight_bps: 8_500, ..m.bank(&sol).config };
    queue_sol(&mut m, sol.oracle, harmful).expect_ok("queue in setup");
    assert_eq!(m.bank(&sol).pending.apply_after_ts, m.now());
    m.chain.warp_seconds(60);
    let live = GroupConfigOptions { config_delay_secs: Some(DAY), ..Default::default() };
    m.send_as_admin(&[ix::configure_group(group, admin, live)]).expect_ok("go live");
    assert_eq!(m.group_state().live_since_ts, m.now());
    wait(&mut m, DAY - 1);
    m.assert_rejected(&stranger, MarginError::ConfigChangeNotReady, |m| apply_sol(m, sol.oracle));
    wait(&mut m, 1);
    apply_sol(&mut m, sol.oracle).expect_ok("due a delay after going live");
    assert_eq!(m.bank(&sol).config, harmful);
}

/// An init weight tightened at once bites new borrows at once, but withdrawals keep the old
/// weights for one delay: a tightening cannot lock users in while a queued change runs down.
#[test]
fn a_tightened_init_weight_reaches_withdrawals_only_after_the_delay() {
    let mut m = live_market();
    m.with_liquidity();
    let (usdc, sol) = (m.usdc, m.sol);
    let user = m.user([0, 10_000_000_000, 0]);
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit");
    m.borrow(&user, &usdc, 900_000_000).expect_ok("borrow"); // init +$55
    let tight = BankConfig { init_asset_weight_bps: 1, ..m.bank(&sol).config };
    configure_sol(&mut m, tight).expect_ok("tighten at once");
    let bank = m.bank(&sol);
    assert_eq!(
        (bank.exit_init_asset_weight_bps, bank.exit_weights_until_ts),
        (8_000, m.now() + DAY as i64)
    );
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| m.borrow(&user, &usdc, 1));
    // 0.3 SOL ($37.50, $30 of init weight) still leaves init health >= 0 at the old weight.
    m.withdraw(&user, &sol, 300_000_000).expect_ok("withdraw at the old weight");
    wait(&mut m, DAY);
    m.assert_rejected(&user, MarginError::InitHealthNegative, |m| m.withdraw(&user, &sol, 1));
}

/// Nothing applies while the group is paused (its users could not withdraw), and after the
/// pause a queued change waits a full delay more.
#[test]
fn nothing_applies_while_paused_and_the_notice_restarts_after_the_pause() {
    let mut m = live_market();
    let stranger = m.user([0, 0, 0]);
    let (group, admin, sol) = (m.group, m.admin.pubkey(), m.sol);
    let harmful = BankConfig { maint_asset_weight_bps: 8_500, ..m.bank(&sol).config };
    queue_sol(&mut m, sol.oracle, harmful).expect_ok("queue");
    wait(&mut m, 1_000);
    m.send_as_admin(&[ix::halt(group, admin, true, false)]).expect_ok("pause");
    wait(&mut m, DAY);
    m.assert_rejected(&stranger, MarginError::ConfigChangeWhilePaused, |m| {
        apply_sol(m, sol.oracle)
    });
    let unpause = GroupConfigOptions { paused: Some(false), ..Default::default() };
    m.send_as_admin(&[ix::configure_group(group, admin, unpause)]).expect_ok("unpause");
    assert_eq!(m.group_state().unpaused_ts, m.now());
    wait(&mut m, DAY - 1);
    m.assert_rejected(&stranger, MarginError::ConfigChangeNotReady, |m| apply_sol(m, sol.oracle));
    wait(&mut m, 1);
    apply_sol(&mut m, sol.oracle).expect_ok("a delay after the pause");
}

/// A group change queued in setup waits a delay after the group goes live, as a bank change does.
#[test]
fn a_group_change_queued_in_setup_still_waits_the_delay_once_live() {
    let mut m = Market::new();
    let stranger = m.user([0, 0, 0]);
    let (group, admin) = (m.group, m.admin.pubkey());
    let dust = GroupConfigOptions { bankruptcy_dust_quote: Some(5_000_000), ..Default::default() };
    m.send_as_admin(&[ix::queue_group_config(group, admin, dust)]).expect_ok("queue in setup");
    let live = GroupConfigOptions { config_delay_secs: Some(DAY), ..Default::default() };
    m.send_as_admin(&[ix::configure_group(group, admin, live)]).expect_ok("go live");
    wait(&mut m, DAY - 1);
    m.assert_rejected(&stranger, MarginError::ConfigChangeNotReady, |m| {
        m.chain.send(&[ix::apply_group_config(group)], &[])
    });
    wait(&mut m, 1);
    m.chain.send(&[ix::apply_group_config(group)], &[]).expect_ok("apply");
    assert_eq!(m.group_state().bankruptcy_dust_quote, 5_000_000);
}

/// With a move of the Pyth receiver program queued, a re-pin to an oracle of the new program can
/// be queued alongside, and both apply together (one transaction): no bank is left frozen for a
/// second delay.
#[test]
fn re_pins_can_mature_with_a_queued_oracle_program_change() {
    let mut m = live_market();
    let (group, admin, sol) = (m.group, m.admin.pubkey(), m.sol);
    let new_program = m.chain.new_pubkey();
    let moved =
        GroupConfigOptions { pyth_receiver_program: Some(new_program), ..Default::default() };
    m.send_as_admin(&[ix::queue_group_config(group, admin, moved)]).expect_ok("queue the move");
    let new_oracle = m.chain.new_pubkey();
    let old_program = std::mem::replace(&mut m.sandbox.receiver_program, new_program);
    let quote = quote_dollars(125, 0, m.now());
    m.write_oracle(OracleKind::PythPull, new_oracle, 1, quote, true);
    let config = m.bank(&sol).config;
    queue_sol(&mut m, new_oracle, config).expect_ok("queue the re-pin to the new program's oracle");
    // An oracle of neither program is still refused.
    m.sandbox.receiver_program = m.chain.new_pubkey();
    let stray = m.chain.new_pubkey();
    m.write_oracle(OracleKind::PythPull, stray, 1, quote, true);
    let usdc = m.usdc;
    let ix = ix::queue_bank_config(group, admin, usdc.address, stray, m.bank(&usdc).config);
    m.send_as_admin(&[ix]).expect_margin_error(MarginError::OracleWrongOwner);
    m.sandbox.receiver_program = old_program;
    m.chain.warp_seconds(DAY as i64);
    let both =
        [ix::apply_group_config(group), ix::apply_bank_config(group, sol.address, new_oracle)];
    m.chain.send(&both, &[]).expect_ok("apply both");
    let (state, bank) = (m.group_state(), m.bank(&sol));
    assert_eq!((state.pyth_receiver_program, bank.oracle), (new_program, new_oracle));
}

/// The queue, the permissionless apply and the preview refuse bad input by name, changing
/// nothing: an invalid configuration queued, a bank of another group applied, and tampered
/// health accounts in the preview.
#[test]
fn queue_apply_and_preview_refuse_bad_input() {
    let mut m = live_market();
    let user = m.user([0, 10_000_000_000, 0]);
    let sol = m.sol;
    type Edit = fn(&mut BankConfig);
    let cases: [(Edit, MarginError); 4] = [
        (|c| c.init_asset_weight_bps = 0, MarginError::InvalidRiskWeights),
        (|c| c.liquidation_fee_bps = 2_501, MarginError::InvalidFee),
        (|c| c.oracle_max_age_secs = 0, MarginError::InvalidOracleConfig),
        (|c| c.oracle_feed_id = [42; 32], MarginError::OracleWrongFeed),
    ];
    for (edit, error) in cases {
        let mut config = m.bank(&sol).config;
        edit(&mut config);
        m.assert_rejected(&user, error, |m| queue_sol(m, sol.oracle, config));
    }
    // A bank of another group (with a change queued there) through this group's apply.
    let (_, other) = m.other_group_bank();
    let ix = ix::apply_bank_config(m.group, other.address, other.oracle);
    m.assert_rejected(&user, MarginError::WrongGroup, |m| m.chain.send(&[ix], &[]));
    // The preview with tampered health accounts.
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("deposit SOL");
    m.chain.warp_seconds(1); // the next slot: the deposit may not be left out (finding L-5)
    m.refresh_prices();
    let preview = |metas| ix::health_after_pending_changes(m.group, user.account, metas);
    let mut missing = preview(m.health_accounts(&user));
    missing.accounts.truncate(missing.accounts.len() - 2);
    let mut foreign = preview(m.health_accounts(&user));
    let n = foreign.accounts.len();
    foreign.accounts[n - 2].pubkey = other.address;
    let mut not_a_bank = preview(m.health_accounts(&user));
    not_a_bank.accounts[n - 2].pubkey = user.account;
    for (ix, error) in [
        (missing, MarginError::HealthAccountsMissing),
        (foreign, MarginError::HealthBankWrongGroup),
        (not_a_bank, MarginError::HealthBankInvalid),
    ] {
        m.assert_rejected(&user, error, |m| m.chain.send(&[ix], &[]));
    }
}
