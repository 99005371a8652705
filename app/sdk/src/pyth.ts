/**
 * Pyth price accounts in their real byte layouts: reading them (a frontend needs the current
 * price, e.g. for liquidation-price estimates) and writing them (local test chains).
 *
 * - `PriceUpdateV2` (pull oracle; an Anchor account of the Pyth receiver program), Borsh:
 *   discriminator 8, write_authority 32, verification_level (enum: 0 = Partial + u8
 *   num_signatures, 1 = Full), feed_id 32, price i64, conf u64, exponent i32, publish_time i64,
 *   prev_publish_time i64, ema_price i64, ema_conf u64, posted_slot u64. Accounts are 134 bytes.
 * - Legacy push price account (`pyth-sdk-solana` `SolanaPriceAccount`, 3,312 bytes): magic
 *   0xa1b2c3d4 @0, version 2 @4, account type 3 (price) @8, size @12, exponent @20, timestamp
 *   @96, aggregate price @208, conf @216, status @224 (1 = Trading).
 */
import { PublicKey } from "@solana/web3.js";

import { OracleKind } from "./accounts";

/** Pyth's mainnet program ids at the time of writing. Groups store their own. */
export const PYTH_RECEIVER_PROGRAM_MAINNET = new PublicKey("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ");
export const PYTH_LEGACY_PROGRAM_MAINNET = new PublicKey("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH");

/** `sha256("account:PriceUpdateV2")[..8]`. */
export const PRICE_UPDATE_V2_DISCRIMINATOR = Uint8Array.from([34, 241, 35, 99, 157, 126, 244, 205]);
export const PRICE_UPDATE_V2_LEN = 134;
export const LEGACY_PRICE_ACCOUNT_LEN = 3312;
const LEGACY_MAGIC = 0xa1b2c3d4;
const LEGACY_VERSION = 2;
const LEGACY_ACCOUNT_TYPE_PRICE = 3;
export enum LegacyPriceStatus {
  Unknown = 0,
  Trading = 1,
  Halted = 2,
  Auction = 3,
  Ignored = 4,
}

/** One price observation in Pyth's terms: `price · 10^exponent ± conf · 10^exponent`. */
export interface PythQuote {
  price: bigint;
  conf: bigint;
  exponent: number;
  publishTime: bigint;
}

export interface PullUpdate {
  quote: PythQuote;
  feedId: Uint8Array;
  fullyVerified: boolean;
}

/** A `PriceUpdateV2` account's data. */
export function encodePriceUpdateV2(
  feedId: Uint8Array,
  quote: PythQuote,
  options: { fullyVerified?: boolean; writeAuthority?: PublicKey; postedSlot?: bigint } = {},
): Buffer {
  if (feedId.length !== 32) throw new RangeError("feed id must be 32 bytes");
  const data = Buffer.alloc(PRICE_UPDATE_V2_LEN);
  let at = 0;
  data.set(PRICE_UPDATE_V2_DISCRIMINATOR, at);
  at += 8;
  data.set((options.writeAuthority ?? PublicKey.default).toBytes(), at);
  at += 32;
  if (options.fullyVerified ?? true) {
    data.writeUInt8(1, at);
    at += 1;
  } else {
    data.writeUInt8(0, at);
    data.writeUInt8(5, at + 1);
    at += 2;
  }
  data.set(feedId, at);
  at += 32;
  data.writeBigInt64LE(quote.price, at);
  data.writeBigUInt64LE(quote.conf, at + 8);
  data.writeInt32LE(quote.exponent, at + 16);
  data.writeBigInt64LE(quote.publishTime, at + 20);
  data.writeBigInt64LE(quote.publishTime - 1n, at + 28); // prev_publish_time
  data.writeBigInt64LE(quote.price, at + 36); // ema_price
  data.writeBigUInt64LE(quote.conf, at + 44); // ema_conf
  data.writeBigUInt64LE(options.postedSlot ?? 0n, at + 52);
  return data;
}

