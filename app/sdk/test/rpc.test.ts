/**
 * The code paths used against real clusters: `ConnectionChain` (web3.js `Connection` over
 * JSON-RPC) and `migrations/deploy.ts` run with `--url` and as Anchor's hook, against a
 * JSON-RPC endpoint on 127.0.0.1 backed by LiteSVM running the real program.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { AnchorProvider, Wallet } from "@anchor-lang/core";
import { Connection } from "@solana/web3.js";

import {
  ConnectionChain,
  CrossMarginClient,
  encodeLegacyPriceAccount,
  encodePriceUpdateV2,
  eventsNamed,
  groupAddress,
  PYTH_LEGACY_PROGRAM_MAINNET,
  PYTH_RECEIVER_PROGRAM_MAINNET,
  TransactionFailedError,
} from "../src";
import {
  type DeployConfigJson,
} from "../src/deploy-entry";
import { deployFiles, runDeploy } from "./support/deploy-cli";
import { bankJson } from "./support/deploy-config";
import { LiteSvmChain } from "./support/litesvm-chain";
import { Market, START_TIME } from "./support/market";
import { LiteSvmRpcServer } from "./support/rpc-server";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;

describe("ConnectionChain over JSON-RPC", () => {
  let market: Market;
  let server: LiteSvmRpcServer;
  let rpc: ConnectionChain;

  before(async () => {
    market = await Market.create();
    await market.withLiquidity();
    server = new LiteSvmRpcServer(market.chain);
    rpc = ConnectionChain.fromUrl(await server.start());
    rpc.pollIntervalMs = 5;
  });
  after(() => server.stop());

  it("reads accounts, sends transactions, decodes events, and reads health like the in-process chain", async () => {
    const client = new CrossMarginClient(rpc);
    assert.equal((await client.group(market.group)).bankCount, 3);
    assert.deepEqual((await client.bankRefs(market.group)).map((b) => b.address.toBase58()), market.banks().map((b) => b.address.toBase58()));

    const user = await market.user([0n, 10n * SOL, 0n]);
    const request = { account: user.account, owner: user.keypair.publicKey, bank: market.sol.address, userToken: user.tokens[1]!, amount: 10n * SOL };
    const deposited = await rpc.sendTransaction([await client.depositIx(request)], user.keypair);
    assert.match(deposited.signature, /^[1-9A-HJ-NP-Za-km-z]{80,90}$/);
    assert.equal(eventsNamed(deposited.logs, "tokenMovement")[0]?.amount.toString(), (10n * SOL).toString());
    const borrow = { account: user.account, owner: user.keypair.publicKey, bank: market.usdc.address, userToken: user.tokens[0]!, amount: 500n * USDC };
    await rpc.sendTransaction([await client.borrowIx(borrow)], user.keypair);

    const viaRpc = await client.health(user.account, market.chain.payer.publicKey);
    assert.deepEqual(viaRpc, await market.health(user));
    assert.equal(viaRpc.init, 475_000_000n);
    assert.ok(server.calls.includes("simulateTransaction"));
  });

  it("decodes a preflight failure (SendTransactionError) and a failed simulation to the named error", async () => {
    const client = new CrossMarginClient(rpc);
    const user = await market.user([0n, 10n * SOL, 0n]);
    await market.deposit(user, market.sol, 10n * SOL);
    const borrow = { account: user.account, owner: user.keypair.publicKey, bank: market.usdc.address, userToken: user.tokens[0]!, amount: 952_380_953n };
    const before = market.snapshot(user);
    const failure = await rpc.sendTransaction([await client.borrowIx(borrow)], user.keypair).then(
      () => assert.fail("over-borrow succeeded"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof TransactionFailedError);
    assert.equal(failure.decoded?.name, "InitHealthNegative");
    assert.ok(failure.logs.length > 0, "logs come back with the preflight error");
    assert.deepEqual(market.snapshot(user), before);

    market.chain.setUnixTimestamp(market.now() + 3_600n);
    const stale = await client.health(user.account, market.chain.payer.publicKey).then(
      () => assert.fail("health with stale oracles succeeded"),
      (error: unknown) => error,
    );
    assert.ok(stale instanceof TransactionFailedError);
    assert.equal(stale.decoded?.name, "OracleStale");
    market.chain.setUnixTimestamp(market.now() - 3_600n);
  });
});

/** Two mints and their oracles (pull and legacy) on `chain`, and a deploy config for them. */
function stageDeploy(chain: LiteSvmChain) {
  const solMint = chain.createMint(9);
  const btcMint = chain.createMint(8);
  const solOracle = chain.newPubkey();
  const btcOracle = chain.newPubkey();
  const feed = Buffer.alloc(32, 7);
  const publish = (publishTime: bigint) => {
    chain.setAccount(solOracle, PYTH_RECEIVER_PROGRAM_MAINNET, encodePriceUpdateV2(feed, { price: 1_250_000n, conf: 0n, exponent: -4, publishTime }));
    chain.setAccount(btcOracle, PYTH_LEGACY_PROGRAM_MAINNET, encodeLegacyPriceAccount({ price: 1_000_000_000n, conf: 0n, exponent: -4, publishTime }));
  };
  publish(START_TIME);
  const limits = { depositLimitNative: "1000000000000000", borrowLimitNative: "1000000000000000" };
  const config: DeployConfigJson = {
    groupNum: 3,
    pythReceiverProgram: PYTH_RECEIVER_PROGRAM_MAINNET.toBase58(),
    pythLegacyProgram: PYTH_LEGACY_PROGRAM_MAINNET.toBase58(),
    banks: [
      { name: "SOL", mint: solMint.toBase58(), oracle: solOracle.toBase58(), config: bankJson({ oracleFeedId: feed.toString("hex"), ...limits }) },
      { name: "BTC", mint: btcMint.toBase58(), oracle: btcOracle.toBase58(), config: bankJson({ oracleKind: "pythLegacy", oracleFeedId: "00".repeat(32), ...limits }) },
    ],
  };
  return { config, publish };
}

