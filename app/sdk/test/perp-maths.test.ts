/**
 * The SDK's perp maths without a chain: the worked examples of the program's own unit tests
 * (`perp/maths.rs`), which the port must reproduce number for number; the order checks of
 * `previewPerpOrder`; the fixed-point helpers it rests on; and the health accounts' perp tail.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { PublicKey, type AccountMeta } from "@solana/web3.js";

import {
  accountWithPerpSlot,
  accrueFundingIndices,
  ANY_PRICE,
  applyFunding,
  bankLookup,
  fillAt,
  fillAveragePrice,
  fundingRateBpsPerDay,
  healthAccountMetas,
  i128FromLeBytes,
  i128ToLeBytes,
  ONE_Q64,
  PERP_MARKET_SEED,
  perpHealth,
  perpMarketAddress,
  perpMarketLookup,
  PerpOrderRefused,
  positionPnl,
  PositionKind,
  previewPerpOrder,
  priceSideQ64,
  PROGRAM_ID,
  q64FromDecimal,
  tradeFeeBps,
  tradePosition,
  type MarginAccount,
  type PerpMarket,
  type PerpPosition,
  type PerpSlot,
} from "../src";
import { perpConfig } from "./support/perp-market";

/** The program's test parameters: 1 lot = 0.01 token (10^4 native, 6 decimals); 0.1% taker fee;
 * impact 1.0 × skew / pool up to 1%; funding 0.1 × skew / pool a day up to 0.5%; pool keeps 20%. */
const params = {
  baseLotSize: 10_000n,
  takerFeeBps: 10,
  impactCoeffBps: 10_000,
  maxImpactBps: 100,
  fundingCoeffBps: 1_000,
  maxFundingBpsPerDay: 50,
  poolFundingShareBps: 2_000,
};
const price = (dollars: bigint): bigint => dollars * ONE_Q64;
const flat = (): PerpPosition => ({ baseLots: 0n, quoteNative: 0n, fundingSnapshot: { long: 0n, short: 0n } });
const trade = (position: PerpPosition, lots: bigint, px: bigint, feeBps = 10) => tradePosition(position, lots, fillAt(params, px, lots, feeBps));

