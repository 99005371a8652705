//! Oracle reading: Pyth pull (`PriceUpdateV2`) and legacy Pyth push accounts, validated and
//! normalised once into Q64.64 quote native units per native token.
//!
//! Pure: it takes the account's key, owner and bytes, so the program, the keeper and the
//! simulator read prices with the same code and get the same named errors.

use anchor_lang::prelude::*;
use pyth_sdk_solana::state::{load_price_account, PriceStatus, SolanaPriceAccount};
use pyth_solana_receiver_sdk::price_update::PriceUpdateV2;

use crate::constants::ORACLE_MAX_FUTURE_SECS;
use crate::error::MarginError;
use crate::math::{mul_bps, q64_from_decimal, Round, BPS, QUOTE_DECIMALS};
use crate::state::{Bank, Group, OracleKind};

/// What a bank or a perp market pins about its oracle: the account, its format and feed, and
/// the checks and confidence widening applied to it. Banks and perp markets are read through
/// this one view, so both are checked by the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedOracle<'a> {
    pub key: &'a Pubkey,
    pub kind: u8,
    pub feed_id: &'a [u8; 32],
    pub max_age_secs: u32,
    pub max_conf_bps: u32,
    pub conf_multiplier_bps: u32,
    /// Decimals of the priced token: the price is per native unit of it.
    pub decimals: u8,
}

impl Bank {
    pub fn pinned_oracle(&self) -> PinnedOracle<'_> {
        PinnedOracle {
            key: &self.oracle,
            kind: self.config.oracle_kind,
            feed_id: &self.config.oracle_feed_id,
            max_age_secs: self.config.oracle_max_age_secs,
            max_conf_bps: self.config.oracle_max_conf_bps,
            conf_multiplier_bps: self.config.oracle_conf_multiplier_bps,
            decimals: self.decimals,
        }
    }
}

/// An oracle account as the runtime hands it over.
#[derive(Clone, Copy)]
pub struct OracleAccount<'a> {
    pub key: &'a Pubkey,
    pub owner: &'a Pubkey,
    pub data: &'a [u8],
}

/// A validated price, normalised to Q64.64 quote native units per native token.
///
/// The stable price is Pyth's EMA price, carried in the same account (docs/DESIGN.md, "Stable
/// price"). Init health values deposits at `init_asset_price` and borrows at `init_liab_price`;
/// maint health and liquidation use `asset_price` and `liab_price`, so liquidations are never
/// delayed by a stable price that lags a fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OraclePrice {
    pub price: u128,
    /// price − k·conf (floored at zero), rounded down: what deposits are worth.
    pub asset_price: u128,
    /// price + k·conf, rounded up: what borrows cost.
    pub liab_price: u128,
    /// min(price − k·conf, ema − k·ema_conf) (floored at zero), rounded down.
    pub init_asset_price: u128,
    /// max(price + k·conf, ema + k·ema_conf), rounded up.
    pub init_liab_price: u128,
    pub publish_time: i64,
}

/// The raw Pyth reading before normalisation. `ema_price` and `ema_conf` share `exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPrice {
    pub price: i64,
    pub conf: u64,
    pub exponent: i32,
    pub publish_time: i64,
    /// Legacy feeds: the aggregate's status is `Trading`. Always true for pull updates.
    pub trading: bool,
    /// Pyth's exponentially-weighted moving average of the price: the stable price.
    pub ema_price: i64,
    pub ema_conf: u64,
}

/// Reads and validates the bank's oracle at unix time `now`.
pub fn read_bank_price(
    bank: &Bank,
    group: &Group,
    oracle: OracleAccount,
    now: i64,
) -> core::result::Result<OraclePrice, MarginError> {
    read_price(&bank.pinned_oracle(), group, oracle, now)
}

/// Reads and validates a pinned oracle at unix time `now`: all the price's sides.
pub fn read_price(
    pinned: &PinnedOracle,
    group: &Group,
    oracle: OracleAccount,
    now: i64,
) -> core::result::Result<OraclePrice, MarginError> {
    let raw = read_pinned_raw(pinned, group, oracle)?;
    validate_and_normalise(
        raw,
        now,
        group.oracle_max_age_secs(pinned.max_age_secs),
        pinned.max_conf_bps,
        pinned.conf_multiplier_bps,
        pinned.decimals,
    )
}

/// The pinned account's raw price: the key must be the pinned one, then [`read_raw`].
fn read_pinned_raw(
    pinned: &PinnedOracle,
    group: &Group,
    oracle: OracleAccount,
) -> core::result::Result<RawPrice, MarginError> {
    if oracle.key != pinned.key {
        return Err(MarginError::OracleAccountMismatch);
    }
    let kind = OracleKind::from_u8(pinned.kind).ok_or(MarginError::InvalidOracleKind)?;
    read_raw(kind, group, pinned.feed_id, oracle)
}

