/**
 * What the SDK needs from a chain, and an implementation over a web3.js `Connection` (any
 * cluster URL). Tests provide another over LiteSVM; anything that can read accounts, send and
 * simulate can be one.
 */
import {
  Connection,
  PublicKey,
  Transaction,
  TransactionMessage,
  VersionedTransaction,
  type Commitment,
  type GetProgramAccountsFilter,
  type Signer,
  type TransactionInstruction,
} from "@solana/web3.js";

import type { AccountState } from "./accounts";
import { TransactionFailedError } from "./errors";
import { PROGRAM_ID } from "./idl";
import type { TransactionChain } from "./transaction";

export interface SentTransaction {
  signature: string;
  logs: string[];
  computeUnits: number | null;
  /** Return data of the transaction's last instruction that set some, if any. */
  returnData: Uint8Array | null;
}

export interface SimulatedTransaction {
  logs: string[];
  computeUnits: number | null;
  returnData: { programId: PublicKey; data: Uint8Array } | null;
}

export interface Chain {
  getAccount(address: PublicKey): Promise<AccountState | null>;
  getMultipleAccounts(addresses: PublicKey[]): Promise<Array<AccountState | null>>;
  /** Accounts owned by `programId` matching every filter (memcmp with base58 bytes, dataSize). */
  getProgramAccounts(
    programId: PublicKey,
    filters: GetProgramAccountsFilter[],
  ): Promise<Array<{ address: PublicKey; account: AccountState }>>;
  /** Signs with `feePayer` and `signers`, sends, and waits for confirmation. Throws
   * `TransactionFailedError` if the transaction fails. */
  sendTransaction(instructions: TransactionInstruction[], feePayer: Signer, signers?: Signer[]): Promise<SentTransaction>;
  /** Simulates without signatures. `feePayer` must be an existing system account. Throws
   * `TransactionFailedError` if the simulated transaction fails. */
  simulateTransaction(instructions: TransactionInstruction[], feePayer: PublicKey): Promise<SimulatedTransaction>;
}

function toState(info: { owner: PublicKey; data: Buffer; lamports: number; executable: boolean }): AccountState {
  return { owner: info.owner, data: new Uint8Array(info.data), lamports: BigInt(info.lamports), executable: info.executable };
}

/** Signers, the fee payer first, each once. */
export function uniqueSigners(feePayer: Signer, signers: Signer[]): Signer[] {
  const all = [feePayer, ...signers];
  return all.filter((s, i) => all.findIndex((o) => o.publicKey.equals(s.publicKey)) === i);
}

/** A `Chain` over a web3.js `Connection`; also a `TransactionChain` (v0 transactions signed by
 * a wallet, priority fees). */
export class ConnectionChain implements TransactionChain {
  /** How often `sendTransaction` polls for confirmation. */
  pollIntervalMs = 400;

  constructor(
    readonly connection: Connection,
    readonly commitment: Commitment = "confirmed",
    readonly programId: PublicKey = PROGRAM_ID,
  ) {}

  static fromUrl(url: string, commitment: Commitment = "confirmed"): ConnectionChain {
    return new ConnectionChain(new Connection(url, commitment), commitment);
  }

  async getAccount(address: PublicKey): Promise<AccountState | null> {
    const info = await this.connection.getAccountInfo(address, this.commitment);
    return info ? toState(info) : null;
  }

  async getMultipleAccounts(addresses: PublicKey[]): Promise<Array<AccountState | null>> {
    const result: Array<AccountState | null> = [];
    for (let i = 0; i < addresses.length; i += 100) {
      const infos = await this.connection.getMultipleAccountsInfo(addresses.slice(i, i + 100), this.commitment);
      result.push(...infos.map((info) => (info ? toState(info) : null)));
    }
    return result;
  }

  async getProgramAccounts(programId: PublicKey, filters: GetProgramAccountsFilter[]): Promise<Array<{ address: PublicKey; account: AccountState }>> {
    const accounts = await this.connection.getProgramAccounts(programId, { commitment: this.commitment, filters });
    return accounts.map(({ pubkey, account }) => ({ address: pubkey, account: toState(account) }));
  }

  async sendTransaction(instructions: TransactionInstruction[], feePayer: Signer, signers: Signer[] = []): Promise<SentTransaction> {
    const { blockhash, lastValidBlockHeight } = await this.connection.getLatestBlockhash(this.commitment);
    const tx = new Transaction({ feePayer: feePayer.publicKey, blockhash, lastValidBlockHeight }).add(...instructions);
    tx.sign(...uniqueSigners(feePayer, signers));
    return this.sendSignedTransaction(tx.serialize(), lastValidBlockHeight);
  }