describe("perp maths (the program's worked examples)", () => {
  it("the fee grows with the skew a trade leaves", () => {
    const pool = 1_000_000_000_000n; // $1,000,000
    assert.equal(tradeFeeBps(params, price(100n), pool, 2_000n, 3_000n), 10 + 50); // skew $5,000 after
    assert.equal(tradeFeeBps(params, price(100n), pool, -6_000n, 3_000n), 10, "the skew shrinks: no impact");
    assert.equal(tradeFeeBps(params, price(100n), 10_000_000_000n, 0n, 30_000n), 10 + 100, "impact capped at 1%");
    assert.equal(tradeFeeBps(params, price(100n), 0n, 0n, 1n), 110, "an empty pool charges the cap");
  });

  it("fills round against the trader", () => {
    const px = price(100n) + ONE_Q64 / 10_000_000_000n; // $100 + 10^-10
    const buy = fillAt(params, px, 3n, 60);
    assert.deepEqual(buy, { quoteChange: -3_000_001n, fee: 18_001n });
    const sell = fillAt(params, px, -3n, 60);
    assert.equal(sell.quoteChange, 3_000_000n);
    assert.ok(fillAveragePrice(params, buy, 3n) > px && fillAveragePrice(params, sell, -3n) < px);
  });

  it("a position opens, grows, reduces, flips and closes", () => {
    let position = trade(flat(), 100n, price(100n));
    assert.deepEqual([position.baseLots, position.quoteNative], [100n, -100_100_000n]);
    position = trade(position, 100n, price(120n));
    assert.deepEqual([position.baseLots, position.quoteNative], [200n, -220_220_000n]);
    assert.equal(positionPnl(position, params, price(130n)), 39_780_000n);
    position = trade(position, -300n, price(130n));
    assert.deepEqual([position.baseLots, position.quoteNative], [-100n, 169_390_000n]);
    position = trade(position, 100n, price(125n));
    assert.deepEqual([position.baseLots, position.quoteNative], [0n, 44_265_000n]);
  });

  it("funding is paid by the heavy side and the pool keeps its share", () => {
    const pool = 100_000_000_000n;
    assert.equal(fundingRateBpsPerDay(params, price(100n), pool, 20_000n), 50n);
    assert.equal(fundingRateBpsPerDay(params, price(100n), pool, -20_000n), -50n);
    assert.equal(fundingRateBpsPerDay(params, price(100n), pool, -1_000n), -10n);
    let indices = accrueFundingIndices({ long: 0n, short: 0n }, params, price(100n), 50n, 86_400n);
    assert.deepEqual(indices, { long: 5_000n * ONE_Q64, short: 4_000n * ONE_Q64 });
    let long = applyFunding({ ...flat(), baseLots: 300n }, indices);
    let short = applyFunding({ ...flat(), baseLots: -100n }, indices);
    assert.deepEqual([long.payment, short.payment], [1_500_000n, -400_000n]);
    assert.deepEqual([long.position.quoteNative, short.position.quoteNative], [-1_500_000n, 400_000n]);
    indices = accrueFundingIndices(indices, params, price(100n), -50n, 86_400n);
    long = applyFunding(long.position, indices);
    short = applyFunding(short.position, indices);
    assert.deepEqual([long.payment, short.payment], [-1_200_000n, 500_000n]);
    assert.equal(applyFunding(long.position, indices).payment, 0n, "nothing twice");
  });

  it("funding rounds against every position", () => {
    const indices = accrueFundingIndices({ long: 0n, short: 0n }, params, price(100n), 1n, 1n);
    assert.equal(applyFunding({ ...flat(), baseLots: 1n }, indices).payment, 1n);
    assert.equal(applyFunding({ ...flat(), baseLots: -1n }, indices).payment, 0n);
  });

  it("health charges margin on notional and weights gains", () => {
    const position = trade(flat(), 100n, price(100n));
    const inputs = (px: bigint, pnlWeightBps: number) => ({ longPrice: price(px), shortPrice: price(px), baseWeightBps: 9_000, pnlWeightBps });
    assert.equal(perpHealth(position, params, inputs(110n, 5_000)), 4_950_000n - 11_000_000n);
    assert.equal(perpHealth(position, params, inputs(110n, 0)), -11_000_000n);
    assert.equal(perpHealth(position, params, inputs(90n, 5_000)), -10_100_000n - 9_000_000n);
    const short = trade(flat(), -100n, price(100n));
    assert.equal(perpHealth(short, params, { ...inputs(99n, 10_000), shortPrice: price(101n) }), 99_900_000n - 101_000_000n - 10_100_000n);
  });
});

/** A market as decoded, at rest (no funding yet), with `overrides`. */
function marketWith(overrides: Partial<PerpMarket> = {}): PerpMarket {
  return {
    group: PublicKey.default,
    oracle: PublicKey.default,
    settleBank: PublicKey.default,
    config: perpConfig({ maxLongLots: 1_000n }),
    marketIndex: 0,
    settleBankIndex: 0,
    version: 1,
    bump: 255,
    longLots: 0n,
    shortLots: 0n,
    lastFundingTs: 1n,
    fundingLong: 0n,
    fundingShort: 0n,
    quoteSum: 0n,
    fundingUnapplied: 0n,
    poolDepositShares: 0n,
    lpShares: 50_000_000_000n, // an LP holds the pool
    feesAccrued: 0n,
    pending: { applyAfterTs: 0n, oracle: PublicKey.default, config: perpConfig() },
    insuranceDepositShares: 0n,
    socialisedLoss: 0n,
    ...overrides,
  };
}

function slotWith(overrides: Partial<PerpSlot>): PerpSlot {
  return { baseLots: 0n, quoteNative: 0n, fundingLong: 0n, fundingShort: 0n, lpShares: 0n, marketIndex: 0, settleBankIndex: 0, active: true, ...overrides };
}

