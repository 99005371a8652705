/**
 * The perp liquidation price, checked against the program itself as the token estimate is
 * (liquidation-price.test.ts): with the perp oracle at the estimate the program's health view
 * says liquidatable and one mantissa unit on the other side not (the estimate is exact for the
 * quote it assumes), and 0.01% either side flips the same way.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { estimatePerpLiquidationPrice, quoteAtMantissa, type PerpLiquidationPriceEstimate, type PerpMarketRef, type PythQuote } from "../src";
import { Market, type User } from "./support/market";
import { addPerpMarket, perpRequest, setPerpPrice, withPool } from "./support/perp-market";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;

/** $`dollars` with a confidence of 0.1% of the price (exponent −4). */
function quoteAt(market: Market, dollars: bigint): PythQuote {
  const price = dollars * 10_000n;
  return { price, conf: price / 1_000n, exponent: -4, publishTime: market.now() };
}

/** A market with a perp at $100 (0.1% confidence) and an LP's $50,000 pool. */
async function perpMarket(overrides = {}): Promise<{ market: Market; perp: PerpMarketRef }> {
  const market = await Market.create();
  const perp = await addPerpMarket(market, 100n, overrides);
  setPerpPrice(market, perp, quoteAt(market, 100n));
  await withPool(market, perp, 50_000n * USDC);
  return { market, perp };
}

async function trade(market: Market, user: User, perp: PerpMarketRef, side: "long" | "short", sizeLots: bigint) {
  await market.send(user, await market.client.placePerpOrderIx({ ...perpRequest(user, perp), side, sizeLots }));
}

/** The perp oracle at `mantissa` (the conf the estimate assumes there): liquidatable? */
async function liquidatableAt(market: Market, user: User, perp: PerpMarketRef, estimate: PerpLiquidationPriceEstimate, mantissa: bigint): Promise<boolean> {
  setPerpPrice(market, perp, quoteAtMantissa(estimate.currentQuote, mantissa, estimate.confModel));
  const health = await market.health(user);
  assert.equal(health.liquidatable, health.maint < 0n, "the view's flag is maint < 0");
  return health.liquidatable;
}

/** `at` is liquidatable and `healthy` (one unit away, and 0.01% further) is not. */
async function assertFlipsAt(market: Market, user: User, perp: PerpMarketRef, estimate: PerpLiquidationPriceEstimate, at: bigint, healthy: bigint) {
  const away = (healthy - at) * (at / 10_000n); // 0.01% further, on the healthy side
  const results = [await liquidatableAt(market, user, perp, estimate, at - away), await liquidatableAt(market, user, perp, estimate, at)];
  results.push(await liquidatableAt(market, user, perp, estimate, healthy), await liquidatableAt(market, user, perp, estimate, healthy + away));
  assert.deepEqual(results, [true, true, false, false], `flip between ${at} and ${healthy}`);
}

