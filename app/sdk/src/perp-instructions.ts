/**
 * Builders of the perp instructions (layouts from the IDL, every account explicit, as in
 * `instructions.ts`): the admin's `add_perp_market`, `configure_perp_market`,
 * `queue_perp_market_config`, `apply_perp_market_config` (anyone), `cancel_perp_market_config`;
 * the owner's `place_perp_order`, `pool_deposit`, `pool_withdraw`; anyone's `settle_pnl` and
 * `resolve_perp_bankruptcy`; a keeper's `liquidate_perp`; the admin's `fund_perp_insurance`.
 *
 * `place_perp_order` and `pool_deposit` take the account's health accounts as they will be
 * *after* the instruction (`healthAccountMetas` of `accountWithPerpSlot(...)`, and for a pool
 * deposit of the settle position after it): the program checks init health only when the order
 * grows the position or flips it, or when the depositor has borrows or perp positions, but the
 * list is the same either way. `settle_pnl`, `liquidate_perp` and `resolve_perp_bankruptcy` take
 * the (liquidatee's) account's health accounts as it is *now* (`healthAccountMetas` of the
 * account as read).
 */
import BN from "bn.js";
import { SystemProgram, type AccountMeta, type PublicKey, type TransactionInstruction } from "@solana/web3.js";

import { toIdlPerpMarketConfig, type MarginAccount, type PerpMarketConfig, type PerpSlot } from "./accounts";
import { program } from "./idl";
import type { BankRef, PerpMarketRef } from "./instructions";
import type { PerpOrder } from "./perp";
import { perpMarketAddress } from "./pda";

const bn = (value: bigint): BN => new BN(value.toString());

export interface AddPerpMarketArgs {
  group: PublicKey;
  admin: PublicKey;
  payer: PublicKey;
  /** The group's next index (`group.perpMarketCount`). */
  marketIndex: number;
  /** A bank of the group whose token has 6 decimals: PnL settles in it. */
  settleBank: PublicKey;
  oracle: PublicKey;
  config: PerpMarketConfig;
}

/** `add_perp_market`. In a live group the market opens (open-interest caps above 0) only once its
 * queued configuration applies. */
export async function addPerpMarketIx(args: AddPerpMarketArgs): Promise<{ instruction: TransactionInstruction; perpMarket: PublicKey }> {
  const perpMarket = perpMarketAddress(args.group, args.marketIndex);
  const instruction = await program()
    .methods.addPerpMarket(args.marketIndex, toIdlPerpMarketConfig(args.config))
    .accountsStrict({
      group: args.group,
      admin: args.admin,
      payer: args.payer,
      settleBank: args.settleBank,
      oracle: args.oracle,
      perpMarket,
      systemProgram: SystemProgram.programId,
    })
    .instruction();
  return { instruction, perpMarket };
}

/** The accounts and argument of `configure_perp_market` and `queue_perp_market_config`:
 * `oracle` is (or, queued, becomes) the market's pinned oracle. */
export interface PerpMarketConfigArgs {
  group: PublicKey;
  admin: PublicKey;
  perpMarket: PublicKey;
  oracle: PublicKey;
  config: PerpMarketConfig;
}

/** `configure_perp_market`: at once. In a live group only a tightening (lower init weights or
 * caps, nothing else changed) is accepted; any other change must be queued. */
export async function configurePerpMarketIx(args: PerpMarketConfigArgs): Promise<TransactionInstruction> {
  return program()
    .methods.configurePerpMarket(toIdlPerpMarketConfig(args.config))
    .accountsStrict({ group: args.group, admin: args.admin, perpMarket: args.perpMarket, oracle: args.oracle })
    .instruction();
}

/** `queue_perp_market_config`: anyone may apply it once the group's delay has passed. */
export async function queuePerpMarketConfigIx(args: PerpMarketConfigArgs): Promise<TransactionInstruction> {
  return program()
    .methods.queuePerpMarketConfig(toIdlPerpMarketConfig(args.config))
    .accountsStrict({ group: args.group, admin: args.admin, perpMarket: args.perpMarket, oracle: args.oracle })
    .instruction();
}

/** `apply_perp_market_config` (permissionless): `oracle` is the queued change's
 * (`market.pending.oracle`). */
export async function applyPerpMarketConfigIx(args: { group: PublicKey; perpMarket: PublicKey; oracle: PublicKey }): Promise<TransactionInstruction> {
  return program()
    .methods.applyPerpMarketConfig()
    .accountsStrict({ group: args.group, perpMarket: args.perpMarket, oracle: args.oracle })
    .instruction();
}

