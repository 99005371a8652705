/**
 * Perps end to end against the real program in LiteSVM: a perp market settling in the USDC bank
 * over a Pyth pull oracle, an LP funding its pool, a trader opening a long, a day of funding and
 * a price move, settlement, closing at a loss, and the LP leaving. Every decoded amount is worked
 * out by hand in the comments, and the SDK's maths (`perp.ts`) must predict the same.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  activePerps,
  depositNative,
  eventsNamed,
  lpValueOf,
  ONE_Q64,
  perpHealth,
  perpPositionPnl,
  poolNative,
  poolValue,
  positionWithFunding,
  previewSettlePnl,
  priceSideQ64,
  queuePerpMarketConfigIx,
  type PerpMarketRef,
} from "../src";
import { expectMarginError } from "./support/assert";
import { Market, quoteDollars, START_TIME } from "./support/market";
import { addPerpMarket, perpConfig, perpRequest, setPerpPrice, withPool } from "./support/perp-market";

const USDC = 1_000_000n;
const DAY = 86_400n;
const price = (dollars: bigint): bigint => dollars << 64n; // base and quote both have 6 decimals

describe("perps: pool, long, funding, settlement, close, LP exit", () => {
  it("moves exactly the amounts worked out by hand, and the SDK's maths predicts each", async () => {
    const market = await Market.create();
    const client = market.client;
    const perp: PerpMarketRef = await addPerpMarket(market, 100n);

    // The market as created: index 0, settling in USDC (bank 0), the config as given.
    const created = await client.perpMarket(perp.address);
    assert.equal((await client.group(market.group)).perpMarketCount, 1);
    assert.deepEqual([created.marketIndex, created.settleBankIndex, created.version], [0, 0, 1]);
    assert.ok(created.settleBank.equals(market.usdc.address) && created.oracle.equals(perp.oracle));
    assert.deepEqual(created.config, perpConfig());
    assert.deepEqual([created.lastFundingTs, created.fundingLong, created.quoteSum, created.pending.applyAfterTs], [START_TIME, 0n, 0n, 0n]);
    assert.deepEqual((await client.perpMarkets(market.group)).map((m) => m.address.toBase58()), [perp.address.toBase58()]);

    // The LP: 100,000 USDC deposited, 50,000 of it into the pool → 50,000,000,000 pool shares
    // (1:1 while the pool is empty) and as many deposit shares (USDC's index is 1.0).
    const lp = await withPool(market, perp, 50_000n * USDC);
    let state = await client.perpMarket(perp.address);
    assert.deepEqual([state.poolDepositShares, state.lpShares], [50_000n * USDC, 50_000n * USDC]);
    const lpSlot = (await client.marginAccount(lp.account)).perps[0]!;
    assert.deepEqual([lpSlot.active, lpSlot.lpShares, lpSlot.baseLots, lpSlot.marketIndex, lpSlot.settleBankIndex], [true, 50_000n * USDC, 0n, 0, 0]);
    const usdcBank = () => client.bank(market.usdc.address);
    assert.equal(depositNative(await client.marginAccount(lp.account), await usdcBank()), 50_000n * USDC);

    // The trader: 1,000 USDC, then long 1,000 lots (10 tokens, $1,000) at $100. The skew it
    // leaves is worth $1,000 against a $50,000 pool: impact 0.1 × 2% = 20 bps, fee 10 + 20 = 30
    // bps = $3. Quote: −$1,000 − $3.
    const trader = await market.user([1_000n * USDC, 0n, 0n]);
    await market.deposit(trader, market.usdc, 1_000n * USDC);
    const order = { ...perpRequest(trader, perp), side: "long" as const, sizeLots: 1_000n };
    const preview = await client.previewPerpOrder(order);
    assert.deepEqual([preview.feeBps, preview.fill.quoteChange, preview.fill.fee, preview.increasesRisk], [30, -1_000_000_000n, 3_000_000n, true]);
    assert.equal(preview.averagePrice, (1_003_000_000n * ONE_Q64 + 10_000_000n - 1n) / 10_000_000n, "$100.30 per token, rounded up");
    const instruction = await client.placePerpOrderIx(order);
    // Health accounts: the USDC position (which also settles the perps: no settle pair), then the
    // market opened by this order.
    assert.deepEqual(
      instruction.keys.slice(6).map((k) => [k.pubkey.toBase58(), k.isWritable]),
      [market.usdc.address, market.usdc.oracle, perp.address, perp.oracle].map((k) => [k.toBase58(), false]),
    );
    const opened = await market.send(trader, instruction);
    const fill = eventsNamed(opened.logs, "perpFill")[0]!;
    // Init health after: (1,000 − 3 − 10% × 1,000) × 0.95 (USDC's init asset weight) = $852.15.
    assert.deepEqual(
      [fill.tradeLots, fill.baseLotsAfter, fill.feeBps, fill.fee, fill.fundingPaid, fill.longLots, fill.initHealthAfter].map(String),
      ["1000", "1000", "30", "3000000", "0", "1000", "852150000"],
    );
    assert.equal(BigInt(fill.oraclePrice.toString()), price(100n));
    assert.equal(BigInt(fill.averagePrice.toString()), preview.averagePrice);
    let slot = (await client.marginAccount(trader.account)).perps[0]!;
    assert.deepEqual([slot.active, slot.baseLots, slot.quoteNative, slot.fundingLong, slot.fundingShort], [true, 1_000n, -1_003_000_000n, 0n, 0n]);
    state = await client.perpMarket(perp.address);
    assert.deepEqual([state.longLots, state.shortLots, state.quoteSum, state.feesAccrued], [1_000n, 0n, -1_003_000_000n, 3_000_000n]);

    // The health view at $100: PnL −$3; maint part −3 − 5% × 1,000 = −$53, init −3 − 100.
    // Maint: the USDC balance and the perp as one balance: (1,000 − 53) × 0.98 = $928.06; the
    // USDC position shown alone: $980.
    const health = await market.health(trader);
    assert.deepEqual(health.perpPositions, [
      { marketIndex: 0, baseLots: 1_000n, quoteNative: -1_003_000_000n, lpShares: 0n, pnl: -3_000_000n, init: -103_000_000n, maint: -53_000_000n },
    ]);
    assert.deepEqual([health.maint, health.init, health.positions[0]!.maint], [928_060_000n, 852_150_000n, 980_000_000n]);
    // The SDK's per-position maths gives the view's numbers.
    const maintInputs = { longPrice: price(100n), shortPrice: price(100n), baseWeightBps: 9_500, pnlWeightBps: 10_000 };
    assert.equal(perpHealth(positionWithFunding(slot, state).position, state.config, maintInputs), -53_000_000n);
    assert.equal(perpPositionPnl(slot, state, price(100n)), -3_000_000n);

    // A day later at $110. Funding first: the skew (10 tokens = $1,100) against the pool's
    // $50,000 is 0.1 × 2.2% = 22 bps a day; a lot ($1.10) pays $0.00242 a day: 2,420 quote
    // native per lot (index 2,420 << 64); shorts would receive 80% (1,936). The long pays
    // 1,000 × 2,420 = $2.42. PnL: 10 × 110 − 1,003 − 2.42 = $94.58, paid from the pool.
    await market.warp(DAY);
    setPerpPrice(market, perp, quoteDollars(110n, 0n, market.now()));
    const pool = poolNative(state, await usdcBank());
    const settlePreview = previewSettlePnl({ market: state, slot, price: price(110n), pool, now: market.now() });
    assert.deepEqual(settlePreview, { amount: 94_580_000n, fundingPaid: 2_420_000n });
    const settled = await market.chain.sendTransaction([await client.settlePnlIx(trader.account, perp.address)], market.chain.payer); // anyone
    const event = eventsNamed(settled.logs, "pnlSettled")[0]!;
    assert.deepEqual([event.amount, event.fundingPaid, event.balanceChange, event.poolDepositShares].map(String), ["94580000", "2420000", "94580000", "49905420000"]);
    slot = (await client.marginAccount(trader.account)).perps[0]!;
    assert.deepEqual([slot.baseLots, slot.quoteNative, slot.fundingLong, slot.fundingShort], [1_000n, -1_100_000_000n, 2_420n << 64n, 1_936n << 64n]);
    state = await client.perpMarket(perp.address);
    assert.deepEqual(
      [state.fundingLong, state.fundingShort, state.fundingUnapplied, state.quoteSum, state.poolDepositShares, state.lastFundingTs],
      [2_420n << 64n, 1_936n << 64n, 0n, -1_100_000_000n, 49_905_420_000n, START_TIME + DAY],
    );
    assert.equal(depositNative(await client.marginAccount(trader.account), await usdcBank()), 1_094_580_000n);
    assert.equal((await market.health(trader)).perpPositions[0]!.pnl, 0n, "settled: nothing left unrealised");

    // Close at $95 (reduce-only; the skew shrinks: no impact): +$950 less 0.1% = −$0.95. No
    // health check (the order reduces risk). Quote −1,100 + 950 − 0.95 = −$150.95, settled
    // from the USDC deposit into the pool; the slot frees itself.
    setPerpPrice(market, perp, quoteDollars(95n, 0n, market.now()));
    const close = await market.send(trader, await client.placePerpOrderIx({ ...order, side: "short", reduceOnly: true }));
    const closeFill = eventsNamed(close.logs, "perpFill")[0]!;
    assert.deepEqual([closeFill.tradeLots, closeFill.baseLotsAfter, closeFill.feeBps, closeFill.fee, closeFill.initHealthAfter].map(String), ["-1000", "0", "10", "950000", "0"]);
    assert.equal((await client.marginAccount(trader.account)).perps[0]!.quoteNative, -150_950_000n);
    await market.chain.sendTransaction([await client.settlePnlIx(trader.account, perp.address)], market.chain.payer);
    const closed = await client.marginAccount(trader.account);
    assert.deepEqual(activePerps(closed), [], "the slot is free again");
    // 1,000 − 50 (price) − 3.95 (fees) − 2.42 (funding) = $943.63.
    assert.equal(depositNative(closed, await usdcBank()), 943_630_000n);
    state = await client.perpMarket(perp.address);
    assert.deepEqual([state.longLots, state.quoteSum, state.poolDepositShares, state.feesAccrued], [0n, 0n, 50_056_370_000n, 3_950_000n]);

    // The LP leaves with the pool: $50,000 + what the trader lost ($56.37).
    const value = poolValue(state, poolNative(state, await usdcBank()), price(95n), "down");
    assert.equal(lpValueOf(state, 50_000n * USDC, value), 50_056_370_000n);
    await market.send(lp, await client.poolWithdrawIx({ ...perpRequest(lp, perp), lpShares: 50_000n * USDC }));
    const lpAfter = await client.marginAccount(lp.account);
    assert.equal(depositNative(lpAfter, await usdcBank()), 100_056_370_000n);
    assert.deepEqual(activePerps(lpAfter), []);
    state = await client.perpMarket(perp.address);
    assert.deepEqual([state.lpShares, state.poolDepositShares], [0n, 0n]);
    // Every USDC token deposited is still claimed by someone: 101,000 = 100,056.37 + 943.63.
    assert.equal((await usdcBank()).totalDepositShares, 101_000n * USDC);
    assert.equal(priceSideQ64(quoteDollars(95n, 0n, 0n), "mid", { confMultiplierBps: 10_000, decimals: 6 }), price(95n));
  });

  it("token instructions and the health views of an account with perps list its perp tail; a queued perp change shows in health after pending changes", async () => {
    const market = await Market.create();
    const client = market.client;
    const perp = await addPerpMarket(market, 100n);
    await withPool(market, perp, 50_000n * USDC);
    const trader = await market.user([100n * USDC, 0n, 0n]);
    await market.deposit(trader, market.usdc, 100n * USDC);
    // Long 500 lots ($500): fee 10 + 10 bps = $1. Maint: (100 − 1 − 5% × 500) × 0.98 = $72.52.
    await market.send(trader, await client.placePerpOrderIx({ ...perpRequest(trader, perp), side: "long", sizeLots: 500n }));
    assert.equal((await market.health(trader)).maint, 72_520_000n);

    // A withdrawal through the client passes the perp tail (the program would refuse a list
    // without it, HealthAccountsMissing); too large a one fails on health alone.
    await market.withdraw(trader, market.usdc, 10n * USDC);
    await expectMarginError(() => market.withdraw(trader, market.usdc, 80n * USDC), "InitHealthNegative");

    // The admin queues a re-pin to another oracle (at $90) and 10% maint margin. Now: (90 − 1 −
    // 25) × 0.98 = $62.72; once it applies, the settle balance turns into a debt, valued at
    // USDC's maint liability weight: (90 + 5 × 90 − 501 − 10% × 450) × 1.02 = −$6.12.
    const oracle = market.chain.newPubkey();
    setPerpPrice(market, { oracle }, quoteDollars(90n, 0n, market.now()));
    const config = perpConfig({ maintBaseWeightBps: 9_000 });
    await market.chain.sendTransaction(
      [await queuePerpMarketConfigIx({ group: market.group, admin: market.admin.publicKey, perpMarket: perp.address, oracle, config })],
      market.chain.payer,
      [market.admin],
    );
    const pending = await client.pendingChanges(market.group);
    assert.deepEqual(pending.map((c) => [c.kind, c.changes.map((f) => f.field)]), [["perpMarket", ["maintBaseWeightBps", "oracle"]]]);
    const both = await client.healthWithPendingChanges(trader.account, market.chain.payer.publicKey);
    assert.deepEqual([both.now.maint, both.afterPending.maint, both.becomesLiquidatable], [62_720_000n, -6_120_000n, true]);
  });
});
