/**
 * Unsigned v0 transactions as dapps send them: a compute-unit limit from a simulation plus a
 * margin, a priority fee (given, or from the cluster's recent prioritization fees) and optional
 * address lookup tables. The chain must be a `TransactionChain` (`ConnectionChain` is).
 */
import {
  ComputeBudgetProgram,
  TransactionMessage,
  VersionedTransaction,
  type AddressLookupTableAccount,
  type PublicKey,
  type TransactionInstruction,
} from "@solana/web3.js";

import type { Chain, SentTransaction } from "./chain";

/** What building and sending v0 transactions needs beyond `Chain`. */
export interface TransactionChain extends Chain {
  latestBlockhash(): Promise<{ blockhash: string; lastValidBlockHeight: number }>;
  /** Recent prioritization fees (micro-lamports per CU) paid by transactions that lock any of
   * `writableAccounts` for writing (`getRecentPrioritizationFees`). */
  recentPrioritizationFees(writableAccounts: PublicKey[]): Promise<number[]>;
  /** Sends a signed transaction's wire bytes and waits for confirmation, like `sendTransaction`
   * (throws `TransactionFailedError` with the program's named error). */
  sendSignedTransaction(serialized: Uint8Array, lastValidBlockHeight: number): Promise<SentTransaction>;
}

export function isTransactionChain(chain: Chain): chain is TransactionChain {
  const c = chain as Partial<TransactionChain>;
  return typeof c.latestBlockhash === "function" && typeof c.recentPrioritizationFees === "function" && typeof c.sendSignedTransaction === "function";
}

export const MAX_COMPUTE_UNIT_LIMIT = 1_400_000;

export interface TransactionOptions {
  /** The fee payer; default: the client's wallet. */
  payer?: PublicKey;
  /** The CU limit; default: the simulated units × (1 + `computeUnitMargin`) + `computeUnitHeadroom`. */
  computeUnitLimit?: number;
  /** Default 0.1 (10%). */
  computeUnitMargin?: number;
  /** Default 1,000 CU (the compute-budget instructions themselves, small state differences). */
  computeUnitHeadroom?: number;
  /** Micro-lamports per CU; "auto" (default): the `priorityFeePercentile` of the cluster's
   * recent prioritization fees on the transaction's writable accounts, at most `maxPriorityFee`;
   * 0: no priority-fee instruction. */
  priorityFee?: number | "auto";
  /** Default 75. */
  priorityFeePercentile?: number;
  /** Default 1,000,000 micro-lamports per CU. */
  maxPriorityFee?: number;
  /** Address lookup tables the message may use (`connection.getAddressLookupTable(...)`). */
  lookupTables?: AddressLookupTableAccount[];
}

/** An unsigned v0 transaction and what sending it needs. */
export interface BuiltTransaction {
  transaction: VersionedTransaction;
  lastValidBlockHeight: number;
  computeUnitLimit: number;
  /** Micro-lamports per CU (0: none). */
  priorityFee: number;
  /** The units the simulation used (null when the limit was given). */
  simulatedUnits: number | null;
}

/** The `percentile`th of `values` (nearest rank), 0 for none. */
export function percentile(values: number[], percentile: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** The writable accounts of `instructions` (for the priority-fee query). */
function writableAccounts(instructions: TransactionInstruction[]): PublicKey[] {
  const seen = new Map<string, PublicKey>();
  for (const ix of instructions) for (const key of ix.keys) if (key.isWritable) seen.set(key.pubkey.toBase58(), key.pubkey);
  return [...seen.values()].slice(0, 128);
}

/** The compute-budget instructions of a limit and a fee. */
export function computeBudgetInstructions(computeUnitLimit: number, priorityFee: number): TransactionInstruction[] {
  const instructions = [ComputeBudgetProgram.setComputeUnitLimit({ units: computeUnitLimit })];
  if (priorityFee > 0) instructions.push(ComputeBudgetProgram.setComputeUnitPrice({ microLamports: priorityFee }));
  return instructions;
}

/**
 * Builds an unsigned v0 transaction of `instructions` paid by `payer`: simulates them (with the
 * largest CU limit) for the units they use — a failing simulation throws the program's named
 * error (`TransactionFailedError`) before any wallet is asked to sign — then prepends the
 * compute-budget instructions and compiles the message with the lookup tables.
 */
export async function buildTransaction(
  chain: TransactionChain,
  instructions: TransactionInstruction[],
  payer: PublicKey,
  options: TransactionOptions = {},
): Promise<BuiltTransaction> {
  let computeUnitLimit = options.computeUnitLimit;
  let simulatedUnits: number | null = null;
  if (computeUnitLimit === undefined) {
    const simulated = await chain.simulateTransaction([ComputeBudgetProgram.setComputeUnitLimit({ units: MAX_COMPUTE_UNIT_LIMIT }), ...instructions], payer);
    simulatedUnits = simulated.computeUnits ?? MAX_COMPUTE_UNIT_LIMIT;
    const margin = options.computeUnitMargin ?? 0.1;
    const headroom = options.computeUnitHeadroom ?? 1_000;
    computeUnitLimit = Math.min(MAX_COMPUTE_UNIT_LIMIT, Math.ceil(simulatedUnits * (1 + margin)) + headroom);
  }
  let priorityFee: number;
  if (options.priorityFee === undefined || options.priorityFee === "auto") {
    const fees = await chain.recentPrioritizationFees(writableAccounts(instructions));
    priorityFee = Math.min(options.maxPriorityFee ?? 1_000_000, percentile(fees, options.priorityFeePercentile ?? 75));
  } else {
    priorityFee = options.priorityFee;
  }
  const { blockhash, lastValidBlockHeight } = await chain.latestBlockhash();
  const message = new TransactionMessage({
    payerKey: payer,
    recentBlockhash: blockhash,
    instructions: [...computeBudgetInstructions(computeUnitLimit, priorityFee), ...instructions],
  }).compileToV0Message(options.lookupTables ?? []);
  return { transaction: new VersionedTransaction(message), lastValidBlockHeight, computeUnitLimit, priorityFee, simulatedUnits };
}