/** `cancel_perp_market_config`: the admin drops the market's queued change. */
export async function cancelPerpMarketConfigIx(args: { group: PublicKey; admin: PublicKey; perpMarket: PublicKey }): Promise<TransactionInstruction> {
  return program()
    .methods.cancelPerpMarketConfig()
    .accountsStrict({ group: args.group, admin: args.admin, perpMarket: args.perpMarket })
    .instruction();
}

/** The accounts `place_perp_order`, `pool_deposit` and `pool_withdraw` share (the owner signs). */
export interface PerpTradeAccounts {
  group: PublicKey;
  account: PublicKey;
  owner: PublicKey;
  market: PerpMarketRef;
}

function perpTradeAccounts(t: PerpTradeAccounts) {
  return {
    group: t.group,
    account: t.account,
    owner: t.owner,
    perpMarket: t.market.address,
    oracle: t.market.oracle,
    settleBank: t.market.settleBank,
  };
}

/** `place_perp_order`: fills at once against the pool at the oracle price ± fee and impact.
 * `health`: the health accounts with this market's slot as it is after the fill. */
export async function placePerpOrderIx(accounts: PerpTradeAccounts, order: PerpOrder, health: AccountMeta[]): Promise<TransactionInstruction> {
  const side = order.side === "long" ? { long: {} } : { short: {} };
  return program()
    .methods.placePerpOrder({ side, sizeLots: bn(order.sizeLots), limitPrice: bn(order.limitPrice), reduceOnly: order.reduceOnly })
    .accountsStrict(perpTradeAccounts(accounts))
    .remainingAccounts(health)
    .instruction();
}

/** `pool_deposit`: moves `amount` of the account's settle-bank deposit into the market's pool for
 * pool shares. `health`: the health accounts after it (slot opened, settle deposit reduced). */
export async function poolDepositIx(accounts: PerpTradeAccounts, amount: bigint, health: AccountMeta[]): Promise<TransactionInstruction> {
  return program().methods.poolDeposit(bn(amount)).accountsStrict(perpTradeAccounts(accounts)).remainingAccounts(health).instruction();
}

/** `pool_withdraw`: redeems `lpShares` pool shares into the account's settle-bank position (no
 * health check: it only adds to the account). */
export async function poolWithdrawIx(accounts: PerpTradeAccounts, lpShares: bigint): Promise<TransactionInstruction> {
  return program().methods.poolWithdraw(bn(lpShares)).accountsStrict(perpTradeAccounts(accounts)).instruction();
}

/** `settle_pnl` (permissionless): moves the position's PnL into the account's settle-bank
 * position, paid by or to the pool. `health`: the account's health accounts as it is now
 * (`healthAccountMetas`): with them a loss beyond the settle deposit becomes a borrow up to the
 * account's equity outside that deposit (its other deposits less its debts); with `[]` only the
 * deposit pays, and what it cannot pay stays unsettled in the position's quote. */
export async function settlePnlIx(args: { group: PublicKey; account: PublicKey; market: PerpMarketRef; health: AccountMeta[] }): Promise<TransactionInstruction> {
  return program()
    .methods.settlePnl()
    .accountsStrict({
      group: args.group,
      account: args.account,
      perpMarket: args.market.address,
      oracle: args.market.oracle,
      settleBank: args.market.settleBank,
    })
    .remainingAccounts(args.health)
    .instruction();
}

/** The accounts and argument of `liquidate_perp`. */
export interface LiquidatePerpArgs {
  group: PublicKey;
  /** The liquidator's own margin account (owned by `owner`): the liquidation fee is paid into
   * its settle-bank position. It needs no capital and takes on no position. */
  liquidator: PublicKey;
  owner: PublicKey;
  liquidatee: PublicKey;
  market: PerpMarketRef;
  /** At most this many lots are closed (above 0; `UNCAPPED_LOTS`: as many as the program's
   * closed-form amount needs to reach the end target, or the whole position). */
  maxBaseLots: bigint;
  /** The liquidatee's health accounts, positions as they are now. */
  health: AccountMeta[];
}

/** `max_base_lots` that leaves the amount to the program (`u64::MAX`). */
export const UNCAPPED_LOTS = (1n << 64n) - 1n;

