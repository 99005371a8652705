/**
 * A minimal Solana JSON-RPC endpoint on 127.0.0.1 backed by a LiteSVM chain: just the methods the
 * SDK's `ConnectionChain` (web3.js `Connection`) calls, with the response shapes of a real node.
 * It lets the tests run `ConnectionChain` and `migrations/deploy.ts --url ...` — the code paths
 * used against real clusters — on the real program without a validator.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { PublicKey, VersionedTransaction } from "@solana/web3.js";
import { ed25519 } from "@noble/curves/ed25519";
import { utils } from "@anchor-lang/core";
import { getTransactionDecoder } from "@solana/kit";
import { FailedTransactionMetadata, type TransactionMetadata } from "litesvm";

import { errorJson, type LiteSvmChain } from "./litesvm-chain";

interface Landed {
  slot: number;
  transaction: VersionedTransaction;
  logs: string[];
  computeUnits: number;
  returnData: { programId: string; data: [string, "base64"] } | null;
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const base58 = utils.bytes.bs58;

/** Every required signature present and valid (what a node checks before preflight). */
function verifySignatures(transaction: VersionedTransaction): boolean {
  const message = transaction.message.serialize();
  const signers = transaction.message.staticAccountKeys.slice(0, transaction.message.header.numRequiredSignatures);
  return signers.every((key, i) => {
    const signature = transaction.signatures[i];
    return signature !== undefined && signature.some((b) => b !== 0) && ed25519.verify(signature, message, key.toBytes());
  });
}

export class LiteSvmRpcServer {
  private server: Server | undefined;
  private readonly landed = new Map<string, Landed>();
  /** Methods called, in order (for assertions on what a client did). */
  readonly calls: string[] = [];
  /** What `getRecentPrioritizationFees` answers (micro-lamports per CU, one per recent slot). */
  prioritizationFees: number[] = [];
  /** Every transaction sent (wire bytes, base64), for assertions on what a wallet signed. */
  readonly sentTransactions: string[] = [];

