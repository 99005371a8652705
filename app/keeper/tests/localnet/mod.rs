//! A ladder market on a real local validator, for the websocket tests (`tests/watch.rs`) and
//! the latency measurement (`tests/latency.rs`).
//!
//! Built on the embedded chain through real transactions (the test kit's seeded market with no
//! random borrowers), then loaded into the validator's genesis. `n` victims each deposit 1 SOL
//! and borrow USDC so that victim k turns liquidatable just below SOL = $107.0 − $0.10·k
//! (maint: 1 SOL × price × 90% < debt × 102%); each holds 5 more SOL in its wallet for a
//! top-up. Prices move on the validator for real: the test-only `oracle_writer` program
//! (tools/oracle-writer) is loaded at the Pyth receiver's address, owns the market's pull
//! oracles, and overwrites an oracle with a PriceUpdateV2 the test encodes.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cross_margin_client::embedded::program_so_path;
use cross_margin_client::ix::{self, BankRef};
use cross_margin_client::pyth::{self, Quote};
use cross_margin_client::{EmbeddedChain, Instruction, Keypair, Pubkey, Signer};
use cross_margin_keeper::backend::rpc::{clock_unix_timestamp, RpcBackend, CLOCK_SYSVAR};
use cross_margin_keeper::backend::Backend;
use cross_margin_keeper::Keeper;
use cross_margin_testkit::localnet::{find_validator, write_genesis_accounts, Validator};
use cross_margin_testkit::sandbox::{feed_id, User};
use cross_margin_testkit::scenario::{whole, SeededMarket, SOL, USDC};
use solana_commitment_config::CommitmentConfig;
use solana_instruction::AccountMeta;
use solana_message::{Message, VersionedMessage};
use solana_rpc_client::rpc_client::RpcClient;
use solana_transaction::versioned::VersionedTransaction;

/// Raises `stop` when dropped, so that a failing assertion in a scope stops the keeper thread
/// instead of waiting for it forever.
pub struct StopOnDrop<'a>(pub &'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Victim k's threshold: SOL below this (dollars × 10^4) makes it liquidatable.
pub fn threshold_e4(k: usize) -> i64 {
    1_070_000 - 1_000 * k as i64
}

/// The price that makes victim k (and no later one) liquidatable: $0.03 under its threshold.
pub fn crash_price_e4(k: usize) -> i64 {
    threshold_e4(k) - 300
}

pub struct Victim {
    pub user: User,
}

pub struct Ladder {
    pub validator: Validator,
    pub market: SeededMarket,
    pub keeper: Keeper,
    /// The keeper's wallet and margin account.
    pub keeper_user: User,
    pub victims: Vec<Victim>,
    pub sol: BankRef,
    pub rpc: RpcClient,
    /// Pays for the oracle writes.
    pub payer: Keypair,
    pub workdir: PathBuf,
}

/// The oracle writer's .so (scripts/build-oracle-writer.sh).
pub fn oracle_writer_so() -> PathBuf {
    program_so_path().with_file_name("oracle_writer.so")
}

/// Whether this machine can run the localnet tests; if not, says why (and fails when
/// CROSS_MARGIN_REQUIRE_VALIDATOR is set, as scripts/test.sh does).
pub fn localnet_available(test: &str) -> Option<PathBuf> {
    let required = std::env::var_os("CROSS_MARGIN_REQUIRE_VALIDATOR").is_some();
    let Some(binary) = find_validator() else {
        assert!(!required, "CROSS_MARGIN_REQUIRE_VALIDATOR is set but no validator was found");
        eprintln!(
            "\n*** SKIPPED {test}: no solana-test-validator (scripts/install-localnet.sh) ***\n"
        );
        return None;
    };
    if !oracle_writer_so().is_file() {
        assert!(
            !required,
            "no {}: run scripts/build-oracle-writer.sh",
            oracle_writer_so().display()
        );
        eprintln!(
            "\n*** SKIPPED {test}: no {} (scripts/build-oracle-writer.sh) ***\n",
            oracle_writer_so().display()
        );
        return None;
    }
    Some(binary)
}

