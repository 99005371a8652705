//! The pool's one formula, shared by the program and by every quote (the keeper's adapter calls
//! it on the vault balances it reads, so a quote is exactly what the program will pay).

use crate::CpSwapError;

/// Basis points in one.
pub const BPS: u64 = 10_000;

/// What a swap of `amount_in` pays out of a pool holding `reserve_in` and `reserve_out`, with a
/// fee of `fee_bps` on the input: `out = ⌊R_out · a / (R_in + a)⌋` with `a = ⌊amount_in ·
/// (1 − fee)⌋`. Both roundings are down, in favour of the pool, so `x·y` never decreases.
pub fn amount_out(
    reserve_in: u64,
    reserve_out: u64,
    amount_in: u64,
    fee_bps: u16,
) -> Result<u64, CpSwapError> {
    if amount_in == 0 {
        return Err(CpSwapError::ZeroAmount);
    }
    if u64::from(fee_bps) >= BPS {
        return Err(CpSwapError::FeeTooHigh);
    }
    if reserve_in == 0 || reserve_out == 0 {
        return Err(CpSwapError::EmptyPool);
    }
    let after_fee = u128::from(amount_in)
        .checked_mul(u128::from(BPS - u64::from(fee_bps)))
        .ok_or(CpSwapError::MathOverflow)?
        / u128::from(BPS);
    let numerator =
        after_fee.checked_mul(u128::from(reserve_out)).ok_or(CpSwapError::MathOverflow)?;
    let denominator =
        u128::from(reserve_in).checked_add(after_fee).ok_or(CpSwapError::MathOverflow)?;
    // `after_fee / denominator < 1`, so the pool always keeps some of `reserve_out`.
    let out = u64::try_from(numerator / denominator).map_err(|_| CpSwapError::MathOverflow)?;
    if out == 0 {
        return Err(CpSwapError::ZeroOutput);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_pays_the_constant_product_price_less_the_fee() {
        // 1,000 in a 100,000 / 200,000 pool without fee: 200,000 · 1,000 / 101,000 = 1,980.19…
        assert_eq!(amount_out(100_000, 200_000, 1_000, 0), Ok(1_980));
        // 0.3 %: a = 997, 200,000 · 997 / 100,997 = 1,974.31…
        assert_eq!(amount_out(100_000, 200_000, 1_000, 30), Ok(1_974));
        // The fee rounds down too: 3 · 0.997 = 2.991 → 2 in.
        assert_eq!(amount_out(1_000_000, 1_000_000, 3, 30), Ok(1));
    }

    #[test]
    fn k_never_decreases_and_the_pool_never_empties() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let reserve_in = next() % 1_000_000_000_000 + 1;
            let reserve_out = next() % 1_000_000_000_000 + 1;
            let amount_in = next() % (reserve_in * 3) + 1;
            let fee = (next() % 1_000) as u16;
            let Ok(out) = amount_out(reserve_in, reserve_out, amount_in, fee) else { continue };
            assert!(out < reserve_out);
            let before = u128::from(reserve_in) * u128::from(reserve_out);
            let after = u128::from(reserve_in + amount_in) * u128::from(reserve_out - out);
            assert!(after >= before, "k fell: {before} -> {after}");
            // And the output is the largest one that keeps k (one more would break it, fee 0).
            if fee == 0 {
                let more = u128::from(reserve_in + amount_in) * u128::from(reserve_out - out - 1);
                let exact = u128::from(amount_in) * u128::from(reserve_out)
                    / (u128::from(reserve_in) + u128::from(amount_in));
                assert_eq!(u128::from(out), exact);
                assert!(more < before, "one unit more would break k");
            }
        }
    }

    #[test]
    fn refusals_are_named() {
        assert_eq!(amount_out(10, 10, 0, 0), Err(CpSwapError::ZeroAmount));
        assert_eq!(amount_out(0, 10, 1, 0), Err(CpSwapError::EmptyPool));
        assert_eq!(amount_out(10, 0, 1, 0), Err(CpSwapError::EmptyPool));
        assert_eq!(amount_out(10, 10, 1, 10_000), Err(CpSwapError::FeeTooHigh));
        // 1 in against 1,000,000 / 10: 10 / 1,000,001 rounds to nothing.
        assert_eq!(amount_out(1_000_000, 10, 1, 0), Err(CpSwapError::ZeroOutput));
        // Large reserves: the u128 products do not overflow.
        assert!(amount_out(u64::MAX / 2, u64::MAX, u64::MAX / 2, 0).is_ok());
    }
}
