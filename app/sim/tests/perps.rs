//! Perps in the stress lab on the real `.so`: a cut-down `perp-oi-collapse` closes exactly the
//! scripted share of positions, its open interest and pool deposit fall, and at every step the
//! pool's value (`PerpMarket::pool_value` from the market's aggregates) equals its deposit less
//! the sum of the positions' own PnL read slot by slot, to the rounding. The engine's perp
//! bookkeeping invariant (open interest, quote sum and LP shares equal the slots' sums) held at
//! every step, or the run would have stopped. The keepers' perp liquidations are counted.

use std::path::{Path, PathBuf};

use cross_margin_client::embedded::program_so_path;
use cross_margin_sim::{report, run, Scenario};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// perp-oi-collapse with 40 lending accounts, 60 traders and 40 steps: the rally at steps 5-20,
/// the collapse over steps 20-35.
fn small() -> Scenario {
    let mut scenario = Scenario::from_file(&scenarios().join("perp-oi-collapse.toml")).unwrap();
    scenario.population.accounts = 40;
    scenario.steps = 40;
    let perp = &mut scenario.perps[0];
    perp.traders.count = 60;
    let collapse = perp.collapse.as_mut().unwrap();
    (collapse.from_step, collapse.over_steps) = (20, 16);
    scenario
}

#[test]
fn an_open_interest_collapse_closes_the_scripted_share_and_the_pool_value_matches_the_positions() {
    let scenario = small();
    let result = run(&scenario, &program_so_path(), true, &mut |_, _, _| {}).unwrap();
    let perp = |step: usize| &result.steps[step - 1].perps[0];
    let traders = scenario.perps[0].traders.count;
    let (start, before, end) = (perp(1), perp(19), perp(40));

    // Every trader opened (none refused) and 70% of them closed, exactly.
    assert_eq!(result.perp_orders_refused, 0);
    assert_eq!(start.open_positions, traders);
    assert_eq!(end.open_positions, traders - (traders as f64 * 0.7).round() as usize);
    // Open interest fell, on both sides, and the LPs took out what the cover let them.
    let oi = |m: &cross_margin_sim::perp_engine::PerpStepMetrics| m.long_oi_usd + m.short_oi_usd;
    assert!(oi(end) < 0.6 * oi(before), "{} -> {}", oi(before), oi(end));
    assert!(end.long_oi_usd < before.long_oi_usd && end.short_oi_usd < before.short_oi_usd);
    assert!(end.pool_deposit_usd < 0.9 * before.pool_deposit_usd, "{before:?} {end:?}");
    // The rally: longs (65% of traders) gained, so the pool owes and its value fell below the
    // deposit less fees.
    assert!(before.traders_gains_usd > 0.0 && before.positions_pnl_usd > 0.0);
    assert!(before.funding_bps_per_day > 0, "longs heavy: longs pay");
    // The keepers liquidated shorts in the rally, counted by the hook from their events, before
    // any scripted close: short open interest fell though the price rose.
    let liquidated: usize = result.steps[..19].iter().map(|s| s.perps[0].liquidations).sum();
    assert!(liquidated > 0);
    assert!(before.short_oi_usd < start.short_oi_usd, "{start:?} {before:?}");

    // The market's aggregate view equals the positions' own PnL, to a couple of native units
    // per position, at every step.
    for (n, m) in result.steps.iter().map(|s| &s.perps[0]).enumerate() {
        let from_slots = m.pool_deposit_usd - m.positions_pnl_usd;
        let rounding = 2e-6 * (traders + 1) as f64 + 1e-6;
        assert!(
            (m.pool_value_usd - from_slots).abs() <= rounding,
            "step {}: pool value {} vs deposit - positions {}",
            n + 1,
            m.pool_value_usd,
            from_slots
        );
    }
    // Invariants: a vault check per bank and a book check per perp market, every step.
    let per_step = scenario.banks.len() + scenario.perps.len();
    assert!(result.invariant_checks >= scenario.steps * per_step);

    // The report carries the perp columns and charts.
    let dir = std::env::temp_dir().join(format!("cm-lab-perps-{}", std::process::id()));
    report::write(&dir, &scenario, &result, &result).unwrap();
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("SOL-PERP_pool_value_usd"));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Perps"), "{md}");
    for chart in [
        "perp_open_interest",
        "perp_pool",
        "perp_funding",
        "perp_liquidations",
        "perp_socialised_loss",
    ] {
        let svg = std::fs::read_to_string(dir.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{chart}.svg");
        assert!(md.contains(&format!("(charts/{chart}.svg)")), "{chart} is in the report");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_perp_market_must_track_a_bank_and_settle_in_a_six_decimal_one() {
    let good = std::fs::read_to_string(scenarios().join("perp-whale.toml")).unwrap();
    let unknown = good.replace("tracks = \"SOL\"", "tracks = \"DOGE\"");
    let error = Scenario::from_toml(&unknown).unwrap_err();
    assert!(format!("{error:#}").contains("no bank named DOGE"), "{error:#}");
    let nine = good.replace("tracks = \"SOL\"", "tracks = \"SOL\"\nsettle = \"SOL\"");
    let error = Scenario::from_toml(&nine).unwrap_err();
    assert!(format!("{error:#}").contains("6 decimals"), "{error:#}");
}
