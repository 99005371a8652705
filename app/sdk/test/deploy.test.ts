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
  bankAddress,
  bankConfigOf,
  CrossMarginClient,
  decodeOracleQuote,
  encodeLegacyPriceAccount,
  encodePriceUpdateV2,
  groupAddress,
  isoTime,
  OracleKind,
  PYTH_LEGACY_PROGRAM_MAINNET,
  PYTH_RECEIVER_PROGRAM_MAINNET,
  vaultAddress,
} from "../src";
import {
  deployFromConfig,
  parseDeployConfig,
  type DeployConfigJson,
  type PublicKey,
} from "../src/deploy-entry";
import { expectMarginError } from "./support/assert";
import { LiteSvmChain } from "./support/litesvm-chain";
import { bankJson, SOL_FEED } from "./support/deploy-config";
import { START_TIME } from "./support/market";

/** MIN_CONFIG_DELAY_SECS: one day. */
const DAY = 86_400;


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

/** Moves the clock and re-publishes the oracles `stage` wrote (pull and legacy) at the new time. */
function warp(chain: LiteSvmChain, seconds: number, oracles: PublicKey[]): void {
  chain.setUnixTimestamp(chain.unixTimestamp() + BigInt(seconds));
  for (const oracle of oracles) {
    const account = chain.account(oracle)!;
    const legacy = account.owner.equals(PYTH_LEGACY_PROGRAM_MAINNET);
    const quote = { ...decodeOracleQuote(legacy ? OracleKind.PythLegacy : OracleKind.PythPull, account.data), publishTime: chain.unixTimestamp() };
    const data = legacy ? encodeLegacyPriceAccount(quote) : encodePriceUpdateV2(Buffer.from(SOL_FEED, "hex"), quote);
    chain.setAccount(oracle, account.owner, data);
  }
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

  it("a new group with a configuration delay lists its banks first, then goes live; a second run sends nothing", async () => {
    const { chain, admin, json } = stage();
    const emergency = chain.newPubkey();
    json.group = { liquidationEndBufferBps: 700, configDelaySecs: DAY, emergencyAdmin: emergency.toBase58() };
    const lines: string[] = [];
    const report = await deployFromConfig(chain, admin, parseDeployConfig(json), { log: (l) => lines.push(l) });
    // create_group, configure_group, two add_bank, configure_group (the delay).
    assert.equal(report.signatures.length, 5);
    assert.deepEqual(report.banks.map((b) => [b.action, b.queued]), [["created", null], ["created", null]], "banks opened in setup, not queued");
    const client = new CrossMarginClient(chain);
    const group = await client.group(groupAddress(admin.publicKey, 7));
    assert.equal(group.configDelaySecs, DAY);
    assert.ok(group.emergencyAdmin.equals(emergency));
    const banks = await client.banks(report.group.address);
    assert.deepEqual(banks.map((b) => b.data.config.depositLimitNative), [(1n << 64n) - 1n, (1n << 64n) - 1n]);
    assert.ok(lines.some((l) => /live; changes that can hurt positions now wait 86400 s/.test(l)), lines.join("\n"));
    assert.deepEqual(report.warnings, [], "live: no setup warning");

    const attempts = chain.sendAttempts;
    const again = await deployFromConfig(chain, admin, parseDeployConfig(json));
    assert.equal(chain.sendAttempts, attempts, "nothing sent");
    assert.deepEqual([again.group.action, ...again.banks.map((b) => b.action)], ["unchanged", "unchanged", "unchanged"]);
  });

  it("warns that a group stays in setup", async () => {
    const { chain, admin, json } = stage();
    const report = await deployFromConfig(chain, admin, parseDeployConfig(json));
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0]!, /in setup .*without notice/);
  });

  it("in a live group queues what the program refuses at once (with a warning until when), applies a protective change at once, and applies the queued one once due", async () => {
    const { chain, admin, json, solOracle, btcOracle } = stage();
    json.group = { liquidationEndBufferBps: 700, configDelaySecs: DAY };
    await deployFromConfig(chain, admin, parseDeployConfig(json));
    const group = groupAddress(admin.publicKey, 7);
    const client = new CrossMarginClient(chain);
    const [solBank, btcBank] = (await client.banks(group)).map((b) => b.address);

    // SOL: a lower maint asset weight (can hurt positions); BTC: a lower deposit limit (only
    // tightens); the group: a new emergency admin (at once) and a new end buffer (waits).
    const emergency = chain.newPubkey();
    const changed: DeployConfigJson = JSON.parse(JSON.stringify(json));
    changed.banks[0]!.config.maintAssetWeightBps = 8_500;
    changed.banks[1]!.config.depositLimitNative = "5000000000";
    changed.group = { liquidationEndBufferBps: 900, configDelaySecs: DAY, emergencyAdmin: emergency.toBase58() };
    const config = parseDeployConfig(changed);
    const lines: string[] = [];
    const start = chain.unixTimestamp();
    const report = await deployFromConfig(chain, admin, config, { applyConfigChanges: true, log: (l) => lines.push(l) });
    const applyAfter = isoTime(start + BigInt(DAY));

    assert.deepEqual(report.banks.map((b) => b.action), ["queued", "reconfigured"]);
    assert.equal(report.group.action, "queued");
    const solQueued = report.banks[0]!.queued;
    assert.equal(solQueued?.applyAfterTs, start + BigInt(DAY));
    assert.equal(solQueued.applyAfter, applyAfter);
    assert.equal(solQueued.due, false);
    assert.deepEqual(solQueued.changes, [{ field: "maintAssetWeightBps", onChain: "9000", wanted: "8500" }]);
    assert.deepEqual(report.group.queued?.changes, [{ field: "liquidationEndBufferBps", onChain: "700", wanted: "900" }]);
    // The warnings say what waits and until when.
    assert.equal(report.warnings.length, 2, report.warnings.join("\n"));
    assert.match(report.warnings[0]!, new RegExp(`^group \\w+: liquidationEndBufferBps 700 -> 900 queued: it waits until ${applyAfter}`));
    assert.match(report.warnings[1]!, new RegExp(`^bank SOL \\(\\w+\\): maintAssetWeightBps 9000 -> 8500 queued: it waits until ${applyAfter}`));
    assert.ok(lines.some((l) => l.startsWith("  WARNING: bank SOL") && l.includes(applyAfter)));

    // On chain: SOL unchanged with the change queued, BTC and the emergency admin at once.
    let sol = await client.bank(solBank!);
    assert.equal(sol.config.maintAssetWeightBps, 9_000);
    assert.equal(sol.pending.config.maintAssetWeightBps, 8_500);
    assert.equal((await client.bank(btcBank!)).config.depositLimitNative, 5_000_000_000n);
    let state = await client.group(group);
    assert.ok(state.emergencyAdmin.equals(emergency));
    assert.equal(state.liquidationEndBufferBps, 700);
    assert.equal(state.pending.liquidationEndBufferBps, 900);

    // Again (even with both flags, before the delay): pending, nothing sent.
    const attempts = chain.sendAttempts;
    const again = await deployFromConfig(chain, admin, config, { applyConfigChanges: true, applyDueChanges: true });
    assert.equal(chain.sendAttempts, attempts, "an identical queued change is not queued again");
    assert.deepEqual([again.group.action, ...again.banks.map((b) => b.action)], ["pending", "pending", "unchanged"]);
    assert.match(again.warnings.join("\n"), /already queued: it waits until/);

    // Due: reported as such; applied only with applyDueChanges.
    warp(chain, DAY, [solOracle, btcOracle]);
    const due = await deployFromConfig(chain, admin, config);
    assert.equal(chain.sendAttempts, attempts);
    assert.equal(due.banks[0]!.queued?.due, true);
    assert.match(due.warnings.join("\n"), /due since .*--apply-due-changes/);
    const applied = await deployFromConfig(chain, admin, config, { applyDueChanges: true });
    assert.equal(applied.signatures.length, 2, "apply_group_config and apply_bank_config");
    assert.deepEqual([applied.group.action, ...applied.banks.map((b) => b.action)], ["applied", "applied", "unchanged"]);
    assert.deepEqual(applied.warnings, []);
    sol = await client.bank(solBank!);
    assert.deepEqual(bankConfigOf(sol), config.banks[0]!.config);
    assert.equal(sol.pending.applyAfterTs, 0n);
    state = await client.group(group);
    assert.equal(state.liquidationEndBufferBps, 900);

    const converged = await deployFromConfig(chain, admin, config, { applyConfigChanges: true, applyDueChanges: true });
    assert.equal(converged.signatures.length, 0);
    assert.deepEqual([converged.group.action, ...converged.banks.map((b) => b.action)], ["unchanged", "unchanged", "unchanged"]);
  });

  it("in a live group a new bank is created closed and pending until its configuration applies", async () => {
    const { chain, admin, json, solOracle, btcOracle } = stage();
    const btc = json.banks.pop()!;
    json.group = { configDelaySecs: DAY };
    await deployFromConfig(chain, admin, parseDeployConfig(json));
    json.banks.push(btc);
    const config = parseDeployConfig(json);
    const start = chain.unixTimestamp();
    const report = await deployFromConfig(chain, admin, config);
    assert.deepEqual(report.banks.map((b) => b.action), ["unchanged", "created"]);
    assert.equal(report.banks[1]!.queued?.applyAfter, isoTime(start + BigInt(DAY)));
    assert.match(report.warnings.join("\n"), /bank BTC \(\w+\): created closed \(deposit and borrow limits 0\); its configuration is queued: it waits until/);
    const bank = await new CrossMarginClient(chain).bank(report.banks[1]!.address);
    assert.equal(bank.config.depositLimitNative, 0n);

    const attempts = chain.sendAttempts;
    const again = await deployFromConfig(chain, admin, config, { applyConfigChanges: true });
    assert.equal(chain.sendAttempts, attempts);
    assert.equal(again.banks[1]!.action, "pending");
    assert.deepEqual(again.banks[1]!.differences.map((d) => d.field), ["depositLimitNative", "borrowLimitNative"]);

    warp(chain, DAY, [solOracle, btcOracle]);
    const opened = await deployFromConfig(chain, admin, config, { applyDueChanges: true });
    assert.equal(opened.banks[1]!.action, "applied");
    assert.deepEqual(bankConfigOf(await new CrossMarginClient(chain).bank(report.banks[1]!.address)), config.banks[1]!.config);
  });

  it("in a live group cancels a queued change the config no longer has, and reports it without applyConfigChanges", async () => {
    const { chain, admin, json } = stage();
    json.group = { configDelaySecs: DAY };
    const original = parseDeployConfig(json);
    await deployFromConfig(chain, admin, original);
    const harmful: DeployConfigJson = JSON.parse(JSON.stringify(json));
    harmful.banks[0]!.config.liquidationFeeBps = 700;
    await deployFromConfig(chain, admin, parseDeployConfig(harmful), { applyConfigChanges: true });
    const client = new CrossMarginClient(chain);
    const sol = () => client.bank(bankAddress(groupAddress(admin.publicKey, 7), original.banks[0]!.mint));

    // Back to the original config: the queued change is reported, then cancelled when asked.
    const lines: string[] = [];
    const reported = await deployFromConfig(chain, admin, original, { log: (l) => lines.push(l) });
    assert.equal(reported.banks[0]!.action, "differs");
    assert.deepEqual(reported.banks[0]!.differences, []);
    assert.ok(lines.some((l) => /a change the config does not have is queued \(liquidationFeeBps 500 -> 700/.test(l)), lines.join("\n"));
    assert.equal((await sol()).pending.config.liquidationFeeBps, 700);

    const cancelled = await deployFromConfig(chain, admin, original, { applyConfigChanges: true });
    assert.equal(cancelled.signatures.length, 1);
    assert.equal(cancelled.banks[0]!.action, "reconfigured");
    assert.match(cancelled.warnings.join("\n"), /bank SOL \(\w+\): cancelled its queued change \(liquidationFeeBps 500 -> 700/);
    assert.equal((await sol()).pending.applyAfterTs, 0n);
    const again = await deployFromConfig(chain, admin, original, { applyConfigChanges: true });
    assert.equal(again.signatures.length, 0);
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
    const badGroup = JSON.parse(JSON.stringify(json));
    badGroup.group = { configDelaySecs: -1 };
    assert.throws(() => parseDeployConfig(badGroup), /config\.group\.configDelaySecs: must be an integer/);
    badGroup.group = { emergencyAdmin: "nope" };
    assert.throws(() => parseDeployConfig(badGroup), /config\.group\.emergencyAdmin: not a valid address/);
    badGroup.group = { configDelay: 86_400 };
    assert.throws(() => parseDeployConfig(badGroup), /config\.group\.configDelay: unknown field/);
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
