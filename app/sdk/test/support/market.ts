/**
 * A ready market on LiteSVM, mirroring the Rust fixture `tests/src/market.rs`: a group with three
 * banks and real-format Pyth accounts, plus funded users. Prices are exact in Q64.64 so that
 * tests can state expected values by hand.
 *
 * | bank | decimals | oracle | price | init/maint asset | maint/init liab |
 * |---|---|---|---|---|---|
 * | USDC | 6 | Pyth pull | $1 | 0.95 / 0.98 | 1.02 / 1.05 |
 * | SOL | 9 | Pyth pull | $125 | 0.80 / 0.90 | 1.10 / 1.20 |
 * | BTC | 8 | Pyth legacy | $100,000 | 0.85 / 0.92 | 1.08 / 1.15 |
 */
import type { Keypair, PublicKey, TransactionInstruction } from "@solana/web3.js";

import {
  addBankIx,
  bankRef,
  createAccountIx,
  createGroupIx,
  CrossMarginClient,
  decodeOracleQuote,
  encodeOracle,
  OracleKind,
  PYTH_LEGACY_PROGRAM_MAINNET,
  PYTH_RECEIVER_PROGRAM_MAINNET,
  type AccountHealth,
  type BankConfig,
  type BankRef,
  type PythQuote,
  type SentTransaction,
} from "../../src";
import { LiteSvmChain, TOKEN_PROGRAM_ID } from "./litesvm-chain";

export const START_TIME = 1_800_000_000n;

