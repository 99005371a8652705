/**
 * Interest accrual, ported from `Bank::accrue_interest` (`state/bank.rs`) with the same rounding.
 * Every instruction that touches a bank accrues it first, so the indices an instruction uses are
 * the stored ones grown to the cluster's current time. A client that predicts share maths
 * (`positions.ts`: which slots an instruction opens or closes) accrues the bank the same way.
 */
import type { Bank, BankConfig } from "./accounts";
import { BPS, mulQ64, ONE_Q64 } from "./fixed";

export const SECONDS_PER_YEAR = 365n * 24n * 3600n;

export type InterestState = Pick<Bank, "depositIndex" | "borrowIndex" | "totalDepositShares" | "totalBorrowShares" | "lastAccrualTs"> & {
  config: Pick<BankConfig, "optimalUtilizationBps" | "minRateBps" | "optimalRateBps" | "maxRateBps">;
};

/** All deposits, native, rounded down. */
export function totalDepositsNative(bank: InterestState): bigint {
  return mulQ64(bank.totalDepositShares, bank.depositIndex, "down");
}

/** All borrows, native, rounded up. */
export function totalBorrowsNative(bank: InterestState): bigint {
  return mulQ64(bank.totalBorrowShares, bank.borrowIndex, "up");
}

/** `shares × index / 2^64` without the u64 check (state/bank.rs `deposits_wide`/`borrows_wide`). */
function wide(shares: bigint, index: bigint, round: "down" | "up"): bigint {
  const product = shares * index;
  return (product >> 64n) + (round === "up" && (product & (ONE_Q64 - 1n)) !== 0n ? 1n : 0n);
}

/** Borrowed share of deposits in bps, capped at 100%. Never throws. */
export function utilizationBps(bank: InterestState): bigint {
  const deposits = wide(bank.totalDepositShares, bank.depositIndex, "down");
  const borrows = wide(bank.totalBorrowShares, bank.borrowIndex, "up");
  if (deposits === 0n) return borrows === 0n ? 0n : BPS;
  const utilization = (borrows * BPS) / deposits;
  return utilization < BPS ? utilization : BPS;
}

/** Borrow APR (bps) at a utilization (bps): the two-slope curve. */
export function borrowRateBps(bank: InterestState, utilization: bigint): bigint {
  const optimal = BigInt(bank.config.optimalUtilizationBps);
  const [min, mid, max] = [BigInt(bank.config.minRateBps), BigInt(bank.config.optimalRateBps), BigInt(bank.config.maxRateBps)];
  return utilization <= optimal ? min + ((mid - min) * utilization) / optimal : mid + ((max - mid) * (utilization - optimal)) / (BPS - optimal);
}

const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/**
 * The bank as the program will see it at unix time `now`, after accruing interest. As in the
 * program, one accrual's interest is capped so that total borrows and total deposits stay within
 * u64 (finding L-7): the borrow index grows to at most the largest index whose borrows, rounded
 * up, exceed the borrows before by `u64::MAX − max(borrows, deposits)`; interest beyond it is not
 * charged.
 */
export function accrueInterest<T extends InterestState>(bank: T, now: bigint): T {
  const elapsed = now - bank.lastAccrualTs;
  if (elapsed <= 0n) return bank;
  const accrued = { ...bank, lastAccrualTs: now };
  if (bank.totalBorrowShares === 0n) return accrued;
  const deposits = wide(bank.totalDepositShares, bank.depositIndex, "down");
  const borrowsBefore = wide(bank.totalBorrowShares, bank.borrowIndex, "up");
  const rate = borrowRateBps(bank, utilizationBps(bank));
  const larger = borrowsBefore > deposits ? borrowsBefore : deposits;
  const room = larger >= U64_MAX ? 0n : U64_MAX - larger;
  if (room === 0n) return accrued;
  // The program saturates at u128 here (a growth that large is far beyond the cap anyway).
  const numerator = min(bank.borrowIndex * rate * elapsed, U128_MAX);
  const denominator = BPS * SECONDS_PER_YEAR;
  const growth = (numerator + denominator - 1n) / denominator;
  const uncapped = min(bank.borrowIndex + growth, U128_MAX);
  const cap = ((borrowsBefore + room) * ONE_Q64) / bank.totalBorrowShares;
  accrued.borrowIndex = min(uncapped, cap);
  const interest = wide(accrued.totalBorrowShares, accrued.borrowIndex, "up") - borrowsBefore;
  if (interest > 0n && bank.totalDepositShares > 0n) {
    accrued.depositIndex = bank.depositIndex + (interest * ONE_Q64) / bank.totalDepositShares;
  }
  return accrued;
}
