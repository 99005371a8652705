/**
 * Fixed-point helpers mirroring `programs/cross_margin/src/math.rs` for the conversions a client
 * needs: share <-> token amounts (to predict which position slots an instruction opens or
 * closes), bps and Q64.64 products and decimal prices (for the perp maths of `perp.ts`). Token
 * health is never computed here: it comes from the program's `health` view.
 */

export const ONE_Q64 = 1n << 64n;
export const BPS = 10_000n;
const U64_MAX = (1n << 64n) - 1n;

export type Round = "down" | "up";

/** A result the program would reject with `MathOverflow`. */
export class FixedOverflow extends Error {
  constructor(what: string) {
    super(`fixed-point overflow in ${what}`);
  }
}

function checkU64(value: bigint, what: string): bigint {
  if (value < 0n || value > U64_MAX) throw new FixedOverflow(what);
  return value;
}

/** `a * q / 2^64` (math.rs `mul_q64`). */
export function mulQ64(a: bigint, q64: bigint, round: Round): bigint {
  const product = a * q64;
  let result = product >> 64n;
  if (round === "up" && (product & (ONE_Q64 - 1n)) !== 0n) result += 1n;
  return checkU64(result, "mulQ64");
}

/** `a * 2^64 / q` (math.rs `div_q64`). */
export function divQ64(a: bigint, q64: bigint, round: Round): bigint {
  if (q64 === 0n) throw new FixedOverflow("divQ64 by zero");
  const numerator = a << 64n;
  let quotient = numerator / q64;
  if (round === "up" && numerator % q64 !== 0n) quotient += 1n;
  return checkU64(quotient, "divQ64");
}

/** `value × bps / 10,000`, rounded as asked (math.rs `mul_bps`). */
export function mulBps(value: bigint, bps: number | bigint, round: Round): bigint {
  return mulDiv(value, BigInt(bps), BPS, round);
}

/** `value × num / den`, rounded as asked (math.rs `mul_div`). */
export function mulDiv(value: bigint, num: bigint, den: bigint, round: Round): bigint {
  if (den === 0n) throw new FixedOverflow("mulDiv by zero");
  const product = value * num;
  let result = product / den;
  if (round === "up" && product % den !== 0n) result += 1n;
  return checkU64(result, "mulDiv");
}

/** `mantissa × 10^exponent` as Q64.64, rounded as asked (math.rs `q64_from_decimal`). */
export function q64FromDecimal(mantissa: bigint, exponent: number, round: Round): bigint {
  checkU64(mantissa, "q64FromDecimal");
  const magnitude = Math.abs(exponent);
  if (magnitude > 19) throw new FixedOverflow("q64FromDecimal: 10^exponent beyond u64");
  const scale = 10n ** BigInt(magnitude);
  if (exponent >= 0) {
    const integer = mantissa * scale;
    if (integer >> 64n !== 0n) throw new FixedOverflow("q64FromDecimal");
    return integer << 64n;
  }
  const numerator = mantissa << 64n;
  return numerator / scale + (round === "up" && numerator % scale !== 0n ? 1n : 0n);
}

/** A signed 128-bit number stored as 16 little-endian bytes in two's complement (the perp
 * market's funding indices, quote sum and unapplied funding; a perp slot's snapshots). */
export function i128FromLeBytes(bytes: ArrayLike<number>): bigint {
  const unsigned = q64FromLeBytes(bytes);
  return unsigned >= 1n << 127n ? unsigned - (1n << 128n) : unsigned;
}

/** The 16 little-endian bytes of a signed 128-bit number (the inverse of `i128FromLeBytes`). */
export function i128ToLeBytes(value: bigint): Uint8Array {
  if (value < -(1n << 127n) || value >= 1n << 127n) throw new RangeError(`not an i128: ${value}`);
  let unsigned = value < 0n ? value + (1n << 128n) : value;
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    bytes[i] = Number(unsigned & 0xffn);
    unsigned >>= 8n;
  }
  return bytes;
}

/** A Q64.64 number stored as 16 little-endian bytes (how the program's accounts hold them). */
export function q64FromLeBytes(bytes: ArrayLike<number>): bigint {
  if (bytes.length !== 16) throw new RangeError(`Q64.64 needs 16 bytes, got ${bytes.length}`);
  let value = 0n;
  for (let i = 15; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

/** A Q64.64 number as a float, for display only. */
export function q64ToNumber(q64: bigint): number {
  return Number(q64 >> 64n) + Number(q64 & (ONE_Q64 - 1n)) / 2 ** 64;
}