describe("migrations/deploy.ts", () => {
  it("deploys from a config file through --url, and a second run sends nothing", async () => {
    const chain = new LiteSvmChain();
    chain.setUnixTimestamp(START_TIME);
    const server = new LiteSvmRpcServer(chain);
    const url = await server.start();
    try {
      const admin = chain.payer; // the keypair file's key pays, as with `solana config`'s wallet
      const { config } = stageDeploy(chain);
      const { configPath, write, args } = deployFiles(url, admin, config);

      const first = await runDeploy(args);
      assert.equal(first.code, 0, first.output);
      assert.match(first.output, /group \w+: created/);
      assert.match(first.output, /bank SOL \(\w+\): created/);
      assert.match(first.output, /bank BTC \(\w+\): created/);
      assert.match(first.output, /3 transaction\(s\) sent/);
      const group = groupAddress(admin.publicKey, 3);
      const banks = await new CrossMarginClient(chain).banks(group);
      assert.equal(banks.length, 2);

      const keys = [group, admin.publicKey, ...banks.flatMap((b) => [b.address, b.data.vault])];
      const snapshot = chain.snapshot(keys);
      const sendsBefore = server.calls.filter((c) => c === "sendTransaction").length;
      const second = await runDeploy(args);
      assert.equal(second.code, 0, second.output);
      assert.match(second.output, /bank SOL \(\w+\): unchanged/);
      assert.match(second.output, /0 transaction\(s\) sent/);
      // What scripts/localnet-e2e.sh checks of a second run (a group in setup warns, and the
      // warning must not read as a difference).
      assert.doesNotMatch(second.output, /differ/);
      assert.equal(second.output.match(/: unchanged/g)?.length, 3, second.output);
      assert.match(second.output, /WARNING: group \w+: This group is in setup/);
      assert.equal(server.calls.filter((c) => c === "sendTransaction").length, sendsBefore, "no transaction reached the node");
      assert.deepEqual(chain.snapshot(keys), snapshot);

      // As Anchor's hook (`anchor migrate`), with a changed config and the apply flag.
      config.banks[1]!.config.maintAssetWeightBps = 9_400;
      write(config);
      const hook = require(path.resolve(__dirname, "../../../migrations/deploy.ts")) as (provider: AnchorProvider) => Promise<void>;
      const provider = new AnchorProvider(new Connection(url, "confirmed"), new Wallet(admin), {});
      const env = { ...process.env };
      process.env["CROSS_MARGIN_DEPLOY_CONFIG"] = configPath;
      const logs: string[] = [];
      const log = console.log;
      console.log = (...parts: unknown[]) => logs.push(parts.join(" "));
      try {
        await hook(provider); // reports the difference only
        process.env["CROSS_MARGIN_APPLY_CONFIG_CHANGES"] = "1";
        await hook(provider);
      } finally {
        console.log = log;
        process.env = env;
      }
      assert.ok(logs.some((l) => /bank BTC \(\w+\): differs/.test(l)), logs.join("\n"));
      assert.ok(logs.some((l) => /maintAssetWeightBps: on chain 9000, config 9400/.test(l)));
      assert.ok(logs.some((l) => /bank BTC \(\w+\): reconfigured/.test(l)));
      assert.equal((await new CrossMarginClient(chain).banks(group))[1]!.data.config.maintAssetWeightBps, 9_400);
    } finally {
      await server.stop();
    }
  });
  it("in a live group queues a change the program refuses at once, warns until when, and applies it with --apply-due-changes once due", async () => {
    const chain = new LiteSvmChain();
    chain.setUnixTimestamp(START_TIME);
    const server = new LiteSvmRpcServer(chain);
    const url = await server.start();
    try {
      const admin = chain.payer;
      const { config, publish } = stageDeploy(chain);
      config.group = { configDelaySecs: 86_400 };
      const { write, args } = deployFiles(url, admin, config);
      const first = await runDeploy(args);
      assert.equal(first.code, 0, first.output);
      assert.match(first.output, /live; changes that can hurt positions now wait 86400 s/);
      assert.match(first.output, /4 transaction\(s\) sent/);

      config.banks[0]!.config.liquidationFeeBps = 600;
      write(config);
      const queued = await runDeploy([...args, "--apply-config-changes"]);
      assert.equal(queued.code, 0, queued.output);
      const until = new Date(Number(START_TIME + 86_400n) * 1000).toISOString();
      assert.match(queued.output, /bank SOL \(\w+\): queued/);
      assert.match(queued.output, new RegExp(`WARNING: bank SOL \\(\\w+\\): liquidationFeeBps 500 -> 600 queued: it waits until ${until}`));
      assert.match(queued.output, new RegExp(`queued change on \\w+: waits until ${until}`));
      assert.match(queued.output, /1 transaction\(s\) sent/);

      const sends = server.calls.filter((c) => c === "sendTransaction").length;
      const again = await runDeploy([...args, "--apply-config-changes", "--apply-due-changes"]);
      assert.equal(again.code, 0, again.output);
      assert.match(again.output, /bank SOL \(\w+\): pending/);
      assert.match(again.output, /0 transaction\(s\) sent/);
      assert.equal(server.calls.filter((c) => c === "sendTransaction").length, sends, "the queued change is not queued again");

      chain.setUnixTimestamp(START_TIME + 86_400n);
      publish(START_TIME + 86_400n);
      const applied = await runDeploy([...args, "--apply-due-changes"]);
      assert.equal(applied.code, 0, applied.output);
      assert.match(applied.output, /bank SOL \(\w+\): applied/);
      const sol = (await new CrossMarginClient(chain).banks(groupAddress(admin.publicKey, 3)))[0]!.data;
      assert.equal(sol.config.liquidationFeeBps, 600);
      assert.equal(sol.pending.applyAfterTs, 0n);
    } finally {
      await server.stop();
    }
  });
});
