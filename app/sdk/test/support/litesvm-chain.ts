/**
 * A `Chain` over LiteSVM running the real `target/deploy/cross_margin.so` in-process, with the
 * helpers a test needs to stage a market: SPL mints and token accounts and Pyth accounts written
 * directly, the clock, and snapshots for no-change assertions.
 *
 * LiteSVM's npm package speaks `@solana/kit`; the SDK speaks web3.js 1.x (as Anchor's TS client
 * does). Transactions cross over as their wire bytes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import {
  Keypair,
  PublicKey,
  Transaction,
  type GetProgramAccountsFilter,
  type Signer,
  type TransactionInstruction,
} from "@solana/web3.js";
import { address, getTransactionDecoder, lamports, type Address } from "@solana/kit";
import { Clock, FailedTransactionMetadata, LiteSVM, type TransactionMetadata } from "litesvm";
import { utils } from "@anchor-lang/core";

import {
  PROGRAM_ID,
  TransactionFailedError,
  uniqueSigners,
  type AccountState,
  type Chain,
  type SentTransaction,
  type SimulatedTransaction,
} from "../../src";

export const TOKEN_PROGRAM_ID = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
export const TOKEN_2022_PROGRAM_ID = new PublicKey("TokenzQdBNbLqP5VEhdkAS6EPFLC7Wj5w6ikk7p3cA9");

/** Where the build puts the program; `CROSS_MARGIN_SO` overrides it (as in the Rust tests). */
export function programSoPath(): string {
  return process.env["CROSS_MARGIN_SO"] ?? path.resolve(__dirname, "../../../../target/deploy/cross_margin.so");
}

const toAddress = (key: PublicKey): Address => address(key.toBase58());

/** The structured form RPC nodes use, so that the SDK decodes both the same way. */
export function errorJson(failed: FailedTransactionMetadata): unknown {
  const err = failed.err() as unknown as { index?: unknown; err?: unknown } | null;
  if (typeof err === "object" && err !== null && typeof err.index === "number" && typeof err.err === "function") {
    const index = err.index;
    const inner = (err.err as () => unknown).call(err);
    if (typeof inner === "object" && inner !== null && typeof (inner as { code?: unknown }).code === "number") {
      return { InstructionError: [index, { Custom: (inner as { code: number }).code }] };
    }
    return { InstructionError: [index, String(inner)] };
  }
  return err;
}

/** Deterministic keys, so a run is reproducible (PDA bumps, and so CU, depend on them). */
export function deterministicKeypair(index: number): Keypair {
  const seed = Buffer.alloc(32);
  seed.writeUInt32LE(index, 0);
  seed.write("cross-margin ts test key", 8);
  return Keypair.fromSeed(seed);
}

export class LiteSvmChain implements Chain {
  readonly svm: LiteSVM;
  readonly payer: Keypair;
  /** Every transaction sent successfully, for "nothing was sent" assertions. */
  readonly sent: SentTransaction[] = [];
  /** Every send attempt (successful or not). */
  sendAttempts = 0;
  private keysIssued = 0;

  constructor(readonly soPath: string = programSoPath()) {
    this.svm = new LiteSVM();
    this.svm.addProgram(toAddress(PROGRAM_ID), readFileSync(soPath));
    this.payer = this.newKeypair();
    this.airdrop(this.payer.publicKey, 1_000_000_000_000n);
  }

  newKeypair(): Keypair {
    this.keysIssued += 1;
    return deterministicKeypair(this.keysIssued);
  }

  newPubkey(): PublicKey {
    return this.newKeypair().publicKey;
  }

  airdrop(who: PublicKey, amount: bigint): void {
    const result = this.svm.airdrop(toAddress(who), lamports(amount));
    if (result instanceof FailedTransactionMetadata) throw new Error(`airdrop failed: ${result.toString()}`);
  }

  fundedKeypair(amount = 10_000_000_000n): Keypair {
    const keypair = this.newKeypair();
    this.airdrop(keypair.publicKey, amount);
    return keypair;
  }

  // --- Chain ---

