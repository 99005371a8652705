/**
 * A frontend's flow on the real program in LiteSVM: a group with Pyth pull and legacy banks,
 * an account, deposit, borrow, the health view, named errors, and a liquidation seen through
 * its event.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  bankAddress,
  decodeError,
  errorCode,
  eventsNamed,
  groupAddress,
  healthAccountMetas,
  bankLookup,
  borrowIx,
  liquidateIx,
  marginAccountAddress,
  OracleKind,
  PositionKind,
  TransactionFailedError,
  vaultAddress,
  withdrawIx,
  activePositions,
  type BankRef,
} from "../src";
import { expectMarginError, expectRejected } from "./support/assert";
import { Market, type User } from "./support/market";

const USDC = 1_000_000n; // native units per token
const SOL = 1_000_000_000n;
const BTC = 100_000_000n;

async function positionsOf(market: Market, user: User) {
  return activePositions(await market.client.marginAccount(user.account)).map((p) => ({ bankIndex: p.bankIndex, kind: p.kind }));
}

describe("frontend flow", () => {
  it("creates a group with pull and legacy banks whose addresses and layouts decode", async () => {
    const market = await Market.create();
    assert.ok(market.group.equals(groupAddress(market.admin.publicKey, 0)));
    const group = await market.client.group(market.group);
    assert.equal(group.bankCount, 3);
    assert.ok(group.admin.equals(market.admin.publicKey));
    assert.ok(group.pythReceiverProgram.equals(market.receiverProgram));
    assert.equal(group.liquidationEndBufferBps, 500);

    const banks = await market.client.banks(market.group);
    assert.deepEqual(
      banks.map((b) => [b.data.bankIndex, b.data.decimals, b.data.config.oracleKind, b.data.config.maintAssetWeightBps]),
      [
        [0, 6, OracleKind.PythPull, 9_800],
        [1, 9, OracleKind.PythPull, 9_000],
        [2, 8, OracleKind.PythLegacy, 9_200],
      ],
    );
    for (const { address, data } of banks) {
      assert.ok(address.equals(bankAddress(market.group, data.mint)));
      assert.ok(data.vault.equals(vaultAddress(address)));
      assert.equal(data.depositIndex, 1n << 64n, "fresh Q64.64 index is 1.0");
      assert.equal(data.borrowIndex, 1n << 64n);
      assert.ok(data.group.equals(market.group));
    }
    const user = await market.user([0n, 0n, 0n]);
    assert.ok(user.account.equals(marginAccountAddress(market.group, user.keypair.publicKey, 0)));
    const account = await market.client.marginAccount(user.account);
    assert.equal(account.positions.length, 16);
    assert.equal(activePositions(account).length, 0);
    assert.ok(account.owner.equals(user.keypair.publicKey));
  });

  it("deposits, borrows and reads the worked example's health from the program", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    const user = await market.user([0n, 10n * SOL, 0n]);

    const deposited = await market.deposit(user, market.sol, 10n * SOL);
    const [movement] = eventsNamed(deposited.logs, "tokenMovement");
    assert.ok(movement);
    assert.ok(movement.bank.equals(market.sol.address));
    assert.deepEqual(movement.kind, { deposit: {} });
    assert.equal(movement.amount.toString(), (10n * SOL).toString());

    const borrowed = await market.borrow(user, market.usdc, 500n * USDC);
    const [borrow] = eventsNamed(borrowed.logs, "tokenMovement");
    assert.deepEqual(borrow?.kind, { borrow: {} });
    // init health after: 1,250 × 0.80 − 500 × 1.05 = $475.
    assert.equal(borrow?.initHealthAfter.toString(), "475000000");
    assert.equal(market.chain.tokenBalance(user.tokens[0]!), 500n * USDC);

    // Slot order: SOL (bank 1) was opened first, then USDC (bank 0).
    assert.deepEqual(await positionsOf(market, user), [
      { bankIndex: 1, kind: PositionKind.Deposit },
      { bankIndex: 0, kind: PositionKind.Borrow },
    ]);

    const health = await market.health(user);
    assert.equal(health.init, 475_000_000n); // 1,000 − 525
    assert.equal(health.maint, 615_000_000n); // 1,125 − 510
    assert.equal(health.liquidatable, false);
    assert.deepEqual(health.positions, [
      { bankIndex: 1, isLiability: false, native: 10n * SOL, value: 1_250_000_000n, init: 1_000_000_000n, maint: 1_125_000_000n },
      { bankIndex: 0, isLiability: true, native: 500n * USDC, value: 500_000_000n, init: -525_000_000n, maint: -510_000_000n },
    ]);
  });

  it("decodes an over-borrow as InitHealthNegative, at exactly the health boundary, changing nothing", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    const user = await market.user([0n, 10n * SOL, 0n]);
    await market.deposit(user, market.sol, 10n * SOL);

    // 952.380952 USDC × 1.05 rounds up to exactly $1,000 of init-weighted debt: init health 0.
    const failure = await expectRejected(() => market.snapshot(user), () => market.borrow(user, market.usdc, 952_380_953n), "InitHealthNegative");
    assert.match(failure.message, /InitHealthNegative \(\d+\): Init health would be negative/);
    assert.ok(failure.logs.some((l) => l.includes("Error Code: InitHealthNegative")));
    // The same error, from the logs alone and from the structured error alone.
    assert.equal(decodeError(undefined, failure.logs)?.name, "InitHealthNegative");
    const structured = { InstructionError: [0, { Custom: errorCode("InitHealthNegative") }] };
    assert.equal(decodeError(structured)?.name, "InitHealthNegative");

    await market.borrow(user, market.usdc, 952_380_952n);
    assert.equal((await market.health(user)).init, 0n);
    await expectRejected(() => market.snapshot(user), () => market.borrow(user, market.usdc, 1n), "InitHealthNegative");
  });

  it("shows bad input as named errors", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    const user = await market.user([100n * USDC, 10n * SOL, 0n]);
    await market.deposit(user, market.sol, 10n * SOL);
    await expectRejected(() => market.snapshot(user), () => market.deposit(user, market.usdc, 0n), "ZeroAmount");
    await expectRejected(() => market.snapshot(user), () => market.deposit(user, market.usdc, 101n * USDC), "InsufficientTokenBalance");
    await expectRejected(() => market.snapshot(user), () => market.withdraw(user, market.sol, 10n * SOL + 1n), "InsufficientDeposit");
    await expectRejected(() => market.snapshot(user), () => market.borrow(user, market.sol, 1n), "BorrowAgainstOwnDeposit");
    await expectRejected(() => market.snapshot(user), () => market.repay(user, market.usdc, 1n), "NoBorrow");

    // A stale oracle fails the health view by name.
    market.chain.setUnixTimestamp(market.now() + 61n);
    await expectMarginError(() => market.health(user), "OracleStale");

    // Anchor's own constraint errors are named too (here: another user's account).
    const other = await market.user([0n, 0n, 0n]);
    const instruction = await market.client.depositIx({
      account: user.account,
      owner: other.keypair.publicKey,
      bank: market.sol.address,
      userToken: other.tokens[1]!,
      amount: 1n,
    });
    const failure = await market.send(other, instruction).then(
      () => assert.fail("deposit into another user's account succeeded"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof TransactionFailedError);
    assert.equal(failure.decoded?.name, "NotAccountOwner");
  });
});

describe("health accounts", () => {
  async function setup() {
    const market = await Market.create();
    await market.withLiquidity();
    const user = await market.user([100n * USDC, 10n * SOL, 0n]);
    await market.deposit(user, market.usdc, 100n * USDC);
    await market.deposit(user, market.sol, 10n * SOL);
    return { market, user };
  }

  function transfer(market: Market, user: User, bank: BankRef) {
    return { group: market.group, account: user.account, owner: user.keypair.publicKey, bank, userToken: user.tokens[bank.bankIndex]! };
  }

  it("borrow: lists the slot the borrow opens (the current positions are one pair short)", async () => {
    const { market, user } = await setup();
    const lookup = bankLookup(market.banks());
    const current = healthAccountMetas(await market.client.marginAccount(user.account), lookup);
    assert.equal(current.length, 4);
    await expectRejected(
      () => market.snapshot(user),
      async () => market.send(user, await borrowIx(transfer(market, user, market.btc), 100_000n, current)),
      "HealthAccountsMissing",
    );

    const instruction = await market.client.borrowIx({
      account: user.account,
      owner: user.keypair.publicKey,
      bank: market.btc.address,
      userToken: user.tokens[2]!,
      amount: 100_000n,
    });
    const remaining = instruction.keys.slice(8).map((k) => [k.pubkey.toBase58(), k.isWritable, k.isSigner]);
    assert.deepEqual(remaining, [
      [market.usdc.address.toBase58(), false, false],
      [market.usdc.oracle.toBase58(), false, false],
      [market.sol.address.toBase58(), false, false],
      [market.sol.oracle.toBase58(), false, false],
      [market.btc.address.toBase58(), false, false],
      [market.btc.oracle.toBase58(), false, false],
    ]);
    await market.send(user, instruction);
    assert.equal(market.chain.tokenBalance(user.tokens[2]!), 100_000n);
  });

  it("withdraw: leaves out the slot a full withdrawal closes (the current positions are one pair too many)", async () => {
    const { market, user } = await setup();
    await market.borrow(user, market.btc, 100_000n);
    const lookup = bankLookup(market.banks());
    const current = healthAccountMetas(await market.client.marginAccount(user.account), lookup);
    await expectRejected(
      () => market.snapshot(user),
      async () => market.send(user, await withdrawIx(transfer(market, user, market.usdc), 100n * USDC, current)),
      "HealthAccountsExtra",
    );
    // A partial withdrawal keeps the slot and needs every pair.
    await market.withdraw(user, market.usdc, 40n * USDC);
    await market.withdraw(user, market.usdc, 60n * USDC);
    assert.deepEqual(await positionsOf(market, user), [
      { bankIndex: 1, kind: PositionKind.Deposit },
      { bankIndex: 2, kind: PositionKind.Borrow },
    ]);
    assert.equal(market.chain.tokenBalance(user.tokens[0]!), 100n * USDC);

    // The freed slot 0 is reused by the next new bank, so the order is slot order, not bank order.
    await market.deposit(user, market.usdc, 1n * USDC);
    assert.deepEqual(
      (await market.health(user)).positions.map((p) => p.bankIndex),
      [0, 1, 2],
    );
    await market.repay(user, market.btc, 100_000n);
    await market.withdraw(user, market.sol, 10n * SOL);
    assert.deepEqual(await positionsOf(market, user), [{ bankIndex: 0, kind: PositionKind.Deposit }]);
  });
});

describe("liquidation", () => {
  it("liquidates an account after a price drop and reports it through the Liquidation event", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    const borrower = await market.user([0n, 10n * SOL, 0n]);
    await market.deposit(borrower, market.sol, 10n * SOL);
    await market.borrow(borrower, market.usdc, 900n * USDC);
    const liquidator = await market.user([0n, 0n, 1n * BTC]);
    await market.deposit(liquidator, market.btc, 1n * BTC);

    // Healthy: maint 1,125 − 918 = $207.
    assert.equal((await market.health(borrower)).maint, 207_000_000n);
    await expectRejected(
      () => market.snapshot(borrower),
      () => market.liquidate(liquidator, borrower, market.usdc, market.sol, 100n * USDC),
      "NotLiquidatable",
    );

    // SOL to $62.50: maint = 625 × 0.9 − 918 = −$355.50.
    await market.setPrice(market.sol, { price: 625_000n, conf: 0n, exponent: -4, publishTime: market.now() });
    const before = await market.health(borrower);
    assert.equal(before.maint, -355_500_000n);
    assert.equal(before.liquidatable, true);

    // The liquidator's health accounts must include the two slots the liquidation opens.
    const current = healthAccountMetas(await market.client.marginAccount(liquidator.account), bankLookup(market.banks()));
    await expectMarginError(
      async () =>
        market.send(
          liquidator,
          await liquidateIx({
            group: market.group,
            liquidator: liquidator.account,
            owner: liquidator.keypair.publicKey,
            liquidatee: borrower.account,
            liabBank: market.usdc.address,
            assetBank: market.sol.address,
            maxLiabAmount: 100n * USDC,
            liquidateeHealth: healthAccountMetas(await market.client.marginAccount(borrower.account), bankLookup(market.banks())),
            liquidatorHealth: current,
          }),
        ),
      "HealthAccountsMissing",
    );

    const insuranceBefore = (await market.client.bank(market.sol.address)).insuranceNative;
    const sent = await market.liquidate(liquidator, borrower, market.usdc, market.sol, 100n * USDC);
    const events = eventsNamed(sent.logs, "liquidation");
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.ok(event.liquidator.equals(liquidator.account));
    assert.ok(event.liquidatee.equals(borrower.account));
    assert.ok(event.liabBank.equals(market.usdc.address));
    assert.ok(event.assetBank.equals(market.sol.address));
    // 100 USDC of debt; collateral at $62.50 (0.0625 micro-USD per lamport, exact in Q64.64):
    // 100 × 1.05 / 62.5 = 1.68 SOL to the liquidator, 100 × 0.01 / 62.5 = 0.016 SOL to insurance.
    assert.equal(event.liabAmount.toString(), (100n * USDC).toString());
    assert.equal(event.assetToLiquidator.toString(), "1680000000");
    assert.equal(event.assetToInsurance.toString(), "16000000");
    assert.equal(event.maintHealthBefore.toString(), before.maint.toString(), "the event and the view agree");
    assert.equal(event.stillBeingLiquidated, true);
    assert.equal(event.bankrupt, false);

    // The accounts moved by exactly what the event says.
    const after = await market.health(borrower);
    assert.equal(after.maint.toString(), event.maintHealthAfter.toString());
    assert.deepEqual(
      after.positions.map((p) => [p.bankIndex, p.native]),
      [
        [1, 10n * SOL - 1_696_000_000n],
        [0, 800n * USDC],
      ],
    );
    const liquidatorHealth = await market.health(liquidator);
    assert.deepEqual(
      liquidatorHealth.positions.map((p) => [p.bankIndex, p.isLiability, p.native]),
      [
        [2, false, 1n * BTC],
        [0, true, 100n * USDC],
        [1, false, 1_680_000_000n],
      ],
    );
    assert.equal(liquidatorHealth.init.toString(), event.liquidatorInitHealthAfter.toString());
    assert.equal((await market.client.bank(market.sol.address)).insuranceNative - insuranceBefore, 16_000_000n);
    assert.equal((await market.client.marginAccount(borrower.account)).beingLiquidated, true);
  });
});
