//! The market around the protocol: each asset's exogenous price path, and the depth that the
//! collateral liquidators sell is absorbed by. The oracle price is the exogenous price times an
//! impact factor (1 = no impact); sales push the factor down, arbitrage pulls it back by
//! `recovery_pct` of the gap each step. Off-chain model arithmetic is floating point; everything
//! the program sees is the fixed-point oracle account it is written into.

use crate::scenario::{MarketDepth, PricePath};

pub use cross_margin_testkit::scenario::Rng;

/// The exogenous price at every step `0..=steps`.
pub fn exogenous_path(start: f64, path: &PricePath, steps: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut prices = Vec::with_capacity(steps + 1);
    let mut walk = start;
    for t in 0..=steps {
        let price = match *path {
            PricePath::Constant => start,
            PricePath::Crash { at_step, drop_pct, over_steps } => {
                let done = t.saturating_sub(at_step).min(over_steps.max(1)) as f64;
                start * (1.0 - drop_pct / 100.0 * done / over_steps.max(1) as f64)
            }
            PricePath::Bleed { drop_pct } => {
                start * (1.0 - drop_pct / 100.0 * t as f64 / steps as f64)
            }
            PricePath::Depeg { to, from_step, bottom_step, recover_step } => {
                let fraction = if t <= from_step {
                    0.0
                } else if t <= bottom_step {
                    (t - from_step) as f64 / (bottom_step - from_step).max(1) as f64
                } else if t <= recover_step {
                    1.0 - (t - bottom_step) as f64 / (recover_step - bottom_step).max(1) as f64
                } else {
                    0.0
                };
                start * (1.0 - (1.0 - to) * fraction)
            }
            PricePath::Pump { from_step, steps: length, factor } => {
                if t > from_step && t <= from_step + length {
                    start * factor
                } else {
                    start
                }
            }
            PricePath::Volatility { from_step, steps: length, sigma_pct, drift_pct } => {
                if t > from_step && t <= from_step + length {
                    let shock = sigma_pct / 100.0 * rng.normal() + drift_pct / 100.0;
                    walk *= shock.exp();
                }
                walk
            }
        };
        prices.push(price.max(start * 1e-6));
    }
    prices
}

/// Pyth's EMA of one feed, as its oracle account carries it (`ema_price`, `ema_conf`).
///
/// Pyth's definition (docs.pyth.network, "EMA Price Aggregation"): a slot-weighted,
/// inverse-confidence-weighted exponential moving average of the aggregate price and of the
/// confidence, in which samples one hour old carry half the weight. Each sample of price `p`
/// and confidence `c` held for `dt` seconds enters with weight `(1 − 2^(−dt/h)) / c` (`h` the
/// half-life; weight `1 − 2^(−dt/h)` when `c` is 0), and older weights decay by `2^(−dt/h)`:
///
/// ```text
/// ema_price = Σ wᵢ·pᵢ / Σ wᵢ        ema_conf = Σ wᵢ·cᵢ / Σ wᵢ
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PythEma {
    weighted_price: f64,
    weighted_conf: f64,
    weight: f64,
}

impl PythEma {
    /// A feed that has been at `price` ± `conf` forever.
    pub fn steady(price: f64, conf: f64) -> Self {
        let w = Self::sample_weight(conf);
        Self { weighted_price: price * w, weighted_conf: conf * w, weight: w }
    }

    fn sample_weight(conf: f64) -> f64 {
        if conf > 0.0 {
            1.0 / conf
        } else {
            1.0
        }
    }

    /// Folds in `dt_secs` of the feed at `price` ± `conf`.
    pub fn update(&mut self, price: f64, conf: f64, dt_secs: f64, half_life_secs: f64) {
        let decay = 0.5f64.powf(dt_secs / half_life_secs);
        let w = (1.0 - decay) * Self::sample_weight(conf);
        self.weighted_price = decay * self.weighted_price + w * price;
        self.weighted_conf = decay * self.weighted_conf + w * conf;
        self.weight = decay * self.weight + w;
    }

    pub fn price(&self) -> f64 {
        self.weighted_price / self.weight
    }

    pub fn conf(&self) -> f64 {
        self.weighted_conf / self.weight
    }
}

/// One asset's market: its exogenous path and the impact of what is sold into it.
#[derive(Debug, Clone)]
pub struct AssetMarket {
    pub exogenous: Vec<f64>,
    pub depth: MarketDepth,
    /// Oracle price / exogenous price; 1 without impact.
    pub impact: f64,
    /// When off, sales have no price impact (the "without feedback" run).
    pub feedback: bool,
}

impl AssetMarket {
    pub fn new(exogenous: Vec<f64>, depth: MarketDepth, feedback: bool) -> Self {
        Self { exogenous, depth, impact: 1.0, feedback }
    }

    /// The price the oracle publishes at `step`.
    pub fn price(&self, step: usize) -> f64 {
        self.exogenous[step.min(self.exogenous.len() - 1)] * self.impact
    }

    /// Arbitrage closes part of the gap to the exogenous price (start of each step).
    pub fn recover(&mut self) {
        let recovery = match self.depth {
            MarketDepth::ConstantProduct { recovery_pct, .. } => recovery_pct,
            MarketDepth::Linear { recovery_pct, .. } => recovery_pct,
            MarketDepth::Infinite => 100.0,
        };
        self.impact = 1.0 - (1.0 - self.impact) * (1.0 - recovery / 100.0);
    }

