/**
 * The liquidation price of a perp position: the oracle price of its market at which the
 * account's maint health reaches zero, every other price fixed.
 *
 * The account's maint health, as the program computes it (`health_accounts.rs`, `PerpTotals`):
 *
 *     maint = rest + settle(balance + Σ perp maint)
 *
 * `rest` is every token position but the settle bank's; `settle(x)` values a signed balance of
 * the settle bank (`floor(floor(x × asset price) × maint asset weight)` for a deposit,
 * `−ceil(ceil(|x| × liab price) × maint liab weight)` for a debt); the perps' maint parts join
 * the settle balance. Only this market's part moves with its price:
 * `weighted(pnl) − ceil(|base| × price × (1 − maint base weight))`, a long at `price − k·conf`,
 * a short at `price + k·conf`. Everything else is read from the program's `health` view (the
 * per-position parts, the positions with funding applied), so only this one term and the settle
 * valuation are recomputed, with the program's rounding — `maintHealthAtCurrentPrice` reproduces
 * the view's maint exactly, which the estimate checks.
 *
 * The health is monotone in the price for a short (falling as it rises) and for a long in
 * loss; a long in gain adds `pnl weight − (1 − base weight)` per unit of notional, which can be
 * negative (`upperLiquidationPriceMantissa`). The price is searched over integer oracle
 * mantissas (bisection on the exact health), so the result is exact to one mantissa unit for
 * the prices it assumes: the confidence interval either scales with the price (`proportional`,
 * as `estimateLiquidationPrice` assumes) or stays as it is (`fixed`); `quoteAtMantissa` gives
 * the quote either assumes. Funding keeps accruing and interest too: the estimate holds for the
 * state the view read.
 */
import type { Bank, PerpMarket } from "./accounts";
import { FixedOverflow, mulBps, mulQ64 } from "./fixed";
import type { AccountHealth } from "./health";
import { perpHealth } from "./perp";
import { priceSideQ64 } from "./prices";
import type { PythQuote } from "./pyth";

/** How the oracle's confidence interval moves with its price in the estimate. */
export type ConfModel = "proportional" | "fixed";

const I64_MAX = (1n << 63n) - 1n;

export interface PerpLiquidationInputs {
  /** The program's `health` view of the account (`simulateHealth`). */
  health: Pick<AccountHealth, "maint" | "positions" | "perpPositions">;
  marketIndex: number;
  market: Pick<PerpMarket, "config">;
  /** The market's oracle quote now. */
  perpQuote: PythQuote;
  /** The market's settle bank and its oracle quote (held fixed). */
  settleBank: Pick<Bank, "bankIndex" | "decimals" | "config">;
  settleQuote: PythQuote;
  /** Default `proportional`. */
  confModel?: ConfModel;
}

export interface PerpLiquidationPriceEstimate {
  marketIndex: number;
  side: "long" | "short";
  currentQuote: PythQuote;
  confModel: ConfModel;
  /**
   * The oracle price mantissa (exponent of `currentQuote`) where maint health crosses zero: a
   * long is liquidatable at and below it (and not one unit above), a short at and above it
   * (and not one unit below). `null` when no price on that side liquidates (a healthy long whose
   * other collateral carries any loss) or, for an account liquidatable now, when no price heals
   * it. A short liquidatable at any price: 0.
   */
  liquidationPriceMantissa: bigint | null;
  /** The same in USD per whole base token, for display. */
  liquidationPrice: number | null;
  /** A long whose gains count for less than the margin they need: liquidatable at and above
   * this too, if such a price exists (`null` otherwise, and always for a short). */
  upperLiquidationPriceMantissa: bigint | null;
  /** The view's maint health, and this position's maint part of it (before joining the settle
   * balance). */
  maintHealth: bigint;
  positionMaint: bigint;
  /** The maint health recomputed at the current quote; equals `maintHealth` unless the view and
   * the inputs disagree (then the estimate throws). */
  maintHealthAtCurrentPrice: bigint;
}

/** The oracle quote at `mantissa` under `confModel` (its conf scaled down with the price for
 * `proportional`): the quote the estimate assumes there. */
export function quoteAtMantissa(current: PythQuote, mantissa: bigint, confModel: ConfModel): PythQuote {
  const conf = confModel === "fixed" || current.price === 0n ? current.conf : (current.conf * mantissa) / current.price;
  return { ...current, price: mantissa, conf };
}

/** The account's maint health as a function of this market's oracle mantissa, all else fixed
 * (`null` where the program's maths would overflow). */
