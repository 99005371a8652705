/**
 * A client over a `Chain`: reads the program's accounts and builds instructions whose health
 * accounts are derived from the state it reads (what a frontend or a keeper needs).
 */
import { PublicKey, type AccountMeta, type Connection, type Signer, type TransactionInstruction, type VersionedTransaction } from "@solana/web3.js";
import {
  activePerps,
  bankFromAccount,
  fetchGroupBanks,
  fetchGroupPerpMarkets,
  groupFromAccount,
  marginAccountFromAccount,
  perpMarketFromAccount,
  type Bank,
  type Group,
  type Loaded,
  type MarginAccount,
  type PerpMarket,
} from "./accounts";
import { clusterUnixTimestamp, ConnectionChain, type Chain, type SentTransaction } from "./chain";
import { buildTransaction, isTransactionChain, type BuiltTransaction, type TransactionChain, type TransactionOptions } from "./transaction";
import { signerOf, toWallet, type SignerLike, type WalletAdapterLike, type WalletProviderLike } from "./wallet";
import { PROGRAM_ID } from "./idl";
import { liquidatingMove, simulateHealth, simulateHealthUnderShock, type AccountHealth, type LiquidatingMove } from "./health";
import {
  bankLookup,
  bankRef,
  borrowIx,
  createAccountIx,
  depositIx,
  flashLoanBeginIx,
  flashLoanEndIx,
  healthAccountMetas,
  liquidateIx,
  perpMarketLookup,
  perpMarketRef,
  repayIx,
  resolveBankruptcyIx,
  writeOffAccountMetas,
  withdrawIx,
  type BankLookup,
  type BankRef,
  type LiquidateArgs,
  type PerpMarketLookup,
  type PerpMarketRef,
  type PriceShock,
  type TransferAccounts,
} from "./instructions";
import {
  accountWithPerpSlot,
  fundPerpInsuranceIx,
  liquidatePerpIx,
  placePerpOrderIx,
  poolDepositIx,
  poolWithdrawIx,
  resolvePerpBankruptcyIx,
  settlePnlIx,
  UNCAPPED_LOTS,
  type PerpTradeAccounts,
} from "./perp-instructions";
import { ANY_PRICE, insuranceNative, poolNative, previewPerpOrder, type PerpOrder, type PerpOrderPreview } from "./perp";
import { estimatePerpLiquidationPrice, type ConfModel, type PerpLiquidationPriceEstimate } from "./perp-liquidation";
import { priceSideQ64 } from "./prices";
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

/** An order by `owner` for `account` in the perp market at `perpMarket`. */
export interface PerpOrderRequest {
  account: PublicKey;
  owner: PublicKey;
  perpMarket: PublicKey;
  side: PerpOrder["side"];
  sizeLots: bigint;
  /** Worst average price accepted, fee included (Q64.64); default: any (`ANY_PRICE`). */
  limitPrice?: bigint;
  reduceOnly?: boolean;
}

/** A pool deposit (`amount`, settle native units) or withdrawal (`lpShares`). */
export interface PoolRequest {
  account: PublicKey;
  owner: PublicKey;
  perpMarket: PublicKey;
}

/** A keeper's `liquidate_perp` of `liquidatee`'s position in the market at `perpMarket`. */
export interface LiquidatePerpRequest {
  /** The keeper's own margin account (it receives the liquidation fee). */
  liquidator: PublicKey;
  /** The liquidator account's owner (signs). */
  owner: PublicKey;
  liquidatee: PublicKey;
  perpMarket: PublicKey;
  /** At most this many lots; default: the program's amount (`UNCAPPED_LOTS`). */
  maxBaseLots?: bigint;
}

/** The admin's `fund_perp_insurance` of `amount` settle tokens from its token account `source`. */
export interface FundPerpInsuranceRequest {
  admin: PublicKey;
  perpMarket: PublicKey;
  source: PublicKey;
  amount: bigint;
}

export interface SettlePnlOptions {
  /** Pass the account's health accounts (default true): a loss beyond the settle deposit then
   * becomes a borrow up to the account's other equity. `false`: only the deposit pays. */
  healthAccounts?: boolean;
}

/** The order of `request`, defaults filled in. */
function orderOf(request: PerpOrderRequest): PerpOrder {
  return { side: request.side, sizeLots: request.sizeLots, limitPrice: request.limitPrice ?? ANY_PRICE[request.side], reduceOnly: request.reduceOnly ?? false };
}

