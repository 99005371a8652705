//! Operations on the embedded chain: the metrics count what landed, and `min_profit_quote`
//! skips exactly the liquidations predicted to pay less.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cross_margin_client::Pubkey;
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::keeper::{RoundReport, Skipped};
use cross_margin_keeper::metrics::{Metered, Metrics};
use cross_margin_keeper::plan::plan_liquidation;
use cross_margin_keeper::{evaluate, Keeper};
use cross_margin_testkit::scenario::SeededMarket;

use super::{liquidatable_by_program, market, SOL_CRASHED_E4};

/// The value of exactly the series `name{labels}` in a scrape.
pub(super) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == series).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

fn round(keeper: &Keeper, market: &mut SeededMarket, metrics: &Arc<Metrics>) -> RoundReport {
    let inner = EmbeddedBackend::new(&mut market.sandbox.chain);
    let mut backend = Metered::new(inner, metrics.clone());
    keeper.run_round(&mut backend, &AtomicBool::new(false)).expect("round")
}

#[test]
fn the_metrics_count_what_landed() {
    let mut market = market();
    let (mut keeper, _) = market.keeper(5_000_000).expect("keeper");
    let metrics = Arc::new(Metrics::new());
    keeper.config.metrics = metrics.clone();
    market.set_price(1, SOL_CRASHED_E4);
    let expected = liquidatable_by_program(&mut market);

    let mut reports = Vec::new();
    for _ in 0..5 {
        let report = round(&keeper, &mut market, &metrics);
        let quiet = report.liquidations.is_empty() && report.resolutions.is_empty();
        reports.push(report);
        if quiet {
            break;
        }
    }
    let liquidations: Vec<_> = reports.iter().flat_map(|r| &r.liquidations).collect();
    let resolutions = reports.iter().map(|r| r.resolutions.len()).sum::<usize>();
    let liquidated: BTreeSet<Pubkey> = liquidations.iter().map(|l| l.event.liquidatee).collect();
    assert_eq!(liquidated, expected, "the program's liquidatable accounts");
    assert!(resolutions > 0, "the crash leaves accounts to write off");

    let text = metrics.render(Instant::now());
    let landed =
        |kind: &str| sample(&text, &format!("keeper_transactions_landed_total{{kind=\"{kind}\"}}"));
    let sent =
        |kind: &str| sample(&text, &format!("keeper_transactions_sent_total{{kind=\"{kind}\"}}"));
    assert_eq!(landed("liquidate"), liquidations.len() as f64);
    assert_eq!(sent("liquidate"), liquidations.len() as f64, "nothing failed");
    assert_eq!(landed("resolve_bankruptcy"), resolutions as f64);
    assert_eq!(sent("resolve_bankruptcy"), resolutions as f64);
    assert_eq!(landed("liquidate_perp"), 0.0);
    assert!(!text.contains("keeper_transactions_failed_total{"), "{text}");
    let transactions = (liquidations.len() + resolutions) as f64;
    assert_eq!(
        sample(&text, "keeper_rpc_requests_total{method=\"send_and_confirm\"}"),
        transactions
    );
    assert!(sample(&text, "keeper_rpc_requests_total{method=\"simulate\"}") >= transactions);
    assert_eq!(sample(&text, "keeper_rounds_total"), reports.len() as f64);
    assert_eq!(sample(&text, "keeper_detection_lag_seconds_count"), reports.len() as f64);
    assert_eq!(sample(&text, "keeper_accounts_watched"), reports[0].accounts as f64);
    let last = reports.last().unwrap();
    assert_eq!(last.liquidatable, 0, "{:?}", last.skipped);
    assert_eq!(sample(&text, "keeper_accounts_liquidatable"), 0.0, "the last round's");

    // Profit: the realised fees are the events' (what the reports say); the plan predicted them.
    let realized: i128 = liquidations.iter().map(|l| l.profit_quote).sum();
    let realized_usd = sample(&text, "keeper_profit_realized_usd_total{kind=\"liquidate\"}");
    assert!((realized_usd - realized as f64 / 1e6).abs() < 1e-6, "{realized_usd} vs {realized}");
    let predicted_usd = sample(&text, "keeper_profit_predicted_usd_total{kind=\"liquidate\"}");
    assert!(realized_usd > 0.0);
    // The plan runs the program's own step: every fee is predicted to the micro-dollar.
    assert!(
        (predicted_usd - realized_usd).abs() < 1e-6,
        "predicted {predicted_usd} vs {realized_usd}"
    );
    eprintln!(
        "{} liquidations, {resolutions} write-offs; fees predicted ${predicted_usd:.4}, \
         realised ${realized_usd:.4}",
        liquidations.len()
    );
    assert!(sample(&text, "keeper_last_snapshot_age_seconds") < 60.0);
    assert_eq!(metrics.health(Instant::now(), Duration::from_secs(60)).0, 200);
}

