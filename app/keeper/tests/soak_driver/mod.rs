//! The soak's seeded random driver (tests/soak.rs): user actions, price moves and bad
//! transactions sent to a local validator, each one a real transaction, tallied by kind and
//! outcome. Amounts are judged from the state the soak last read (the keeper's own discovery
//! and `evaluate::assess`); the program decides, and a refusal of an honest action (e.g. a
//! borrow that the price moved under) is an outcome, not a failure. A bad transaction that
//! lands, or that changes the accounts it names, fails the soak.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cross_margin::constants::ACCOUNT_VERSION;
use cross_margin::health::PositionShares::Borrow;
use cross_margin::perp::PerpSide;
use cross_margin::positions;
use cross_margin::state::MarginAccount;
use cross_margin_client::ix::{self, BankRef, Movement, Transfer};
use cross_margin_client::perp_ix;
use cross_margin_client::{Instruction, Keypair, Pubkey, Signer};
use cross_margin_keeper::backend::rpc::RpcBackend;
use cross_margin_keeper::backend::{Backend, Rejection};
use cross_margin_keeper::evaluate::assess;
use cross_margin_keeper::keeper::Discovered;
use cross_margin_testkit::perp::{market_order, perp_feed_id};
use cross_margin_testkit::sandbox::{feed_id, User};
use cross_margin_testkit::scenario::{Rng, SeededMarket};
use solana_message::{Message, VersionedMessage};
use solana_rpc_client::rpc_client::RpcClient;
use solana_transaction::versioned::VersionedTransaction;

use crate::localnet::price_write;

/// SOL's price stays in this band (dollars × 10^4); recoveries pull it back to the start.
const SOL_MIN_E4: i64 = 400_000;
const SOL_MAX_E4: i64 = 2_500_000;
const SOL_START_E4: i64 = 1_250_000;
/// USDC's and BTC's prices (dollars), which the soak never moves.
const FIXED_USD: [f64; 3] = [1.0, 0.0, 100_000.0];
/// SOL-PERP's oracle may be at most 60 s old (the test kit's `perp_config`): rewrite it at
/// least this often even without a price move.
const PRICE_REFRESH: Duration = Duration::from_secs(15);

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Landed,
    /// Refused by the chain, with the program's error name.
    Refused(String),
    /// Nothing to do (an empty wallet, no debt): no transaction sent.
    Skipped,
}

pub struct Driver<'a> {
    market: &'a SeededMarket,
    rpc: &'a RpcClient,
    backend: RpcBackend,
    payer: &'a Keypair,
    /// The token actors: the seeded borrowers and the soak's whales.
    users: Vec<&'a User>,
    traders: Vec<&'a User>,
    rng: Rng,
    pub sol_e4: i64,
    last_price_write: Instant,
    /// A blockhash from the driver's start: once the validator no longer knows it, a
    /// transaction signed with it is a stale one.
    first_blockhash: solana_message::Hash,
    /// (action, outcome) → count.
    pub tally: BTreeMap<(&'static str, Outcome), u64>,
}

impl<'a> Driver<'a> {
    pub fn new(
        market: &'a SeededMarket,
        whales: &'a [User],
        rpc: &'a RpcClient,
        rpc_url: &str,
        payer: &'a Keypair,
        seed: u64,
    ) -> Self {
        let perps = market.perps.as_ref().expect("the soak's market has SOL-PERP");
        Self {
            market,
            rpc,
            backend: RpcBackend::new(rpc_url, Duration::from_secs(30)),
            payer,
            users: market.users.iter().chain(whales).collect(),
            traders: perps.traders.iter().chain(whales).collect(),
            rng: Rng::new(seed),
            sol_e4: SOL_START_E4,
            last_price_write: Instant::now() - PRICE_REFRESH,
            first_blockhash: rpc.get_latest_blockhash().expect("blockhash"),
            tally: BTreeMap::new(),
        }
    }

