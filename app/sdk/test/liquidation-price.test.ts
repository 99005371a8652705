/**
 * The liquidation-price estimate, checked against the program itself: with the oracle set just
 * past the estimate the program's health view says liquidatable, and just short of it, not.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { estimateLiquidationPrice, type BankRef, type PythQuote } from "../src";
import { Market, type User } from "./support/market";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;
const BTC = 100_000_000n;

/** A quote at `price` mantissa (exponent −4) with a confidence of 0.1% of the price: the
 * estimate assumes the interval scales with the price, so the test keeps it proportional. */
function quoteAt(market: Market, price: bigint): PythQuote {
  return { price, conf: price / 1_000n, exponent: -4, publishTime: market.now() };
}

/** Sets `bank`'s price to `price` and returns whether the program calls the account
 * liquidatable. */
async function liquidatableAt(market: Market, user: User, bank: BankRef, price: bigint): Promise<boolean> {
  await market.setPrice(bank, quoteAt(market, price));
  const health = await market.health(user);
  assert.equal(health.liquidatable, health.maint < 0n, "the view's flag is maint < 0");
  return health.liquidatable;
}

/** The estimate is within 0.01% of the real threshold: the program flips between these two
 * prices. */
async function assertFlipsAround(market: Market, user: User, bank: BankRef, estimate: bigint, side: "deposit" | "borrow") {
  const margin = estimate / 10_000n; // 0.01%
  assert.ok(margin > 0n);
  const below = await liquidatableAt(market, user, bank, estimate - margin);
  const above = await liquidatableAt(market, user, bank, estimate + margin);
  if (side === "deposit") {
    assert.deepEqual([below, above], [true, false], "a deposit's collateral: liquidatable below the estimate only");
  } else {
    assert.deepEqual([below, above], [false, true], "a borrow: liquidatable above the estimate only");
  }
}

/** SOL at $125 (0.1% confidence), a user with 10 SOL deposited and 900 USDC borrowed. */
async function solBorrower(): Promise<{ market: Market; user: User }> {
  const market = await Market.create();
  await market.withLiquidity();
  await market.setPrice(market.sol, quoteAt(market, 1_250_000n));
  const user = await market.user([0n, 10n * SOL, 0n]);
  await market.deposit(user, market.sol, 10n * SOL);
  await market.borrow(user, market.usdc, 900n * USDC);
  return { market, user };
}

