//! Instruction fuzzing through the real `.so` in LiteSVM: random instruction data (valid
//! discriminators with random or truncated arguments, and plain random bytes), random account
//! lists (the market's real accounts, random keys, duplicates, accounts of the wrong type or
//! owner, random writable/signer flags on keys we hold), mutations of valid instructions, and
//! random oracle contents under valid instructions.
//!
//! Every case: the program never panics (no "panicked" log line, no `ProgramFailedToComplete`);
//! a rejected transaction changes no account; an accepted one leaves every bank's vault covering
//! its claims and the shares summing up.
//!
//! `cargo test` runs 4,000 cases with a fixed seed. Long run:
//! `CM_FUZZ_CASES=1000000 CM_FUZZ_SEED=<n> cargo test -p cross-margin-tests --test
//! fuzz_instructions -- --nocapture` (threads: `CM_CAMPAIGN_THREADS`, default every core).

use cross_margin::state::GroupConfigOptions;
use std::cell::RefCell;

use anchor_lang::prelude::AccountMeta;
use anchor_lang::Discriminator;
use cross_margin::state::{Bank, MarginAccount};
use cross_margin_client::ix::{self, Movement};
use cross_margin_client::pyth::{self, Quote};
use cross_margin_tests::campaign::{World, BANKS, USERS};
use cross_margin_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Every instruction of the program, by discriminator.
fn discriminators() -> Vec<&'static [u8]> {
    use cross_margin::instruction as i;
    vec![
        i::CreateGroup::DISCRIMINATOR,
        i::ConfigureGroup::DISCRIMINATOR,
        i::AddBank::DISCRIMINATOR,
        i::ConfigureBank::DISCRIMINATOR,
        i::CreateAccount::DISCRIMINATOR,
        i::Deposit::DISCRIMINATOR,
        i::Withdraw::DISCRIMINATOR,
        i::Borrow::DISCRIMINATOR,
        i::Repay::DISCRIMINATOR,
        i::Liquidate::DISCRIMINATOR,
        i::ResolveBankruptcy::DISCRIMINATOR,
        i::FundInsurance::DISCRIMINATOR,
        i::CloseAccount::DISCRIMINATOR,
        i::Health::DISCRIMINATOR,
    ]
}

/// Reads choices out of the fuzz input, like libFuzzer's `FuzzedDataProvider`; zeros when it
/// runs out, so shrinking towards shorter and smaller inputs means simpler cases.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        let x = (self.u8() as usize) << 8 | self.u8() as usize;
        x % n.max(1)
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| acc << 8 | self.u8() as u64)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }

    fn interesting_u64(&mut self) -> u64 {
        match self.below(8) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => u64::MAX / 2 + 1,
            4 => self.u64() % 1_000,
            5 => self.u64() % 1_000_000_000,
            _ => self.u64(),
        }
    }
}

struct Fuzz {
    world: World,
    base: litesvm::LiteSVM,
    pool: Vec<Pubkey>,
    signers: Vec<Pubkey>,
    discriminators: Vec<&'static [u8]>,
}

