/**
 * The perp maths a frontend needs before it sends anything, ported from the program's pure
 * modules with the same rounding: `perp/maths.rs` (fee, fill, funding, PnL, per-position health)
 * and `perp/market.rs` (funding accrual over the market, the order's checks, settlement, the
 * pool's value). The program stays the judge: these are previews, checked against it in the
 * LiteSVM tests (test/perp-*.test.ts).
 *
 * Units as in the program: prices are Q64.64 settle native units per base native unit
 * (`priceSideQ64`); sizes are signed lots of `baseLotSize` base native units (+ long); quote
 * amounts are settle native units (micro-USD); funding indices are signed Q64.64 per lot.
 */
import type { Bank, PerpMarket, PerpMarketConfig, PerpSlot } from "./accounts";
import type { MarginErrorName } from "./errors";
import { BPS, FixedOverflow, mulBps, mulDiv, mulQ64, ONE_Q64, type Round } from "./fixed";

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const I128_MAX = (1n << 127n) - 1n;
const SECONDS_PER_DAY = 86_400n;

function inRange(value: bigint, min: bigint, max: bigint, what: string): bigint {
  if (value < min || value > max) throw new FixedOverflow(what);
  return value;
}
const u64 = (value: bigint, what: string) => inRange(value, 0n, U64_MAX, what);
const i64 = (value: bigint, what: string) => inRange(value, I64_MIN, I64_MAX, what);
const i128 = (value: bigint, what: string) => inRange(value, -I128_MAX - 1n, I128_MAX, what);
const abs = (x: bigint): bigint => (x < 0n ? -x : x);
const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** What the maths needs of a perp market's configuration (`PerpParams`). */
export type PerpParams = Pick<
  PerpMarketConfig,
  "baseLotSize" | "takerFeeBps" | "impactCoeffBps" | "maxImpactBps" | "fundingCoeffBps" | "maxFundingBpsPerDay" | "poolFundingShareBps"
>;

/** Signed Q64.64 funding indices per lot (a market's, or a position's snapshot of them). */
export interface FundingIndices {
  long: bigint;
  short: bigint;
}

/** A perp position as the maths sees it (`PerpPosition`). */
export interface PerpPosition {
  /** Signed lots (+ long). */
  baseLots: bigint;
  /** Paid (−) and received (+) since last settled, settle native units. */
  quoteNative: bigint;
  fundingSnapshot: FundingIndices;
}

/** `|lots| × base_lot_size`. */
export function baseNative(lots: bigint, params: Pick<PerpParams, "baseLotSize">): bigint {
  return u64(abs(lots) * params.baseLotSize, "baseNative");
}

/** `floor(coeff × value / pool)` in bps capped at `cap`; the cap itself for an empty pool. */
function ratioBps(coeff: number, value: bigint, poolValue: bigint, cap: number): bigint {
  if (poolValue === 0n) return value === 0n ? 0n : BigInt(cap);
  return minBig((value * BigInt(coeff)) / poolValue, BigInt(cap));
}

/** The fee of a trade of `tradeLots` (+ buys) in bps of its notional: the taker fee, plus the
 * price impact if the trade leaves the skew (long minus short open interest) larger. */
export function tradeFeeBps(params: PerpParams, price: bigint, poolValue: bigint, skewLots: bigint, tradeLots: bigint): number {
  const after = i64(skewLots + tradeLots, "tradeFeeBps");
  let impact = 0n;
  if (abs(after) > abs(skewLots)) {
    const skewValue = mulQ64(baseNative(after, params), price, "up");
    impact = ratioBps(params.impactCoeffBps, skewValue, poolValue, params.maxImpactBps);
  }
  return Number(inRange(BigInt(params.takerFeeBps) + impact, 0n, 0xffff_ffffn, "tradeFeeBps"));
}

/** A fill: the position's quote change at the price (rounded against the trader) and the fee. */
export interface Fill {
  /** `−ceil(base × price)` for a buy, `+floor(base × price)` for a sell. */
  quoteChange: bigint;
  /** `ceil(ceil(base × price) × fee_bps / 10,000)`. */
  fee: bigint;
}

