/**
 * Decoders for the program's zero-copy accounts. The bytes are read by the IDL's coder (which
 * checks the account discriminator); the IDL describes the `#[repr(C)]` layouts field by field,
 * padding included, so a Borsh read of them is byte-exact. Numbers come out as `bigint`
 * (u64/i64) or `number` (u32 and smaller); Q64.64 indices, stored as 16 little-endian bytes,
 * come out as `bigint` Q64.64 values; signed 128-bit numbers stored the same way (perp funding
 * indices, quote sums) come out as signed `bigint`s.
 */
import { utils, type IdlAccounts, type IdlTypes } from "@anchor-lang/core";
import type BN from "bn.js";
import { PublicKey } from "@solana/web3.js";

import type { Chain } from "./chain";
import { coder, fromIdl, PROGRAM_ID, RAW_IDL, toIdl, type CrossMargin, type Native } from "./idl";
import { i128FromLeBytes, q64FromLeBytes } from "./fixed";

type RawGroup = IdlAccounts<CrossMargin>["group"];
type RawBank = IdlAccounts<CrossMargin>["bank"];
type RawMarginAccount = IdlAccounts<CrossMargin>["marginAccount"];
type RawPerpMarket = IdlAccounts<CrossMargin>["perpMarket"];
/** The `PerpMarketConfig` struct (the `add_perp_market` / `configure_perp_market` argument). */
export type IdlPerpMarketConfig = IdlTypes<CrossMargin>["perpMarketConfig"];
/** The `BankConfig` struct (the `add_bank` / `configure_bank` argument, `Bank::config`). */
export type IdlBankConfig = IdlTypes<CrossMargin>["bankConfig"];

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
  /** Proposed by the admin (`propose_admin`), takes over when it signs `accept_admin`;
   * `PublicKey.default` = no transfer pending. */
  pendingAdmin: PublicKey;
  /** May only turn pause and reduce-only on (`halt`); `PublicKey.default` = none. */
  emergencyAdmin: PublicKey;
  /** How long a queued change waits. 0 = setup: every change applies at once (no notice). */
  configDelaySecs: number;
  /** The queued group change (`applyAfterTs` 0 = nothing queued; a zero field = unchanged). */
  pending: PendingGroupChange;
  /** When the delay first became non-zero (0 in setup): a live group's queued changes are never
   * due before `liveSinceTs + configDelaySecs` (see `configChangeDue`). */
  liveSinceTs: bigint;
  /** When a pause was last lifted (0: never): queued changes wait a delay after it. */
  unpausedTs: bigint;
  /** Perp markets added so far: the next one gets this index. */
  perpMarketCount: number;
}

/** When a change queued to apply from `applyAfterTs` is due: then, and in a live group never
 * before a delay after the group went live or after the last pause ended (the program's
 * `Group::config_change_due`). While the group is paused nothing applies at all
 * (`configChangeIsDue`). */
export function configChangeDue(group: Group, applyAfterTs: bigint): bigint {
  if (group.configDelaySecs === 0) return applyAfterTs;
  const since = group.liveSinceTs > group.unpausedTs ? group.liveSinceTs : group.unpausedTs;
  const notice = since + BigInt(group.configDelaySecs);
  return applyAfterTs > notice ? applyAfterTs : notice;
}

/** Whether a change queued to apply from `applyAfterTs` may be applied at `now`. */
export function configChangeIsDue(group: Group, applyAfterTs: bigint, now: bigint): boolean {
  return !group.paused && now >= configChangeDue(group, applyAfterTs);
}

/** The IDL's `PendingGroupChange` with u64/i64s as `bigint`. */
export type PendingGroupChange = Native<IdlTypes<CrossMargin>["pendingGroupChange"]>;

/** A bank's queued change: the whole `BankConfig` and the oracle it pins (`applyAfterTs` 0 =
 * nothing queued). */
export interface PendingBankChange {
  /** Unix time from which anyone may apply it. */
  applyAfterTs: bigint;
  oracle: PublicKey;
  config: BankConfig;
}

/**
 * Everything an admin sets on a bank: the IDL's `BankConfig` (`state/bank.rs`) with u64s as
 * `bigint`, the feed id as 32 bytes and the kind as `OracleKind`; its padding is left out (the
 * program stores zero). Weights, fees and rates in bps (10,000 = 1.0; rates are APRs).
 */
export type BankConfig = Omit<Native<IdlBankConfig>, "padding" | "oracleKind"> & { oracleKind: OracleKind };

/** A bank: the IDL's `Bank` with u64/i64s as `bigint`, Q64.64 indices as `bigint` Q64.64
 * values, `config` as a `BankConfig`; padding and reserved bytes left out. */
export type Bank = Omit<Native<RawBank>, "depositIndex" | "borrowIndex" | "config" | "pending" | "padding" | "reserved"> & {
  /** Q64.64. */
  depositIndex: bigint;
  /** Q64.64. */
  borrowIndex: bigint;
  config: BankConfig;
  /** The queued configuration change (`queue_bank_config`), if `applyAfterTs` is not 0. */
  pending: PendingBankChange;
};

