//! Hypothetical price moves for the `health_under_shock` view: the account priced as if a bank's
//! (or a perp market's) oracle stood `bps` basis points away, by the unchanged health code.
//!
//! Every price side read for a shocked bank is scaled by `(10,000 + bps) / 10,000`: the oracle
//! price and the asset sides rounded down, the liability sides rounded up (against the account,
//! as every price is). The confidence interval and the stable price (EMA) scale with the price,
//! so the view answers "what if the price stood there for long", not "what if it jumped now".

use anchor_lang::prelude::*;

use super::BankRisk;
use crate::error::MarginError;
use crate::math::{MathResult, Overflow, Round};

/// Bank (or perp market) `index` priced `bps` basis points away from its oracle: −3,000 is 30%
/// lower, 5,000 is 50% higher.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PriceShock {
    pub index: u16,
    pub bps: i32,
}

/// The lowest shock: the price at zero.
pub const MIN_SHOCK_BPS: i32 = -10_000;
/// The highest shock: the price times eleven.
pub const MAX_SHOCK_BPS: i32 = 100_000;
/// At most this many shocks per kind (every token slot, every perp slot).
pub const MAX_SHOCKS: usize = 16;

/// The shocks of one view: per bank index and per perp market index. Empty everywhere else.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shocks<'a> {
    pub banks: &'a [PriceShock],
    pub perps: &'a [PriceShock],
}

impl Shocks<'_> {
    pub fn is_empty(&self) -> bool {
        self.banks.is_empty() && self.perps.is_empty()
    }

    /// The shock of bank `index` (0 if none).
    pub fn bank(&self, index: u16) -> i32 {
        find(self.banks, index)
    }

    /// The shock of perp market `index` (0 if none).
    pub fn perp(&self, index: u16) -> i32 {
        find(self.perps, index)
    }

    /// Each list at most [`MAX_SHOCKS`] long, each index once, each shock within
    /// [`MIN_SHOCK_BPS`]..=[`MAX_SHOCK_BPS`] (`InvalidPriceShock`).
    pub fn validate(&self) -> core::result::Result<(), MarginError> {
        for list in [self.banks, self.perps] {
            if list.len() > MAX_SHOCKS {
                return Err(MarginError::InvalidPriceShock);
            }
            for (i, shock) in list.iter().enumerate() {
                let repeated = list[..i].iter().any(|s| s.index == shock.index);
                if repeated || !(MIN_SHOCK_BPS..=MAX_SHOCK_BPS).contains(&shock.bps) {
                    return Err(MarginError::InvalidPriceShock);
                }
            }
        }
        Ok(())
    }
}

fn find(list: &[PriceShock], index: u16) -> i32 {
    list.iter().find(|s| s.index == index).map_or(0, |s| s.bps)
}

/// `price × (10,000 + bps) / 10,000`, rounded as asked.
pub fn shock_price(price: u128, bps: i32, round: Round) -> MathResult<u128> {
    if bps == 0 {
        return Ok(price);
    }
    let factor = u128::try_from(10_000i64 + i64::from(bps)).map_err(|_| Overflow)?;
    let product = price.checked_mul(factor).ok_or(Overflow)?;
    let (quotient, remainder) = (product / 10_000, product % 10_000);
    Ok(if round == Round::Up && remainder != 0 { quotient + 1 } else { quotient })
}

