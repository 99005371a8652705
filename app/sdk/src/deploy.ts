/**
 * Creates a group, its banks and its perp markets from a config file, idempotently: what exists
 * on chain is checked and skipped; a group, bank or perp market that exists with other settings
 * is reported field by field and only reconfigured when `applyConfigChanges` is set (perp
 * markets: `deploy-perps.ts`). Running it twice sends nothing
 * the second time. `migrations/deploy.ts` runs it against any cluster URL.
 *
 * In a live group (a configuration delay set) the program refuses at once a change that can
 * hurt positions (`ConfigChangeMustBeQueued`). The deployment asks the program (a simulated
 * `configure_bank` / `configure_group`) instead of classifying changes itself, queues what it
 * refuses (`queue_bank_config` / `queue_group_config`) and warns until when the change waits. A
 * change already queued as the config wants it is reported as pending, not queued again; once
 * due it is applied with `applyDueChanges`.
 */
import type { PublicKey, Signer, TransactionInstruction } from "@solana/web3.js";

import { bankFromAccount, configChangeDue, configChangeIsDue, groupFromAccount, type Bank, type BankConfig, type Group } from "./accounts";
import { clusterUnixTimestamp, type Chain } from "./chain";
import { ConfigError, onlyKeys, parseOracleConfig, pubkey, record, sameValue, u32, u64, type ConfigJson, type U64Json } from "./deploy-json";
import { deployPerpMarkets, parsePerpMarkets, type DeployContext, type PerpMarketDeployJson, type PerpMarketDeployReport, type PerpMarketDeploySpec } from "./deploy-perps";
import { isMarginError } from "./errors";
import { PROGRAM_ID } from "./idl";
import {
  addBankIx,
  applyBankConfigIx,
  applyGroupConfigIx,
  bankConfigOf,
  cancelBankConfigIx,
  cancelGroupConfigIx,
  configureBankIx,
  configureGroupIx,
  createGroupIx,
  queueBankConfigIx,
  queueGroupConfigIx,
  type GroupSettings,
} from "./instructions";
import { bankChangeFields, groupChangeFields, groupSafety, isoTime, queuedGroupSettings, showValue, type FieldChange } from "./pending";
import { bankAddress, groupAddress } from "./pda";

// ---------------------------------------------------------------------------------------------
// The config file (JSON)
// ---------------------------------------------------------------------------------------------

export type { U64Json };

/**
 * A bank's config in the file: the fields of `BankConfig` (so of the IDL's), with u64s as
 * `U64Json`, the 32-byte Pyth feed id as hex (with or without 0x; all zeros for legacy oracles)
 * and the oracle kind by name: "pythPull" (PriceUpdateV2) or "pythLegacy".
 */
export type BankConfigJson = { [K in Exclude<keyof BankConfig, "oracleKind">]: ConfigJson<BankConfig[K]> } & {
  oracleKind: "pythPull" | "pythLegacy";
};

export interface BankDeployJson {
  /** A label for reports (e.g. "USDC"). */
  name: string;
  mint: string;
  oracle: string;
  /** Defaults to the mint account's owner (SPL Token or Token-2022). */
  tokenProgram?: string;
  config: BankConfigJson;
}

export interface DeployConfigJson {
  groupNum: number;
  pythReceiverProgram: string;
  pythLegacyProgram: string;
  /**
   * Optional group settings (`configure_group`); absent ones are left as they are.
   * `configDelaySecs` makes the group live (86,400 to 2,592,000 s; 0 = setup, as created): it is
   * set after the banks are listed, since a bank added to a live group opens only after the
   * delay. `emergencyAdmin` (base58) may only pause and set reduce-only.
   */
  group?: { liquidationEndBufferBps?: number; bankruptcyDustQuote?: U64Json; configDelaySecs?: number; emergencyAdmin?: string };
  banks: BankDeployJson[];
  /** Perp markets, created after the banks (and before the group goes live); market indices
   * follow this order, so the list may only grow at its end. */
  perpMarkets?: PerpMarketDeployJson[];
}

