//! Realistic markets on the real `.so`: calibration reaches each bank's target utilization
//! within `calibration::TOLERANCE_BPS`; in crash-high-utilization the lenders cannot all leave
//! and the borrow rate goes past the kink; the liquidation-capacity table is consistent (a
//! larger shock never seizes less, and accounts the program's `health_under_shock` view keeps
//! healthy add nothing); the report carries the new tables, columns and charts.

use std::path::Path;

use cross_margin_client::embedded::program_so_path;
use cross_margin_sim::calibration::TOLERANCE_BPS;
use cross_margin_sim::capacity::CapacityRow;
use cross_margin_sim::{report, run, RunResult, Scenario};

/// crash-high-utilization cut to 150 accounts and 25 steps (the crash and the run included).
fn small() -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/crash-high-utilization.toml");
    let mut scenario = Scenario::from_file(&path).unwrap();
    scenario.population.accounts = 150;
    scenario.steps = 25;
    scenario
}

fn runs(scenario: &Scenario) -> (RunResult, RunResult) {
    let program = program_so_path();
    std::thread::scope(|scope| {
        let with = scope.spawn(|| run(scenario, &program, true, &mut |_, _, _| {}));
        let without = run(scenario, &program, false, &mut |_, _, _| {});
        (with.join().unwrap().unwrap(), without.unwrap())
    })
}

/// Larger shocks of one collateral make at least as many accounts liquidatable and seize at
/// least as much; a shock that liquidates nobody seizes nothing.
fn assert_consistent(rows: &[CapacityRow], shocks: &[u32]) {
    assert!(!rows.is_empty());
    for per_bank in rows.chunks(shocks.len()) {
        let symbol = &per_bank[0].symbol;
        for (row, shock) in per_bank.iter().zip(shocks) {
            assert_eq!((&row.symbol, row.shock_pct), (symbol, *shock));
            assert!(row.liquidatable <= row.accounts_checked);
            assert_eq!(row.unplanned, 0, "{symbol} -{shock}%: the planner agrees with the view");
            if row.liquidatable == 0 {
                let nothing = (row.seized_tokens, row.debt_usd, row.written_off_usd);
                assert_eq!(nothing, (0.0, 0.0, 0.0), "{row:?}");
            } else {
                // Each one is liquidated (collateral seized) or left to be written off.
                assert!(row.seized_tokens > 0.0 || row.written_off_usd > 0.0, "{row:?}");
            }
            if row.seized_tokens > 0.0 {
                assert!(row.debt_usd > 0.0 && row.sale_proceeds_usd > 0.0, "{row:?}");
                assert!(row.price_impact_pct <= 0.0, "{row:?}");
            }
        }
        for pair in per_bank.windows(2) {
            assert!(pair[1].liquidatable >= pair[0].liquidatable, "{pair:?}");
            assert!(pair[1].seized_tokens >= pair[0].seized_tokens, "{pair:?}");
        }
    }
}

