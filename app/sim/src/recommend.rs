//! Parameter recommendation (`simulate --recommend BANK.param=lo..hi --seeds N`): the riskiest
//! value of one parameter whose VaR99 bad debt, over a Monte Carlo of seeds, stays within the
//! insurance funds. See docs/STRESS.md, "Parameter recommendation".
//!
//! - *Bad debt* is everything written off in a run: paid by the insurance funds plus shared by
//!   depositors. The test at a value is `VaR99(bad debt) <= insurance funds at the start` (the
//!   sum over the scenario's banks, with the value applied, so `insurance_usd` moves it).
//! - *Riskier* is the direction in which bad debt grows: measured at the two ends of the range
//!   (the end with the higher VaR99 bad debt, then the higher mean, is the risky one); when the
//!   ends tie (often both zero), the parameter's usual direction ([`risky_when_raised`]).
//! - The search is [`bisect`] over the integer grid from the safe end to the risky end in steps
//!   of the resolution, so it assumes the test flips once along the range; the neighbours either
//!   side of the answer are run too, and the report says whether they confirm it.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use anyhow::Result;

use crate::bisect::{bisect, grid, Boundary};
use crate::monte_carlo::{self, MonteCarlo, SeedRange};
use crate::report::usd;
use crate::scenario::Scenario;
use crate::sweep::{parse_values, split_target, Sweep};

/// What the search is asked: one bank parameter, the integer range searched, the resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommend {
    /// The bank and parameter (its `values` are the range's ends).
    pub target: Sweep,
    pub lo: i64,
    pub hi: i64,
    /// Grid step: the search ends on two values this far apart.
    pub resolution: i64,
}

/// A `--recommend` argument the lab cannot search.
#[derive(Debug, Clone, PartialEq)]
pub enum RecommendError {
    /// Not `BANK.param=lo..hi` or `BANK.param=v1,v2,...`.
    Syntax(String),
    /// Parameter values are integers (bps or dollars).
    NotAnInteger(f64),
    /// The range has a single value.
    EmptyRange { lo: i64, hi: i64 },
    /// The resolution must be at least 1.
    Resolution(i64),
    /// The two ends cost the same and the parameter has no usual risky direction.
    UnknownDirection(String),
}

impl fmt::Display for RecommendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecommendError::Syntax(why) => {
                write!(f, "--recommend expects BANK.param=lo..hi or BANK.param=v1,v2,...: {why}")
            }
            RecommendError::NotAnInteger(v) => {
                write!(f, "--recommend searches integer values (bps or dollars), not {v}")
            }
            RecommendError::EmptyRange { lo, hi } => {
                write!(f, "--recommend needs a range of more than one value, not {lo}..{hi}")
            }
            RecommendError::Resolution(r) => write!(f, "--resolution must be at least 1, not {r}"),
            RecommendError::UnknownDirection(p) => write!(
                f,
                "both ends of the range give the same bad debt and {p} has no usual risky direction"
            ),
        }
    }
}

impl std::error::Error for RecommendError {}

fn integer(value: f64) -> Result<i64, RecommendError> {
    if value.fract() == 0.0 && value.abs() < 9e15 {
        Ok(value as i64)
    } else {
        Err(RecommendError::NotAnInteger(value))
    }
}

/// The default resolution: the smallest power of ten at least a hundredth of the range, so the
/// grid has at most about a hundred steps (about seven bisection runs).
pub fn default_resolution(lo: i64, hi: i64) -> i64 {
    let span = (hi - lo).unsigned_abs();
    let mut resolution = 1_i64;
    while (resolution as u64) * 100 < span {
        resolution *= 10;
    }
    resolution
}

impl FromStr for Recommend {
    type Err = RecommendError;