impl Fuzz {
    fn new() -> Self {
        let mut world = World::new();
        // Borrows too, so that health checks, liquidations and repayments have work to do.
        let (usdc, sol, btc) = (world.banks[0], world.banks[1], world.banks[2]);
        let (u0, u1) = (&world.users[0], &world.users[1]);
        let m = &mut world.m;
        m.borrow(u0, &usdc, 5_000_000_000).expect_ok("borrow USDC");
        m.borrow(u1, &sol, 50_000_000_000).expect_ok("borrow SOL");
        m.borrow(u0, &btc, 1_000_000).expect_ok("borrow BTC");
        let mut pool = vec![
            world.m.group,
            world.foreign.address,
            world.foreign.oracle,
            world.m.admin.pubkey(),
            world.m.chain.payer.pubkey(),
            cross_margin::ID,
            anchor_lang::system_program::ID,
            anchor_spl::token::ID,
            anchor_spl::token_2022::ID,
            "SysvarC1ock11111111111111111111111111111111".parse().unwrap(),
            "SysvarRent111111111111111111111111111111111".parse().unwrap(),
        ];
        for b in &world.banks {
            pool.extend([b.address, b.vault, b.oracle, b.mint]);
        }
        for u in &world.users {
            pool.extend([u.account, u.keypair.pubkey()]);
            pool.extend(u.tokens.iter().copied());
        }
        let mut signers: Vec<Pubkey> = world.users.iter().map(|u| u.keypair.pubkey()).collect();
        signers.push(world.m.admin.pubkey());
        signers.push(world.m.chain.payer.pubkey());
        let base = world.m.chain.svm.clone();
        Fuzz { world, base, pool, signers, discriminators: discriminators() }
    }

    fn meta(&self, input: &mut Input, earlier: &[AccountMeta]) -> AccountMeta {
        let pubkey = match input.below(10) {
            0 | 1 if !earlier.is_empty() => earlier[input.below(earlier.len())].pubkey,
            2 => Pubkey::new_from_array(input.bytes(32).try_into().unwrap()),
            _ => self.pool[input.below(self.pool.len())],
        };
        let is_signer = self.signers.contains(&pubkey) && input.below(2) == 0;
        AccountMeta { pubkey, is_signer, is_writable: input.below(2) == 0 }
    }

    /// A random instruction: a discriminator (valid, random or cut short), then arguments
    /// (random bytes, or a u64 from an interesting set), then a random account list.
    fn random_ix(&self, input: &mut Input) -> Instruction {
        let mut data = match input.below(8) {
            0 => {
                let n = input.below(9);
                input.bytes(n)
            }
            1 => input.bytes(8),
            _ => self.discriminators[input.below(self.discriminators.len())].to_vec(),
        };
        match input.below(4) {
            0 => data.extend(input.interesting_u64().to_le_bytes()),
            1 => {}
            _ => {
                let n = input.below(120);
                data.extend(input.bytes(n));
            }
        }
        let n = input.below(24);
        let mut accounts = Vec::with_capacity(n);
        for _ in 0..n {
            let meta = self.meta(input, &accounts);
            accounts.push(meta);
        }
        Instruction { program_id: cross_margin::ID, accounts, data }
    }

    /// A valid instruction for the current state.
    fn valid_ix(&self, input: &mut Input) -> Instruction {
        let m = &self.world.m;
        let u = input.below(USERS);
        let user = &self.world.users[u];
        let bank = self.world.banks[input.below(BANKS)];
        let amount = input.interesting_u64();
        let transfer = m.transfer(user, &bank);
        let health = |mv| match m.chain.load::<MarginAccount>(&user.account) {
            Some(_) => m.health_after(user, &bank, mv, amount),
            None => vec![],
        };
        match input.below(9) {
            0 => ix::deposit(&transfer, amount),
            1 => ix::repay(&transfer, amount),
            2 => ix::withdraw(&transfer, amount, health(Movement::Withdraw)),
            3 => ix::borrow(&transfer, amount, health(Movement::Borrow)),
            4 => {
                let other = &self.world.users[(u + 1 + input.below(USERS - 1)) % USERS];
                let asset = self.world.banks[input.below(BANKS)];
                match (
                    m.chain.load::<MarginAccount>(&user.account),
                    m.chain.load::<MarginAccount>(&other.account),
                ) {
                    (Some(_), Some(_)) => m.liquidate_ix(user, other, &bank, &asset, amount),
                    _ => ix::close_account(user.account, user.keypair.pubkey()),
                }
            }
            5 => match m.chain.load::<MarginAccount>(&user.account) {
                Some(a) => ix::resolve_bankruptcy(
                    m.group,
                    user.account,
                    bank.address,
                    m.write_off_accounts_of(&a),
                ),
                None => ix::close_account(user.account, user.keypair.pubkey()),
            },
            6 => match m.chain.load::<MarginAccount>(&user.account) {
                Some(a) => ix::health(m.group, user.account, m.health_accounts_of(&a)),
                None => ix::close_account(user.account, user.keypair.pubkey()),
            },
            7 => ix::fund_insurance(m.group, m.admin.pubkey(), &bank, user.tokens[0], amount),
            _ => ix::configure_group(
                m.group,
                m.admin.pubkey(),
                GroupConfigOptions {
                    paused: Some(input.below(2) == 0),
                    reduce_only: Some(input.below(2) == 0),
                    ..Default::default()
                },
            ),
        }
    }

