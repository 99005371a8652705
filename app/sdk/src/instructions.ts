/**
 * Instruction builders. Layouts (discriminators, argument encoding, account order, writable and
 * signer flags) come from the IDL through Anchor's `Program`; every account is passed
 * explicitly (`accountsStrict`), so a builder fails to type-check when the IDL changes an
 * instruction's accounts.
 *
 * Health accounts (`healthAccountMetas`): `withdraw`, `borrow`, `health`, `place_perp_order`
 * and `pool_deposit` take read-only pairs: `(bank, oracle)` for every active token position of
 * the margin account in slot order; then, if it has an active perp slot and no token position
 * in the perps' settle bank, `(settle bank, oracle)`; then `(perp market, oracle)` for every
 * active perp slot in slot order — for an instruction that changes them, the positions as they
 * will be *after* it (see `positions.ts`). `liquidate` takes the liquidatee's accounts
 * (positions before) followed by the liquidator's (positions after).
 */
import type { IdlTypes } from "@anchor-lang/core";
import BN from "bn.js";
import { PublicKey, SystemProgram, SYSVAR_INSTRUCTIONS_PUBKEY, type AccountMeta, type TransactionInstruction } from "@solana/web3.js";

import { activePerps, activePositions, PositionKind, toIdlBankConfig, type Bank, type BankConfig, type MarginAccount, type PerpMarket } from "./accounts";
import { idlStructFields, program, toIdl, type CrossMargin, type Native } from "./idl";
import { bankAddress, groupAddress, marginAccountAddress, vaultAddress } from "./pda";

const bn = (value: bigint | number): BN => new BN(value.toString());

/** The configuration a bank currently holds (`bank.config`). */
export function bankConfigOf(bank: Bank): BankConfig {
  return bank.config;
}

/** The addresses a client needs to use one bank. */
export interface BankRef {
  address: PublicKey;
  bankIndex: number;
  mint: PublicKey;
  vault: PublicKey;
  oracle: PublicKey;
  tokenProgram: PublicKey;
}

export function bankRef(address: PublicKey, bank: Bank): BankRef {
  return {
    address,
    bankIndex: bank.bankIndex,
    mint: bank.mint,
    vault: bank.vault,
    oracle: bank.oracle,
    tokenProgram: bank.tokenProgram,
  };
}

/**
 * As {@link bankRef}, with the oracle the bank's queued change pins (if a change is queued):
 * the pairs `health_after_pending_changes` takes for a bank whose queued change re-pins it.
 */
export function bankRefAfterPendingChange(address: PublicKey, bank: Bank): BankRef {
  const ref = bankRef(address, bank);
  return bank.pending.applyAfterTs !== 0n ? { ...ref, oracle: bank.pending.oracle } : ref;
}

/** Finds a bank by its index (the compact id positions use). */
export type BankLookup = (bankIndex: number) => Pick<BankRef, "address" | "oracle">;

/** A lookup over a list of banks; throws for an index it does not know. */
export function bankLookup(banks: Iterable<BankRef>): BankLookup {
  const byIndex = new Map<number, BankRef>();
  for (const bank of banks) byIndex.set(bank.bankIndex, bank);
  return (index) => {
    const bank = byIndex.get(index);
    if (!bank) throw new Error(`no bank with index ${index} is known`);
    return bank;
  };
}

/** The addresses a client needs to use one perp market. */
export interface PerpMarketRef {
  address: PublicKey;
  marketIndex: number;
  oracle: PublicKey;
  settleBank: PublicKey;
  settleBankIndex: number;
}

export function perpMarketRef(address: PublicKey, market: PerpMarket): PerpMarketRef {
  return {
    address,
    marketIndex: market.marketIndex,
    oracle: market.oracle,
    settleBank: market.settleBank,
    settleBankIndex: market.settleBankIndex,
  };
}

/** As {@link perpMarketRef}, with the oracle the market's queued change pins (if one is queued):
 * the pairs `health_after_pending_changes` takes for a market whose queued change re-pins it. */
export function perpMarketRefAfterPendingChange(address: PublicKey, market: PerpMarket): PerpMarketRef {
  const ref = perpMarketRef(address, market);
  return market.pending.applyAfterTs !== 0n ? { ...ref, oracle: market.pending.oracle } : ref;
}

/** Finds a perp market by its index (the id perp slots use). */
export type PerpMarketLookup = (marketIndex: number) => Pick<PerpMarketRef, "address" | "oracle">;

