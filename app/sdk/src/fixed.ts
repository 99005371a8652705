/**
 * Fixed-point helpers mirroring `programs/cross_margin/src/math.rs` for the few conversions a
 * client needs (share <-> token amounts, to predict which position slots an instruction opens
 * or closes). Health is never computed here: it comes from the program's `health` view.
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