export interface BankDeploySpec {
  name: string;
  mint: PublicKey;
  oracle: PublicKey;
  tokenProgram: PublicKey | null;
  config: BankConfig;
}

export interface DeployConfig {
  groupNum: number;
  pythReceiverProgram: PublicKey;
  pythLegacyProgram: PublicKey;
  groupSettings: Pick<GroupSettings, "liquidationEndBufferBps" | "bankruptcyDustQuote" | "configDelaySecs" | "emergencyAdmin">;
  banks: BankDeploySpec[];
  /** None if absent. */
  perpMarkets?: PerpMarketDeploySpec[];
}

/** A `BankConfig` from the file: every field the IDL's `BankConfig` has (its padding aside). */
function parseBankConfig(value: unknown, path: string): BankConfig {
  return parseOracleConfig<BankConfig>("bankConfig", value, path);
}



/** Validates a parsed JSON config (unknown fields are errors: a typo must not go unnoticed). */
export function parseDeployConfig(json: unknown): DeployConfig {
  const root = record(json, "config");
  onlyKeys(root, ["groupNum", "pythReceiverProgram", "pythLegacyProgram", "group", "banks", "perpMarkets", "$comment"], "config");
  const groupSettings: DeployConfig["groupSettings"] = {};
  if (root["group"] !== undefined) {
    const group = record(root["group"], "config.group");
    onlyKeys(group, ["liquidationEndBufferBps", "bankruptcyDustQuote", "configDelaySecs", "emergencyAdmin"], "config.group");
    if (group["liquidationEndBufferBps"] !== undefined) {
      groupSettings.liquidationEndBufferBps = u32(group["liquidationEndBufferBps"], "config.group.liquidationEndBufferBps");
    }
    if (group["bankruptcyDustQuote"] !== undefined) {
      groupSettings.bankruptcyDustQuote = u64(group["bankruptcyDustQuote"], "config.group.bankruptcyDustQuote");
    }
    if (group["configDelaySecs"] !== undefined) {
      groupSettings.configDelaySecs = u32(group["configDelaySecs"], "config.group.configDelaySecs");
    }
    if (group["emergencyAdmin"] !== undefined) {
      groupSettings.emergencyAdmin = pubkey(group["emergencyAdmin"], "config.group.emergencyAdmin");
    }
  }
  const banks = root["banks"];
  if (!Array.isArray(banks)) throw new ConfigError("config.banks", "must be an array");
  const specs = banks.map((value, i): BankDeploySpec => {
    const path = `config.banks[${i}]`;
    const bank = record(value, path);
    onlyKeys(bank, ["name", "mint", "oracle", "tokenProgram", "config"], path);
    if (typeof bank["name"] !== "string" || bank["name"] === "") throw new ConfigError(`${path}.name`, "must be a non-empty string");
    return {
      name: bank["name"],
      mint: pubkey(bank["mint"], `${path}.mint`),
      oracle: pubkey(bank["oracle"], `${path}.oracle`),
      tokenProgram: bank["tokenProgram"] === undefined ? null : pubkey(bank["tokenProgram"], `${path}.tokenProgram`),
      config: parseBankConfig(bank["config"], `${path}.config`),
    };
  });
  const mints = new Set(specs.map((s) => s.mint.toBase58()));
  if (mints.size !== specs.length) throw new ConfigError("config.banks", "two banks use the same mint (one bank per mint per group)");
  return {
    groupNum: u32(root["groupNum"], "config.groupNum"),
    pythReceiverProgram: pubkey(root["pythReceiverProgram"], "config.pythReceiverProgram"),
    pythLegacyProgram: pubkey(root["pythLegacyProgram"], "config.pythLegacyProgram"),
    groupSettings,
    banks: specs,
    perpMarkets: parsePerpMarkets(root["perpMarkets"], specs),
  };
}

