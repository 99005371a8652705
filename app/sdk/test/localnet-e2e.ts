/**
 * The steps of scripts/localnet-e2e.sh that need the SDK, against a real validator over JSON-RPC
 * (run from app/sdk: `node --import tsx test/localnet-e2e.ts <command>`). Environment as in
 * localnet-support.ts.
 *
 *   keypair <file>        create the keypair file if it is missing; print its public key
 *   ready                 check the genesis accounts are on the validator as committed, and wait
 *                         until the program runs
 *   crash                 the group admin re-pins the SOL bank to the $75 genesis oracle
 *                         (configure_bank, a real transaction); then the program's health view
 *                         must flag exactly the borrowers the test expects
 *   round <keeper log>    a `cross-margin-keeper` JSON log as text (every line but the round
 *                         summaries); the last line sums up the last round: `accounts=N liquidatable=N bankrupt=N
 *                         liquidations=N resolutions=N lost_races=N warnings=N`
 *   verify                the liquidations on chain: events from the transactions' logs
 *                         (getSignaturesForAddress, getTransaction) and the accounts' end state
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { PublicKey } from "@solana/web3.js";
import { utils } from "@anchor-lang/core";

import {
  accountSize,
  activePositions,
  bankConfigOf,
  configureBankIx,
  ConnectionChain,
  eventsNamed,
  marginAccountFromAccount,
  PositionKind,
  RAW_IDL,
  PROGRAM_ID,
  type CrossMarginEvents,
} from "../src";
import {
  Keypair,
} from "../src/deploy-entry";
import {
  endTarget,
  LocalnetMarket,
  readKeypair,
  readState,
  ROOT,
  rpcUrl,
  usd,
  waitForProgram,
  walletPath,
} from "./localnet-support";

function fail(message: string): never {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

function url(): string {
  return rpcUrl() ?? fail("set CROSS_MARGIN_RPC_URL");
}

function keypair(file: string | undefined): void {
  if (!file) fail("keypair <file>");
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(Array.from(Keypair.generate().secretKey)), { mode: 0o600 });
  }
  const key = Keypair.fromSecretKey(Uint8Array.from(JSON.parse(readFileSync(file, "utf8")) as number[]));
  console.log(key.publicKey.toBase58());
}

/** A mint's supply (bytes 36..44 of an SPL Token mint) changes as the tests mint; the rest of a
 * genesis account must not. */
function comparable(owner: string, data: Buffer): Buffer {
  if (owner !== "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA" || data.length !== 82) return data;
  const copy = Buffer.from(data);
  copy.fill(0, 36, 44);
  return copy;
}

/** The genesis accounts must be on the validator as committed (owner, data; a mint's supply may
 * have grown). */
async function ready(): Promise<void> {
  const chain = ConnectionChain.fromUrl(url());
  const dir = path.join(ROOT, "tests/localnet/accounts");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  for (const file of files) {
    const json = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as { pubkey: string; account: { owner: string; data: [string, string] } };
    const onChain = await chain.getAccount(new PublicKey(json.pubkey));
    if (!onChain) fail(`genesis account ${json.pubkey} (${file}) is not on the validator: start it with --account-dir tests/localnet/accounts`);
    const owner = json.account.owner;
    const expected = comparable(owner, Buffer.from(json.account.data[0], "base64"));
    if (onChain.owner.toBase58() !== owner || !comparable(owner, Buffer.from(onChain.data)).equals(expected)) {
      fail(`${json.pubkey} (${file}) differs on the validator from the committed file`);
    }
  }
  console.log(`${files.length} genesis accounts present (tests/localnet/accounts)`);
  const payer = readKeypair(walletPath()).publicKey;
  const program = await chain.getAccount(PROGRAM_ID);
  if (!program?.executable) fail(`program ${PROGRAM_ID.toBase58()} is not deployed`);
  const waited = await waitForProgram(chain, payer);
  console.log(`program ${PROGRAM_ID.toBase58()} runs (waited ${(waited / 1000).toFixed(1)} s)`);
}

