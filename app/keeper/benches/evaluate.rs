//! Benchmark: off-chain evaluation of 100,000 margin accounts on one core (goal: <= 100 ms).
//!
//! `cargo test -p cross-margin-keeper --bench evaluate -- --nocapture` (part of the test command;
//! the test profile builds the program crate and the keeper with opt-level 3), or
//! `cargo bench -p cross-margin-keeper --bench evaluate` for a full release build.
//!
//! The market is 16 banks with real-format `PriceUpdateV2` oracle accounts, decoded and priced by
//! the keeper's own code; the accounts hold 1-16 positions each (deposits and borrows across the
//! banks, deterministic). Measured: `evaluate` (every account's init and maint health with the
//! program's health module, bankrupt/liquidatable classification, ranking), and separately the
//! decoding of the raw account bytes. Each is run 15 times; the median and the fastest are
//! printed. The run fails if the median evaluation exceeds the goal.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anchor_lang::Discriminator;
use cross_margin::math::ONE_Q64;
use cross_margin::state::{Bank, Group, MarginAccount, OracleKind, Position, PositionKind};
use cross_margin_client::pyth::{self, Quote};
use cross_margin_client::Pubkey;
use cross_margin_keeper::backend::AccountData;
use cross_margin_keeper::evaluate;
use cross_margin_keeper::market::{decode_margin_account, MarketState};

const ACCOUNTS: usize = 100_000;
const BANKS: u16 = 16;
const RUNS: usize = 15;
const GOAL: Duration = Duration::from_millis(100);
const NOW: i64 = 1_800_000_000;

fn raw<T: bytemuck::Pod + Discriminator>(value: &T) -> AccountData {
    let mut data = T::DISCRIMINATOR.to_vec();
    data.extend_from_slice(bytemuck::bytes_of(value));
    AccountData { owner: cross_margin::ID, lamports: 1, data }
}

fn key(n: u64) -> Pubkey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes[8] = 0xbe;
    Pubkey::new_from_array(bytes)
}

fn feed(index: u16) -> [u8; 32] {
    let mut id = [7u8; 32];
    id[..2].copy_from_slice(&index.to_le_bytes());
    id
}

fn market() -> MarketState {
    let group_key = key(1);
    let receiver = key(2);
    let mut group: Group = bytemuck::Zeroable::zeroed();
    group.pyth_receiver_program = receiver;
    group.pyth_legacy_program = key(3);
    group.bank_count = BANKS;
    group.version = 1;
    group.liquidation_end_buffer_bps = 500;
    group.bankruptcy_dust_quote = 1_000_000;
    let mut banks = Vec::new();
    let mut oracles = HashMap::new();
    for index in 0..BANKS {
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.group = group_key;
        bank.bank_index = index;
        bank.decimals = 6 + (index % 4) as u8;
        bank.oracle = key(1_000 + index as u64);
        bank.config.oracle_kind = OracleKind::PythPull as u8;
        bank.config.oracle_feed_id = feed(index);
        bank.config.oracle_max_age_secs = 60;
        bank.config.oracle_max_conf_bps = 200;
        bank.config.oracle_conf_multiplier_bps = 10_000;
        bank.config.init_asset_weight_bps = 8_000;
        bank.config.maint_asset_weight_bps = 9_000;
        bank.config.maint_liab_weight_bps = 11_000;
        bank.config.init_liab_weight_bps = 12_000;
        // Every fourth bank uses the size-aware init weight, which costs a little more.
        bank.config.deposit_weight_scale_start_quote =
            if index % 4 == 0 { 1_000_000_000_000 } else { 0 };
        bank.total_deposit_shares = 10_000_000_000_000;
        bank.set_deposit_index(ONE_Q64 + ONE_Q64 / 37);
        bank.set_borrow_index(ONE_Q64 + ONE_Q64 / 23);
        bank.version = 1;
        banks.push((key(100 + index as u64), raw(&bank)));
        let quote = Quote {
            price: 1_000_000 + 123_457 * index as i64,
            conf: 1_000,
            exponent: -4,
            publish_time: NOW - 5,
        };
        let data = pyth::price_update_v2(feed(index), quote, true);
        oracles.insert(bank.oracle, AccountData { owner: receiver, lamports: 1, data });
    }
    let (market, undecodable) =
        MarketState::from_accounts(group_key, &raw(&group), &banks, &oracles, NOW).unwrap();
    assert!(undecodable.is_empty());
    assert!(market.risks().banks.iter().all(Result::is_ok), "every bank priced");
    market
}

/// 100k accounts, 1-16 positions each, about 40% of the value borrowed.
fn accounts() -> Vec<(Pubkey, AccountData)> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..ACCOUNTS as u64)
        .map(|n| {
            let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
            account.group = key(1);
            account.version = cross_margin::constants::ACCOUNT_VERSION;
            let count = 1 + (next() % 16) as usize;
            let first_bank = (next() % BANKS as u64) as u16;
            for slot in 0..count {
                let borrow = slot % 3 == 2;
                account.positions[slot] = Position {
                    shares: 1_000 + next() % 10_000_000_000,
                    bank_index: (first_bank + slot as u16) % BANKS,
                    kind: if borrow { PositionKind::Borrow } else { PositionKind::Deposit } as u8,
                    padding: [0; 5],
                };
            }
            (key(1_000_000 + n), raw(&account))
        })
        .collect()
}

fn time<T>(mut run: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        last = Some(std::hint::black_box(run()));
        times.push(start.elapsed());
    }
    times.sort();
    (times[RUNS / 2], times[0], last.expect("ran"))
}

fn main() {
    let market = market();
    let raw_accounts = accounts();
    let (decode_median, decode_min, decoded) = time(|| {
        raw_accounts
            .iter()
            .map(|(key, raw)| (*key, decode_margin_account(raw).expect("decodes")))
            .collect::<Vec<_>>()
    });
    let (median, fastest, evaluation) = time(|| evaluate(&market, &decoded));
    let positions: usize = decoded.iter().map(|(_, a)| a.active_count()).sum();
    println!(
        "evaluate {ACCOUNTS} accounts ({positions} positions, 16 banks), one core: median {:.1} ms, fastest {:.1} ms (goal <= {} ms)",
        median.as_secs_f64() * 1e3,
        fastest.as_secs_f64() * 1e3,
        GOAL.as_millis()
    );
    println!(
        "  of which liquidatable {}, bankrupt {}, unpriced {}, healthy {}",
        evaluation.liquidatable.len(),
        evaluation.bankrupt.len(),
        evaluation.unpriced.len(),
        evaluation.healthy
    );
    println!(
        "decode {ACCOUNTS} raw accounts: median {:.1} ms, fastest {:.1} ms",
        decode_median.as_secs_f64() * 1e3,
        decode_min.as_secs_f64() * 1e3
    );
    assert_eq!(
        evaluation.liquidatable.len()
            + evaluation.bankrupt.len()
            + evaluation.unpriced.len()
            + evaluation.healthy,
        ACCOUNTS
    );
    assert!(median <= GOAL, "evaluation took {median:?}, over the {GOAL:?} goal");
}
