//! Instruction fuzzing through the real `.so` in LiteSVM: random instruction data (valid
//! discriminators with random or truncated arguments, and plain random bytes), random account
//! lists (the market's real accounts, random keys, duplicates, accounts of the wrong type or
//! owner, random writable/signer flags on keys we hold), mutations of valid instructions, and
//! random oracle contents under valid instructions.
//!
//! Every case: the program never panics (no "panicked" log line, no `ProgramFailedToComplete`);
//! a rejected transaction fails with a named error (one the program or Anchor logs by name, or
//! the custom code of a program it calls, SPL Token, whose own log line shows it failing) and
//! changes no account; an
//! accepted one leaves every bank's vault covering its claims, the shares summing up (the perp
//! pool's deposit shares included) and the perp market's open interest, quote sum, LP shares
//! and unapplied funding equal to the sums over the accounts' perp slots.
//!
//! The market is the property campaign's (`World::new`: four banks, a perp market whose pool
//! holds $100,000) with borrows and perp positions open, so that health checks, liquidations,
//! settlements and pool withdrawals have work to do.
//!
//! `cargo test` runs 4,000 cases with a fixed seed. Long run:
//! `CM_FUZZ_CASES=1000000 CM_FUZZ_SEED=<n> cargo test -p cross-margin-tests --test
//! fuzz_instructions -- --nocapture` (threads: `CM_CAMPAIGN_THREADS`, default every core).

use cross_margin::state::GroupConfigOptions;
use std::cell::RefCell;

