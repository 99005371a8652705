/**
 * A client over a `Chain`: reads the program's accounts and builds instructions whose health
 * accounts are derived from the state it reads (what a frontend or a keeper needs).
 */
import { PublicKey, type AccountMeta, type Signer, type TransactionInstruction } from "@solana/web3.js";
import {
  bankFromAccount,
  fetchGroupBanks,
  groupFromAccount,
  marginAccountFromAccount,
  type Bank,
  type Group,
  type Loaded,
  type MarginAccount,
} from "./accounts";
import { clusterUnixTimestamp, type Chain, type SentTransaction } from "./chain";
import { PROGRAM_ID } from "./idl";
import { simulateHealth, type AccountHealth } from "./health";
import {
  bankLookup,
  bankRef,
  borrowIx,
  depositIx,
  healthAccountMetas,
  liquidateIx,
  repayIx,
  resolveBankruptcyIx,
  writeOffAccountMetas,
  withdrawIx,
  type BankRef,
  type LiquidateArgs,
  type TransferAccounts,
} from "./instructions";
import { estimateLiquidationPrice, type LiquidationPriceEstimate } from "./liquidation";
import { accrueInterest } from "./interest";
import { accountAfter, borrowNative, liquidatorAfter, type Movement } from "./positions";
import {
  compareHealth,
  groupSafety,
  healthAfterPendingChanges,
  pendingChanges,
  type GroupSafety,
  type HealthWithPendingChanges,
  type PendingChangesOptions,
  type QueuedChange,
} from "./pending";
import { decodeOracleQuote, type PythQuote } from "./pyth";

export interface TransferRequest {
  /** The margin account. */
  account: PublicKey;
  owner: PublicKey;
  /** The bank's address. */
  bank: PublicKey;
  /** The owner's token account for the bank's mint. */
  userToken: PublicKey;
  amount: bigint;
}

/** The accounts of deposit / withdraw / borrow / repay for `request` on `bank` in `group`. */
function transferAccountsOf(request: TransferRequest, group: PublicKey, bank: Bank): TransferAccounts {
  return { group, account: request.account, owner: request.owner, bank: bankRef(request.bank, bank), userToken: request.userToken };
}

export class CrossMarginClient {
  constructor(
    readonly chain: Chain,
    readonly programId: PublicKey = PROGRAM_ID,
  ) {}

  private async required(address: PublicKey, what: string) {
    const account = await this.chain.getAccount(address);
    if (!account) throw new Error(`${what} ${address.toBase58()} does not exist`);
    return account;
  }

  async group(address: PublicKey): Promise<Group> {
    return groupFromAccount(await this.required(address, "group"), this.programId);
  }

  async bank(address: PublicKey): Promise<Bank> {
    return bankFromAccount(await this.required(address, "bank"), this.programId);
  }

  async marginAccount(address: PublicKey): Promise<MarginAccount> {
    return marginAccountFromAccount(await this.required(address, "margin account"), this.programId);
  }

  /** Every bank of `group`, by bank index. */
  async banks(group: PublicKey): Promise<Array<Loaded<Bank>>> {
    return fetchGroupBanks(this.chain, group, this.programId);
  }

  async bankRefs(group: PublicKey): Promise<BankRef[]> {
    return (await this.banks(group)).map((b) => bankRef(b.address, b.data));
  }

  /** `(bank, oracle)` metas for the account's positions as they are now. */
  async healthAccounts(account: PublicKey): Promise<AccountMeta[]> {
    const margin = await this.marginAccount(account);
    return healthAccountMetas(margin, bankLookup(await this.bankRefs(margin.group)));
  }

  /** The bank as the program will see it: accrued to the cluster's current time. */
  async accruedBank(address: PublicKey): Promise<Bank> {
    return accrueInterest(await this.bank(address), await clusterUnixTimestamp(this.chain));
  }

  private async transfer(request: TransferRequest, movement: Movement) {
    const margin = await this.marginAccount(request.account);
    const bank = await this.accruedBank(request.bank);
    const refs = await this.bankRefs(margin.group);
    const transfer = transferAccountsOf(request, margin.group, bank);
    const after = accountAfter(margin, bank, movement, request.amount);
    return { transfer, health: healthAccountMetas(after, bankLookup(refs)) };
  }

  /** The transfer accounts of `request`, from the bank as stored (deposit and repay need no
   * health accounts, so no accrual). */
  private async storedTransfer(request: TransferRequest): Promise<TransferAccounts> {
    const bank = await this.bank(request.bank);
    const margin = await this.marginAccount(request.account);
    return transferAccountsOf(request, margin.group, bank);
  }

  async depositIx(request: TransferRequest): Promise<TransactionInstruction> {
    return depositIx(await this.storedTransfer(request), request.amount);
  }

  async repayIx(request: TransferRequest): Promise<TransactionInstruction> {
    return repayIx(await this.storedTransfer(request), request.amount);
  }

  /** `withdraw` with the health accounts of the positions after it. */
  async withdrawIx(request: TransferRequest): Promise<TransactionInstruction> {
    const { transfer, health } = await this.transfer(request, "withdraw");
    return withdrawIx(transfer, request.amount, health);
  }

