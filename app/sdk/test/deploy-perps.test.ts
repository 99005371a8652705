/**
 * Perp markets in the deploy config (`deployFromConfig`, what `migrations/deploy.ts` runs)
 * against the real program: created after their settle bank, a second run sends nothing, a
 * changed market is reported and reconfigured only when asked, and in a live group a new market
 * is created closed with its configuration queued (WARNING until when) and a loosening waits
 * for the delay — in LiteSVM directly and through the command over JSON-RPC.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

import {
  CrossMarginClient,
  encodePriceUpdateV2,
  groupAddress,
  isoTime,
  OracleKind,
  perpMarketAddress,
  PYTH_LEGACY_PROGRAM_MAINNET,
  PYTH_RECEIVER_PROGRAM_MAINNET,
} from "../src";
import {
  deployFromConfig,
  parseDeployConfig,
  type DeployConfigJson,
  type PublicKey,
} from "../src/deploy-entry";
import { expectMarginError } from "./support/assert";
import { deployFiles, runDeploy } from "./support/deploy-cli";
import { bankJson, perpMarketJson, SOL_FEED } from "./support/deploy-config";
import { LiteSvmChain } from "./support/litesvm-chain";
import { START_TIME } from "./support/market";
import { LiteSvmRpcServer } from "./support/rpc-server";

const DAY = 86_400;
const USDC_FEED = "eaa020c61cc479712813461ce153894a96a6c00b21ed0cfc2798d1f9a9e9c94a";

/** USDC (6 decimals) and SOL mints with pull oracles, and a config with SOL-PERP settling in
 * USDC over SOL's oracle. */
