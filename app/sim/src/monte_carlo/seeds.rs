//! Which seeds a Monte Carlo run covers: a range (`--seeds N` for `0..N`, or `--seeds a..b`,
//! `b` excluded) and an optional shard of it (`--shard i/n`: the k-th seed of the range, counting
//! from 0, belongs to shard `k mod n`, so every shard gets seeds from the whole range).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Bad `--seeds` or `--shard` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedError {
    /// Not `N` or `a..b` with whole numbers.
    NotARange(String),
    /// `a..b` with `b <= a`, or `0`: no seed to run.
    EmptyRange(String),
    /// Not `i/n` with whole numbers.
    NotAShard(String),
    /// `i/n` with `n == 0` or `i >= n`.
    ShardOutOfRange { index: u64, count: u64 },
    /// More shards than seeds: some shard would run nothing.
    MoreShardsThanSeeds { shards: u64, seeds: u64 },
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::NotARange(s) => {
                write!(f, "seeds '{s}': expected N (seeds 0..N) or a..b (b excluded)")
            }
            SeedError::EmptyRange(s) => write!(f, "seeds '{s}': the range holds no seed"),
            SeedError::NotAShard(s) => {
                write!(f, "shard '{s}': expected i/n with 0 <= i < n (e.g. 0/4)")
            }
            SeedError::ShardOutOfRange { index, count } => {
                write!(f, "shard {index}/{count}: the index must be below the count, and the count above 0")
            }
            SeedError::MoreShardsThanSeeds { shards, seeds } => {
                write!(f, "{shards} shards for {seeds} seeds: some shard would run nothing")
            }
        }
    }
}

impl std::error::Error for SeedError {}

/// Seeds `start..end` (end excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

impl SeedRange {
    pub fn new(start: u64, end: u64) -> Result<Self, SeedError> {
        if end <= start {
            return Err(SeedError::EmptyRange(format!("{start}..{end}")));
        }
        Ok(Self { start, end })
    }

    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The seeds of `shard` (all of them without one), in increasing order.
    pub fn seeds(&self, shard: Option<Shard>) -> Vec<u64> {
        let Shard { index, count } = shard.unwrap_or(Shard { index: 0, count: 1 });
        (self.start..self.end).filter(|s| (s - self.start) % count == index).collect()
    }

    /// Checks that `shard` splits this range into non-empty parts.
    pub fn check_shard(&self, shard: Shard) -> Result<(), SeedError> {
        if shard.count > self.len() {
            return Err(SeedError::MoreShardsThanSeeds { shards: shard.count, seeds: self.len() });
        }
        Ok(())
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl FromStr for SeedRange {
    type Err = SeedError;

    fn from_str(s: &str) -> Result<Self, SeedError> {
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| SeedError::NotARange(s.into()));
        let (start, end) = match s.split_once("..") {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (0, number(s)?),
        };
        if end <= start {
            return Err(SeedError::EmptyRange(s.into()));
        }
        Ok(Self { start, end })
    }
}

/// Shard `index` of `count` (`i/n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = SeedError;

    fn from_str(s: &str) -> Result<Self, SeedError> {
        let (i, n) = s.split_once('/').ok_or_else(|| SeedError::NotAShard(s.into()))?;
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| SeedError::NotAShard(s.into()));
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 || index >= count {
            return Err(SeedError::ShardOutOfRange { index, count });
        }
        Ok(Self { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_a_count_or_a_half_open_interval() {
        assert_eq!("100".parse::<SeedRange>().unwrap(), SeedRange { start: 0, end: 100 });
        assert_eq!("5..8".parse::<SeedRange>().unwrap(), SeedRange { start: 5, end: 8 });
        assert_eq!(SeedRange { start: 5, end: 8 }.seeds(None), vec![5, 6, 7]);
        assert_eq!("x".parse::<SeedRange>(), Err(SeedError::NotARange("x".into())));
        assert_eq!("3..x".parse::<SeedRange>(), Err(SeedError::NotARange("3..x".into())));
        assert_eq!("0".parse::<SeedRange>(), Err(SeedError::EmptyRange("0".into())));
        assert_eq!("8..5".parse::<SeedRange>(), Err(SeedError::EmptyRange("8..5".into())));
    }

    #[test]
    fn shards_split_a_range_round_robin_without_overlap() {
        let range: SeedRange = "10..21".parse().unwrap();
        let shards: Vec<Vec<u64>> =
            (0..3).map(|i| range.seeds(Some(Shard { index: i, count: 3 }))).collect();
        assert_eq!(shards[0], vec![10, 13, 16, 19]);
        assert_eq!(shards[2], vec![12, 15, 18]);
        let mut all: Vec<u64> = shards.concat();
        all.sort();
        assert_eq!(all, range.seeds(None));
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 2, count: 3 });
        assert_eq!("3/3".parse::<Shard>(), Err(SeedError::ShardOutOfRange { index: 3, count: 3 }));
        assert_eq!("0/0".parse::<Shard>(), Err(SeedError::ShardOutOfRange { index: 0, count: 0 }));
        assert_eq!("1-3".parse::<Shard>(), Err(SeedError::NotAShard("1-3".into())));
        assert_eq!(
            range.check_shard(Shard { index: 0, count: 12 }),
            Err(SeedError::MoreShardsThanSeeds { shards: 12, seeds: 11 })
        );
    }
}