/// The oracle settings a bank or a perp market may be configured with: a known kind, a max
/// age above 0, a max confidence in (0, 100%], a widening of at most 10 intervals.
pub fn validate_settings(
    kind: u8,
    max_age_secs: u32,
    max_conf_bps: u32,
    conf_multiplier_bps: u32,
) -> core::result::Result<(), MarginError> {
    OracleKind::from_u8(kind).ok_or(MarginError::InvalidOracleKind)?;
    let valid = max_age_secs > 0
        && max_conf_bps > 0
        && max_conf_bps <= BPS
        && conf_multiplier_bps <= 10 * BPS;
    if !valid {
        return Err(MarginError::InvalidOracleConfig);
    }
    Ok(())
}

/// Checks that `oracle` is a readable price account of `kind` and `feed_id` for `group`, and, in
/// a live group, that `max_age_secs` is at most `LIVE_MAX_ORACLE_AGE_SECS`: what a bank or perp
/// market must pass to pin it.
pub fn validate_account(
    group: &Group,
    kind: u8,
    feed_id: &[u8; 32],
    max_age_secs: u32,
    oracle: &AccountInfo,
) -> Result<()> {
    require!(
        !group.is_live() || max_age_secs <= crate::constants::LIVE_MAX_ORACLE_AGE_SECS,
        MarginError::OracleMaxAgeTooLong
    );
    let kind = OracleKind::from_u8(kind).ok_or(MarginError::InvalidOracleKind)?;
    let data = oracle.try_borrow_data()?;
    let account = OracleAccount { key: oracle.key, owner: oracle.owner, data: &data };
    read_raw(kind, group, feed_id, account)?;
    Ok(())
}

/// Decodes an oracle account of `kind`, checking owner, format, feed and verification.
pub fn read_raw(
    kind: OracleKind,
    group: &Group,
    feed_id: &[u8; 32],
    oracle: OracleAccount,
) -> core::result::Result<RawPrice, MarginError> {
    match kind {
        OracleKind::PythPull => {
            if *oracle.owner != group.pyth_receiver_program {
                return Err(MarginError::OracleWrongOwner);
            }
            let update = PullUpdate::parse(oracle.data)?;
            if update.feed_id != feed_id {
                return Err(MarginError::OracleWrongFeed);
            }
            if !update.fully_verified {
                return Err(MarginError::OracleNotFullyVerified);
            }
            Ok(update.price)
        }
        OracleKind::PythLegacy => {
            if *oracle.owner != group.pyth_legacy_program {
                return Err(MarginError::OracleWrongOwner);
            }
            with_aligned(oracle.data, |data| {
                let account = load_price_account::<32, ()>(data)
                    .map_err(|_| MarginError::OracleInvalidAccount)?;
                read_legacy(account)
            })
        }
    }
}

/// The fields of a `PriceUpdateV2` the program uses, read in place from its Borsh layout:
/// discriminator (8 bytes), write_authority (32), verification_level (tag 0 = `Partial` followed
/// by a `u8`, tag 1 = `Full`), then the price message: feed_id (32), price (i64), conf (u64),
/// exponent (i32), publish_time (i64), prev_publish_time (i64), ema_price (i64), ema_conf (u64),
/// ... Every health check reads one per position, and this
/// costs less than a full Borsh decode of the account; a unit test checks it against the SDK's
/// own decoder on SDK-serialized accounts.
struct PullUpdate<'a> {
    fully_verified: bool,
    feed_id: &'a [u8; 32],
    price: RawPrice,
}

impl<'a> PullUpdate<'a> {
    fn parse(data: &'a [u8]) -> core::result::Result<Self, MarginError> {
        const INVALID: MarginError = MarginError::OracleInvalidAccount;
        if data.get(..8) != Some(PriceUpdateV2::DISCRIMINATOR) {
            return Err(INVALID);
        }
        let (fully_verified, start) = match data.get(40) {
            Some(0) => (false, 42),
            Some(1) => (true, 41),
            _ => return Err(INVALID),
        };
        let message = data.get(start..start + 84).ok_or(INVALID)?;
        let bytes8 = |at: usize| -> [u8; 8] { message[at..at + 8].try_into().unwrap_or_default() };
        Ok(Self {
            fully_verified,
            feed_id: message[..32].try_into().map_err(|_| INVALID)?,
            price: RawPrice {
                price: i64::from_le_bytes(bytes8(32)),
                conf: u64::from_le_bytes(bytes8(40)),
                exponent: i32::from_le_bytes(message[48..52].try_into().map_err(|_| INVALID)?),
                publish_time: i64::from_le_bytes(bytes8(52)),
                trading: true,
                ema_price: i64::from_le_bytes(bytes8(68)),
                ema_conf: u64::from_le_bytes(bytes8(76)),
            },
        })
    }
}

