/**
 * Admin safety, as a user or a frontend sees it (docs/SECURITY.md, "Admin powers and the
 * delay"): whether a group gives notice of configuration changes (`groupSafety`), what is queued
 * and when it may apply (`pendingChanges`), and what the queued changes would do to an account
 * (`healthAfterPendingChanges`: the program's `health_after_pending_changes` view, simulated).
 *
 * Nothing here decides which change is harmful: the program does (`state::config_change`). A
 * queued change is shown field by field against the settings in force, and its effect on an
 * account comes from the program's own health computation.
 */
import { PublicKey, type AccountMeta } from "@solana/web3.js";

import {
  configChangeDue,
  configChangeIsDue,
  OracleKind,
  type Bank,
  type BankConfig,
  type Group,
  type Loaded,
  type MarginAccount,
  type PerpMarket,
  type PerpMarketConfig,
} from "./accounts";
import type { Chain } from "./chain";
import { simulateHealth, type AccountHealth } from "./health";
import { bankLookup, bankRefAfterPendingChange, healthAccountMetas, perpMarketLookup, perpMarketRefAfterPendingChange } from "./instructions";

// ---------------------------------------------------------------------------------------------
// The group's safety settings
// ---------------------------------------------------------------------------------------------

export interface GroupSafety {
  /** Live: changes that can hurt positions wait `configDelaySecs` in a public queue. */
  live: boolean;
  /** 0 in setup. */
  configDelaySecs: number;
  /** The key that may only turn pause and reduce-only on, if one is set. */
  emergencyAdmin: PublicKey | null;
  /** An admin transfer proposed and not accepted yet, if any. */
  pendingAdmin: PublicKey | null;
  /** A line a frontend should show its users when the group gives no notice (setup); null when
   * live. */
  warning: string | null;
}

const isDefaultKey = (key: PublicKey): boolean => key.equals(PublicKey.default);

/** The group's admin-safety settings, with a warning when it is in setup. */
export function groupSafety(group: Group): GroupSafety {
  const live = group.configDelaySecs !== 0;
  return {
    live,
    configDelaySecs: group.configDelaySecs,
    emergencyAdmin: isDefaultKey(group.emergencyAdmin) ? null : group.emergencyAdmin,
    pendingAdmin: isDefaultKey(group.pendingAdmin) ? null : group.pendingAdmin,
    warning: live
      ? null
      : "This group is in setup (no configuration delay): its admin can change weights, fees, oracles and limits at once, " +
        "so a healthy account can become liquidatable without notice.",
  };
}

// ---------------------------------------------------------------------------------------------
// Queued changes
// ---------------------------------------------------------------------------------------------

/** One setting a queued change replaces: the value in force now and the queued one, as text
 * (numbers in decimal, keys in base58, byte arrays in hex, the oracle kind by name). */
export interface FieldChange {
  field: string;
  from: string;
  to: string;
}

interface QueuedChangeBase {
  /** Unix time from which anyone may apply it: the time it was queued for, but in a live group
   * never before the delay after the group went live (`configChangeDue`). */
  applyAfterTs: bigint;
  /** `applyAfterTs` as an ISO-8601 time. */
  applyAfter: string;
  /** Whether it may be applied now (`now >= applyAfterTs` and the group not paused). */
  due: boolean;
  /** Seconds until it is due (0 if due). */
  secondsLeft: bigint;
  /** The settings it changes (those equal to the settings in force are left out). */
  changes: FieldChange[];
}

/** The group's queued change (`queue_group_config`). */
export interface QueuedGroupChange extends QueuedChangeBase {
  kind: "group";
  address: PublicKey;
}

/** A bank's queued change (`queue_bank_config`, or `add_bank` in a live group). */
export interface QueuedBankChange extends QueuedChangeBase {
  kind: "bank";
  address: PublicKey;
  bankIndex: number;
  /** From `options.bankNames`, or `bank <index>`. */
  name: string;
  mint: PublicKey;
  /** The oracle the bank pins once the change applies (`apply_bank_config` takes it). */
  oracle: PublicKey;
  /** The whole configuration the bank will have. */
  config: BankConfig;
}

/** A perp market's queued change (`queue_perp_market_config`, or `add_perp_market` in a live
 * group). */
export interface QueuedPerpMarketChange extends QueuedChangeBase {
  kind: "perpMarket";
  address: PublicKey;
  marketIndex: number;
  /** From `options.perpMarketNames`, or `perp market <index>`. */
  name: string;
  /** The oracle the market pins once the change applies (`apply_perp_market_config` takes it). */
  oracle: PublicKey;
  /** The whole configuration the market will have. */
  config: PerpMarketConfig;
}

export type QueuedChange = QueuedGroupChange | QueuedBankChange | QueuedPerpMarketChange;

export interface PendingChangesOptions {
  /** Labels for banks, by bank address (base58), e.g. from a deploy config. */
  bankNames?: ReadonlyMap<string, string>;
  /** Labels for perp markets, by address (base58). */
  perpMarketNames?: ReadonlyMap<string, string>;
}