describe("liquidation price estimate", () => {
  it("a deposit's price: SOL collateral against a USDC borrow", async () => {
    const { market, user } = await solBorrower();

    const estimate = await market.client.liquidationPrice(user.account, market.sol.address, market.chain.payer.publicKey);
    assert.equal(estimate.side, "deposit");
    assert.equal(estimate.currentQuote.price, 1_250_000n);
    // maint = 10 × p × (1 − 0.001) × 0.9 − 900 × 1.02 (SOL's conf is 0.1%, USDC's 0); zero at
    // p = 918 / 8.991 = $102.1021...
    const mantissa = estimate.liquidationPriceMantissa;
    assert.equal(mantissa, 1_021_021n);
    assert.ok(Math.abs((estimate.liquidationPrice ?? 0) - 102.1021) < 0.0001);
    await assertFlipsAround(market, user, market.sol, mantissa, "deposit");
  });

  it("a borrow's price: a BTC borrow (legacy Pyth oracle) against SOL collateral", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    await market.setPrice(market.btc, quoteAt(market, 1_000_000_000n));
    const user = await market.user([0n, 10n * SOL, 0n]);
    await market.deposit(user, market.sol, 10n * SOL);
    await market.borrow(user, market.btc, 8n * BTC / 1_000n); // 0.008 BTC = $800

    const estimate = await market.client.liquidationPrice(user.account, market.btc.address, market.chain.payer.publicKey);
    assert.equal(estimate.side, "borrow");
    // maint = 1,125 − 0.008 × p × 1.001 × 1.08: zero at p = $130,078.05...
    const mantissa = estimate.liquidationPriceMantissa;
    assert.ok(mantissa !== null);
    assert.ok(mantissa > 1_300_700_000n && mantissa < 1_300_900_000n, `estimate ${mantissa}`);
    await assertFlipsAround(market, user, market.btc, mantissa, "borrow");
  });

  it("holds the other prices still: SOL's price with BTC collateral beside it", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    await market.setPrice(market.sol, quoteAt(market, 1_250_000n));
    await market.setPrice(market.btc, quoteAt(market, 1_000_000_000n));
    const user = await market.user([0n, 10n * SOL, 1n * BTC / 100n]);
    await market.deposit(user, market.sol, 10n * SOL);
    await market.deposit(user, market.btc, 1n * BTC / 100n); // $1,000
    await market.borrow(user, market.usdc, 1_700n * USDC);

    const estimate = await market.client.liquidationPrice(user.account, market.sol.address, market.chain.payer.publicKey);
    const mantissa = estimate.liquidationPriceMantissa;
    assert.ok(mantissa !== null && mantissa < 1_250_000n);
    await assertFlipsAround(market, user, market.sol, mantissa, "deposit");
    // BTC's own estimate, from the same view, at the restored SOL price.
    await market.setPrice(market.sol, quoteAt(market, 1_250_000n));
    const btc = await market.client.liquidationPrice(user.account, market.btc.address, market.chain.payer.publicKey);
    assert.ok(btc.liquidationPriceMantissa !== null);
    await assertFlipsAround(market, user, market.btc, btc.liquidationPriceMantissa, "deposit");
  });

  it("has no liquidation price where none exists", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    const user = await market.user([0n, 10n * SOL, 1n * BTC]);
    await market.deposit(user, market.sol, 10n * SOL);
    await market.deposit(user, market.btc, 1n * BTC);
    await market.borrow(user, market.usdc, 100n * USDC);
    // The BTC deposit alone carries the borrow: no SOL price makes the account liquidatable.
    const sol = await market.client.liquidationPrice(user.account, market.sol.address, market.chain.payer.publicKey);
    assert.equal(sol.liquidationPriceMantissa, null);
    assert.equal(await liquidatableAt(market, user, market.sol, 1n), false, "SOL at $0.0001 still healthy");

    // Without deposits there is no position to price, and the estimate says so.
    const empty = await market.user([0n, 0n, 0n]);
    const health = await market.health(empty);
    assert.throws(() => estimateLiquidationPrice(health, market.sol.bankIndex, quoteAt(market, 1_250_000n)), /no position in bank 1/);
  });

  it("is pure arithmetic on the view's per-position values", () => {
    const quote: PythQuote = { price: 1_000n, conf: 0n, exponent: 0, publishTime: 0n };
    // A deposit worth maint 300 against debts of maint −240: zero at 240/300 of the price.
    const deposit = estimateLiquidationPrice(
      {
        init: 0n,
        maint: 60n,
        liquidatable: false,
        positions: [
          { bankIndex: 3, isLiability: false, native: 1n, value: 1n, init: 0n, maint: 300n },
          { bankIndex: 4, isLiability: true, native: 1n, value: 1n, init: 0n, maint: -240n },
        ],
      },
      3,
      quote,
    );
    assert.equal(deposit.liquidationPriceMantissa, 800n);
    assert.deepEqual(deposit.ratio, { numerator: 240n, denominator: 300n });
    // The borrow in the same account: zero at 300/240 of its price.
    const borrow = estimateLiquidationPrice(
      {
        init: 0n,
        maint: 60n,
        liquidatable: false,
        positions: [
          { bankIndex: 3, isLiability: false, native: 1n, value: 1n, init: 0n, maint: 300n },
          { bankIndex: 4, isLiability: true, native: 1n, value: 1n, init: 0n, maint: -240n },
        ],
      },
      4,
      quote,
    );
    assert.equal(borrow.side, "borrow");
    assert.equal(borrow.liquidationPriceMantissa, 1_250n);
  });

  it("what move liquidates me: the program's shock view agrees with the estimate and with the real move", async () => {
    const { market, user } = await solBorrower();
    const payer = market.chain.payer.publicKey;

    // The liquidation price is $102.1021 (above): a fall of 18.3183%, so 1,832 bps is the first
    // whole-bps move that liquidates (the shock scales the confidence interval with the price).
    const move = await market.client.liquidatingMove(user.account, payer, { kind: "bank", index: market.sol.bankIndex, direction: -1 });
    assert.ok(move);
    assert.equal(move.bps, -1_832);
    assert.ok(move.health.liquidatable && move.health.maint < 0n);
    const justShort = await market.client.healthUnderShock(user.account, payer, [{ index: market.sol.bankIndex, bps: -1_831 }]);
    assert.equal(justShort.liquidatable, false);
    // The same moves made for real: $125 × (1 − 0.1832) = $102.10 liquidates, × (1 − 0.1831) does not.
    assert.equal(await liquidatableAt(market, user, market.sol, 1_021_000n), true);
    assert.equal(await liquidatableAt(market, user, market.sol, 1_021_125n), false);
    // No rise of SOL (the collateral) liquidates it; an invalid shock is refused by name.
    await market.setPrice(market.sol, quoteAt(market, 1_250_000n));
    assert.equal(await market.client.liquidatingMove(user.account, payer, { kind: "bank", index: market.sol.bankIndex, direction: 1 }), null);
    await assert.rejects(
      market.client.healthUnderShock(user.account, payer, [{ index: market.sol.bankIndex, bps: -10_001 }]),
      /InvalidPriceShock/,
    );
  });
});
