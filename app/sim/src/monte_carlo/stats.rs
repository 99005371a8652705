//! The statistics of a Monte Carlo run, as pure functions of the per-seed values.
//!
//! Over `n` seeds, with the values sorted in increasing order and ranks counted from 1:
//! - `VaR_q` is the value of rank `⌈q·n⌉` (so with fewer than 100 seeds VaR99 is the maximum);
//! - `CVaR_q` is the mean of the values of rank `⌈q·n⌉` to `n` (the tail from `VaR_q` up);
//! - band percentiles over time (p5, p50, p95) use the same rank rule at each step.
//!
//! Quantiles are given in whole percent so that the rank is exact integer arithmetic.

use serde::{Deserialize, Serialize};

/// One quantity's distribution over the seeds of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub mean: f64,
    pub var95: f64,
    pub var99: f64,
    pub cvar99: f64,
    pub max: f64,
    /// The seed with the largest value (the lowest such seed on a tie).
    pub worst_seed: u64,
    /// How many seeds the distribution is over.
    pub seeds: usize,
}

/// The rank (from 1) of the `percent` quantile of `n` values: `⌈percent·n/100⌉`, at least 1.
pub fn quantile_rank(percent: u32, n: usize) -> usize {
    (percent as usize * n).div_ceil(100).clamp(1, n.max(1))
}

/// The `percent` quantile of `sorted` (increasing): its value of rank `⌈percent·n/100⌉`.
pub fn quantile(sorted: &[f64], percent: u32) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[quantile_rank(percent, sorted.len()) - 1]
}

/// The mean of `sorted` (increasing) from the `percent` quantile's rank up.
pub fn tail_mean(sorted: &[f64], percent: u32) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let tail = &sorted[quantile_rank(percent, sorted.len()) - 1..];
    tail.iter().sum::<f64>() / tail.len() as f64
}

/// The distribution of `(seed, value)` pairs.
pub fn distribution(values: &[(u64, f64)]) -> Distribution {
    let mut sorted: Vec<f64> = values.iter().map(|v| v.1).collect();
    sorted.sort_by(f64::total_cmp);
    let worst = values.iter().copied().reduce(|worst, v| {
        if v.1 > worst.1 || (v.1 == worst.1 && v.0 < worst.0) {
            v
        } else {
            worst
        }
    });
    Distribution {
        mean: if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().sum::<f64>() / sorted.len() as f64
        },
        var95: quantile(&sorted, 95),
        var99: quantile(&sorted, 99),
        cvar99: tail_mean(&sorted, 99),
        max: sorted.last().copied().unwrap_or(0.0),
        worst_seed: worst.map(|w| w.0).unwrap_or(0),
        seeds: sorted.len(),
    }
}

/// A quantity's 5th percentile, median and 95th percentile at each step, over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub p5: Vec<f64>,
    pub p50: Vec<f64>,
    pub p95: Vec<f64>,
}

/// The band of `series` (one per seed, each with a value per step; the shortest sets the length).
pub fn band(series: &[&[f64]]) -> Band {
    let steps = series.iter().map(|s| s.len()).min().unwrap_or(0);
    let mut band = Band { p5: Vec::new(), p50: Vec::new(), p95: Vec::new() };
    for t in 0..steps {
        let mut at: Vec<f64> = series.iter().map(|s| s[t]).collect();
        at.sort_by(f64::total_cmp);
        band.p5.push(quantile(&at, 5));
        band.p50.push(quantile(&at, 50));
        band.p95.push(quantile(&at, 95));
    }
    band
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_ceiling_rule() {
        assert_eq!(quantile_rank(99, 100), 99);
        assert_eq!(quantile_rank(99, 101), 100);
        assert_eq!(quantile_rank(95, 20), 19);
        assert_eq!(quantile_rank(99, 10), 10, "under 100 seeds, VaR99 is the maximum");
        assert_eq!(quantile_rank(5, 10), 1);
        assert_eq!(quantile_rank(50, 10), 5);
        assert_eq!(quantile_rank(50, 11), 6);
    }

    #[test]
    fn a_distribution_of_known_values() {
        // Seeds 0..200 with value = seed (in dollars): rank 190 is 189, rank 198 is 197, the
        // tail from rank 198 is {197, 198, 199}.
        let values: Vec<(u64, f64)> = (0..200).rev().map(|s| (s, s as f64)).collect();
        let d = distribution(&values);
        assert_eq!(d.mean, 99.5);
        assert_eq!(d.var95, 189.0);
        assert_eq!(d.var99, 197.0);
        assert_eq!(d.cvar99, 198.0);
        assert_eq!(d.max, 199.0);
        assert_eq!(d.worst_seed, 199);
        assert_eq!(d.seeds, 200);

        // Ten seeds, one loss: VaR95 and VaR99 are the maximum (ranks 10 and 10).
        let mut sparse: Vec<(u64, f64)> = (10..20).map(|s| (s, 0.0)).collect();
        sparse[3].1 = 500.0;
        let d = distribution(&sparse);
        assert_eq!((d.mean, d.var95, d.var99, d.cvar99), (50.0, 500.0, 500.0, 500.0));
        assert_eq!(d.worst_seed, 13);

        // Ties: the lowest seed is the worst one; all zeros is a zero distribution.
        let tied = distribution(&[(4, 7.0), (2, 7.0), (3, 1.0)]);
        assert_eq!(tied.worst_seed, 2);
        let zero = distribution(&[(0, 0.0), (1, 0.0)]);
        assert_eq!((zero.var99, zero.cvar99, zero.worst_seed), (0.0, 0.0, 0));
    }

    #[test]
    fn bands_take_the_percentiles_at_each_step() {
        // 20 seeds; at step t seed k has value k + t. p5 is rank 1, p50 rank 10, p95 rank 19.
        let series: Vec<Vec<f64>> =
            (0..20).map(|k| (0..3).map(|t| (k + t) as f64).collect()).collect();
        let refs: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
        let b = band(&refs);
        assert_eq!(b.p5, vec![0.0, 1.0, 2.0]);
        assert_eq!(b.p50, vec![9.0, 10.0, 11.0]);
        assert_eq!(b.p95, vec![18.0, 19.0, 20.0]);
    }
}
