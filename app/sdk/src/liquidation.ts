/**
 * Liquidation-price estimates, derived from the program's own `health` view — the health
 * formula exists once, in Rust, and is not re-implemented here.
 *
 * An account is liquidatable when its maint health is below zero. The view returns each
 * position's maint contribution `m_i`, so maint health = `m_X + rest` where `X` is the position
 * in the asset of interest. `m_X` is the position's value at the bank's conservative price times
 * a fixed weight, so it is linear in that price: at an oracle price `p'` instead of `p` it is
 * `m_X · p'/p`. Holding every other price still, maint health reaches zero at
 *
 *     rest + m_X · p'/p = 0   ⇒   p' = p · (−rest / m_X)
 *
 * Assumptions: (1) all other prices hold still; (2) the confidence interval scales with the price
 * (the conservative price p ∓ k·conf is then proportional to p; with a fixed absolute conf the
 * true threshold moves by about k·conf·|1 − p'/p|); (3) the program's per-position rounding (at
 * most a few micro-USD) is ignored; (4) interest accrued since a bank was last touched is not
 * included (the view reads stored indices); (5) for the bank perps settle in, the view's part of
 * the position leaves out the perps joining its balance (`estimatePerpLiquidationPrice` prices
 * perp positions). The result is an estimate for display and alerts; the
 * program decides liquidations with its own maths at the real prices.
 */
import type { AccountHealth, PositionHealth } from "./health";
import type { PythQuote } from "./pyth";

export interface LiquidationPriceEstimate {
  bankIndex: number;
  /** The position in this bank is a deposit (liquidation when the price falls) or a borrow
   * (liquidation when it rises). */
  side: "deposit" | "borrow";
  /** Current oracle quote the estimate scales. */
  currentQuote: PythQuote;
  /**
   * The oracle price mantissa (same exponent as `currentQuote`) at which maint health reaches
   * zero, rounded to the nearest integer; `null` when no price of this asset alone makes the
   * account liquidatable (a deposit whose other positions are healthy on their own). For a
   * borrow whose other positions cannot carry it, 0: liquidatable at any price.
   */
  liquidationPriceMantissa: bigint | null;
  /** The same as a float in USD per whole token, for display. */
  liquidationPrice: number | null;
  /** p'/p as an exact fraction `-rest / m_X` (null as above). */
  ratio: { numerator: bigint; denominator: bigint } | null;
  /** Maint health now, and this position's part of it (quote native units). */
  maintHealth: bigint;
  positionMaint: bigint;
}

function divRoundNearest(numerator: bigint, denominator: bigint): bigint {
  // numerator >= 0, denominator > 0
  return (2n * numerator + denominator) / (2n * denominator);
}

/**
 * Estimates the oracle price of bank `bankIndex` at which the account becomes liquidatable,
 * from the program's `health` view (`health`) and the bank's current oracle quote.
 */
export function estimateLiquidationPrice(
  health: Pick<AccountHealth, "init" | "maint" | "liquidatable" | "positions">,
  bankIndex: number,
  currentQuote: PythQuote,
): LiquidationPriceEstimate {
  const position: PositionHealth | undefined = health.positions.find((p) => p.bankIndex === bankIndex);
  if (!position) throw new Error(`the account has no position in bank ${bankIndex}`);
  const side = position.isLiability ? "borrow" : "deposit";
  const rest = health.maint - position.maint;
  const base = { bankIndex, side, currentQuote, maintHealth: health.maint, positionMaint: position.maint } as const;
  const none = { ...base, liquidationPriceMantissa: null, liquidationPrice: null, ratio: null };

  if (position.maint === 0n) return none;
  // ratio = -rest / m_X, normalised to a positive denominator.
  let numerator = -rest;
  let denominator = position.maint;
  if (denominator < 0n) {
    numerator = -numerator;
    denominator = -denominator;
  }
  if (numerator <= 0n) {
    // Deposit with rest >= 0: healthy at any price. Borrow with rest <= 0: liquidatable at any.
    if (side === "deposit") return none;
    return { ...base, liquidationPriceMantissa: 0n, liquidationPrice: 0, ratio: { numerator: 0n, denominator } };
  }
  const mantissa = divRoundNearest(currentQuote.price * numerator, denominator);
  return {
    ...base,
    liquidationPriceMantissa: mantissa,
    liquidationPrice: Number(mantissa) * 10 ** currentQuote.exponent,
    ratio: { numerator, denominator },
  };
}
