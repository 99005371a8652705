/**
 * Perp liquidation through the SDK against the real program in LiteSVM: `liquidate_perp` closing
 * a long against the pool by the program's closed-form amount, the admin's `fund_perp_insurance`,
 * `settle_pnl` with the account's health accounts (a loss beyond the settle deposit becoming a
 * borrow only up to the account's other equity), and `resolve_perp_bankruptcy` writing off the
 * rest from the insurance fund, then the LPs. The market and the numbers are those of the Rust
 * tests (tests/tests/perp_liquidation.rs, every amount worked out by hand there and here): a lot
 * is 0.01 token, maint base weight 0.95 (5% margin), liquidation fees 2% + 1%, a $100,000 pool;
 * USDC (the settle bank) at maint weights 0.98 / 1.02; confidence 0, so every price side is the
 * oracle's.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { PublicKey } from "@solana/web3.js";

import {
  activePerps,
  borrowNative,
  depositNative,
  eventsNamed,
  nativeEventsNamed,
  ONE_Q64,
  poolNative,
  UNCAPPED_LOTS,
  type PerpMarketRef,
} from "../src";
import { expectMarginError, expectRejected } from "./support/assert";
import { Market, quoteDollars, type User } from "./support/market";
import { addPerpMarket, perpRequest, setPerpPrice, withPool } from "./support/perp-market";

const USDC = 1_000_000n;

/** The Rust tests' perp market (`app/testkit`'s `perp_config`): impact 1.0 × skew value / pool
 * (so 500 lots against $100,000 pay 50 bps), maint PnL weight 0.9, pool cover 20%. */
async function rustPerpMarket(market: Market): Promise<PerpMarketRef> {
  const perp = await addPerpMarket(market, 100n, { impactCoeffBps: 10_000, maintPnlWeightBps: 9_000, poolCoverBps: 2_000 });
  await withPool(market, perp, 100_000n * USDC);
  return perp;
}

/** A user with `usdc` native USDC deposited (none: an empty margin account, e.g. a keeper's). */
async function trader(market: Market, usdc: bigint, sol = 0n): Promise<User> {
  const user = await market.user([usdc, sol, 0n]);
  if (usdc > 0n) await market.deposit(user, market.usdc, usdc);
  if (sol > 0n) await market.deposit(user, market.sol, sol);
  return user;
}

/** Long 500 lots (5 tokens) at $100: fee 10 bps + impact floor(10,000 × $500 / $100,000) = 50
 * bps, so the quote is −$503. */
async function openLong(market: Market, user: User, perp: PerpMarketRef): Promise<void> {
  await market.send(user, await market.client.placePerpOrderIx({ ...perpRequest(user, perp), side: "long", sizeLots: 500n }));
  assert.equal((await market.client.marginAccount(user.account)).perps[0]!.quoteNative, -503_000_000n);
}

function setDollars(market: Market, perp: PerpMarketRef, dollars: bigint): void {
  setPerpPrice(market, perp, quoteDollars(dollars, 0n, market.now()));
}

/** The user's signed USDC balance, native. */
async function usdcBalance(market: Market, user: User): Promise<bigint> {
  const account = await market.client.marginAccount(user.account);
  const bank = await market.client.bank(market.usdc.address);
  return depositNative(account, bank) - borrowNative(account, bank);
}

async function poolNow(market: Market, perp: PerpMarketRef): Promise<bigint> {
  return poolNative(await market.client.perpMarket(perp.address), await market.client.bank(market.usdc.address));
}

/** `liquidate_perp` by `keeper`'s account of `liquidatee`'s position, through the client. */
async function liquidatePerp(market: Market, keeper: User, liquidatee: User, perp: PerpMarketRef, maxBaseLots?: bigint) {
  const instruction = await market.client.liquidatePerpIx({
    liquidator: keeper.account,
    owner: keeper.keypair.publicKey,
    liquidatee: liquidatee.account,
    perpMarket: perp.address,
    ...(maxBaseLots === undefined ? {} : { maxBaseLots }),
  });
  return market.send(keeper, instruction);
}

/** Every account a perp liquidation can touch, for no-state-change assertions. */
function snapshotOf(market: Market, perp: PerpMarketRef, ...users: User[]): () => Map<string, string> {
  const keys: PublicKey[] = [market.group, perp.address, perp.oracle, market.usdc.address, market.usdc.vault, ...users.map((u) => u.account)];
  return () => market.chain.snapshot(keys);
}

