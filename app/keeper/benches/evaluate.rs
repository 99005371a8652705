//! Benchmark: off-chain evaluation of 100,000 margin accounts with token and perp positions on
//! one core (goal: <= 100 ms).
//!
//! `cargo test -p cross-margin-keeper --bench evaluate -- --nocapture` (part of the test command;
//! the test profile builds the program crate and the keeper with opt-level 3), or
//! `cargo bench -p cross-margin-keeper --bench evaluate` for a full release build.
//!
//! The market is 16 banks with real-format `PriceUpdateV2` oracle accounts, decoded and priced by
//! the keeper's own code, and 4 perp markets settling in bank 0 (their funding 10 s behind, so
//! every round accrues it and every slot applies it); the accounts hold 1-16 token positions each
//! (deposits and borrows across the banks, deterministic), and every third one 1-4 perp
//! positions (longs and shorts, judged by `PerpTotals::combine`). Measured: `evaluate` (every
//! account's init and maint health with the program's health module, the perps priced and
//! combined, bankrupt/liquidatable classification, ranking), and separately the
//! decoding of the raw account bytes. Each is run 15 times; the median and the fastest are
//! printed. The run fails if the median evaluation exceeds the goal.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anchor_lang::Discriminator;
use cross_margin::math::ONE_Q64;
use cross_margin::state::{
    Bank, Group, MarginAccount, OracleKind, PerpMarket, PerpSlot, Position, PositionKind,
};
use cross_margin_client::pyth::{self, Quote};
use cross_margin_client::Pubkey;
use cross_margin_keeper::backend::AccountData;
use cross_margin_keeper::evaluate;
use cross_margin_keeper::market::{decode_margin_account, MarketState};

const ACCOUNTS: usize = 100_000;
const BANKS: u16 = 16;
const PERPS: u16 = 4;
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

/// A `PriceUpdateV2` account quoting `price_e4` (dollars × 10^4), published 5 s ago.
fn oracle(receiver: Pubkey, feed: [u8; 32], price_e4: i64) -> AccountData {
    let quote = Quote { price: price_e4, conf: 1_000, exponent: -4, publish_time: NOW - 5 };
    let data = pyth::price_update_v2(feed, quote, true);
    AccountData { owner: receiver, lamports: 1, data }
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
        let oracle = oracle(receiver, feed(index), 1_000_000 + 123_457 * index as i64);
        oracles.insert(bank.oracle, oracle);
    }
    let mut perps = Vec::new();
    for index in 0..PERPS {
        let mut perp: PerpMarket = bytemuck::Zeroable::zeroed();
        perp.group = group_key;
        perp.market_index = index;
        perp.settle_bank_index = 0;
        perp.settle_bank = key(100);
        perp.oracle = key(2_000 + index as u64);
        perp.version = cross_margin::constants::PERP_MARKET_VERSION;
        let c = &mut perp.config;
        c.oracle_kind = OracleKind::PythPull as u8;
        c.oracle_feed_id = feed(100 + index);
        c.oracle_max_age_secs = 60;
        c.oracle_max_conf_bps = 200;
        c.oracle_conf_multiplier_bps = 10_000;
        c.base_decimals = 6;
        c.base_lot_size = 10_000;
        (c.init_base_weight_bps, c.maint_base_weight_bps) = (9_000, 9_500);
        (c.init_pnl_weight_bps, c.maint_pnl_weight_bps) = (5_000, 9_000);
        (c.funding_coeff_bps, c.max_funding_bps_per_day) = (1_000, 50);
        perp.long_lots = 5_000_000;
        perp.short_lots = 4_000_000;
        perp.pool_deposit_shares = 100_000_000_000;
        perp.lp_shares = 100_000_000_000;
        perp.last_funding_ts = NOW - 10;
        perps.push((key(200 + index as u64), raw(&perp)));
        let oracle = oracle(receiver, feed(100 + index), 1_000_000 + 250_000 * index as i64);
        oracles.insert(perp.oracle, oracle);
    }
    let (mut market, undecodable) =
        MarketState::from_accounts(group_key, &raw(&group), &banks, &oracles, NOW).unwrap();
    assert!(undecodable.is_empty());
    assert!(market.add_perp_markets(&perps, &oracles, false).is_empty());
    let risks = market.risks();
    assert!(risks.banks.iter().all(Result::is_ok), "every bank priced");
    assert!(risks.perps.len() == PERPS as usize && risks.perps.iter().all(Result::is_ok));
    market
}

/// 100k accounts, 1-16 positions each, about 40% of the value borrowed; every third one with
/// 1-4 perp positions of up to ±$5,000 entered within ±10% of the price.
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
            if n % 3 == 0 {
                for k in 0..1 + (next() % PERPS as u64) as usize {
                    let lots = (next() % 10_000) as i64 - 5_000;
                    // Entered at the market's price (in $, 1 lot = 0.01 token) ± 10%.
                    let dollars = 100 + 25 * k as i64;
                    let entry = dollars * (900 + (next() % 200) as i64) * 10;
                    account.perps[k] = PerpSlot {
                        base_lots: lots,
                        quote_native: -lots * entry,
                        market_index: k as u16,
                        settle_bank_index: 0,
                        active: 1,
                        ..Default::default()
                    };
                }
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
    let perp_positions: usize = decoded.iter().map(|(_, a)| a.active_perp_count()).sum();
    let with_perps = decoded.iter().filter(|(_, a)| a.has_perps()).count();
    println!(
        "evaluate {ACCOUNTS} accounts ({positions} token positions, 16 banks; {with_perps} with \
         {perp_positions} perp positions, {PERPS} markets), one core: median {:.1} ms, fastest \
         {:.1} ms (goal <= {} ms)",
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
    assert!(evaluation.unpriced.is_empty(), "every account judged");
    assert!(median <= GOAL, "evaluation took {median:?}, over the {GOAL:?} goal");
}
