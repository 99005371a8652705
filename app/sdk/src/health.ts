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
import { healthAfterPendingChangesIx, healthIx } from "./instructions";

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
  args: { group: PublicKey; account: PublicKey; healthAccounts: AccountMeta[]; feePayer: PublicKey; programId?: PublicKey; view?: HealthView },
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
