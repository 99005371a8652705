//! The priority fee of a transaction: a percentile of the fees recent transactions paid to
//! write the same accounts (`getRecentPrioritizationFees`), capped, with the configured fixed
//! fee as the floor.

/// How the keeper prices its transactions' compute units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicFee {
    /// Which percentile of the recent fees to pay (0..=100; 75 by default).
    pub percentile: u8,
    /// The most to pay, micro-lamports per compute unit.
    pub max_micro_lamports: u64,
}

impl Default for DynamicFee {
    fn default() -> Self {
        Self {
            percentile: crate::config::DEFAULT_PRIORITY_FEE_PERCENTILE,
            max_micro_lamports: crate::config::DEFAULT_PRIORITY_FEE_MAX_MICRO_LAMPORTS,
        }
    }
}

/// The fee to set (micro-lamports per CU): `floor` without a dynamic policy or recent fees;
/// otherwise the `percentile`-th recent fee (nearest rank), at most the cap, at least `floor`
/// (a floor above the cap wins: the operator's fixed fee is an override).
pub fn priority_fee(floor: u64, dynamic: Option<DynamicFee>, recent: &[u64]) -> u64 {
    let Some(policy) = dynamic else { return floor };
    match percentile(recent, policy.percentile) {
        Some(fee) => fee.min(policy.max_micro_lamports).max(floor),
        None => floor,
    }
}

/// The nearest-rank percentile of `values` (`None` if empty): the smallest value with at least
/// `p`% of the values at or below it; p = 0 is the minimum, p = 100 the maximum.
pub fn percentile(values: &[u64], p: u8) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let p = usize::from(p.min(100));
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let fees: Vec<u64> = (1..=20).map(|i| i * 100).collect(); // 100..=2000
        assert_eq!(percentile(&fees, 75), Some(1_500)); // rank 15 of 20
        assert_eq!(percentile(&fees, 50), Some(1_000));
        assert_eq!(percentile(&fees, 0), Some(100));
        assert_eq!(percentile(&fees, 100), Some(2_000));
        assert_eq!(percentile(&fees, 200), Some(2_000), "above 100 is the maximum");
        assert_eq!(percentile(&[], 75), None);
        // Order does not matter; zero-fee slots count (most slots of a quiet account).
        assert_eq!(percentile(&[0, 0, 0, 9_000], 75), Some(0));
        assert_eq!(percentile(&[9_000, 0, 5_000, 0], 75), Some(5_000));
        assert_eq!(percentile(&[42], 1), Some(42));
    }

    #[test]
    fn the_fee_is_the_percentile_capped_and_floored() {
        let policy = DynamicFee { percentile: 75, max_micro_lamports: 10_000 };
        let recent = [0, 1_000, 2_000, 3_000, 50_000, 60_000, 70_000, 80_000];
        // p75 = rank 6 of 8 = 60,000, capped at 10,000.
        assert_eq!(priority_fee(0, Some(policy), &recent), 10_000);
        let uncapped = DynamicFee { max_micro_lamports: u64::MAX, ..policy };
        assert_eq!(priority_fee(0, Some(uncapped), &recent), 60_000);
        // Below the floor: the floor.
        assert_eq!(priority_fee(500, Some(policy), &[0, 0, 100, 200]), 500);
        // A floor above the cap overrides it.
        assert_eq!(priority_fee(20_000, Some(policy), &recent), 20_000);
        // No recent fees (a quiet chain, the embedded one): the floor.
        assert_eq!(priority_fee(700, Some(policy), &[]), 700);
        // No dynamic policy: the fixed fee whatever the market pays.
        assert_eq!(priority_fee(700, None, &recent), 700);
    }
}