/** A lookup over a list of perp markets; throws for an index it does not know. */
export function perpMarketLookup(markets: Iterable<PerpMarketRef>): PerpMarketLookup {
  const byIndex = new Map<number, PerpMarketRef>();
  for (const market of markets) byIndex.set(market.marketIndex, market);
  return (index) => {
    const market = byIndex.get(index);
    if (!market) throw new Error(`no perp market with index ${index} is known`);
    return market;
  };
}

/**
 * The health accounts of `account` (read-only): `(bank, oracle)` per active token position in
 * slot order, then the perp tail (`perpHealthAccountMetas`). `perpMarkets` may be left out for
 * an account without perp slots.
 */
export function healthAccountMetas(account: MarginAccount, banks: BankLookup, perpMarkets?: PerpMarketLookup): AccountMeta[] {
  return [...positionAccountMetas(account, banks, false), ...perpHealthAccountMetas(account, banks, perpMarkets)];
}

/**
 * `resolve_bankruptcy`'s remaining accounts: {@link healthAccountMetas} with the deposits' banks
 * writable, since a write-off moves the account's leftover deposits into their banks' insurance
 * funds. (The program refuses a write-off while perp slots are open, `PerpPositionsOpen`.)
 */
export function writeOffAccountMetas(account: MarginAccount, banks: BankLookup, perpMarkets?: PerpMarketLookup): AccountMeta[] {
  return [...positionAccountMetas(account, banks, true), ...perpHealthAccountMetas(account, banks, perpMarkets)];
}

const readOnly = (pubkey: PublicKey): AccountMeta => ({ pubkey, isSigner: false, isWritable: false });

/**
 * The perp tail of the health accounts: nothing without an active perp slot; otherwise
 * `(settle bank, oracle)` unless a token position already lists the settle bank (the perps'
 * PnL joins that balance, so the program needs its prices), then `(perp market, oracle)` per
 * active perp slot in slot order.
 */
export function perpHealthAccountMetas(account: MarginAccount, banks: BankLookup, perpMarkets?: PerpMarketLookup): AccountMeta[] {
  const perps = activePerps(account);
  if (perps.length === 0) return [];
  if (!perpMarkets) throw new Error("the account has perp slots: its health accounts need its perp markets (perpMarketLookup)");
  const settleIndex = perps[0]!.settleBankIndex;
  const metas: AccountMeta[] = [];
  if (!activePositions(account).some((p) => p.bankIndex === settleIndex)) {
    const settle = banks(settleIndex);
    metas.push(readOnly(settle.address), readOnly(settle.oracle));
  }
  for (const slot of perps) {
    const market = perpMarkets(slot.marketIndex);
    metas.push(readOnly(market.address), readOnly(market.oracle));
  }
  return metas;
}

/** `(bank, oracle)` per active position in slot order; a deposit's bank writable if asked. */
function positionAccountMetas(account: MarginAccount, banks: BankLookup, depositBanksWritable: boolean): AccountMeta[] {
  return activePositions(account).flatMap((position) => {
    const bank = banks(position.bankIndex);
    return [
      { pubkey: bank.address, isSigner: false, isWritable: depositBanksWritable && position.kind === PositionKind.Deposit },
      { pubkey: bank.oracle, isSigner: false, isWritable: false },
    ];
  });
}

export interface CreateGroupArgs {
  admin: PublicKey;
  payer: PublicKey;
  groupNum: number;
  pythReceiverProgram: PublicKey;
  pythLegacyProgram: PublicKey;
}

export async function createGroupIx(args: CreateGroupArgs): Promise<{ instruction: TransactionInstruction; group: PublicKey }> {
  const group = groupAddress(args.admin, args.groupNum);
  const instruction = await program()
    .methods.createGroup(args.groupNum, args.pythReceiverProgram, args.pythLegacyProgram)
    .accountsStrict({ group, admin: args.admin, payer: args.payer, systemProgram: SystemProgram.programId })
    .instruction();
  return { instruction, group };
}

type IdlGroupConfigOptions = IdlTypes<CrossMargin>["groupConfigOptions"];

/** Group settings (the IDL's `GroupConfigOptions`, u64 as `bigint`); `undefined` leaves one
 * unchanged. */
export type GroupSettings = { [K in keyof IdlGroupConfigOptions]?: Native<NonNullable<IdlGroupConfigOptions[K]>> };

