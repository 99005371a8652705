/**
 * Oracle prices as the program normalises them (`oracle.rs` `normalise`): one side of a Pyth
 * quote as Q64.64 quote native units per native unit of a token (or perp base) of `decimals`
 * decimals. Only the sides that need no EMA: the oracle (mid) price and the maint sides
 * `price ∓ k·conf`; the init sides also read the EMA, which `PythQuote` does not carry.
 */
import { BPS, FixedOverflow, mulBps, q64FromDecimal, type Round } from "./fixed";
import type { PythQuote } from "./pyth";

/** `mid`: the oracle price (fills, settlement, PnL); `asset`: `price − k·conf` (deposits and
 * longs in maint health); `liability`: `price + k·conf` (borrows and shorts). */
export type PriceSide = "mid" | "asset" | "liability";

/** What normalising a price needs of a bank's or a perp market's config. */
export interface PriceSettings {
  /** k in bps (10,000 = one confidence interval). */
  confMultiplierBps: number;
  /** The token's decimals (a perp market's `baseDecimals`). */
  decimals: number;
}

/** The quote's `side` as Q64.64 quote native units per native unit. */
export function priceSideQ64(quote: Pick<PythQuote, "price" | "conf" | "exponent">, side: PriceSide, settings: PriceSettings): bigint {
  if (quote.price <= 0n) throw new FixedOverflow("a non-positive oracle price has no normalised value");
  // k·conf rounds up, exactly as the program's `Spreads` (k = 1 is exact).
  const spread = settings.confMultiplierBps === Number(BPS) ? quote.conf : mulBps(quote.conf, settings.confMultiplierBps, "up");
  let mantissa: bigint;
  let round: Round;
  if (side === "mid") [mantissa, round] = [quote.price, "down"];
  else if (side === "asset") [mantissa, round] = [quote.price > spread ? quote.price - spread : 0n, "down"];
  else [mantissa, round] = [quote.price + spread, "up"];
  return q64FromDecimal(mantissa, quote.exponent + QUOTE_DECIMALS - settings.decimals, round);
}

/** Quote native units per USD (micro-USD): every price is in these per native unit. */
export const QUOTE_DECIMALS = 6;