#[test]
fn a_crash_at_high_utilization_calibrates_traps_lenders_and_reports_capacity() {
    let scenario = small();
    let (with, without) = runs(&scenario);

    // Calibration: USDC reaches its 90% within the tolerance, through real transactions.
    let usdc = scenario.bank_index("USDC").unwrap();
    let calibrated = with.banks[usdc].calibrated.expect("USDC has a target");
    assert_eq!(calibrated.target_bps, 9_000);
    assert!(
        calibrated.reached_bps.abs_diff(calibrated.target_bps) <= TOLERANCE_BPS,
        "{calibrated:?}"
    );
    assert_ne!(calibrated.lent_before, calibrated.lent_after, "the lenders were resized");
    assert_eq!(with.banks[usdc].calibrated, without.banks[usdc].calibrated);
    // Still there a step later (interest over a minute moves it by far less than the tolerance).
    assert!(with.steps[0].utilization_bps[usdc].abs_diff(9_000) <= TOLERANCE_BPS);
    // Banks without a target are left alone.
    assert!(with.banks.iter().enumerate().all(|(b, s)| b == usdc || s.calibrated.is_none()));

    // The lenders' run: withdrawn never exceeds asked, and at the end they are left short.
    for m in &with.steps {
        let l = &m.liquidity[usdc];
        assert!(l.lenders_withdrawn_usd <= l.lenders_asked_usd + 1e-6, "step {}", m.step);
        assert!(l.available_usd >= 0.0 && l.vault_usd >= l.available_usd);
    }
    let before_run = &with.steps[9].liquidity[usdc];
    assert_eq!((before_run.lenders_asked_usd, before_run.lenders_withdrawn_usd), (0.0, 0.0));
    let end = &with.steps.last().unwrap().liquidity[usdc];
    assert!(end.lenders_withdrawn_usd > 0.0, "some lenders got out");
    assert!(end.lenders_withdrawn_usd < end.lenders_asked_usd * 0.9, "{end:?}");
    // Rates past the kink: the program's borrow rate above its rate at 80%, deposit APR below it.
    let kink = with.banks[usdc].kink_rate_bps;
    let peak = with.steps.iter().map(|m| m.borrow_apr_bps[usdc]).max().unwrap();
    assert!(peak > kink, "peak {peak} bps against the kink's {kink}");
    let first = &with.steps[0];
    assert!(first.liquidity[usdc].deposit_apr_bps > 0.0);
    assert!(first.liquidity[usdc].deposit_apr_bps < first.borrow_apr_bps[usdc] as f64);

    // Capacity: measured in the run with feedback, after setup and at the end.
    assert!(without.capacity_start.is_empty());
    assert_consistent(&with.capacity_start, &scenario.capacity.shocks_pct);
    assert_consistent(&with.capacity_end, &scenario.capacity.shocks_pct);
    let sol: Vec<&CapacityRow> = with.capacity_start.iter().filter(|r| r.symbol == "SOL").collect();
    assert!(sol.last().unwrap().liquidatable > 0, "a 30% SOL fall liquidates someone: {sol:?}");

    // The report carries it all.
    let dir = std::env::temp_dir().join(format!("markets-report-{}", std::process::id()));
    report::write(&dir, &scenario, &with, &without).unwrap();
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "## Utilization, rates and liquidity",
        "Lenders' run",
        "## Liquidation capacity (after setup)",
        "## Liquidation capacity (at the end)",
        "| USDC | 90.0% |",
    ] {
        assert!(markdown.contains(needle), "{needle}");
    }
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("USDC_deposit_apr_bps,USDC_available_usd,USDC_vault_usd,USDC_lenders_asked_usd,USDC_lenders_withdrawn_usd"));
    let columns = header.split(',').count();
    assert!(csv.lines().skip(1).all(|row| row.split(',').count() == columns));
    for chart in ["rates.svg", "liquidity.svg"] {
        assert!(std::fs::metadata(dir.join("charts").join(chart)).unwrap().len() > 1_000);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_market_fields_are_refused_by_name() {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/crash-high-utilization.toml"),
    )
    .unwrap();
    let cases = [
        (
            "target_utilization_pct = 90",
            "target_utilization_pct = 100",
            "USDC: target_utilization_pct",
        ),
        ("request_pct = 10", "request_pct = 0", "lender_run.request_pct"),
        ("from_step = 11", "from_step = 0", "lender_run.from_step"),
        ("banks = [\"USDC\"]", "banks = [\"DOGE\"]", "no bank named DOGE"),
    ];
    for (from, to, expected) in cases {
        let error = Scenario::from_toml(&good.replace(from, to)).unwrap_err();
        assert!(format!("{error:#}").contains(expected), "{from} -> {to}: {error:#}");
    }
    let shocks = format!("{good}\n[capacity]\nshocks_pct = [10, 120]\n");
    let error = Scenario::from_toml(&shocks).unwrap_err();
    assert!(format!("{error:#}").contains("capacity.shocks_pct"), "{error:#}");
}
