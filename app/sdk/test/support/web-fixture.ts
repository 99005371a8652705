/**
 * The chain the web page's browser test (app/web/test) drives: the LiteSVM market of
 * support/market.ts (USDC, SOL, BTC banks with a lender's liquidity) with a SOL-PERP-like perp
 * market and its pool; a user holding USDC and SOL in its associated token accounts, whose
 * margin account holds 2 SOL and a 1-token perp long (so that the page has a perp position to
 * show). Everything crosses to the browser test as strings. The user has no BTC token account:
 * the page creates it on the first BTC borrow.
 *
 * Two JSON-RPC endpoints serve it:
 * - `startWebFixture`: the loopback endpoint backed by LiteSVM (support/rpc-server.ts);
 * - `startValidatorWebFixture`: a real `solana-test-validator`, the market built on LiteSVM at
 *   the wall-clock time and loaded as genesis accounts (support/validator.ts). Prices move for
 *   real: the test-only oracle writer (tools/oracle-writer, `target/deploy/oracle_writer.so`)
 *   runs at the Pyth receiver's and the legacy program's addresses, which own the oracles, and
 *   a publisher re-publishes every oracle every few seconds at the validator's clock (the banks
 *   refuse prices older than 60 s), as Pyth's crank does on a real cluster.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { PublicKey, TransactionInstruction } from "@solana/web3.js";

import { associatedTokenAddress, clusterUnixTimestamp, ConnectionChain, decodeOracleQuote, OracleKind, type BankRef } from "../../src";
import { TOKEN_PROGRAM_ID } from "./litesvm-chain";
import { Market, quoteDollars } from "./market";
import { addPerpMarket, perpRequest, setPerpPrice, withPool } from "./perp-market";
import { LiteSvmRpcServer } from "./rpc-server";
import { startValidator, writeGenesisAccounts } from "./validator";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;
/** How often the validator fixture re-publishes every oracle. */
const REPUBLISH_MS = 5_000;

export type BankName = "USDC" | "SOL" | "BTC";

export interface WebFixture {
  /** Which endpoint serves the chain. */
  backend: "LiteSVM" | "solana-test-validator";
  url: string;
  group: string;
  /** The user's keypair (64 bytes), for the page's local test wallet. */
  userSecretKey: number[];
  user: string;
  /** Sets a bank's oracle price (whole dollars) at the chain's current time. */
  setPrice(bank: BankName, dollars: bigint): Promise<void>;
  stop(): Promise<void>;
}

/** The market, the perp market and the user, built through real transactions on LiteSVM. */
async function buildWebMarket(startTime?: bigint) {
  const market = await Market.create(startTime);
  await market.withLiquidity();
  const perp = await addPerpMarket(market, 100n);
  setPerpPrice(market, perp, quoteDollars(100n, 0n, market.now()));
  await withPool(market, perp, 50_000n * USDC);

  const user = await market.user([0n, 0n, 0n]);
  // The page finds the user's tokens in its associated token accounts; it has none for BTC
  // (the page creates it with its first BTC borrow).
  user.tokens = [market.usdc, market.sol].map((bank, i) => market.chain.createTokenAccount(bank.mint, user.keypair.publicKey, [1_000n * USDC, 20n * SOL][i]!, associatedTokenAddress(user.keypair.publicKey, bank.mint)));
  await market.deposit(user, market.sol, 2n * SOL);
  await market.send(user, await market.client.placePerpOrderIx({ ...perpRequest(user, perp), side: "long", sizeLots: 100n }));
  const banks: Record<BankName, BankRef> = { USDC: market.usdc, SOL: market.sol, BTC: market.btc };
  return { market, perp, user, banks };
}

export async function startWebFixture(): Promise<WebFixture> {
  const { market, user, banks } = await buildWebMarket();
  const server = new LiteSvmRpcServer(market.chain);
  const url = await server.start();
  return {
    backend: "LiteSVM",
    url,
    group: market.group.toBase58(),
    userSecretKey: Array.from(user.keypair.secretKey),
    user: user.keypair.publicKey.toBase58(),
    setPrice: (bank, dollars) => market.setPrice(banks[bank], quoteDollars(dollars, 0n, market.now())),
    stop: () => server.stop(),
  };
}

/** `target/deploy/oracle_writer.so` (scripts/build-oracle-writer.sh), next to the program. */
export function oracleWriterSoPath(): string {
  return path.resolve(__dirname, "../../../../target/deploy/oracle_writer.so");
}

