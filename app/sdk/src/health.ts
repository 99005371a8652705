/**
 * The program's `health` view, read through a simulated transaction: the program computes the
 * account's init and maint health and each position's part with its own formula and returns
 * them as `AccountHealth` return data. Nothing here recomputes health.
 */
import type { IdlTypes } from "@anchor-lang/core";
import type BN from "bn.js";
import type { AccountMeta, PublicKey } from "@solana/web3.js";

import type { Chain } from "./chain";
import { coder, PROGRAM_ID, type CrossMargin } from "./idl";
import { healthAfterPendingChangesIx, healthIx, healthUnderShockIx, type PriceShock } from "./instructions";

/** One position's part of the health view (quote native units = micro-USD). */
export interface PositionHealth {
  bankIndex: number;
  isLiability: boolean;
  /** Native tokens (deposits rounded down, borrows up). */
  native: bigint;
  /** Value at the conservative price (price − k·conf for deposits, + for borrows). */
  value: bigint;
  /** Signed contribution to init health. */
  init: bigint;
  /** Signed contribution to maint health. */
  maint: bigint;
}

/** One perp slot's part of the health view (settle native units; the market's accrued
 * funding applied to the position). */
export interface PerpPositionHealth {
  marketIndex: number;
  /** Signed lots (+ long). */
  baseLots: bigint;
  /** Paid (−) and received (+) since last settled, funding included. */
  quoteNative: bigint;
  lpShares: bigint;
  /** Unrealised PnL at the oracle price. */
  pnl: bigint;
  /** Contributions to init and maint health before they join the settle bank's balance: the
   * totals value `settle balance + Σ perps` as one balance of the settle bank, in place of the
   * settle position's own part (which `positions` shows alone). */
  init: bigint;
  maint: bigint;
}

/** What the `health` instruction returns. */
export interface AccountHealth {
  init: bigint;
  maint: bigint;
  liquidatable: boolean;
  /** Active positions in slot order. */
  positions: PositionHealth[];
  /** Active perp slots in slot order. */
  perpPositions: PerpPositionHealth[];
}

type RawAccountHealth = IdlTypes<CrossMargin>["accountHealth"];
const big = (value: BN): bigint => BigInt(value.toString());

/** Decodes the `health` instruction's return data. */
export function decodeAccountHealth(data: Uint8Array): AccountHealth {
  const raw = coder().types.decode<RawAccountHealth>("accountHealth", Buffer.from(data));
  return {
    init: big(raw.init),
    maint: big(raw.maint),
    liquidatable: raw.liquidatable,
    positions: raw.positions.map((p) => ({
      bankIndex: p.bankIndex,
      isLiability: p.isLiability,
      native: big(p.native),
      value: big(p.value),
      init: big(p.init),
      maint: big(p.maint),
    })),
    perpPositions: raw.perpPositions.map((p) => ({
      marketIndex: p.marketIndex,
      baseLots: big(p.baseLots),
      quoteNative: big(p.quoteNative),
      lpShares: big(p.lpShares),
      pnl: big(p.pnl),
      init: big(p.init),
      maint: big(p.maint),
    })),
  };
}

/** Which view: `health` (as things are) or `health_after_pending_changes` (as they will be once
 * every queued configuration change applies). */
export type HealthView = "now" | "afterPendingChanges";

/** The account a health view reads, its health accounts and who pays for the simulation. */
export interface HealthViewTarget {
  group: PublicKey;
  account: PublicKey;
  healthAccounts: AccountMeta[];
  feePayer: PublicKey;
  programId?: PublicKey;
}

/**
 * Runs the `health` view in a simulation and decodes what the program returned. `healthAccounts`
 * are the account's current health accounts (`healthAccountMetas`, perp markets included); `feePayer` is any existing system account
 * (nothing is signed or paid). Failures (a stale oracle, wrong health accounts) throw
 * `TransactionFailedError` with the program's named error. With `view: "afterPendingChanges"`
 * it runs `health_after_pending_changes` instead (then a bank whose queued change re-pins its
 * oracle must be passed with the queued oracle).
 */
export async function simulateHealth(
  chain: Chain,
  args: HealthViewTarget & { view?: HealthView },
): Promise<AccountHealth> {
  const build = args.view === "afterPendingChanges" ? healthAfterPendingChangesIx : healthIx;
  const instruction = await build(args.group, args.account, args.healthAccounts);
  const simulated = await chain.simulateTransaction([instruction], args.feePayer);
  const returned = simulated.returnData;
  if (!returned || !returned.programId.equals(args.programId ?? PROGRAM_ID)) {
    throw new Error("the health view returned no data");
  }
  return decodeAccountHealth(returned.data);
}

/**
 * Runs `health_under_shock` in a simulation: the account's health view with the shocks applied
 * (`PriceShock`: bps per bank index, and per perp market index in `perpShocks`). Arguments as
 * `simulateHealth`. Invalid shocks throw `TransactionFailedError` (`InvalidPriceShock`).
 */
export async function simulateHealthUnderShock(
  chain: Chain,
  args: HealthViewTarget & { tokenShocks: PriceShock[]; perpShocks?: PriceShock[] },
): Promise<AccountHealth> {
  const instruction = await healthUnderShockIx(
    args.group,
    args.account,
    args.healthAccounts,
    args.tokenShocks,
    args.perpShocks ?? [],
  );
  const simulated = await chain.simulateTransaction([instruction], args.feePayer);
  const returned = simulated.returnData;
  if (!returned || !returned.programId.equals(args.programId ?? PROGRAM_ID)) {
    throw new Error("the health_under_shock view returned no data");
  }
  return decodeAccountHealth(returned.data);
}

/** The smallest move of one price that makes the account liquidatable, and the view there. */
export interface LiquidatingMove {
  /** Basis points from the oracle price (negative: down). */
  bps: number;
  health: AccountHealth;
}

/**
 * "What move liquidates me": searches the shock of one bank (`kind: "bank"`) or perp market
 * (`"perp"`) `index` in the direction `direction` (−1: the price falls, +1: it rises) for the
 * smallest move, to 1 bps, at which the program's own `health_under_shock` says liquidatable.
 * Bisection over monotone health: about 14 simulations. Returns `null` when even the largest move
 * in that direction (to zero, or ×11) leaves the account healthy, and a move of 0 when it is
 * liquidatable already.
 */
export async function liquidatingMove(
  chain: Chain,
  args: HealthViewTarget & { kind: "bank" | "perp"; index: number; direction: -1 | 1 },
): Promise<LiquidatingMove | null> {
  const at = (bps: number) => {
    const shock = [{ index: args.index, bps }];
    return simulateHealthUnderShock(chain, {
      ...args,
      tokenShocks: args.kind === "bank" ? shock : [],
      perpShocks: args.kind === "perp" ? shock : [],
    });
  };
  const now = await at(0);
  if (now.liquidatable) return { bps: 0, health: now };
  const limit = args.direction < 0 ? 10_000 : 100_000;
  let worst = await at(args.direction * limit);
  if (!worst.liquidatable) return null;
  // Invariant: `low` bps of move is healthy, `high` is liquidatable.
  let [low, high] = [0, limit];
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const view = await at(args.direction * mid);
    if (view.liquidatable) [high, worst] = [mid, view];
    else low = mid;
  }
  return { bps: args.direction * high, health: worst };
}