function stage(chain: LiteSvmChain = new LiteSvmChain()) {
  chain.setUnixTimestamp(START_TIME);
  const admin = chain.fundedKeypair(100_000_000_000n);
  const usdcMint = chain.createMint(6);
  const solMint = chain.createMint(9);
  const usdcOracle = chain.newPubkey();
  const solOracle = chain.newPubkey();
  const publish = () => {
    const quote = (price: bigint) => ({ price, conf: 0n, exponent: -4, publishTime: chain.unixTimestamp() });
    chain.setAccount(usdcOracle, PYTH_RECEIVER_PROGRAM_MAINNET, encodePriceUpdateV2(Buffer.from(USDC_FEED, "hex"), quote(10_000n)));
    chain.setAccount(solOracle, PYTH_RECEIVER_PROGRAM_MAINNET, encodePriceUpdateV2(Buffer.from(SOL_FEED, "hex"), quote(1_250_000n)));
  };
  publish();
  const stable = { oracleFeedId: USDC_FEED, initAssetWeightBps: 9_500, maintAssetWeightBps: 9_800, maintLiabWeightBps: 10_200, initLiabWeightBps: 10_500 };
  const json: DeployConfigJson = {
    groupNum: 9,
    pythReceiverProgram: PYTH_RECEIVER_PROGRAM_MAINNET.toBase58(),
    pythLegacyProgram: PYTH_LEGACY_PROGRAM_MAINNET.toBase58(),
    banks: [
      { name: "USDC", mint: usdcMint.toBase58(), oracle: usdcOracle.toBase58(), config: bankJson({ ...stable, liquidationFeeBps: 150, insuranceFeeBps: 50 }) },
      { name: "SOL", mint: solMint.toBase58(), oracle: solOracle.toBase58(), config: bankJson() },
    ],
    perpMarkets: [{ name: "SOL-PERP", oracle: solOracle.toBase58(), settleBank: "USDC", config: perpMarketJson() }],
  };
  /** Moves the clock and re-publishes the oracles. */
  const warp = (seconds: number) => {
    chain.setUnixTimestamp(chain.unixTimestamp() + BigInt(seconds));
    publish();
  };
  return { chain, admin, json, solOracle, warp };
}

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe("deployFromConfig: perp markets", () => {
  it("creates a perp market after its settle bank; a second run sends nothing and changes nothing", async () => {
    const { chain, admin, json, solOracle } = stage();
    const config = parseDeployConfig(copy(json));
    const lines: string[] = [];
    const first = await deployFromConfig(chain, admin, config, { log: (l) => lines.push(l) });
    const group = groupAddress(admin.publicKey, 9);
    // create_group, two add_bank, add_perp_market.
    assert.equal(first.signatures.length, 4);
    assert.deepEqual(first.perpMarkets.map((m) => [m.name, m.marketIndex, m.action, m.queued]), [["SOL-PERP", 0, "created", null]]);
    assert.ok(first.perpMarkets[0]!.address.equals(perpMarketAddress(group, 0)));
    assert.ok(lines.some((l) => /^perp market SOL-PERP \(\w+\): created$/.test(l)), lines.join("\n"));

    const client = new CrossMarginClient(chain);
    const market = await client.perpMarket(first.perpMarkets[0]!.address);
    assert.deepEqual(market.config, config.perpMarkets![0]!.config);
    assert.equal(market.config.oracleKind, OracleKind.PythPull);
    assert.equal(market.config.baseLotSize, 10_000_000n);
    assert.ok(market.oracle.equals(solOracle) && market.settleBank.equals(first.banks[0]!.address));
    assert.equal((await client.group(group)).perpMarketCount, 1);

    const keys: PublicKey[] = [group, admin.publicKey, chain.payer.publicKey, first.perpMarkets[0]!.address, ...first.banks.map((b) => b.address)];
    const before = chain.snapshot(keys);
    const attempts = chain.sendAttempts;
    const second = await deployFromConfig(chain, admin, config, { applyConfigChanges: true, applyDueChanges: true });
    assert.equal(chain.sendAttempts, attempts, "nothing sent");
    assert.deepEqual(second.perpMarkets.map((m) => [m.action, m.differences]), [["unchanged", []]]);
    assert.deepEqual(chain.snapshot(keys), before);
  });

  it("reports a changed perp market field by field, and reconfigures it only when asked", async () => {
    const { chain, admin, json } = stage();
    await deployFromConfig(chain, admin, parseDeployConfig(copy(json)));
    const changed = copy(json);
    changed.perpMarkets![0]!.config.takerFeeBps = 20;
    changed.perpMarkets![0]!.config.maxLongLots = "5000";
    const config = parseDeployConfig(changed);
    const attempts = chain.sendAttempts;
    const report = await deployFromConfig(chain, admin, config);
    assert.equal(chain.sendAttempts, attempts);
    assert.equal(report.perpMarkets[0]!.action, "differs");
    assert.deepEqual(report.perpMarkets[0]!.differences, [
      { field: "takerFeeBps", onChain: "10", wanted: "20" },
      { field: "maxLongLots", onChain: "1000000", wanted: "5000" },
    ]);
    const applied = await deployFromConfig(chain, admin, config, { applyConfigChanges: true });
    assert.deepEqual([applied.signatures.length, applied.perpMarkets[0]!.action], [1, "reconfigured"]);
    const market = await new CrossMarginClient(chain).perpMarket(report.perpMarkets[0]!.address);
    assert.deepEqual([market.config.takerFeeBps, market.config.maxLongLots], [20, 5_000n]);
    assert.equal((await deployFromConfig(chain, admin, config, { applyConfigChanges: true })).signatures.length, 0, "converged");
  });

  it("in a live group: a new market is created closed with its configuration queued, a loosening waits, a tightening does not; each applies once due", async () => {
    const { chain, admin, json, warp } = stage();
    const perps = json.perpMarkets!;
    delete json.perpMarkets;
    json.group = { configDelaySecs: DAY };
    await deployFromConfig(chain, admin, parseDeployConfig(copy(json)));
    json.perpMarkets = perps;
    const config = parseDeployConfig(copy(json));
    const start = chain.unixTimestamp();
    const until = isoTime(start + BigInt(DAY));
    const created = await deployFromConfig(chain, admin, config);
    const report = created.perpMarkets[0]!;
    assert.equal(report.action, "created");
    assert.equal(report.queued?.applyAfter, until);
    assert.match(created.warnings.join("\n"), new RegExp(`perp market SOL-PERP \\(\\w+\\): created closed \\(open-interest caps 0\\); its configuration is queued: it waits until ${until}`));
    const client = new CrossMarginClient(chain);
    let market = await client.perpMarket(report.address);
    assert.deepEqual([market.config.maxLongLots, market.config.maxShortLots, market.pending.config.maxLongLots], [0n, 0n, 1_000_000n]);
    const pending = await client.pendingChanges(created.group.address);
    assert.deepEqual(pending.map((c) => [c.kind, c.kind === "perpMarket" ? c.name : "", c.changes.map((f) => f.field)]), [["perpMarket", "perp market 0", ["maxLongLots", "maxShortLots"]]]);

    const attempts = chain.sendAttempts;
    const again = await deployFromConfig(chain, admin, config, { applyConfigChanges: true, applyDueChanges: true });
    assert.equal(chain.sendAttempts, attempts, "an identical queued change is not queued again");
    assert.equal(again.perpMarkets[0]!.action, "pending");
    assert.match(again.warnings.join("\n"), /perp market SOL-PERP \(\w+\): maxLongLots 0 -> 1000000, maxShortLots 0 -> 1000000 already queued: it waits until/);

    warp(DAY);
    const opened = await deployFromConfig(chain, admin, config, { applyDueChanges: true });
    assert.equal(opened.perpMarkets[0]!.action, "applied");
    market = await client.perpMarket(report.address);
    assert.deepEqual(market.config, config.perpMarkets![0]!.config);

    // A tightening (lower caps) applies at once; a loosening (higher maint base weight, less
    // margin) is queued until the delay has passed.
    const tighter = copy(json);
    tighter.perpMarkets![0]!.config.maxShortLots = "1000";
    assert.equal((await deployFromConfig(chain, admin, parseDeployConfig(tighter), { applyConfigChanges: true })).perpMarkets[0]!.action, "reconfigured");
    const looser = copy(tighter);
    looser.perpMarkets![0]!.config.maintBaseWeightBps = 9_600;
    const looserConfig = parseDeployConfig(looser);
    const queuedAt = chain.unixTimestamp();
    const queued = await deployFromConfig(chain, admin, looserConfig, { applyConfigChanges: true });
    assert.equal(queued.perpMarkets[0]!.action, "queued");
    assert.match(queued.warnings.join("\n"), new RegExp(`perp market SOL-PERP \\(\\w+\\): maintBaseWeightBps 9500 -> 9600 queued: it waits until ${isoTime(queuedAt + BigInt(DAY))}`));
    assert.equal((await client.perpMarket(report.address)).config.maintBaseWeightBps, 9_500);

    // Back to the config without it: reported, then cancelled when asked.
    const reported = await deployFromConfig(chain, admin, parseDeployConfig(tighter));
    assert.deepEqual([reported.perpMarkets[0]!.action, reported.perpMarkets[0]!.differences], ["differs", []]);
    const cancelled = await deployFromConfig(chain, admin, parseDeployConfig(tighter), { applyConfigChanges: true });
    assert.match(cancelled.warnings.join("\n"), /perp market SOL-PERP \(\w+\): cancelled its queued change \(maintBaseWeightBps 9500 -> 9600/);
    assert.equal((await client.perpMarket(report.address)).pending.applyAfterTs, 0n);

    // Queued again and applied once due.
    await deployFromConfig(chain, admin, looserConfig, { applyConfigChanges: true });
    warp(DAY);
    const due = await deployFromConfig(chain, admin, looserConfig, { applyDueChanges: true });
    assert.equal(due.perpMarkets[0]!.action, "applied");
    assert.equal((await client.perpMarket(report.address)).config.maintBaseWeightBps, 9_600);
  });

  it("surfaces the program's refusal, creates nothing for that market, and refuses to move a market to another settle bank", async () => {
    const { chain, admin, json } = stage();
    const bad = copy(json);
    bad.perpMarkets![0]!.config.initBaseWeightBps = 9_600; // above its maint base weight
    await expectMarginError(() => deployFromConfig(chain, admin, parseDeployConfig(bad)), "InvalidRiskWeights");
    const group = groupAddress(admin.publicKey, 9);
    assert.equal((await new CrossMarginClient(chain).group(group)).perpMarketCount, 0);
    await deployFromConfig(chain, admin, parseDeployConfig(copy(json)));

    const moved = copy(json);
    moved.perpMarkets![0]!.settleBank = "SOL";
    await assert.rejects(deployFromConfig(chain, admin, parseDeployConfig(moved)), /perp market SOL-PERP .*settles in bank \w+, the config's SOL is \w+ \(a market's settle bank cannot change\)/);
  });

  it("rejects malformed perp market entries with the offending path", () => {
    const { json } = stage();
    const mutate = (change: (c: DeployConfigJson) => void) => {
      const c = copy(json);
      change(c);
      return () => parseDeployConfig(c);
    };
    assert.throws(mutate((c) => (c.perpMarkets![0]!.settleBank = "EUR")), /config\.perpMarkets\[0\]\.settleBank: must name a bank of this config \(USDC, SOL\)/);
    assert.throws(mutate((c) => ((c.perpMarkets![0]!.config as Record<string, unknown>)["takerFee"] = 1)), /config\.perpMarkets\[0\]\.config\.takerFee: unknown field/);
    assert.throws(mutate((c) => (c.perpMarkets![0]!.config.baseDecimals = 256)), /config\.perpMarkets\[0\]\.config\.baseDecimals: must be an integer in \[0, 256\)/);
    assert.throws(mutate((c) => c.perpMarkets!.push(copy(c.perpMarkets![0]!))), /two perp markets have the same name/);
    assert.throws(mutate((c) => ((c as unknown as Record<string, unknown>)["perpMarkets"] = {})), /config\.perpMarkets: must be an array/);
    assert.deepEqual(mutate((c) => delete c.perpMarkets)().perpMarkets, []);
  });

  it("accepts the shipped migrations/config.localnet.json with its SOL-PERP", () => {
    const file = path.resolve(__dirname, "../../../migrations/config.localnet.json");
    const config = parseDeployConfig(JSON.parse(readFileSync(file, "utf8")));
    const [solPerp] = config.perpMarkets!;
    assert.deepEqual([config.perpMarkets!.length, solPerp!.name, solPerp!.marketIndex, solPerp!.settleBank], [1, "SOL-PERP", 0, "USDC"]);
    assert.ok(solPerp!.settleMint.equals(config.banks[0]!.mint));
    assert.ok(solPerp!.oracle.equals(config.banks[1]!.oracle), "the SOL bank's oracle");
    assert.deepEqual([solPerp!.config.baseDecimals, solPerp!.config.baseLotSize], [9, 10_000_000n]);
  });
});