/** One of the 16 slots of a margin account. */
export interface Position {
  shares: bigint;
  bankIndex: number;
  kind: PositionKind;
}

/** One of the 8 perp slots of a margin account: a position in one perp market and/or shares
 * of its liquidity pool. Every active slot of an account settles in the same bank. */
export interface PerpSlot {
  /** Signed size in lots (+ long). */
  baseLots: bigint;
  /** What the position paid (−) and received (+) since it was last settled, settle native units. */
  quoteNative: bigint;
  /** The market's funding indices when funding was last applied (signed Q64.64 per lot). */
  fundingLong: bigint;
  fundingShort: bigint;
  /** Pool shares (not collateral: they count nothing in health). */
  lpShares: bigint;
  marketIndex: number;
  settleBankIndex: number;
  active: boolean;
}

export interface MarginAccount {
  group: PublicKey;
  owner: PublicKey;
  /** All slots, empty ones included, in slot order. */
  positions: Position[];
  /** All 8 perp slots, inactive ones included, in slot order. */
  perps: PerpSlot[];
  accountNum: number;
  version: number;
  bump: number;
  beingLiquidated: boolean;
  bankrupt: boolean;
}

/**
 * Everything an admin sets on a perp market: the IDL's `PerpMarketConfig`
 * (`state/perp_market.rs`) with u64s as `bigint`, the feed id as 32 bytes and the kind as
 * `OracleKind`; its padding left out. Weights and fees in bps (10,000 = 1.0).
 */
export type PerpMarketConfig = Omit<Native<IdlPerpMarketConfig>, "padding" | "oracleKind"> & { oracleKind: OracleKind };

/** A perp market's queued change: the whole config and the oracle it pins (`applyAfterTs` 0 =
 * nothing queued). */
export interface PendingPerpChange {
  applyAfterTs: bigint;
  oracle: PublicKey;
  config: PerpMarketConfig;
}

/** The signed 128-bit fields of a `PerpMarket`, stored as 16 little-endian bytes. */
type PerpMarketI128 = "fundingLong" | "fundingShort" | "quoteSum" | "fundingUnapplied";

/** A perp market: the IDL's `PerpMarket` with u64/i64s as `bigint`, the funding indices, quote
 * sum and unapplied funding as signed `bigint`s, `config` as a `PerpMarketConfig`; padding and
 * reserved bytes left out. */
export type PerpMarket = Omit<Native<RawPerpMarket>, PerpMarketI128 | "config" | "pending" | "padding" | "reserved"> & {
  /** Cumulative funding per lot paid by longs / shorts since the market opened (signed Q64.64). */
  fundingLong: bigint;
  fundingShort: bigint;
  /** The sum of every position's quote until settled (settle native units). */
  quoteSum: bigint;
  /** Funding the positions owe (+) or are owed (−) but have not applied yet (signed Q64.64). */
  fundingUnapplied: bigint;
  config: PerpMarketConfig;
  pending: PendingPerpChange;
  /** The market's insurance fund: deposit shares in the settle bank (counted in its
   * `totalDepositShares`), paid by liquidations' insurance fees and `fund_perp_insurance`; it
   * pays a bankrupt account's loss to the pool before the LPs bear it (`insuranceNative`). */
  insuranceDepositShares: bigint;
  /** Losses of bankrupt accounts the pool's LPs bore (settle native units, cumulative). */
  socialisedLoss: bigint;
};

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

type AccountName = "group" | "bank" | "marginAccount" | "perpMarket";

function decodeRaw<T>(name: AccountName, data: Uint8Array): T {
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
    pendingAdmin: raw.pendingAdmin,
    emergencyAdmin: raw.emergencyAdmin,
    configDelaySecs: raw.configDelaySecs,
    pending: fromIdl(raw.pending),
    liveSinceTs: big(raw.liveSinceTs),
    unpausedTs: big(raw.unpausedTs),
    perpMarketCount: raw.perpMarketCount,
  };
}

/** `value` without the fields `keys`. */
function omit<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  const rest: Partial<T> = { ...value };
  for (const key of keys) delete rest[key];
  return rest as Omit<T, K>;
}

/** A decoded `BankConfig` in its SDK form. */
export function bankConfigFromIdl(raw: IdlBankConfig): BankConfig {
  const config = omit(fromIdl(raw), "padding");
  return { ...config, oracleKind: config.oracleKind as OracleKind };
}

/** The `BankConfig` argument as the IDL encodes it (padding zero). */
export function toIdlBankConfig(config: BankConfig): IdlBankConfig {
  if (config.oracleFeedId.length !== 32) throw new RangeError("oracleFeedId must be 32 bytes");
  return toIdl<IdlBankConfig>({ ...config, padding: new Uint8Array(3) });
}