  /** `borrow` with the health accounts of the positions after it. */
  async borrowIx(request: TransferRequest): Promise<TransactionInstruction> {
    const { transfer, health } = await this.transfer(request, "borrow");
    return borrowIx(transfer, request.amount, health);
  }

  /**
   * `liquidate`: the liquidatee's health accounts for its positions now, then the liquidator's
   * for its positions after taking over debt in `liabBank` and collateral in `assetBank`.
   */
  async liquidateIx(
    args: Omit<LiquidateArgs, "group" | "liquidateeHealth" | "liquidatorHealth">,
  ): Promise<TransactionInstruction> {
    const liquidatee = await this.marginAccount(args.liquidatee);
    const liquidator = await this.marginAccount(args.liquidator);
    const liabBank = await this.accruedBank(args.liabBank);
    const assetBank = await this.accruedBank(args.assetBank);
    const lookup = bankLookup(await this.bankRefs(liquidatee.group));
    const owed = borrowNative(liquidatee, liabBank);
    let liab = args.maxLiabAmount < owed ? args.maxLiabAmount : owed;
    if (liab < 1n) liab = 1n;
    const after = liquidatorAfter(liquidator, liabBank, liab, assetBank, 1n);
    return liquidateIx({
      ...args,
      group: liquidatee.group,
      liquidateeHealth: healthAccountMetas(liquidatee, lookup),
      liquidatorHealth: healthAccountMetas(after, lookup),
    });
  }

  /** `resolve_bankruptcy` for `account`'s debt in `liabBank`, with its current health accounts. */
  async resolveBankruptcyIx(account: PublicKey, liabBank: PublicKey): Promise<TransactionInstruction> {
    const margin = await this.marginAccount(account);
    const lookup = bankLookup(await this.bankRefs(margin.group));
    return resolveBankruptcyIx({ group: margin.group, account, liabBank, health: writeOffAccountMetas(margin, lookup) });
  }

  /** The program's `health` view for `account`, simulated with `feePayer` (any existing
   * system account; nothing is signed). */
  async health(account: PublicKey, feePayer: PublicKey): Promise<AccountHealth> {
    const margin = await this.marginAccount(account);
    const lookup = bankLookup(await this.bankRefs(margin.group));
    return simulateHealth(this.chain, {
      group: margin.group,
      account,
      healthAccounts: healthAccountMetas(margin, lookup),
      feePayer,
      programId: this.programId,
    });
  }

  /** The group's admin-safety settings (live or setup, delay, emergency admin, admin transfer),
   * with the warning a frontend shows for a group in setup. */
  async groupSafety(group: PublicKey): Promise<GroupSafety> {
    return groupSafety(await this.group(group));
  }

  /** Every queued change of `group` and its banks, diffed against the settings in force, with
   * whether each is due at the cluster's current time. */
  async pendingChanges(group: PublicKey, options: PendingChangesOptions = {}): Promise<QueuedChange[]> {
    const [data, banks, now] = await Promise.all([this.group(group), this.banks(group), clusterUnixTimestamp(this.chain)]);
    return pendingChanges({ address: group, data }, banks, now, options);
  }

  /** The program's `health_after_pending_changes` view for `account`: its health once every
   * queued change applies (a re-pinned bank passed with its queued oracle). */
  async healthAfterPendingChanges(account: PublicKey, feePayer: PublicKey): Promise<AccountHealth> {
    const margin = await this.marginAccount(account);
    const banks = await this.banks(margin.group);
    return healthAfterPendingChanges(this.chain, { group: margin.group, account, margin, banks, feePayer, programId: this.programId });
  }

  /** `account`'s health now and once the queued changes apply, e.g. to warn "this queued change
   * makes your account liquidatable" (`becomesLiquidatable`). */
  async healthWithPendingChanges(account: PublicKey, feePayer: PublicKey): Promise<HealthWithPendingChanges> {
    const now = await this.health(account, feePayer);
    return compareHealth(now, await this.healthAfterPendingChanges(account, feePayer));
  }

  /** The current quote in a bank's oracle account. */
  async oracleQuote(bank: Bank): Promise<PythQuote> {
    return decodeOracleQuote(bank.config.oracleKind, (await this.required(bank.oracle, "oracle")).data);
  }

  /** Estimated oracle price of `bank` at which `account` becomes liquidatable, other prices
   * unchanged (see `liquidation.ts` for the assumptions). */
  async liquidationPrice(account: PublicKey, bank: PublicKey, feePayer: PublicKey): Promise<LiquidationPriceEstimate> {
    const bankData = await this.bank(bank);
    const health = await this.health(account, feePayer);
    return estimateLiquidationPrice(health, bankData.bankIndex, await this.oracleQuote(bankData));
  }

  send(instructions: TransactionInstruction[], feePayer: Signer, signers: Signer[] = []): Promise<SentTransaction> {
    return this.chain.sendTransaction(instructions, feePayer, signers);
  }
}