/** The accounts of deposit / withdraw / borrow / repay for `request` on `bank` in `group`. */
function transferAccountsOf(request: TransferRequest, group: PublicKey, bank: Bank): TransferAccounts {
  return { group, account: request.account, owner: request.owner, bank: bankRef(request.bank, bank), userToken: request.userToken };
}

/** Options of a send: the v0 transaction's options, and extra keypair signers. */
export interface SendOptions extends TransactionOptions {
  /** Keypairs that sign besides the wallet (e.g. a new account's). */
  signers?: Signer[];
}

export class CrossMarginClient {
  /** The wallet actions sign with by default (`deposit`, `borrow`, ...; `send` without a signer). */
  readonly wallet: WalletAdapterLike | undefined;
  private readonly localSigner: Signer | undefined;

  /**
   * `signer`: what actions sign with by default — a keypair, a wallet-adapter wallet
   * (`signTransaction` / `signAllTransactions`) or an `AnchorProvider`; reading state and
   * building instructions need none.
   */
  constructor(
    readonly chain: Chain,
    readonly programId: PublicKey = PROGRAM_ID,
    signer?: SignerLike,
  ) {
    this.wallet = signer === undefined ? undefined : toWallet(signer);
    this.localSigner = signer === undefined ? undefined : signerOf(signer);
  }

  /** A client over an Anchor `AnchorProvider` (or any `{ connection, wallet }`): its connection
   * and its wallet. */
  static fromProvider(provider: WalletProviderLike & { connection: Connection }, programId: PublicKey = PROGRAM_ID): CrossMarginClient {
    return new CrossMarginClient(new ConnectionChain(provider.connection, provider.connection.commitment ?? "confirmed", programId), programId, provider);
  }

  /** A client on the cluster at `url`, signing with `signer` (a wallet, keypair or provider). */
  static fromUrl(url: string, signer?: SignerLike, programId: PublicKey = PROGRAM_ID): CrossMarginClient {
    return new CrossMarginClient(ConnectionChain.fromUrl(url), programId, signer);
  }

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

  async perpMarket(address: PublicKey): Promise<PerpMarket> {
    return perpMarketFromAccount(await this.required(address, "perp market"), this.programId);
  }

  /** Every perp market of `group`, by market index. */
  async perpMarkets(group: PublicKey): Promise<Array<Loaded<PerpMarket>>> {
    return fetchGroupPerpMarkets(this.chain, group, this.programId);
  }

  async perpMarketRefs(group: PublicKey): Promise<PerpMarketRef[]> {
    return (await this.perpMarkets(group)).map((m) => perpMarketRef(m.address, m.data));
  }

  /** Lookups of the group's banks and, if any of `accounts` has perp slots, perp markets (only
   * then are they fetched). */
  private async lookups(group: PublicKey, ...accounts: MarginAccount[]): Promise<{ banks: BankLookup; perps: PerpMarketLookup | undefined }> {
    const banks = bankLookup(await this.bankRefs(group));
    const anyPerps = accounts.some((a) => activePerps(a).length > 0);
    return { banks, perps: anyPerps ? perpMarketLookup(await this.perpMarketRefs(group)) : undefined };
  }

  /** The account's health accounts as its positions are now (perp markets included). */
  async healthAccounts(account: PublicKey): Promise<AccountMeta[]> {
    const margin = await this.marginAccount(account);
    const { banks, perps } = await this.lookups(margin.group, margin);
    return healthAccountMetas(margin, banks, perps);
  }

  /** The bank as the program will see it: accrued to the cluster's current time. */
  async accruedBank(address: PublicKey): Promise<Bank> {
    return accrueInterest(await this.bank(address), await clusterUnixTimestamp(this.chain));
  }

  private async transfer(request: TransferRequest, movement: Movement) {
    const margin = await this.marginAccount(request.account);
    const bank = await this.accruedBank(request.bank);
    const { banks, perps } = await this.lookups(margin.group, margin);
    const transfer = transferAccountsOf(request, margin.group, bank);
    const after = accountAfter(margin, bank, movement, request.amount);
    return { transfer, health: healthAccountMetas(after, banks, perps) };
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
    const { banks, perps } = await this.lookups(liquidatee.group, liquidatee, liquidator);
    const owed = borrowNative(liquidatee, liabBank);
    let liab = args.maxLiabAmount < owed ? args.maxLiabAmount : owed;
    if (liab < 1n) liab = 1n;
    const after = liquidatorAfter(liquidator, liabBank, liab, assetBank, 1n);
    return liquidateIx({
      ...args,
      group: liquidatee.group,
      liquidateeHealth: healthAccountMetas(liquidatee, banks, perps),
      liquidatorHealth: healthAccountMetas(after, banks, perps),
    });
  }