export function fillAt(params: PerpParams, price: bigint, tradeLots: bigint, feeBps: number): Fill {
  const base = baseNative(tradeLots, params);
  const notionalUp = mulQ64(base, price, "up");
  const quoteChange = tradeLots > 0n ? -i64(notionalUp, "fill") : i64(mulQ64(base, price, "down"), "fill");
  return { quoteChange, fee: mulBps(notionalUp, feeBps, "up") };
}

/** The fill's average price per base native unit, fee included, rounded against the trader
 * (Q64.64; what an order's limit price is compared with). */
export function fillAveragePrice(params: PerpParams, fill: Fill, tradeLots: bigint): bigint {
  const base = baseNative(tradeLots, params);
  if (base === 0n) throw new FixedOverflow("fillAveragePrice of nothing");
  const magnitude = abs(fill.quoteChange);
  const total = tradeLots > 0n ? magnitude + fill.fee : magnitude - fill.fee;
  if (total < 0n) throw new FixedOverflow("fillAveragePrice");
  const numerator = total << 64n;
  const quotient = numerator / base;
  return tradeLots > 0n && numerator % base !== 0n ? quotient + 1n : quotient;
}

/** Funding per day in bps, signed (+: longs pay): `funding_coeff × skew value / pool`, capped. */
export function fundingRateBpsPerDay(params: PerpParams, price: bigint, poolValue: bigint, skewLots: bigint): bigint {
  const skewValue = mulQ64(baseNative(skewLots, params), price, "down");
  const rate = ratioBps(params.fundingCoeffBps, skewValue, poolValue, params.maxFundingBpsPerDay);
  return skewLots < 0n ? -rate : rate;
}

/** The indices after `elapsed` seconds at `rateBpsPerDay`: the heavy side's moves by the full
 * rate rounded up, the light side's by it less the pool's share, rounded down. */
export function accrueFundingIndices(indices: FundingIndices, params: PerpParams, price: bigint, rateBpsPerDay: bigint, elapsed: bigint): FundingIndices {
  if (rateBpsPerDay === 0n || elapsed === 0n) return { ...indices };
  const scaled = inRange(price * params.baseLotSize * abs(rateBpsPerDay) * elapsed, 0n, (1n << 128n) - 1n, "accrueFundingIndices");
  const divisor = BPS * SECONDS_PER_DAY;
  const heavy = i128((scaled + divisor - 1n) / divisor, "accrueFundingIndices");
  const share = BigInt(Math.min(params.poolFundingShareBps, Number(BPS)));
  const light = (heavy * (BPS - share)) / BPS;
  const [long, short] = rateBpsPerDay > 0n ? [heavy, light] : [-light, -heavy];
  return { long: i128(indices.long + long, "funding index"), short: i128(indices.short + short, "funding index") };
}

/** `ceil(x / 2^64)` for a signed Q64.64 amount (BigInt's `>>` floors, as Rust's on i128). */
function divCeilQ64(x: bigint): bigint {
  return (x >> 64n) + ((x & (ONE_Q64 - 1n)) !== 0n ? 1n : 0n);
}

/** The funding a position owes since its snapshot, rounded against it, applied: the payment
 * (+ paid by the position) and the position with its snapshot moved to `now`. */
export function applyFunding(position: PerpPosition, now: FundingIndices): { position: PerpPosition; payment: bigint } {
  const delta = position.baseLots >= 0n ? now.long - position.fundingSnapshot.long : now.short - position.fundingSnapshot.short;
  const payment = i64(divCeilQ64(position.baseLots * delta), "applyFunding");
  const quoteNative = i64(position.quoteNative - payment, "applyFunding");
  return { position: { ...position, quoteNative, fundingSnapshot: { ...now } }, payment };
}

/** Books a fill of `tradeLots` (funding applied first). */
export function tradePosition(position: PerpPosition, tradeLots: bigint, fill: Fill): PerpPosition {
  return {
    ...position,
    baseLots: i64(position.baseLots + tradeLots, "trade"),
    quoteNative: i64(position.quoteNative + fill.quoteChange - fill.fee, "trade"),
  };
}

/** Unrealised PnL at `price`: `base × price + quote`, a long's base valued down, a short's up. */
export function positionPnl(position: Pick<PerpPosition, "baseLots" | "quoteNative">, params: Pick<PerpParams, "baseLotSize">, price: bigint): bigint {
  const base = baseNative(position.baseLots, params);
  const value = position.baseLots >= 0n ? mulQ64(base, price, "down") : -mulQ64(base, price, "up");
  return value + position.quoteNative;
}