    fn from_str(s: &str) -> Result<Self, RecommendError> {
        let syntax = |e: anyhow::Error| RecommendError::Syntax(e.to_string());
        let (bank, parameter, range) = split_target(s, "lo..hi").map_err(syntax)?;
        let ends = match range.split_once("..") {
            Some((lo, hi)) => parse_values(&format!("{lo},{hi}")).map_err(syntax)?,
            None => parse_values(range).map_err(syntax)?,
        };
        let low = ends.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ends.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = (integer(low)?, integer(high)?);
        if lo == hi {
            return Err(RecommendError::EmptyRange { lo, hi });
        }
        Ok(Recommend {
            target: Sweep {
                bank: bank.into(),
                parameter: parameter.into(),
                values: vec![lo as f64, hi as f64],
            },
            lo,
            hi,
            resolution: default_resolution(lo, hi),
        })
    }
}

impl Recommend {
    /// The same search at another resolution.
    pub fn with_resolution(mut self, resolution: i64) -> Result<Self, RecommendError> {
        if resolution < 1 {
            return Err(RecommendError::Resolution(resolution));
        }
        self.resolution = resolution;
        Ok(self)
    }

    pub fn label(&self) -> String {
        format!("{}.{}", self.target.bank, self.target.parameter)
    }
}

/// Whether raising a parameter usually raises bad debt (None: no usual direction): higher
/// weights on collateral and a later size-aware threshold lend more; lower liability weights,
/// fees, market depth and insurance leave less margin. Only used when the measured ends tie.
pub fn risky_when_raised(parameter: &str) -> Option<bool> {
    match parameter {
        "init_asset" | "maint_asset" | "deposit_weight_scale_start_usd" => Some(true),
        "maint_liab"
        | "init_liab"
        | "liquidation_fee_bps"
        | "insurance_fee_bps"
        | "depth_usd"
        | "insurance_usd" => Some(false),
        _ => None,
    }
}

/// What the search reads from a Monte Carlo run at one value.
pub trait Outcome {
    /// VaR99 of bad debt (insurance + depositors), dollars.
    fn var99_bad_debt(&self) -> f64;
    fn mean_bad_debt(&self) -> f64;
    /// The insurance funds at the start, dollars.
    fn insurance_fund(&self) -> f64;
}

/// Whether a value's run keeps VaR99 bad debt within the insurance funds.
pub fn within_insurance(outcome: &impl Outcome) -> bool {
    outcome.var99_bad_debt() <= outcome.insurance_fund()
}

/// How the risky end was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectionSource {
    /// The ends' bad debt differs.
    Measured,
    /// The ends tie; the parameter's usual direction.
    Usual,
}

/// The search's answer and every run it made.
#[derive(Debug)]
pub struct Recommendation<O> {
    pub label: String,
    pub risky_high: bool,
    pub direction: DirectionSource,
    pub resolution: i64,
    pub boundary: Boundary,
    /// The run at every value tested, the neighbours included.
    pub runs: BTreeMap<i64, O>,
}

impl<O: Outcome> Recommendation<O> {
    /// The riskiest value within the insurance funds (None: not even the safe end).
    pub fn value(&self) -> Option<i64> {
        self.boundary.accepted
    }

    /// The grid values one step safer and one step riskier than the answer (or than the safe
    /// end when nothing passes), where the range has them.
    pub fn neighbours(&self) -> (Option<i64>, Option<i64>) {
        let values = self.grid();
        let at = match self.value() {
            Some(value) => values.iter().position(|v| *v == value),
            None => return (None, values.first().copied()),
        };
        let at = at.expect("the answer is on the grid");
        (at.checked_sub(1).map(|i| values[i]), values.get(at + 1).copied())
    }

    /// The grid from the safe end to the risky end.
    pub fn grid(&self) -> Vec<i64> {
        let (safe, risky) = self.ends();
        grid(safe, risky, self.resolution)
    }

    /// (safe end, risky end).
    pub fn ends(&self) -> (i64, i64) {
        let (low, high) = (*self.runs.keys().next().unwrap(), *self.runs.keys().last().unwrap());
        if self.risky_high {
            (low, high)
        } else {
            (high, low)
        }
    }

