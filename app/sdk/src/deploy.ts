/**
 * Creates a group and its banks from a config file, idempotently: what exists on chain is
 * checked and skipped; a group or bank that exists with other settings is reported field by
 * field and only reconfigured when `applyConfigChanges` is set. Running it twice sends nothing
 * the second time. `migrations/deploy.ts` runs it against any cluster URL.
 */
import type { IdlType } from "@anchor-lang/core";
import { PublicKey, type Signer, type TransactionInstruction } from "@solana/web3.js";

import { bankFromAccount, groupFromAccount, OracleKind, type Bank, type BankConfig, type Group } from "./accounts";
import type { Chain } from "./chain";
import { idlStructFields, PROGRAM_ID } from "./idl";
import {
  addBankIx,
  bankConfigOf,
  configureBankIx,
  configureGroupIx,
  createGroupIx,
  type GroupSettings,
} from "./instructions";
import { bankAddress, groupAddress } from "./pda";

// ---------------------------------------------------------------------------------------------
// The config file (JSON)
// ---------------------------------------------------------------------------------------------

/** u64 values may be written as JSON numbers (when exact) or decimal strings. */
export type U64Json = number | string;

/** A `BankConfig` value as the config file writes it. */
type ConfigJson<T> = T extends bigint ? U64Json : T extends Uint8Array ? string : T;

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
  /** Optional group settings (`configure_group`); absent ones are left as they are. */
  group?: { liquidationEndBufferBps?: number; bankruptcyDustQuote?: U64Json };
  banks: BankDeployJson[];
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
  groupSettings: Pick<GroupSettings, "liquidationEndBufferBps" | "bankruptcyDustQuote">;
  banks: BankDeploySpec[];
}

class ConfigError extends Error {
  constructor(path: string, problem: string) {
    super(`deploy config: ${path}: ${problem}`);
    this.name = "ConfigError";
  }
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(path, "must be an object");
  return value as Record<string, unknown>;
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ConfigError(`${path}.${key}`, `unknown field (expected one of ${allowed.join(", ")})`);
  }
}

function pubkey(value: unknown, path: string): PublicKey {
  if (typeof value !== "string") throw new ConfigError(path, "must be a base58 address");
  try {
    return new PublicKey(value);
  } catch {
    throw new ConfigError(path, `not a valid address: ${value}`);
  }
}

function u32(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ConfigError(path, "must be an integer in [0, 2^32)");
  }
  return value;
}

function u64(value: unknown, path: string): bigint {
  let parsed: bigint;
  if (typeof value === "number" && Number.isSafeInteger(value)) parsed = BigInt(value);
  else if (typeof value === "string" && /^[0-9]+$/.test(value)) parsed = BigInt(value);
  else throw new ConfigError(path, "must be a non-negative integer (a decimal string above 2^53)");
  if (parsed >= 1n << 64n) throw new ConfigError(path, "does not fit in a u64");
  return parsed;
}