/**
 * An oracle writer instruction turning `current` into `next`: the writer overwrites bytes at an
 * offset, so only the span that differs is sent (a legacy price account is 3,312 bytes, more
 * than a transaction holds). `null` when nothing differs.
 */
function oracleWrite(program: PublicKey, oracle: PublicKey, current: Uint8Array, next: Uint8Array): TransactionInstruction | null {
  if (current.length !== next.length) throw new Error(`oracle ${oracle.toBase58()}: ${current.length} bytes on the validator, ${next.length} to write`);
  let first = 0;
  while (first < next.length && current[first] === next[first]) first++;
  if (first === next.length) return null;
  let last = next.length - 1;
  while (current[last] === next[last]) last--;
  const offset = Buffer.alloc(4);
  offset.writeUInt32LE(first);
  return new TransactionInstruction({ programId: program, keys: [{ pubkey: oracle, isSigner: false, isWritable: true }], data: Buffer.concat([offset, next.subarray(first, last + 1)]) });
}

export async function startValidatorWebFixture(validatorBinary: string): Promise<WebFixture> {
  const writerSo = oracleWriterSoPath();
  if (!existsSync(writerSo)) throw new Error(`${writerSo} is missing; build it with scripts/build-oracle-writer.sh`);
  const startTime = BigInt(Math.floor(Date.now() / 1000)) - 5n;
  const { market, perp, user, banks } = await buildWebMarket(startTime);
  const publisher = market.chain.fundedKeypair(10_000_000_000n);
  const oracles = [
    ...Object.values(banks).map((bank) => ({ oracle: bank.oracle, program: bank === market.btc ? market.legacyProgram : market.receiverProgram })),
    { oracle: perp.oracle, program: market.receiverProgram },
  ];
  const accountsDir = mkdtempSync(path.join(tmpdir(), "cross-margin-genesis-"));
  writeGenesisAccounts(market.chain, accountsDir, [market.client.programId, TOKEN_PROGRAM_ID, market.receiverProgram, market.legacyProgram], [user.keypair.publicKey, publisher.publicKey]);
  const validator = await startValidator(validatorBinary, [
    { id: market.client.programId, so: market.chain.soPath },
    { id: market.receiverProgram, so: writerSo },
    { id: market.legacyProgram, so: writerSo },
  ], accountsDir).finally(() => rmSync(accountsDir, { recursive: true, force: true }));
  const chain = ConnectionChain.fromUrl(validator.url);

  // LiteSVM encodes each oracle (its format and feed id, as the market wrote it); the publisher
  // copies the bytes to the validator. One publication at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const publish = (change: () => Promise<void>) => {
    const next = queue.then(async () => {
      market.chain.setUnixTimestamp(await clusterUnixTimestamp(chain));
      await change();
      const instructions: TransactionInstruction[] = [];
      for (const { oracle, program } of oracles) {
        const current = (await chain.getAccount(oracle))?.data;
        if (!current) throw new Error(`oracle ${oracle.toBase58()} is not on the validator`);
        const write = oracleWrite(program, oracle, current, market.chain.account(oracle)!.data);
        if (write) instructions.push(write);
      }
      if (instructions.length > 0) await chain.sendTransaction(instructions, publisher);
    });
    queue = next.catch(() => undefined);
    return next;
  };
  const refresh = () =>
    publish(async () => {
      await market.refreshPrices();
      setPerpPrice(market, perp, { ...decodeOracleQuote(OracleKind.PythPull, market.chain.account(perp.oracle)!.data), publishTime: market.now() });
    });
  // Programs loaded at genesis are refused (`Unsupported program id`) for the validator's first
  // slots, about a second; the first publication waits for them (the program's run at the same
  // slot as the writer's).
  const started = Date.now();
  for (;;) {
    try {
      await refresh();
      break;
    } catch (error) {
      if (!String(error).includes("Unsupported program id") || Date.now() - started > 60_000) {
        await validator.stop();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  let publisherError: unknown = null;
  const timer = setInterval(() => refresh().catch((error: unknown) => (publisherError ??= error)), REPUBLISH_MS);
  return {
    backend: "solana-test-validator",
    url: validator.url,
    group: market.group.toBase58(),
    userSecretKey: Array.from(user.keypair.secretKey),
    user: user.keypair.publicKey.toBase58(),
    setPrice: (bank, dollars) => publish(() => market.setPrice(banks[bank], quoteDollars(dollars, 0n, market.now()))),
    stop: async () => {
      clearInterval(timer);
      await queue;
      await validator.stop();
      if (publisherError) throw new Error(`the oracle publisher failed: ${String(publisherError)}`);
    },
  };
}
