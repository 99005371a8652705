/**
 * Admin safety (finding M-1) through the SDK, on the real program in LiteSVM: the queue's
 * builders (queue, refused early, applied after the delay, cancelled), `pendingChanges` and
 * `groupSafety`, the `health_after_pending_changes` view (`healthAfterPendingChanges`,
 * `healthWithPendingChanges`), the two-step admin rotation and the emergency admin's halt.
 * Mirrors tests/tests/admin_safety.rs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { PublicKey, type Keypair, type TransactionInstruction } from "@solana/web3.js";

import {
  acceptAdminIx,
  applyBankConfigIx,
  applyGroupConfigIx,
  cancelBankConfigIx,
  cancelGroupConfigIx,
  configureBankIx,
  configureGroupIx,
  describeQueuedChange,
  eventsNamed,
  groupSafety,
  haltIx,
  healthAfterPendingChangesIx,
  healthAccountMetas,
  bankLookup,
  isoTime,
  OracleKind,
  pendingHealthAccountMetas,
  proposeAdminIx,
  queueBankConfigIx,
  queueGroupConfigIx,
  type BankConfig,
  type BankRef,
  type SentTransaction,
} from "../src";
import { expectMarginError, expectRejected } from "./support/assert";
import { Market } from "./support/market";

/** MIN_CONFIG_DELAY_SECS: one day. */
const DAY = 86_400;

/** The market's group made live: changes that can hurt positions wait a day. */
async function liveMarket(): Promise<Market> {
  const market = await Market.create();
  await asAdmin(market, await configureGroupIx(market.group, market.admin.publicKey, { configDelaySecs: DAY }));
  return market;
}

/** A live market with liquidity and a user whose 10 SOL ($1,250) back $900 of USDC: maint
 * +$207. */
async function liveMarketWithBorrower() {
  const market = await liveMarket();
  await market.withLiquidity();
  const user = await market.user([0n, 10_000_000_000n, 0n]);
  await market.deposit(user, market.sol, 10_000_000_000n);
  await market.borrow(user, market.usdc, 900_000_000n);
  return { market, user };
}

function asAdmin(market: Market, ...instructions: TransactionInstruction[]): Promise<SentTransaction> {
  return market.chain.sendTransaction(instructions, market.admin);
}

/** Anyone (the chain's payer) sends. */
function asAnyone(market: Market, ...instructions: TransactionInstruction[]): Promise<SentTransaction> {
  return market.chain.sendTransaction(instructions, market.chain.payer);
}

async function configOf(market: Market, bank: BankRef): Promise<BankConfig> {
  return (await market.client.bank(bank.address)).config;
}

/** SOL's weights lowered and its fee raised (the M-1 change): maint asset weight 0.90 -> 0.70,
 * init 0.80 -> 0.60, liquidation fee 5% -> 20%. */
async function harmfulSolConfig(market: Market): Promise<BankConfig> {
  return { ...(await configOf(market, market.sol)), initAssetWeightBps: 6_000, maintAssetWeightBps: 7_000, liquidationFeeBps: 2_000 };
}

function bankArgs(market: Market, bank: BankRef, config: BankConfig, oracle: PublicKey = bank.oracle) {
  return { group: market.group, admin: market.admin.publicKey, bank: bank.address, oracle, config };
}