    /// Whether the neighbours confirm a single flip: the safer one passes, the riskier one
    /// does not.
    pub fn neighbours_agree(&self) -> bool {
        let (safer, riskier) = self.neighbours();
        let passes = |v: Option<i64>| v.map(|v| within_insurance(&self.runs[&v]));
        self.value().is_none_or(|_| passes(safer) != Some(false)) && passes(riskier) != Some(true)
    }
}

/// Searches `target`'s range with `evaluate` (a Monte Carlo run of the scenario with the value
/// applied), each value run at most once.
pub fn search<O: Outcome>(
    target: &Recommend,
    mut evaluate: impl FnMut(i64) -> Result<O>,
) -> Result<Recommendation<O>> {
    let mut runs: BTreeMap<i64, O> = BTreeMap::new();
    let mut run = |value: i64, runs: &mut BTreeMap<i64, O>| -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(slot) = runs.entry(value) {
            slot.insert(evaluate(value)?);
        }
        Ok(())
    };
    run(target.lo, &mut runs)?;
    run(target.hi, &mut runs)?;
    let (low, high) = (&runs[&target.lo], &runs[&target.hi]);
    let measured = (high.var99_bad_debt(), high.mean_bad_debt())
        .partial_cmp(&(low.var99_bad_debt(), low.mean_bad_debt()))
        .filter(|o| o.is_ne());
    let (risky_high, direction) = match measured {
        Some(order) => (order.is_gt(), DirectionSource::Measured),
        None => match risky_when_raised(&target.target.parameter) {
            Some(raised) => (raised, DirectionSource::Usual),
            None => Err(RecommendError::UnknownDirection(target.label()))?,
        },
    };
    let (safe, risky) = if risky_high { (target.lo, target.hi) } else { (target.hi, target.lo) };
    let boundary = bisect(safe, risky, target.resolution, |value| {
        run(value, &mut runs)?;
        Ok(within_insurance(&runs[&value]))
    })?;
    let mut recommendation = Recommendation {
        label: target.label(),
        risky_high,
        direction,
        resolution: target.resolution,
        boundary,
        runs,
    };
    let (safer, riskier) = recommendation.neighbours();
    for value in [safer, riskier].into_iter().flatten() {
        run(value, &mut recommendation.runs)?;
    }
    Ok(recommendation)
}

impl Outcome for MonteCarlo {
    fn var99_bad_debt(&self) -> f64 {
        self.bad_debt().var99
    }
    fn mean_bad_debt(&self) -> f64 {
        self.bad_debt().mean
    }
    fn insurance_fund(&self) -> f64 {
        self.insurance_fund_usd
    }
}

/// Searches `target` on `scenario`: a Monte Carlo over `seeds` on `threads` threads at every
/// value the search tests. `progress` is told each value before its run.
pub fn run(
    scenario: &Scenario,
    program: &Path,
    target: &Recommend,
    seeds: SeedRange,
    threads: usize,
    progress: &mut dyn FnMut(i64),
) -> Result<Recommendation<MonteCarlo>> {
    // Both ends are applied first, so a bad bank or parameter fails before any run.
    target.target.apply(scenario, target.lo as f64)?;
    target.target.apply(scenario, target.hi as f64)?;
    search(target, |value| {
        progress(value);
        let variant = target.target.apply(scenario, value as f64)?;
        monte_carlo::run_seeds(&variant, program, seeds, threads, &|_, _| {})
    })
}

