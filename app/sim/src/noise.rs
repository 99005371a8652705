//! Randomised price paths around a scenario's shape, for Monte Carlo: a bank's `noise` (a
//! Merton jump-diffusion) multiplies its deterministic path (crash, bleed, depeg ...).
//!
//! Each step's log-return is `−σ²/2 + σ·Z` (Z standard normal: the diffusion has mean factor 1,
//! so the noise does not drift the shape) plus the sum of `N` jumps, `N` Poisson with mean
//! `jump_per_step` and each jump's log-size normal with mean `jump_mean_pct`/100 and standard
//! deviation `jump_sd_pct`/100. Jumps are not compensated: a negative `jump_mean_pct` is the
//! crash risk the scenario adds on purpose. So per step
//!
//! ```text
//! E[log-return]   = −σ²/2 + λ·μⱼ
//! Var[log-return] = σ² + λ·(μⱼ² + σⱼ²)
//! ```
//!
//! The draws come from a generator seeded by the run's seed and the bank's index only, so a seed
//! gives the same path whatever else the run does.

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::market_model::Rng;

/// A bank's price noise (`noise = { sigma_pct = .., jump_per_step = .., ... }`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Diffusion volatility per step, percent of the price.
    pub sigma_pct: f64,
    /// Expected number of jumps per step (Poisson intensity).
    #[serde(default)]
    pub jump_per_step: f64,
    /// Mean jump, percent in log terms (e.g. −5: a jump takes about 5% off).
    #[serde(default)]
    pub jump_mean_pct: f64,
    /// Standard deviation of a jump, percent in log terms.
    #[serde(default)]
    pub jump_sd_pct: f64,
}

impl Noise {
    /// Refuses parameters that make no path: a named field and why.
    pub fn validate(&self, bank: &str) -> Result<()> {
        let finite = [self.sigma_pct, self.jump_per_step, self.jump_mean_pct, self.jump_sd_pct];
        if finite.iter().any(|v| !v.is_finite()) {
            bail!("{bank}: noise parameters must be finite numbers");
        }
        if !(0.0..=50.0).contains(&self.sigma_pct) {
            bail!("{bank}: noise.sigma_pct must be within [0, 50] (percent per step)");
        }
        if !(0.0..=5.0).contains(&self.jump_per_step) {
            bail!("{bank}: noise.jump_per_step must be within [0, 5] (jumps per step)");
        }
        if !(-100.0..=100.0).contains(&self.jump_mean_pct) {
            bail!("{bank}: noise.jump_mean_pct must be within [-100, 100]");
        }
        if !(0.0..=100.0).contains(&self.jump_sd_pct) {
            bail!("{bank}: noise.jump_sd_pct must be within [0, 100]");
        }
        Ok(())
    }

    /// One step's log-return.
    pub fn log_return(&self, rng: &mut Rng) -> f64 {
        let sigma = self.sigma_pct / 100.0;
        let mut r = -sigma * sigma / 2.0 + sigma * rng.normal();
        for _ in 0..poisson(rng, self.jump_per_step) {
            r += self.jump_mean_pct / 100.0 + self.jump_sd_pct / 100.0 * rng.normal();
        }
        r
    }

    /// The multiplicative factor at every step `0..=steps` (1 at step 0).
    pub fn factors(&self, steps: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        let mut log = 0.0;
        let mut factors = Vec::with_capacity(steps + 1);
        factors.push(1.0);
        for _ in 0..steps {
            log += self.log_return(&mut rng);
            factors.push(log.exp());
        }
        factors
    }
}

/// The noise generator's seed for `bank` in the run seeded `seed` (a splitmix round, so
/// neighbouring seeds and banks give unrelated streams).
pub fn noise_seed(seed: u64, bank: usize) -> u64 {
    Rng::new(seed ^ 0x6e6f_6973_6500_0000 ^ ((bank as u64) << 32)).next_u64()
}

/// Multiplies `path` (the deterministic shape) by `noise`'s factors, step for step.
pub fn apply(path: &mut [f64], noise: &Noise, seed: u64) {
    let factors = noise.factors(path.len().saturating_sub(1), seed);
    for (price, factor) in path.iter_mut().zip(factors) {
        *price *= factor;
    }
}