  async latestBlockhash(): Promise<{ blockhash: string; lastValidBlockHeight: number }> {
    return this.connection.getLatestBlockhash(this.commitment);
  }

  async recentPrioritizationFees(writableAccounts: PublicKey[]): Promise<number[]> {
    const fees = await this.connection.getRecentPrioritizationFees({ lockedWritableAccounts: writableAccounts });
    return fees.map((f) => f.prioritizationFee);
  }

  /** Sends a signed transaction (legacy or v0, e.g. signed by a wallet), polls until it is
   * confirmed, and returns its logs, CU and return data (`TransactionFailedError` if it fails). */
  async sendSignedTransaction(serialized: Uint8Array, lastValidBlockHeight: number): Promise<SentTransaction> {
    let signature: string;
    try {
      signature = await this.connection.sendRawTransaction(serialized, { preflightCommitment: this.commitment });
    } catch (error) {
      const logs = await logsOfSendError(error, this.connection);
      throw new TransactionFailedError(error, logs, null, this.programId);
    }
    const statusErr = await this.waitForConfirmation(signature, lastValidBlockHeight);
    const landed = await this.connection.getTransaction(signature, { commitment: "confirmed", maxSupportedTransactionVersion: 0 });
    const logs = landed?.meta?.logMessages ?? [];
    const computeUnits = landed?.meta?.computeUnitsConsumed ?? null;
    const err = statusErr ?? landed?.meta?.err ?? null;
    if (err) throw new TransactionFailedError(err, logs, computeUnits, this.programId);
    // Newer RPC nodes include the return data in the transaction's meta; web3.js 1.x does not type it.
    const meta = landed?.meta as { returnData?: { data?: [string, string] } } | null | undefined;
    const returnData = meta?.returnData?.data?.[0];
    return {
      signature,
      logs,
      computeUnits,
      returnData: returnData ? new Uint8Array(Buffer.from(returnData, "base64")) : null,
    };
  }

  /** Polls the signature's status (no websocket needed) until it is confirmed or its blockhash
   * expires; returns the transaction's error, if it failed. */
  private async waitForConfirmation(signature: string, lastValidBlockHeight: number): Promise<unknown> {
    for (;;) {
      const { value } = await this.connection.getSignatureStatuses([signature]);
      const status = value[0];
      if (status && (status.err || status.confirmationStatus === "confirmed" || status.confirmationStatus === "finalized")) {
        return status.err;
      }
      if ((await this.connection.getBlockHeight(this.commitment)) > lastValidBlockHeight) {
        throw new Error(`transaction ${signature} expired before it was confirmed`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
  }

  async simulateTransaction(instructions: TransactionInstruction[], feePayer: PublicKey): Promise<SimulatedTransaction> {
    const { blockhash } = await this.connection.getLatestBlockhash(this.commitment);
    const message = new TransactionMessage({ payerKey: feePayer, recentBlockhash: blockhash, instructions }).compileToV0Message();
    const { value } = await this.connection.simulateTransaction(new VersionedTransaction(message), {
      sigVerify: false,
      replaceRecentBlockhash: true,
      commitment: this.commitment,
    });
    const logs = value.logs ?? [];
    const computeUnits = value.unitsConsumed ?? null;
    if (value.err) throw new TransactionFailedError(value.err, logs, computeUnits, this.programId);
    const returnData = value.returnData;
    return {
      logs,
      computeUnits,
      returnData: returnData
        ? { programId: new PublicKey(returnData.programId), data: new Uint8Array(Buffer.from(returnData.data[0], "base64")) }
        : null,
    };
  }
}

async function logsOfSendError(error: unknown, connection: Connection): Promise<string[]> {
  if (typeof error === "object" && error !== null && "getLogs" in error) {
    const getLogs = (error as { getLogs: (c: Connection) => Promise<string[] | undefined> }).getLogs;
    try {
      return (await getLogs.call(error, connection)) ?? [];
    } catch {
      return [];
    }
  }
  return [];
}

const CLOCK_SYSVAR = new PublicKey("SysvarC1ock11111111111111111111111111111111");

/** The cluster's unix time, from the Clock sysvar (`unix_timestamp` at byte 32). */
export async function clusterUnixTimestamp(chain: Chain): Promise<bigint> {
  const clock = await chain.getAccount(CLOCK_SYSVAR);
  if (!clock || clock.data.length < 40) throw new Error("no Clock sysvar");
  return Buffer.from(clock.data).readBigInt64LE(32);
}