  async getAccount(key: PublicKey): Promise<AccountState | null> {
    return this.account(key);
  }

  account(key: PublicKey): AccountState | null {
    const account = this.svm.getAccount(toAddress(key));
    if (!account.exists) return null;
    return {
      owner: new PublicKey(account.programAddress),
      data: new Uint8Array(account.data),
      lamports: BigInt(account.lamports),
      executable: account.executable,
    };
  }

  async getMultipleAccounts(keys: PublicKey[]): Promise<Array<AccountState | null>> {
    return keys.map((k) => this.account(k));
  }

  async getProgramAccounts(programId: PublicKey, filters: GetProgramAccountsFilter[]): Promise<Array<{ address: PublicKey; account: AccountState }>> {
    return this.getProgramAccountsSync(programId, filters);
  }

  getProgramAccountsSync(programId: PublicKey, filters: GetProgramAccountsFilter[]): Array<{ address: PublicKey; account: AccountState }> {
    const matches = (data: ArrayLike<number> & { subarray(start: number, end: number): ArrayLike<number>; length: number }): boolean =>
      filters.every((f) => {
        if ("dataSize" in f) return data.length === f.dataSize;
        const bytes = Buffer.from(utils.bytes.bs58.decode(f.memcmp.bytes));
        return Buffer.from(Array.from(data.subarray(f.memcmp.offset, f.memcmp.offset + bytes.length))).equals(bytes);
      });
    return this.svm
      .getProgramAccounts(toAddress(programId))
      .filter((a) => matches(a.data))
      .map((a) => ({
        address: new PublicKey(a.address),
        account: { owner: programId, data: new Uint8Array(a.data), lamports: BigInt(a.lamports), executable: a.executable },
      }));
  }

  private transaction(instructions: TransactionInstruction[], feePayer: Signer, signers: Signer[], allSigned = true) {
    const tx = new Transaction({ feePayer: feePayer.publicKey, recentBlockhash: this.svm.latestBlockhash() }).add(...instructions);
    tx.sign(...uniqueSigners(feePayer, signers));
    return getTransactionDecoder().decode(Uint8Array.from(tx.serialize({ requireAllSignatures: allSigned })));
  }

  async sendTransaction(instructions: TransactionInstruction[], feePayer: Signer, signers: Signer[] = []): Promise<SentTransaction> {
    this.sendAttempts += 1;
    const result = this.svm.sendTransaction(this.transaction(instructions, feePayer, signers));
    // A fresh blockhash per transaction: identical transactions sent twice are two transactions.
    this.svm.expireBlockhash();
    if (result instanceof FailedTransactionMetadata) {
      const meta = result.meta();
      throw new TransactionFailedError(errorJson(result), meta.logs(), Number(meta.computeUnitsConsumed()));
    }
    const sent = this.outcome(result);
    this.sent.push(sent);
    return sent;
  }

  private outcome(meta: TransactionMetadata): SentTransaction {
    const returnData = meta.returnData().data();
    return {
      signature: utils.bytes.bs58.encode(Buffer.from(meta.signature())),
      logs: meta.logs(),
      computeUnits: Number(meta.computeUnitsConsumed()),
      returnData: returnData.length > 0 ? new Uint8Array(returnData) : null,
    };
  }

  /** Simulates with the chain's own payer paying (`feePayer` is accepted for the `Chain`
   * interface) and, as an RPC node's `sigVerify: false`, without the other signatures: an
   * admin instruction simulates without the admin's key. */
  async simulateTransaction(instructions: TransactionInstruction[], _feePayer: PublicKey): Promise<SimulatedTransaction> {
    const transaction = this.transaction(instructions, this.payer, [], false);
    this.svm.withSigverify(false);
    let result: ReturnType<LiteSVM["simulateTransaction"]>;
    try {
      result = this.svm.simulateTransaction(transaction);
    } finally {
      this.svm.withSigverify(true);
    }
    if (result instanceof FailedTransactionMetadata) {
      const meta = result.meta();
      throw new TransactionFailedError(errorJson(result), meta.logs(), Number(meta.computeUnitsConsumed()));
    }
    const meta = result.meta();
    const returnData = meta.returnData();
    const data = returnData.data();
    return {
      logs: meta.logs(),
      computeUnits: Number(meta.computeUnitsConsumed()),
      returnData: data.length > 0 ? { programId: new PublicKey(returnData.programId()), data: new Uint8Array(data) } : null,
    };
  }

