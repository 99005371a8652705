/**
 * The wallet path, over JSON-RPC (`ConnectionChain` against the loopback endpoint backed by
 * LiteSVM running the real program): a wallet-adapter-shaped wallet, an `AnchorProvider` and a
 * `KeypairWallet` sign v0 transactions the client builds with a CU limit from simulation, a
 * priority fee and lookup tables; a failing action is refused with the program's named error
 * before the wallet is asked to sign; flash-loan brackets; the display helpers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { AnchorProvider, Wallet } from "@anchor-lang/core";
import { ComputeBudgetInstruction, ComputeBudgetProgram, Connection, PublicKey, VersionedTransaction, type Transaction } from "@solana/web3.js";

import {
  accountAfter,
  ASSOCIATED_TOKEN_PROGRAM_ID,
  associatedTokenAddress,
  ConnectionChain,
  CrossMarginClient,
  KeypairWallet,
  marginAccountAddress,
  nativeToUi,
  ONE_Q64,
  percentile,
  PROGRAM_ID,
  q64,
  q64FromDecimalString,
  q64ToDecimalString,
  TransactionFailedError,
  uiToNative,
  type WalletAdapterLike,
} from "../src";
import { associatedTokenAddress as localnetAta } from "./localnet-support";
import { Market, type User } from "./support/market";
import { LiteSvmRpcServer } from "./support/rpc-server";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;
const ADDRESS_LOOKUP_TABLE_PROGRAM = new PublicKey("AddressLookupTab1e1111111111111111111111111");

/** A browser-wallet stand-in that is not a `Keypair`: it records what it was asked to sign. */
class RecordingWallet implements WalletAdapterLike {
  readonly signed: Array<Transaction | VersionedTransaction> = [];
  private readonly inner: KeypairWallet;
  constructor(user: User) {
    this.inner = new KeypairWallet(user.keypair);
  }
  get publicKey(): PublicKey {
    return this.inner.publicKey;
  }
  async signTransaction<T extends Transaction | VersionedTransaction>(transaction: T): Promise<T> {
    this.signed.push(transaction);
    return this.inner.signTransaction(transaction);
  }
  async signAllTransactions<T extends Transaction | VersionedTransaction>(transactions: T[]): Promise<T[]> {
    for (const t of transactions) await this.signTransaction(t);
    return transactions;
  }
}

/** The compute-budget instructions of a v0 transaction: CU limit and price. */
function computeBudget(transaction: VersionedTransaction): { limit?: number; price?: bigint } {
  const message = transaction.message;
  const keys = message.staticAccountKeys;
  const out: { limit?: number; price?: bigint } = {};
  for (const ix of message.compiledInstructions) {
    if (!keys[ix.programIdIndex]!.equals(ComputeBudgetProgram.programId)) continue;
    const instruction = { programId: ComputeBudgetProgram.programId, keys: [], data: Buffer.from(ix.data) };
    const type = ComputeBudgetInstruction.decodeInstructionType(instruction);
    if (type === "SetComputeUnitLimit") out.limit = ComputeBudgetInstruction.decodeSetComputeUnitLimit(instruction).units;
    if (type === "SetComputeUnitPrice") out.price = BigInt(ComputeBudgetInstruction.decodeSetComputeUnitPrice(instruction).microLamports.toString());
  }
  return out;
}

/** An address lookup table account holding `addresses`, all active (written directly). */
function writeLookupTable(market: Market, addresses: PublicKey[]): PublicKey {
  const key = market.chain.newPubkey();
  const data = Buffer.alloc(56 + 32 * addresses.length);
  data.writeUInt32LE(1, 0); // ProgramState::LookupTable
  data.writeBigUInt64LE((1n << 64n) - 1n, 4); // deactivation slot: never
  data.writeBigUInt64LE(0n, 12); // last extended slot
  data.writeUInt8(addresses.length, 20); // every address before the last extension: active
  data.writeUInt8(0, 21); // authority: None
  addresses.forEach((a, i) => data.set(a.toBytes(), 56 + 32 * i));
  market.chain.setAccount(key, ADDRESS_LOOKUP_TABLE_PROGRAM, data);
  return key;
}