describe("admin safety: the queue's builders", () => {
  it("a bank change is refused at once, queued, refused early, cancelled, and applied by anyone after the delay", async () => {
    const market = await liveMarket();
    const sol = market.sol;
    const harmful = await harmfulSolConfig(market);
    const snapshot = () => market.chain.snapshot([market.group, sol.address]);

    await expectRejected(snapshot, async () => asAdmin(market, await configureBankIx(bankArgs(market, sol, harmful))), "ConfigChangeMustBeQueued");
    const queued = await asAdmin(market, await queueBankConfigIx(bankArgs(market, sol, harmful)));
    const [event] = eventsNamed(queued.logs, "bankConfigChangeQueued");
    const applyAfterTs = market.now() + BigInt(DAY);
    assert.ok(event?.bank.equals(sol.address));
    assert.equal(event.applyAfterTs.toString(), applyAfterTs.toString());
    let bank = await market.client.bank(sol.address);
    assert.equal(bank.pending.applyAfterTs, applyAfterTs);
    assert.deepEqual(bank.pending.config, harmful, "the queued config decodes as a BankConfig");
    assert.ok(bank.pending.oracle.equals(sol.oracle));
    assert.equal(bank.config.maintAssetWeightBps, 9_000, "not applied yet");

    // One change at a time; nothing applies early.
    await expectRejected(snapshot, async () => asAdmin(market, await queueBankConfigIx(bankArgs(market, sol, harmful))), "ConfigChangeAlreadyQueued");
    const apply = () => applyBankConfigIx({ group: market.group, bank: sol.address, oracle: sol.oracle });
    await expectRejected(snapshot, async () => asAnyone(market, await apply()), "ConfigChangeNotReady");

    // Cancelled: nothing to apply, even after the delay.
    const cancelled = await asAdmin(market, await cancelBankConfigIx({ group: market.group, admin: market.admin.publicKey, bank: sol.address }));
    assert.equal(eventsNamed(cancelled.logs, "bankConfigChangeCancelled").length, 1);
    assert.equal((await market.client.bank(sol.address)).pending.applyAfterTs, 0n);
    await market.warp(BigInt(DAY));
    await expectMarginError(async () => asAnyone(market, await apply()), "NoConfigChangeQueued");

    // Queued again: one second early is refused, at the delay anyone applies it.
    await asAdmin(market, await queueBankConfigIx(bankArgs(market, sol, harmful)));
    await market.warp(BigInt(DAY - 1));
    await expectRejected(snapshot, async () => asAnyone(market, await apply()), "ConfigChangeNotReady");
    await market.warp(1n);
    const applied = await asAnyone(market, await apply());
    assert.equal(eventsNamed(applied.logs, "bankConfigChangeApplied").length, 1);
    assert.equal(eventsNamed(applied.logs, "bankConfigured").length, 1);
    bank = await market.client.bank(sol.address);
    assert.deepEqual(bank.config, harmful);
    assert.equal(bank.pending.applyAfterTs, 0n);
  });

  it("a group change is refused at once, queued, refused early, cancelled, and applied after the delay", async () => {
    const market = await liveMarket();
    const { group, admin } = { group: market.group, admin: market.admin.publicKey };
    const snapshot = () => market.chain.snapshot([group]);
    const buffer = { liquidationEndBufferBps: 900 };

    await expectRejected(snapshot, async () => asAdmin(market, await configureGroupIx(group, admin, buffer)), "ConfigChangeMustBeQueued");
    await expectMarginError(async () => asAdmin(market, await queueGroupConfigIx(group, admin, { paused: true })), "NotATimelockedSetting");
    await expectMarginError(async () => asAdmin(market, await queueGroupConfigIx(group, admin, {})), "EmptyConfigChange");
    const queued = await asAdmin(market, await queueGroupConfigIx(group, admin, buffer));
    const [event] = eventsNamed(queued.logs, "groupConfigChangeQueued");
    assert.equal(event?.change.liquidationEndBufferBps, 900);
    let state = await market.client.group(group);
    assert.equal(state.pending.applyAfterTs, market.now() + BigInt(DAY));
    assert.equal(state.pending.liquidationEndBufferBps, 900);
    assert.equal(state.pending.bankruptcyDustQuote, 0n, "a zero field is left unchanged");
    assert.equal(state.liquidationEndBufferBps, 500);

    await expectRejected(snapshot, async () => asAnyone(market, await applyGroupConfigIx(group)), "ConfigChangeNotReady");
    const cancelled = await asAdmin(market, await cancelGroupConfigIx(group, admin));
    assert.equal(eventsNamed(cancelled.logs, "groupConfigChangeCancelled").length, 1);
    await expectMarginError(async () => asAnyone(market, await applyGroupConfigIx(group)), "NoConfigChangeQueued");

    await asAdmin(market, await queueGroupConfigIx(group, admin, buffer));
    await market.warp(BigInt(DAY));
    const applied = await asAnyone(market, await applyGroupConfigIx(group));
    assert.equal(eventsNamed(applied.logs, "groupConfigChangeApplied").length, 1);
    state = await market.client.group(group);
    assert.equal(state.liquidationEndBufferBps, 900);
    assert.equal(state.pending.applyAfterTs, 0n);
  });

  it("protective changes apply at once in a live group", async () => {
    const market = await liveMarket();
    const old = await configOf(market, market.sol);
    const tighter = { ...old, initAssetWeightBps: old.initAssetWeightBps - 1_000, depositLimitNative: 5_000_000_000n };
    await asAdmin(market, await configureBankIx(bankArgs(market, market.sol, tighter)));
    assert.deepEqual(await configOf(market, market.sol), tighter);
    await asAdmin(market, await configureGroupIx(market.group, market.admin.publicKey, { configDelaySecs: 2 * DAY }));
    assert.equal((await market.client.group(market.group)).configDelaySecs, 2 * DAY);
  });
});