describe("perp liquidation: liquidate_perp, fund_perp_insurance, settle_pnl with health accounts, resolve_perp_bankruptcy", () => {
  it("closes 239 lots at $84 with the Rust test's fees, then the rest at $70; the loss is paid by collateral, then insurance, then the LPs", async () => {
    const market = await Market.create();
    const client = market.client;
    const perp = await rustPerpMarket(market);
    const created = await client.perpMarket(perp.address);
    assert.deepEqual([created.insuranceDepositShares, created.socialisedLoss], [0n, 0n], "the new fields decode");
    const alice = await trader(market, 100n * USDC);
    await openLong(market, alice, perp);
    const keeper = await trader(market, 0n);
    const snapshot = snapshotOf(market, perp, alice, keeper);

    // At $85 the account is healthy: PnL 425 − 503 = −$78, margin 5% of $425 = $21.25, settle
    // balance 100 − 99.25 = $0.75. Refused by name, nothing changed.
    setDollars(market, perp, 85n);
    await expectRejected(snapshot, () => liquidatePerp(market, keeper, alice, perp), "NotLiquidatable");
    // Nor can anyone write off a position that is still open.
    await expectRejected(snapshot, async () => market.send(keeper, await client.resolvePerpBankruptcyIx(alice.account, perp.address)), "PerpPositionsOpen");

    // At $84: PnL −$83, margin $21, balance −$4, maint −4 × 1.02 = −$4.08. Each lot closed at
    // $0.84 releases $0.042 of margin and pays $0.0252 of fees: the balance is −$4 + $0.0168 q,
    // and the end target (no debt left, 8 units of slack) needs floor(0.98 × balance) >= 8, so
    // q = ceil(4,000,009 / 16,800) = 239.
    setDollars(market, perp, 84n);
    const poolBefore = await poolNow(market, perp);
    const instruction = await client.liquidatePerpIx({ liquidator: keeper.account, owner: keeper.keypair.publicKey, liquidatee: alice.account, perpMarket: perp.address });
    // Remaining accounts: the liquidatee's health accounts (USDC, then the perp market).
    assert.deepEqual(
      instruction.keys.slice(7).map((k) => [k.pubkey.toBase58(), k.isWritable]),
      [market.usdc.address, market.usdc.oracle, perp.address, perp.oracle].map((k) => [k.toBase58(), false]),
    );
    const first = nativeEventsNamed((await market.send(keeper, instruction)).logs, "perpLiquidation");
    assert.equal(first.length, 1);
    const e = first[0]!;
    assert.ok(e.liquidator.equals(keeper.account) && e.liquidatee.equals(alice.account) && e.perpMarket.equals(perp.address));
    assert.deepEqual([e.baseLotsBefore, e.baseLotsAfter, e.oraclePrice], [500n, 261n, 84n * ONE_Q64]);
    // Balance −4,000,000 + 239 × 16,800 = $0.0152: maint floor(15,200 × 0.98) = 14,896; no debt
    // left, so the end target is 0. (238 lots would have left −1,600.)
    assert.deepEqual([e.maintHealthBefore, e.maintHealthAfter, e.endTargetAfter], [-4_080_000n, 14_896n, 0n]);
    assert.deepEqual([e.stillBeingLiquidated, e.bankrupt], [false, false]);
    // Fees: 3% of 239 × $0.84 = $6.0228, two thirds to the keeper, a third to insurance.
    assert.deepEqual([e.quoteChange, e.liquidationFee, e.insuranceFee], [200_760_000n, 4_015_200n, 2_007_600n]);
    assert.deepEqual([e.longLotsAfter, e.shortLotsAfter], [261n, 0n]);
    assert.equal(await usdcBalance(market, keeper), 4_015_200n);
    let state = await client.perpMarket(perp.address);
    assert.deepEqual([state.insuranceDepositShares, state.longLots, state.shortLots], [2_007_600n, 261n, 0n]);
    assert.equal(await client.perpInsuranceNative(perp.address), 2_007_600n);
    assert.equal(poolBefore - (await poolNow(market, perp)), 6_022_800n, "both fees leave the pool's deposit");
    let slot = (await client.marginAccount(alice.account)).perps[0]!;
    assert.deepEqual([slot.baseLots, slot.quoteNative], [261n, -503_000_000n + 200_760_000n - 6_022_800n]);
    assert.equal(await usdcBalance(market, alice), 100n * USDC, "no token moves from the liquidatee");
    assert.equal((await market.health(alice)).maint, 14_896n, "the health view agrees with the event");
    // A second step is refused: the account is at its end target.
    await expectRejected(snapshot, () => liquidatePerp(market, keeper, alice, perp), "NotLiquidatable");

    // The admin tops up the insurance fund with $20.
    const source = market.chain.createTokenAccount(market.usdc.mint, market.admin.publicKey, 20n * USDC);
    const fund = await client.fundPerpInsuranceIx({ admin: market.admin.publicKey, perpMarket: perp.address, source, amount: 20n * USDC });
    const funded = nativeEventsNamed((await market.chain.sendTransaction([fund], market.admin)).logs, "perpInsuranceFunded")[0]!;
    assert.deepEqual([funded.amount, funded.insuranceSharesAfter], [20n * USDC, 22_007_600n]);
    assert.equal(market.chain.tokenBalance(source), 0n);
    assert.equal(await client.perpInsuranceNative(perp.address), 22_007_600n);

    // At $70: PnL 261 × $0.70 − 308.2628 = −$125.5628, margin 5% of $182.70 = $9.135, balance
    // 100 − 134.6978 = −$34.6978 (maint × 1.02: −$35.391756). A lot closed raises the balance by
    // only $0.014 (margin $0.035, fees $0.021): all 261 close, the fees uncapped (the account is
    // insolvent): 3% of $182.70 = $5.481, $3.654 to the keeper, $1.827 to insurance.
    setDollars(market, perp, 70n);
    const second = nativeEventsNamed((await liquidatePerp(market, keeper, alice, perp, UNCAPPED_LOTS)).logs, "perpLiquidation")[0]!;
    assert.deepEqual([second.baseLotsBefore, second.baseLotsAfter, second.quoteChange], [261n, 0n, 182_700_000n]);
    assert.deepEqual([second.liquidationFee, second.insuranceFee], [3_654_000n, 1_827_000n]);
    // Quote −308,262,800 + 182,700,000 − 5,481,000 = −$131.0438: balance −$31.0438, × 1.02.
    assert.deepEqual([second.maintHealthBefore, second.maintHealthAfter], [-35_391_756n, -31_664_676n]);
    assert.ok(second.endTargetAfter > 0n);
    assert.deepEqual([second.stillBeingLiquidated, second.bankrupt], [true, true]);
    slot = (await client.marginAccount(alice.account)).perps[0]!;
    assert.deepEqual([slot.baseLots, slot.quoteNative], [0n, -131_043_800n]);
    assert.equal(await usdcBalance(market, keeper), 4_015_200n + 3_654_000n);
    assert.equal(await client.perpInsuranceNative(perp.address), 22_007_600n + 1_827_000n);

    // Settling (with the health accounts, the client's default) pays what the collateral can:
    // the $100 deposit; no borrow, since the account has no other equity.
    const settleIx = await client.settlePnlIx(alice.account, perp.address);
    assert.equal(settleIx.keys.length, 5 + 4, "the account's health accounts are passed");
    const poolBeforeSettle = await poolNow(market, perp);
    const settled = eventsNamed((await market.chain.sendTransaction([settleIx], market.chain.payer)).logs, "pnlSettled")[0]!;
    assert.equal(settled.balanceChange.toString(), (-100n * USDC).toString());
    assert.equal(await usdcBalance(market, alice), 0n);
    assert.equal((await poolNow(market, perp)) - poolBeforeSettle, 100n * USDC);
    assert.equal((await client.marginAccount(alice.account)).perps[0]!.quoteNative, -31_043_800n);
    // Settling again has nothing to pay with.
    await expectMarginError(async () => market.chain.sendTransaction([await client.settlePnlIx(alice.account, perp.address)], market.chain.payer), "NothingToSettle");

    // The write-off: the fund ($20 + $2.0076 + $1.827 = $23.8346) pays, the LPs bear the last
    // $31.0438 − $23.8346 = $7.2092.
    const poolBeforeWriteOff = await poolNow(market, perp);
    const resolveIx = await client.resolvePerpBankruptcyIx(alice.account, perp.address);
    // Remaining accounts: no token position left, so the settle bank's pair, then the market.
    assert.deepEqual(
      resolveIx.keys.slice(5).map((k) => k.pubkey.toBase58()),
      [market.usdc.address, market.usdc.oracle, perp.address, perp.oracle].map((k) => k.toBase58()),
    );
    const done = nativeEventsNamed((await market.chain.sendTransaction([resolveIx], market.chain.payer)).logs, "perpBankruptcyResolved")[0]!;
    assert.ok(done.account.equals(alice.account) && done.perpMarket.equals(perp.address));
    assert.deepEqual([done.loss, done.fromCollateral, done.fromInsurance, done.socialised], [31_043_800n, 0n, 23_834_600n, 7_209_200n]);
    assert.deepEqual([done.insuranceSharesAfter, done.socialisedLossTotal], [0n, 7_209_200n]);
    state = await client.perpMarket(perp.address);
    assert.deepEqual([state.insuranceDepositShares, state.socialisedLoss, state.longLots, state.quoteSum], [0n, 7_209_200n, 0n, 0n]);
    assert.equal((await poolNow(market, perp)) - poolBeforeWriteOff, 23_834_600n, "the fund pays into the pool");
    // The account is empty and no longer flagged; no USDC depositor lost anything.
    const account = await client.marginAccount(alice.account);
    assert.deepEqual([activePerps(account).length, account.bankrupt, account.beingLiquidated], [0, false, false]);
    assert.equal((await client.bank(market.usdc.address)).depositIndex, ONE_Q64);
    // Nothing is left to write off.
    await expectMarginError(async () => market.chain.sendTransaction([await client.resolvePerpBankruptcyIx(alice.account, perp.address)], market.chain.payer), "PerpNoLossToWriteOff");
  });

  it("capped steps of 100 lots add up to the one-step amount (239), the account flagged until the last", async () => {
    const market = await Market.create();
    const client = market.client;
    const perp = await rustPerpMarket(market);
    const alice = await trader(market, 100n * USDC);
    await openLong(market, alice, perp);
    const keeper = await trader(market, 0n);
    setDollars(market, perp, 84n);
    // maxBaseLots 100: −$4 + 100 × $0.0168 = −$2.32, still being liquidated; again −$0.64.
    for (const [step, balance] of [[1, -2_320_000n], [2, -640_000n]] as const) {
      const e = nativeEventsNamed((await liquidatePerp(market, keeper, alice, perp, 100n)).logs, "perpLiquidation")[0]!;
      assert.equal(e.baseLotsBefore - e.baseLotsAfter, 100n, `step ${step}`);
      assert.equal(e.maintHealthAfter, (balance * 102n) / 100n, `step ${step}`);
      assert.equal(e.stillBeingLiquidated, true, `step ${step}`);
      assert.equal((await client.marginAccount(alice.account)).beingLiquidated, true, `step ${step}`);
    }
    // The last step closes ceil(640,009 / 16,800) = 39 lots: 239 in all, as in one step.
    const last = nativeEventsNamed((await liquidatePerp(market, keeper, alice, perp, 100n)).logs, "perpLiquidation")[0]!;
    assert.deepEqual([last.baseLotsBefore, last.baseLotsAfter, last.maintHealthAfter, last.stillBeingLiquidated], [300n, 261n, 14_896n, false]);
    assert.equal((await client.marginAccount(alice.account)).beingLiquidated, false);
    // Fees are per lot: 239 × $0.0168 to the keeper in all.
    assert.equal(await usdcBalance(market, keeper), 239n * 16_800n);
    // A zero cap is refused by name.
    setDollars(market, perp, 70n);
    await expectMarginError(() => liquidatePerp(market, keeper, alice, perp, 0n), "ZeroAmount");
  });

  it("settle_pnl with health accounts turns a loss into a borrow up to the other collateral; without them only the deposit pays", async () => {
    const market = await Market.create();
    const client = market.client;
    const perp = await rustPerpMarket(market);
    await market.withLiquidity();
    // Carol: $100 of USDC and 0.4 SOL ($50), long 500 lots bought at $100 (quote −$503).
    const carol = await trader(market, 100n * USDC, 400_000_000n);
    await openLong(market, carol, perp);
    const keeper = await trader(market, 0n);
    // At $70 every lot closed raises the balance by $0.014: all 500 still leave maint negative,
    // so one step closes the whole position. Quote −503 + 350 − 3% × 350 = −$163.50.
    setDollars(market, perp, 70n);
    const e = nativeEventsNamed((await liquidatePerp(market, keeper, carol, perp)).logs, "perpLiquidation")[0]!;
    assert.deepEqual([e.baseLotsAfter, e.liquidationFee, e.insuranceFee], [0n, 7_000_000n, 3_500_000n]);
    assert.equal((await client.marginAccount(carol.account)).perps[0]!.quoteNative, -163_500_000n);

    // Without the health accounts only the deposit pays: $100.
    const bare = await client.settlePnlIx(carol.account, perp.address, { healthAccounts: false });
    assert.equal(bare.keys.length, 5);
    await market.chain.sendTransaction([bare], market.chain.payer);
    assert.equal(await usdcBalance(market, carol), 0n);
    assert.equal((await client.marginAccount(carol.account)).perps[0]!.quoteNative, -63_500_000n);
    await expectMarginError(
      async () => market.chain.sendTransaction([await client.settlePnlIx(carol.account, perp.address, { healthAccounts: false })], market.chain.payer),
      "NothingToSettle",
    );
    // With them (the default), a borrow up to the SOL's $50, the equity outside the settle
    // deposit. The last $13.50 stays unsettled.
    await market.chain.sendTransaction([await client.settlePnlIx(carol.account, perp.address)], market.chain.payer);
    assert.equal(await usdcBalance(market, carol), -50n * USDC);
    assert.equal((await client.marginAccount(carol.account)).perps[0]!.quoteNative, -13_500_000n);
    // The SOL is still collateral: no write-off until token liquidation has taken it.
    await expectMarginError(
      async () => market.chain.sendTransaction([await client.resolvePerpBankruptcyIx(carol.account, perp.address)], market.chain.payer),
      "NotBankrupt",
    );
  });
});