    /// A valid instruction with one to three things changed.
    fn mutated_ix(&self, input: &mut Input) -> Instruction {
        let mut ix = self.valid_ix(input);
        for _ in 0..1 + input.below(3) {
            let n = ix.accounts.len();
            match input.below(7) {
                0 if n > 0 => {
                    let i = input.below(n);
                    ix.accounts[i] = self.meta(input, &ix.accounts.clone());
                }
                1 if n > 1 => {
                    let (i, j) = (input.below(n), input.below(n));
                    ix.accounts.swap(i, j);
                }
                2 if n > 0 => {
                    ix.accounts.remove(input.below(n));
                }
                3 => {
                    let meta = self.meta(input, &ix.accounts.clone());
                    ix.accounts.push(meta);
                }
                4 if n > 0 => {
                    let i = input.below(n);
                    ix.accounts[i].is_writable ^= true;
                    if !self.signers.contains(&ix.accounts[i].pubkey) {
                        ix.accounts[i].is_signer = false;
                    } else if input.below(2) == 0 {
                        ix.accounts[i].is_signer ^= true;
                    }
                }
                5 if !ix.data.is_empty() => {
                    let len = input.below(ix.data.len());
                    ix.data.truncate(len);
                }
                _ if !ix.data.is_empty() => {
                    let i = input.below(ix.data.len());
                    ix.data[i] ^= 1 << input.below(8);
                }
                _ => {}
            }
        }
        ix
    }

    /// Random contents in one bank's oracle account (real layouts with extreme fields, or
    /// random bytes), under a valid instruction that reads it.
    fn oracle_case(&mut self, input: &mut Input) -> Instruction {
        let b = input.below(BANKS);
        let bank = self.world.banks[b];
        let kind = self.world.m.bank(&bank).oracle_kind().unwrap();
        let quote = Quote {
            price: input.u64() as i64,
            conf: input.interesting_u64(),
            exponent: match input.below(4) {
                0 => input.u64() as i32,
                1 => i32::MAX - input.below(20) as i32,
                2 => i32::MIN + input.below(20) as i32,
                _ => -(input.below(30) as i32),
            },
            publish_time: self.world.m.now() - input.below(3) as i64,
        };
        let m = &mut self.world.m;
        match input.below(4) {
            0 => {
                let n = input.below(4_000);
                let owner = if input.below(2) == 0 { m.receiver_program } else { m.legacy_program };
                m.chain.set_account(bank.oracle, owner, input.bytes(n));
            }
            1 => {
                let data = pyth::price_update_v2(
                    cross_margin_testkit::sandbox::feed_id(bank.index),
                    quote,
                    input.below(4) != 0,
                );
                let receiver = m.receiver_program;
                m.chain.set_account(bank.oracle, receiver, data);
            }
            _ => m.write_oracle(kind, bank.oracle, bank.index, quote, input.below(4) != 0),
        }
        self.valid_ix(input)
    }

