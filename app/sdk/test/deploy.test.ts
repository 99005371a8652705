/**
 * `deployFromConfig` (what `migrations/deploy.ts` runs) against the real program in LiteSVM:
 * it creates what is missing, a second run sends nothing and changes nothing, and a changed
 * config is reported and applied only when asked.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

import {
  bankConfigOf,
  CrossMarginClient,
  deployFromConfig,
  encodeLegacyPriceAccount,
  encodePriceUpdateV2,
  groupAddress,
  OracleKind,
  parseDeployConfig,
  PYTH_LEGACY_PROGRAM_MAINNET,
  PYTH_RECEIVER_PROGRAM_MAINNET,
  vaultAddress,
  type DeployConfigJson,
  type PublicKey,
} from "../src";
import { expectMarginError } from "./support/assert";
import { LiteSvmChain } from "./support/litesvm-chain";
import { START_TIME } from "./support/market";

const SOL_FEED = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d";

function bankJson(overrides: Partial<DeployConfigJson["banks"][number]["config"]> = {}): DeployConfigJson["banks"][number]["config"] {
  return {
    oracleKind: "pythPull",
    oracleFeedId: `0x${SOL_FEED}`,
    oracleMaxAgeSecs: 60,
    oracleMaxConfBps: 200,
    oracleConfMultiplierBps: 10_000,
    initAssetWeightBps: 8_000,
    maintAssetWeightBps: 9_000,
    initLiabWeightBps: 12_000,
    maintLiabWeightBps: 11_000,
    liquidationFeeBps: 500,
    insuranceFeeBps: 100,
    optimalUtilizationBps: 8_000,
    minRateBps: 0,
    optimalRateBps: 1_000,
    maxRateBps: 10_000,
    depositLimitNative: "18446744073709551615",
    borrowLimitNative: 1_000_000_000_000,
    depositWeightScaleStartQuote: "0",
    netBorrowLimitPerWindowQuote: "0",
    netBorrowLimitWindowSecs: "0",
    ...overrides,
  };
}

/** A chain with two mints and their oracles (one pull, one legacy), and a config for them. */
function stage() {
  const chain = new LiteSvmChain();
  chain.setUnixTimestamp(START_TIME);
  const admin = chain.fundedKeypair(100_000_000_000n);
  const solMint = chain.createMint(9);
  const btcMint = chain.createMint(8);
  const solOracle = chain.newPubkey();
  const btcOracle = chain.newPubkey();
  const quote = (price: bigint) => ({ price, conf: 0n, exponent: -4, publishTime: START_TIME });
  chain.setAccount(solOracle, PYTH_RECEIVER_PROGRAM_MAINNET, encodePriceUpdateV2(Buffer.from(SOL_FEED, "hex"), quote(1_250_000n)));
  chain.setAccount(btcOracle, PYTH_LEGACY_PROGRAM_MAINNET, encodeLegacyPriceAccount(quote(1_000_000_000n)));
  const json: DeployConfigJson = {
    groupNum: 7,
    pythReceiverProgram: PYTH_RECEIVER_PROGRAM_MAINNET.toBase58(),
    pythLegacyProgram: PYTH_LEGACY_PROGRAM_MAINNET.toBase58(),
    group: { liquidationEndBufferBps: 700 },
    banks: [
      { name: "SOL", mint: solMint.toBase58(), oracle: solOracle.toBase58(), config: bankJson() },
      {
        name: "BTC",
        mint: btcMint.toBase58(),
        oracle: btcOracle.toBase58(),
        tokenProgram: "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
        config: bankJson({ oracleKind: "pythLegacy", oracleFeedId: "00".repeat(32), initAssetWeightBps: 8_500, maintAssetWeightBps: 9_200 }),
      },
    ],
  };
  return { chain, admin, json, solOracle, btcOracle };
}

/** Every account the deployment owns or touches. */
async function watched(chain: LiteSvmChain, admin: PublicKey, group: PublicKey): Promise<PublicKey[]> {
  const banks = await new CrossMarginClient(chain).banks(group);
  return [admin, chain.payer.publicKey, group, ...banks.flatMap((b) => [b.address, b.data.vault, b.data.oracle, b.data.mint])];
}