describe("previewPerpOrder", () => {
  const base = { market: marketWith(), price: price(100n), pool: 50_000_000_000n };

  it("refuses what the program refuses, by its error's name", () => {
    const refused = (args: Parameters<typeof previewPerpOrder>[0]) => assert.throws(() => previewPerpOrder(args), PerpOrderRefused);
    const order = { side: "long" as const, sizeLots: 10n, limitPrice: ANY_PRICE.long, reduceOnly: false };
    refused({ ...base, slot: null, order: { ...order, sizeLots: 0n } });
    refused({ ...base, slot: null, order: { ...order, reduceOnly: true } }); // nothing to reduce
    refused({ ...base, slot: slotWith({ baseLots: 5n }), order: { ...order, side: "short", sizeLots: 6n, reduceOnly: true, limitPrice: 0n } }); // would flip
    refused({ ...base, slot: null, order: { ...order, sizeLots: 1_001n } }); // over the long cap
    refused({ ...base, slot: null, order: { ...order, limitPrice: price(100n) } }); // the fee puts it above $100
    assert.throws(() => previewPerpOrder({ ...base, slot: null, order: { ...order, sizeLots: 1_001n } }), /PerpOpenInterestCap/);
    // A pool without LPs takes no new risk; reducing still fills.
    const empty = { ...base, market: marketWith({ lpShares: 0n, longLots: 5n }) };
    assert.throws(() => previewPerpOrder({ ...empty, slot: null, order }), /PoolEmpty/);
    const reduce = { side: "short" as const, sizeLots: 5n, limitPrice: 0n, reduceOnly: true };
    assert.equal(previewPerpOrder({ ...empty, slot: slotWith({ baseLots: 5n }), order: reduce }).baseAfter, 0n);
  });

  it("a reducing order does not need health; a flip does", () => {
    const slot = slotWith({ baseLots: 5n, quoteNative: -500_000n });
    const market = marketWith({ longLots: 5n });
    const reduce = previewPerpOrder({ ...base, market, slot, order: { side: "short", sizeLots: 5n, limitPrice: 0n, reduceOnly: true } });
    assert.deepEqual([reduce.baseAfter, reduce.increasesRisk, reduce.longLots, reduce.feeBps], [0n, false, 0n, 10]);
    const flip = previewPerpOrder({ ...base, market, slot, order: { side: "short", sizeLots: 7n, limitPrice: 0n, reduceOnly: false } });
    assert.deepEqual([flip.baseAfter, flip.increasesRisk, flip.longLots, flip.shortLots], [-2n, true, 0n, 2n]);
  });

  it("accrues the market's funding to `now` and applies it to the position first", () => {
    // Skew +1,000 lots ($1,000) against $50,000: 0.1 × 2% = 20 bps a day; a lot ($1) pays
    // 2,000 a day; the position's 1,000 lots $2.
    const market = marketWith({ longLots: 1_000n, lastFundingTs: 1_000n, config: perpConfig() });
    const slot = slotWith({ baseLots: 1_000n, quoteNative: -1_000_000_000n });
    const order = { side: "long" as const, sizeLots: 1n, limitPrice: ANY_PRICE.long, reduceOnly: false };
    const preview = previewPerpOrder({ ...base, market, slot, order, now: 1_000n + 86_400n });
    assert.equal(preview.fundingPaid, 2_000_000n);
    assert.equal(preview.position.fundingSnapshot.long, 2_000n << 64n);
    assert.equal(previewPerpOrder({ ...base, market, slot, order }).fundingPaid, 0n, "without `now`: the stored indices");
  });
});

describe("perp fixed point and addresses", () => {
  it("signed 128-bit numbers from 16 little-endian bytes", () => {
    for (const value of [0n, 1n, -1n, 2_420n << 64n, -(1_936n << 64n), (1n << 127n) - 1n, -(1n << 127n)]) {
      assert.equal(i128FromLeBytes(i128ToLeBytes(value)), value);
    }
    assert.deepEqual(Array.from(i128ToLeBytes(-1n)), new Array(16).fill(255));
  });

  it("prices normalise as the program's oracle module does", () => {
    assert.equal(q64FromDecimal(1_000_000n, -4, "down"), 100n << 64n);
    assert.equal(q64FromDecimal(1n, -1, "up") - q64FromDecimal(1n, -1, "down"), 1n);
    // SOL at $125 (exponent −8) per lamport (9 decimals): 0.125 micro-USD, exact.
    const quote = { price: 12_500_000_000n, conf: 100_000_000n, exponent: -8 };
    assert.equal(priceSideQ64(quote, "mid", { confMultiplierBps: 10_000, decimals: 9 }), ONE_Q64 / 8n);
    // k = 1.5: ±1.5 × $1.
    const wide = { confMultiplierBps: 15_000, decimals: 9 };
    assert.equal(priceSideQ64(quote, "asset", wide), q64FromDecimal(12_350_000_000n, -11, "down"));
    assert.equal(priceSideQ64(quote, "liability", wide), q64FromDecimal(12_650_000_000n, -11, "up"));
  });

  it("perp market PDAs: [\"perp_market\", group, index u16 LE]", () => {
    const group = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
    assert.equal(PERP_MARKET_SEED.toString(), "perp_market");
    const expected = PublicKey.findProgramAddressSync([Buffer.from("perp_market"), group.toBuffer(), Buffer.from([2, 1])], PROGRAM_ID)[0];
    assert.ok(perpMarketAddress(group, 258).equals(expected));
    assert.throws(() => perpMarketAddress(group, 65_536), RangeError);
  });
});