fn read_legacy(account: &SolanaPriceAccount) -> core::result::Result<RawPrice, MarginError> {
    Ok(RawPrice {
        price: account.agg.price,
        conf: account.agg.conf,
        exponent: account.expo,
        publish_time: account.timestamp,
        trading: account.agg.status == PriceStatus::Trading,
        // Same exponent as the aggregate price (`Rational::val`).
        ema_price: account.ema_price.val,
        ema_conf: account.ema_conf.val as u64,
    })
}

/// `load_price_account` casts in place and needs 8-byte alignment, which account data has on
/// chain. Off chain (keeper, tests) a byte buffer may not: copy it once if so.
fn with_aligned<R>(data: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    if (data.as_ptr() as usize).is_multiple_of(8) {
        return f(data);
    }
    let mut words = vec![0u64; data.len().div_ceil(8)];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    bytes[..data.len()].copy_from_slice(data);
    f(&bytes[..data.len()])
}

/// Which price a caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSide {
    /// The oracle price itself, rounded down.
    Mid,
    /// price − k·conf (floored at zero), rounded down: what deposits are worth.
    Asset,
    /// price + k·conf, rounded up: what borrows cost.
    Liability,
    /// min(price − k·conf, ema − k·ema_conf) (floored at zero), rounded down: deposits in init
    /// health.
    InitAsset,
    /// max(price + k·conf, ema + k·ema_conf), rounded up: borrows in init health.
    InitLiability,
}

/// Status, age, sign and confidence checks: whether the price is usable. (The account's
/// identity, owner, feed and verification are [`read_raw`]'s.) A publish time up to
/// [`ORACLE_MAX_FUTURE_SECS`] ahead of `now` counts as age zero; further ahead is refused.
pub fn validate(
    raw: &RawPrice,
    now: i64,
    max_age_secs: u32,
    max_conf_bps: u32,
) -> core::result::Result<(), MarginError> {
    if !raw.trading {
        return Err(MarginError::OracleNotTrading);
    }
    // One subtraction for both bounds: every health check validates each position's price.
    let age = now.saturating_sub(raw.publish_time);
    if age > max_age_secs as i64 {
        return Err(MarginError::OracleStale);
    }
    if age < -ORACLE_MAX_FUTURE_SECS {
        return Err(MarginError::OraclePublishTimeInFuture);
    }
    if raw.price <= 0 || raw.ema_price <= 0 {
        return Err(MarginError::OracleNonPositivePrice);
    }
    if raw.conf as u128 * BPS as u128 > raw.price as u128 * max_conf_bps as u128 {
        return Err(MarginError::OracleConfidenceTooWide);
    }
    Ok(())
}

/// One side of a validated price, as Q64.64 quote native units per native token.
pub fn normalise(
    raw: &RawPrice,
    side: PriceSide,
    conf_multiplier_bps: u32,
    token_decimals: u8,
) -> core::result::Result<u128, MarginError> {
    let spreads = Spreads::of(raw, conf_multiplier_bps)?;
    let (mantissa, round) = side_mantissa(raw, side, &spreads)?;
    to_q64(raw, mantissa, round, token_decimals)
}

/// k·conf and k·ema_conf, `ceil(conf × k / 10,000)`, computed once per price read.
struct Spreads {
    price: u64,
    ema: u64,
}

impl Spreads {
    fn of(raw: &RawPrice, conf_multiplier_bps: u32) -> core::result::Result<Self, MarginError> {
        let widen = |conf: u64| {
            if conf_multiplier_bps == BPS {
                return Ok(conf); // k = 1: exact, and the common case
            }
            mul_bps(conf, conf_multiplier_bps, Round::Up).map_err(|_| MarginError::MathOverflow)
        };
        Ok(Self { price: widen(raw.conf)?, ema: widen(raw.ema_conf)? })
    }
}

/// The mantissa of one side of a price (in the oracle's exponent) and its rounding direction.
fn side_mantissa(
    raw: &RawPrice,
    side: PriceSide,
    spreads: &Spreads,
) -> core::result::Result<(u64, Round), MarginError> {
    let price = raw.price as u64;
    // `validate` checked ema_price > 0; a negative one reads as 0 here, never wraps.
    let ema = raw.ema_price.max(0) as u64;
    let above = |p: u64, spread: u64| p.checked_add(spread).ok_or(MarginError::MathOverflow);
    Ok(match side {
        PriceSide::Mid => (price, Round::Down),
        PriceSide::Asset => (price.saturating_sub(spreads.price), Round::Down),
        PriceSide::Liability => (above(price, spreads.price)?, Round::Up),
        PriceSide::InitAsset => {
            let stable = ema.saturating_sub(spreads.ema);
            (price.saturating_sub(spreads.price).min(stable), Round::Down)
        }
        PriceSide::InitLiability => {
            (above(price, spreads.price)?.max(above(ema, spreads.ema)?), Round::Up)
        }
    })
}