    fn case(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.world.m.chain.svm = self.base.clone();
        let mut input = Input(bytes);
        let ix = match input.below(4) {
            0 => self.random_ix(&mut input),
            1 | 2 => self.mutated_ix(&mut input),
            _ => self.oracle_case(&mut input),
        };
        // Everything but the fee payer, which pays for rejected transactions too.
        let payer = self.world.m.chain.payer.pubkey();
        let watched: Vec<Pubkey> = self.pool.iter().copied().filter(|k| *k != payer).collect();
        let snapshot = Snapshot::take(&self.world.m.chain, &watched);
        let result = self.world.send_tx(std::slice::from_ref(&ix));
        let logs = match &result {
            Ok(e) => &e.logs,
            Err(f) => &f.logs,
        };
        if let Some(line) = logs.iter().find(|l| l.to_lowercase().contains("panicked")) {
            return Err(format!("panic: {line}\n{ix:?}"));
        }
        match result {
            Err(failed) => {
                if format!("{:?}", failed.error).contains("ProgramFailedToComplete") {
                    return Err(format!(
                        "ProgramFailedToComplete\n{ix:?}\n{}",
                        failed.logs.join("\n")
                    ));
                }
                if let Some(changed) = snapshot.changed(&self.world.m.chain) {
                    return Err(format!(
                        "rejected ({:?}) but changed {changed}\n{ix:?}",
                        failed.error
                    ));
                }
                Ok(())
            }
            Ok(_) => self.conserved().map_err(|e| format!("{e}\n{ix:?}")),
        }
    }

    /// After an accepted instruction: every vault covers its claims, shares add up.
    fn conserved(&self) -> Result<(), String> {
        let m = &self.world.m;
        let accounts: Vec<MarginAccount> =
            self.world.users.iter().filter_map(|u| m.chain.load(&u.account)).collect();
        for bank in &self.world.banks {
            let b: Bank = m.bank(bank);
            let (vault, claims) = m.vault_and_claims(bank);
            if (vault as i128) < claims {
                return Err(format!("bank {}: vault {vault} < claims {claims}", bank.index));
            }
            let (mut d, mut l) = (0u64, 0u64);
            for a in &accounts {
                if let Some(slot) = a.find(bank.index) {
                    match a.positions[slot].shares().unwrap() {
                        cross_margin::health::PositionShares::Deposit(s) => d += s,
                        cross_margin::health::PositionShares::Borrow(s) => l += s,
                    }
                }
            }
            if (d, l) != (b.total_deposit_shares, b.total_borrow_shares) {
                return Err(format!("bank {}: shares do not add up", bank.index));
            }
        }
        Ok(())
    }
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn instructions_never_panic_and_rejections_change_nothing() {
    let cases: u32 = env("CM_FUZZ_CASES").unwrap_or(4_000);
    let seed: u64 = env("CM_FUZZ_SEED").unwrap_or(0xF022_2026);
    let threads: usize = env("CM_CAMPAIGN_THREADS")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let started = std::time::Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let fuzz = RefCell::new(Fuzz::new());
                    let config = Config {
                        cases: cases / threads as u32,
                        failure_persistence: None,
                        max_shrink_iters: 4_000,
                        ..Config::default()
                    };
                    let mut key = [7u8; 32];
                    key[..8].copy_from_slice(&seed.to_le_bytes());
                    key[8..16].copy_from_slice(&(t as u64).to_le_bytes());
                    let mut runner = TestRunner::new_with_rng(
                        config,
                        TestRng::from_seed(RngAlgorithm::ChaCha, &key),
                    );
                    let strategy = prop::collection::vec(any::<u8>(), 16..400);
                    match runner.run(&strategy, |bytes| {
                        fuzz.borrow_mut().case(&bytes).map_err(TestCaseError::fail)
                    }) {
                        Ok(()) => None,
                        Err(TestError::Fail(reason, bytes)) => {
                            Some(format!("thread {t}, seed {seed}: {reason}\ninput {bytes:?}"))
                        }
                        Err(TestError::Abort(reason)) => Some(format!("aborted: {reason}")),
                    }
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().expect("fuzz thread")).collect()
    });
    println!("fuzz: {cases} cases in {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