/** A setting's value as text. */
export function showValue(value: unknown): string {
  if (typeof value === "object" && value !== null && typeof (value as { toBase58?: unknown }).toBase58 === "function") {
    return (value as PublicKey).toBase58();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  return String(value);
}

function showConfigField(field: string, value: unknown): string {
  if (field === "oracleKind") return value === OracleKind.PythPull ? "pythPull" : value === OracleKind.PythLegacy ? "pythLegacy" : String(value);
  return showValue(value);
}

/** Unix seconds as an ISO-8601 time. */
export function isoTime(unixSeconds: bigint): string {
  return new Date(Number(unixSeconds) * 1000).toISOString();
}

function timing(group: Group, queuedFor: bigint, now: bigint): Omit<QueuedChangeBase, "changes"> {
  const applyAfterTs = configChangeDue(group, queuedFor);
  const due = configChangeIsDue(group, queuedFor, now);
  return { applyAfterTs, applyAfter: isoTime(applyAfterTs), due, secondsLeft: due ? 0n : applyAfterTs - now };
}

const sameText = (a: unknown, b: unknown): boolean => showValue(a) === showValue(b);

/** What a bank's queued change replaces, field by field (the oracle last); empty if nothing is
 * queued or the queued change equals the settings in force. */
export function bankChangeFields(bank: Bank): FieldChange[] {
  if (bank.pending.applyAfterTs === 0n) return [];
  const changes: FieldChange[] = [];
  for (const field of Object.keys(bank.config) as Array<keyof BankConfig>) {
    const from = bank.config[field];
    const to = bank.pending.config[field];
    if (!sameText(from, to)) changes.push({ field, from: showConfigField(field, from), to: showConfigField(field, to) });
  }
  if (!bank.pending.oracle.equals(bank.oracle)) changes.push({ field: "oracle", from: bank.oracle.toBase58(), to: bank.pending.oracle.toBase58() });
  return changes;
}

/** What a perp market's queued change replaces, field by field (the oracle last); empty if
 * nothing is queued or it equals the settings in force. */
export function perpMarketChangeFields(market: PerpMarket): FieldChange[] {
  if (market.pending.applyAfterTs === 0n) return [];
  const changes: FieldChange[] = [];
  for (const field of Object.keys(market.config) as Array<keyof PerpMarketConfig>) {
    const from = market.config[field];
    const to = market.pending.config[field];
    if (!sameText(from, to)) changes.push({ field, from: showConfigField(field, from), to: showConfigField(field, to) });
  }
  if (!market.pending.oracle.equals(market.oracle)) changes.push({ field: "oracle", from: market.oracle.toBase58(), to: market.pending.oracle.toBase58() });
  return changes;
}

/** The group settings a queued group change carries (zero fields = unchanged), in the names of
 * `GroupSettings`. */
export function queuedGroupSettings(group: Group): Partial<Pick<Group, "pythReceiverProgram" | "pythLegacyProgram" | "bankruptcyDustQuote" | "liquidationEndBufferBps" | "configDelaySecs">> {
  const p = group.pending;
  if (p.applyAfterTs === 0n) return {};
  const settings: ReturnType<typeof queuedGroupSettings> = {};
  if (!isDefaultKey(p.pythReceiverProgram)) settings.pythReceiverProgram = p.pythReceiverProgram;
  if (!isDefaultKey(p.pythLegacyProgram)) settings.pythLegacyProgram = p.pythLegacyProgram;
  if (p.bankruptcyDustQuote !== 0n) settings.bankruptcyDustQuote = p.bankruptcyDustQuote;
  if (p.liquidationEndBufferBps !== 0) settings.liquidationEndBufferBps = p.liquidationEndBufferBps;
  if (p.configDelaySecs !== 0) settings.configDelaySecs = p.configDelaySecs;
  return settings;
}

/** What the group's queued change replaces, field by field. */
export function groupChangeFields(group: Group): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [field, to] of Object.entries(queuedGroupSettings(group))) {
    const from = group[field as keyof Group];
    if (!sameText(from, to)) changes.push({ field, from: showValue(from), to: showValue(to) });
  }
  return changes;
}

/**
 * Every queued change of a group, its banks and its perp markets, the group's first, then banks
 * and perp markets by index: when it may apply, whether it is due at `now` (the cluster's unix
 * time, `clusterUnixTimestamp`), and the settings it changes (old → new).
 * `CrossMarginClient.pendingChanges` reads the accounts and the clock.
 */