/** The prices and weights of one side of health (init or maint) for a perp position. */
export interface PerpHealthInputs {
  /** A long is valued at the lower price (maint: `price − k·conf`). */
  longPrice: bigint;
  /** A short at the higher (maint: `price + k·conf`). */
  shortPrice: bigint;
  baseWeightBps: number;
  pnlWeightBps: number;
}

/** A perp position's contribution to one side of health (settle native units):
 * `weighted(pnl) − ceil(|base| × price × (10,000 − base weight) / 10,000)`, a gain weighted
 * down (`floor(pnl × pnl weight / 10,000)`), a loss in full. */
export function perpHealth(position: Pick<PerpPosition, "baseLots" | "quoteNative">, params: Pick<PerpParams, "baseLotSize">, inputs: PerpHealthInputs): bigint {
  const price = position.baseLots >= 0n ? inputs.longPrice : inputs.shortPrice;
  const pnl = positionPnl(position, params, price);
  const weighted = pnl > 0n ? mulBps(u64(pnl, "perpHealth"), Math.min(inputs.pnlWeightBps, Number(BPS)), "down") : pnl;
  const notional = mulQ64(baseNative(position.baseLots, params), price, "up");
  const margin = mulBps(notional, Number(BPS) - Math.min(inputs.baseWeightBps, Number(BPS)), "up");
  return weighted - margin;
}

// ---------------------------------------------------------------------------------------------
// Over a decoded market (`perp/market.rs`)
// ---------------------------------------------------------------------------------------------

/** Long minus short open interest, lots. */
export function skewLots(market: Pick<PerpMarket, "longLots" | "shortLots">): bigint {
  return i64(i64(market.longLots, "skew") - i64(market.shortLots, "skew"), "skew");
}

/** The market's funding indices. */
export function marketFunding(market: Pick<PerpMarket, "fundingLong" | "fundingShort">): FundingIndices {
  return { long: market.fundingLong, short: market.fundingShort };
}

/** The slot's position, funding not applied. */
export function slotPosition(slot: Pick<PerpSlot, "baseLots" | "quoteNative" | "fundingLong" | "fundingShort">): PerpPosition {
  return { baseLots: slot.baseLots, quoteNative: slot.quoteNative, fundingSnapshot: { long: slot.fundingLong, short: slot.fundingShort } };
}

/** The pool's deposit in the settle bank, native units rounded down (pass the bank accrued to
 * the cluster's time, `accrueInterest`, to match an instruction). */
export function poolNative(market: Pick<PerpMarket, "poolDepositShares">, settleBank: Pick<Bank, "depositIndex">): bigint {
  return mulQ64(market.poolDepositShares, settleBank.depositIndex, "down");
}

/** The market's insurance fund in the settle bank, native units rounded down (what
 * `resolve_perp_bankruptcy` can pay from it, with the bank accrued to the cluster's time). */
export function insuranceNative(market: Pick<PerpMarket, "insuranceDepositShares">, settleBank: Pick<Bank, "depositIndex">): bigint {
  return mulQ64(market.insuranceDepositShares, settleBank.depositIndex, "down");
}

/** The market with its funding accrued to `now` at `price` (what every perp instruction does
 * first): the rate from the skew against the pool's deposit; what the open positions owe is
 * added to `fundingUnapplied`. The market's first accrual only starts the clock. */
export function accrueMarketFunding(market: PerpMarket, now: bigint, price: bigint, pool: bigint): PerpMarket {
  const last = market.lastFundingTs;
  if (last === 0n || now <= last) return last === 0n ? { ...market, lastFundingTs: now } : market;
  const params = market.config;
  const rate = fundingRateBpsPerDay(params, price, pool, skewLots(market));
  const before = marketFunding(market);
  const after = accrueFundingIndices(before, params, price, rate, now - last);
  const owed = market.longLots * (after.long - before.long) - market.shortLots * (after.short - before.short);
  return {
    ...market,
    fundingLong: after.long,
    fundingShort: after.short,
    fundingUnapplied: i128(market.fundingUnapplied + owed, "fundingUnapplied"),
    lastFundingTs: now,
  };
}