async function crash(): Promise<void> {
  const market = await LocalnetMarket.load(url());
  const state = readState();
  const sol = market.banks.SOL;
  const bank = await market.client.bank(sol.address);
  const crashOracle = new PublicKey(market.manifest.oracles.SOL_CRASH.address);
  if (bank.oracle.equals(crashOracle)) fail("the SOL bank already uses the $75 oracle (a validator reused from an earlier run?)");
  const instruction = await configureBankIx({ group: market.group, admin: market.admin.publicKey, bank: sol.address, oracle: crashOracle, config: bankConfigOf(bank) });
  const sent = await market.chain.sendTransaction([instruction], market.admin);
  const [configured] = eventsNamed(sent.logs, "bankConfigured");
  if (!configured?.oracle.equals(crashOracle)) fail("no BankConfigured event for the $75 oracle");
  const after = await market.client.bank(sol.address);
  const quote = await market.client.oracleQuote(after);
  console.log(`configure_bank ${sent.signature}: SOL bank ${sol.address.toBase58()} now reads ${after.oracle.toBase58()} at $${Number(quote.price) * 10 ** quote.exponent} (${sent.computeUnits} CU)`);

  let wrong = 0;
  for (const borrower of state.borrowers) {
    const health = await market.health(new PublicKey(borrower.account));
    const expected = borrower.expect !== "untouched";
    console.log(`  ${borrower.label}: maint ${usd(health.maint)}, ${health.liquidatable ? "liquidatable" : "healthy"} (expected ${expected ? "liquidatable" : "healthy"})`);
    if (health.liquidatable !== expected) wrong += 1;
  }
  if (wrong > 0) fail(`${wrong} account(s) not as the test expected after the crash`);
}

interface RoundSummary {
  accounts: number;
  liquidatable: number;
  bankrupt: number;
  liquidations: number;
  resolutions: number;
  lost_races: number;
}

/** The keeper's `round done` line (tracing's JSON format: fields under `fields`). */
function round(file: string | undefined): void {
  if (!file) fail("round <keeper log>");
  let summary: RoundSummary | null = null;
  let warnings = 0;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { level?: string; fields?: Record<string, unknown> };
    if (entry.level === "WARN" || entry.level === "ERROR") warnings += 1;
    const fields = entry.fields ?? {};
    if (fields["message"] === "round done") {
      summary = fields as unknown as RoundSummary;
      continue;
    }
    const rest = Object.entries(fields)
      .filter(([key]) => key !== "message")
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
    console.log(`  ${entry.level ?? "?"} ${String(fields["message"] ?? "")} ${rest.join(" ")}`);
  }
  if (!summary) fail(`${file}: no "round done" line`);
  console.log(
    `accounts=${summary.accounts} liquidatable=${summary.liquidatable} bankrupt=${summary.bankrupt} liquidations=${summary.liquidations} resolutions=${summary.resolutions} lost_races=${summary.lost_races} warnings=${warnings}`,
  );
}

type Liquidation = CrossMarginEvents["liquidation"];
type Resolution = CrossMarginEvents["bankruptcyResolved"];

/** Every event about `account`, from its transactions' logs, oldest first. */
async function eventsOf(market: LocalnetMarket, account: PublicKey) {
  const signatures = (await market.connection.getSignaturesForAddress(account, { limit: 1_000 }, "confirmed")).reverse();
  const liquidations: Array<{ signature: string; event: Liquidation; computeUnits: number | null }> = [];
  const resolutions: Array<{ signature: string; event: Resolution }> = [];
  for (const { signature, err } of signatures) {
    if (err) continue;
    const tx = await market.connection.getTransaction(signature, { commitment: "confirmed", maxSupportedTransactionVersion: 0 });
    const logs = tx?.meta?.logMessages ?? [];
    for (const event of eventsNamed(logs, "liquidation")) {
      if (event.liquidatee.equals(account)) liquidations.push({ signature, event, computeUnits: tx?.meta?.computeUnitsConsumed ?? null });
    }
    for (const event of eventsNamed(logs, "bankruptcyResolved")) {
      if (event.account.equals(account)) resolutions.push({ signature, event });
    }
  }
  return { transactions: signatures.length, liquidations, resolutions };
}