export function pendingChanges(
  group: Loaded<Group>,
  banks: ReadonlyArray<Loaded<Bank>>,
  now: bigint,
  options: PendingChangesOptions = {},
  perpMarkets: ReadonlyArray<Loaded<PerpMarket>> = [],
): QueuedChange[] {
  const queued: QueuedChange[] = [];
  if (group.data.pending.applyAfterTs !== 0n) {
    queued.push({ kind: "group", address: group.address, ...timing(group.data, group.data.pending.applyAfterTs, now), changes: groupChangeFields(group.data) });
  }
  for (const { address, data: bank } of [...banks].sort((a, b) => a.data.bankIndex - b.data.bankIndex)) {
    if (bank.pending.applyAfterTs === 0n) continue;
    queued.push({
      kind: "bank",
      address,
      bankIndex: bank.bankIndex,
      name: options.bankNames?.get(address.toBase58()) ?? `bank ${bank.bankIndex}`,
      mint: bank.mint,
      oracle: bank.pending.oracle,
      config: bank.pending.config,
      ...timing(group.data, bank.pending.applyAfterTs, now),
      changes: bankChangeFields(bank),
    });
  }
  for (const { address, data: market } of [...perpMarkets].sort((a, b) => a.data.marketIndex - b.data.marketIndex)) {
    if (market.pending.applyAfterTs === 0n) continue;
    queued.push({
      kind: "perpMarket",
      address,
      marketIndex: market.marketIndex,
      name: options.perpMarketNames?.get(address.toBase58()) ?? `perp market ${market.marketIndex}`,
      oracle: market.pending.oracle,
      config: market.pending.config,
      ...timing(group.data, market.pending.applyAfterTs, now),
      changes: perpMarketChangeFields(market),
    });
  }
  return queued;
}

/** One line per queued change, e.g. `bank 1 (…): maintAssetWeightBps 9000 → 7000; applies
 * after 2027-01-02T00:00:00.000Z (in 86400 s)`. */
export function describeQueuedChange(change: QueuedChange): string {
  const what = change.kind === "group" ? `group ${change.address.toBase58()}` : `${change.name} (${change.address.toBase58()})`;
  const fields = change.changes.length > 0 ? change.changes.map((c) => `${c.field} ${c.from} → ${c.to}`).join(", ") : "no setting differs from the current one";
  const when = change.due ? `due since ${change.applyAfter}: anyone may apply it now` : `applies after ${change.applyAfter} (in ${change.secondsLeft} s)`;
  return `${what}: ${fields}; ${when}`;
}

// ---------------------------------------------------------------------------------------------
// Health once the queued changes apply
// ---------------------------------------------------------------------------------------------

/** `health_after_pending_changes`' remaining accounts: the account's health accounts, with a
 * bank's or perp market's queued oracle where its queued change re-pins one. */
export function pendingHealthAccountMetas(
  account: MarginAccount,
  banks: ReadonlyArray<Loaded<Bank>>,
  perpMarkets: ReadonlyArray<Loaded<PerpMarket>> = [],
): AccountMeta[] {
  const perps = perpMarketLookup(perpMarkets.map((m) => perpMarketRefAfterPendingChange(m.address, m.data)));
  return healthAccountMetas(account, bankLookup(banks.map((b) => bankRefAfterPendingChange(b.address, b.data))), perps);
}

/**
 * The program's `health_after_pending_changes` view for a margin account, in a simulation:
 * its health as it will be once every queued change (the group's and its banks') applies.
 * `banks` must include the bank of every position (`fetchGroupBanks`); `feePayer` is any
 * existing system account (nothing is signed). Prices are today's: a change that re-pins an
 * oracle is priced from the queued oracle account as it is now.
 */
export async function healthAfterPendingChanges(
  chain: Chain,
  args: {
    group: PublicKey;
    account: PublicKey;
    margin: MarginAccount;
    banks: ReadonlyArray<Loaded<Bank>>;
    /** The perp market of every perp slot (`fetchGroupPerpMarkets`); none without perp slots. */
    perpMarkets?: ReadonlyArray<Loaded<PerpMarket>>;
    feePayer: PublicKey;
    programId?: PublicKey;
  },
): Promise<AccountHealth> {
  return simulateHealth(chain, {
    group: args.group,
    account: args.account,
    healthAccounts: pendingHealthAccountMetas(args.margin, args.banks, args.perpMarkets),
    feePayer: args.feePayer,
    ...(args.programId ? { programId: args.programId } : {}),
    view: "afterPendingChanges",
  });
}

/** An account's health now and once the queued changes apply, for a warning such as "this
 * queued change makes your account liquidatable". */
export interface HealthWithPendingChanges {
  now: AccountHealth;
  afterPending: AccountHealth;
  /** Not liquidatable now, liquidatable once the queued changes apply. */
  becomesLiquidatable: boolean;
  /** `afterPending.maint - now.maint` (quote native units). */
  maintChange: bigint;
  /** `afterPending.init - now.init`. */
  initChange: bigint;
}

export function compareHealth(now: AccountHealth, afterPending: AccountHealth): HealthWithPendingChanges {
  return {
    now,
    afterPending,
    becomesLiquidatable: !now.liquidatable && afterPending.liquidatable,
    maintChange: afterPending.maint - now.maint,
    initChange: afterPending.init - now.init,
  };
}
