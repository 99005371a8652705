//! The demo's perp lines: SOL-PERP's open interest before and after the crash, the pool's value
//! and PnL (the program's `PerpMarket::pool_value`, via the test kit's snapshot), traders' losses
//! beyond their collateral, and perp liquidations (counted by the stress lab's hook,
//! `cross_margin_sim::perp_engine::perp_liquidation_metrics`).

use anyhow::{anyhow, Result};
use cross_margin::positions;
use cross_margin_keeper::keeper::RoundReport;
use cross_margin_sim::perp_engine::perp_liquidation_metrics;
use cross_margin_testkit::perp::PerpSnapshot;
use cross_margin_testkit::scenario::SeededMarket;

use crate::usd;

/// SOL-PERP as its next instruction would find it (`None` without a perp market).
pub fn snapshot(market: &SeededMarket) -> Result<Option<PerpSnapshot>> {
    let Some(perps) = &market.perps else { return Ok(None) };
    let snapshot = market.sandbox.perp_snapshot(&perps.market);
    snapshot.map(Some).map_err(|e| anyhow!("perp snapshot: {e:?}"))
}

/// Open interest of one side, in dollars (`lots` at the snapshot's price), as settle native
/// units for [`usd`].
fn notional(s: &PerpSnapshot, lots: u64) -> i128 {
    (s.tokens(lots) * s.price_dollars() * 1e6).round() as i128
}

pub fn summarise(
    market: &SeededMarket,
    before: &PerpSnapshot,
    reports: &[RoundReport],
) -> Result<()> {
    let (Some(perps), Some(after)) = (&market.perps, snapshot(market)?) else { return Ok(()) };
    let (b, a) = (&before.market, &after.market);
    println!("\n  perps (SOL-PERP, the pool as counterparty):");
    println!(
        "    open interest before the crash: long {} ({} lots), short {} ({} lots)",
        usd(notional(before, b.long_lots)),
        b.long_lots,
        usd(notional(before, b.short_lots)),
        b.short_lots
    );
    println!(
        "    open interest after:            long {} ({} lots), short {} ({} lots)",
        usd(notional(&after, a.long_lots)),
        a.long_lots,
        usd(notional(&after, a.short_lots)),
        a.short_lots
    );
    println!(
        "    pool value {} -> {}: the pool's PnL on the LPs' {} is {} (fees and funding included); funding {} bps/day",
        usd(before.pool_value),
        usd(after.pool_value),
        usd(perps.deposited as i128),
        usd(after.pool_value - perps.deposited as i128),
        after.funding_bps_per_day
    );
    // Losses the traders cannot cover with their USDC: what a perp bankruptcy would write off.
    let mut short = (0usize, 0i128);
    for trader in &perps.traders {
        let account = market.sandbox.margin_account(trader);
        let Some(i) = account.find_perp(perps.market.index) else { continue };
        let pnl = after.slot_pnl(&account.perps[i]).map_err(|e| anyhow!("{e:?}"))?;
        let balance = positions::balance_native(&account, &after.settle_bank)
            .map_err(|e| anyhow!("{e:?}"))?;
        if balance + pnl < 0 {
            short = (short.0 + 1, short.1 - (balance + pnl));
        }
    }
    println!(
        "    traders' losses beyond their collateral still open after the keeper: {} on {} accounts",
        usd(short.1),
        short.0
    );
    let counts = perp_liquidation_metrics(reports, &[perps.market.address]);
    println!(
        "    perp liquidations: {}, loss socialised onto the pool {}",
        counts[0].liquidations,
        usd(counts[0].socialised_native as i128)
    );
    Ok(())
}
