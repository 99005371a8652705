/**
 * Writes the localnet genesis accounts (tests/localnet/), reproducibly: every key comes from a
 * fixed seed, every price from the table below, and the publish time is fixed.
 *
 *   node --import tsx test/localnet-genesis.ts            (from app/sdk) write the files
 *   node --import tsx test/localnet-genesis.ts --check    exit 1 if a committed file differs
 *
 * What it writes:
 * - tests/localnet/mint-authority.json: the mint authority of the three mints (a keypair derived
 *   from a public seed: localnet only, never fund it on a real cluster);
 * - tests/localnet/accounts/*.json: `solana account --output json` files, which
 *   `solana-test-validator --account-dir` and Anchor's `[[test.validator.account_dir]]` load at
 *   genesis: three SPL Token mints (USDC 6 decimals, SOL 9, BTC 8) and four Pyth price accounts in
 *   their real byte layouts (USDC pull $1, SOL pull $125, a second SOL pull account at $75 for the
 *   crash, BTC legacy $100,000), owned by Pyth's receiver and legacy program ids;
 * - tests/localnet/genesis.json: what is where (read by the localnet tests and scripts);
 * - migrations/config.localnet-genesis.json: the group and banks `migrations/deploy.ts` creates
 *   on those accounts.
 *
 * Genesis accounts cannot be re-published (there is no Pyth program on a local validator to post
 * updates), so every price carries the fixed publish time below and the banks accept prices up to
 * ORACLE_MAX_AGE_SECS old. That is a localnet setting only: real deployments use seconds.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import {
  encodeLegacyPriceAccount,
  encodePriceUpdateV2,
  PYTH_LEGACY_PROGRAM_MAINNET,
  PYTH_RECEIVER_PROGRAM_MAINNET,
} from "../src";
import {
  Keypair,
  PublicKey,
  type BankConfigJson,
  type DeployConfigJson,
} from "../src/deploy-entry";

const ROOT = path.resolve(__dirname, "../../..");
export const LOCALNET_DIR = path.join(ROOT, "tests/localnet");
export const GENESIS_MANIFEST = path.join(LOCALNET_DIR, "genesis.json");
export const GENESIS_DEPLOY_CONFIG = path.join(ROOT, "migrations/config.localnet-genesis.json");

const TOKEN_PROGRAM = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/** 2026-01-01T00:00:00Z. */
export const PUBLISH_TIME = 1_767_225_600n;
/** About 31.7 years: the fixed-time prices stay valid until 2057. */
export const ORACLE_MAX_AGE_SECS = 1_000_000_000;
/** Pyth's mainnet feed ids (the pull accounts carry them; the banks check them). */
const USDC_FEED = "eaa020c61cc479712813461ce153894a96a6c00b21ed0cfc2798d1f9a9e9c94a";
const SOL_FEED = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d";
/** Pyth's usual exponent for USD feeds. */
const EXPONENT = -8;

/** A keypair from a public seed: reproducible, and worthless anywhere but a local chain. */
export function seededKeypair(label: string): Keypair {
  return Keypair.fromSeed(createHash("sha256").update(`cross-margin localnet: ${label}`).digest());
}

/** Rent-exempt minimum (the default rent: 3,480 lamports per byte-year, two years, 128 bytes of
 * account overhead). */
function rentExempt(space: number): number {
  return (space + 128) * 3_480 * 2;
}

/** An SPL Token `Mint` (82 bytes): authority `authority`, supply 0, no freeze authority. */
function mintData(authority: PublicKey, decimals: number): Buffer {
  const data = Buffer.alloc(82);
  data.writeUInt32LE(1, 0); // COption::Some
  data.set(authority.toBytes(), 4);
  data.writeBigUInt64LE(0n, 36); // supply
  data.writeUInt8(decimals, 44);
  data.writeUInt8(1, 45); // is_initialized
  data.writeUInt32LE(0, 46); // freeze authority: None
  return data;
}

/** One account in `solana account --output json` format (rentEpoch u64::MAX, as the CLI prints
 * for rent-exempt accounts). */