use anchor_lang::prelude::AccountMeta;
use anchor_lang::Discriminator;
use cross_margin::perp::{PerpOrder, PerpSide};
use cross_margin::state::{Bank, MarginAccount, PerpMarket};
use cross_margin_client::ix::{self, Movement};
use cross_margin_client::perp_ix;
use cross_margin_client::pyth::{self, Quote};
use cross_margin_testkit::perp::perp_feed_id;
use cross_margin_tests::campaign::{World, ACCOUNTS, BANKS, USERS};
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
        i::QueueBankConfig::DISCRIMINATOR,
        i::ApplyBankConfig::DISCRIMINATOR,
        i::CancelBankConfig::DISCRIMINATOR,
        i::QueueGroupConfig::DISCRIMINATOR,
        i::ApplyGroupConfig::DISCRIMINATOR,
        i::CancelGroupConfig::DISCRIMINATOR,
        i::ProposeAdmin::DISCRIMINATOR,
        i::AcceptAdmin::DISCRIMINATOR,
        i::Halt::DISCRIMINATOR,
        i::AddPerpMarket::DISCRIMINATOR,
        i::ConfigurePerpMarket::DISCRIMINATOR,
        i::QueuePerpMarketConfig::DISCRIMINATOR,
        i::ApplyPerpMarketConfig::DISCRIMINATOR,
        i::CancelPerpMarketConfig::DISCRIMINATOR,
        i::PlacePerpOrder::DISCRIMINATOR,
        i::PoolDeposit::DISCRIMINATOR,
        i::PoolWithdraw::DISCRIMINATOR,
        i::SettlePnl::DISCRIMINATOR,
        i::HealthAfterPendingChanges::DISCRIMINATOR,
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
        i::FlashLoanBegin::DISCRIMINATOR,
        i::FlashLoanEnd::DISCRIMINATOR,
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
    /// Cases sent inside a flash-loan bracket, and how many of them landed.
    bracketed: u64,
    bracketed_landed: u64,
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
        // Perp positions both ways, one of them already showing a PnL.
        let perp = world.perp;
        let (u2, u3) = (&world.users[2], &world.users[3]);
        m.place_perp_order(u2, &perp, PerpOrder::market(PerpSide::Long, 3_000)).expect_ok("long");
        m.place_perp_order(u3, &perp, PerpOrder::market(PerpSide::Short, 1_000)).expect_ok("short");
        m.place_perp_order(u0, &perp, PerpOrder::market(PerpSide::Short, 500)).expect_ok("short");
        let quote = Quote { price: 1_030_000, ..m.perp_quote(&perp) };
        m.set_perp_price(&perp, quote);
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
            world.perp.address,
            world.perp.oracle,
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
        Fuzz {
            world,
            base,
            pool,
            signers,
            discriminators: discriminators(),
            bracketed: 0,
            bracketed_landed: 0,
        }
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

    /// A perp instruction for the current state, with random arguments: an order (either side,
    /// an interesting size, any limit, reduce-only or not), a settlement, a perp liquidation or
    /// write-off, a pool deposit or withdrawal, or an admin change of the market's configuration
    /// with one random byte.
    fn perp_ix(&self, input: &mut Input) -> Instruction {
        let m = &self.world.m;
        let perp = self.world.perp;
        let user = &self.world.users[input.below(ACCOUNTS)];
        let account = m.chain.load::<MarginAccount>(&user.account);
        let trade = m.perp_trade(user, &perp);
        let amount = input.interesting_u64();
        match input.below(6) {
            0 | 1 => {
                let side = if input.below(2) == 0 { PerpSide::Long } else { PerpSide::Short };
                let limit_price = match input.below(4) {
                    0 => 0,
                    1 => u128::MAX,
                    _ => (input.u64() as u128) << input.below(72),
                };
                let reduce_only = input.below(4) == 0;
                let order = PerpOrder { side, size_lots: amount, limit_price, reduce_only };
                let health = match account {
                    Some(a) => m.health_accounts_with_slot(&a, &perp),
                    None => vec![],
                };
                perp_ix::place_perp_order(&trade, order, health)
            }
            2 => {
                // Settlement with or without the health accounts; a perp liquidation by another
                // account (or itself) of any size; a perp write-off.
                let health = match account {
                    Some(a) if input.below(2) == 0 => m.health_accounts_of(&a),
                    _ => vec![],
                };
                match input.below(3) {
                    0 => perp_ix::settle_pnl(m.group, user.account, &perp, health),
                    1 => {
                        let liquidator = &self.world.users[input.below(ACCOUNTS)];
                        perp_ix::liquidate_perp(
                            m.group,
                            liquidator.account,
                            liquidator.keypair.pubkey(),
                            user.account,
                            &perp,
                            amount,
                            health,
                        )
                    }
                    _ => perp_ix::resolve_perp_bankruptcy(m.group, user.account, &perp, health),
                }
            }
            3 => {
                let health = match account {
                    Some(a) => {
                        let bank = m.bank(&perp.settle_bank);
                        let after =
                            ix::account_after(&a, &bank, Movement::Withdraw, amount, m.now());
                        m.health_accounts_with_slot(&after, &perp)
                    }
                    None => vec![],
                };
                perp_ix::pool_deposit(&trade, amount, health)
            }
            4 => perp_ix::pool_withdraw(&trade, amount),
            _ => {
                let market: PerpMarket = m.perp(&perp);
                let mut config = market.config;
                let bytes = bytemuck::bytes_of_mut(&mut config);
                bytes[input.below(bytes.len())] = input.u8();
                let admin = m.admin.pubkey();
                match input.below(4) {
                    0 => perp_ix::configure_perp_market(
                        m.group,
                        admin,
                        perp.address,
                        perp.oracle,
                        config,
                    ),
                    1 => perp_ix::queue_perp_market_config(
                        m.group,
                        admin,
                        perp.address,
                        perp.oracle,
                        config,
                    ),
                    2 => perp_ix::apply_perp_market_config(m.group, perp.address, perp.oracle),
                    _ => perp_ix::cancel_perp_market_config(m.group, admin, perp.address),
                }
            }
        }
    }

    /// A valid instruction for the current state.
    fn valid_ix(&self, input: &mut Input) -> Instruction {
        if input.below(3) == 0 {
            return self.perp_ix(input);
        }
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
        if input.below(BANKS + 1) == BANKS {
            return self.perp_oracle_case(input);
        }
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

    /// Random contents in the perp market's oracle account, under a perp instruction.
    fn perp_oracle_case(&mut self, input: &mut Input) -> Instruction {
        let perp = self.world.perp;
        let quote = Quote {
            price: match input.below(3) {
                0 => input.u64() as i64,
                _ => 1_000_000 + (input.u64() % 200_000) as i64 - 100_000,
            },
            conf: input.interesting_u64(),
            exponent: match input.below(4) {
                0 => input.u64() as i32,
                1 => i32::MIN + input.below(20) as i32,
                _ => -(input.below(30) as i32),
            },
            publish_time: self.world.m.now() - input.below(120) as i64,
        };
        let m = &mut self.world.m;
        match input.below(3) {
            0 => {
                let n = input.below(4_000);
                let owner = if input.below(2) == 0 { m.receiver_program } else { m.legacy_program };
                m.chain.set_account(perp.oracle, owner, input.bytes(n));
            }
            1 => {
                let data =
                    pyth::price_update_v2(perp_feed_id(perp.index), quote, input.below(4) != 0);
                let receiver = m.receiver_program;
                m.chain.set_account(perp.oracle, receiver, data);
            }
            _ => m.set_perp_price(&perp, quote),
        }
        self.perp_ix(input)
    }

    fn case(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.world.m.chain.svm = self.base.clone();
        let mut input = Input(bytes);
        let ix = match input.below(4) {
            0 => self.random_ix(&mut input),
            1 | 2 => self.mutated_ix(&mut input),
            _ => self.oracle_case(&mut input),
        };
        // One case in six runs inside a flash-loan bracket of some user's account.
        let bracketed = input.below(6) == 0;
        let ixs = if bracketed { self.bracketed(&mut input, ix) } else { vec![ix] };
        // Everything but the fee payer, which pays for rejected transactions too.
        let payer = self.world.m.chain.payer.pubkey();
        let watched: Vec<Pubkey> = self.pool.iter().copied().filter(|k| *k != payer).collect();
        let snapshot = Snapshot::take(&self.world.m.chain, &watched);
        let result = self.world.send_tx(&ixs);
        let logs = match &result {
            Ok(e) => &e.logs,
            Err(f) => &f.logs,
        };
        if let Some(line) = logs.iter().find(|l| l.to_lowercase().contains("panicked")) {
            return Err(format!("panic: {line}\n{ixs:?}"));
        }
        match result {
            Err(failed) => {
                self.bracketed += bracketed as u64;
                if format!("{:?}", failed.error).contains("ProgramFailedToComplete") {
                    return Err(format!(
                        "ProgramFailedToComplete\n{ixs:?}\n{}",
                        failed.logs.join("\n")
                    ));
                }
                if let Some(changed) = snapshot.changed(&self.world.m.chain) {
                    return Err(format!(
                        "rejected ({:?}) but changed {changed}\n{ixs:?}",
                        failed.error
                    ));
                }
                named(&failed).map_err(|e| format!("{e}\n{ixs:?}"))?;
                Ok(())
            }
            Ok(_) => {
                self.bracketed += bracketed as u64;
                self.bracketed_landed += bracketed as u64;
                self.conserved().map_err(|e| format!("{e}\n{ixs:?}"))
            }
        }
    }

    /// `ix` between `flash_loan_begin` and `flash_loan_end` of a random user's account, the end
    /// given the account's health accounts as they are now.
    fn bracketed(&self, input: &mut Input, ix: Instruction) -> Vec<Instruction> {
        let m = &self.world.m;
        let user = &self.world.users[input.below(USERS)];
        let owner = user.keypair.pubkey();
        let health = match m.chain.load::<MarginAccount>(&user.account) {
            Some(account) => m.health_accounts_of(&account),
            None => vec![],
        };
        vec![
            ix::flash_loan_begin(user.account, owner),
            ix,
            ix::flash_loan_end(m.group, user.account, owner, health),
        ]
    }

    /// After an accepted transaction: every vault covers its claims, shares add up, and no
    /// account is left inside a flash loan.
    fn conserved(&self) -> Result<(), String> {
        let m = &self.world.m;
        let accounts: Vec<MarginAccount> =
            self.world.users.iter().filter_map(|u| m.chain.load(&u.account)).collect();
        if accounts.iter().any(|a| a.is_in_flash_loan()) {
            return Err("an account was left inside a flash loan".into());
        }
        let market: PerpMarket = m.perp(&self.world.perp);
        perp_sums(&market, &accounts)?;
        for bank in &self.world.banks {
            let b: Bank = m.bank(bank);
            let (vault, claims) = m.vault_and_claims(bank);
            if (vault as i128) < claims {
                return Err(format!("bank {}: vault {vault} < claims {claims}", bank.index));
            }
            let (mut d, mut l) = (0u64, 0u64);
            if bank.index == market.settle_bank_index {
                d += market.pool_deposit_shares;
            }
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

/// A rejection is named: an error the program (or Anchor, for an account it could not
/// deserialize) logged by name, or the custom code of a program it called that failed (SPL
/// Token's "owner does not match"), as that program's own log line says.
fn named(failed: &Failed) -> Result<(), String> {
    let unnamed = || format!("unnamed failure {:?}\n{}", failed.error, failed.logs.join("\n"));
    if failed.error_name().is_some() {
        return Ok(());
    }
    failed.custom_code().ok_or_else(unnamed)?;
    let ours = cross_margin::ID.to_string();
    let callee_failed = failed.logs.iter().any(|line| {
        line.starts_with("Program ")
            && line.contains(" failed: custom program error")
            && !line.contains(&ours)
    });
    callee_failed.then_some(()).ok_or_else(unnamed)
}

/// The perp market's aggregates are the sums over the accounts' slots: open interest, quote,
/// LP shares, and the funding owed but not applied (`base × (index − snapshot)`, Q64.64).
fn perp_sums(market: &PerpMarket, accounts: &[MarginAccount]) -> Result<(), String> {
    let funding = market.funding();
    let (mut long, mut short, mut quote, mut lp, mut owed) = (0u64, 0u64, 0i128, 0u64, 0i128);
    for slot in accounts.iter().flat_map(|a| a.active_perps()) {
        let p = slot.position();
        long += p.base_lots.max(0) as u64;
        short += p.base_lots.min(0).unsigned_abs();
        quote += p.quote_native as i128;
        lp += slot.lp_shares;
        let delta = if p.base_lots >= 0 {
            funding.long - p.funding_snapshot.long
        } else {
            funding.short - p.funding_snapshot.short
        };
        owed += p.base_lots as i128 * delta;
    }
    let sums = (long, short, quote, lp, owed);
    let market_says = (
        market.long_lots,
        market.short_lots,
        market.quote_sum(),
        market.lp_shares,
        market.funding_unapplied(),
    );
    if sums != market_says {
        return Err(format!("perp market {market_says:?} != the slots' sums {sums:?}"));
    }
    Ok(())
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
    let (mut bracketed, mut bracketed_landed) = (0u64, 0u64);
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
                    let failure = match runner.run(&strategy, |bytes| {
                        fuzz.borrow_mut().case(&bytes).map_err(TestCaseError::fail)
                    }) {
                        Ok(()) => None,
                        Err(TestError::Fail(reason, bytes)) => {
                            Some(format!("thread {t}, seed {seed}: {reason}\ninput {bytes:?}"))
                        }
                        Err(TestError::Abort(reason)) => Some(format!("aborted: {reason}")),
                    };
                    let fuzz = fuzz.borrow();
                    (failure, fuzz.bracketed, fuzz.bracketed_landed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("fuzz thread")).collect::<Vec<_>>()
    })
    .into_iter()
    .filter_map(|(failure, sent, landed)| {
        bracketed += sent;
        bracketed_landed += landed;
        failure
    })
    .collect();
    println!(
        "fuzz: {cases} cases in {:.1} s; {bracketed} inside a flash-loan bracket, {bracketed_landed} of them landed",
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The bracket's deferred checks are exercised, not only its refusals.
    assert!(bracketed_landed > 0, "no bracketed case landed");
}
