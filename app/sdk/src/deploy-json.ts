/**
 * Reading the deploy config file (JSON): the checks every field goes through, each error naming
 * the field's path; and comparing its values with the chain's. Shared by the group and bank
 * part (`deploy.ts`) and the perp markets (`deploy-perps.ts`).
 */
import type { IdlType } from "@anchor-lang/core";
import { PublicKey } from "@solana/web3.js";

import { OracleKind } from "./accounts";
import { idlStructFields } from "./idl";

/** u64 values may be written as JSON numbers (when exact) or decimal strings. */
export type U64Json = number | string;

/** A config struct's value as the config file writes it. */
export type ConfigJson<T> = T extends bigint ? U64Json : T extends Uint8Array ? string : T;

export class ConfigError extends Error {
  constructor(path: string, problem: string) {
    super(`deploy config: ${path}: ${problem}`);
    this.name = "ConfigError";
  }
}

export function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(path, "must be an object");
  return value as Record<string, unknown>;
}

export function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ConfigError(`${path}.${key}`, `unknown field (expected one of ${allowed.join(", ")})`);
  }
}

export function pubkey(value: unknown, path: string): PublicKey {
  if (typeof value !== "string") throw new ConfigError(path, "must be a base58 address");
  try {
    return new PublicKey(value);
  } catch {
    throw new ConfigError(path, `not a valid address: ${value}`);
  }
}

export function u32(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ConfigError(path, "must be an integer in [0, 2^32)");
  }
  return value;
}

export function u64(value: unknown, path: string): bigint {
  let parsed: bigint;
  if (typeof value === "number" && Number.isSafeInteger(value)) parsed = BigInt(value);
  else if (typeof value === "string" && /^[0-9]+$/.test(value)) parsed = BigInt(value);
  else throw new ConfigError(path, "must be a non-negative integer (a decimal string above 2^53)");
  if (parsed >= 1n << 64n) throw new ConfigError(path, "does not fit in a u64");
  return parsed;
}

export function bytes(value: unknown, length: number, path: string): Uint8Array {
  if (typeof value !== "string") throw new ConfigError(path, "must be a hex string");
  const hex = value.startsWith("0x") ? value.slice(2) : value;
  if (hex.length !== 2 * length || !/^[0-9a-fA-F]*$/.test(hex)) throw new ConfigError(path, `must be ${length} bytes of hex`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

function u8(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new ConfigError(path, "must be an integer in [0, 256)");
  }
  return value;
}

/** One field of the config file, read by its IDL type. */
function configValue(type: IdlType, value: unknown, path: string): unknown {
  if (type === "u8") return u8(value, path);
  if (type === "u32") return u32(value, path);
  if (type === "u64") return u64(value, path);
  if (typeof type === "object" && "array" in type && type.array[0] === "u8" && typeof type.array[1] === "number") {
    return bytes(value, type.array[1], path);
  }
  throw new Error(`deploy config: ${path}: the IDL type ${JSON.stringify(type)} has no config-file form`);
}

/**
 * A config struct that pins an oracle (`bankConfig`, `perpMarketConfig`) from the file: every
 * field of the IDL's struct but its padding, numbers by their IDL type, byte arrays as hex and
 * the oracle kind by name ("pythPull" or "pythLegacy").
 */
export function parseOracleConfig<T>(idlName: "bankConfig" | "perpMarketConfig", value: unknown, path: string): T {
  const obj = record(value, path);
  const fields = idlStructFields(idlName).filter((f) => f.name !== "padding");
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
  return config as T;
}

/**
 * A public key from any copy of @solana/web3.js. Two copies in one process (an app that bundles
 * its own, or `anchor migrate`'s host script next to this SDK) make `instanceof` fail, so keys
 * compare by value.
 */
function isPublicKeyLike(x: unknown): x is { toBase58(): string } {
  return typeof x === "object" && x !== null && typeof (x as { toBase58?: unknown }).toBase58 === "function";
}

/** Whether a value on chain equals the config's: keys by value, byte arrays by content. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (isPublicKeyLike(a) && isPublicKeyLike(b)) return a.toBase58() === b.toBase58();
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  return a === b;
}