function accountFile(address: PublicKey, owner: PublicKey, data: Buffer): string {
  const json = {
    pubkey: address.toBase58(),
    account: {
      lamports: rentExempt(data.length),
      data: [data.toString("base64"), "base64"],
      owner: owner.toBase58(),
      executable: false,
      rentEpoch: "RENT_EPOCH",
      space: data.length,
    },
  };
  return JSON.stringify(json, null, 2).replace('"RENT_EPOCH"', "18446744073709551615") + "\n";
}

function dollars(value: number): bigint {
  return BigInt(Math.round(value * 1e4)) * 10n ** BigInt(-EXPONENT - 4);
}

export interface GenesisManifest {
  $comment: string;
  publishTime: number;
  oracleMaxAgeSecs: number;
  mintAuthority: { pubkey: string; keypairFile: string };
  pythReceiverProgram: string;
  pythLegacyProgram: string;
  mints: Record<"USDC" | "SOL" | "BTC", { address: string; decimals: number }>;
  oracles: Record<"USDC" | "SOL" | "SOL_CRASH" | "BTC", { address: string; kind: "pythPull" | "pythLegacy"; price: number; feedId: string }>;
}

const MINTS = [
  { name: "USDC", decimals: 6 },
  { name: "SOL", decimals: 9 },
  { name: "BTC", decimals: 8 },
] as const;

const ORACLES = [
  { name: "USDC", file: "usdc-pyth-pull", kind: "pythPull", price: 1, feed: USDC_FEED },
  { name: "SOL", file: "sol-pyth-pull", kind: "pythPull", price: 125, feed: SOL_FEED },
  { name: "SOL_CRASH", file: "sol-pyth-pull-crash", kind: "pythPull", price: 75, feed: SOL_FEED },
  { name: "BTC", file: "btc-pyth-legacy", kind: "pythLegacy", price: 100_000, feed: "00".repeat(32) },
] as const;

/** The bank configs: the SDK tests' market (test/support/market.ts) with localnet oracle ages. */
function bankConfig(kind: "pythPull" | "pythLegacy", feedId: string, weights: [number, number, number, number], fees: [number, number]): BankConfigJson {
  return {
    oracleKind: kind,
    oracleFeedId: `0x${feedId}`,
    oracleMaxAgeSecs: ORACLE_MAX_AGE_SECS,
    oracleMaxConfBps: 200,
    oracleConfMultiplierBps: 10_000,
    initAssetWeightBps: weights[0],
    maintAssetWeightBps: weights[1],
    maintLiabWeightBps: weights[2],
    initLiabWeightBps: weights[3],
    liquidationFeeBps: fees[0],
    insuranceFeeBps: fees[1],
    optimalUtilizationBps: 8_000,
    minRateBps: 0,
    optimalRateBps: 1_000,
    maxRateBps: 10_000,
    depositLimitNative: "18446744073709551615",
    borrowLimitNative: "18446744073709551615",
    depositWeightScaleStartQuote: "0",
    netBorrowLimitPerWindowQuote: "0",
    netBorrowLimitWindowSecs: "0",
  };
}