// ---------------------------------------------------------------------------------------------
// Deploying
// ---------------------------------------------------------------------------------------------

export interface FieldDifference {
  field: string;
  onChain: string;
  wanted: string;
}

/**
 * What the deployment found or did to an account:
 * - `created`, `unchanged`; `differs`: the chain differs from the config and nothing was changed
 *   (no `applyConfigChanges`);
 * - `reconfigured`: changed at once (`configure_group` / `configure_bank`);
 * - `queued`: the program refused the change at once (a live group's delay): it was queued and
 *   waits until `queued.applyAfter`;
 * - `pending`: a change the config agrees with was already queued (not queued again);
 * - `applied`: a due queued change was applied (`applyDueChanges`).
 */
export type DeployAction = "created" | "unchanged" | "differs" | "reconfigured" | "queued" | "pending" | "applied";

/** A change waiting in the program's queue after the deployment. */
export interface QueuedChangeReport {
  /** Unix time from which anyone may apply it. */
  applyAfterTs: bigint;
  /** `applyAfterTs` as an ISO-8601 time. */
  applyAfter: string;
  /** Already due when the deployment read the clock. */
  due: boolean;
  /** What it will change, against the settings in force. */
  changes: FieldDifference[];
}

export interface DeployReport {
  group: { address: PublicKey; action: DeployAction; differences: FieldDifference[]; queued: QueuedChangeReport | null };
  banks: Array<{
    name: string;
    mint: PublicKey;
    address: PublicKey;
    action: DeployAction;
    differences: FieldDifference[];
    queued: QueuedChangeReport | null;
  }>;
  /** The config's perp markets, in its order (empty without any). */
  perpMarkets: PerpMarketDeployReport[];
  /** Signatures of the transactions sent, in order. Empty when nothing needed doing. */
  signatures: string[];
  /** What an operator must read: changes that wait for the group's delay (until when), queued
   * changes cancelled because the config says otherwise, a group that gives its users no notice. */
  warnings: string[];
}

export interface DeployOptions {
  /** Pays for new accounts and fees; defaults to the admin. */
  payer?: Signer;
  /** Bring existing accounts to the config: at once where the program allows it, queued where
   * a live group's delay applies (cancelling a queued change the config contradicts). */
  applyConfigChanges?: boolean;
  /** Apply queued changes that are due and that the config agrees with. */
  applyDueChanges?: boolean;
  log?: (line: string) => void;
  programId?: PublicKey;
}

const show = showValue;

/** Differences between a bank on chain and its wanted config + oracle. */
export function bankDifferences(bank: Bank, spec: BankDeploySpec): FieldDifference[] {
  const current = bankConfigOf(bank);
  const differences: FieldDifference[] = [];
  for (const field of Object.keys(spec.config) as Array<keyof BankConfig>) {
    if (!sameValue(current[field], spec.config[field])) {
      differences.push({ field, onChain: show(current[field]), wanted: show(spec.config[field]) });
    }
  }
  if (!sameValue(bank.oracle, spec.oracle)) differences.push({ field: "oracle", onChain: show(bank.oracle), wanted: show(spec.oracle) });
  return differences;
}

/** Whether the bank's queued change is exactly the config's (whole config and oracle). */
function queuedAsWanted(bank: Bank, spec: BankDeploySpec): boolean {
  if (bank.pending.applyAfterTs === 0n || !sameValue(bank.pending.oracle, spec.oracle)) return false;
  return (Object.keys(spec.config) as Array<keyof BankConfig>).every((field) => sameValue(bank.pending.config[field], spec.config[field]));
}