#[test]
fn min_profit_skips_exactly_the_liquidations_predicted_to_pay_less() {
    let mut market = market();
    let (mut keeper, keeper_user) = market.keeper(5_000_000).expect("keeper");
    let metrics = Arc::new(Metrics::new());
    keeper.config.metrics = metrics.clone();
    market.set_price(1, SOL_CRASHED_E4);
    let expected = liquidatable_by_program(&mut market);

    // The first step's predicted fee of every liquidatable account, as the keeper plans it.
    let mut backend = EmbeddedBackend::new(&mut market.sandbox.chain);
    let discovered = keeper.discover(&mut backend).expect("discover");
    let evaluation = evaluate(&discovered.market, &discovered.accounts);
    let liquidator =
        discovered.accounts.iter().find(|(a, _)| *a == keeper_user.account).expect("keeper").1;
    let mut fees: Vec<(i128, Pubkey)> = evaluation
        .liquidatable
        .iter()
        .map(|t| {
            let plan =
                plan_liquidation(&discovered.market, &discovered.accounts[t.index].1, &liquidator);
            (plan.expect("a plan").profit_quote, t.address)
        })
        .collect();
    fees.sort();
    assert_eq!(fees.iter().map(|f| f.1).collect::<BTreeSet<_>>(), expected);

    // Above every fee: nothing is liquidated, every account is skipped and counted, the chain
    // is untouched.
    keeper.config.min_profit_quote = fees.last().unwrap().0 + 1;
    let report = round(&keeper, &mut market, &metrics);
    assert!(report.liquidations.is_empty());
    let skipped: BTreeSet<Pubkey> = report
        .skipped
        .iter()
        .map(|s| match s {
            Skipped::BelowMinProfit { account, predicted_quote } => {
                assert!(fees.contains(&(*predicted_quote, *account)), "{s:?}");
                *account
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(skipped, expected);
    assert_eq!(liquidatable_by_program(&mut market), expected, "nothing was sent");
    let text = metrics.render(Instant::now());
    let below = "keeper_skipped_total{reason=\"below_min_profit\"}";
    assert_eq!(sample(&text, below), expected.len() as f64);
    assert_eq!(sample(&text, "keeper_transactions_sent_total{kind=\"liquidate\"}"), 0.0);

    // Between two fees: exactly the accounts at or above it are liquidated.
    let split = (1..fees.len()).find(|&i| fees[i].0 > fees[i - 1].0 && i >= fees.len() / 2);
    let split = split.expect("two distinct fees");
    keeper.config.min_profit_quote = fees[split].0;
    assert!(fees[split].0 > 0, "a threshold of 0 checks nothing");
    let report = round(&keeper, &mut market, &metrics);
    let liquidated: BTreeSet<Pubkey> =
        report.liquidations.iter().map(|l| l.event.liquidatee).collect();
    let paying: BTreeSet<Pubkey> = fees[split..].iter().map(|f| f.1).collect();
    assert_eq!(liquidated, paying, "threshold {} of {fees:?}", fees[split].0);
    let skipped: BTreeSet<Pubkey> = report
        .skipped
        .iter()
        .filter_map(|s| match s {
            Skipped::BelowMinProfit { account, .. } => Some(*account),
            _ => None,
        })
        .collect();
    // (A liquidated account's later, smaller step may be skipped too.)
    let below_threshold: BTreeSet<Pubkey> = fees[..split].iter().map(|f| f.1).collect();
    assert_eq!(skipped.difference(&liquidated).copied().collect::<BTreeSet<_>>(), below_threshold);
    let text = metrics.render(Instant::now());
    assert_eq!(sample(&text, below), (expected.len() + skipped.len()) as f64);
}