/// `mantissa × 10^(exponent + 6 − token_decimals)` as Q64.64, rounded as asked.
fn to_q64(
    raw: &RawPrice,
    mantissa: u64,
    round: Round,
    token_decimals: u8,
) -> core::result::Result<u128, MarginError> {
    // Checked: the exponent is the oracle's, and an extreme one must fail, not panic.
    let exponent = raw
        .exponent
        .checked_add(QUOTE_DECIMALS as i32 - token_decimals as i32)
        .ok_or(MarginError::MathOverflow)?;
    q64_from_decimal(mantissa, exponent, round).map_err(|_| MarginError::MathOverflow)
}

/// Validation, then all three prices.
pub fn validate_and_normalise(
    raw: RawPrice,
    now: i64,
    max_age_secs: u32,
    max_conf_bps: u32,
    conf_multiplier_bps: u32,
    token_decimals: u8,
) -> core::result::Result<OraclePrice, MarginError> {
    validate(&raw, now, max_age_secs, max_conf_bps)?;
    let side = |side| normalise(&raw, side, conf_multiplier_bps, token_decimals);
    Ok(OraclePrice {
        price: side(PriceSide::Mid)?,
        asset_price: side(PriceSide::Asset)?,
        liab_price: side(PriceSide::Liability)?,
        init_asset_price: side(PriceSide::InitAsset)?,
        init_liab_price: side(PriceSide::InitLiability)?,
        publish_time: raw.publish_time,
    })
}

/// Reads, validates and normalises only the sides of the bank's price a caller needs (the
/// health check prices each position on its own side only), in the order asked.
pub fn read_bank_price_sides<const N: usize>(
    bank: &Bank,
    group: &Group,
    oracle: OracleAccount,
    now: i64,
    sides: [PriceSide; N],
) -> core::result::Result<[u128; N], MarginError> {
    read_price_sides(&bank.pinned_oracle(), group, oracle, now, sides)
}

/// [`read_bank_price_sides`] for any pinned oracle (a bank's or a perp market's).
pub fn read_price_sides<const N: usize>(
    pinned: &PinnedOracle,
    group: &Group,
    oracle: OracleAccount,
    now: i64,
    sides: [PriceSide; N],
) -> core::result::Result<[u128; N], MarginError> {
    let raw = read_pinned_raw(pinned, group, oracle)?;
    validate(&raw, now, group.oracle_max_age_secs(pinned.max_age_secs), pinned.max_conf_bps)?;
    normalise_sides(&raw, pinned, sides)
}

/// The sides of a price a caller needs, in the order asked, with the pinned oracle's settings.
pub fn normalise_sides<const N: usize>(
    raw: &RawPrice,
    pinned: &PinnedOracle,
    sides: [PriceSide; N],
) -> core::result::Result<[u128; N], MarginError> {
    let mut prices = [0; N];
    // A side whose mantissa and rounding equal the previous one's (the stable price is not the
    // worse one) reuses its value instead of normalising again.
    let mut previous: Option<(u64, Round, u128)> = None;
    let spreads = Spreads::of(raw, pinned.conf_multiplier_bps)?;
    for (price, side) in prices.iter_mut().zip(sides) {
        let (mantissa, round) = side_mantissa(raw, side, &spreads)?;
        *price = match previous {
            Some((m, r, value)) if m == mantissa && r == round => value,
            _ => to_q64(raw, mantissa, round, pinned.decimals)?,
        };
        previous = Some((mantissa, round, *price));
    }
    Ok(prices)
}

/// A bank's price as liquidation and write-off read it (finding M-2): the account's identity
/// (key, owner, format, feed, verification) must hold, but a price that fails [`validate`] is
/// still returned, normalised from the last published values, with the reason it is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastPrice {
    /// The three sides at the last published price; all zero when that price is not positive.
    pub price: OraclePrice,
    /// Why the price may not be used as is (`None`: it passed [`validate`]).
    pub unusable: Option<MarginError>,
}

