/**
 * The program's interface, from the committed IDL (`app/idl/cross_margin.json` and its type
 * `app/idl/cross_margin.ts`). Everything else in the SDK reads instruction layouts, account
 * layouts, seeds, events and error codes from here, so a regenerated IDL is picked up by
 * rebuilding: nothing about the program is written down twice.
 */
import { BorshCoder, Program, type Idl, type Provider } from "@anchor-lang/core";
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