  // --- staging ---

  /** Writes an account as-is (oracle accounts, mints, token accounts), rent-exempt. */
  setAccount(key: PublicKey, owner: PublicKey, data: Uint8Array): void {
    const rent = this.svm.minimumBalanceForRentExemption(BigInt(data.length));
    this.svm.setAccount({
      address: toAddress(key),
      programAddress: toAddress(owner),
      lamports: lamports(rent > 0n ? rent : 1n),
      data: new Uint8Array(data),
      executable: false,
      space: BigInt(data.length),
    });
  }

  /** A new SPL Token (or Token-2022, no extensions) mint; the payer is its mint authority. */
  createMint(decimals: number, tokenProgram: PublicKey = TOKEN_PROGRAM_ID): PublicKey {
    const mint = this.newPubkey();
    const data = Buffer.alloc(82);
    data.writeUInt32LE(1, 0); // mint_authority: Some
    data.set(this.payer.publicKey.toBytes(), 4);
    data.writeBigUInt64LE(0n, 36); // supply
    data.writeUInt8(decimals, 44);
    data.writeUInt8(1, 45); // is_initialized
    // freeze_authority: None (zeros)
    this.setAccount(mint, tokenProgram, data);
    return mint;
  }

  /** A new token account for `mint`, owned by `owner`, holding `amount` (added to the supply);
   * at `at` if given (e.g. the owner's associated token account). */
  createTokenAccount(mint: PublicKey, owner: PublicKey, amount: bigint, at?: PublicKey): PublicKey {
    const key = at ?? this.newPubkey();
    const tokenProgram = this.account(mint)?.owner;
    if (!tokenProgram) throw new Error("mint does not exist");
    const data = Buffer.alloc(165);
    data.set(mint.toBytes(), 0);
    data.set(owner.toBytes(), 32);
    data.writeUInt8(1, 108); // state: Initialized
    this.setAccount(key, tokenProgram, data);
    this.mintTo(key, amount);
    return key;
  }

  mintTo(tokenAccount: PublicKey, amount: bigint): void {
    const account = this.account(tokenAccount);
    if (!account) throw new Error("token account does not exist");
    const data = Buffer.from(account.data);
    data.writeBigUInt64LE(data.readBigUInt64LE(64) + amount, 64);
    this.setAccount(tokenAccount, account.owner, data);
    const mint = new PublicKey(data.subarray(0, 32));
    const mintAccount = this.account(mint)!;
    const mintData = Buffer.from(mintAccount.data);
    mintData.writeBigUInt64LE(mintData.readBigUInt64LE(36) + amount, 36);
    this.setAccount(mint, mintAccount.owner, mintData);
  }

  tokenBalance(tokenAccount: PublicKey): bigint {
    const account = this.account(tokenAccount);
    if (!account) throw new Error("token account does not exist");
    return Buffer.from(account.data).readBigUInt64LE(64);
  }

  unixTimestamp(): bigint {
    return this.svm.getClock().unixTimestamp;
  }

  setUnixTimestamp(unixTimestamp: bigint): void {
    const clock = this.svm.getClock();
    this.svm.setClock(new Clock(clock.slot, clock.epochStartTimestamp, clock.epoch, clock.leaderScheduleEpoch, unixTimestamp));
  }

  /** The raw state of `keys` (owner, lamports, data), for no-change assertions. */
  snapshot(keys: PublicKey[]): Map<string, string> {
    return new Map(
      keys.map((k) => {
        const a = this.account(k);
        return [k.toBase58(), a ? `${a.owner.toBase58()}:${a.lamports}:${Buffer.from(a.data).toString("hex")}` : "missing"];
      }),
    );
  }
}