/** The `GroupConfigOptions` argument: every field of the IDL type, `null` where unset. */
export function toIdlGroupConfigOptions(settings: GroupSettings): IdlGroupConfigOptions {
  const fields = idlStructFields("groupConfigOptions").map((f) => {
    const value = (settings as Record<string, unknown>)[f.name];
    return [f.name, value === undefined ? null : value];
  });
  return toIdl<IdlGroupConfigOptions>(Object.fromEntries(fields) as Native<IdlGroupConfigOptions>);
}

export async function configureGroupIx(group: PublicKey, admin: PublicKey, settings: GroupSettings): Promise<TransactionInstruction> {
  return program().methods.configureGroup(toIdlGroupConfigOptions(settings)).accountsStrict({ group, admin }).instruction();
}

/** `queue_group_config`: the settings that can wait (Pyth program ids, liquidation end buffer,
 * dust threshold, delay) apply once the group's delay has passed (`applyGroupConfigIx`, anyone).
 * Pause, reduce-only and the emergency admin cannot be queued (`NotATimelockedSetting`). */
export async function queueGroupConfigIx(group: PublicKey, admin: PublicKey, settings: GroupSettings): Promise<TransactionInstruction> {
  return program().methods.queueGroupConfig(toIdlGroupConfigOptions(settings)).accountsStrict({ group, admin }).instruction();
}

/** `apply_group_config` (permissionless): applies the group's queued change once it is due. */
export async function applyGroupConfigIx(group: PublicKey): Promise<TransactionInstruction> {
  return program().methods.applyGroupConfig().accountsStrict({ group }).instruction();
}

/** `cancel_group_config`: the admin drops the group's queued change. */
export async function cancelGroupConfigIx(group: PublicKey, admin: PublicKey): Promise<TransactionInstruction> {
  return program().methods.cancelGroupConfig().accountsStrict({ group, admin }).instruction();
}

/** `propose_admin`: first step of an admin transfer; `PublicKey.default` withdraws a proposal. */
export async function proposeAdminIx(group: PublicKey, admin: PublicKey, newAdmin: PublicKey): Promise<TransactionInstruction> {
  return program().methods.proposeAdmin(newAdmin).accountsStrict({ group, admin }).instruction();
}

/** `accept_admin`: the proposed admin signs and takes over. */
export async function acceptAdminIx(group: PublicKey, newAdmin: PublicKey): Promise<TransactionInstruction> {
  return program().methods.acceptAdmin().accountsStrict({ group, newAdmin }).instruction();
}

/** `halt`: the admin or the emergency admin (`authority`, signs) turns pause and/or
 * reduce-only on (`false` leaves a switch as it is; only the admin lifts them). */
export async function haltIx(args: {
  group: PublicKey;
  authority: PublicKey;
  pause: boolean;
  reduceOnly: boolean;
}): Promise<TransactionInstruction> {
  return program()
    .methods.halt(args.pause, args.reduceOnly)
    .accountsStrict({ group: args.group, authority: args.authority })
    .instruction();
}

export interface AddBankArgs {
  group: PublicKey;
  admin: PublicKey;
  payer: PublicKey;
  mint: PublicKey;
  tokenProgram: PublicKey;
  oracle: PublicKey;
  config: BankConfig;
}

export async function addBankIx(
  args: AddBankArgs,
): Promise<{ instruction: TransactionInstruction; bank: PublicKey; vault: PublicKey }> {
  const bank = bankAddress(args.group, args.mint);
  const vault = vaultAddress(bank);
  const instruction = await program()
    .methods.addBank(toIdlBankConfig(args.config))
    .accountsStrict({
      group: args.group,
      admin: args.admin,
      payer: args.payer,
      mint: args.mint,
      bank,
      vault,
      oracle: args.oracle,
      tokenProgram: args.tokenProgram,
      systemProgram: SystemProgram.programId,
    })
    .instruction();
  return { instruction, bank, vault };
}

/** The accounts and argument of `configure_bank` and `queue_bank_config`: `oracle` is (or, queued,
 * becomes) the bank's pinned oracle. */
export interface BankConfigArgs {
  group: PublicKey;
  admin: PublicKey;
  bank: PublicKey;
  oracle: PublicKey;
  config: BankConfig;
}

export async function configureBankIx(args: BankConfigArgs): Promise<TransactionInstruction> {
  return program()
    .methods.configureBank(toIdlBankConfig(args.config))
    .accountsStrict({ group: args.group, admin: args.admin, bank: args.bank, oracle: args.oracle })
    .instruction();
}

/** The accounts of `queue_bank_config` (as `configure_bank`'s: `oracle` becomes the pinned
 * oracle once the change applies). */