impl Ladder {
    /// The ladder with `victims` victims (and `bystanders` healthy accounts: 1 SOL, no debt;
    /// all but the first are copies of the first), served by a fresh validator.
    pub fn start(binary: &std::path::Path, victims: usize, bystanders: usize, name: &str) -> Self {
        let started = Instant::now();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let chain = EmbeddedChain::new().unwrap_or_else(|e| panic!("{e}"));
        let mut market = SeededMarket::new_at(chain, 0, 7, now).expect("seeded market");
        // Prices are written again on every move; the ladder runs for minutes.
        market.set_max_oracle_age(3_600).expect("oracle age");
        let (keeper, keeper_user) = market.keeper(1_000_000).expect("keeper");
        let (usdc, sol) = (market.banks[0], market.banks[1]);
        let mut list = Vec::with_capacity(victims);
        for k in 0..victims {
            let user = market.sandbox.user(&[0, whole(&SOL, 6)]).expect("victim");
            market.sandbox.deposit(&user, &sol, whole(&SOL, 1)).expect("collateral");
            // Setup arithmetic only (floats are fine): debt × 1.02 = 0.9 × threshold.
            let threshold = threshold_e4(k) as f64 / 10_000.0;
            let debt = threshold * 0.9 / 1.02;
            let native = (debt * 10f64.powi(USDC.decimals as i32)).ceil() as u64;
            market.sandbox.borrow(&user, &usdc, native).expect("borrow");
            list.push(Victim { user });
        }
        if bystanders > 0 {
            // One bystander through transactions; the others are byte copies of its margin
            // account at fresh addresses (seeding thousands through transactions is slow, and
            // the keeper only reads them: same size, discriminator and group, one deposit).
            let user = market.sandbox.user(&[0, whole(&SOL, 1)]).expect("bystander");
            market.sandbox.deposit(&user, &sol, whole(&SOL, 1)).expect("bystander deposit");
            let data = market.sandbox.chain.svm.get_account(&user.account).expect("bystander").data;
            for _ in 1..bystanders {
                market.sandbox.chain.set_account(
                    Pubkey::new_unique(),
                    cross_margin::ID,
                    data.clone(),
                );
            }
        }
        let served = serve(binary, &market, name);
        eprintln!(
            "{name}: {victims} victims, {bystanders} bystanders, {} genesis accounts; \
             validator healthy after {:.1} s",
            served.accounts,
            started.elapsed().as_secs_f64()
        );
        let Served { validator, rpc, payer, workdir, .. } = served;
        let ladder = Self {
            validator,
            market,
            keeper,
            keeper_user,
            victims: list,
            sol,
            rpc,
            payer,
            workdir,
        };
        let user = &ladder.victims.first().expect("a victim").user;
        wait_until_the_program_runs(&mut ladder.backend(), &ladder.market, user);
        ladder
    }

    /// The keeper's keypair as a Solana CLI keypair file holds it.
    pub fn keeper_keypair_bytes(&self) -> Vec<u8> {
        self.keeper_user.keypair.to_bytes().to_vec()
    }

    pub fn backend(&self) -> RpcBackend {
        RpcBackend::new(&self.validator.rpc_url, Duration::from_secs(30))
    }

    /// Sends `instructions` signed by `signers` (the first pays) and returns the slot it landed in.
    pub fn send(&self, instructions: &[Instruction], signers: &[&Keypair]) -> u64 {
        send(&self.rpc, instructions, signers)
    }

    pub fn slot_of(&self, signature: &solana_signature::Signature) -> u64 {
        slot_of(&self.rpc, signature)
    }

    /// Writes SOL's oracle (a PriceUpdateV2 published at the validator's clock) through the
    /// oracle writer; returns the slot the write landed in.
    pub fn set_sol_price(&self, dollars_e4: i64) -> u64 {
        let receiver = self.market.sandbox.receiver_program;
        let write =
            price_write(&self.rpc, receiver, self.sol.oracle, feed_id(self.sol.index), dollars_e4);
        self.send(&[write], &[&self.payer])
    }

    /// Victim k deposits 5 more SOL: healthy at any price the ladder reaches.
    pub fn top_up(&self, k: usize) -> u64 {
        let user = &self.victims[k].user;
        let deposit = ix::deposit(&self.market.sandbox.transfer(user, &self.sol), whole(&SOL, 5));
        self.send(&[deposit], &[&user.keypair])
    }

    /// Waits for the keeper's liquidation of `account` among the liquidations it reports
    /// (liquidatee, signature), skipping others; returns the slot it landed in.
    pub fn liquidation_slot(
        &self,
        reports: &Receiver<(Pubkey, String)>,
        account: &Pubkey,
        timeout: Duration,
    ) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (liquidatee, signature) = reports.recv_timeout(left).ok()?;
            if liquidatee == *account {
                return Some(self.slot_of(&signature.parse().expect("a signature")));
            }
        }
    }
}

impl Ladder {
    /// Stops the validator and removes its ledger.
    pub fn finish(self) {
        let workdir = self.workdir.clone();
        drop(self);
        let _ = std::fs::remove_dir_all(workdir);
    }
}

/// A market built on the embedded chain, served by a fresh validator from its genesis.
pub struct Served {
    pub validator: Validator,
    pub rpc: RpcClient,
    /// The market's admin: pays for the oracle writes.
    pub payer: Keypair,
    pub workdir: PathBuf,
    /// Genesis accounts written.
    pub accounts: usize,
}

/// Loads every account of `market`'s chain (the program's, the system's, the token program's
/// and the oracles') into a fresh validator's genesis, with the program and the oracle writer
/// at the Pyth receiver's address; returns once the validator is healthy.
pub fn serve(binary: &std::path::Path, market: &SeededMarket, name: &str) -> Served {
    serve_with(binary, market, name, &[])
}