describe("admin safety: what a user sees", () => {
  it("groupSafety tells setup from live, with a warning for setup", async () => {
    const market = await Market.create();
    const setup = await market.client.groupSafety(market.group);
    assert.equal(setup.live, false);
    assert.equal(setup.configDelaySecs, 0);
    assert.equal(setup.emergencyAdmin, null);
    assert.equal(setup.pendingAdmin, null);
    assert.match(setup.warning ?? "", /setup.*without notice/);

    const emergency = market.chain.newPubkey();
    await asAdmin(market, await configureGroupIx(market.group, market.admin.publicKey, { configDelaySecs: 3 * DAY, emergencyAdmin: emergency }));
    const live = groupSafety(await market.client.group(market.group));
    assert.deepEqual({ ...live, emergencyAdmin: live.emergencyAdmin?.toBase58() }, {
      live: true,
      configDelaySecs: 3 * DAY,
      emergencyAdmin: emergency.toBase58(),
      pendingAdmin: null,
      warning: null,
    });
  });

  it("pendingChanges lists the group's and a bank's queued changes, diffed against the settings in force, and when they are due", async () => {
    const market = await liveMarket();
    const { group, admin } = { group: market.group, admin: market.admin.publicKey };
    assert.deepEqual(await market.client.pendingChanges(group), [], "nothing queued");

    const harmful = await harmfulSolConfig(market);
    await asAdmin(market, await queueBankConfigIx(bankArgs(market, market.sol, harmful)));
    await market.warp(100n);
    await asAdmin(market, await queueGroupConfigIx(group, admin, { bankruptcyDustQuote: 2_000_000n, liquidationEndBufferBps: 500 }));
    const start = market.now();

    const names = new Map([[market.sol.address.toBase58(), "SOL"]]);
    const queued = await market.client.pendingChanges(group, { bankNames: names });
    assert.equal(queued.length, 2);
    const [groupChange, solChange] = queued;
    assert.equal(groupChange?.kind, "group");
    assert.ok(groupChange.address.equals(group));
    assert.equal(groupChange.applyAfterTs, start + BigInt(DAY));
    assert.equal(groupChange.applyAfter, isoTime(start + BigInt(DAY)));
    assert.equal(groupChange.due, false);
    assert.equal(groupChange.secondsLeft, BigInt(DAY));
    // The buffer is queued at its current value: not a difference.
    assert.deepEqual(groupChange.changes, [{ field: "bankruptcyDustQuote", from: "1000000", to: "2000000" }]);

    assert.equal(solChange?.kind, "bank");
    assert.equal(solChange.name, "SOL");
    assert.equal(solChange.bankIndex, market.sol.bankIndex);
    assert.ok(solChange.address.equals(market.sol.address));
    assert.ok(solChange.oracle.equals(market.sol.oracle));
    assert.deepEqual(solChange.config, harmful);
    assert.equal(solChange.secondsLeft, BigInt(DAY - 100));
    assert.deepEqual(solChange.changes, [
      { field: "initAssetWeightBps", from: "8000", to: "6000" },
      { field: "maintAssetWeightBps", from: "9000", to: "7000" },
      { field: "liquidationFeeBps", from: "500", to: "2000" },
    ]);
    assert.match(describeQueuedChange(solChange), /^SOL \(\w+\): initAssetWeightBps 8000 → 6000, maintAssetWeightBps 9000 → 7000, liquidationFeeBps 500 → 2000; applies after \S+Z \(in 86300 s\)$/);

    // A day later the bank's change is due and the group's is not yet.
    await market.warp(BigInt(DAY - 100));
    const later = await market.client.pendingChanges(group);
    assert.deepEqual(later.map((c) => [c.kind, c.due]), [["group", false], ["bank", true]]);
    assert.equal(later[1]?.kind === "bank" && later[1].name, `bank ${market.sol.bankIndex}`, "unnamed banks by index");
    assert.match(describeQueuedChange(later[1]!), /due since .*anyone may apply it now/);
  });

  it("a change queued in setup is due only the delay after the group went live, and the program agrees", async () => {
    const market = await Market.create();
    const harmful = await harmfulSolConfig(market);
    await asAdmin(market, await queueBankConfigIx(bankArgs(market, market.sol, harmful)));
    await market.warp(60n);
    await asAdmin(market, await configureGroupIx(market.group, market.admin.publicKey, { configDelaySecs: DAY }));
    const liveSince = market.now();
    const [change] = await market.client.pendingChanges(market.group);
    assert.equal(change?.applyAfterTs, liveSince + BigInt(DAY));
    assert.equal(change?.due, false);
    await market.warp(BigInt(DAY - 1));
    const apply = await applyBankConfigIx({ group: market.group, bank: market.sol.address, oracle: market.sol.oracle });
    await expectMarginError(() => asAnyone(market, apply), "ConfigChangeNotReady");
    await market.warp(1n);
    assert.equal((await market.client.pendingChanges(market.group))[0]?.due, true);
    await asAnyone(market, await applyBankConfigIx({ group: market.group, bank: market.sol.address, oracle: market.sol.oracle }));
    assert.deepEqual(await configOf(market, market.sol), harmful);
  });

  it("healthAfterPendingChanges: a queued lower maint weight makes a healthy account liquidatable, and only once it applies", async () => {
    const { market, user } = await liveMarketWithBorrower();
    // 10 SOL ($1,250) backing $900 of USDC: maint +$207.
    const before = await market.client.healthWithPendingChanges(user.account, market.chain.payer.publicKey);
    assert.equal(before.now.maint, 207_000_000n);
    assert.deepEqual(before.afterPending, before.now, "nothing queued: the same health");
    assert.equal(before.becomesLiquidatable, false);

    await asAdmin(market, await queueBankConfigIx(bankArgs(market, market.sol, await harmfulSolConfig(market))));
    const preview = await market.client.healthWithPendingChanges(user.account, market.chain.payer.publicKey);
    assert.equal(preview.now.maint, 207_000_000n);
    assert.equal(preview.now.liquidatable, false);
    // 0.70 x $1,250 against 1.02 x $900.
    assert.equal(preview.afterPending.maint, 875_000_000n - 918_000_000n);
    assert.equal(preview.afterPending.liquidatable, true);
    assert.equal(preview.becomesLiquidatable, true);
    assert.equal(preview.maintChange, -250_000_000n);
    const sol = preview.afterPending.positions.find((p) => p.bankIndex === market.sol.bankIndex);
    assert.equal(sol?.maint, 875_000_000n);

    // The delay passes; the view's prediction is what health becomes once it applies.
    await market.warp(BigInt(DAY));
    assert.equal((await market.health(user)).liquidatable, false, "not before it applies");
    await asAnyone(market, await applyBankConfigIx({ group: market.group, bank: market.sol.address, oracle: market.sol.oracle }));
    const after = await market.health(user);
    assert.equal(after.maint, preview.afterPending.maint);
    assert.equal(after.liquidatable, true);
  });

  it("healthAfterPendingChanges prices a re-pinned bank from its queued oracle", async () => {
    const { market, user } = await liveMarketWithBorrower();
    // The queued oracle (same feed) says $62.50 instead of $125 (exact in Q64.64): maint
    // 0.90 x $625 - $918.
    const newOracle = market.chain.newPubkey();
    market.writeOracle(OracleKind.PythPull, newOracle, market.sol.bankIndex, { price: 625_000n, conf: 0n, exponent: -4, publishTime: market.now() });
    const config = await configOf(market, market.sol);
    await expectMarginError(async () => asAdmin(market, await configureBankIx(bankArgs(market, market.sol, config, newOracle))), "ConfigChangeMustBeQueued");
    await asAdmin(market, await queueBankConfigIx(bankArgs(market, market.sol, config, newOracle)));
    const [change] = await market.client.pendingChanges(market.group);
    assert.deepEqual(change?.changes, [{ field: "oracle", from: market.sol.oracle.toBase58(), to: newOracle.toBase58() }]);

    const margin = await market.client.marginAccount(user.account);
    const banks = await market.client.banks(market.group);
    const pairs = pendingHealthAccountMetas(margin, banks);
    assert.ok(pairs[1]!.pubkey.equals(newOracle), "the SOL pair carries the queued oracle");
    // With the oracle in force the view refuses: the previewed bank pins the queued one.
    const current = healthAccountMetas(margin, bankLookup(await market.client.bankRefs(market.group)));
    await expectMarginError(
      async () => market.chain.simulateTransaction([await healthAfterPendingChangesIx(market.group, user.account, current)], market.chain.payer.publicKey),
      "OracleAccountMismatch",
    );
    const preview = await market.client.healthWithPendingChanges(user.account, market.chain.payer.publicKey);
    assert.equal(preview.now.maint, 207_000_000n);
    assert.equal(preview.afterPending.maint, 562_500_000n - 918_000_000n);
    assert.equal(preview.becomesLiquidatable, true);
  });
});

