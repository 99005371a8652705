//! Fixed-point arithmetic for the program. No floats anywhere.
//!
//! - Indices and prices are unsigned Q64.64 (`u128`, 64 fractional bits).
//! - Token amounts are native units (`u64`); values are quote native units (`u64`/`i128`),
//!   where the quote is USD with [`QUOTE_DECIMALS`] decimals.
//! - Weights and fees are basis points (`u32`, 10_000 = 1.0) and are applied exactly.
//! - Every rounding is explicit ([`Round`]); callers pick the direction that favours the
//!   protocol (assets down, liabilities up). Every overflow is an error, never a wrap.

/// Decimals of the quote unit in which values and health are expressed (micro-USD).
pub const QUOTE_DECIMALS: u8 = 6;
/// 1.0 in Q64.64.
pub const ONE_Q64: u128 = 1 << 64;
/// 1.0 in basis points.
pub const BPS: u32 = 10_000;

/// A checked arithmetic failure. Mapped to `MarginError::MathOverflow` on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

pub type MathResult<T> = core::result::Result<T, Overflow>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Down,
    Up,
}

/// `a * b / 2^64` for a `u64` and a Q64.64 value, rounded as asked, without an intermediate
/// that can overflow (the product is split at the binary point).
pub fn mul_q64(a: u64, b_q64: u128, round: Round) -> MathResult<u64> {
    // Two 64×64→128 products (no 128×128 multiply, no overflow check needed on either). Kept
    // apart from `mul_q64_wide`: every health check prices each position through here.
    let high = widening_mul(a, (b_q64 >> 64) as u64);
    let low = widening_mul(a, b_q64 as u64);
    let mut result = high.checked_add(low >> 64).ok_or(Overflow)?;
    if round == Round::Up && low as u64 != 0 {
        result = result.checked_add(1).ok_or(Overflow)?;
    }
    u64::try_from(result).map_err(|_| Overflow)
}

/// `a * b / 2^64` as [`mul_q64`], without narrowing to `u64`: it cannot overflow, since
/// `(2^64 − 1)^2 + 2^64 < 2^128`.
pub fn mul_q64_wide(a: u64, b_q64: u128, round: Round) -> u128 {
    // Two 64×64→128 products (no 128×128 multiply).
    let high = widening_mul(a, (b_q64 >> 64) as u64);
    let low = widening_mul(a, b_q64 as u64);
    let result = high + (low >> 64);
    if round == Round::Up && low as u64 != 0 {
        result + 1
    } else {
        result
    }
}

/// `a * b / 2^64` rounded down and rounded up, from one product (perp health needs both).
pub fn mul_q64_floor_ceil(a: u64, b_q64: u128) -> MathResult<(u64, u64)> {
    let high = widening_mul(a, (b_q64 >> 64) as u64);
    let low = widening_mul(a, b_q64 as u64);
    let floor = high.checked_add(low >> 64).ok_or(Overflow)?;
    let ceil = if low as u64 != 0 { floor.checked_add(1).ok_or(Overflow)? } else { floor };
    Ok((u64::try_from(floor).map_err(|_| Overflow)?, u64::try_from(ceil).map_err(|_| Overflow)?))
}

#[inline(always)]
fn widening_mul(a: u64, b: u64) -> u128 {
    a as u128 * b as u128
}

/// `a * 2^64 / b_q64`: how many units of a Q64.64 quantity `b` fit in `a`, rounded as asked.
pub fn div_q64(a: u64, b_q64: u128, round: Round) -> MathResult<u64> {
    if b_q64 == 0 {
        return Err(Overflow);
    }
    let numerator = (a as u128) << 64;
    let mut quotient = numerator / b_q64;
    if round == Round::Up && !numerator.is_multiple_of(b_q64) {
        quotient += 1;
    }
    u64::try_from(quotient).map_err(|_| Overflow)
}

/// `value * bps / 10_000`, exact up to the final rounding, with only 64-bit divisions.
pub fn mul_bps(value: u64, bps: u32, round: Round) -> MathResult<u64> {
    let whole = (value / BPS as u64) as u128 * bps as u128;
    let part = (value % BPS as u64) * bps as u64; // < 10_000 * 2^32
    let mut result = whole + (part / BPS as u64) as u128;
    if round == Round::Up && !part.is_multiple_of(BPS as u64) {
        result += 1;
    }
    u64::try_from(result).map_err(|_| Overflow)
}