/// Reads the bank's oracle for liquidation and write-off ([`LastPrice`]).
pub fn read_bank_last_price(
    bank: &Bank,
    group: &Group,
    oracle: OracleAccount,
    now: i64,
) -> core::result::Result<LastPrice, MarginError> {
    use PriceSide::*;
    let (raw, unusable) = read_bank_last_raw(bank, group, oracle, now)?;
    let [price, asset_price, liab_price, init_asset_price, init_liab_price] = normalise_last_sides(
        &raw,
        &bank.pinned_oracle(),
        [Mid, Asset, Liability, InitAsset, InitLiability],
    )?;
    let publish_time = raw.publish_time;
    let price = OraclePrice {
        price,
        asset_price,
        liab_price,
        init_asset_price,
        init_liab_price,
        publish_time,
    };
    Ok(LastPrice { price, unusable })
}

/// [`read_bank_last_price`] before normalisation: the raw last price and why it is unusable,
/// for a caller that normalises only the sides it needs.
pub fn read_bank_last_raw(
    bank: &Bank,
    group: &Group,
    oracle: OracleAccount,
    now: i64,
) -> core::result::Result<(RawPrice, Option<MarginError>), MarginError> {
    let pinned = bank.pinned_oracle();
    let raw = read_pinned_raw(&pinned, group, oracle)?;
    let max_age = group.oracle_max_age_secs(pinned.max_age_secs);
    Ok((raw, validate(&raw, now, max_age, pinned.max_conf_bps).err()))
}