/// A Poisson draw with mean `lambda` (Knuth's product of uniforms; `lambda` is small here).
pub fn poisson(rng: &mut Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda).exp();
    let mut product = rng.unit();
    let mut count = 0;
    while product > limit {
        count += 1;
        product *= rng.unit();
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, variance)
    }

    fn log_returns(noise: &Noise, draws: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..draws).map(|_| noise.log_return(&mut rng)).collect()
    }

    #[test]
    fn diffusion_has_the_documented_mean_and_variance() {
        let noise =
            Noise { sigma_pct: 2.0, jump_per_step: 0.0, jump_mean_pct: 0.0, jump_sd_pct: 0.0 };
        let draws = 200_000;
        let (mean, variance) = moments(&log_returns(&noise, draws, 11));
        let sigma2 = 0.02f64.powi(2);
        // Standard error of the mean: σ/√n ≈ 4.5e-5; allow 4 of them.
        assert!((mean - (-sigma2 / 2.0)).abs() < 4.0 * 0.02 / (draws as f64).sqrt(), "{mean}");
        assert!((variance / sigma2 - 1.0).abs() < 0.02, "{variance}");
    }

    #[test]
    fn jumps_come_at_their_rate_with_their_size() {
        let jumps =
            Noise { sigma_pct: 1.0, jump_per_step: 0.1, jump_mean_pct: -5.0, jump_sd_pct: 2.0 };
        let draws = 200_000;
        let (mean, variance) = moments(&log_returns(&jumps, draws, 5));
        let (sigma, lambda, mu, sd) = (0.01f64, 0.1, -0.05, 0.02);
        let expected_mean = -sigma * sigma / 2.0 + lambda * mu;
        let expected_variance = sigma * sigma + lambda * (mu * mu + sd * sd);
        let standard_error = (expected_variance / draws as f64).sqrt();
        assert!((mean - expected_mean).abs() < 4.0 * standard_error, "{mean} vs {expected_mean}");
        assert!((variance / expected_variance - 1.0).abs() < 0.05, "{variance}");

        // The Poisson counts: mean λ, and P(no jump) = e^(−λ).
        let mut rng = Rng::new(3);
        let counts: Vec<u32> = (0..draws).map(|_| poisson(&mut rng, 0.1)).collect();
        let mean_count = counts.iter().sum::<u32>() as f64 / draws as f64;
        assert!((mean_count - 0.1).abs() < 0.003, "{mean_count}");
        let none = counts.iter().filter(|c| **c == 0).count() as f64 / draws as f64;
        assert!((none - (-0.1f64).exp()).abs() < 0.003, "{none}");
    }

    #[test]
    fn paths_are_deterministic_per_seed_and_bank_and_start_at_the_shape() {
        let noise =
            Noise { sigma_pct: 1.0, jump_per_step: 0.05, jump_mean_pct: -4.0, jump_sd_pct: 2.0 };
        let shape = vec![100.0, 100.0, 90.0, 80.0, 80.0];
        let mut a = shape.clone();
        let mut b = shape.clone();
        apply(&mut a, &noise, noise_seed(7, 1));
        apply(&mut b, &noise, noise_seed(7, 1));
        assert_eq!(a, b);
        assert_eq!(a[0], 100.0, "step 0 is the scenario's start price");
        assert_ne!(a, shape);
        let mut other_seed = shape.clone();
        apply(&mut other_seed, &noise, noise_seed(8, 1));
        let mut other_bank = shape.clone();
        apply(&mut other_bank, &noise, noise_seed(7, 2));
        assert_ne!(a, other_seed);
        assert_ne!(a, other_bank);
        // No noise at all leaves the shape as it is.
        let flat =
            Noise { sigma_pct: 0.0, jump_per_step: 0.0, jump_mean_pct: 0.0, jump_sd_pct: 0.0 };
        let mut same = shape.clone();
        apply(&mut same, &flat, 1);
        assert_eq!(same, shape);
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let good =
            Noise { sigma_pct: 1.0, jump_per_step: 0.1, jump_mean_pct: -5.0, jump_sd_pct: 2.0 };
        assert!(good.validate("SOL").is_ok());
        let cases = [
            (Noise { sigma_pct: -1.0, ..good }, "sigma_pct"),
            (Noise { jump_per_step: 9.0, ..good }, "jump_per_step"),
            (Noise { jump_sd_pct: -1.0, ..good }, "jump_sd_pct"),
            (Noise { jump_mean_pct: f64::NAN, ..good }, "finite"),
        ];
        for (noise, field) in cases {
            let error = noise.validate("SOL").unwrap_err().to_string();
            assert!(error.contains(field) && error.starts_with("SOL"), "{error}");
        }
    }
}