    /// One random action against the state last read (`seen`).
    pub fn step(&mut self, seen: &Discovered) {
        if self.last_price_write.elapsed() >= PRICE_REFRESH {
            let outcome = self.write_sol_price(self.sol_e4);
            self.count("price refresh", outcome);
        }
        let weights = [15.0, 15.0, 10.0, 10.0, 20.0, 12.0, 18.0];
        let (kind, outcome) = match self.rng.weighted(&weights) {
            0 => ("deposit", self.deposit(seen)),
            1 => ("borrow", self.borrow(seen)),
            2 => ("repay", self.repay(seen)),
            3 => ("withdraw", self.withdraw(seen)),
            4 => self.move_price(),
            5 => ("perp trade", self.perp_trade(seen)),
            _ => self.bad(seen),
        };
        self.count(kind, outcome);
    }

    /// Back to the starting price (the soak's last move, so that the drain ends healthy).
    pub fn recover(&mut self) {
        self.sol_e4 = SOL_START_E4;
        let outcome = self.write_sol_price(SOL_START_E4);
        self.count("price recovery", outcome);
    }

    fn count(&mut self, kind: &'static str, outcome: Outcome) {
        *self.tally.entry((kind, outcome)).or_default() += 1;
    }

    /// Sends `instructions` signed by `signer` (who pays).
    fn send(&mut self, instructions: &[Instruction], signer: &Keypair) -> Outcome {
        let blockhash = self.backend.latest_blockhash().expect("blockhash");
        let message = Message::new_with_blockhash(instructions, Some(&signer.pubkey()), &blockhash);
        let tx = VersionedTransaction::try_new(VersionedMessage::Legacy(message), &[signer])
            .expect("signing");
        match self.backend.send_and_confirm(&tx).expect("the validator answers") {
            Ok(_) => Outcome::Landed,
            Err(rejection) => Outcome::Refused(name(&rejection)),
        }
    }

    /// SOL's bank oracle and SOL-PERP's oracle at the same price, in one transaction.
    fn write_sol_price(&mut self, e4: i64) -> Outcome {
        let m = self.market;
        let receiver = m.sandbox.receiver_program;
        let sol = m.banks[1];
        let perp = m.perps.as_ref().expect("SOL-PERP").market;
        let writes = [
            price_write(self.rpc, receiver, sol.oracle, feed_id(sol.index), e4),
            price_write(self.rpc, receiver, perp.oracle, perp_feed_id(perp.index), e4),
        ];
        self.last_price_write = Instant::now();
        self.send(&writes, self.payer)
    }

    /// A small move (±0.3–2%), a crash (−8 to −25%) or a recovery (half to all the way back
    /// to the starting price).
    fn move_price(&mut self) -> (&'static str, Outcome) {
        let p = self.sol_e4 as f64;
        let (kind, next) = match self.rng.weighted(&[6.0, 2.0, 2.0]) {
            0 => ("price small", p * (1.0 + self.rng.uniform(-0.02, 0.02))),
            1 => ("price crash", p * (1.0 - self.rng.uniform(0.08, 0.25))),
            _ => ("price recovery", p + (SOL_START_E4 as f64 - p) * self.rng.uniform(0.5, 1.0)),
        };
        self.sol_e4 = (next as i64).clamp(SOL_MIN_E4, SOL_MAX_E4);
        (kind, self.write_sol_price(self.sol_e4))
    }