describe("perp liquidation price", () => {
  it("a long backed by USDC: liquidatable at and below the estimate", async () => {
    const { market, perp } = await perpMarket();
    const user = await market.user([100n * USDC, 0n, 0n]);
    await market.deposit(user, market.usdc, 100n * USDC);
    await trade(market, user, perp, "long", 500n); // 5 tokens, $500 at 5×

    const estimate = await market.client.perpLiquidationPrice(user.account, perp.address, market.chain.payer.publicKey);
    assert.equal(estimate.side, "long");
    assert.equal(estimate.maintHealthAtCurrentPrice, estimate.maintHealth, "the port reproduces the view's maint health");
    // Fee: impact 0.1 × $500 / $50,000 = 10 bps, +10: $1. At p (long valued at 0.999 p):
    // 100 + 5 × 0.999 p − 501 − 5% × 5 × 0.999 p = 0 ⇒ p = 401 / 4.74525 = $84.5056...
    const mantissa = estimate.liquidationPriceMantissa!;
    assert.ok(Math.abs(estimate.liquidationPrice! - 401 / 4.74525) < 0.0002, `${estimate.liquidationPrice}`);
    assert.equal(estimate.upperLiquidationPriceMantissa, null, "gains count in full: no rise liquidates");
    await assertFlipsAt(market, user, perp, estimate, mantissa, mantissa + 1n);
  });

  it("a short backed by USDC: liquidatable at and above the estimate", async () => {
    const { market, perp } = await perpMarket();
    const user = await market.user([100n * USDC, 0n, 0n]);
    await market.deposit(user, market.usdc, 100n * USDC);
    await trade(market, user, perp, "short", 500n);

    const estimate = await market.client.perpLiquidationPrice(user.account, perp.address, market.chain.payer.publicKey);
    assert.equal(estimate.side, "short");
    // 100 + 500 − 1 − 5 × 1.001 p − 5% × 5 × 1.001 p = 0 ⇒ p = 599 / 5.25525 = $113.9812...
    const mantissa = estimate.liquidationPriceMantissa!;
    assert.ok(Math.abs(estimate.liquidationPrice! - 599 / 5.25525) < 0.0002, `${estimate.liquidationPrice}`);
    await assertFlipsAt(market, user, perp, estimate, mantissa, mantissa - 1n);
  });

  it("a long backed by SOL: the perps' loss becomes a USDC debt (the settle bank's pair in the health accounts)", async () => {
    const { market, perp } = await perpMarket();
    const user = await market.user([0n, 2n * SOL, 0n]);
    await market.deposit(user, market.sol, 2n * SOL); // $250, maint $225
    await trade(market, user, perp, "long", 1_000n); // 10 tokens, $1,000
    const margin = await market.client.marginAccount(user.account);
    const accounts = await market.client.healthAccounts(user.account);
    assert.deepEqual(
      accounts.map((m) => m.pubkey.toBase58()),
      [market.sol.address, market.sol.oracle, market.usdc.address, market.usdc.oracle, perp.address, perp.oracle].map((k) => k.toBase58()),
      "SOL's pair, then USDC's (the settle bank, held by no token position), then the market's",
    );
    assert.equal(margin.positions.filter((p) => p.kind !== 0).length, 1);

    const estimate = await market.client.perpLiquidationPrice(user.account, perp.address, market.chain.payer.publicKey);
    // Fee $3 (impact 20 bps): 225 − 1.02 × (1,003 − 10 × 0.999 p + 5% × 10 × 0.999 p) = 0
    // ⇒ p = (1,003 − 225 / 1.02) / 9.4905 = $82.4433...
    const expected = (1_003 - 225 / 1.02) / 9.4905;
    assert.ok(Math.abs(estimate.liquidationPrice! - expected) < 0.0002, `${estimate.liquidationPrice} vs ${expected}`);
    await assertFlipsAt(market, user, perp, estimate, estimate.liquidationPriceMantissa!, estimate.liquidationPriceMantissa! + 1n);
  });

  it("a long whose gains count for nothing in maint is liquidatable by a rise too", async () => {
    const { market, perp } = await perpMarket({ initPnlWeightBps: 0, maintPnlWeightBps: 0 });
    const user = await market.user([100n * USDC, 0n, 0n]);
    await market.deposit(user, market.usdc, 100n * USDC);
    await trade(market, user, perp, "long", 500n);

    const estimate = await market.client.perpLiquidationPrice(user.account, perp.address, market.chain.payer.publicKey, "fixed");
    assert.equal(estimate.confModel, "fixed");
    const upper = estimate.upperLiquidationPriceMantissa!;
    // In gain the PnL (fee included) counts 0 while the margin grows with the long's price
    // p − $0.10 (the conf stays $0.10): 100 − 5% × 5 × (p − 0.1) < 0 ⇔ p > $400.10.
    assert.equal(upper, 4_001_001n);
    await assertFlipsAt(market, user, perp, estimate, estimate.liquidationPriceMantissa!, estimate.liquidationPriceMantissa! + 1n);
    await assertFlipsAt(market, user, perp, estimate, upper, upper - 1n);
  });

  it("is pure arithmetic on the view, refusing inputs the view contradicts", () => {
    const quote: PythQuote = { price: 1_000_000n, conf: 0n, exponent: -4, publishTime: 0n };
    const settleBank = { bankIndex: 0, decimals: 6, config: { oracleConfMultiplierBps: 10_000, maintAssetWeightBps: 10_000, maintLiabWeightBps: 10_000 } };
    const market = { config: { baseLotSize: 10_000n, baseDecimals: 6, oracleConfMultiplierBps: 10_000, maintBaseWeightBps: 9_000, maintPnlWeightBps: 10_000 } };
    // Long 1 token bought for $100, $10 of USDC, weights 1: maint = 10 + (p − 100) − 10% p = 0
    // at p = $100 (then −$10 of margin is exactly the deposit).
    const perp = { marketIndex: 0, baseLots: 100n, quoteNative: -100_000_000n, lpShares: 0n, pnl: 0n, init: 0n, maint: -10_000_000n };
    const usdc = { bankIndex: 0, isLiability: false, native: 10_000_000n, value: 10_000_000n, init: 0n, maint: 10_000_000n };
    const health = { maint: 0n, positions: [usdc], perpPositions: [perp] };
    const inputs = { health, marketIndex: 0, market: market as never, perpQuote: quote, settleBank: settleBank as never, settleQuote: { ...quote, price: 10_000n } };
    const estimate = estimatePerpLiquidationPrice(inputs);
    // 0.9 p = 90 ⇒ maint < 0 below $100 exactly: liquidatable up to one unit below.
    assert.equal(estimate.liquidationPriceMantissa, 999_999n);
    assert.throws(() => estimatePerpLiquidationPrice({ ...inputs, health: { ...health, maint: 1n } }), /differs from the view's/);
    assert.throws(() => estimatePerpLiquidationPrice({ ...inputs, marketIndex: 3 }), /no perp position in market 3/);
  });
});