impl BankRisk {
    /// The same bank with every price side moved by `bps`: the oracle price and the asset
    /// sides rounded down, the liability sides up.
    pub fn shocked(&self, bps: i32) -> MathResult<Self> {
        Ok(Self {
            oracle_price: shock_price(self.oracle_price, bps, Round::Down)?,
            asset_price: shock_price(self.asset_price, bps, Round::Down)?,
            liab_price: shock_price(self.liab_price, bps, Round::Up)?,
            init_asset_price: shock_price(self.init_asset_price, bps, Round::Down)?,
            init_liab_price: shock_price(self.init_liab_price, bps, Round::Up)?,
            ..*self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::ONE_Q64;

    #[test]
    fn a_shock_scales_the_price_and_rounds_against_the_account() {
        assert_eq!(shock_price(ONE_Q64, -3_000, Round::Down), Ok(ONE_Q64 * 7 / 10));
        assert_eq!(shock_price(10_001, -5_000, Round::Down), Ok(5_000));
        assert_eq!(shock_price(10_001, -5_000, Round::Up), Ok(5_001));
        assert_eq!(shock_price(10_000, -5_000, Round::Up), Ok(5_000), "exact: no rounding up");
        assert_eq!(shock_price(12_345, 0, Round::Up), Ok(12_345));
        assert_eq!(shock_price(7, MIN_SHOCK_BPS, Round::Up), Ok(0));
        assert_eq!(shock_price(3, MAX_SHOCK_BPS, Round::Down), Ok(33));
        assert_eq!(shock_price(u128::MAX, 1, Round::Down), Err(Overflow));
    }

    #[test]
    fn shocks_are_validated_by_range_count_and_repeat() {
        let ok = [PriceShock { index: 0, bps: MIN_SHOCK_BPS }, PriceShock { index: 1, bps: 5 }];
        assert_eq!(Shocks { banks: &ok, perps: &ok }.validate(), Ok(()));
        let low = [PriceShock { index: 0, bps: MIN_SHOCK_BPS - 1 }];
        let high = [PriceShock { index: 0, bps: MAX_SHOCK_BPS + 1 }];
        let repeated = [PriceShock { index: 2, bps: 1 }, PriceShock { index: 2, bps: 2 }];
        let many = [PriceShock::default(); MAX_SHOCKS + 1];
        for bad in [&low[..], &high[..], &repeated[..]] {
            let err = Err(MarginError::InvalidPriceShock);
            assert_eq!(Shocks { banks: bad, perps: &[] }.validate(), err);
            assert_eq!(Shocks { banks: &[], perps: bad }.validate(), err);
        }
        assert_eq!(
            Shocks { banks: &many, perps: &[] }.validate(),
            Err(MarginError::InvalidPriceShock)
        );
        let shocks = Shocks { banks: &ok, perps: &[] };
        assert_eq!((shocks.bank(1), shocks.bank(9), shocks.perp(0)), (5, 0, 0));
        // Exactly MAX_SHOCKS distinct shocks are fine.
        let full: Vec<PriceShock> =
            (0..MAX_SHOCKS as u16).map(|index| PriceShock { index, bps: -1 }).collect();
        assert_eq!(Shocks { banks: &full, perps: &full }.validate(), Ok(()));
    }

    #[test]
    fn shocks_are_looked_up_per_kind_and_empty_only_when_both_lists_are() {
        let perp = [PriceShock { index: 3, bps: -2_500 }];
        let shocks = Shocks { banks: &[], perps: &perp };
        assert_eq!((shocks.perp(3), shocks.perp(2), shocks.bank(3)), (-2_500, 0, 0));
        assert!(Shocks::default().is_empty());
        assert!(!shocks.is_empty());
        assert!(!Shocks { banks: &perp, perps: &[] }.is_empty());
    }

    #[test]
    fn a_shocked_bank_moves_every_side() {
        let risk = BankRisk {
            oracle_price: 10_001,
            asset_price: 10_001,
            liab_price: 10_001,
            init_asset_price: 10_001,
            init_liab_price: 10_001,
            init_asset_weight_bps: 8_000,
            ..Default::default()
        };
        let shocked = risk.shocked(-5_000).unwrap();
        assert_eq!(
            (shocked.oracle_price, shocked.asset_price, shocked.init_asset_price),
            (5_000, 5_000, 5_000)
        );
        assert_eq!((shocked.liab_price, shocked.init_liab_price), (5_001, 5_001));
        assert_eq!(shocked.init_asset_weight_bps, 8_000);
    }
}