export function decodeBank(data: Uint8Array): Bank {
  const raw = decodeRaw<RawBank>("bank", data);
  return {
    ...fromIdl(omit(raw, "depositIndex", "borrowIndex", "config", "pending", "padding", "reserved")),
    depositIndex: q64FromLeBytes(raw.depositIndex),
    borrowIndex: q64FromLeBytes(raw.borrowIndex),
    config: bankConfigFromIdl(raw.config),
    pending: {
      applyAfterTs: BigInt(raw.pending.applyAfterTs.toString()),
      oracle: raw.pending.oracle,
      config: bankConfigFromIdl(raw.pending.config),
    },
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
    perps: raw.perps.map((p) => ({
      baseLots: big(p.baseLots),
      quoteNative: big(p.quoteNative),
      fundingLong: i128FromLeBytes(p.fundingLong),
      fundingShort: i128FromLeBytes(p.fundingShort),
      lpShares: big(p.lpShares),
      marketIndex: p.marketIndex,
      settleBankIndex: p.settleBankIndex,
      active: p.active !== 0,
    })),
    accountNum: raw.accountNum,
    version: raw.version,
    bump: raw.bump,
    beingLiquidated: raw.beingLiquidated !== 0,
    bankrupt: raw.bankrupt !== 0,
  };
}

/** A decoded `PerpMarketConfig` in its SDK form. */
export function perpMarketConfigFromIdl(raw: IdlPerpMarketConfig): PerpMarketConfig {
  const config = omit(fromIdl(raw), "padding");
  return { ...config, oracleKind: config.oracleKind as OracleKind };
}

/** The `PerpMarketConfig` argument as the IDL encodes it (padding zero). */
export function toIdlPerpMarketConfig(config: PerpMarketConfig): IdlPerpMarketConfig {
  if (config.oracleFeedId.length !== 32) throw new RangeError("oracleFeedId must be 32 bytes");
  return toIdl<IdlPerpMarketConfig>({ ...config, padding: new Uint8Array(6) });
}

export function decodePerpMarket(data: Uint8Array): PerpMarket {
  const raw = decodeRaw<RawPerpMarket>("perpMarket", data);
  const rest = omit(raw, "fundingLong", "fundingShort", "quoteSum", "fundingUnapplied", "config", "pending", "padding", "reserved");
  return {
    ...fromIdl(rest),
    fundingLong: i128FromLeBytes(raw.fundingLong),
    fundingShort: i128FromLeBytes(raw.fundingShort),
    quoteSum: i128FromLeBytes(raw.quoteSum),
    fundingUnapplied: i128FromLeBytes(raw.fundingUnapplied),
    config: perpMarketConfigFromIdl(raw.config),
    pending: {
      applyAfterTs: big(raw.pending.applyAfterTs),
      oracle: raw.pending.oracle,
      config: perpMarketConfigFromIdl(raw.pending.config),
    },
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

export function perpMarketFromAccount(account: AccountState, programId: PublicKey = PROGRAM_ID): PerpMarket {
  checkOwner(account, programId, "perp market");
  return decodePerpMarket(account.data);
}

/** Account sizes including the 8-byte discriminator, from the IDL's layouts. */
export function accountSize(name: AccountName): number {
  return coder().accounts.size(name);
}

/** The active positions with their slot numbers, in slot order. */
export function activePositions(account: MarginAccount): Array<Position & { slot: number }> {
  return account.positions
    .map((p, slot) => ({ ...p, slot }))
    .filter((p) => p.kind !== PositionKind.Empty);
}

/** The active perp slots with their slot numbers, in slot order. */
export function activePerps(account: MarginAccount): Array<PerpSlot & { slot: number }> {
  return account.perps.map((p, slot) => ({ ...p, slot })).filter((p) => p.active);
}

/** The accounts of one type (`Bank`, `PerpMarket`, both with the group at offset 8) in `group`. */
async function fetchGroupAccounts(chain: Chain, group: PublicKey, programId: PublicKey, idlName: string, name: AccountName) {
  const discriminator = RAW_IDL.accounts?.find((a) => a.name === idlName)?.discriminator ?? [];
  return chain.getProgramAccounts(programId, [
    { dataSize: accountSize(name) },
    { memcmp: { offset: 0, bytes: utils.bytes.bs58.encode(Buffer.from(discriminator)) } },
    { memcmp: { offset: 8, bytes: group.toBase58() } },
  ]);
}

/** Every bank of `group`, by bank index (one `getProgramAccounts` call). */
export async function fetchGroupBanks(chain: Chain, group: PublicKey, programId: PublicKey = PROGRAM_ID): Promise<Array<Loaded<Bank>>> {
  const found = await fetchGroupAccounts(chain, group, programId, "Bank", "bank");
  return found
    .map(({ address, account }) => ({ address, data: bankFromAccount(account, programId) }))
    .sort((a, b) => a.data.bankIndex - b.data.bankIndex);
}

/** Every perp market of `group`, by market index (one `getProgramAccounts` call). */
export async function fetchGroupPerpMarkets(chain: Chain, group: PublicKey, programId: PublicKey = PROGRAM_ID): Promise<Array<Loaded<PerpMarket>>> {
  const found = await fetchGroupAccounts(chain, group, programId, "PerpMarket", "perpMarket");
  return found
    .map(({ address, account }) => ({ address, data: perpMarketFromAccount(account, programId) }))
    .sort((a, b) => a.data.marketIndex - b.data.marketIndex);
}
