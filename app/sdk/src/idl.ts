/**
 * The program's interface, from the committed IDL (`app/idl/cross_margin.json` and its type
 * `app/idl/cross_margin.ts`). Everything else in the SDK reads instruction layouts, account
 * layouts, seeds, events and error codes from here, so a regenerated IDL is picked up by
 * rebuilding: nothing about the program is written down twice.
 */
import { BorshCoder, Program, type Idl, type IdlField, type IdlType, type Provider } from "@anchor-lang/core";
import BN from "bn.js";
import { Connection, PublicKey } from "@solana/web3.js";

import idlJson from "../../idl/cross_margin.json";
import type { CrossMargin } from "../../idl/cross_margin";

export type { CrossMargin };

/** The raw IDL (snake_case names, as the program crate spells them). */
export const IDL: CrossMargin = idlJson as unknown as CrossMargin;

/** The raw IDL as Anchor's generic `Idl`, for code that walks it by name. */
export const RAW_IDL: Idl = idlJson as unknown as Idl;

export const PROGRAM_ID: PublicKey = new PublicKey(idlJson.address);

/**
 * An Anchor `Program` used only to build instructions and decode data (the SDK never lets it
 * send anything). Its provider points at an address nobody listens on; builders pass every
 * account explicitly (`accountsStrict`), so nothing is ever fetched through it.
 */
export function offlineProgram(programId: PublicKey = PROGRAM_ID): Program<CrossMargin> {
  const provider: Provider = { connection: new Connection("http://127.0.0.1:1", "processed") };
  const idl = { ...IDL, address: programId.toBase58() } as CrossMargin;
  return new Program<CrossMargin>(idl, provider);
}

let defaultProgram: Program<CrossMargin> | undefined;

/** The shared offline program for the IDL's own program id. */
export function program(): Program<CrossMargin> {
  defaultProgram ??= offlineProgram();
  return defaultProgram;
}

/** The IDL's coder (camelCase names, as `Program` converts them). */
export function coder(): BorshCoder {
  return program().coder as BorshCoder;
}

/** Bytes of a `bytes` constant of the IDL (the seeds are declared with `#[constant]`). */
export function idlBytesConstant(name: string): Buffer {
  const constant = idlJson.constants.find((c) => c.name === name);
  if (!constant || constant.type !== "bytes") {
    throw new Error(`IDL has no bytes constant ${name}`);
  }
  return Buffer.from(JSON.parse(constant.value) as number[]);
}

/** The fields of a struct type of the IDL, camelCase, in layout order (e.g. `"bankConfig"`). */
export function idlStructFields(name: string): Array<IdlField & { type: IdlType }> {
  const def = program().idl.types?.find((t) => t.name === name);
  if (!def || def.type.kind !== "struct" || !Array.isArray(def.type.fields)) throw new Error(`IDL has no struct type ${name}`);
  return def.type.fields as Array<IdlField & { type: IdlType }>;
}

/**
 * The SDK's form of a value the IDL's coder produces: u64/i64 (`BN`) as `bigint`, byte arrays
 * (`number[]`) as `Uint8Array`, public keys as they are, structs field by field. Types taken
 * from the IDL (`IdlTypes<CrossMargin>[...]`) map through this instead of being written again.
 */
export type Native<T> = T extends BN
  ? bigint
  : T extends PublicKey
    ? PublicKey
    : T extends number[]
      ? Uint8Array
      : T extends Array<infer U>
        ? Array<Native<U>>
        : T extends object
          ? { [K in keyof T]: Native<T[K]> }
          : T;

/** A public key from any copy of @solana/web3.js (`instanceof` fails across copies). */
function isPublicKeyLike(x: unknown): boolean {
  return typeof x === "object" && x !== null && typeof (x as { toBase58?: unknown }).toBase58 === "function";
}

/** A decoded IDL value in its SDK form (see `Native`). Number arrays are byte arrays here. */
export function fromIdl<T>(value: T): Native<T> {
  const convert = (v: unknown): unknown => {
    if (BN.isBN(v)) return BigInt((v as BN).toString());
    if (isPublicKeyLike(v)) return v;
    if (Array.isArray(v)) return v.every((x) => typeof x === "number") ? Uint8Array.from(v as number[]) : v.map(convert);
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x)]));
    return v;
  };
  return convert(value) as Native<T>;
}

/** The inverse of `fromIdl`: an SDK value as the IDL's coder encodes it. */
export function toIdl<T>(value: Native<T>): T {
  const convert = (v: unknown): unknown => {
    if (typeof v === "bigint") return new BN(v.toString());
    if (isPublicKeyLike(v)) return v;
    if (v instanceof Uint8Array) return Array.from(v);
    if (Array.isArray(v)) return v.map(convert);
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x)]));
    return v;
  };
  return convert(value) as T;
}