describe("health accounts with perps", () => {
  const key = (n: number) => new PublicKey(Buffer.alloc(32, n));
  const banks = bankLookup([0, 1, 2].map((i) => ({ address: key(10 + i), bankIndex: i, mint: key(0), vault: key(0), oracle: key(20 + i), tokenProgram: key(0) })));
  const markets = perpMarketLookup([0, 1].map((i) => ({ address: key(30 + i), marketIndex: i, oracle: key(40 + i), settleBank: key(10), settleBankIndex: 0 })));
  const position = (bankIndex: number, kind: PositionKind) => ({ shares: 1n, bankIndex, kind });
  const empty = { shares: 0n, bankIndex: 0, kind: PositionKind.Empty };
  const account = (positions: MarginAccount["positions"], perps: PerpSlot[]): MarginAccount => ({
    group: key(1),
    owner: key(2),
    positions: [...positions, ...new Array(16 - positions.length).fill(empty)],
    perps: [...perps, ...new Array(8 - perps.length).fill(slotWith({ active: false }))],
    accountNum: 0,
    version: 2,
    bump: 255,
    beingLiquidated: false,
    bankrupt: false,
  });
  const keys = (metas: AccountMeta[]) => metas.map((m) => m.pubkey.toBase58());
  const names = (...ns: number[]) => ns.map((n) => key(n).toBase58());

  it("token pairs, then the settle bank's pair if no token position holds it, then each perp slot's, in slot order", () => {
    const inactive = slotWith({ active: false });
    // SOL deposit (1), no USDC position: the settle pair (USDC, 0) is added; perp slot 2 before 0.
    const withoutSettle = account([position(1, PositionKind.Deposit)], [slotWith({ marketIndex: 1 }), inactive, slotWith({ marketIndex: 0 })]);
    assert.deepEqual(keys(healthAccountMetas(withoutSettle, banks, markets)), names(11, 21, 10, 20, 31, 41, 30, 40));
    // A USDC borrow lists the settle bank already: no extra pair.
    const withSettle = account([position(1, PositionKind.Deposit), position(0, PositionKind.Borrow)], [slotWith({ marketIndex: 0 })]);
    assert.deepEqual(keys(healthAccountMetas(withSettle, banks, markets)), names(11, 21, 10, 20, 30, 40));
    assert.ok(healthAccountMetas(withSettle, banks, markets).every((m) => !m.isWritable && !m.isSigner));
    // No perp slot: the token pairs alone, and no perp lookup needed (existing callers).
    assert.deepEqual(keys(healthAccountMetas(account([position(2, PositionKind.Deposit)], []), banks)), names(12, 22));
    assert.throws(() => healthAccountMetas(withSettle, banks), /perp markets/);
  });

  it("an order or a pool deposit opens the market's slot in the first free one", () => {
    const before = account([position(0, PositionKind.Deposit)], [slotWith({ marketIndex: 1 })]);
    const after = accountWithPerpSlot(before, { marketIndex: 0, settleBankIndex: 0 });
    assert.deepEqual(after.perps.map((p) => (p.active ? p.marketIndex : null)).slice(0, 3), [1, 0, null]);
    assert.equal(accountWithPerpSlot(after, { marketIndex: 0, settleBankIndex: 0 }), after, "already open");
    assert.equal(accountWithPerpSlot(before, { marketIndex: 0, settleBankIndex: 2 }), before, "another settle bank: refused by the program");
  });
});