describe("migrations/deploy.ts: perp markets", () => {
  it("creates a perp market through --url, a second run sends nothing, and a live group's queued change is a WARNING", async () => {
    const chain = new LiteSvmChain();
    const { json } = stage(chain);
    const server = new LiteSvmRpcServer(chain);
    const url = await server.start();
    try {
      const { write, args } = deployFiles(url, chain.payer, json);
      const first = await runDeploy(args);
      assert.equal(first.code, 0, first.output);
      assert.match(first.output, /perp market SOL-PERP \(\w+\): created/);
      assert.match(first.output, /4 transaction\(s\) sent/);
      const second = await runDeploy(args);
      assert.equal(second.code, 0, second.output);
      assert.match(second.output, /perp market SOL-PERP \(\w+\): unchanged/);
      assert.match(second.output, /0 transaction\(s\) sent/);

      json.group = { configDelaySecs: DAY };
      write(json);
      const live = await runDeploy([...args, "--apply-config-changes"]);
      assert.match(live.output, /live; changes that can hurt positions now wait 86400 s/, live.output);
      json.perpMarkets![0]!.config.maintPnlWeightBps = 9_500;
      write(json);
      const queued = await runDeploy([...args, "--apply-config-changes"]);
      assert.equal(queued.code, 0, queued.output);
      const until = isoTime(START_TIME + BigInt(DAY));
      assert.match(queued.output, /perp market SOL-PERP \(\w+\): queued/);
      assert.match(queued.output, new RegExp(`WARNING: perp market SOL-PERP \\(\\w+\\): maintPnlWeightBps 9000 -> 9500 queued: it waits until ${until}`));
      assert.match(queued.output, new RegExp(`queued change on \\w+: waits until ${until}`));
    } finally {
      await server.stop();
    }
  });
});