/** The group settings the config sets (the Pyth program ids always, the rest if given). */
function wantedGroupSettings(config: DeployConfig): GroupSettings {
  const wanted: GroupSettings = { pythReceiverProgram: config.pythReceiverProgram, pythLegacyProgram: config.pythLegacyProgram };
  for (const [key, value] of Object.entries(config.groupSettings) as Array<[keyof GroupSettings, unknown]>) {
    if (value !== undefined) (wanted as Record<string, unknown>)[key] = value;
  }
  return wanted;
}

type GroupSettingKey = keyof GroupSettings & keyof Group;

function groupDifferences(group: Group, wanted: GroupSettings): { differences: FieldDifference[]; settings: GroupSettings } {
  const differences: FieldDifference[] = [];
  const settings: GroupSettings = {};
  for (const [field, value] of Object.entries(wanted) as Array<[GroupSettingKey, unknown]>) {
    if (value === undefined || sameValue(group[field], value)) continue;
    differences.push({ field, onChain: show(group[field]), wanted: show(value) });
    (settings as Record<string, unknown>)[field] = value;
  }
  return { differences, settings };
}

const isEmpty = (settings: object): boolean => Object.keys(settings).length === 0;

const asDifferences = (changes: FieldChange[]): FieldDifference[] => changes.map((c) => ({ field: c.field, onChain: c.from, wanted: c.to }));

function describeDifferences(differences: FieldDifference[]): string {
  return differences.length === 0 ? "no setting differs" : differences.map((d) => `${d.field} ${d.onChain} -> ${d.wanted}`).join(", ");
}

/**
 * Brings the chain to `config`: creates the group (admin = `admin`, seeds `groupNum`) and every
 * missing bank; reports existing ones that differ, and reconfigures them only with
 * `applyConfigChanges`. Bank mints and oracle accounts must already exist. A new group's
 * `configDelaySecs` (going live) is set last, after its banks are listed.
 */
