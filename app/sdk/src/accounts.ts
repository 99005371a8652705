/**
 * Decoders for the program's zero-copy accounts. The bytes are read by the IDL's coder (which
 * checks the account discriminator); the IDL describes the `#[repr(C)]` layouts field by field,
 * padding included, so a Borsh read of them is byte-exact. Numbers come out as `bigint`
 * (u64/i64) or `number` (u32 and smaller); Q64.64 indices, stored as 16 little-endian bytes,
 * come out as `bigint` Q64.64 values.
 */
import type { IdlAccounts } from "@anchor-lang/core";
import type BN from "bn.js";
import { PublicKey } from "@solana/web3.js";

import { coder, PROGRAM_ID, type CrossMargin } from "./idl";
import { q64FromLeBytes } from "./fixed";

type RawGroup = IdlAccounts<CrossMargin>["group"];
type RawBank = IdlAccounts<CrossMargin>["bank"];
type RawMarginAccount = IdlAccounts<CrossMargin>["marginAccount"];

export enum OracleKind {
  /** Pyth pull oracle: `PriceUpdateV2` accounts owned by the group's receiver program. */
  PythPull = 0,
  /** Pyth legacy push oracle: price accounts owned by the group's legacy Pyth program. */
  PythLegacy = 1,
}

export enum PositionKind {
  Empty = 0,
  Deposit = 1,
  Borrow = 2,
}

export interface Group {
  admin: PublicKey;
  pythReceiverProgram: PublicKey;
  pythLegacyProgram: PublicKey;
  groupNum: number;
  bankCount: number;
  version: number;
  bump: number;
  paused: boolean;
  reduceOnly: boolean;
  /** Quote native units (micro-USD). */
  bankruptcyDustQuote: bigint;
  liquidationEndBufferBps: number;
}

export interface Bank {
  group: PublicKey;
  mint: PublicKey;
  vault: PublicKey;
  tokenProgram: PublicKey;
  oracle: PublicKey;
  oracleFeedId: Uint8Array;
  /** Q64.64. */
  depositIndex: bigint;
  /** Q64.64. */
  borrowIndex: bigint;
  totalDepositShares: bigint;
  totalBorrowShares: bigint;
  insuranceNative: bigint;
  depositLimitNative: bigint;
  borrowLimitNative: bigint;
  depositWeightScaleStartQuote: bigint;
  lastAccrualTs: bigint;
  oracleMaxAgeSecs: number;
  oracleMaxConfBps: number;
  oracleConfMultiplierBps: number;
  initAssetWeightBps: number;
  maintAssetWeightBps: number;
  initLiabWeightBps: number;
  maintLiabWeightBps: number;
  liquidationFeeBps: number;
  insuranceFeeBps: number;
  optimalUtilizationBps: number;
  minRateBps: number;
  optimalRateBps: number;
  maxRateBps: number;
  bankIndex: number;
  decimals: number;
  oracleKind: OracleKind;
  version: number;
  bump: number;
  vaultBump: number;
}

/** One of the 16 slots of a margin account. */
export interface Position {
  shares: bigint;
  bankIndex: number;
  kind: PositionKind;
}

export interface MarginAccount {
  group: PublicKey;
  owner: PublicKey;
  /** All slots, empty ones included, in slot order. */
  positions: Position[];
  accountNum: number;
  version: number;
  bump: number;
  beingLiquidated: boolean;
  bankrupt: boolean;
}

/** An account as a chain returns it. */
export interface AccountState {
  owner: PublicKey;
  data: Uint8Array;
  lamports: bigint;
  executable: boolean;
}

/** A decoded account with its address. */
export interface Loaded<T> {
  address: PublicKey;
  data: T;
}

const big = (value: BN): bigint => BigInt(value.toString());

function decodeRaw<T>(name: "group" | "bank" | "marginAccount", data: Uint8Array): T {
  return coder().accounts.decode<T>(name, Buffer.from(data));
}

function checkOwner(account: AccountState, programId: PublicKey, what: string): void {
  if (!account.owner.equals(programId)) {
    throw new Error(`${what}: owner ${account.owner.toBase58()} is not the program ${programId.toBase58()}`);
  }
}