async function verify(): Promise<void> {
  const market = await LocalnetMarket.load(url());
  const state = readState();
  const group = await market.client.group(market.group);
  const keeperAccount = new PublicKey(state.keeper.account);
  const failures: string[] = [];
  let liquidationCount = 0;
  let resolutionCount = 0;
  const computeUnits: number[] = [];

  for (const borrower of state.borrowers) {
    const account = new PublicKey(borrower.account);
    const { transactions, liquidations, resolutions } = await eventsOf(market, account);
    liquidationCount += liquidations.length;
    resolutionCount += resolutions.length;
    for (const l of liquidations) if (l.computeUnits !== null) computeUnits.push(l.computeUnits);
    const margin = await market.client.marginAccount(account);
    const health = await market.health(account);
    const target = endTarget(health, group.liquidationEndBufferBps);
    const borrows = activePositions(margin).filter((p) => p.kind === PositionKind.Borrow).length;
    const problems: string[] = [];
    const expect = (ok: boolean, what: string) => {
      if (!ok) problems.push(what);
    };
    for (const l of liquidations) expect(l.event.liquidator.equals(keeperAccount), `liquidated by ${l.event.liquidator.toBase58()}, not the keeper`);
    expect(!health.liquidatable, "still liquidatable");
    const outcome = describeOutcome(liquidations, resolutions, health.maint, target, borrows);
    switch (borrower.expect) {
      case "untouched":
        expect(liquidations.length === 0 && resolutions.length === 0, "was liquidated");
        break;
      case "liquidated":
        expect(liquidations.length > 0, "no Liquidation event");
        expect(!margin.beingLiquidated && !margin.bankrupt, "still flagged");
        expect(liquidations.at(-1)?.event.stillBeingLiquidated === false, "the last liquidation left it below the end target");
        expect(health.maint >= target, `maint ${usd(health.maint)} below the end target ${usd(target)}`);
        break;
      case "written-off":
        expect(liquidations.length > 0, "no Liquidation event");
        expect(resolutions.length > 0, "no BankruptcyResolved event");
        expect(borrows === 0, `${borrows} borrow(s) left after the write-off`);
        break;
    }
    console.log(`  ${borrower.label} (${transactions} txs): ${outcome}${problems.length ? `  <-- ${problems.join("; ")}` : ""}`);
    failures.push(...problems.map((p) => `${borrower.label}: ${p}`));
  }

  // Nothing in the group is left for a keeper: every margin account's health, from the program.
  const discriminator = RAW_IDL.accounts?.find((a) => a.name === "MarginAccount")?.discriminator ?? [];
  const accounts = await market.chain.getProgramAccounts(PROGRAM_ID, [
    { dataSize: accountSize("marginAccount") },
    { memcmp: { offset: 0, bytes: utils.bytes.bs58.encode(Buffer.from(discriminator)) } },
    { memcmp: { offset: 8, bytes: market.group.toBase58() } },
  ]);
  let flagged = 0;
  for (const { address, account } of accounts) {
    const margin = marginAccountFromAccount(account);
    const health = await market.health(address);
    if (health.liquidatable || margin.bankrupt) {
      flagged += 1;
      failures.push(`${address.toBase58()} still needs a keeper (maint ${usd(health.maint)})`);
    }
  }
  const keeper = await market.health(keeperAccount);
  const held = keeper.positions.map((p) => `${p.isLiability ? "borrow" : "deposit"} ${market.bankNameByIndex(p.bankIndex)} ${usd(p.value)}`);
  if (keeper.init < 0n) failures.push(`the keeper's init health is ${usd(keeper.init)}`);
  const insurance = (await market.client.bank(market.banks.USDC.address)).insuranceNative;
  console.log(`  group: ${accounts.length} margin accounts, ${flagged} still liquidatable or bankrupt`);
  console.log(`  keeper account: init ${usd(keeper.init)}, positions ${held.join(", ")}`);
  console.log(`  USDC insurance fund now ${Number(insurance) / 1e6} USDC (50 funded)`);
  console.log(`  ${liquidationCount} liquidations, ${resolutionCount} write-offs on chain; liquidate CU ${computeUnits.length ? `${Math.min(...computeUnits)}-${Math.max(...computeUnits)}` : "n/a"}`);
  if (liquidationCount === 0) failures.push("no liquidation happened");
  if (failures.length > 0) fail(failures.join("\n  "));
  console.log("OK: every liquidated account ended at or above its end target or was written off");
}

function describeOutcome(
  liquidations: Array<{ event: Liquidation }>,
  resolutions: Array<{ event: Resolution }>,
  maint: bigint,
  target: bigint,
  borrows: number,
): string {
  if (liquidations.length === 0 && resolutions.length === 0) return `untouched, maint ${usd(maint)}`;
  const first = liquidations[0]?.event;
  const repaid = liquidations.reduce((sum, l) => sum + BigInt(l.event.liabAmount.toString()), 0n);
  const writtenOff = resolutions.reduce((sum, r) => sum + BigInt(r.event.debt.toString()), 0n);
  const fromInsurance = resolutions.reduce((sum, r) => sum + BigInt(r.event.fromInsurance.toString()), 0n);
  const parts = [
    `${liquidations.length} liquidation(s) taking ${Number(repaid) / 1e6} USDC of debt`,
    first ? `maint ${usd(BigInt(first.maintHealthBefore.toString()))} before` : "",
  ];
  if (resolutions.length > 0) parts.push(`written off ${Number(writtenOff) / 1e6} USDC (${Number(fromInsurance) / 1e6} from insurance), ${borrows} borrows left`);
  else parts.push(`now maint ${usd(maint)} >= end target ${usd(target)}: ${maint >= target}`);
  return parts.filter(Boolean).join(", ");
}

async function main(args: string[]): Promise<void> {
  switch (args[0]) {
    case "keypair":
      return keypair(args[1]);
    case "ready":
      return ready();
    case "crash":
      return crash();
    case "round":
      return round(args[1]);
    case "verify":
      return verify();
    default:
      fail("usage: localnet-e2e.ts keypair <file> | ready | crash | round <keeper log> | verify");
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
