//! The keeper against a real JSON-RPC server: a local `solana-test-validator` (installed by
//! `scripts/install-localnet.sh`) running the real `.so`, serving the same seeded market as the
//! embedded test after a SOL crash. The market is built on the embedded chain through real
//! transactions and loaded into the validator's genesis; every liquidation then happens on the
//! validator. Without a validator on this machine the test says so loudly and passes, unless
//! CROSS_MARGIN_REQUIRE_VALIDATOR is set (scripts/test.sh sets it once it has installed one).

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cross_margin_client::ix;
use cross_margin_client::{EmbeddedChain, Keypair, Pubkey, Signer};
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::backend::Backend;
use cross_margin_keeper::evaluate::{assess, Status};
use cross_margin_keeper::inventory::{InventoryConfig, UnwindMode};
use cross_margin_keeper::lookup_table::{self, keeper_addresses};
use cross_margin_keeper::swap::ConstantProductAdapter;
use cross_margin_keeper::{Keeper, KeeperConfig, RetryPolicy};
use cross_margin_testkit::localnet::find_validator;
use cross_margin_testkit::pool::{cp_swap_so_path, load_cp_swap, open_pool};
use cross_margin_testkit::scenario::{whole, SeededMarket, SOL, USDC};
use solana_message::{v0, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

mod localnet;
use localnet::{serve, serve_with, wait_until_the_program_runs, Served};

/// Stops the validator and removes its ledger and genesis files.
fn finish(served: Served) {
    let workdir = served.workdir.clone();
    drop(served);
    let _ = std::fs::remove_dir_all(workdir);
}

/// The validator, or `None` (and a loud note) when this machine has none and none is required.
fn validator_binary() -> Option<std::path::PathBuf> {
    let binary = find_validator();
    if binary.is_none() {
        // scripts/test.sh installs the validator first and sets this, so there it must run.
        assert!(
            std::env::var_os("CROSS_MARGIN_REQUIRE_VALIDATOR").is_none(),
            "CROSS_MARGIN_REQUIRE_VALIDATOR is set but no solana-test-validator was found"
        );
        eprintln!(
            "\n*** SKIPPED: no solana-test-validator on this machine. Install it with \
             scripts/install-localnet.sh (agave-validator 4.2.2, built from crates.io) to run the \
             keeper against a real JSON-RPC server. ***\n"
        );
    }
    binary
}

#[test]
fn the_keeper_liquidates_over_json_rpc_on_a_local_validator() {
    let Some(binary) = validator_binary() else { return };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let chain = EmbeddedChain::new().unwrap_or_else(|e| panic!("{e}"));
    let mut market = SeededMarket::new_at(chain, 60, 7, now).expect("seeded market");
    // The validator's clock runs on while it starts: give prices ten minutes.
    market.set_max_oracle_age(600).expect("oracle age");
    let (keeper, keeper_user) = market.keeper(5_000_000).expect("keeper");
    market.set_price(1, 750_000); // SOL $125 -> $75
    let expected: BTreeSet<Pubkey> = market
        .users
        .iter()
        .map(|u| u.account)
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|a| market.sandbox.health_of(a).unwrap().0.liquidatable)
        .collect();
    assert!(expected.len() >= 5);

    // The program's accounts, the token accounts and mints, the oracles, and funded wallets.
    let started = Instant::now();
    let served = serve(&binary, &market, "rpc");
    let validator = &served.validator;
    eprintln!(
        "validator {} at {} with {} genesis accounts, healthy in {:.1} s",
        binary.display(),
        validator.rpc_url,
        served.accounts,
        started.elapsed().as_secs_f64()
    );

    let mut backend = RpcBackend::new(&validator.rpc_url, Duration::from_secs(30));
    wait_until_the_program_runs(&mut backend, &market, &market.users[0]);
    let stop = AtomicBool::new(false);
    let mut liquidated = BTreeSet::new();
    let mut written_off = BTreeSet::new();
    let mut compute_units = Vec::new();
    for _ in 0..5 {
        let report = keeper.run_round(&mut backend, &stop).expect("round over RPC");
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        for done in &report.liquidations {
            liquidated.insert(done.event.liquidatee);
            compute_units.push(done.compute_units);
            assert!(!done.signature.is_empty());
        }
        written_off.extend(report.resolutions.iter().map(|r| r.event.account));
        if report.liquidations.is_empty() && report.resolutions.is_empty() {
            break;
        }
    }
    assert_eq!(liquidated, expected, "the same accounts as the program's health view says");
    eprintln!(
        "over RPC: {} liquidations ({} write-offs) in {:.1} s; CU min {} max {}",
        compute_units.len(),
        written_off.len(),
        started.elapsed().as_secs_f64(),
        compute_units.iter().min().unwrap(),
        compute_units.iter().max().unwrap()
    );

    // On the validator: nothing liquidatable is left, and the liquidated accounts ended at or
    // above their end target or were written off (checked with the program's health module).
    let discovered = keeper.discover(&mut backend).unwrap();
    let risks = discovered.market.risks();
    let group = &discovered.market.group;
    for (address, account) in &discovered.accounts {
        let assessment =
            assess(&risks, account, group.liquidation_end_buffer_bps, group.bankruptcy_dust_quote);
        assert!(
            !matches!(assessment.status, Status::Liquidatable | Status::Bankrupt),
            "{address} still needs action on the validator: {assessment:?}"
        );
        if written_off.contains(address) {
            assert!(!assessment.totals.has_debt, "{address} was written off");
        }
    }

    // `create-lookup-table` on the validator: the group's table, created, extended, active.
    let signer = Keypair::try_from(keeper_user.keypair.to_bytes().as_slice()).unwrap();
    let mut addresses = keeper_addresses(&discovered.market, keeper.config.liquidator_account);
    let banks = &market.banks;
    for bank in banks {
        assert!(addresses.contains(&bank.address) && addresses.contains(&bank.oracle));
        assert!(addresses.contains(&bank.token_program));
    }
    assert!(addresses.contains(&market.sandbox.group) && addresses.contains(&cross_margin::ID));
    // As many as a group of 16 banks with their oracles needs, so that it takes 3 extensions.
    addresses.extend((0..30).map(|_| Pubkey::new_unique()));
    assert_eq!(addresses.len().div_ceil(lookup_table::CHUNK), 3);
    let started = Instant::now();
    let table = lookup_table::create(&mut backend, &signer, &addresses, Duration::from_secs(60))
        .expect("create-lookup-table");
    let loaded = lookup_table::load(&mut backend, table.key).expect("load");
    assert_eq!(loaded.addresses, addresses);
    // Usable now: a v0 transaction that reads the banks and oracles through it simulates.
    let account = market.sandbox.margin_account(&market.users[0]);
    let view = ix::health(
        market.sandbox.group,
        market.users[0].account,
        market.sandbox.health_accounts_of(&account),
    );
    let blockhash = backend.latest_blockhash().unwrap();
    let message = v0::Message::try_compile(&signer.pubkey(), &[view], &[loaded], blockhash)
        .expect("v0 compiles");
    assert!(!message.address_table_lookups.is_empty(), "the table is used");
    let tx = VersionedTransaction {
        signatures: vec![Default::default()],
        message: VersionedMessage::V0(message),
    };
    let simulation = backend.simulate(&tx).expect("simulate");
    assert!(simulation.rejection.is_none(), "{:?}", simulation.rejection);
    eprintln!(
        "lookup table {} with {} addresses created and active in {:.1} s",
        table.key,
        addresses.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(lookup_table::load(&mut backend, Pubkey::new_unique()).is_err());

    finish(served);
}

/// A token account's balance on the validator.
fn token_balance(backend: &mut RpcBackend, account: &Pubkey) -> u64 {
    let raw = backend.multiple_accounts(&[*account]).unwrap().pop().flatten().expect("exists");
    cp_swap::TokenAccount::unpack(&raw.data).expect("a token account").amount
}

#[test]
fn a_keeper_with_no_capital_liquidates_through_a_flash_loan_on_a_local_validator() {
    let Some(binary) = validator_binary() else { return };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let chain = EmbeddedChain::new().unwrap_or_else(|e| panic!("{e}"));
    let mut market = SeededMarket::new_at(chain, 0, 7, now).expect("seeded market");
    market.set_max_oracle_age(600).expect("oracle age");
    // The test pool at $100 a SOL, and a borrower that SOL's fall to $100 puts under water.
    load_cp_swap(&mut market.sandbox.chain).expect("cp_swap.so");
    let (usdc, sol) = (market.banks[0], market.banks[1]);
    let amounts = (whole(&SOL, 10_000), whole(&USDC, 1_000_000));
    let pool = open_pool(&mut market.sandbox.chain, &sol, &usdc, amounts, 30).expect("pool");
    let borrower = market.sandbox.user(&[0, whole(&SOL, 100), 0]).expect("borrower");
    market.sandbox.deposit(&borrower, &sol, whole(&SOL, 100)).expect("collateral");
    market.sandbox.borrow(&borrower, &usdc, whole(&USDC, 9_000)).expect("borrow");
    market.set_price(1, 1_000_000);
    assert!(market.sandbox.health_of(&borrower.account).unwrap().0.liquidatable);
    // The keeper: an empty margin account and empty token accounts.
    let user = market.sandbox.user(&[0, 0, 0]).expect("keeper");

    let started = Instant::now();
    let served = serve_with(&binary, &market, "flash", &[(cp_swap::ID, cp_swap_so_path())]);
    let validator = &served.validator;
    let mut backend = RpcBackend::new(&validator.rpc_url, Duration::from_secs(30));
    wait_until_the_program_runs(&mut backend, &market, &borrower);
    let ready = started.elapsed();

    let mut config = KeeperConfig::new(market.sandbox.group, user.account);
    config.inventory = InventoryConfig {
        unwind: UnwindMode::FlashLoan,
        token_accounts: market.banks.iter().zip(&user.tokens).map(|(b, t)| (b.mint, *t)).collect(),
        ..InventoryConfig::default()
    };
    let adapter =
        ConstantProductAdapter::load(&mut backend, &[pool.address], RetryPolicy::default())
            .expect("the pool, read over RPC");
    let signer = Keypair::try_from(user.keypair.to_bytes().as_slice()).unwrap();
    let keeper = Keeper::new(config, signer).with_swap_adapter(Box::new(adapter));
    let report = keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round over RPC");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.liquidations.len(), 1, "one flash-loan liquidation");
    let unwind = &report.unwinds[0];
    assert!(unwind.flash_loan && unwind.signature == report.liquidations[0].signature);
    let round = started.elapsed() - ready;

    // On the validator: the keeper's profit is in its wallet, in USDC; what is left in its
    // margin account (a unit of debt and its interest, some collateral: the landing lag) is
    // healthy; the borrower is no longer liquidatable.
    let wallet = token_balance(&mut backend, &user.tokens[0]);
    assert_eq!(wallet, unwind.plan.quote.amount_out - unwind.plan.repay);
    assert!(wallet > unwind.plan.repay * 35 / 1000, "profit {wallet}");
    let discovered = keeper.discover(&mut backend).unwrap();
    let risks = discovered.market.risks();
    let group = &discovered.market.group;
    for (address, account) in &discovered.accounts {
        let assessment =
            assess(&risks, account, group.liquidation_end_buffer_bps, group.bankruptcy_dust_quote);
        assert!(
            matches!(assessment.status, Status::Healthy),
            "{address} on the validator: {assessment:?}"
        );
        if *address == user.account {
            assert!(assessment.totals.health.init >= 0);
            let bank = discovered.market.bank(usdc.index).unwrap().bank;
            let left = cross_margin::positions::borrow_native(account, &bank).unwrap();
            assert!(left < 100, "{left} native units of debt left");
        }
    }
    eprintln!(
        "flash loan over RPC: validator ready in {:.1} s, the round (liquidate + swap + repay, \
         {} CU) {:.1} s; profit {wallet} native USDC",
        ready.as_secs_f64(),
        unwind.compute_units,
        round.as_secs_f64()
    );
    finish(served);
}