/** The slot's position with the market's accrued funding applied (what health, PnL and
 * settlement price), and the payment that applying it books. */
export function positionWithFunding(slot: PerpSlot, market: Pick<PerpMarket, "fundingLong" | "fundingShort">): { position: PerpPosition; payment: bigint } {
  return applyFunding(slotPosition(slot), marketFunding(market));
}

/** The position's unrealised PnL at `price` (the oracle's, `priceSideQ64(quote, "mid", …)`),
 * the market's funding applied: what the `health` view reports as `pnl`. */
export function perpPositionPnl(slot: PerpSlot, market: PerpMarket, price: bigint): bigint {
  return positionPnl(positionWithFunding(slot, market).position, market.config, price);
}

/** The fee rate a trade of `tradeLots` (+ buys) would pay now, in bps of its notional. */
export function quotePerpFeeBps(market: PerpMarket, price: bigint, pool: bigint, tradeLots: bigint): number {
  return tradeFeeBps(market.config, price, pool, skewLots(market), tradeLots);
}

export type PerpSide = "long" | "short";

/** What `place_perp_order` asks for. */
export interface PerpOrder {
  side: PerpSide;
  /** Lots, above 0. */
  sizeLots: bigint;
  /** Worst average price accepted, fee included (Q64.64; `ANY_PRICE[side]` accepts any). */
  limitPrice: bigint;
  /** Only reduce the position, never grow or flip it. */
  reduceOnly: boolean;
}

/** Limit prices that accept any fill: `u128::MAX` for a buy, 0 for a sell. */
export const ANY_PRICE: Readonly<Record<PerpSide, bigint>> = { long: (1n << 128n) - 1n, short: 0n };

/** An order the program would refuse, with the program's error name. */
export class PerpOrderRefused extends Error {
  constructor(readonly reason: MarginErrorName) {
    super(`the program would refuse this order: ${reason}`);
    this.name = "PerpOrderRefused";
  }
}

/** What an order would do (`place_perp_order`'s maths, `PerpMarket::fill`). */
export interface PerpOrderPreview {
  /** Signed lots traded (+ bought). */
  tradeLots: bigint;
  feeBps: number;
  fill: Fill;
  /** Fee included, rounded against the trader (Q64.64). */
  averagePrice: bigint;
  baseBefore: bigint;
  baseAfter: bigint;
  /** Funding applied to the position first (+ paid by it). */
  fundingPaid: bigint;
  /** The position after the fill. */
  position: PerpPosition;
  /** Grows the size or flips the side: then init health must be >= 0 afterwards. */
  increasesRisk: boolean;
  /** The market's open interest after the fill. */
  longLots: bigint;
  shortLots: bigint;
}

/**
 * Previews `order` for `slot` (`null`: the account has none in this market yet) at the oracle
 * price `price` with the pool's deposit `pool`. With `now`, the market's funding is first
 * accrued to it as the instruction does (pass the cluster's time). Throws `PerpOrderRefused`
 * where the program would refuse the order (health aside: that needs every price).
 */
