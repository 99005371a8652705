/**
 * Insurance and bankruptcy through the SDK: the admin funds a bank's insurance, a liquidation
 * exhausts an account's collateral, and `resolve_bankruptcy` writes the rest of its debt off,
 * seen through the `insuranceFunded` and `bankruptcyResolved` events.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { activePositions, closeAccountIx, eventsNamed, fundInsuranceIx } from "../src";
import { expectMarginError, expectRejected } from "./support/assert";
import { Market } from "./support/market";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;

describe("insurance and bankruptcy", () => {
  it("funds insurance, and writes a bankrupt account's debt off against it", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    const borrower = await market.user([0n, 10n * SOL, 0n]);
    await market.deposit(borrower, market.sol, 10n * SOL);
    await market.borrow(borrower, market.usdc, 900n * USDC);
    const liquidator = await market.user([0n, 0n, 100_000_000n]);
    await market.deposit(liquidator, market.btc, 100_000_000n);

    // A healthy account is not bankrupt.
    await expectRejected(
      () => market.snapshot(borrower),
      async () => market.send(borrower, await market.client.resolveBankruptcyIx(borrower.account, market.usdc.address)),
      "NotBankrupt",
    );

    // The admin funds USDC's insurance with 1,000 USDC.
    const source = market.chain.createTokenAccount(market.usdc.mint, market.admin.publicKey, 1_000n * USDC);
    const fund = await fundInsuranceIx({ group: market.group, admin: market.admin.publicKey, bank: market.usdc, source, amount: 1_000n * USDC });
    const funded = eventsNamed((await market.chain.sendTransaction([fund], market.admin)).logs, "insuranceFunded")[0];
    assert.equal(funded?.insuranceAfter.toString(), (1_000n * USDC).toString());
    assert.equal((await market.client.bank(market.usdc.address)).insuranceNative, 1_000n * USDC);
    assert.equal(market.chain.tokenBalance(source), 0n);

    // SOL to $62.50: one liquidation takes all 10 SOL and leaves debt without collateral.
    await market.setPrice(market.sol, { price: 625_000n, conf: 0n, exponent: -4, publishTime: market.now() });
    const liquidated = eventsNamed((await market.liquidate(liquidator, borrower, market.usdc, market.sol, 1n << 63n)).logs, "liquidation")[0];
    assert.equal(liquidated?.bankrupt, true);
    const account = await market.client.marginAccount(borrower.account);
    assert.equal(account.bankrupt, true);
    assert.deepEqual(activePositions(account).map((p) => p.bankIndex), [0], "only the USDC debt is left");
    const debt = 900n * USDC - BigInt(liquidated!.liabAmount.toString());

    // A bankrupt account can no longer borrow or withdraw.
    await expectMarginError(() => market.borrow(borrower, market.btc, 1n), "AccountBankrupt");

    const resolved = await market.send(borrower, await market.client.resolveBankruptcyIx(borrower.account, market.usdc.address));
    const event = eventsNamed(resolved.logs, "bankruptcyResolved")[0];
    assert.ok(event);
    assert.equal(event.debt.toString(), debt.toString());
    assert.equal(event.fromInsurance.toString(), debt.toString(), "the insurance covers it all");
    assert.equal(event.socialized.toString(), "0");
    assert.equal(event.stillBankrupt, false);
    const bank = await market.client.bank(market.usdc.address);
    assert.equal(bank.insuranceNative, 1_000n * USDC - debt);
    assert.equal(bank.depositIndex, 1n << 64n, "depositors lost nothing");
    const after = await market.client.marginAccount(borrower.account);
    assert.equal(activePositions(after).length, 0);
    assert.equal(after.bankrupt, false);

    // An ordinary empty account again: its owner closes it and gets the rent back.
    const lamports = market.chain.account(borrower.keypair.publicKey)!.lamports;
    const rent = market.chain.account(borrower.account)!.lamports;
    const closed = await market.send(borrower, await closeAccountIx(borrower.account, borrower.keypair.publicKey));
    assert.equal(eventsNamed(closed.logs, "accountClosed").length, 1);
    assert.equal(market.chain.account(borrower.account), null);
    assert.equal(market.chain.account(borrower.keypair.publicKey)!.lamports, lamports + rent - 5_000n, "rent back, minus the fee");
  });
});