/// Sides of a last price with the pinned oracle's settings ([`normalise_sides`]); all 0 when the
/// price is not positive.
pub fn normalise_last_sides<const N: usize>(
    raw: &RawPrice,
    pinned: &PinnedOracle,
    sides: [PriceSide; N],
) -> core::result::Result<[u128; N], MarginError> {
    if raw.price <= 0 {
        return Ok([0; N]);
    }
    normalise_sides(raw, pinned, sides)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::ONE_Q64;

    fn raw(price: i64, conf: u64, exponent: i32, publish_time: i64) -> RawPrice {
        RawPrice {
            price,
            conf,
            exponent,
            publish_time,
            trading: true,
            ema_price: price,
            ema_conf: conf,
        }
    }

    #[test]
    fn oracle_settings_are_checked_at_each_bound() {
        let config = Err(MarginError::InvalidOracleConfig);
        // The bounds themselves pass: age 1 s, confidence 1 bp or 100%, widening 0 or 10×.
        assert_eq!(validate_settings(0, 1, 1, 0), Ok(()));
        assert_eq!(validate_settings(1, 60, BPS, 10 * BPS), Ok(()));
        // One step past each fails, the others valid.
        assert_eq!(validate_settings(0, 0, 100, 10_000), config);
        assert_eq!(validate_settings(0, 60, 0, 10_000), config);
        assert_eq!(validate_settings(0, 60, BPS + 1, 10_000), config);
        assert_eq!(validate_settings(0, 60, 100, 10 * BPS + 1), config);
        assert_eq!(validate_settings(2, 60, 100, 10_000), Err(MarginError::InvalidOracleKind));
    }

    #[test]
    fn in_place_pull_parser_agrees_with_the_sdk_decoder() {
        use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, VerificationLevel};
        for (level, fully) in [
            (VerificationLevel::Full, true),
            (VerificationLevel::Partial { num_signatures: 7 }, false),
        ] {
            let update = PriceUpdateV2 {
                write_authority: Pubkey::new_from_array([3; 32]),
                verification_level: level,
                price_message: PriceFeedMessage {
                    feed_id: [9; 32],
                    price: -123_456_789,
                    conf: 987_654,
                    exponent: -8,
                    publish_time: 1_800_000_123,
                    prev_publish_time: 1_800_000_122,
                    ema_price: 5_555,
                    ema_conf: 66,
                },
                posted_slot: 77,
            };
            let mut data = Vec::new();
            update.try_serialize(&mut data).unwrap();
            let decoded = PriceUpdateV2::try_deserialize(&mut &data[..]).unwrap();
            let parsed = PullUpdate::parse(&data).unwrap();
            assert_eq!(parsed.fully_verified, fully);
            assert_eq!(*parsed.feed_id, decoded.price_message.feed_id);
            assert_eq!(parsed.price.price, decoded.price_message.price);
            assert_eq!(parsed.price.conf, decoded.price_message.conf);
            assert_eq!(parsed.price.exponent, decoded.price_message.exponent);
            assert_eq!(parsed.price.publish_time, decoded.price_message.publish_time);
            assert_eq!(parsed.price.ema_price, decoded.price_message.ema_price);
            assert_eq!(parsed.price.ema_conf, decoded.price_message.ema_conf);
            // The EMA fields end at byte start + 84: one byte less is refused.
            let start = if fully { 41 } else { 42 };
            assert!(PullUpdate::parse(&data[..start + 84]).is_ok());
            assert!(PullUpdate::parse(&data[..start + 83]).is_err());
            // Truncated or foreign data is refused, never read past its end.
            assert!(PullUpdate::parse(&data[..90]).is_err());
            assert!(PullUpdate::parse(&data[1..]).is_err());
        }
    }

    /// A serialized `PriceUpdateV2` of `feed` at price 42, fully verified or not.
    fn pull_update(feed: [u8; 32], fully: bool) -> Vec<u8> {
        pull_update_of(feed, fully, raw(42, 1, -2, 100))
    }

    fn pull_update_of(feed: [u8; 32], fully: bool, price: RawPrice) -> Vec<u8> {
        use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, VerificationLevel};
        let verification_level = if fully {
            VerificationLevel::Full
        } else {
            VerificationLevel::Partial { num_signatures: 3 }
        };
        let update = PriceUpdateV2 {
            write_authority: Pubkey::new_from_array([3; 32]),
            verification_level,
            price_message: PriceFeedMessage {
                feed_id: feed,
                price: price.price,
                conf: price.conf,
                exponent: price.exponent,
                publish_time: price.publish_time,
                prev_publish_time: price.publish_time - 1,
                ema_price: price.ema_price,
                ema_conf: price.ema_conf,
            },
            posted_slot: 7,
        };
        let mut data = Vec::new();
        update.try_serialize(&mut data).unwrap();
        data
    }

    /// Each account check of `read_raw` and `read_pinned_raw` refuses with its own error, and a
    /// correct account reads.
    #[test]
    fn oracle_accounts_are_checked_for_key_owner_feed_and_verification() {
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.pyth_receiver_program = Pubkey::new_from_array([1; 32]);
        group.pyth_legacy_program = Pubkey::new_from_array([2; 32]);
        let (feed, key, other) = ([9; 32], Pubkey::new_from_array([5; 32]), Pubkey::default());
        let data = pull_update(feed, true);
        let account = |owner, data| OracleAccount { key: &key, owner, data };
        let pull = OracleKind::PythPull;
        let read = read_raw(pull, &group, &feed, account(&group.pyth_receiver_program, &data));
        assert_eq!(read.map(|p| p.price), Ok(42));
        let wrong_owner = read_raw(pull, &group, &feed, account(&other, &data));
        assert_eq!(wrong_owner, Err(MarginError::OracleWrongOwner));
        let owner = &group.pyth_receiver_program;
        let wrong_feed = read_raw(pull, &group, &[8; 32], account(owner, &data));
        assert_eq!(wrong_feed, Err(MarginError::OracleWrongFeed));
        let partial = pull_update(feed, false);
        let unverified = read_raw(pull, &group, &feed, account(owner, &partial));
        assert_eq!(unverified, Err(MarginError::OracleNotFullyVerified));
        let legacy = read_raw(OracleKind::PythLegacy, &group, &feed, account(owner, &data));
        assert_eq!(legacy, Err(MarginError::OracleWrongOwner));

        let pinned = |key| PinnedOracle {
            key,
            kind: OracleKind::PythPull as u8,
            feed_id: &feed,
            max_age_secs: 60,
            max_conf_bps: 100,
            conf_multiplier_bps: 0,
            decimals: 6,
        };
        let pinned_read = read_pinned_raw(&pinned(&key), &group, account(owner, &data));
        assert_eq!(pinned_read.map(|p| p.price), Ok(42));
        let unpinned = read_pinned_raw(&pinned(&other), &group, account(owner, &data));
        assert_eq!(unpinned, Err(MarginError::OracleAccountMismatch));
    }

    /// `validate_account` (what pinning an oracle must pass) reads the account, and in a live
    /// group also refuses a max age above the live bound.
    #[test]
    fn an_oracle_is_validated_before_it_is_pinned() {
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.pyth_receiver_program = Pubkey::new_from_array([1; 32]);
        let (feed, key) = ([9; 32], Pubkey::new_from_array([5; 32]));
        let mut data = pull_update(feed, true);
        let mut lamports = 1;
        let owner = group.pyth_receiver_program;
        let info = AccountInfo::new(&key, false, false, &mut lamports, &mut data, &owner, false);
        let pull = OracleKind::PythPull as u8;
        assert!(validate_account(&group, pull, &feed, 600, &info).is_ok());
        assert!(validate_account(&group, pull, &[8; 32], 60, &info).is_err());
        group.config_delay_secs = 86_400; // live
        let live_max = crate::constants::LIVE_MAX_ORACLE_AGE_SECS;
        assert!(validate_account(&group, pull, &feed, live_max, &info).is_ok());
        assert!(validate_account(&group, pull, &feed, live_max + 1, &info).is_err());
    }

    /// The sides a caller reads one by one, in any order, are the sides of the full price:
    /// equal mantissas reuse a value only when their rounding is the same too.
    #[test]
    fn sides_read_one_by_one_equal_the_full_price_in_any_order() {
        use PriceSide::*;
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.pyth_receiver_program = Pubkey::new_from_array([1; 32]);
        let (feed, key) = ([9; 32], Pubkey::new_from_array([5; 32]));
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.oracle = key;
        bank.config.oracle_kind = OracleKind::PythPull as u8;
        bank.config.oracle_feed_id = feed;
        bank.config.oracle_max_age_secs = 60;
        bank.config.oracle_max_conf_bps = 500;
        bank.config.oracle_conf_multiplier_bps = 10_000;
        bank.decimals = 9;
        let owner = group.pyth_receiver_program;
        // $123.45678901 ± $0.23456789, the EMA at $120.00000003: every side differs, and
        // none divides exactly.
        let wide =
            RawPrice { ema_price: 12_000_000_003, ..raw(12_345_678_901, 23_456_789, -8, 100) };
        let flat = raw(12_345_678_901, 0, -8, 100);
        for quote in [wide, flat] {
            let data = pull_update_of(feed, true, quote);
            let account = OracleAccount { key: &key, owner: &owner, data: &data };
            let p = read_bank_price(&bank, &group, account, 100).unwrap();
            assert_ne!(p.price, p.liab_price, "the mid rounds down, the liability side up");
            let all = [p.price, p.asset_price, p.liab_price, p.init_asset_price, p.init_liab_price];
            let sides = [Mid, Asset, Liability, InitAsset, InitLiability];
            assert_eq!(read_bank_price_sides(&bank, &group, account, 100, sides), Ok(all));
            let sides = [Liability, Mid, Asset];
            let expected = [p.liab_price, p.price, p.asset_price];
            assert_eq!(read_bank_price_sides(&bank, &group, account, 100, sides), Ok(expected));
            let sides = [Mid, Liability, InitLiability];
            let expected = [p.price, p.liab_price, p.init_liab_price];
            assert_eq!(normalise_last_sides(&quote, &bank.pinned_oracle(), sides), Ok(expected));
        }
        let p = read_bank_price(
            &bank,
            &group,
            OracleAccount { key: &key, owner: &owner, data: &pull_update_of(feed, true, wide) },
            100,
        )
        .unwrap();
        assert!(p.asset_price < p.price && p.init_asset_price < p.asset_price, "{p:?}");
        // A last price that is not positive reads as zero on every side.
        for price in [0, -5] {
            let last = RawPrice { price, ..flat };
            let sides = normalise_last_sides(&last, &bank.pinned_oracle(), [Mid, Asset]);
            assert_eq!(sides, Ok([0, 0]));
        }
    }

    #[test]
    fn a_legacy_price_is_trading_only_in_the_trading_status() {
        let mut account: SolanaPriceAccount = bytemuck::Zeroable::zeroed();
        account.agg.price = 5;
        account.agg.status = PriceStatus::Trading;
        assert_eq!(read_legacy(&account).map(|r| (r.price, r.trading)), Ok((5, true)));
        account.agg.status = PriceStatus::Halted;
        assert_eq!(read_legacy(&account).map(|r| r.trading), Ok(false));
    }

    #[test]
    fn normalises_to_quote_native_per_native_token() {
        // SOL at $125.00000000 (expo −8), 9 decimals: 0.125 micro-USD per lamport = 1/8.
        let p = validate_and_normalise(raw(12_500_000_000, 0, -8, 100), 100, 60, 100, 10_000, 9)
            .unwrap();
        assert_eq!((p.price, p.asset_price, p.liab_price), (ONE_Q64 / 8, ONE_Q64 / 8, ONE_Q64 / 8));
        // USDC at $1.0000 (expo −4), 6 decimals: exactly 1.
        let p = validate_and_normalise(raw(10_000, 0, -4, 100), 100, 60, 100, 10_000, 6).unwrap();
        assert_eq!(p.price, ONE_Q64);
    }

    #[test]
    fn confidence_widens_the_price_against_the_user() {
        // $125 ± $5, k = 1: assets at $120, liabilities at $130 (per SOL).
        let p = validate_and_normalise(raw(12_500, 500, -2, 0), 0, 60, 500, 10_000, 9).unwrap();
        assert!(p.asset_price < p.price && p.price < p.liab_price);
        assert_eq!(
            crate::math::mul_q64(1_000_000_000, p.asset_price, Round::Down),
            Ok(119_999_999)
        );
        // 0.13 is not exact in binary: the liability price rounds up, and so does its value.
        assert_eq!(crate::math::mul_q64(1_000_000_000, p.liab_price, Round::Up), Ok(130_000_001));
        // $130 ± $2 with k = 2.5 intervals: assets at exactly $125 (1/8 per lamport).
        let p = validate_and_normalise(raw(13_000, 200, -2, 0), 0, 60, 500, 25_000, 9).unwrap();
        assert_eq!(p.asset_price, ONE_Q64 / 8);
        assert_eq!(
            crate::math::mul_q64(8_000_000_000, p.asset_price, Round::Down),
            Ok(1_000_000_000)
        );
    }

    #[test]
    fn init_sides_take_the_worse_of_oracle_and_ema() {
        // SOL pumped to $625 ± $5 while its EMA is $125 ± $1, k = 1 (expo −2, 9 decimals).
        let pumped = RawPrice { ema_price: 12_500, ema_conf: 100, ..raw(62_500, 500, -2, 0) };
        let p = validate_and_normalise(pumped, 0, 60, 500, 10_000, 9).unwrap();
        let usd = |q64| crate::math::mul_q64(1_000_000_000, q64, Round::Down).unwrap();
        // 0.62 per lamport is inexact in binary: the asset side rounds down.
        assert_eq!((usd(p.price), usd(p.asset_price)), (625_000_000, 619_999_999));
        assert_eq!(usd(p.init_asset_price), 123_999_999); // min: EMA − conf = $124
        assert_eq!(usd(p.init_liab_price), usd(p.liab_price)); // max: the oracle's $630
                                                               // Dumped: oracle $125 ± $1, EMA $625 ± $5: borrows cost the EMA's $630 in init.
        let dumped = RawPrice { ema_price: 62_500, ema_conf: 500, ..raw(12_500, 100, -2, 0) };
        let p = validate_and_normalise(dumped, 0, 60, 500, 10_000, 9).unwrap();
        assert_eq!(usd(p.init_asset_price), usd(p.asset_price)); // the oracle's $124
        assert_eq!(
            crate::math::mul_q64(1_000_000_000, p.init_liab_price, Round::Up),
            Ok(630_000_001) // 0.63 is inexact: the liability side rounds up
        );
        assert_eq!(
            crate::math::mul_q64(1_000_000_000, p.liab_price, Round::Up),
            Ok(126_000_001) // maint keeps the oracle's $126
        );
        // A non-positive EMA is refused like a non-positive price.
        let broken = RawPrice { ema_price: 0, ..raw(12_500, 100, -2, 0) };
        assert_eq!(
            validate_and_normalise(broken, 0, 60, 500, 10_000, 9),
            Err(MarginError::OracleNonPositivePrice)
        );
    }

    #[test]
    fn extreme_exponents_fail_without_panicking() {
        for exponent in [i32::MAX, i32::MIN, i32::MAX - 5, 20, -25] {
            let r = validate_and_normalise(raw(1, 0, exponent, 0), 0, 60, 200, 10_000, 6);
            assert_eq!(r, Err(MarginError::MathOverflow), "exponent {exponent}");
        }
    }

    #[test]
    fn rejects_stale_unconfident_and_non_positive_prices() {
        let check = |r: RawPrice, now| validate_and_normalise(r, now, 60, 200, 10_000, 6);
        assert_eq!(check(raw(100, 0, 0, 0), 61), Err(MarginError::OracleStale));
        assert!(check(raw(100, 0, 0, 0), 60).is_ok()); // exactly max age is fresh
        assert_eq!(check(raw(0, 0, 0, 0), 0), Err(MarginError::OracleNonPositivePrice));
        assert_eq!(check(raw(-5, 0, 0, 0), 0), Err(MarginError::OracleNonPositivePrice));
        assert!(check(raw(10_000, 200, 0, 0), 0).is_ok()); // conf/price = 2% = max
        assert_eq!(check(raw(10_000, 201, 0, 0), 0), Err(MarginError::OracleConfidenceTooWide));
    }

    /// Info finding: a publish time far in the future stayed "fresh" until that long after it.
    /// Up to ORACLE_MAX_FUTURE_SECS ahead is clock drift and accepted; further is refused.
    #[test]
    fn info_publish_time_in_the_future_is_bounded() {
        let check = |publish_time, now| {
            validate_and_normalise(raw(100, 0, 0, publish_time), now, 60, 200, 10_000, 6)
        };
        assert!(check(1_060, 1_000).is_ok());
        assert_eq!(check(1_061, 1_000), Err(MarginError::OraclePublishTimeInFuture));
        // 11.6 days ahead, as the review found accepted.
        assert_eq!(check(1_000 + 1_000_000, 1_000), Err(MarginError::OraclePublishTimeInFuture));
        assert_eq!(check(i64::MAX, i64::MIN), Err(MarginError::OraclePublishTimeInFuture));
        assert_eq!(check(i64::MIN, i64::MAX), Err(MarginError::OracleStale));
    }
}