export function feedId(bankIndex: number): Uint8Array {
  const id = new Uint8Array(32);
  id[0] = 0xfe;
  id[1] = bankIndex & 0xff;
  id[2] = bankIndex >> 8;
  return id;
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * The test banks' configuration: weights `[init asset, maint asset, maint liab, init liab]`.
 * Fees are 5% + 1% for volatile collateral, 1.5% + 0.5% where (1 + fees) × the maint asset weight
 * would reach 1 (the program refuses such fees: liquidating the collateral would lower health),
 * as in the Rust sandbox.
 */
export function bankConfig(kind: OracleKind, index: number, weights: [number, number, number, number]): BankConfig {
  const stable = 10_600 * weights[1] >= 100_000_000;
  return {
    oracleKind: kind,
    oracleFeedId: feedId(index),
    oracleMaxAgeSecs: 60,
    oracleMaxConfBps: 200,
    oracleConfMultiplierBps: 10_000,
    initAssetWeightBps: weights[0],
    maintAssetWeightBps: weights[1],
    maintLiabWeightBps: weights[2],
    initLiabWeightBps: weights[3],
    liquidationFeeBps: stable ? 150 : 500,
    insuranceFeeBps: stable ? 50 : 100,
    optimalUtilizationBps: 8_000,
    minRateBps: 0,
    optimalRateBps: 1_000,
    maxRateBps: 10_000,
    depositLimitNative: U64_MAX,
    borrowLimitNative: U64_MAX,
    depositWeightScaleStartQuote: 0n,
    netBorrowLimitPerWindowQuote: 0n,
    netBorrowLimitWindowSecs: 0n,
  };
}

/** `dollars` ± `conf` (in the mantissa's 1e-4 dollar units), exponent −4. */
export function quoteDollars(dollars: bigint, conf: bigint, publishTime: bigint): PythQuote {
  return { price: dollars * 10_000n, conf, exponent: -4, publishTime };
}

export interface User {
  keypair: Keypair;
  account: PublicKey;
  /** Token account per bank index. */
  tokens: PublicKey[];
}

export class Market {
  readonly chain: LiteSvmChain;
  readonly client: CrossMarginClient;
  readonly admin: Keypair;
  readonly group: PublicKey;
  readonly receiverProgram = PYTH_RECEIVER_PROGRAM_MAINNET;
  readonly legacyProgram = PYTH_LEGACY_PROGRAM_MAINNET;
  usdc!: BankRef;
  sol!: BankRef;
  btc!: BankRef;

  private constructor(chain: LiteSvmChain, admin: Keypair, group: PublicKey) {
    this.chain = chain;
    this.client = new CrossMarginClient(chain);
    this.admin = admin;
    this.group = group;
  }

  /** A fresh market; its clock starts at `startTime` (a fixed time, unless the market moves to a validator later). */
  static async create(startTime: bigint = START_TIME): Promise<Market> {
    const chain = new LiteSvmChain();
    chain.setUnixTimestamp(startTime);
    const admin = chain.fundedKeypair(100_000_000_000n);
    const { instruction, group } = await createGroupIx({
      admin: admin.publicKey,
      payer: chain.payer.publicKey,
      groupNum: 0,
      pythReceiverProgram: PYTH_RECEIVER_PROGRAM_MAINNET,
      pythLegacyProgram: PYTH_LEGACY_PROGRAM_MAINNET,
    });
    await chain.sendTransaction([instruction], chain.payer, [admin]);
    const market = new Market(chain, admin, group);
    market.usdc = await market.addBank(6, OracleKind.PythPull, [9_500, 9_800, 10_200, 10_500], 1n);
    market.sol = await market.addBank(9, OracleKind.PythPull, [8_000, 9_000, 11_000, 12_000], 125n);
    market.btc = await market.addBank(8, OracleKind.PythLegacy, [8_500, 9_200, 10_800, 11_500], 100_000n);
    return market;
  }

  now(): bigint {
    return this.chain.unixTimestamp();
  }

  /** Adds a bank for a new SPL Token mint with its oracle at `dollars`. */
  async addBank(decimals: number, kind: OracleKind, weights: [number, number, number, number], dollars: bigint): Promise<BankRef> {
    const index = (await this.client.group(this.group)).bankCount;
    const mint = this.chain.createMint(decimals, TOKEN_PROGRAM_ID);
    const oracle = this.chain.newPubkey();
    this.writeOracle(kind, oracle, index, quoteDollars(dollars, 0n, this.now()));
    const { instruction, bank } = await addBankIx({
      group: this.group,
      admin: this.admin.publicKey,
      payer: this.chain.payer.publicKey,
      mint,
      tokenProgram: TOKEN_PROGRAM_ID,
      oracle,
      config: bankConfig(kind, index, weights),
    });
    await this.chain.sendTransaction([instruction], this.chain.payer, [this.admin]);
    return bankRef(bank, await this.client.bank(bank));
  }

  /** Writes a bank's oracle account in its real format, owned by the group's Pyth program. */
  writeOracle(kind: OracleKind, oracle: PublicKey, index: number, quote: PythQuote): void {
    const owner = kind === OracleKind.PythPull ? this.receiverProgram : this.legacyProgram;
    this.chain.setAccount(oracle, owner, encodeOracle(kind, feedId(index), quote));
  }

  async setPrice(bank: BankRef, quote: PythQuote): Promise<void> {
    const kind = (await this.client.bank(bank.address)).config.oracleKind;
    this.writeOracle(kind, bank.oracle, bank.bankIndex, quote);
  }

  /** Re-publishes every oracle's current quote at the current time (after a clock warp). */
  async refreshPrices(): Promise<void> {
    for (const bank of this.banks()) await this.setPrice(bank, { ...(await this.quote(bank)), publishTime: this.now() });
  }

  /** Moves the clock forward and refreshes the oracles. */
  async warp(seconds: bigint): Promise<void> {
    this.chain.setUnixTimestamp(this.now() + seconds);
    await this.refreshPrices();
  }

  async quote(bank: BankRef): Promise<PythQuote> {
    const kind = (await this.client.bank(bank.address)).config.oracleKind;
    return decodeOracleQuote(kind, this.chain.account(bank.oracle)!.data);
  }

  banks(): BankRef[] {
    return [this.usdc, this.sol, this.btc];
  }

  /** A user with a margin account and `funds[i]` native tokens of bank i's mint. */
  async user(funds: [bigint, bigint, bigint]): Promise<User> {
    const keypair = this.chain.fundedKeypair(10_000_000_000n);
    const { instruction, account } = await createAccountIx({ group: this.group, owner: keypair.publicKey, payer: keypair.publicKey, accountNum: 0 });
    await this.chain.sendTransaction([instruction], keypair);
    const tokens = this.banks().map((bank, i) => this.chain.createTokenAccount(bank.mint, keypair.publicKey, funds[i]!));
    return { keypair, account, tokens };
  }

  private request(user: User, bank: BankRef, amount: bigint) {
    return { account: user.account, owner: user.keypair.publicKey, bank: bank.address, userToken: user.tokens[bank.bankIndex]!, amount };
  }

  send(user: User, instruction: TransactionInstruction): Promise<SentTransaction> {
    return this.chain.sendTransaction([instruction], user.keypair);
  }

  async deposit(user: User, bank: BankRef, amount: bigint): Promise<SentTransaction> {
    return this.send(user, await this.client.depositIx(this.request(user, bank, amount)));
  }

  async repay(user: User, bank: BankRef, amount: bigint): Promise<SentTransaction> {
    return this.send(user, await this.client.repayIx(this.request(user, bank, amount)));
  }

  async withdraw(user: User, bank: BankRef, amount: bigint): Promise<SentTransaction> {
    return this.send(user, await this.client.withdrawIx(this.request(user, bank, amount)));
  }

  async borrow(user: User, bank: BankRef, amount: bigint): Promise<SentTransaction> {
    return this.send(user, await this.client.borrowIx(this.request(user, bank, amount)));
  }

  async health(user: User): Promise<AccountHealth> {
    return this.client.health(user.account, this.chain.payer.publicKey);
  }

  async liquidate(liquidator: User, liquidatee: User, liab: BankRef, asset: BankRef, maxLiabAmount: bigint): Promise<SentTransaction> {
    const instruction = await this.client.liquidateIx({
      liquidator: liquidator.account,
      owner: liquidator.keypair.publicKey,
      liquidatee: liquidatee.account,
      liabBank: liab.address,
      assetBank: asset.address,
      maxLiabAmount,
    });
    return this.send(liquidator, instruction);
  }

  /** A lender holding 1,000,000 USDC, 10,000 SOL and 100 BTC in the banks, so that borrows have
   * liquidity. */
  async withLiquidity(): Promise<User> {
    const amounts: [bigint, bigint, bigint] = [1_000_000_000_000n, 10_000_000_000_000n, 10_000_000_000n];
    const lender = await this.user(amounts);
    for (const [i, bank] of this.banks().entries()) await this.deposit(lender, bank, amounts[i]!);
    return lender;
  }

  /** Every account a user action can touch, for no-state-change assertions. */
  snapshot(user: User): Map<string, string> {
    const keys = [this.group, user.account, ...user.tokens];
    for (const bank of this.banks()) keys.push(bank.address, bank.vault, bank.oracle);
    return this.chain.snapshot(keys);
  }
}