    /// Sells `tokens` (whole tokens) at `step`; returns the dollars received. Sell-only: the
    /// price can only fall.
    pub fn sell(&mut self, step: usize, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        let exogenous = self.exogenous[step.min(self.exogenous.len() - 1)];
        let before = self.impact;
        let after = match self.depth {
            MarketDepth::Infinite => before,
            MarketDepth::ConstantProduct { depth_usd, .. } => {
                // Token reserve of a pool with `depth_usd` of quote at the exogenous price, now
                // trading at `before` of it: x = depth / (p · sqrt(f)).
                let reserve = depth_usd / (exogenous * before.sqrt());
                before * (reserve / (reserve + tokens)).powi(2)
            }
            MarketDepth::Linear { impact_bps_per_million_usd, .. } => {
                let usd = tokens * exogenous * before;
                before * (1.0 - impact_bps_per_million_usd / 10_000.0 * usd / 1e6).max(0.01)
            }
        };
        // Proceeds at the average of the prices before and after the sale.
        let proceeds = tokens * exogenous * (before + after) / 2.0;
        if self.feedback {
            self.impact = after;
        }
        proceeds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_have_the_documented_shapes() {
        let crash = exogenous_path(
            100.0,
            &PricePath::Crash { at_step: 2, drop_pct: 30.0, over_steps: 2 },
            6,
            1,
        );
        assert_eq!(crash, vec![100.0, 100.0, 100.0, 85.0, 70.0, 70.0, 70.0]);
        let depeg = PricePath::Depeg { to: 0.9, from_step: 1, bottom_step: 3, recover_step: 5 };
        let depeg = exogenous_path(1.0, &depeg, 6, 1);
        assert!((depeg[3] - 0.9).abs() < 1e-12 && (depeg[6] - 1.0).abs() < 1e-12);
        let bleed = exogenous_path(10.0, &PricePath::Bleed { drop_pct: 50.0 }, 4, 1);
        assert!((bleed[4] - 5.0).abs() < 1e-12);
        let vol = PricePath::Volatility { from_step: 0, steps: 10, sigma_pct: 5.0, drift_pct: 0.0 };
        assert_eq!(exogenous_path(1.0, &vol, 10, 9), exogenous_path(1.0, &vol, 10, 9));
    }

    #[test]
    fn selling_only_lowers_the_price_and_deeper_markets_move_less() {
        let path = vec![100.0; 3];
        let shallow = MarketDepth::ConstantProduct { depth_usd: 1e6, recovery_pct: 0.0 };
        let deep = MarketDepth::ConstantProduct { depth_usd: 1e8, recovery_pct: 0.0 };
        let mut a = AssetMarket::new(path.clone(), shallow, true);
        let mut b = AssetMarket::new(path.clone(), deep, true);
        a.sell(1, 1_000.0);
        b.sell(1, 1_000.0);
        assert!(a.price(1) < b.price(1) && b.price(1) < 100.0);
        // $100k into a $1M pool: (10,000 / 11,000)^2 of the price.
        assert!((a.impact - (10_000.0f64 / 11_000.0).powi(2)).abs() < 1e-12);
        let mut off = AssetMarket::new(path, shallow, false);
        off.sell(1, 1_000.0);
        assert_eq!(off.price(1), 100.0);
    }

    #[test]
    fn the_ema_follows_pyths_definition() {
        // Constant confidence: a plain EMA with a one-hour half-life. An hour at 2 from 1: 1.5.
        let mut ema = PythEma::steady(1.0, 0.0);
        for _ in 0..60 {
            ema.update(2.0, 0.0, 60.0, 3_600.0);
        }
        assert!((ema.price() - 1.5).abs() < 1e-9);
        // Confidence proportional to the price (a fixed bps): a 5× pump's samples weigh 5× less.
        // Five minutes at 5×: weight on the new samples (1 − 2^(−1/12)) / 5.
        let mut ema = PythEma::steady(1.0, 0.01);
        for _ in 0..5 {
            ema.update(5.0, 0.05, 60.0, 3_600.0);
        }
        let fresh = 1.0 - 0.5f64.powf(300.0 / 3_600.0);
        let expected =
            ((1.0 - fresh) / 0.01 + fresh * 5.0 / 0.05) / ((1.0 - fresh) / 0.01 + fresh / 0.05);
        assert!((ema.price() - expected).abs() < 1e-9);
        assert!(ema.price() < 1.05, "a five-minute pump moves the EMA by under 5%");
        assert_eq!(
            exogenous_path(1.0, &PricePath::Pump { from_step: 1, steps: 2, factor: 5.0 }, 4, 1),
            vec![1.0, 1.0, 5.0, 5.0, 1.0]
        );
    }

    #[test]
    fn arbitrage_closes_part_of_the_gap() {
        let depth = MarketDepth::Linear { impact_bps_per_million_usd: 100.0, recovery_pct: 50.0 };
        let mut market = AssetMarket::new(vec![1.0; 2], depth, true);
        market.sell(0, 10_000_000.0); // $10M: -10%
        assert!((market.impact - 0.9).abs() < 1e-12);
        market.recover();
        assert!((market.impact - 0.95).abs() < 1e-12);
    }
}