export async function deployFromConfig(chain: Chain, admin: Signer, config: DeployConfig, options: DeployOptions = {}): Promise<DeployReport> {
  const payer = options.payer ?? admin;
  const log = options.log ?? (() => undefined);
  const programId = options.programId ?? PROGRAM_ID;
  const signatures: string[] = [];
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    log(`  WARNING: ${line}`);
  };
  const send = async (what: string, instructions: TransactionInstruction[]) => {
    const sent = await chain.sendTransaction(instructions, payer, [admin]);
    signatures.push(sent.signature);
    log(`  sent ${what}: ${sent.signature}`);
  };
  /** Whether the program takes a change at once: a simulation; `false` when it answers that
   * the change must be queued (a live group's delay). Any other refusal is thrown. */
  const takenAtOnce = async (instructions: TransactionInstruction[]): Promise<boolean> => {
    try {
      await chain.simulateTransaction(instructions, payer.publicKey);
      return true;
    } catch (error) {
      if (isMarginError(error, "ConfigChangeMustBeQueued")) return false;
      throw error;
    }
  };
  let clock: bigint | undefined;
  const now = async (): Promise<bigint> => (clock ??= await clusterUnixTimestamp(chain));
  const queuedReport = async (applyAfterTs: bigint, changes: FieldChange[]): Promise<QueuedChangeReport> => ({
    applyAfterTs,
    applyAfter: isoTime(applyAfterTs),
    due: !group.paused && (await now()) >= applyAfterTs,
    changes: asDifferences(changes),
  });
  const waitNote = (queued: QueuedChangeReport, what: string): string =>
    queued.due
      ? `it has been due since ${queued.applyAfter}: anyone may apply it (${what}); rerun the deployment with applyDueChanges (--apply-due-changes)`
      : `it waits until ${queued.applyAfter} (the group's delay), then anyone may apply it (${what}; the deployment with applyDueChanges)`;

  // The group.
  const groupKey = groupAddress(admin.publicKey, config.groupNum, programId);
  const readGroup = async (): Promise<Group> => {
    const account = await chain.getAccount(groupKey);
    if (!account) throw new Error(`group ${groupKey.toBase58()} does not exist`);
    return groupFromAccount(account, programId);
  };
  let created = false;
  if (!(await chain.getAccount(groupKey))) {
    const { instruction } = await createGroupIx({
      admin: admin.publicKey,
      payer: payer.publicKey,
      groupNum: config.groupNum,
      pythReceiverProgram: config.pythReceiverProgram,
      pythLegacyProgram: config.pythLegacyProgram,
    });
    await send(`create_group ${config.groupNum}`, [instruction]);
    created = true;
  }
  let group = await readGroup();
  if (!group.admin.equals(admin.publicKey)) {
    throw new Error(`group ${groupKey.toBase58()} has admin ${group.admin.toBase58()}, not ${admin.publicKey.toBase58()}`);
  }
  // Settings a new group does not take at creation are part of creating it.
  const mayChange = created || options.applyConfigChanges === true;
  const wanted = wantedGroupSettings(config);
  const groupFields = (settings: GroupSettings) => Object.keys(settings).join(", ");
  // A queued setting the config sets otherwise.
  const conflicts = (g: Group): string[] =>
    Object.entries(queuedGroupSettings(g))
      .filter(([field, value]) => {
        const want = (wanted as Record<string, unknown>)[field];
        return want !== undefined && !sameValue(value, want);
      })
      .map(([field]) => field);
  let groupApplied = false;
  if (options.applyDueChanges && group.pending.applyAfterTs !== 0n && configChangeIsDue(group, group.pending.applyAfterTs, await now()) && conflicts(group).length === 0) {
    await send("apply_group_config", [await applyGroupConfigIx(groupKey)]);
    groupApplied = true;
    group = await readGroup();
  }
  const { differences: groupDiffs, settings } = groupDifferences(group, wanted);
  // Going live waits for the banks: in a live group a new bank opens only after the delay.
  const goLive = group.configDelaySecs === 0 && settings.configDelaySecs !== undefined && settings.configDelaySecs !== 0 ? settings.configDelaySecs : null;
  const queuedNow = queuedGroupSettings(group);
  const toApply: GroupSettings = {};
  for (const [field, value] of Object.entries(settings) as Array<[GroupSettingKey, unknown]>) {
    if (field === "configDelaySecs" && goLive !== null) continue;
    const queuedValue = (queuedNow as Record<string, unknown>)[field];
    if (queuedValue !== undefined && sameValue(queuedValue, value)) continue; // already queued as wanted
    (toApply as Record<string, unknown>)[field] = value;
  }
  const conflicting = conflicts(group);
  let groupReconfigured = false;
  let groupQueuedNow = false;
  if (mayChange) {
    const toQueue: GroupSettings = {};
    if (!isEmpty(toApply)) {
      const all = await configureGroupIx(groupKey, admin.publicKey, toApply);
      if (await takenAtOnce([all])) {
        await send("configure_group", [all]);
        groupReconfigured = true;
      } else {
        // Some setting must wait: ask the program about each, apply the rest at once.
        const atOnce: GroupSettings = {};
        for (const [field, value] of Object.entries(toApply)) {
          const one = { [field]: value } as GroupSettings;
          const target = (await takenAtOnce([await configureGroupIx(groupKey, admin.publicKey, one)])) ? atOnce : toQueue;
          Object.assign(target, one);
        }
        if (!isEmpty(atOnce)) {
          await send(`configure_group (${groupFields(atOnce)})`, [await configureGroupIx(groupKey, admin.publicKey, atOnce)]);
          groupReconfigured = true;
        }
      }
    }
    if (!isEmpty(toQueue) || conflicting.length > 0) {
      // One queued change per group: the queue becomes what was queued (less what the config
      // contradicts) plus what must wait now.
      const kept = Object.fromEntries(Object.entries(queuedNow).filter(([field]) => !conflicting.includes(field))) as GroupSettings;
      const next: GroupSettings = { ...kept, ...toQueue };
      const instructions: TransactionInstruction[] = [];
      const names: string[] = [];
      if (group.pending.applyAfterTs !== 0n) {
        warn(
          `group ${groupKey.toBase58()}: cancelled its queued change (${describeDifferences(asDifferences(groupChangeFields(group)))}, ` +
            `due ${isoTime(configChangeDue(group, group.pending.applyAfterTs))})` +
            (isEmpty(next) ? "; the config sets those settings otherwise" : "; queued again with the config's settings, so its delay restarts"),
        );
        instructions.push(await cancelGroupConfigIx(groupKey, admin.publicKey));
        names.push("cancel_group_config");
      }
      if (!isEmpty(next)) {
        instructions.push(await queueGroupConfigIx(groupKey, admin.publicKey, next));
        names.push(`queue_group_config (${groupFields(next)})`);
        groupQueuedNow = true;
      }
      await send(names.join(" + "), instructions);
    }
    if (signatures.length > 0) group = await readGroup();
  }
  const groupQueued = group.pending.applyAfterTs !== 0n ? await queuedReport(configChangeDue(group, group.pending.applyAfterTs), groupChangeFields(group)) : null;
  let groupAction: DeployAction;
  if (created) groupAction = "created";
  else if (groupQueuedNow) groupAction = "queued";
  else if (groupReconfigured || (goLive !== null && mayChange)) groupAction = "reconfigured";
  else if (!mayChange && (!isEmpty(toApply) || goLive !== null || conflicting.length > 0)) groupAction = "differs";
  else if (groupApplied) groupAction = "applied";
  else if (groupQueued) groupAction = "pending";
  else groupAction = "unchanged";
  log(`group ${groupKey.toBase58()}: ${groupAction}`);
  for (const d of groupDiffs) log(`  ${d.field}: on chain ${d.onChain}, config ${d.wanted}`);
  if (goLive !== null && mayChange) log(`  configDelaySecs ${goLive} is set after the banks are listed (the group goes live then)`);
  if (groupQueued) {
    const what = groupQueuedNow ? "queued" : "already queued";
    warn(`group ${groupKey.toBase58()}: ${describeDifferences(groupQueued.changes)} ${what}: ${waitNote(groupQueued, "apply_group_config")}`);
  }
  if (!mayChange && conflicting.length > 0) {
    log(`  the queued change sets ${conflicting.join(", ")} otherwise than the config (applyConfigChanges cancels it)`);
  }

  // The banks, in config order (bank indices follow creation order).
  const banks: DeployReport["banks"] = [];
  for (const spec of config.banks) {
    const address = bankAddress(groupKey, spec.mint, programId);
    const existing = await chain.getAccount(address);
    const readBank = async (): Promise<Bank> => bankFromAccount((await chain.getAccount(address))!, programId);
    const label = `bank ${spec.name} (${address.toBase58()})`;
    let action: DeployAction;
    let differences: FieldDifference[] = [];
    let queuedHere = false;
    const notes: string[] = [];
    if (!existing) {
      let tokenProgram = spec.tokenProgram;
      if (!tokenProgram) {
        const mint = await chain.getAccount(spec.mint);
        if (!mint) throw new Error(`bank ${spec.name}: mint ${spec.mint.toBase58()} does not exist`);
        tokenProgram = mint.owner;
      }
      const { instruction } = await addBankIx({
        group: groupKey,
        admin: admin.publicKey,
        payer: payer.publicKey,
        mint: spec.mint,
        tokenProgram,
        oracle: spec.oracle,
        config: spec.config,
      });
      await send(`add_bank ${spec.name}`, [instruction]);
      action = "created";
      queuedHere = true; // in a live group add_bank queues the bank's configuration
    } else {
      let bank = bankFromAccount(existing, programId);
      const queued = bank.pending.applyAfterTs !== 0n;
      if (queued && queuedAsWanted(bank, spec)) {
        if (options.applyDueChanges && configChangeIsDue(group, bank.pending.applyAfterTs, await now())) {
          await send(`apply_bank_config ${spec.name}`, [await applyBankConfigIx({ group: groupKey, bank: address, oracle: bank.pending.oracle })]);
          action = "applied";
          bank = await readBank();
        } else {
          action = "pending";
        }
        differences = bankDifferences(bank, spec);
      } else {
        differences = bankDifferences(bank, spec);
        if (queued) {
          notes.push(`a change the config does not have is queued (${describeDifferences(asDifferences(bankChangeFields(bank)))}, due ${isoTime(configChangeDue(group, bank.pending.applyAfterTs))})`);
        }
        if (differences.length === 0 && !queued) {
          action = "unchanged";
        } else if (!options.applyConfigChanges) {
          action = "differs";
        } else {
          const instructions: TransactionInstruction[] = [];
          const names: string[] = [];
          if (queued) {
            warn(`${label}: cancelled its queued change (${describeDifferences(asDifferences(bankChangeFields(bank)))}, due ${isoTime(configChangeDue(group, bank.pending.applyAfterTs))}): the config differs`);
            instructions.push(await cancelBankConfigIx({ group: groupKey, admin: admin.publicKey, bank: address }));
            names.push(`cancel_bank_config ${spec.name}`);
          }
          action = "reconfigured";
          if (differences.length > 0) {
            const args = { group: groupKey, admin: admin.publicKey, bank: address, oracle: spec.oracle, config: spec.config };
            const configure = await configureBankIx(args);
            if (await takenAtOnce([...instructions, configure])) {
              instructions.push(configure);
              names.push(`configure_bank ${spec.name}`);
            } else {
              instructions.push(await queueBankConfigIx(args));
              names.push(`queue_bank_config ${spec.name}`);
              action = "queued";
              queuedHere = true;
            }
          }
          await send(names.join(" + "), instructions);
        }
      }
    }
    const bank = await readBank();
    const queued = bank.pending.applyAfterTs !== 0n ? await queuedReport(configChangeDue(group, bank.pending.applyAfterTs), bankChangeFields(bank)) : null;
    log(`${label}: ${action}`);
    for (const d of differences) log(`  ${d.field}: on chain ${d.onChain}, config ${d.wanted}`);
    for (const note of notes) log(`  ${note}`);
    if (queued && (action === "created" || action === "queued" || action === "pending")) {
      const what = action === "created" ? "created closed (deposit and borrow limits 0); its configuration is queued" : queuedHere ? "queued" : "already queued";
      const changes = action === "created" ? "" : ` ${describeDifferences(queued.changes)}`;
      warn(`${label}:${changes} ${what}: ${waitNote(queued, "apply_bank_config")}`);
    }
    banks.push({ name: spec.name, mint: spec.mint, address, action, differences, queued });
  }

  // The perp markets, after the banks they settle in.
  const context: DeployContext = {
    chain,
    admin,
    payer,
    programId,
    groupKey,
    readGroup,
    options,
    log,
    warn,
    send,
    takenAtOnce,
    now,
    queuedReport,
    waitNote,
  };
  const perpMarkets = await deployPerpMarkets(context, config.perpMarkets ?? []);

  // Live from now on (the config's delay, set after the banks and perp markets).
  if (goLive !== null && mayChange) {
    await send(`configure_group (configDelaySecs ${goLive}: the group goes live)`, [
      await configureGroupIx(groupKey, admin.publicKey, { configDelaySecs: goLive }),
    ]);
    group = await readGroup();
    log(`group ${groupKey.toBase58()}: live; changes that can hurt positions now wait ${group.configDelaySecs} s`);
  }
  const safety = groupSafety(group);
  if (safety.warning) warn(`group ${groupKey.toBase58()}: ${safety.warning}`);
  return { group: { address: groupKey, action: groupAction, differences: groupDiffs, queued: groupQueued }, banks, perpMarkets, signatures, warnings };
}
