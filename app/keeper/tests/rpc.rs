//! The keeper against a real JSON-RPC server: a local `solana-test-validator` (installed by
//! `scripts/install-localnet.sh`) running the real `.so`, serving the same seeded market as the
//! embedded test after a SOL crash. The market is built on the embedded chain through real
//! transactions and loaded into the validator's genesis; every liquidation then happens on the
//! validator. Without a validator on this machine the test says so loudly and passes, unless
//! CROSS_MARGIN_REQUIRE_VALIDATOR is set (scripts/test.sh sets it once it has installed one).

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cross_margin_client::embedded::program_so_path;
use cross_margin_client::ix;
use cross_margin_client::{EmbeddedChain, Keypair, Pubkey, Signer};
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::backend::Backend;
use cross_margin_keeper::evaluate::{assess, Status};
use cross_margin_keeper::lookup_table::{self, keeper_addresses};
use cross_margin_keeper::Keeper;
use cross_margin_testkit::localnet::{find_validator, write_genesis_accounts, Validator};
use cross_margin_testkit::scenario::SeededMarket;
use solana_message::{v0, Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

#[test]
fn the_keeper_liquidates_over_json_rpc_on_a_local_validator() {
    let Some(binary) = find_validator() else {
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
        return;
    };
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

    let workdir = std::env::temp_dir().join(format!("cross-margin-rpc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&workdir);
    // The program's accounts, the token accounts and mints, the oracles, and funded wallets.
    let owners = [
        cross_margin::ID,
        anchor_lang::solana_program::system_program::ID,
        market.banks[0].token_program,
        market.sandbox.receiver_program,
        market.sandbox.legacy_program,
    ];
    let accounts =
        write_genesis_accounts(&market.sandbox.chain, &workdir.join("accounts"), &owners).unwrap();
    let started = Instant::now();
    let validator = Validator::start(
        &binary,
        &cross_margin::ID,
        &program_so_path(),
        Some(&workdir.join("accounts")),
        &workdir,
    )
    .expect("validator starts");
    eprintln!(
        "validator {} at {} with {accounts} genesis accounts, healthy in {:.1} s",
        binary.display(),
        validator.rpc_url,
        started.elapsed().as_secs_f64()
    );

    let mut backend = RpcBackend::new(&validator.rpc_url, Duration::from_secs(30));
    wait_until_the_program_runs(&mut backend, &market, &keeper);
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

    drop(validator);
    let _ = std::fs::remove_dir_all(&workdir);
}

/// A program loaded at genesis is refused (`UnsupportedProgramId`) for the validator's first
/// slots; simulate the read-only `health` view until it runs, and say when it did.
fn wait_until_the_program_runs(backend: &mut RpcBackend, market: &SeededMarket, keeper: &Keeper) {
    let started = Instant::now();
    let account = market.sandbox.margin_account(&market.users[0]);
    let view = ix::health(
        market.sandbox.group,
        market.users[0].account,
        market.sandbox.health_accounts_of(&account),
    );
    let payer = keeper.signer();
    loop {
        let blockhash = backend.latest_blockhash().expect("blockhash");
        let message =
            Message::new_with_blockhash(std::slice::from_ref(&view), Some(&payer), &blockhash);
        let tx = VersionedTransaction {
            signatures: vec![Default::default()],
            message: VersionedMessage::Legacy(message),
        };
        let simulation = backend.simulate(&tx).expect("simulate");
        match simulation.rejection {
            None => break,
            Some(r) if r.message.contains("UnsupportedProgramId") => {
                assert!(started.elapsed() < Duration::from_secs(90), "the program never ran");
                std::thread::sleep(Duration::from_millis(500));
            }
            Some(r) => panic!("the health view failed: {r:?}"),
        }
    }
    eprintln!("the genesis program runs after {:.1} s", started.elapsed().as_secs_f64());
}