export async function queueBankConfigIx(args: BankConfigArgs): Promise<TransactionInstruction> {
  return program()
    .methods.queueBankConfig(toIdlBankConfig(args.config))
    .accountsStrict({ group: args.group, admin: args.admin, bank: args.bank, oracle: args.oracle })
    .instruction();
}

/** `apply_bank_config` (permissionless): `oracle` is the queued change's (`bank.pending.oracle`). */
export async function applyBankConfigIx(args: { group: PublicKey; bank: PublicKey; oracle: PublicKey }): Promise<TransactionInstruction> {
  return program()
    .methods.applyBankConfig()
    .accountsStrict({ group: args.group, bank: args.bank, oracle: args.oracle })
    .instruction();
}

/** `cancel_bank_config`: the admin drops the bank's queued change. */
export async function cancelBankConfigIx(args: { group: PublicKey; admin: PublicKey; bank: PublicKey }): Promise<TransactionInstruction> {
  return program()
    .methods.cancelBankConfig()
    .accountsStrict({ group: args.group, admin: args.admin, bank: args.bank })
    .instruction();
}

export async function createAccountIx(args: {
  group: PublicKey;
  owner: PublicKey;
  payer: PublicKey;
  accountNum: number;
}): Promise<{ instruction: TransactionInstruction; account: PublicKey }> {
  const account = marginAccountAddress(args.group, args.owner, args.accountNum);
  const instruction = await program()
    .methods.createAccount(args.accountNum)
    .accountsStrict({
      group: args.group,
      account,
      owner: args.owner,
      payer: args.payer,
      systemProgram: SystemProgram.programId,
    })
    .instruction();
  return { instruction, account };
}

/** The accounts of deposit / withdraw / borrow / repay. */
export interface TransferAccounts {
  group: PublicKey;
  account: PublicKey;
  owner: PublicKey;
  bank: BankRef;
  /** The owner's token account for the bank's mint. */
  userToken: PublicKey;
}

function transferAccounts(t: TransferAccounts) {
  return {
    group: t.group,
    account: t.account,
    owner: t.owner,
    bank: t.bank.address,
    vault: t.bank.vault,
    mint: t.bank.mint,
    userToken: t.userToken,
    tokenProgram: t.bank.tokenProgram,
  };
}

export async function depositIx(transfer: TransferAccounts, amount: bigint): Promise<TransactionInstruction> {
  return program().methods.deposit(bn(amount)).accountsStrict(transferAccounts(transfer)).instruction();
}

export async function repayIx(transfer: TransferAccounts, amount: bigint): Promise<TransactionInstruction> {
  return program().methods.repay(bn(amount)).accountsStrict(transferAccounts(transfer)).instruction();
}

/** `withdraw`; `health` are the account's health accounts for its positions *after* it. */
export async function withdrawIx(transfer: TransferAccounts, amount: bigint, health: AccountMeta[]): Promise<TransactionInstruction> {
  return program()
    .methods.withdraw(bn(amount))
    .accountsStrict(transferAccounts(transfer))
    .remainingAccounts(health)
    .instruction();
}

/** `borrow`; `health` are the account's health accounts for its positions *after* it. */
export async function borrowIx(transfer: TransferAccounts, amount: bigint, health: AccountMeta[]): Promise<TransactionInstruction> {
  return program()
    .methods.borrow(bn(amount))
    .accountsStrict(transferAccounts(transfer))
    .remainingAccounts(health)
    .instruction();
}

export interface LiquidateArgs {
  group: PublicKey;
  /** The liquidator's own margin account. */
  liquidator: PublicKey;
  /** Owner of the liquidator's account (signs). */
  owner: PublicKey;
  liquidatee: PublicKey;
  liabBank: PublicKey;
  assetBank: PublicKey;
  maxLiabAmount: bigint;
  /** The liquidatee's health accounts, positions *before* the liquidation (perp tail included). */
  liquidateeHealth: AccountMeta[];
  /** The liquidator's health accounts, positions *after* the liquidation. */
  liquidatorHealth: AccountMeta[];
}

export async function liquidateIx(args: LiquidateArgs): Promise<TransactionInstruction> {
  return program()
    .methods.liquidate(bn(args.maxLiabAmount), args.liquidateeHealth.length / 2)
    .accountsStrict({
      group: args.group,
      liquidator: args.liquidator,
      owner: args.owner,
      liquidatee: args.liquidatee,
      liabBank: args.liabBank,
      assetBank: args.assetBank,
    })
    .remainingAccounts([...args.liquidateeHealth, ...args.liquidatorHealth])
    .instruction();
}