    fn pick<'u>(&mut self, from: &[&'u User]) -> &'u User {
        from[self.rng.range(0, from.len() as u64) as usize]
    }

    fn account(seen: &Discovered, user: &User) -> Option<MarginAccount> {
        seen.accounts.iter().find(|(k, _)| *k == user.account).map(|(_, a)| *a)
    }

    fn transfer(&self, user: &User, bank: &BankRef) -> Transfer {
        self.market.sandbox.transfer(user, bank)
    }

    fn wallet(&self, user: &User) -> [u64; 3] {
        let keys: Vec<Pubkey> = user.tokens.iter().take(3).copied().collect();
        let accounts = self.rpc.get_multiple_accounts(&keys).expect("wallets");
        let mut balances = [0u64; 3];
        for (balance, account) in balances.iter_mut().zip(accounts) {
            *balance = account.map_or(0, |a| token_amount(&a.data));
        }
        balances
    }

    /// The health accounts of `user`'s account after `movement` of `amount` in `bank`.
    fn health_after(
        &self,
        seen: &Discovered,
        account: &MarginAccount,
        bank: &BankRef,
        movement: Movement,
        amount: u64,
    ) -> Vec<solana_instruction::AccountMeta> {
        let state = &seen.market.bank(bank.index).expect("a known bank").bank;
        let after = ix::account_after(account, state, movement, amount, seen.market.now);
        self.market.sandbox.health_accounts_of(&after)
    }

    /// The account's init health in dollars (quote native: $1 = 10^6).
    fn init_health_usd(seen: &Discovered, account: &MarginAccount) -> f64 {
        let group = &seen.market.group;
        let risks = seen.market.risks();
        let totals =
            assess(&risks, account, group.liquidation_end_buffer_bps, group.bankruptcy_dust_quote)
                .totals;
        totals.health.init as f64 / 1e6
    }

    fn usd_price(&self, bank: usize) -> f64 {
        match bank {
            1 => self.sol_e4 as f64 / 1e4,
            b => FIXED_USD[b],
        }
    }

    /// Native units of `bank` worth `usd`.
    fn native(&self, bank: usize, usd: f64) -> u64 {
        let decimals = self.market.assets[bank].decimals as i32;
        (usd / self.usd_price(bank) * 10f64.powi(decimals)) as u64
    }

    fn deposit(&mut self, _seen: &Discovered) -> Outcome {
        let user = self.pick(&self.users.clone());
        let wallet = self.wallet(user);
        let held: Vec<usize> = (0..3).filter(|b| wallet[*b] > 0).collect();
        if held.is_empty() {
            return Outcome::Skipped;
        }
        let b = held[self.rng.range(0, held.len() as u64) as usize];
        let amount = ((wallet[b] as f64 * self.rng.uniform(0.1, 1.0)) as u64).max(1);
        let deposit = ix::deposit(&self.transfer(user, &self.market.banks[b]), amount);
        self.send(&[deposit], &user.keypair)
    }

    /// A borrow of 30–100% of the account's init capacity, in a bank it holds no deposit in.
    fn borrow(&mut self, seen: &Discovered) -> Outcome {
        let user = self.pick(&self.users.clone());
        let Some(account) = Self::account(seen, user) else { return Outcome::Skipped };
        let capacity = Self::init_health_usd(seen, &account);
        let banks: Vec<usize> = (0..3)
            .filter(|b| {
                let slot = account.find(*b as u16);
                slot.is_none_or(|s| matches!(account.positions[s].shares(), Some(Borrow(_))))
            })
            .collect();
        if capacity < 10.0 || banks.is_empty() {
            return Outcome::Skipped;
        }
        let b = banks[self.rng.range(0, banks.len() as u64) as usize];
        // Liability weights are at most 1.2: 1/1.25 of the capacity keeps init health >= 0.
        let usd = capacity * self.rng.uniform(0.3, 1.0) / 1.25;
        let amount = self.native(b, usd).max(1);
        let bank = self.market.banks[b];
        let health = self.health_after(seen, &account, &bank, Movement::Borrow, amount);
        let borrow = ix::borrow(&self.transfer(user, &bank), amount, health);
        self.send(&[borrow], &user.keypair)
    }

    /// Repays 20–100% of a debt, as far as the wallet holds it.
    fn repay(&mut self, seen: &Discovered) -> Outcome {
        let user = self.pick(&self.users.clone());
        let Some(account) = Self::account(seen, user) else { return Outcome::Skipped };
        let wallet = self.wallet(user);
        let debts: Vec<(usize, u64)> = (0..3)
            .filter_map(|b| {
                let bank = &seen.market.bank(b as u16)?.bank;
                let owed = positions::borrow_native(&account, bank).ok()?;
                (owed > 0 && wallet[b] > 0).then_some((b, owed.min(wallet[b])))
            })
            .collect();
        if debts.is_empty() {
            return Outcome::Skipped;
        }
        let (b, most) = debts[self.rng.range(0, debts.len() as u64) as usize];
        let amount = ((most as f64 * self.rng.uniform(0.2, 1.0)) as u64).max(1);
        let repay = ix::repay(&self.transfer(user, &self.market.banks[b]), amount);
        self.send(&[repay], &user.keypair)
    }

    /// Withdraws 10–100% of a deposit (the program refuses what its health cannot carry).
    fn withdraw(&mut self, seen: &Discovered) -> Outcome {
        let user = self.pick(&self.users.clone());
        let Some(account) = Self::account(seen, user) else { return Outcome::Skipped };
        let deposits: Vec<(usize, u64)> = (0..3)
            .filter_map(|b| {
                let bank = &seen.market.bank(b as u16)?.bank;
                let held = positions::deposit_native(&account, bank).ok()?;
                (held > 0).then_some((b, held))
            })
            .collect();
        if deposits.is_empty() {
            return Outcome::Skipped;
        }
        let (b, held) = deposits[self.rng.range(0, deposits.len() as u64) as usize];
        let amount = ((held as f64 * self.rng.uniform(0.1, 1.0)) as u64).max(1);
        let bank = self.market.banks[b];
        let health = self.health_after(seen, &account, &bank, Movement::Withdraw, amount);
        let withdraw = ix::withdraw(&self.transfer(user, &bank), amount, health);
        self.send(&[withdraw], &user.keypair)
    }

    /// A market order of 0.1–20 SOL on SOL-PERP, either side.
    fn perp_trade(&mut self, seen: &Discovered) -> Outcome {
        let user = self.pick(&self.traders.clone());
        let Some(account) = Self::account(seen, user) else { return Outcome::Skipped };
        let market = self.market.perps.as_ref().expect("SOL-PERP").market;
        let side = if self.rng.unit() < 0.5 { PerpSide::Long } else { PerpSide::Short };
        let lots = self.rng.range(10, 2_000);
        let sandbox = &self.market.sandbox;
        let health =
            sandbox.health_accounts_of(&perp_ix::account_with_perp_slot(&account, &market));
        let order = perp_ix::place_perp_order(
            &sandbox.perp_trade(user, &market),
            market_order(side, lots),
            health,
        );
        self.send(&[order], &user.keypair)
    }

    /// A transaction the program must refuse, and which must change nothing: sent against a
    /// healthy account (the keepers leave it alone, so a change could only be this one's).
    fn bad(&mut self, seen: &Discovered) -> (&'static str, Outcome) {
        let risks = seen.market.risks();
        let group = &seen.market.group;
        let healthy: Vec<&User> = self
            .users
            .iter()
            .copied()
            .filter(|u| {
                Self::account(seen, u).is_some_and(|a| {
                    let totals = assess(
                        &risks,
                        &a,
                        group.liquidation_end_buffer_bps,
                        group.bankruptcy_dust_quote,
                    )
                    .totals;
                    totals.health.init > 0 && a.version == ACCOUNT_VERSION
                })
            })
            .collect();
        if healthy.len() < 2 {
            return ("bad: none healthy", Outcome::Skipped);
        }
        let user = self.pick(&healthy);
        let account = Self::account(seen, user).expect("healthy");
        let sol = self.market.banks[1];
        let usdc = self.market.banks[0];
        let (kind, instruction, signer): (&'static str, Instruction, &Keypair) = match self
            .rng
            .range(0, 6)
        {
            0 => {
                // Another user signs a borrow from this account, to their own wallet.
                let thief = self.pick(&healthy);
                if thief.account == user.account {
                    return ("bad: wrong signer", Outcome::Skipped);
                }
                let transfer = Transfer {
                    owner: thief.keypair.pubkey(),
                    user_token: thief.tokens[0],
                    ..self.transfer(user, &usdc)
                };
                let health = self.health_after(seen, &account, &usdc, Movement::Borrow, 1);
                ("bad: wrong signer", ix::borrow(&transfer, 1_000_000, health), &thief.keypair)
            }
            1 => ("bad: zero amount", ix::deposit(&self.transfer(user, &sol), 0), &user.keypair),
            2 => {
                // Ten times what init health carries.
                let capacity = Self::init_health_usd(seen, &account).max(1.0);
                let amount = self.native(0, capacity * 10.0);
                let health = self.health_after(seen, &account, &usdc, Movement::Borrow, amount);
                let borrow = ix::borrow(&self.transfer(user, &usdc), amount, health);
                ("bad: over-borrow", borrow, &user.keypair)
            }
            3 => {
                // More than the account's SOL deposit.
                let bank = &seen.market.bank(1).expect("SOL").bank;
                let held = positions::deposit_native(&account, bank).unwrap_or(0);
                let amount = held + 1_000_000_000;
                let health = self.market.sandbox.health_accounts_of(&account);
                let withdraw = ix::withdraw(&self.transfer(user, &sol), amount, health);
                ("bad: over-withdraw", withdraw, &user.keypair)
            }
            4 => return ("bad: stale blockhash", self.stale(user)),
            _ => {
                // A borrow whose health accounts name BTC's oracle for SOL's bank (for USDC's,
                // which the borrow always lists, when the account holds no SOL).
                let btc = self.market.banks[2];
                let mut health = self.health_after(seen, &account, &usdc, Movement::Borrow, 1);
                let sol_listed = health.iter().any(|m| m.pubkey == sol.oracle);
                let replaced = if sol_listed { sol.oracle } else { usdc.oracle };
                let meta = health.iter_mut().find(|m| m.pubkey == replaced);
                meta.expect("the replaced oracle is listed").pubkey = btc.oracle;
                let borrow = ix::borrow(&self.transfer(user, &usdc), 1_000_000, health);
                ("bad: wrong oracle", borrow, &user.keypair)
            }
        };
        let before = self.snapshot(user);
        let outcome = self.send(&[instruction], signer);
        assert!(outcome != Outcome::Landed, "{kind}: the chain accepted it ({})", user.account);
        assert!(before == self.snapshot(user), "{kind}: a refused transaction changed an account");
        (kind, outcome)
    }

    /// A deposit signed with a blockhash the validator has forgotten (150 slots, about a
    /// minute; until then, one it never issued, which it cannot tell apart): refused before
    /// execution, so sent with preflight.
    fn stale(&mut self, user: &User) -> Outcome {
        let processed = solana_commitment_config::CommitmentConfig::processed();
        let mut blockhash = self.first_blockhash;
        if self.rpc.is_blockhash_valid(&blockhash, processed).expect("blockhash") {
            let mut bytes = [0u8; 32];
            bytes.iter_mut().for_each(|b| *b = self.rng.next_u64() as u8);
            blockhash = solana_message::Hash::new_from_array(bytes);
        }
        let deposit = ix::deposit(&self.transfer(user, &self.market.banks[1]), 1);
        let message =
            Message::new_with_blockhash(&[deposit], Some(&user.keypair.pubkey()), &blockhash);
        let tx = VersionedTransaction::try_new(VersionedMessage::Legacy(message), &[&user.keypair])
            .expect("signing");
        let before = self.snapshot(user);
        let outcome = match self.rpc.send_transaction(&tx) {
            Ok(signature) => panic!("bad: stale blockhash: the validator took it ({signature})"),
            Err(error) if error.to_string().contains("Blockhash not found") => {
                Outcome::Refused("BlockhashNotFound".into())
            }
            Err(error) => Outcome::Refused(error.to_string()),
        };
        assert!(before == self.snapshot(user), "bad: stale blockhash changed an account");
        outcome
    }

    /// The user's margin account and wallets, as stored.
    fn snapshot(&self, user: &User) -> Vec<Option<Vec<u8>>> {
        let mut keys = vec![user.account];
        keys.extend(user.tokens.iter().take(3));
        let accounts = self.rpc.get_multiple_accounts(&keys).expect("accounts");
        accounts.into_iter().map(|a| a.map(|a| a.data)).collect()
    }
}

/// The program's error name, or the runtime's message.
fn name(rejection: &Rejection) -> String {
    let described = rejection.describe();
    match described.find("custom program error") {
        Some(_) => format!("code {:?}", rejection.code),
        None => described,
    }
}

/// An SPL token account's amount (bytes 64..72).
pub fn token_amount(data: &[u8]) -> u64 {
    data.get(64..72).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}