  constructor(readonly chain: LiteSvmChain) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      // CORS, as a validator's RPC port answers it: a page on another origin can call it.
      response.setHeader("access-control-allow-origin", "*");
      response.setHeader("access-control-allow-headers", "content-type, solana-client");
      response.setHeader("access-control-allow-methods", "POST, OPTIONS");
      if (request.method === "OPTIONS") {
        response.writeHead(204);
        response.end();
        return;
      }
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        const reply = (payload: unknown) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify(payload));
        };
        const parsed = JSON.parse(body) as { id: unknown; method: string; params?: unknown[] } | Array<{ id: unknown; method: string; params?: unknown[] }>;
        const handle = (call: { id: unknown; method: string; params?: unknown[] }) => {
          try {
            return { jsonrpc: "2.0", id: call.id, result: this.dispatch(call.method, call.params ?? []) };
          } catch (error) {
            const e = error instanceof RpcError ? error : new RpcError(-32603, String(error));
            return { jsonrpc: "2.0", id: call.id, error: { code: e.code, message: e.message, data: e.data } };
          }
        };
        reply(Array.isArray(parsed) ? parsed.map(handle) : handle(parsed));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server?.close((e) => (e ? reject(e) : resolve())));
  }

  private slot(): number {
    return Number(this.chain.svm.getClock().slot);
  }

  private context() {
    return { slot: this.slot() };
  }

  private accountJson(key: string) {
    const account = this.chain.account(new PublicKey(key));
    if (!account) return null;
    return {
      data: [Buffer.from(account.data).toString("base64"), "base64"],
      executable: account.executable,
      lamports: Number(account.lamports),
      owner: account.owner.toBase58(),
      rentEpoch: 0,
      space: account.data.length,
    };
  }

  private dispatch(method: string, params: unknown[]): unknown {
    this.calls.push(method);
    switch (method) {
      case "getAccountInfo":
        return { context: this.context(), value: this.accountJson(params[0] as string) };
      case "getMultipleAccounts":
        return { context: this.context(), value: (params[0] as string[]).map((k) => this.accountJson(k)) };
      case "getProgramAccounts":
        return this.programAccounts(params[0] as string, (params[1] as { filters?: unknown[] } | undefined)?.filters ?? []);
      case "getLatestBlockhash":
        return { context: this.context(), value: { blockhash: this.chain.svm.latestBlockhash(), lastValidBlockHeight: this.slot() + 150 } };
      case "getBlockHeight":
      case "getSlot":
        return this.slot();
      case "sendTransaction":
        return this.send(params[0] as string);
      case "getSignatureStatuses":
        return {
          context: this.context(),
          value: (params[0] as string[]).map((s) => {
            const landed = this.landed.get(s);
            return landed ? { slot: landed.slot, confirmations: null, err: null, confirmationStatus: "confirmed" } : null;
          }),
        };
      case "getTransaction":
        return this.transaction(params[0] as string);
      case "getRecentPrioritizationFees":
        return this.prioritizationFees.map((prioritizationFee, i) => ({ slot: Math.max(0, this.slot() - i), prioritizationFee }));
      case "getHealth":
        return "ok";
      case "getVersion":
        return { "solana-core": "litesvm", "feature-set": 0 };
      case "simulateTransaction":
        return this.simulate(params[0] as string, (params[1] ?? {}) as { replaceRecentBlockhash?: boolean });
      default:
        throw new RpcError(-32601, `method not found: ${method}`);
    }
  }

  private programAccounts(programId: string, filters: unknown[]) {
    const typed = filters as Array<{ dataSize: number } | { memcmp: { offset: number; bytes: string } }>;
    return this.chain.getProgramAccountsSync(new PublicKey(programId), typed).map(({ address }) => ({
      pubkey: address.toBase58(),
      account: this.accountJson(address.toBase58()),
    }));
  }

  private static returnData(meta: TransactionMetadata): Landed["returnData"] {
    const returnData = meta.returnData();
    const data = returnData.data();
    if (data.length === 0) return null;
    return { programId: new PublicKey(returnData.programId()).toBase58(), data: [Buffer.from(data).toString("base64"), "base64"] };
  }

  /** Like a node with preflight: a failing transaction is refused with the simulation's logs.
   * Legacy and v0 transactions (lookup tables resolved by LiteSVM). */
  private send(encoded: string): string {
    this.sentTransactions.push(encoded);
    const bytes = Buffer.from(encoded, "base64");
    const transaction = VersionedTransaction.deserialize(bytes);
    if (!verifySignatures(transaction)) throw new RpcError(-32003, "Transaction signature verification failure");
    const result = this.chain.svm.sendTransaction(getTransactionDecoder().decode(Uint8Array.from(bytes)));
    this.chain.svm.expireBlockhash();
    if (result instanceof FailedTransactionMetadata) {
      const meta = result.meta();
      const err = errorJson(result);
      const custom = /custom program error: 0x[0-9a-f]+/.exec(meta.logs().join("\n"));
      throw new RpcError(-32002, `Transaction simulation failed: Error processing Instruction 0: ${custom?.[0] ?? "failed"}`, {
        accounts: null,
        err,
        logs: meta.logs(),
        unitsConsumed: Number(meta.computeUnitsConsumed()),
        returnData: null,
      });
    }
    const signature = base58.encode(Buffer.from(result.signature()));
    this.landed.set(signature, {
      slot: this.slot(),
      transaction,
      logs: result.logs(),
      computeUnits: Number(result.computeUnitsConsumed()),
      returnData: LiteSvmRpcServer.returnData(result),
    });
    return signature;
  }

  private transaction(signature: string) {
    const landed = this.landed.get(signature);
    if (!landed) return null;
    const message = landed.transaction.message;
    const keys = message.staticAccountKeys;
    const lookups = message.addressTableLookups;
    const loaded = lookups.reduce((n, l) => n + l.writableIndexes.length + l.readonlyIndexes.length, 0);
    return {
      slot: landed.slot,
      blockTime: Number(this.chain.unixTimestamp()),
      version: message.version,
      transaction: {
        signatures: landed.transaction.signatures.map((s) => base58.encode(s)),
        message: {
          accountKeys: keys.map((k) => k.toBase58()),
          header: message.header,
          instructions: message.compiledInstructions.map((i) => ({ programIdIndex: i.programIdIndex, accounts: i.accountKeyIndexes, data: base58.encode(Buffer.from(i.data)) })),
          recentBlockhash: message.recentBlockhash,
          ...(message.version === 0 ? { addressTableLookups: lookups.map((l) => ({ accountKey: l.accountKey.toBase58(), writableIndexes: l.writableIndexes, readonlyIndexes: l.readonlyIndexes })) } : {}),
        },
      },
      meta: {
        err: null,
        fee: 5000,
        preBalances: [...keys.map(() => 0), ...Array.from({ length: loaded }, () => 0)],
        postBalances: [...keys.map(() => 0), ...Array.from({ length: loaded }, () => 0)],
        ...(message.version === 0 ? { loadedAddresses: { writable: [], readonly: [] } } : {}),
        logMessages: landed.logs,
        computeUnitsConsumed: landed.computeUnits,
        returnData: landed.returnData,
      },
    };
  }

  /** `sigVerify: false` simulation, as frontends use it (any fee payer: a wallet's transaction
   * is simulated before the wallet signs), after the blockhash is replaced if asked. */
  private simulate(encoded: string, options: { replaceRecentBlockhash?: boolean }) {
    const versioned = VersionedTransaction.deserialize(Buffer.from(encoded, "base64"));
    if (options.replaceRecentBlockhash) versioned.message.recentBlockhash = this.chain.svm.latestBlockhash();
    if (versioned.message.staticAccountKeys[0]!.equals(this.chain.payer.publicKey)) versioned.sign([this.chain.payer]);
    // sigVerify: false, as the SDK asks: other signers' slots stay empty.
    this.chain.svm.withSigverify(false);
    let result: ReturnType<LiteSvmChain["svm"]["simulateTransaction"]>;
    try {
      result = this.chain.svm.simulateTransaction(getTransactionDecoder().decode(versioned.serialize()));
    } finally {
      this.chain.svm.withSigverify(true);
    }
    if (result instanceof FailedTransactionMetadata) {
      const meta = result.meta();
      return {
        context: this.context(),
        value: { err: errorJson(result), logs: meta.logs(), accounts: null, unitsConsumed: Number(meta.computeUnitsConsumed()), returnData: null },
      };
    }
    const meta = result.meta();
    return {
      context: this.context(),
      value: { err: null, logs: meta.logs(), accounts: null, unitsConsumed: Number(meta.computeUnitsConsumed()), returnData: LiteSvmRpcServer.returnData(meta) },
    };
  }
}