/// `value * num / den` with a 128-bit intermediate, rounded as asked.
pub fn mul_div(value: u64, num: u64, den: u64, round: Round) -> MathResult<u64> {
    if den == 0 {
        return Err(Overflow);
    }
    let product = value as u128 * num as u128;
    let mut result = product / den as u128;
    if round == Round::Up && !product.is_multiple_of(den as u128) {
        result += 1;
    }
    u64::try_from(result).map_err(|_| Overflow)
}

/// Q64.64 from a decimal mantissa and exponent: `mantissa * 10^exponent`, rounded as asked.
pub fn q64_from_decimal(mantissa: u64, exponent: i32, round: Round) -> MathResult<u128> {
    if exponent >= 0 {
        let scale = pow10(exponent as u32)?;
        let integer = (mantissa as u128).checked_mul(scale as u128).ok_or(Overflow)?;
        if integer >> 64 != 0 {
            return Err(Overflow);
        }
        Ok(integer << 64)
    } else {
        Ok(div_shifted(mantissa, pow10(exponent.unsigned_abs())?, round))
    }
}

/// `mantissa · 2^64 / divisor` (divisor > 0), rounded as asked. The price normalisation of every
/// health check runs through here, so divisors below 2^48 (10^k for k <= 14, which covers
/// Pyth's exponents for tokens of up to 12 decimals) take exact base-2^16 long division in
/// native 64-bit operations instead of a software 128-bit division.
pub fn div_shifted(mantissa: u64, divisor: u64, round: Round) -> u128 {
    let (quotient, remainder) = if divisor < 1 << 48 {
        let mut quotient = ((mantissa / divisor) as u128) << 64;
        let mut remainder = mantissa % divisor;
        for shift in [48u32, 32, 16, 0] {
            let part = remainder << 16; // remainder < 2^48, so this fits
            quotient |= ((part / divisor) as u128) << shift;
            remainder = part % divisor;
        }
        (quotient, remainder as u128)
    } else {
        let numerator = (mantissa as u128) << 64;
        (numerator / divisor as u128, numerator % divisor as u128)
    };
    if round == Round::Up && remainder != 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// 10^n for n <= 19 (the largest power of ten in a u64).
pub fn pow10(n: u32) -> MathResult<u64> {
    10u64.checked_pow(n).ok_or(Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_q64_rounds_both_ways() {
        let half = ONE_Q64 / 2;
        assert_eq!(mul_q64(3, half, Round::Down), Ok(1));
        assert_eq!(mul_q64(3, half, Round::Up), Ok(2));
        assert_eq!(mul_q64(4, half, Round::Up), Ok(2));
        assert_eq!(mul_q64(u64::MAX, ONE_Q64, Round::Down), Ok(u64::MAX));
        assert_eq!(mul_q64(u64::MAX, ONE_Q64 + 1, Round::Down), Ok(u64::MAX));
        assert_eq!(mul_q64(u64::MAX, ONE_Q64 + 1, Round::Up), Err(Overflow));
        assert_eq!(mul_q64(2, u128::MAX, Round::Down), Err(Overflow));
        // The wide form never overflows, even at the extremes.
        assert_eq!(mul_q64_wide(u64::MAX, u128::MAX, Round::Up), (u64::MAX as u128) << 64);
        assert_eq!(mul_q64_wide(2, u128::MAX, Round::Down), u128::MAX >> 63);
    }

    #[test]
    fn mul_q64_floor_ceil_gives_both_roundings_of_one_product() {
        // 3 × 0.5 = 1.5 → (1, 2); 4 × 0.5 = 2 exactly → (2, 2); 3 × 2.75 = 8.25 → (8, 9).
        let half = ONE_Q64 / 2;
        assert_eq!(mul_q64_floor_ceil(3, half), Ok((1, 2)));
        assert_eq!(mul_q64_floor_ceil(4, half), Ok((2, 2)));
        assert_eq!(mul_q64_floor_ceil(3, 2 * ONE_Q64 + 3 * ONE_Q64 / 4), Ok((8, 9)));
        // The floor fits a u64 but the ceiling does not.
        assert_eq!(mul_q64_floor_ceil(u64::MAX, ONE_Q64 + 1), Err(Overflow));
        assert_eq!(mul_q64_floor_ceil(u64::MAX, ONE_Q64), Ok((u64::MAX, u64::MAX)));
    }

    #[test]
    fn div_q64_rounds_both_ways_and_rejects_zero() {
        let one_and_half = ONE_Q64 + ONE_Q64 / 2;
        assert_eq!(div_q64(10, one_and_half, Round::Down), Ok(6)); // 6.67
        assert_eq!(div_q64(10, one_and_half, Round::Up), Ok(7));
        assert_eq!(div_q64(9, one_and_half, Round::Up), Ok(6));
        assert_eq!(div_q64(1, 0, Round::Down), Err(Overflow));
        assert_eq!(div_q64(u64::MAX, ONE_Q64 / 2, Round::Down), Err(Overflow));
    }

    #[test]
    fn mul_bps_is_exact_decimal() {
        // 0.8 of 100_000_000 is exactly 80_000_000: no binary-fraction error.
        assert_eq!(mul_bps(100_000_000, 8_000, Round::Down), Ok(80_000_000));
        assert_eq!(mul_bps(100_000_000, 8_000, Round::Up), Ok(80_000_000));
        assert_eq!(mul_bps(3, 5_000, Round::Down), Ok(1));
        assert_eq!(mul_bps(3, 5_000, Round::Up), Ok(2));
        assert_eq!(mul_bps(u64::MAX, 10_000, Round::Up), Ok(u64::MAX));
        assert_eq!(mul_bps(u64::MAX, 12_000, Round::Down), Err(Overflow));
        assert_eq!(mul_bps(12_345, 12_000, Round::Up), Ok(14_814)); // 14_814.0
        assert_eq!(mul_bps(12_346, 12_000, Round::Up), Ok(14_816)); // 14_815.2
    }

    #[test]
    fn mul_div_rounds_both_ways_only_when_inexact() {
        // 10 × 2 / 3 = 6.67 → 6 or 7; 9 × 2 / 3 = 6 exactly, either way.
        assert_eq!(mul_div(10, 2, 3, Round::Down), Ok(6));
        assert_eq!(mul_div(10, 2, 3, Round::Up), Ok(7));
        assert_eq!(mul_div(9, 2, 3, Round::Up), Ok(6));
        assert_eq!(mul_div(9, 2, 3, Round::Down), Ok(6));
        // The 128-bit product: u64::MAX × u64::MAX / u64::MAX is exact.
        assert_eq!(mul_div(u64::MAX, u64::MAX, u64::MAX, Round::Up), Ok(u64::MAX));
        assert_eq!(mul_div(u64::MAX, 2, 1, Round::Down), Err(Overflow));
        assert_eq!(mul_div(1, 1, 0, Round::Down), Err(Overflow));
    }

    #[test]
    fn long_division_matches_128_bit_division() {
        // A deterministic spread of mantissas and every power-of-ten divisor up to 10^19.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mantissa = x >> (x % 40);
            for k in 0..=19 {
                let d = 10u64.pow(k);
                let n = (mantissa as u128) << 64;
                let exact_down = n / d as u128;
                let exact_up = exact_down + !n.is_multiple_of(d as u128) as u128;
                assert_eq!(
                    div_shifted(mantissa, d, Round::Down),
                    exact_down,
                    "{mantissa} / 10^{k}"
                );
                assert_eq!(div_shifted(mantissa, d, Round::Up), exact_up, "{mantissa} / 10^{k}");
            }
        }
    }

    #[test]
    fn div_shifted_rounds_up_only_when_inexact_above_2_pow_48() {
        // Divisors from 2^48 take the 128-bit division: an exact quotient stays as it is.
        let d = 1_000_000_000_000_000; // 10^15 > 2^48
        assert_eq!(div_shifted(3 * d, d, Round::Up), 3 << 64);
        assert_eq!(div_shifted(3 * d, d, Round::Down), 3 << 64);
        assert_eq!(div_shifted(3 * d + 1, d, Round::Up), (3 << 64) + (1u128 << 64) / d as u128 + 1);
    }

    #[test]
    fn q64_from_decimal_matches_hand_values() {
        assert_eq!(q64_from_decimal(15, -1, Round::Down), Ok(ONE_Q64 + ONE_Q64 / 2));
        assert_eq!(q64_from_decimal(2, 3, Round::Down), Ok(2000 * ONE_Q64));
        // 1/3 rounds down and up to adjacent representable values.
        let down = q64_from_decimal(1, 0, Round::Down).unwrap() / 3;
        assert!(q64_from_decimal(333_333, -6, Round::Down).unwrap() < down);
        assert_eq!(q64_from_decimal(u64::MAX, 1, Round::Down), Err(Overflow));
        assert_eq!(q64_from_decimal(1, -20, Round::Down), Err(Overflow));
    }
}