/**
 * `liquidate_perp`: closes up to `maxBaseLots` of the liquidatee's position in the market
 * against the pool at the oracle price, less (a long) or plus (a short) the market's liquidation
 * and insurance fees; the liquidation fee goes to the liquidator's settle-bank position, the
 * insurance fee to the market's insurance fund (`PerpLiquidation` event). Refused when the
 * account is healthy or at its end target (`NotLiquidatable`), holds no position in the market
 * (`PerpNoPositionToLiquidate`), is the liquidator's own (`SelfLiquidation`), or `maxBaseLots`
 * is 0 (`ZeroAmount`).
 */
export async function liquidatePerpIx(args: LiquidatePerpArgs): Promise<TransactionInstruction> {
  return program()
    .methods.liquidatePerp(bn(args.maxBaseLots))
    .accountsStrict({
      group: args.group,
      liquidator: args.liquidator,
      owner: args.owner,
      liquidatee: args.liquidatee,
      perpMarket: args.market.address,
      oracle: args.market.oracle,
      settleBank: args.market.settleBank,
    })
    .remainingAccounts(args.health)
    .instruction();
}

/**
 * `resolve_perp_bankruptcy` (permissionless): writes off the account's loss in the market once
 * nothing else can pay it — the account's settle deposit first, then the market's insurance fund,
 * then the pool's LPs (`socialisedLoss`; `PerpBankruptcyResolved` event). Refused while any of
 * its perp positions has a size (`PerpPositionsOpen`: `liquidate_perp` closes them), when its
 * position in the market is not a loss (`PerpNoLossToWriteOff`), or while the account still has
 * collateral (`NotBankrupt`: settle it with `settle_pnl` with health accounts, liquidate other
 * collateral). `health`: the account's health accounts as it is now.
 */
export async function resolvePerpBankruptcyIx(args: { group: PublicKey; account: PublicKey; market: PerpMarketRef; health: AccountMeta[] }): Promise<TransactionInstruction> {
  return program()
    .methods.resolvePerpBankruptcy()
    .accountsStrict({
      group: args.group,
      account: args.account,
      perpMarket: args.market.address,
      oracle: args.market.oracle,
      settleBank: args.market.settleBank,
    })
    .remainingAccounts(args.health)
    .instruction();
}

/** `fund_perp_insurance`: the admin tops up the market's insurance fund with `amount` settle
 * tokens from its token account `source` (they join the settle bank's vault as deposit shares
 * held by the market, `insuranceDepositShares`; `PerpInsuranceFunded` event). `settleBank`:
 * the market's settle bank. */
export async function fundPerpInsuranceIx(args: {
  group: PublicKey;
  admin: PublicKey;
  perpMarket: PublicKey;
  settleBank: BankRef;
  source: PublicKey;
  amount: bigint;
}): Promise<TransactionInstruction> {
  return program()
    .methods.fundPerpInsurance(bn(args.amount))
    .accountsStrict({
      group: args.group,
      admin: args.admin,
      perpMarket: args.perpMarket,
      settleBank: args.settleBank.address,
      vault: args.settleBank.vault,
      mint: args.settleBank.mint,
      source: args.source,
      tokenProgram: args.settleBank.tokenProgram,
    })
    .instruction();
}

/**
 * The account with a perp slot for `market` (the first free one, as the program opens it) if it
 * has none: what `place_perp_order` and `pool_deposit` leave for their health check. An account
 * whose perps settle in another bank, or without a free slot, is returned as it is (the program
 * refuses it: `PerpSettleBankMismatch`, `NoFreePerpSlot`).
 */
export function accountWithPerpSlot(account: MarginAccount, market: Pick<PerpMarketRef, "marketIndex" | "settleBankIndex">): MarginAccount {
  if (account.perps.some((p) => p.active && p.marketIndex === market.marketIndex)) return account;
  const active = account.perps.filter((p) => p.active);
  if (active.some((p) => p.settleBankIndex !== market.settleBankIndex)) return account;
  const free = account.perps.findIndex((p) => !p.active);
  if (free < 0) return account;
  const opened: PerpSlot = {
    // Only which market the slot is in matters to the health accounts.
    baseLots: 0n,
    quoteNative: 0n,
    fundingLong: 0n,
    fundingShort: 0n,
    lpShares: 0n,
    marketIndex: market.marketIndex,
    settleBankIndex: market.settleBankIndex,
    active: true,
  };
  return { ...account, perps: account.perps.map((p, i) => (i === free ? opened : p)) };
}