describe("the wallet path over JSON-RPC", () => {
  let market: Market;
  let server: LiteSvmRpcServer;
  let url: string;
  let rpc: ConnectionChain;

  before(async () => {
    market = await Market.create();
    await market.withLiquidity();
    server = new LiteSvmRpcServer(market.chain);
    url = await server.start();
    rpc = ConnectionChain.fromUrl(url);
    rpc.pollIntervalMs = 5;
  });
  after(() => server.stop());

  const request = (user: User, bank: "usdc" | "sol", amount: bigint) => ({
    account: user.account,
    owner: user.keypair.publicKey,
    bank: market[bank].address,
    userToken: user.tokens[market[bank].bankIndex]!,
    amount,
  });

  it("a wallet signs v0 transactions with the simulated CU limit plus the margin and the priority fee from recent fees", async () => {
    const user = await market.user([0n, 10n * SOL, 0n]);
    const wallet = new RecordingWallet(user);
    const client = new CrossMarginClient(rpc, PROGRAM_ID, wallet);
    server.prioritizationFees = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 5_000];
    const deposited = await client.deposit(request(user, "sol", 10n * SOL));
    assert.equal(wallet.signed.length, 1);
    const signed = wallet.signed[0] as VersionedTransaction;
    assert.equal(signed.version, 0);
    const budget = computeBudget(signed);
    assert.equal(budget.price, 80n, "75th percentile of the recent fees");
    const used = deposited.computeUnits!;
    assert.ok(budget.limit! > used && budget.limit! <= Math.ceil(used * 1.1) + 1_000 + 1_000, `limit ${budget.limit} for ${used} CU`);

    await client.borrow(request(user, "usdc", 500n * USDC), { priorityFee: 7 });
    assert.equal(computeBudget(wallet.signed[1] as VersionedTransaction).price, 7n);
    const health = await client.health(user.account, market.chain.payer.publicKey);
    assert.equal(health.init, 475_000_000n);
    server.prioritizationFees = [];
  });

  it("a new user's wallet creates its margin account, then deposits into it", async () => {
    const keypair = market.chain.fundedKeypair(1_000_000_000n);
    const client = new CrossMarginClient(rpc, PROGRAM_ID, new KeypairWallet(keypair));
    const { account } = await client.createAccount(market.group);
    assert.ok(account.equals(marginAccountAddress(market.group, keypair.publicKey, 0)));
    assert.equal((await client.marginAccount(account)).owner.toBase58(), keypair.publicKey.toBase58());
    const userToken = market.chain.createTokenAccount(market.sol.mint, keypair.publicKey, SOL);
    await client.deposit({ account, owner: keypair.publicKey, bank: market.sol.address, userToken, amount: SOL });
    assert.equal(market.chain.tokenBalance(userToken), 0n);
    const second = await client.createAccountTx(market.group, 1, { priorityFee: 0 });
    assert.equal(second.message.staticAccountKeys[0]!.toBase58(), keypair.publicKey.toBase58(), "the wallet pays");
  });

  it("refuses an over-borrow with the program's error name before the wallet signs", async () => {
    const user = await market.user([0n, 10n * SOL, 0n]);
    const wallet = new RecordingWallet(user);
    const client = new CrossMarginClient(rpc, PROGRAM_ID, wallet);
    await client.deposit(request(user, "sol", 10n * SOL));
    const sends = server.sentTransactions.length;
    const failure = await client.borrow(request(user, "usdc", 952_380_953n)).then(
      () => assert.fail("over-borrow succeeded"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof TransactionFailedError);
    assert.equal(failure.decoded?.name, "InitHealthNegative");
    assert.equal(wallet.signed.length, 1, "only the deposit was signed");
    assert.equal(server.sentTransactions.length, sends);
  });

  it("returns every action as an unsigned v0 transaction that any wallet signs and sends", async () => {
    const user = await market.user([100n * USDC, 10n * SOL, 0n]);
    const client = new CrossMarginClient(rpc);
    const tx = await client.depositTx(request(user, "sol", 10n * SOL), { priorityFee: 0 });
    assert.ok(tx instanceof VersionedTransaction);
    assert.ok(tx.signatures.every((s) => s.every((b) => b === 0)), "unsigned");
    assert.equal(computeBudget(tx).price, undefined, "no fee instruction at 0");
    const { lastValidBlockHeight } = await rpc.latestBlockhash();
    await rpc.sendSignedTransaction((await new KeypairWallet(user.keypair).signTransaction(tx)).serialize(), lastValidBlockHeight);
    for (const build of [
      () => client.borrowTx(request(user, "usdc", 100n * USDC)),
      () => client.repayTx(request(user, "usdc", 50n * USDC)),
      () => client.withdrawTx(request(user, "sol", SOL)),
    ]) {
      const unsigned = await build();
      unsigned.sign([user.keypair]);
      await rpc.sendSignedTransaction(unsigned.serialize(), lastValidBlockHeight + 1_000);
    }
    const margin = await client.marginAccount(user.account);
    assert.equal(margin.positions.filter((p) => p.kind !== 0).length, 2);
  });

  it("an AnchorProvider's wallet signs, and lookup tables shorten the message", async () => {
    const user = await market.user([0n, 10n * SOL, 0n]);
    const connection = new Connection(url, "confirmed");
    const provider = new AnchorProvider(connection, new Wallet(user.keypair), { commitment: "confirmed" });
    const client = CrossMarginClient.fromProvider(provider);
    (client.chain as ConnectionChain).pollIntervalMs = 5;
    await client.deposit(request(user, "sol", 10n * SOL));

    const table = writeLookupTable(market, market.banks().flatMap((b) => [b.address, b.oracle, b.vault, b.mint]));
    const lookupTable = (await connection.getAddressLookupTable(table)).value!;
    assert.equal(lookupTable.state.addresses.length, 12);
    const borrow = [await client.borrowIx(request(user, "usdc", 100n * USDC))];
    const plain = await client.transaction(borrow, { priorityFee: 0 });
    const withTable = await client.transaction(borrow, { priorityFee: 0, lookupTables: [lookupTable] });
    assert.equal(withTable.message.addressTableLookups.length, 1);
    assert.ok(withTable.serialize().length < plain.serialize().length);
    const sent = await client.send(borrow, provider.wallet, [], { lookupTables: [lookupTable], priorityFee: 0 });
    assert.ok(sent.logs.some((l) => l.includes("Instruction: Borrow")));
    const landed = server.sentTransactions.at(-1)!;
    assert.equal(VersionedTransaction.deserialize(Buffer.from(landed, "base64")).message.addressTableLookups.length, 1);
  });

  it("a flash-loan bracket defers the health check to flash_loan_end", async () => {
    const user = await market.user([1_000n * USDC, 10n * SOL, 0n]);
    const client = new CrossMarginClient(rpc, PROGRAM_ID, new KeypairWallet(user.keypair));
    await client.deposit(request(user, "sol", 10n * SOL));
    // Borrow more than init health allows, repay it in the same transaction: the bracket ends
    // with the positions it started with.
    const borrow = await client.borrowIx(request(user, "usdc", 2_000n * USDC));
    const repay = await client.repayIx(request(user, "usdc", 2_000n * USDC));
    const bracket = await client.flashLoanIxs({ account: user.account, owner: user.keypair.publicKey, instructions: [borrow, repay] });
    const sent = await client.send(bracket);
    assert.ok(sent.logs.some((l) => l.includes("Instruction: FlashLoanEnd")));
    // Left unhealthy, the bracket fails at its end with the program's named error.
    const after = accountAfter(await client.marginAccount(user.account), await client.accruedBank(market.usdc.address), "borrow", 2_000n * USDC);
    const unhealthy = await client.flashLoanIxs({ account: user.account, owner: user.keypair.publicKey, instructions: [borrow], after });
    const failure = await client.send(unhealthy).then(
      () => assert.fail("an unhealthy bracket succeeded"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof TransactionFailedError);
    assert.equal(failure.decoded?.name, "InitHealthNegative");
  });
});

describe("display helpers", () => {
  it("Q64.64 and native amounts as exact decimal strings, and back", () => {
    assert.equal(q64ToDecimalString(ONE_Q64 + ONE_Q64 / 4n, 4), "1.25");
    assert.equal(q64ToDecimalString(-(ONE_Q64 / 2n), 2), "-0.5");
    const bytes = new Uint8Array(16);
    bytes[8] = 3; // 3.0 as little-endian Q64.64
    assert.equal(q64(bytes), 3n * ONE_Q64);
    assert.equal(q64ToDecimalString(Array.from(bytes)), "3");
    assert.equal(q64FromDecimalString("1.5"), ONE_Q64 + ONE_Q64 / 2n);
    assert.equal(nativeToUi(1_500_000n, 6), "1.5");
    assert.equal(nativeToUi(-5n, 9), "-0.000000005");
    assert.equal(uiToNative("1.5", 6), 1_500_000n);
    assert.equal(uiToNative("2", 9), 2n * SOL);
    assert.throws(() => uiToNative("0.0000001", 6), RangeError);
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile([], 75), 0);
    const owner = new PublicKey("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM");
    const mint = new PublicKey("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
    // The localnet tests' own derivation (independent of the SDK's), for the real program id.
    assert.equal(associatedTokenAddress(owner, mint).toBase58(), localnetAta(owner, mint).toBase58());
    assert.equal(ASSOCIATED_TOKEN_PROGRAM_ID.toBase58(), "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
  });
});