export function perpMaintHealthAt(inputs: PerpLiquidationInputs): (mantissa: bigint) => bigint | null {
  const { health, marketIndex, market, settleBank } = inputs;
  const perp = health.perpPositions.find((p) => p.marketIndex === marketIndex);
  if (!perp) throw new Error(`the account has no perp position in market ${marketIndex}`);
  const settle = health.positions.find((p) => p.bankIndex === settleBank.bankIndex);
  const balance = settle ? (settle.isLiability ? -settle.native : settle.native) : 0n;
  const rest = health.positions.filter((p) => p.bankIndex !== settleBank.bankIndex).reduce((sum, p) => sum + p.maint, 0n);
  const otherPerps = health.perpPositions.filter((p) => p.marketIndex !== marketIndex).reduce((sum, p) => sum + p.maint, 0n);
  const settleSettings = { confMultiplierBps: settleBank.config.oracleConfMultiplierBps, decimals: settleBank.decimals };
  const assetPrice = priceSideQ64(inputs.settleQuote, "asset", settleSettings);
  const liabPrice = priceSideQ64(inputs.settleQuote, "liability", settleSettings);
  const c = settleBank.config;
  const settleMaint = (total: bigint): bigint =>
    total < 0n ? -mulBps(mulQ64(-total, liabPrice, "up"), c.maintLiabWeightBps, "up") : mulBps(mulQ64(total, assetPrice, "down"), c.maintAssetWeightBps, "down");
  const perpSettings = { confMultiplierBps: market.config.oracleConfMultiplierBps, decimals: market.config.baseDecimals };
  const confModel = inputs.confModel ?? "proportional";
  return (mantissa) => {
    try {
      const quote = quoteAtMantissa(inputs.perpQuote, mantissa, confModel);
      const maint = perpHealth(perp, market.config, {
        longPrice: priceSideQ64(quote, "asset", perpSettings),
        shortPrice: priceSideQ64(quote, "liability", perpSettings),
        baseWeightBps: market.config.maintBaseWeightBps,
        pnlWeightBps: market.config.maintPnlWeightBps,
      });
      return rest + settleMaint(balance + otherPerps + maint);
    } catch (error) {
      if (error instanceof FixedOverflow) return null;
      throw error;
    }
  };
}

/** Between `a` and `b` (whose health signs differ), the two neighbouring mantissas where the
 * sign flips, by bisection on the exact health. */
function bisect(at: (m: bigint) => bigint | null, a: bigint, b: bigint): { lo: bigint; hi: bigint } {
  const negative = (m: bigint) => {
    const h = at(m);
    if (h === null) throw new FixedOverflow("perp liquidation price search");
    return h < 0n;
  };
  let [lo, hi] = a < b ? [a, b] : [b, a];
  const loNegative = negative(lo);
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (negative(mid) === loNegative) lo = mid;
    else hi = mid;
  }
  return { lo, hi };
}

/** From `start` upward (doubling, up to i64's largest mantissa), the first mantissa whose health
 * is negative (`wantNegative`) or not; `null` if none before the maths overflows. */
function searchUp(at: (m: bigint) => bigint | null, start: bigint, wantNegative: boolean): bigint | null {
  let m = start;
  while (m < I64_MAX) {
    m = m * 2n > I64_MAX ? I64_MAX : m * 2n;
    const h = at(m);
    if (h === null) return null;
    if (h < 0n === wantNegative) return m;
  }
  return null;
}

/** Estimates the oracle price of market `marketIndex` at which the account becomes (or stops
 * being) liquidatable, from the program's `health` view and the two oracle quotes. */
export function estimatePerpLiquidationPrice(inputs: PerpLiquidationInputs): PerpLiquidationPriceEstimate {
  const perp = inputs.health.perpPositions.find((p) => p.marketIndex === inputs.marketIndex);
  if (!perp) throw new Error(`the account has no perp position in market ${inputs.marketIndex}`);
  if (perp.baseLots === 0n) throw new Error(`the account's perp slot in market ${inputs.marketIndex} holds no position (its price moves nothing)`);
  const at = perpMaintHealthAt(inputs);
  const current = inputs.perpQuote.price;
  const now = at(current);
  if (now !== inputs.health.maint) {
    throw new Error(`the recomputed maint health ${now} differs from the view's ${inputs.health.maint}: pass the quotes and accounts the view read`);
  }
  const side = perp.baseLots > 0n ? "long" : "short";
  let main: bigint | null = null;
  let upper: bigint | null = null;
  const healthyAtOne = (at(1n) ?? -1n) >= 0n;
  if (side === "long") {
    if (now >= 0n) {
      // Falling: the highest liquidatable mantissa below the current one.
      main = healthyAtOne ? null : bisect(at, 1n, current).lo;
      // Rising: only a long whose gains count for less than their margin can get there.
      const firstNegative = searchUp(at, current, true);
      upper = firstNegative === null ? null : bisect(at, current, firstNegative).hi;
    } else {
      const firstHealthy = searchUp(at, current, false);
      main = firstHealthy === null ? null : bisect(at, current, firstHealthy).lo;
    }
  } else if (now >= 0n) {
    const firstNegative = searchUp(at, current, true);
    main = firstNegative === null ? null : bisect(at, current, firstNegative).hi;
  } else {
    main = healthyAtOne ? bisect(at, 1n, current).hi : 0n;
  }
  const exponent = inputs.perpQuote.exponent;
  return {
    marketIndex: inputs.marketIndex,
    side,
    currentQuote: inputs.perpQuote,
    confModel: inputs.confModel ?? "proportional",
    liquidationPriceMantissa: main,
    liquidationPrice: main === null ? null : Number(main) * 10 ** exponent,
    upperLiquidationPriceMantissa: upper,
    maintHealth: inputs.health.maint,
    positionMaint: perp.maint,
    maintHealthAtCurrentPrice: now,
  };
}