describe("deployFromConfig", () => {
  it("creates the group and banks, then a second run sends nothing and changes nothing", async () => {
    const { chain, admin, json } = stage();
    const config = parseDeployConfig(JSON.parse(JSON.stringify(json)));
    const lines: string[] = [];
    const first = await deployFromConfig(chain, admin, config, { log: (l) => lines.push(l) });

    const group = groupAddress(admin.publicKey, 7);
    assert.ok(first.group.address.equals(group));
    assert.equal(first.group.action, "created");
    assert.deepEqual(first.banks.map((b) => [b.name, b.action]), [["SOL", "created"], ["BTC", "created"]]);
    // create_group, configure_group (end buffer 700 instead of the default 500), two add_bank.
    assert.equal(first.signatures.length, 4);
    assert.ok(lines.some((l) => l.includes("bank SOL") && l.endsWith("created")));

    const client = new CrossMarginClient(chain);
    const onChainGroup = await client.group(group);
    assert.equal(onChainGroup.liquidationEndBufferBps, 700);
    assert.equal(onChainGroup.bankCount, 2);
    const banks = await client.banks(group);
    assert.deepEqual(banks.map((b) => b.data.bankIndex), [0, 1], "bank indices follow the config order");
    for (const [i, spec] of config.banks.entries()) {
      const bank = banks[i]!;
      assert.ok(bank.address.equals(first.banks[i]!.address));
      assert.ok(bank.data.mint.equals(spec.mint));
      assert.ok(bank.data.oracle.equals(spec.oracle));
      assert.ok(bank.data.vault.equals(vaultAddress(bank.address)));
      assert.deepEqual(bankConfigOf(bank.data), spec.config);
    }
    assert.equal(banks[1]!.data.config.oracleKind, OracleKind.PythLegacy);
    assert.equal(banks[0]!.data.config.depositLimitNative, (1n << 64n) - 1n);

    const keys = await watched(chain, admin.publicKey, group);
    const before = chain.snapshot(keys);
    const attempts = chain.sendAttempts;
    const second = await deployFromConfig(chain, admin, config);
    assert.equal(second.signatures.length, 0);
    assert.equal(chain.sendAttempts, attempts, "the second run sent no transaction");
    assert.equal(second.group.action, "unchanged");
    assert.deepEqual(second.banks.map((b) => b.action), ["unchanged", "unchanged"]);
    assert.deepEqual(chain.snapshot(keys), before, "the second run changed no account");
  });

  it("compares keys by value, so keys from another copy of @solana/web3.js still match", async () => {
    // `anchor migrate` runs the hook next to its own copy of web3.js, whose PublicKey is another
    // class: the second run then reported the group as differing (found on a real validator).
    const { chain, admin, json } = stage();
    const config = parseDeployConfig(json);
    await deployFromConfig(chain, admin, config);
    const foreign = (key: PublicKey): PublicKey => {
      const copy: unknown = Object.assign(Object.create(null), { toBase58: () => key.toBase58() });
      return copy as PublicKey;
    };
    const foreignConfig = {
      ...config,
      pythReceiverProgram: foreign(config.pythReceiverProgram),
      pythLegacyProgram: foreign(config.pythLegacyProgram),
      banks: config.banks.map((b) => ({ ...b, oracle: foreign(b.oracle) })),
    };
    const attempts = chain.sendAttempts;
    const second = await deployFromConfig(chain, admin, foreignConfig);
    assert.equal(chain.sendAttempts, attempts);
    assert.equal(second.group.action, "unchanged");
    assert.deepEqual(second.group.differences, []);
    assert.deepEqual(second.banks.map((b) => [b.action, b.differences.length]), [["unchanged", 0], ["unchanged", 0]]);
  });

  it("reports a changed bank config field by field, and reconfigures only when asked", async () => {
    const { chain, admin, json, btcOracle } = stage();
    await deployFromConfig(chain, admin, parseDeployConfig(json));
    const group = groupAddress(admin.publicKey, 7);
    const keys = await watched(chain, admin.publicKey, group);

    // New weights for SOL, and SOL's bank re-pointed at another pull oracle of the same feed.
    const newOracle = chain.newPubkey();
    chain.setAccount(newOracle, PYTH_RECEIVER_PROGRAM_MAINNET, chain.account((await new CrossMarginClient(chain).banks(group))[0]!.data.oracle)!.data);
    const changed: DeployConfigJson = JSON.parse(JSON.stringify(json));
    changed.banks[0]!.config.maintAssetWeightBps = 9_100;
    changed.banks[0]!.config.depositLimitNative = "5000";
    changed.banks[0]!.oracle = newOracle.toBase58();
    changed.group = { liquidationEndBufferBps: 900 };
    const config = parseDeployConfig(changed);

    const before = chain.snapshot(keys);
    const attempts = chain.sendAttempts;
    const report = await deployFromConfig(chain, admin, config);
    assert.equal(chain.sendAttempts, attempts, "differences alone send nothing");
    assert.deepEqual(chain.snapshot(keys), before);
    assert.equal(report.group.action, "differs");
    assert.deepEqual(report.group.differences, [{ field: "liquidationEndBufferBps", onChain: "700", wanted: "900" }]);
    assert.deepEqual(report.banks.map((b) => b.action), ["differs", "unchanged"]);
    assert.deepEqual(report.banks[0]!.differences, [
      { field: "maintAssetWeightBps", onChain: "9000", wanted: "9100" },
      { field: "depositLimitNative", onChain: "18446744073709551615", wanted: "5000" },
      { field: "oracle", onChain: report.banks[0]!.differences[2]!.onChain, wanted: newOracle.toBase58() },
    ]);
    assert.notEqual(report.banks[0]!.differences[2]!.onChain, newOracle.toBase58());

    const applied = await deployFromConfig(chain, admin, config, { applyConfigChanges: true });
    assert.equal(applied.signatures.length, 2, "configure_group and configure_bank");
    assert.equal(applied.group.action, "reconfigured");
    assert.deepEqual(applied.banks.map((b) => b.action), ["reconfigured", "unchanged"]);
    const client = new CrossMarginClient(chain);
    const sol = (await client.banks(group))[0]!.data;
    assert.equal(sol.config.maintAssetWeightBps, 9_100);
    assert.equal(sol.config.depositLimitNative, 5_000n);
    assert.ok(sol.oracle.equals(newOracle));
    assert.equal((await client.group(group)).liquidationEndBufferBps, 900);
    assert.ok((await client.banks(group))[1]!.data.oracle.equals(btcOracle));

    const again = await deployFromConfig(chain, admin, config, { applyConfigChanges: true });
    assert.equal(again.signatures.length, 0, "converged: nothing left to do");
  });

  it("surfaces the program's named error for a config it refuses, and creates nothing for that bank", async () => {
    const { chain, admin, json } = stage();
    const bad: DeployConfigJson = JSON.parse(JSON.stringify(json));
    bad.banks[1]!.config.initAssetWeightBps = 9_500; // above its maint asset weight (9,200)
    const config = parseDeployConfig(bad);
    await expectMarginError(() => deployFromConfig(chain, admin, config), "InvalidRiskWeights");
    const banks = await new CrossMarginClient(chain).banks(groupAddress(admin.publicKey, 7));
    assert.deepEqual(banks.map((b) => b.data.bankIndex), [0], "the SOL bank before it exists, BTC does not");
    // Fixing the config and running again completes the deployment.
    const fixed = await deployFromConfig(chain, admin, parseDeployConfig(json));
    assert.deepEqual(fixed.banks.map((b) => b.action), ["unchanged", "created"]);
  });

  it("rejects malformed config files with the offending path", () => {
    const { json } = stage();
    const typo: Record<string, unknown> = JSON.parse(JSON.stringify(json));
    (typo["banks"] as Array<{ config: Record<string, unknown> }>)[0]!.config["maintAssetWeightBP"] = 9_000;
    assert.throws(() => parseDeployConfig(typo), /config\.banks\[0\]\.config\.maintAssetWeightBP: unknown field/);
    const badKey = JSON.parse(JSON.stringify(json));
    badKey.banks[1].mint = "not-a-key";
    assert.throws(() => parseDeployConfig(badKey), /config\.banks\[1\]\.mint: not a valid address/);
    const bigNumber = JSON.parse(JSON.stringify(json));
    bigNumber.banks[0].config.borrowLimitNative = 2 ** 60; // not exact as a JSON number
    assert.throws(() => parseDeployConfig(bigNumber), /borrowLimitNative: must be a non-negative integer/);
    const overflow = JSON.parse(JSON.stringify(json));
    overflow.banks[0].config.depositLimitNative = "18446744073709551616";
    assert.throws(() => parseDeployConfig(overflow), /does not fit in a u64/);
    const sameMint = JSON.parse(JSON.stringify(json));
    sameMint.banks[1].mint = sameMint.banks[0].mint;
    assert.throws(() => parseDeployConfig(sameMint), /same mint/);
  });

  it("accepts the shipped migrations/config.localnet.json", () => {
    const file = path.resolve(__dirname, "../../../migrations/config.localnet.json");
    const config = parseDeployConfig(JSON.parse(readFileSync(file, "utf8")));
    assert.deepEqual(config.banks.map((b) => b.name), ["USDC", "SOL"]);
    assert.equal(config.banks[1]!.config.oracleKind, OracleKind.PythPull);
  });
});