export function decodeGroup(data: Uint8Array): Group {
  const raw = decodeRaw<RawGroup>("group", data);
  return {
    admin: raw.admin,
    pythReceiverProgram: raw.pythReceiverProgram,
    pythLegacyProgram: raw.pythLegacyProgram,
    groupNum: raw.groupNum,
    bankCount: raw.bankCount,
    version: raw.version,
    bump: raw.bump,
    paused: raw.paused !== 0,
    reduceOnly: raw.reduceOnly !== 0,
    bankruptcyDustQuote: big(raw.bankruptcyDustQuote),
    liquidationEndBufferBps: raw.liquidationEndBufferBps,
  };
}

export function decodeBank(data: Uint8Array): Bank {
  const raw = decodeRaw<RawBank>("bank", data);
  return {
    group: raw.group,
    mint: raw.mint,
    vault: raw.vault,
    tokenProgram: raw.tokenProgram,
    oracle: raw.oracle,
    oracleFeedId: Uint8Array.from(raw.oracleFeedId),
    depositIndex: q64FromLeBytes(raw.depositIndex),
    borrowIndex: q64FromLeBytes(raw.borrowIndex),
    totalDepositShares: big(raw.totalDepositShares),
    totalBorrowShares: big(raw.totalBorrowShares),
    insuranceNative: big(raw.insuranceNative),
    depositLimitNative: big(raw.depositLimitNative),
    borrowLimitNative: big(raw.borrowLimitNative),
    depositWeightScaleStartQuote: big(raw.depositWeightScaleStartQuote),
    lastAccrualTs: big(raw.lastAccrualTs),
    oracleMaxAgeSecs: raw.oracleMaxAgeSecs,
    oracleMaxConfBps: raw.oracleMaxConfBps,
    oracleConfMultiplierBps: raw.oracleConfMultiplierBps,
    initAssetWeightBps: raw.initAssetWeightBps,
    maintAssetWeightBps: raw.maintAssetWeightBps,
    initLiabWeightBps: raw.initLiabWeightBps,
    maintLiabWeightBps: raw.maintLiabWeightBps,
    liquidationFeeBps: raw.liquidationFeeBps,
    insuranceFeeBps: raw.insuranceFeeBps,
    optimalUtilizationBps: raw.optimalUtilizationBps,
    minRateBps: raw.minRateBps,
    optimalRateBps: raw.optimalRateBps,
    maxRateBps: raw.maxRateBps,
    bankIndex: raw.bankIndex,
    decimals: raw.decimals,
    oracleKind: raw.oracleKind as OracleKind,
    version: raw.version,
    bump: raw.bump,
    vaultBump: raw.vaultBump,
  };
}

export function decodeMarginAccount(data: Uint8Array): MarginAccount {
  const raw = decodeRaw<RawMarginAccount>("marginAccount", data);
  return {
    group: raw.group,
    owner: raw.owner,
    positions: raw.positions.map((p) => ({
      shares: big(p.shares),
      bankIndex: p.bankIndex,
      kind: (p.kind <= 2 ? p.kind : 0) as PositionKind,
    })),
    accountNum: raw.accountNum,
    version: raw.version,
    bump: raw.bump,
    beingLiquidated: raw.beingLiquidated !== 0,
    bankrupt: raw.bankrupt !== 0,
  };
}

/** Decodes `account` as a `Group`, checking that the program owns it. */
export function groupFromAccount(account: AccountState, programId: PublicKey = PROGRAM_ID): Group {
  checkOwner(account, programId, "group");
  return decodeGroup(account.data);
}

export function bankFromAccount(account: AccountState, programId: PublicKey = PROGRAM_ID): Bank {
  checkOwner(account, programId, "bank");
  return decodeBank(account.data);
}

export function marginAccountFromAccount(
  account: AccountState,
  programId: PublicKey = PROGRAM_ID,
): MarginAccount {
  checkOwner(account, programId, "margin account");
  return decodeMarginAccount(account.data);
}

/** Account sizes including the 8-byte discriminator, from the IDL's layouts. */
export function accountSize(name: "group" | "bank" | "marginAccount"): number {
  return coder().accounts.size(name);
}

/** The active positions with their slot numbers, in slot order. */
export function activePositions(account: MarginAccount): Array<Position & { slot: number }> {
  return account.positions
    .map((p, slot) => ({ ...p, slot }))
    .filter((p) => p.kind !== PositionKind.Empty);
}
