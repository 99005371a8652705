//! Pyth price accounts in their real byte layouts, for the embedded chain, tests and the
//! simulator: `PriceUpdateV2` (pull oracle, Anchor account of the receiver program) and the
//! legacy push price account read by `pyth-sdk-solana`. The program has no mock oracle type.

use anchor_lang::{prelude::Pubkey, AccountSerialize};
use pyth_sdk_solana::state::{AccountType, PriceStatus, SolanaPriceAccount, MAGIC, VERSION_2};
use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, PriceUpdateV2, VerificationLevel};

/// Pyth's mainnet program ids at the time of writing. Groups store their own.
pub const RECEIVER_PROGRAM_MAINNET: &str = "rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ";
pub const LEGACY_PROGRAM_MAINNET: &str = "FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH";

/// One price observation, in Pyth's own terms (mantissa, confidence, exponent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub price: i64,
    pub conf: u64,
    pub exponent: i32,
    pub publish_time: i64,
}

/// Pyth's EMA (the program's stable price), in the quote's exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ema {
    pub price: i64,
    pub conf: u64,
}

impl Ema {
    /// An EMA that has caught up with the quote (what a steady feed carries).
    pub fn at(quote: &Quote) -> Self {
        Self { price: quote.price, conf: quote.conf }
    }
}

/// A `PriceUpdateV2` account's data (discriminator + Borsh), as the receiver program writes it,
/// with its EMA equal to the price.
pub fn price_update_v2(feed_id: [u8; 32], quote: Quote, fully_verified: bool) -> Vec<u8> {
    price_update_v2_with_ema(feed_id, quote, Ema::at(&quote), fully_verified)
}

/// [`price_update_v2`] with an EMA of its own.
pub fn price_update_v2_with_ema(
    feed_id: [u8; 32],
    quote: Quote,
    ema: Ema,
    fully_verified: bool,
) -> Vec<u8> {
    let update = PriceUpdateV2 {
        write_authority: Pubkey::default(),
        verification_level: if fully_verified {
            VerificationLevel::Full
        } else {
            VerificationLevel::Partial { num_signatures: 5 }
        },
        price_message: PriceFeedMessage {
            feed_id,
            price: quote.price,
            conf: quote.conf,
            exponent: quote.exponent,
            publish_time: quote.publish_time,
            prev_publish_time: quote.publish_time - 1,
            ema_price: ema.price,
            ema_conf: ema.conf,
        },
        posted_slot: 0,
    };
    let mut data = Vec::with_capacity(PriceUpdateV2::LEN);
    update.try_serialize(&mut data).expect("serializing into a Vec cannot fail");
    data.resize(PriceUpdateV2::LEN, 0);
    data
}

/// A legacy Pyth price account's data (3,312 bytes, `pyth-sdk-solana` layout), with its EMA
/// equal to the price.
pub fn legacy_price_account(quote: Quote, trading: bool) -> Vec<u8> {
    legacy_price_account_with_ema(quote, Ema::at(&quote), trading)
}

/// [`legacy_price_account`] with an EMA of its own (`ema_price.val`, `ema_conf.val`).
pub fn legacy_price_account_with_ema(quote: Quote, ema: Ema, trading: bool) -> Vec<u8> {
    let mut account = SolanaPriceAccount {
        magic: MAGIC,
        ver: VERSION_2,
        atype: AccountType::Price as u32,
        size: core::mem::size_of::<SolanaPriceAccount>() as u32,
        expo: quote.exponent,
        timestamp: quote.publish_time,
        ..Default::default()
    };
    account.agg.price = quote.price;
    account.agg.conf = quote.conf;
    account.ema_price.val = ema.price;
    account.ema_price.numer = ema.price;
    account.ema_price.denom = 1;
    account.ema_conf.val = ema.conf as i64;
    account.ema_conf.numer = ema.conf as i64;
    account.ema_conf.denom = 1;
    account.agg.status = if trading { PriceStatus::Trading } else { PriceStatus::Halted };
    bytemuck::bytes_of(&account).to_vec()
}