  /** `resolve_bankruptcy` for `account`'s debt in `liabBank`, with its current health accounts. */
  async resolveBankruptcyIx(account: PublicKey, liabBank: PublicKey): Promise<TransactionInstruction> {
    const margin = await this.marginAccount(account);
    const { banks, perps } = await this.lookups(margin.group, margin);
    return resolveBankruptcyIx({ group: margin.group, account, liabBank, health: writeOffAccountMetas(margin, banks, perps) });
  }

  /** The program's `health` view for `account`, simulated with `feePayer` (any existing
   * system account; nothing is signed). */
  async health(account: PublicKey, feePayer: PublicKey): Promise<AccountHealth> {
    const margin = await this.marginAccount(account);
    const { banks, perps } = await this.lookups(margin.group, margin);
    return simulateHealth(this.chain, {
      group: margin.group,
      account,
      healthAccounts: healthAccountMetas(margin, banks, perps),
      feePayer,
      programId: this.programId,
    });
  }

  /** The program's `health_under_shock` view for `account`: its health with the prices of some
   * banks (`tokenShocks`, by bank index) and perp markets (`perpShocks`, by market index) moved
   * by the given bps. Simulated with `feePayer`, as `health`. */
  async healthUnderShock(
    account: PublicKey,
    feePayer: PublicKey,
    tokenShocks: PriceShock[],
    perpShocks: PriceShock[] = [],
  ): Promise<AccountHealth> {
    const margin = await this.marginAccount(account);
    const { banks, perps } = await this.lookups(margin.group, margin);
    const healthAccounts = healthAccountMetas(margin, banks, perps);
    return simulateHealthUnderShock(this.chain, {
      group: margin.group,
      account,
      healthAccounts,
      feePayer,
      tokenShocks,
      perpShocks,
      programId: this.programId,
    });
  }

  /** "What move liquidates me": the smallest move (to 1 bps) of one bank's (`kind: "bank"`) or
   * perp market's price, down (`direction` −1) or up (+1), at which the program's own shock view
   * says `account` is liquidatable; `null` if no move in that direction does (`liquidatingMove`). */
  async liquidatingMove(
    account: PublicKey,
    feePayer: PublicKey,
    move: { kind: "bank" | "perp"; index: number; direction: -1 | 1 },
  ): Promise<LiquidatingMove | null> {
    const margin = await this.marginAccount(account);
    const { banks, perps } = await this.lookups(margin.group, margin);
    const healthAccounts = healthAccountMetas(margin, banks, perps);
    return liquidatingMove(this.chain, {
      group: margin.group,
      account,
      healthAccounts,
      feePayer,
      ...move,
      programId: this.programId,
    });
  }

  /** The group's admin-safety settings (live or setup, delay, emergency admin, admin transfer),
   * with the warning a frontend shows for a group in setup. */
  async groupSafety(group: PublicKey): Promise<GroupSafety> {
    return groupSafety(await this.group(group));
  }

  /** Every queued change of `group`, its banks and perp markets, diffed against the settings in
   * force, with whether each is due at the cluster's current time. */
  async pendingChanges(group: PublicKey, options: PendingChangesOptions = {}): Promise<QueuedChange[]> {
    const [data, banks, perpMarkets, now] = await Promise.all([this.group(group), this.banks(group), this.perpMarkets(group), clusterUnixTimestamp(this.chain)]);
    return pendingChanges({ address: group, data }, banks, now, options, perpMarkets);
  }