/// [`serve`] with more programs loaded, `(program id, .so)`, and the accounts they own.
pub fn serve_with(
    binary: &std::path::Path,
    market: &SeededMarket,
    name: &str,
    extra_programs: &[(Pubkey, PathBuf)],
) -> Served {
    let workdir = std::env::temp_dir().join(format!("cross-margin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&workdir);
    let mut owners = vec![
        cross_margin::ID,
        anchor_lang::solana_program::system_program::ID,
        market.banks[0].token_program,
        market.sandbox.receiver_program,
        market.sandbox.legacy_program,
    ];
    owners.extend(extra_programs.iter().map(|(id, _)| *id));
    let accounts =
        write_genesis_accounts(&market.sandbox.chain, &workdir.join("accounts"), &owners)
            .expect("genesis accounts");
    let writer = oracle_writer_so();
    let mut programs =
        vec![(cross_margin::ID, program_so_path()), (market.sandbox.receiver_program, writer)];
    programs.extend(extra_programs.iter().cloned());
    let programs: Vec<(Pubkey, &std::path::Path)> =
        programs.iter().map(|(id, path)| (*id, path.as_path())).collect();
    let validator = Validator::start_with_programs(
        binary,
        &programs,
        Some(&workdir.join("accounts")),
        &workdir,
    )
    .expect("validator starts");
    let rpc =
        RpcClient::new_with_commitment(validator.rpc_url.clone(), CommitmentConfig::confirmed());
    let payer = Keypair::try_from(market.sandbox.admin.to_bytes().as_slice()).unwrap();
    Served { validator, rpc, payer, workdir, accounts }
}

/// A program loaded at genesis is refused (`UnsupportedProgramId`) for the validator's first
/// slots; simulate the read-only `health` view of `user`'s account until it runs.
pub fn wait_until_the_program_runs(backend: &mut RpcBackend, market: &SeededMarket, user: &User) {
    let started = Instant::now();
    let account = market.sandbox.margin_account(user);
    let view =
        ix::health(market.sandbox.group, user.account, market.sandbox.health_accounts_of(&account));
    let payer = market.sandbox.admin.pubkey();
    loop {
        let blockhash = backend.latest_blockhash().expect("blockhash");
        let message =
            Message::new_with_blockhash(std::slice::from_ref(&view), Some(&payer), &blockhash);
        let tx = VersionedTransaction {
            signatures: vec![Default::default()],
            message: VersionedMessage::Legacy(message),
        };
        match backend.simulate(&tx).expect("simulate").rejection {
            None => break,
            Some(r) if r.message.contains("UnsupportedProgramId") => {
                assert!(started.elapsed() < Duration::from_secs(90), "the program never ran");
                std::thread::sleep(Duration::from_millis(300));
            }
            Some(r) => panic!("the health view failed: {r:?}"),
        }
    }
    eprintln!("the genesis program runs after {:.1} s", started.elapsed().as_secs_f64());
}

/// Sends `instructions` signed by `signers` (the first pays) and returns the slot it landed in.
pub fn send(rpc: &RpcClient, instructions: &[Instruction], signers: &[&Keypair]) -> u64 {
    let blockhash = rpc.get_latest_blockhash().expect("blockhash");
    let message = Message::new_with_blockhash(instructions, Some(&signers[0].pubkey()), &blockhash);
    let tx =
        VersionedTransaction::try_new(VersionedMessage::Legacy(message), signers).expect("signing");
    let signature = rpc.send_and_confirm_transaction(&tx).expect("lands");
    slot_of(rpc, &signature)
}

pub fn slot_of(rpc: &RpcClient, signature: &solana_signature::Signature) -> u64 {
    let statuses = rpc.get_signature_statuses(&[*signature]).expect("statuses");
    statuses.value[0].as_ref().expect("a confirmed status").slot
}

/// The oracle writer's instruction that overwrites `oracle` with a PriceUpdateV2 of `feed` at
/// `dollars_e4` (dollars × 10^4), published at the validator's clock.
pub fn price_write(
    rpc: &RpcClient,
    receiver_program: Pubkey,
    oracle: Pubkey,
    feed: [u8; 32],
    dollars_e4: i64,
) -> Instruction {
    let clock = rpc.get_account(&CLOCK_SYSVAR).expect("the clock");
    let now = clock_unix_timestamp(&clock.data).expect("a clock");
    let quote = Quote { price: dollars_e4, conf: 0, exponent: -4, publish_time: now };
    let bytes = pyth::price_update_v2_with_ema(feed, quote, pyth::Ema::at(&quote), true);
    let mut data = 0u32.to_le_bytes().to_vec();
    data.extend_from_slice(&bytes);
    Instruction {
        program_id: receiver_program,
        accounts: vec![AccountMeta::new(oracle, false)],
        data,
    }
}
