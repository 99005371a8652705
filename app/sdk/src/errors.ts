/**
 * The program's named errors (the IDL's `errors`, codes 6000+), Anchor's own framework errors,
 * and the decoding of both from whatever a failed send or simulation hands back: a structured
 * `InstructionError` with a `Custom` code, a web3.js `SendTransactionError`, an error message,
 * or the transaction logs.
 */
import { AnchorError, LangErrorCode, LangErrorMessage, ProgramErrorStack } from "@anchor-lang/core";
import { PublicKey } from "@solana/web3.js";

import idlJson from "../../idl/cross_margin.json";
import { PROGRAM_ID, type CrossMargin } from "./idl";

/** A named error of the program, spelled as in `error.rs` (e.g. `InitHealthNegative`). */
export type MarginErrorName = Capitalize<NonNullable<CrossMargin["errors"]>[number]["name"]>;

export interface ErrorDefinition {
  code: number;
  name: string;
  message: string;
}

/** Every error of the program, by code. */
export const MARGIN_ERRORS: ReadonlyMap<number, ErrorDefinition> = new Map(
  idlJson.errors.map((e) => [e.code, { code: e.code, name: e.name, message: e.msg }]),
);

const codeByName = new Map([...MARGIN_ERRORS.values()].map((e) => [e.name, e.code]));

/** The numeric code of a named program error. */
export function errorCode(name: MarginErrorName): number {
  const code = codeByName.get(name);
  if (code === undefined) throw new Error(`unknown error ${name}`);
  return code;
}

const anchorNameByCode = new Map(Object.entries(LangErrorCode).map(([name, code]) => [code, name]));

/** Who defined the error: the program (`error.rs`), Anchor's framework (account constraints,
 * deserialization; codes 100-5999 raised by the program), or another program. */
export type ErrorOrigin = "program" | "anchor" | "other";

export interface DecodedError {
  code: number;
  /** The error's name: the program's or Anchor's; `Custom(<code>)` for other programs. */
  name: string;
  message: string;
  origin: ErrorOrigin;
  /** The program that failed, when the logs say. */
  program: PublicKey | null;
  /** Index of the failing instruction in its transaction, when known. */
  instructionIndex: number | null;
}

/** A transaction that failed, on send or in a simulation. */
export class TransactionFailedError extends Error {
  readonly logs: string[];
  readonly decoded: DecodedError | null;
  readonly raw: unknown;
  readonly computeUnits: number | null;

  constructor(raw: unknown, logs: string[], computeUnits: number | null, programId: PublicKey = PROGRAM_ID) {
    const decoded = decodeError(raw, logs, programId);
    super(decoded ? `${decoded.name} (${decoded.code}): ${decoded.message}` : `transaction failed: ${describe(raw)}`);
    this.name = "TransactionFailedError";
    this.logs = logs;
    this.decoded = decoded;
    this.raw = raw;
    this.computeUnits = computeUnits;
  }

  /** The named error, if the program (or Anchor, inside it) raised one. */
  get errorName(): string | null {
    return this.decoded?.name ?? null;
  }
}

function describe(raw: unknown): string {
  if (raw instanceof Error) return raw.message;
  try {
    return JSON.stringify(raw);
  } catch {
    return String(raw);
  }
}

function definitionFor(code: number, failing: PublicKey | null, programId: PublicKey): Omit<DecodedError, "instructionIndex"> {
  const ours = failing === null || failing.equals(programId);
  const own = MARGIN_ERRORS.get(code);
  if (ours && own) return { ...own, origin: "program", program: failing };
  const anchorName = anchorNameByCode.get(code);
  if (ours && anchorName !== undefined && code < 6000) {
    return { code, name: anchorName, message: LangErrorMessage.get(code) ?? anchorName, origin: "anchor", program: failing };
  }
  const where = failing ? ` in program ${failing.toBase58()}` : "";
  return { code, name: `Custom(${code})`, message: `custom program error ${code}${where}`, origin: "other", program: failing };
}

interface StructuredCustom {
  code: number;
  index: number | null;
}

/** `{ InstructionError: [index, { Custom: code }] }`, as RPC nodes and web3.js report it. */
function structuredCustom(raw: unknown): StructuredCustom | null {
  if (typeof raw !== "object" || raw === null) return null;
  const ie = (raw as { InstructionError?: unknown }).InstructionError;
  if (!Array.isArray(ie) || ie.length !== 2) return null;
  const [index, inner] = ie as [unknown, unknown];
  if (typeof inner !== "object" || inner === null) return null;
  const custom = (inner as { Custom?: unknown }).Custom;
  if (typeof custom !== "number") return null;
  return { code: custom, index: typeof index === "number" ? index : null };
}

const HEX_CUSTOM = /custom program error: 0x([0-9a-fA-F]+)/;
const FAILED_LINE = /^Program (\w+) failed: custom program error: 0x([0-9a-fA-F]+)/;

/** The innermost program that failed with a custom error, from the logs. */
function failingFromLogs(logs: readonly string[]): { program: PublicKey; code: number } | null {
  for (const line of logs) {
    const match = FAILED_LINE.exec(line);
    if (match) return { program: new PublicKey(match[1]!), code: parseInt(match[2]!, 16) };
  }
  return null;
}

/**
 * Decodes a failure into the error that caused it. `raw` may be a structured transaction error,
 * a web3.js `SendTransactionError` (or any error whose message carries a custom code), or
 * nothing; `logs` are the transaction's logs if known. Returns null when no program error can
 * be found (e.g. a fee-payer or blockhash problem).
 */
export function decodeError(raw: unknown, logs: readonly string[] = [], programId: PublicKey = PROGRAM_ID): DecodedError | null {
  const allLogs = [...logs, ...logsOf(raw)];
  const structured = structuredCustom(raw) ?? structuredCustom((raw as { transactionError?: unknown } | null)?.transactionError);
  const index = structured?.index ?? null;

  // Anchor's own log line names the error and its number.
  const anchorError = safeAnchorParse(allLogs);
  if (anchorError) {
    const code = anchorError.error.errorCode.number;
    const failing = safeProgram(anchorError);
    return { ...definitionFor(code, failing, programId), instructionIndex: index };
  }
  const failing = failingFromLogs(allLogs);
  if (failing) return { ...definitionFor(failing.code, failing.program, programId), instructionIndex: index };
  if (structured) return { ...definitionFor(structured.code, null, programId), instructionIndex: index };
  const message = raw instanceof Error ? raw.message : typeof raw === "string" ? raw : "";
  const hex = HEX_CUSTOM.exec(message);
  if (hex) return { ...definitionFor(parseInt(hex[1]!, 16), null, programId), instructionIndex: index };
  return null;
}

function logsOf(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null) return [];
  const logs = (raw as { logs?: unknown }).logs;
  return Array.isArray(logs) && logs.every((l) => typeof l === "string") ? (logs as string[]) : [];
}

function safeAnchorParse(logs: string[]): AnchorError | null {
  try {
    return AnchorError.parse(logs);
  } catch {
    return null;
  }
}

function safeProgram(error: AnchorError): PublicKey | null {
  try {
    return error.program;
  } catch {
    const stack = ProgramErrorStack.parse(error.logs).stack;
    return stack[stack.length - 1] ?? null;
  }
}

/** Whether `error` is the program's named error `name`. */
export function isMarginError(error: unknown, name: MarginErrorName): boolean {
  const decoded = error instanceof TransactionFailedError ? error.decoded : decodeError(error);
  return decoded?.origin === "program" && decoded.name === name;
}