function bytes(value: unknown, length: number, path: string): Uint8Array {
  if (typeof value !== "string") throw new ConfigError(path, "must be a hex string");
  const hex = value.startsWith("0x") ? value.slice(2) : value;
  if (hex.length !== 2 * length || !/^[0-9a-fA-F]*$/.test(hex)) throw new ConfigError(path, `must be ${length} bytes of hex`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** One field of the config file, read by its IDL type. */
function configValue(type: IdlType, value: unknown, path: string): unknown {
  if (type === "u32") return u32(value, path);
  if (type === "u64") return u64(value, path);
  if (typeof type === "object" && "array" in type && type.array[0] === "u8" && typeof type.array[1] === "number") {
    return bytes(value, type.array[1], path);
  }
  throw new Error(`deploy config: ${path}: the IDL type ${JSON.stringify(type)} has no config-file form`);
}

/** A `BankConfig` from the file: every field the IDL's `BankConfig` has (its padding aside). */
function parseBankConfig(value: unknown, path: string): BankConfig {
  const obj = record(value, path);
  const fields = idlStructFields("bankConfig").filter((f) => f.name !== "padding");
  onlyKeys(
    obj,
    fields.map((f) => f.name),
    path,
  );
  const kind = obj["oracleKind"];
  if (kind !== "pythPull" && kind !== "pythLegacy") throw new ConfigError(`${path}.oracleKind`, 'must be "pythPull" or "pythLegacy"');
  const config = Object.fromEntries(
    fields.map((f) => [
      f.name,
      f.name === "oracleKind" ? (kind === "pythPull" ? OracleKind.PythPull : OracleKind.PythLegacy) : configValue(f.type, obj[f.name], `${path}.${f.name}`),
    ]),
  );
  return config as BankConfig;
}

/** Validates a parsed JSON config (unknown fields are errors: a typo must not go unnoticed). */
export function parseDeployConfig(json: unknown): DeployConfig {
  const root = record(json, "config");
  onlyKeys(root, ["groupNum", "pythReceiverProgram", "pythLegacyProgram", "group", "banks", "$comment"], "config");
  const groupSettings: DeployConfig["groupSettings"] = {};
  if (root["group"] !== undefined) {
    const group = record(root["group"], "config.group");
    onlyKeys(group, ["liquidationEndBufferBps", "bankruptcyDustQuote"], "config.group");
    if (group["liquidationEndBufferBps"] !== undefined) {
      groupSettings.liquidationEndBufferBps = u32(group["liquidationEndBufferBps"], "config.group.liquidationEndBufferBps");
    }
    if (group["bankruptcyDustQuote"] !== undefined) {
      groupSettings.bankruptcyDustQuote = u64(group["bankruptcyDustQuote"], "config.group.bankruptcyDustQuote");
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

export type DeployAction = "created" | "unchanged" | "differs" | "reconfigured";

export interface DeployReport {
  group: { address: PublicKey; action: DeployAction; differences: FieldDifference[] };
  banks: Array<{ name: string; mint: PublicKey; address: PublicKey; action: DeployAction; differences: FieldDifference[] }>;
  /** Signatures of the transactions sent, in order. Empty when nothing needed doing. */
  signatures: string[];
}

export interface DeployOptions {
  /** Pays for new accounts and fees; defaults to the admin. */
  payer?: Signer;
  /** Call configure_group / configure_bank where the chain differs from the config. */
  applyConfigChanges?: boolean;
  log?: (line: string) => void;
  programId?: PublicKey;
}

const show = (value: unknown): string =>
  value instanceof PublicKey ? value.toBase58() : value instanceof Uint8Array ? Buffer.from(value).toString("hex") : String(value);

/**
 * A public key from any copy of @solana/web3.js. Two copies in one process (an app that bundles
 * its own, or `anchor migrate`'s host script next to this SDK) make `instanceof` fail, so keys
 * compare by value.
 */
function isPublicKeyLike(x: unknown): x is { toBase58(): string } {
  return typeof x === "object" && x !== null && typeof (x as { toBase58?: unknown }).toBase58 === "function";
}

function sameValue(a: unknown, b: unknown): boolean {
  if (isPublicKeyLike(a) && isPublicKeyLike(b)) return a.toBase58() === b.toBase58();
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  return a === b;
}

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

function groupDifferences(group: Group, config: DeployConfig): { differences: FieldDifference[]; settings: GroupSettings } {
  const differences: FieldDifference[] = [];
  const settings: GroupSettings = {};
  const compare = <K extends keyof GroupSettings & keyof Group>(field: K, wanted: GroupSettings[K] | undefined) => {
    if (wanted === undefined || sameValue(group[field], wanted)) return;
    differences.push({ field, onChain: show(group[field]), wanted: show(wanted) });
    settings[field] = wanted;
  };
  compare("pythReceiverProgram", config.pythReceiverProgram);
  compare("pythLegacyProgram", config.pythLegacyProgram);
  compare("liquidationEndBufferBps", config.groupSettings.liquidationEndBufferBps);
  compare("bankruptcyDustQuote", config.groupSettings.bankruptcyDustQuote);
  return { differences, settings };
}

/**
 * Brings the chain to `config`: creates the group (admin = `admin`, seeds `groupNum`) and every
 * missing bank; reports existing ones that differ, and reconfigures them only with
 * `applyConfigChanges`. Bank mints and oracle accounts must already exist.
 */
export async function deployFromConfig(chain: Chain, admin: Signer, config: DeployConfig, options: DeployOptions = {}): Promise<DeployReport> {
  const payer = options.payer ?? admin;
  const log = options.log ?? (() => undefined);
  const programId = options.programId ?? PROGRAM_ID;
  const signatures: string[] = [];
  const send = async (what: string, instructions: TransactionInstruction[]) => {
    const sent = await chain.sendTransaction(instructions, payer, [admin]);
    signatures.push(sent.signature);
    log(`  sent ${what}: ${sent.signature}`);
  };

  // The group.
  const groupKey = groupAddress(admin.publicKey, config.groupNum, programId);
  let groupAccount = await chain.getAccount(groupKey);
  let groupAction: DeployAction;
  if (!groupAccount) {
    const { instruction } = await createGroupIx({
      admin: admin.publicKey,
      payer: payer.publicKey,
      groupNum: config.groupNum,
      pythReceiverProgram: config.pythReceiverProgram,
      pythLegacyProgram: config.pythLegacyProgram,
    });
    await send(`create_group ${config.groupNum}`, [instruction]);
    groupAction = "created";
    groupAccount = await chain.getAccount(groupKey);
    if (!groupAccount) throw new Error(`group ${groupKey.toBase58()} missing after create_group`);
  } else {
    groupAction = "unchanged";
  }
  let group = groupFromAccount(groupAccount, programId);
  if (!group.admin.equals(admin.publicKey)) {
    throw new Error(`group ${groupKey.toBase58()} has admin ${group.admin.toBase58()}, not ${admin.publicKey.toBase58()}`);
  }
  const { differences: groupDiffs, settings } = groupDifferences(group, config);
  if (groupDiffs.length > 0) {
    // Settings that a new group does not take at creation are part of creating it.
    if (groupAction === "created" || options.applyConfigChanges) {
      await send("configure_group", [await configureGroupIx(groupKey, admin.publicKey, settings)]);
      if (groupAction !== "created") groupAction = "reconfigured";
      group = groupFromAccount((await chain.getAccount(groupKey))!, programId);
    } else {
      groupAction = "differs";
    }
  }
  log(`group ${groupKey.toBase58()}: ${groupAction}`);
  for (const d of groupDiffs) log(`  ${d.field}: on chain ${d.onChain}, config ${d.wanted}`);

  // The banks, in config order (bank indices follow creation order).
  const banks: DeployReport["banks"] = [];
  for (const spec of config.banks) {
    const address = bankAddress(groupKey, spec.mint, programId);
    const existing = await chain.getAccount(address);
    let action: DeployAction;
    let differences: FieldDifference[] = [];
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
    } else {
      const bank = bankFromAccount(existing, programId);
      differences = bankDifferences(bank, spec);
      if (differences.length === 0) {
        action = "unchanged";
      } else if (options.applyConfigChanges) {
        const instruction = await configureBankIx({ group: groupKey, admin: admin.publicKey, bank: address, oracle: spec.oracle, config: spec.config });
        await send(`configure_bank ${spec.name}`, [instruction]);
        action = "reconfigured";
      } else {
        action = "differs";
      }
    }
    log(`bank ${spec.name} (${address.toBase58()}): ${action}`);
    for (const d of differences) log(`  ${d.field}: on chain ${d.onChain}, config ${d.wanted}`);
    banks.push({ name: spec.name, mint: spec.mint, address, action, differences });
  }
  return { group: { address: groupKey, action: groupAction, differences: groupDiffs }, banks, signatures };
}