/// The answer as text (terminal and `recommend.md`): the value, then the bad debt's
/// distribution at the value and its neighbours, the fund, and the seeds behind each.
pub fn summary(recommendation: &Recommendation<MonteCarlo>) -> String {
    let r = recommendation;
    let mut out = String::new();
    let riskier = if r.risky_high { "higher" } else { "lower" };
    let why = match r.direction {
        DirectionSource::Measured => "measured: more bad debt at that end of the range",
        DirectionSource::Usual => "the ends tie, so the parameter's usual direction",
    };
    let _ = writeln!(out, "recommendation for {} (riskier = {riskier}; {why})", r.label);
    match r.value() {
        Some(value) => {
            let _ = writeln!(
                out,
                "  riskiest value with VaR99 bad debt within the insurance funds: {value} (resolution {})",
                r.resolution
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  no value of the range keeps VaR99 bad debt within the insurance funds"
            );
        }
    }
    let (safer, riskier) = r.neighbours();
    let _ = writeln!(
        out,
        "  | {} | | seeds | bad debt mean | VaR95 | VaR99 | CVaR99 | insurance funds | within |",
        r.label
    );
    let _ = writeln!(out, "  |---:|---|---:|---:|---:|---:|---:|---:|---|");
    let rows =
        [(safer, "safer neighbour"), (r.value(), "recommended"), (riskier, "riskier neighbour")];
    for (value, role) in rows {
        let Some(value) = value else { continue };
        let mc = &r.runs[&value];
        let d = mc.bad_debt();
        let _ = writeln!(
            out,
            "  | {value} | {role} | {} | {} | {} | {} | {} | {} | {} |",
            d.seeds,
            usd(d.mean),
            usd(d.var95),
            usd(d.var99),
            usd(d.cvar99),
            usd(mc.insurance_fund_usd),
            if within_insurance(mc) { "yes" } else { "no" }
        );
    }
    let tested: Vec<String> = r.boundary.tested.iter().map(|v| v.to_string()).collect();
    let _ = writeln!(
        out,
        "  values tested by the bisection: {}; {} Monte Carlo runs in all",
        tested.join(", "),
        r.runs.len()
    );
    if !r.neighbours_agree() {
        let _ = writeln!(
            out,
            "  warning: a neighbour contradicts the answer (bad debt is not monotone in {} over this range); check with --sweep",
            r.label
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic run: bad debt a function of the value, a fixed fund.
    #[derive(Debug)]
    struct Synthetic {
        var99: f64,
        fund: f64,
    }

    impl Outcome for Synthetic {
        fn var99_bad_debt(&self) -> f64 {
            self.var99
        }
        fn mean_bad_debt(&self) -> f64 {
            self.var99 / 2.0
        }
        fn insurance_fund(&self) -> f64 {
            self.fund
        }
    }

    fn target(s: &str) -> Recommend {
        s.parse().unwrap()
    }

    #[test]
    fn a_range_or_a_list_parses_with_a_default_resolution() {
        let r = target("SOL.maint_asset=8000..9500");
        assert_eq!((r.lo, r.hi, r.resolution), (8_000, 9_500, 100));
        assert_eq!(r.label(), "SOL.maint_asset");
        let list = target("SOL.maint_asset=9000, 8000,8500");
        assert_eq!((list.lo, list.hi), (8_000, 9_000), "a list's range");
        let usd = target("SOL.depth_usd=1e6..6e7");
        assert_eq!((usd.lo, usd.hi, usd.resolution), (1_000_000, 60_000_000, 1_000_000));
        assert_eq!(default_resolution(100, 200), 1);
        assert_eq!(default_resolution(0, 101), 10);
        assert_eq!(r.with_resolution(25).unwrap().resolution, 25);
    }

    #[test]
    fn bad_arguments_get_named_errors() {
        let error = |s: &str| s.parse::<Recommend>().unwrap_err();
        assert!(matches!(error("SOL.maint_asset"), RecommendError::Syntax(_)));
        assert!(matches!(error("maint_asset=1..2"), RecommendError::Syntax(_)));
        assert!(matches!(error("SOL.maint_asset=1..x"), RecommendError::Syntax(_)));
        assert_eq!(error("SOL.maint_asset=1..2.5"), RecommendError::NotAnInteger(2.5));
        assert_eq!(error("SOL.maint_asset=7..7"), RecommendError::EmptyRange { lo: 7, hi: 7 });
        let resolution = target("SOL.maint_asset=1..9").with_resolution(0).unwrap_err();
        assert_eq!(resolution, RecommendError::Resolution(0));
        assert!(resolution.to_string().contains("--resolution"));
    }

    /// Bad debt growing past `knee` by `slope` per unit, the value counted from the risky side.
    fn loss(value: i64, knee: i64, slope: f64) -> f64 {
        ((value - knee) as f64 * slope).max(0.0)
    }

    #[test]
    fn the_search_finds_the_riskiest_value_within_the_fund_and_runs_each_value_once() {
        let spec = target("SOL.maint_asset=8000..9500").with_resolution(50).unwrap();
        let mut calls = Vec::new();
        // Bad debt grows with the weight past 9,000; the fund is $10,000: 9,100 passes
        // ($10,000), 9,150 does not.
        let found = search(&spec, |v| {
            calls.push(v);
            Ok(Synthetic { var99: loss(v, 9_000, 100.0), fund: 10_000.0 })
        })
        .unwrap();
        assert!(found.risky_high);
        assert_eq!(found.direction, DirectionSource::Measured);
        assert_eq!(found.value(), Some(9_100));
        assert_eq!(found.neighbours(), (Some(9_050), Some(9_150)));
        assert!(found.neighbours_agree());
        let brute =
            grid(8_000, 9_500, 50).into_iter().filter(|v| loss(*v, 9_000, 100.0) <= 10_000.0).max();
        assert_eq!(found.value(), brute);
        let mut unique = calls.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), calls.len(), "no value run twice: {calls:?}");
        for v in [9_050, 9_100, 9_150] {
            assert!(found.runs.contains_key(&v), "{v} and its neighbours are reported");
        }
    }

    #[test]
    fn a_parameter_whose_risk_grows_downwards_is_searched_from_the_top() {
        // Lower depth, more bad debt: $2,000 per $100k below $5M, a $50k fund.
        let spec = target("SOL.depth_usd=1000000..9000000").with_resolution(100_000).unwrap();
        let found =
            search(&spec, |v| Ok(Synthetic { var99: loss(-v, -5_000_000, 0.02), fund: 50_000.0 }))
                .unwrap();
        assert!(!found.risky_high);
        assert_eq!(found.value(), Some(2_500_000));
        assert_eq!(found.neighbours(), (Some(2_600_000), Some(2_400_000)));
    }

    #[test]
    fn tied_ends_fall_back_to_the_usual_direction_or_refuse() {
        let free = |_| Ok(Synthetic { var99: 0.0, fund: 1.0 });
        let weight = search(&target("SOL.maint_asset=8000..9000"), free).unwrap();
        assert_eq!((weight.risky_high, weight.direction), (true, DirectionSource::Usual));
        assert_eq!(weight.value(), Some(9_000), "everything passes: the risky end");
        assert_eq!(weight.neighbours(), (Some(8_990), None));
        let fee = search(&target("SOL.liquidation_fee_bps=100..900"), free).unwrap();
        assert_eq!((fee.risky_high, fee.value()), (false, Some(100)));
        let unknown = search(&target("SOL.leverage=1..2"), free).unwrap_err();
        assert!(unknown.to_string().contains("no usual risky direction"), "{unknown}");
    }

    #[test]
    fn nothing_passes_when_even_the_safe_end_exceeds_the_fund() {
        let found = search(&target("SOL.maint_asset=8000..9000"), |v| {
            Ok(Synthetic { var99: v as f64, fund: 10.0 })
        })
        .unwrap();
        assert_eq!(found.value(), None);
        assert_eq!(found.neighbours(), (None, Some(8_000)));
        assert!(found.neighbours_agree());
    }

    #[test]
    fn neighbours_that_contradict_the_answer_are_flagged() {
        // Passes up to 50 and again at 70: not a single flip. Bisection lands on 70, whose
        // safer neighbour fails, and says so.
        let spec = target("SOL.maint_asset=0..100").with_resolution(10).unwrap();
        let found = search(&spec, |v| {
            let passes = v <= 50 || v == 70;
            Ok(Synthetic { var99: if passes { 0.0 } else { v as f64 }, fund: 1.0 })
        })
        .unwrap();
        assert_eq!(found.value(), Some(70));
        assert_eq!(found.neighbours(), (Some(60), Some(80)));
        assert!(!found.neighbours_agree());
    }
}