export async function closeAccountIx(account: PublicKey, owner: PublicKey, worthlessDepositBanks: PublicKey[] = []): Promise<TransactionInstruction> {
  const banks = worthlessDepositBanks.map((pubkey) => ({ pubkey, isSigner: false, isWritable: true }));
  return program().methods.closeAccount().accountsStrict({ account, owner }).remainingAccounts(banks).instruction();
}

/** The read-only `health` view; `health` are the account's current health accounts. */
export async function healthIx(group: PublicKey, account: PublicKey, health: AccountMeta[]): Promise<TransactionInstruction> {
  return program().methods.health().accountsStrict({ group, account }).remainingAccounts(health).instruction();
}

/** The read-only `health_after_pending_changes` view: `health` as it will be once every queued
 * change applies (the group's, and those of the banks and perp markets passed). `health` are
 * the account's current health accounts, with a bank's or perp market's queued oracle where its
 * queued change re-pins one (`bankRefAfterPendingChange`, `perpMarketRefAfterPendingChange`). */
export async function healthAfterPendingChangesIx(group: PublicKey, account: PublicKey, health: AccountMeta[]): Promise<TransactionInstruction> {
  return program().methods.healthAfterPendingChanges().accountsStrict({ group, account }).remainingAccounts(health).instruction();
}

/** A hypothetical price move for `health_under_shock`: bank (or perp market) `index` priced `bps`
 * basis points away from its oracle (−3,000: 30% lower; −10,000..=100,000). */
export interface PriceShock {
  index: number;
  bps: number;
}

/** The read-only `health_under_shock` view: `health` priced with `tokenShocks` (per bank index)
 * and `perpShocks` (per perp market index) applied to every price side, by the program's own
 * health code. `health` are the account's current health accounts. */
export async function healthUnderShockIx(
  group: PublicKey,
  account: PublicKey,
  health: AccountMeta[],
  tokenShocks: PriceShock[],
  perpShocks: PriceShock[] = [],
): Promise<TransactionInstruction> {
  return program()
    .methods.healthUnderShock(tokenShocks, perpShocks)
    .accountsStrict({ group, account })
    .remainingAccounts(health)
    .instruction();
}

/** `fund_insurance`: the admin tops up a bank's insurance fund from its token account `source`. */
export async function fundInsuranceIx(args: {
  group: PublicKey;
  admin: PublicKey;
  bank: BankRef;
  source: PublicKey;
  amount: bigint;
}): Promise<TransactionInstruction> {
  return program()
    .methods.fundInsurance(bn(args.amount))
    .accountsStrict({
      group: args.group,
      admin: args.admin,
      bank: args.bank.address,
      vault: args.bank.vault,
      mint: args.bank.mint,
      source: args.source,
      tokenProgram: args.bank.tokenProgram,
    })
    .instruction();
}

/** `resolve_bankruptcy` (permissionless): writes off a bankrupt account's debt in `liabBank`.
 * `health` are the account's current health accounts. */
export async function resolveBankruptcyIx(args: {
  group: PublicKey;
  account: PublicKey;
  liabBank: PublicKey;
  health: AccountMeta[];
}): Promise<TransactionInstruction> {
  return program()
    .methods.resolveBankruptcy()
    .accountsStrict({ group: args.group, account: args.account, liabBank: args.liabBank })
    .remainingAccounts(args.health)
    .instruction();
}

/** `flash_loan_begin`: opens a flash loan on `account` for the rest of the transaction; until
 * the matching `flash_loan_end` (top level, same account) its borrows, withdrawals and
 * liquidations skip their init-health check. `owner` signs. */
export async function flashLoanBeginIx(args: { account: PublicKey; owner: PublicKey }): Promise<TransactionInstruction> {
  return program()
    .methods.flashLoanBegin()
    .accountsStrict({ account: args.account, owner: args.owner, instructions: SYSVAR_INSTRUCTIONS_PUBKEY })
    .instruction();
}

/** `flash_loan_end`: closes the flash loan, requiring init health >= 0 over every position;
 * `health` are the account's health accounts as the bracket leaves its positions. */
export async function flashLoanEndIx(args: { group: PublicKey; account: PublicKey; owner: PublicKey; health: AccountMeta[] }): Promise<TransactionInstruction> {
  return program()
    .methods.flashLoanEnd()
    .accountsStrict({ group: args.group, account: args.account, owner: args.owner })
    .remainingAccounts(args.health)
    .instruction();
}
