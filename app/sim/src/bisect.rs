//! Bisection over an integer grid for the last value a monotone test accepts: the search behind
//! `simulate --recommend` (each test is a Monte Carlo run, so the fewer the better).

use anyhow::Result;

/// The values searched: from `safe` towards `risky` in steps of `step`, ending on `risky` itself
/// even when the distance is not a multiple of `step`. `safe` may be above `risky` (a parameter
/// whose risky end is its low end).
pub fn grid(safe: i64, risky: i64, step: i64) -> Vec<i64> {
    let step = step.max(1);
    let direction = if risky >= safe { 1 } else { -1 };
    let count = (risky - safe).abs() / step;
    let mut values: Vec<i64> = (0..=count).map(|k| safe + direction * k * step).collect();
    if values.last() != Some(&risky) {
        values.push(risky);
    }
    values
}

/// Where a monotone test turns from accepting to refusing along a [`grid`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// The riskiest value accepted (None: even the safe end is refused).
    pub accepted: Option<i64>,
    /// The safest value refused, next to `accepted` on the grid (None: every value is accepted).
    pub refused: Option<i64>,
    /// Values tested, in order.
    pub tested: Vec<i64>,
}

/// The riskiest value of `grid(safe, risky, step)` that `accepts` (true on a prefix of the grid
/// from `safe`, false after it), found in about log2(grid size) + 2 tests: both ends first,
/// then halving the interval between the last accepted and the first refused value.
pub fn bisect(
    safe: i64,
    risky: i64,
    step: i64,
    mut accepts: impl FnMut(i64) -> Result<bool>,
) -> Result<Boundary> {
    let values = grid(safe, risky, step);
    let mut tested = Vec::new();
    let mut test = |index: usize, tested: &mut Vec<i64>| -> Result<bool> {
        tested.push(values[index]);
        accepts(values[index])
    };
    if !test(0, &mut tested)? {
        return Ok(Boundary { accepted: None, refused: Some(values[0]), tested });
    }
    let last = values.len() - 1;
    if last == 0 || test(last, &mut tested)? {
        return Ok(Boundary { accepted: Some(values[last]), refused: None, tested });
    }
    // Invariant: values[good] accepted, values[bad] refused, good < bad.
    let (mut good, mut bad) = (0, last);
    while bad - good > 1 {
        let middle = good + (bad - good) / 2;
        if test(middle, &mut tested)? {
            good = middle;
        } else {
            bad = middle;
        }
    }
    Ok(Boundary { accepted: Some(values[good]), refused: Some(values[bad]), tested })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The riskiest accepted value by testing every grid value.
    fn brute_force(safe: i64, risky: i64, step: i64, accepts: &dyn Fn(i64) -> bool) -> Boundary {
        let values = grid(safe, risky, step);
        let accepted = values.iter().take_while(|v| accepts(**v)).last().copied();
        let refused = values.iter().find(|v| !accepts(**v)).copied();
        Boundary { accepted, refused, tested: values }
    }

    #[test]
    fn the_grid_runs_from_the_safe_end_to_the_risky_end() {
        assert_eq!(grid(8_000, 8_400, 100), [8_000, 8_100, 8_200, 8_300, 8_400]);
        assert_eq!(grid(50, 20, 10), [50, 40, 30, 20], "a risky low end");
        assert_eq!(grid(0, 25, 10), [0, 10, 20, 25], "the risky end is always tested");
        assert_eq!(grid(7, 7, 3), [7]);
        assert_eq!(grid(0, 3, 0), [0, 1, 2, 3], "a step below 1 is 1");
    }

    #[test]
    fn bisection_finds_the_brute_force_boundary_of_every_threshold() {
        // Every threshold predicate ("accept while at most t from the safe end") on grids of
        // several sizes, steps and directions, including thresholds before, on and past the ends.
        let grids: [(i64, i64, i64); 5] =
            [(0, 100, 1), (0, 100, 7), (9_500, 8_000, 50), (10, 11, 1), (5, 5, 1)];
        for (safe, risky, step) in grids {
            let direction = if risky >= safe { 1 } else { -1 };
            let span = (risky - safe).abs();
            for t in -2..=span + 2 {
                let accepts = |v: i64| (v - safe) * direction <= t;
                let mut calls = 0;
                let found = bisect(safe, risky, step, |v| {
                    calls += 1;
                    Ok(accepts(v))
                })
                .unwrap();
                let expected = brute_force(safe, risky, step, &accepts);
                let context = format!("grid {safe}..{risky} step {step}, threshold {t}");
                assert_eq!(found.accepted, expected.accepted, "{context}");
                assert_eq!(found.refused, expected.refused, "{context}");
                assert_eq!(found.tested.len(), calls, "{context}");
                let size = grid(safe, risky, step).len() as f64;
                assert!(calls as f64 <= size.log2().ceil() + 2.0, "{context}: {calls} tests");
            }
        }
    }

    #[test]
    fn bisection_agrees_with_brute_force_on_random_monotone_tests() {
        // A generator of monotone tests: a random grid and a random cut point on it.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: i64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as i64
        };
        for _ in 0..500 {
            let safe = next(20_000) - 10_000;
            let risky = next(20_000) - 10_000;
            let step = 1 + next(300);
            let values = grid(safe, risky, step);
            let cut = next(values.len() as i64 + 1) as usize; // first refused index
            let accepted: Vec<i64> = values[..cut].to_vec();
            let accepts = |v: i64| accepted.contains(&v);
            let found = bisect(safe, risky, step, |v| Ok(accepts(v))).unwrap();
            let expected = brute_force(safe, risky, step, &accepts);
            assert_eq!((found.accepted, found.refused), (expected.accepted, expected.refused));
        }
    }

    #[test]
    fn a_failing_test_stops_the_search() {
        let error = bisect(0, 10, 1, |v| {
            if v == 10 {
                anyhow::bail!("run failed at {v}")
            }
            Ok(true)
        })
        .unwrap_err();
        assert!(error.to_string().contains("run failed at 10"));
    }
}
