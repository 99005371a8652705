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

/** Borrowed share of deposits in bps, capped at 100%. */
export function utilizationBps(bank: InterestState): bigint {
  const deposits = totalDepositsNative(bank);
  const borrows = totalBorrowsNative(bank);
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

/** The bank as the program will see it at unix time `now`, after accruing interest. */
export function accrueInterest<T extends InterestState>(bank: T, now: bigint): T {
  const elapsed = now - bank.lastAccrualTs;
  if (elapsed <= 0n) return bank;
  const accrued = { ...bank, lastAccrualTs: now };
  if (bank.totalBorrowShares === 0n) return accrued;
  const rate = borrowRateBps(bank, utilizationBps(bank));
  const borrowsBefore = totalBorrowsNative(bank);
  const numerator = bank.borrowIndex * rate * elapsed;
  const denominator = BPS * SECONDS_PER_YEAR;
  const growth = (numerator + denominator - 1n) / denominator;
  accrued.borrowIndex = bank.borrowIndex + growth;
  const interest = totalBorrowsNative(accrued) - borrowsBefore;
  if (interest > 0n && bank.totalDepositShares > 0n) {
    accrued.depositIndex = bank.depositIndex + (interest * ONE_Q64) / bank.totalDepositShares;
  }
  return accrued;
}