export function previewPerpOrder(args: { market: PerpMarket; slot: PerpSlot | null; order: PerpOrder; price: bigint; pool: bigint; now?: bigint }): PerpOrderPreview {
  const { order, price, pool } = args;
  const market = args.now === undefined ? args.market : accrueMarketFunding(args.market, args.now, price, args.pool);
  const indices = marketFunding(market);
  const fresh = { baseLots: 0n, quoteNative: 0n, fundingSnapshot: indices };
  const { position, payment } = applyFunding(args.slot ? slotPosition(args.slot) : fresh, indices);
  if (order.sizeLots === 0n) throw new PerpOrderRefused("ZeroAmount");
  if (order.sizeLots > I64_MAX) throw new PerpOrderRefused("PerpSizeTooLarge");
  const tradeLots = order.side === "long" ? order.sizeLots : -order.sizeLots;
  const before = position.baseLots;
  const after = before + tradeLots;
  if (after < I64_MIN || after > I64_MAX) throw new PerpOrderRefused("PerpSizeTooLarge");
  const sign = (x: bigint) => (x > 0n ? 1 : x < 0n ? -1 : 0);
  if (order.reduceOnly && (before === 0n || sign(tradeLots) === sign(before) || order.sizeLots > abs(before))) {
    throw new PerpOrderRefused("PerpReduceOnly");
  }
  // A pool without LPs takes no new risk (the program's `PoolEmpty`).
  const grows = abs(after) > abs(before) || (before !== 0n && sign(after) === -sign(before));
  if (grows && market.lpShares === 0n) throw new PerpOrderRefused("PoolEmpty");
  const params = market.config;
  const feeBps = tradeFeeBps(params, price, pool, skewLots(market), tradeLots);
  const fill = fillAt(params, price, tradeLots, feeBps);
  const averagePrice = fillAveragePrice(params, fill, tradeLots);
  if (order.side === "long" ? averagePrice > order.limitPrice : averagePrice < order.limitPrice) {
    throw new PerpOrderRefused("PerpSlippageExceeded");
  }
  const long = (lots: bigint) => (lots > 0n ? lots : 0n);
  const short = (lots: bigint) => (lots < 0n ? -lots : 0n);
  const longLots = market.longLots - long(before) + long(after);
  const shortLots = market.shortLots - short(before) + short(after);
  if ((longLots > market.longLots && longLots > params.maxLongLots) || (shortLots > market.shortLots && shortLots > params.maxShortLots)) {
    throw new PerpOrderRefused("PerpOpenInterestCap");
  }
  return {
    tradeLots,
    feeBps,
    fill,
    averagePrice,
    baseBefore: before,
    baseAfter: after,
    fundingPaid: payment,
    position: tradePosition(position, tradeLots, fill),
    increasesRisk: abs(after) > abs(before) || (before !== 0n && sign(after) === -sign(before)),
    longLots,
    shortLots,
  };
}

/** What `settle_pnl` would move for the slot at `price` (funding applied first, the market's
 * funding accrued to `now` if given): its PnL, a gain capped by the pool's deposit; + the pool
 * pays the account. 0: nothing to settle (the program refuses, `NothingToSettle`). */
export function previewSettlePnl(args: { market: PerpMarket; slot: PerpSlot; price: bigint; pool: bigint; now?: bigint }): { amount: bigint; fundingPaid: bigint } {
  const market = args.now === undefined ? args.market : accrueMarketFunding(args.market, args.now, args.price, args.pool);
  const { position, payment } = positionWithFunding(args.slot, market);
  const pnl = positionPnl(position, market.config, args.price);
  return { amount: pnl > 0n ? minBig(pnl, args.pool) : pnl, fundingPaid: payment };
}

/** The traders' unrealised PnL in total at `price`, less the funding they owe but have not
 * applied; `up` gives the largest value the rounding allows, `down` the smallest. */
export function tradersPnl(market: PerpMarket, price: bigint, round: Round): bigint {
  const skew = skewLots(market);
  const magnitude = baseNative(skew, market.config);
  const baseValue = skew >= 0n ? mulQ64(magnitude, price, round) : -mulQ64(magnitude, price, round === "up" ? "down" : "up");
  const unapplied = market.fundingUnapplied;
  const owed = round === "up" ? unapplied >> 64n : -(-unapplied >> 64n);
  return baseValue + market.quoteSum - owed;
}

/** The pool's value: its deposit less what the traders have won (plus what they lost). */
export function poolValue(market: PerpMarket, pool: bigint, price: bigint, round: Round): bigint {
  return pool - tradersPnl(market, price, round === "down" ? "up" : "down");
}

/** Pool shares an LP deposit of `amount` buys (`amount` while none exist). */
export function lpSharesFor(market: PerpMarket, amount: bigint, poolValueUp: bigint): bigint {
  if (market.lpShares === 0n) return amount;
  if (poolValueUp <= 0n) throw new PerpOrderRefused("PoolInsolvent");
  return mulDiv(amount, market.lpShares, poolValueUp, "down");
}

/** What `shares` pool shares are worth (`pool_withdraw` pays this, rounded down). */
export function lpValueOf(market: PerpMarket, shares: bigint, poolValueDown: bigint): bigint {
  if (market.lpShares === 0n || poolValueDown <= 0n) return 0n;
  return mulDiv(shares, poolValueDown, market.lpShares, "down");
}