/** Reads a `PriceUpdateV2` account's data. */
export function decodePriceUpdateV2(data: Uint8Array): PullUpdate {
  const buffer = Buffer.from(data);
  if (buffer.length < 8 || !buffer.subarray(0, 8).equals(Buffer.from(PRICE_UPDATE_V2_DISCRIMINATOR))) {
    throw new Error("not a PriceUpdateV2 account");
  }
  const level = buffer.readUInt8(40);
  if (level > 1) throw new Error(`unknown verification level ${level}`);
  const at = level === 1 ? 41 : 42;
  if (buffer.length < at + 60) throw new Error("PriceUpdateV2 account too short");
  return {
    fullyVerified: level === 1,
    feedId: new Uint8Array(buffer.subarray(at, at + 32)),
    quote: {
      price: buffer.readBigInt64LE(at + 32),
      conf: buffer.readBigUInt64LE(at + 40),
      exponent: buffer.readInt32LE(at + 48),
      publishTime: buffer.readBigInt64LE(at + 52),
    },
  };
}

/** A legacy Pyth price account's data. */
export function encodeLegacyPriceAccount(quote: PythQuote, status: LegacyPriceStatus = LegacyPriceStatus.Trading): Buffer {
  const data = Buffer.alloc(LEGACY_PRICE_ACCOUNT_LEN);
  data.writeUInt32LE(LEGACY_MAGIC, 0);
  data.writeUInt32LE(LEGACY_VERSION, 4);
  data.writeUInt32LE(LEGACY_ACCOUNT_TYPE_PRICE, 8);
  data.writeUInt32LE(LEGACY_PRICE_ACCOUNT_LEN, 12);
  data.writeInt32LE(quote.exponent, 20);
  // ema_price and ema_conf (Rational { val, numer, denom }, 24 bytes each): the program's stable
  // price. A steady feed's EMA equals its price.
  data.writeBigInt64LE(quote.price, 48);
  data.writeBigInt64LE(quote.price, 56);
  data.writeBigInt64LE(1n, 64);
  data.writeBigInt64LE(quote.conf, 72);
  data.writeBigInt64LE(quote.conf, 80);
  data.writeBigInt64LE(1n, 88);
  data.writeBigInt64LE(quote.publishTime, 96);
  data.writeBigInt64LE(quote.price, 208);
  data.writeBigUInt64LE(quote.conf, 216);
  data.writeUInt32LE(status, 224);
  return data;
}

export function decodeLegacyPriceAccount(data: Uint8Array): { quote: PythQuote; status: LegacyPriceStatus } {
  const buffer = Buffer.from(data);
  if (
    buffer.length < LEGACY_PRICE_ACCOUNT_LEN ||
    buffer.readUInt32LE(0) !== LEGACY_MAGIC ||
    buffer.readUInt32LE(4) !== LEGACY_VERSION ||
    buffer.readUInt32LE(8) !== LEGACY_ACCOUNT_TYPE_PRICE
  ) {
    throw new Error("not a legacy Pyth price account");
  }
  return {
    status: buffer.readUInt32LE(224) as LegacyPriceStatus,
    quote: {
      price: buffer.readBigInt64LE(208),
      conf: buffer.readBigUInt64LE(216),
      exponent: buffer.readInt32LE(20),
      publishTime: buffer.readBigInt64LE(96),
    },
  };
}

/** The quote in an oracle account of `kind`. */
export function decodeOracleQuote(kind: OracleKind, data: Uint8Array): PythQuote {
  return kind === OracleKind.PythPull ? decodePriceUpdateV2(data).quote : decodeLegacyPriceAccount(data).quote;
}

/** Oracle account data of `kind` carrying `quote` (valid: fully verified / trading). */
export function encodeOracle(kind: OracleKind, feedId: Uint8Array, quote: PythQuote): Buffer {
  return kind === OracleKind.PythPull ? encodePriceUpdateV2(feedId, quote) : encodeLegacyPriceAccount(quote);
}

/** USD per whole token (display precision), from a quote. */
export function quoteToNumber(quote: PythQuote): number {
  return Number(quote.price) * 10 ** quote.exponent;
}