  /** The program's `health_after_pending_changes` view for `account`: its health once every
   * queued change applies (a re-pinned bank passed with its queued oracle). */
  async healthAfterPendingChanges(account: PublicKey, feePayer: PublicKey): Promise<AccountHealth> {
    const margin = await this.marginAccount(account);
    const banks = await this.banks(margin.group);
    const perpMarkets = activePerps(margin).length > 0 ? await this.perpMarkets(margin.group) : [];
    return healthAfterPendingChanges(this.chain, { group: margin.group, account, margin, banks, perpMarkets, feePayer, programId: this.programId });
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

  // --- perps ---

  /** The current quote in a perp market's oracle account. */
  async perpOracleQuote(market: PerpMarket): Promise<PythQuote> {
    return decodeOracleQuote(market.config.oracleKind, (await this.required(market.oracle, "oracle")).data);
  }

  /** The accounts of a perp trade or pool movement, and the market and account read for it. */
  private async perpTrade(request: PoolRequest) {
    const market = await this.perpMarket(request.perpMarket);
    const margin = await this.marginAccount(request.account);
    const accounts: PerpTradeAccounts = { group: margin.group, account: request.account, owner: request.owner, market: perpMarketRef(request.perpMarket, market) };
    return { market, margin, accounts };
  }

  /** `place_perp_order` with the health accounts of the account after it (its slot in this
   * market opened if it had none). */
  async placePerpOrderIx(request: PerpOrderRequest): Promise<TransactionInstruction> {
    const { margin, accounts } = await this.perpTrade(request);
    const after = accountWithPerpSlot(margin, accounts.market);
    const { banks, perps } = await this.lookups(margin.group, after);
    const order = orderOf(request);
    return placePerpOrderIx(accounts, order, healthAccountMetas(after, banks, perps));
  }

  /** What `request` would do now: the market's funding accrued to the cluster's time, the oracle
   * price and the pool as the instruction reads them (`previewPerpOrder`; throws
   * `PerpOrderRefused` where the program would refuse, health aside). */
  async previewPerpOrder(request: PerpOrderRequest): Promise<PerpOrderPreview> {
    const { market, margin } = await this.perpTrade(request);
    const [quote, settleBank, now] = await Promise.all([this.perpOracleQuote(market), this.bank(market.settleBank), clusterUnixTimestamp(this.chain)]);
    const price = priceSideQ64(quote, "mid", { confMultiplierBps: market.config.oracleConfMultiplierBps, decimals: market.config.baseDecimals });
    const slot = margin.perps.find((p) => p.active && p.marketIndex === market.marketIndex) ?? null;
    const order = orderOf(request);
    // `place_perp_order` reads the settle bank as stored (no accrual) for the pool's deposit.
    return previewPerpOrder({ market, slot, order, price, pool: poolNative(market, settleBank), now });
  }

  /** `pool_deposit` of `amount` with the health accounts after it (settle deposit reduced, the
   * slot opened). */
  async poolDepositIx(request: PoolRequest & { amount: bigint }): Promise<TransactionInstruction> {
    const { market, margin, accounts } = await this.perpTrade(request);
    const settleBank = await this.accruedBank(market.settleBank);
    const after = accountWithPerpSlot(accountAfter(margin, settleBank, "withdraw", request.amount), accounts.market);
    const { banks, perps } = await this.lookups(margin.group, after);
    return poolDepositIx(accounts, request.amount, healthAccountMetas(after, banks, perps));
  }

  async poolWithdrawIx(request: PoolRequest & { lpShares: bigint }): Promise<TransactionInstruction> {
    const { accounts } = await this.perpTrade(request);
    return poolWithdrawIx(accounts, request.lpShares);
  }

  /** `settle_pnl` for `account`'s position in the market (anyone may send it), with the
   * account's current health accounts unless `options.healthAccounts` is false. */
  async settlePnlIx(account: PublicKey, perpMarket: PublicKey, options: SettlePnlOptions = {}): Promise<TransactionInstruction> {
    const market = await this.perpMarket(perpMarket);
    const health = options.healthAccounts === false ? [] : await this.healthAccounts(account);
    return settlePnlIx({ group: market.group, account, market: perpMarketRef(perpMarket, market), health });
  }

  /** `liquidate_perp` with the liquidatee's health accounts as its positions are now. */
  async liquidatePerpIx(request: LiquidatePerpRequest): Promise<TransactionInstruction> {
    const market = await this.perpMarket(request.perpMarket);
    return liquidatePerpIx({
      group: market.group,
      liquidator: request.liquidator,
      owner: request.owner,
      liquidatee: request.liquidatee,
      market: perpMarketRef(request.perpMarket, market),
      maxBaseLots: request.maxBaseLots ?? UNCAPPED_LOTS,
      health: await this.healthAccounts(request.liquidatee),
    });
  }

  /** `resolve_perp_bankruptcy` of `account`'s loss in the market (anyone may send it), with its
   * current health accounts. */
  async resolvePerpBankruptcyIx(account: PublicKey, perpMarket: PublicKey): Promise<TransactionInstruction> {
    const market = await this.perpMarket(perpMarket);
    return resolvePerpBankruptcyIx({ group: market.group, account, market: perpMarketRef(perpMarket, market), health: await this.healthAccounts(account) });
  }

  /** `fund_perp_insurance`: the settle bank's vault, mint and token program read from it. */
  async fundPerpInsuranceIx(request: FundPerpInsuranceRequest): Promise<TransactionInstruction> {
    const market = await this.perpMarket(request.perpMarket);
    const settleBank = bankRef(market.settleBank, await this.bank(market.settleBank));
    return fundPerpInsuranceIx({ group: market.group, admin: request.admin, perpMarket: request.perpMarket, settleBank, source: request.source, amount: request.amount });
  }

  /** The market's insurance fund in settle native units (its deposit shares at the settle
   * bank's deposit index accrued to the cluster's time, rounded down). */
  async perpInsuranceNative(perpMarket: PublicKey): Promise<bigint> {
    const market = await this.perpMarket(perpMarket);
    return insuranceNative(market, await this.accruedBank(market.settleBank));
  }

  /** The oracle price of `perpMarket` at which `account`'s maint health reaches zero, every other
   * price fixed (see `perp-liquidation.ts`), from the program's health view. */
  async perpLiquidationPrice(account: PublicKey, perpMarket: PublicKey, feePayer: PublicKey, confModel: ConfModel = "proportional"): Promise<PerpLiquidationPriceEstimate> {
    const market = await this.perpMarket(perpMarket);
    const settleBank = await this.bank(market.settleBank);
    const health = await this.health(account, feePayer);
    const [perpQuote, settleQuote] = await Promise.all([this.perpOracleQuote(market), this.oracleQuote(settleBank)]);
    return estimatePerpLiquidationPrice({ health, marketIndex: market.marketIndex, market, perpQuote, settleBank, settleQuote, confModel });
  }

  // --- transactions and the wallet path ---

  private transactionChain(): TransactionChain {
    if (!isTransactionChain(this.chain)) throw new Error("this chain cannot build v0 transactions (it needs latestBlockhash, recentPrioritizationFees and sendSignedTransaction, as ConnectionChain has)");
    return this.chain;
  }

  private payerOf(options: TransactionOptions): PublicKey {
    const payer = options.payer ?? this.wallet?.publicKey;
    if (!payer) throw new Error("no fee payer: pass options.payer or give the client a wallet");
    return payer;
  }

  /** An unsigned v0 transaction of `instructions` with its compute budget (CU limit from a
   * simulation plus a margin, priority fee given or from recent fees) and lookup tables, and
   * what sending it needs. A failing simulation throws the program's named error. */
  async buildTransaction(instructions: TransactionInstruction[], options: TransactionOptions = {}): Promise<BuiltTransaction> {
    return buildTransaction(this.transactionChain(), instructions, this.payerOf(options), options);
  }

  /** As `buildTransaction`, the transaction alone (unsigned, for any wallet to sign and send). */
  async transaction(instructions: TransactionInstruction[], options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return (await this.buildTransaction(instructions, options)).transaction;
  }

  /**
   * Signs and sends `instructions`, waits for confirmation, and returns the logs (throws
   * `TransactionFailedError`, with the program's named error, if it fails). A keypair
   * (`feePayer` a `Signer`, or the client's own keypair) signs a legacy transaction through
   * `chain.sendTransaction`, as before; a wallet (or a keypair wrapped in `KeypairWallet`)
   * gets a v0 transaction (`buildTransaction`, with `options`) to sign with `signTransaction`,
   * after the extra `signers`.
   */
  async send(instructions: TransactionInstruction[], feePayer?: SignerLike, signers: Signer[] = [], options: TransactionOptions = {}): Promise<SentTransaction> {
    const local = feePayer === undefined ? this.localSigner : signerOf(feePayer);
    if (local) return this.chain.sendTransaction(instructions, local, signers);
    const wallet = feePayer === undefined ? this.wallet : toWallet(feePayer);
    if (!wallet) throw new Error("no signer: pass one or give the client a wallet");
    const built = await this.buildTransaction(instructions, { ...options, payer: options.payer ?? wallet.publicKey });
    const extra = signers.filter((s) => !s.publicKey.equals(wallet.publicKey));
    if (extra.length > 0) built.transaction.sign(extra);
    const signed = await wallet.signTransaction(built.transaction);
    return this.transactionChain().sendSignedTransaction(signed.serialize(), built.lastValidBlockHeight);
  }

  /** Signs with the client's wallet and sends (see `send`). */
  private act(instructions: TransactionInstruction[], options: SendOptions = {}): Promise<SentTransaction> {
    const { signers, ...rest } = options;
    return this.send(instructions, undefined, signers ?? [], rest);
  }

  private owner(): PublicKey {
    if (!this.wallet) throw new Error("this client has no wallet");
    return this.wallet.publicKey;
  }

  /** `create_account` for the wallet (owner and payer) in `group`; returns the account. */
  async createAccountIx(group: PublicKey, accountNum = 0, owner: PublicKey = this.owner()): Promise<{ instruction: TransactionInstruction; account: PublicKey }> {
    return createAccountIx({ group, owner, payer: owner, accountNum });
  }

  /** Creates the wallet's margin account `accountNum` in `group`. */
  async createAccount(group: PublicKey, accountNum = 0, options: SendOptions = {}): Promise<{ account: PublicKey; sent: SentTransaction }> {
    const { instruction, account } = await this.createAccountIx(group, accountNum);
    return { account, sent: await this.act([instruction], options) };
  }

  async createAccountTx(group: PublicKey, accountNum = 0, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([(await this.createAccountIx(group, accountNum)).instruction], options);
  }

  /** Deposits through the wallet (signs `request.owner`'s transaction with the client's wallet). */
  async deposit(request: TransferRequest, options: SendOptions = {}): Promise<SentTransaction> {
    return this.act([await this.depositIx(request)], options);
  }

  async withdraw(request: TransferRequest, options: SendOptions = {}): Promise<SentTransaction> {
    return this.act([await this.withdrawIx(request)], options);
  }

  async borrow(request: TransferRequest, options: SendOptions = {}): Promise<SentTransaction> {
    return this.act([await this.borrowIx(request)], options);
  }

  async repay(request: TransferRequest, options: SendOptions = {}): Promise<SentTransaction> {
    return this.act([await this.repayIx(request)], options);
  }

  /** The unsigned v0 transaction of a deposit (for a wallet to sign and send itself). */
  async depositTx(request: TransferRequest, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.depositIx(request)], { payer: request.owner, ...options });
  }

  async withdrawTx(request: TransferRequest, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.withdrawIx(request)], { payer: request.owner, ...options });
  }

  async borrowTx(request: TransferRequest, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.borrowIx(request)], { payer: request.owner, ...options });
  }

  async repayTx(request: TransferRequest, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.repayIx(request)], { payer: request.owner, ...options });
  }

  /** Perp orders and liquidations as unsigned v0 transactions, like the token actions. */
  async placePerpOrderTx(request: PerpOrderRequest, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.placePerpOrderIx(request)], { payer: request.owner, ...options });
  }

  async liquidateTx(args: Omit<LiquidateArgs, "group" | "liquidateeHealth" | "liquidatorHealth">, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.liquidateIx(args)], { payer: args.owner, ...options });
  }

  async liquidatePerpTx(request: LiquidatePerpRequest, options: TransactionOptions = {}): Promise<VersionedTransaction> {
    return this.transaction([await this.liquidatePerpIx(request)], { payer: request.owner, ...options });
  }

  /**
   * `instructions` inside a flash loan on `account`: `flash_loan_begin`, them, `flash_loan_end`
   * with the health accounts of `after` (the account's positions once the bracket is done;
   * default: its positions now, e.g. for a borrow repaid within the bracket). Inside, the
   * account's borrows and withdrawals skip their health check (their health accounts may be
   * left out); `flash_loan_end` checks init health once.
   */
  async flashLoanIxs(request: { account: PublicKey; owner: PublicKey; instructions: TransactionInstruction[]; after?: MarginAccount }): Promise<TransactionInstruction[]> {
    const margin = request.after ?? (await this.marginAccount(request.account));
    const { banks, perps } = await this.lookups(margin.group, margin);
    return [
      await flashLoanBeginIx({ account: request.account, owner: request.owner }),
      ...request.instructions,
      await flashLoanEndIx({ group: margin.group, account: request.account, owner: request.owner, health: healthAccountMetas(margin, banks, perps) }),
    ];
  }

}