describe("admin safety: the admin and the emergency admin", () => {
  it("rotates the admin in two steps", async () => {
    const market = await Market.create();
    const group = market.group;
    const old = market.admin;
    const next = market.chain.fundedKeypair();
    const stranger = market.chain.fundedKeypair();
    const signedBy = (key: Keypair, ...instructions: TransactionInstruction[]) => market.chain.sendTransaction(instructions, key);

    await expectMarginError(async () => signedBy(next, await acceptAdminIx(group, next.publicKey)), "NoAdminTransferPending");
    const proposed = await signedBy(old, await proposeAdminIx(group, old.publicKey, next.publicKey));
    const [event] = eventsNamed(proposed.logs, "adminTransferProposed");
    assert.ok(event?.proposedAdmin.equals(next.publicKey));
    assert.ok((await market.client.groupSafety(group)).pendingAdmin?.equals(next.publicKey));
    await expectMarginError(async () => signedBy(stranger, await acceptAdminIx(group, stranger.publicKey)), "NotPendingAdmin");

    // Withdrawn, then proposed again and accepted.
    await signedBy(old, await proposeAdminIx(group, old.publicKey, PublicKey.default));
    assert.equal((await market.client.groupSafety(group)).pendingAdmin, null);
    await expectMarginError(async () => signedBy(next, await acceptAdminIx(group, next.publicKey)), "NoAdminTransferPending");
    await signedBy(old, await proposeAdminIx(group, old.publicKey, next.publicKey));
    const accepted = await signedBy(next, await acceptAdminIx(group, next.publicKey));
    const [moved] = eventsNamed(accepted.logs, "adminTransferred");
    assert.ok(moved?.previousAdmin.equals(old.publicKey) && moved.newAdmin.equals(next.publicKey));
    const state = await market.client.group(group);
    assert.ok(state.admin.equals(next.publicKey));
    assert.ok(state.pendingAdmin.equals(PublicKey.default));

    // The old admin has lost every power; the new one has them.
    await expectMarginError(async () => signedBy(old, await configureGroupIx(group, old.publicKey, { paused: true })), "NotGroupAdmin");
    await signedBy(next, await configureGroupIx(group, next.publicKey, { paused: true }));
    assert.equal((await market.client.group(group)).paused, true);
  });

  it("the emergency admin can only halt; the admin lifts", async () => {
    const market = await liveMarket();
    const { group, admin } = { group: market.group, admin: market.admin.publicKey };
    const emergency = market.chain.fundedKeypair();
    const stranger = market.chain.fundedKeypair();
    await asAdmin(market, await configureGroupIx(group, admin, { emergencyAdmin: emergency.publicKey }));
    const snapshot = () => market.chain.snapshot([group]);
    const halt = (key: Keypair, pause: boolean, reduceOnly: boolean) => async () =>
      market.chain.sendTransaction([await haltIx({ group, authority: key.publicKey, pause, reduceOnly })], key);

    await expectRejected(snapshot, halt(stranger, true, false), "NotGroupAdminOrEmergency");
    await expectRejected(snapshot, halt(emergency, false, false), "NothingToHalt");
    const halted = await halt(emergency, true, true)();
    assert.equal(eventsNamed(halted.logs, "groupConfigured")[0]?.paused, true);
    let state = await market.client.group(group);
    assert.equal(state.paused && state.reduceOnly, true);

    // It cannot lift them.
    await expectRejected(
      snapshot,
      async () => market.chain.sendTransaction([await configureGroupIx(group, emergency.publicKey, { paused: false })], emergency),
      "NotGroupAdmin",
    );
    await asAdmin(market, await configureGroupIx(group, admin, { paused: false, reduceOnly: false }));
    state = await market.client.group(group);
    assert.equal(state.paused || state.reduceOnly, false);
    // The admin may halt too.
    await halt(market.admin, true, false)();
    assert.equal((await market.client.group(group)).paused, true);
  });
});