/** Every file this script owns, path -> contents. */
export function genesisFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const authority = seededKeypair("mint authority");
  const authorityFile = path.join(LOCALNET_DIR, "mint-authority.json");
  files.set(authorityFile, JSON.stringify(Array.from(authority.secretKey)) + "\n");

  const mints = {} as GenesisManifest["mints"];
  for (const mint of MINTS) {
    const address = seededKeypair(`${mint.name} mint`).publicKey;
    files.set(path.join(LOCALNET_DIR, "accounts", `${mint.name.toLowerCase()}-mint.json`), accountFile(address, TOKEN_PROGRAM, mintData(authority.publicKey, mint.decimals)));
    mints[mint.name] = { address: address.toBase58(), decimals: mint.decimals };
  }

  const oracles = {} as GenesisManifest["oracles"];
  for (const oracle of ORACLES) {
    const address = seededKeypair(`${oracle.name} oracle`).publicKey;
    // Zero confidence keeps the tests' health figures exact (the program accepts it).
    const quote = { price: dollars(oracle.price), conf: 0n, exponent: EXPONENT, publishTime: PUBLISH_TIME };
    const data =
      oracle.kind === "pythPull" ? encodePriceUpdateV2(Buffer.from(oracle.feed, "hex"), quote) : encodeLegacyPriceAccount(quote);
    const owner = oracle.kind === "pythPull" ? PYTH_RECEIVER_PROGRAM_MAINNET : PYTH_LEGACY_PROGRAM_MAINNET;
    files.set(path.join(LOCALNET_DIR, "accounts", `${oracle.file}.json`), accountFile(address, owner, data));
    oracles[oracle.name] = { address: address.toBase58(), kind: oracle.kind, price: oracle.price, feedId: oracle.feed };
  }

  const manifest: GenesisManifest = {
    $comment:
      "Generated by app/sdk/test/localnet-genesis.ts (do not edit): the localnet genesis accounts in tests/localnet/accounts/. Prices are published at the fixed publishTime, so the banks in migrations/config.localnet-genesis.json accept prices up to oracleMaxAgeSecs old.",
    publishTime: Number(PUBLISH_TIME),
    oracleMaxAgeSecs: ORACLE_MAX_AGE_SECS,
    mintAuthority: { pubkey: authority.publicKey.toBase58(), keypairFile: "tests/localnet/mint-authority.json" },
    pythReceiverProgram: PYTH_RECEIVER_PROGRAM_MAINNET.toBase58(),
    pythLegacyProgram: PYTH_LEGACY_PROGRAM_MAINNET.toBase58(),
    mints,
    oracles,
  };
  files.set(GENESIS_MANIFEST, JSON.stringify(manifest, null, 2) + "\n");

  const config: DeployConfigJson & { $comment: string } = {
    $comment: `Generated by app/sdk/test/localnet-genesis.ts (edit it there): the group and banks migrations/deploy.ts creates on a local validator started with the genesis accounts in tests/localnet/accounts/ (scripts/localnet-e2e.sh, anchor test). Those prices are fixed at publish time ${PUBLISH_TIME} and genesis accounts cannot be re-published, hence oracleMaxAgeSecs ${ORACLE_MAX_AGE_SECS} (about 31.7 years); never use such an age on a real cluster. Weights, fees and rates are in bps; u64 amounts are decimal strings.`,
    groupNum: 0,
    pythReceiverProgram: PYTH_RECEIVER_PROGRAM_MAINNET.toBase58(),
    pythLegacyProgram: PYTH_LEGACY_PROGRAM_MAINNET.toBase58(),
    group: { liquidationEndBufferBps: 500, bankruptcyDustQuote: "1000000" },
    banks: [
      { name: "USDC", mint: mints.USDC.address, oracle: oracles.USDC.address, config: bankConfig("pythPull", USDC_FEED, [9_500, 9_800, 10_200, 10_500], [150, 50]) },
      { name: "SOL", mint: mints.SOL.address, oracle: oracles.SOL.address, config: bankConfig("pythPull", SOL_FEED, [8_000, 9_000, 11_000, 12_000], [500, 100]) },
      { name: "BTC", mint: mints.BTC.address, oracle: oracles.BTC.address, config: bankConfig("pythLegacy", "00".repeat(32), [8_500, 9_200, 10_800, 11_500], [500, 100]) },
    ],
  };
  files.set(GENESIS_DEPLOY_CONFIG, JSON.stringify(config, null, 2) + "\n");
  return files;
}

export function readManifest(): GenesisManifest {
  return JSON.parse(readFileSync(GENESIS_MANIFEST, "utf8")) as GenesisManifest;
}

function main(args: string[]): void {
  const check = args.includes("--check");
  let stale = 0;
  for (const [file, contents] of genesisFiles()) {
    const relative = path.relative(ROOT, file);
    let current: string | null = null;
    try {
      current = readFileSync(file, "utf8");
    } catch {
      current = null;
    }
    if (current === contents) continue;
    if (check) {
      console.error(`${relative}: ${current === null ? "missing" : "differs from what the generator writes"}`);
      stale += 1;
    } else {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, contents, relative.endsWith("mint-authority.json") ? { mode: 0o600 } : {});
      console.log(`wrote ${relative}`);
    }
  }
  if (check && stale > 0) {
    console.error("run `node --import tsx test/localnet-genesis.ts` in app/sdk to regenerate");
    process.exit(1);
  }
  if (check) console.log("tests/localnet and migrations/config.localnet-genesis.json match the generator");
}

if (require.main === module) main(process.argv.slice(2));
