/**
 * The SDK's slot predictions (`accountAfter`, with banks accrued by `accrueInterest`) against the
 * program: a long pseudo-random sequence of deposits, withdrawals, borrows and repayments, with
 * interest accruing between them, where after every successful instruction the account and the
 * bank's indices on chain must equal the prediction exactly, share for share.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  accountAfter,
  accrueInterest,
  borrowNative,
  clusterUnixTimestamp,
  depositNative,
  PositionKind,
  TransactionFailedError,
  type BankRef,
  type Movement,
} from "../src";
import { Market } from "./support/market";

/** mulberry32: a small deterministic PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("slot predictions agree with the program", () => {
  it("over 80 random instructions with interest accruing in between", async () => {
    const market = await Market.create();
    await market.withLiquidity();
    // Borrowers who put every bank to work, so that indices move away from 1.0.
    const whale = await market.user([0n, 0n, 5_000_000_000n]);
    await market.deposit(whale, market.btc, 5_000_000_000n); // 50 BTC
    await market.borrow(whale, market.usdc, 600_000_000_000n);
    await market.borrow(whale, market.sol, 5_000_000_000_000n);
    const whale2 = await market.user([3_000_000_000_000n, 0n, 0n]);
    await market.deposit(whale2, market.usdc, 3_000_000_000_000n);
    await market.borrow(whale2, market.btc, 2_000_000_000n);
    await market.warp(30n * 86_400n);

    const user = await market.user([1_000_000_000_000n, 10_000_000_000_000n, 1_000_000_000n]);
    const random = prng(20_260_1129);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const fraction = (amount: bigint): bigint => (amount * BigInt(Math.floor(random() * 1000) + 1)) / 1000n;
    const tally = { ok: 0, failed: 0, closed: 0, opened: 0 };

    for (let step = 0; step < 80; step++) {
      if (random() < 0.3) await market.warp(BigInt(Math.floor(random() * 5 * 86_400)));
      const bank: BankRef = pick(market.banks());
      const now = await clusterUnixTimestamp(market.chain);
      const accrued = accrueInterest(await market.client.bank(bank.address), now);
      const account = await market.client.marginAccount(user.account);
      const deposit = depositNative(account, accrued);
      const debt = borrowNative(account, accrued);
      const wallet = market.chain.tokenBalance(user.tokens[bank.bankIndex]!);

      let movement: Movement;
      let amount: bigint;
      if (deposit > 0n && random() < 0.5) {
        movement = "withdraw";
        amount = random() < 0.4 ? deposit : fraction(deposit); // all of it closes the slot
      } else if (debt > 0n && random() < 0.6) {
        movement = "repay";
        amount = random() < 0.5 ? debt : fraction(debt);
        if (wallet < amount) market.chain.mintTo(user.tokens[bank.bankIndex]!, amount - wallet);
      } else if (deposit === 0n && random() < 0.5) {
        movement = "borrow";
        amount = bank === market.btc ? 10_000n + BigInt(Math.floor(random() * 200_000)) : fraction(bank === market.usdc ? 2_000_000_000n : 20_000_000_000n);
      } else {
        movement = "deposit";
        amount = fraction(wallet / 10n) + 1n;
      }

      const predicted = accountAfter(account, accrued, movement, amount);
      const request = { account: user.account, owner: user.keypair.publicKey, bank: bank.address, userToken: user.tokens[bank.bankIndex]!, amount };
      const instruction =
        movement === "deposit"
          ? await market.client.depositIx(request)
          : movement === "withdraw"
            ? await market.client.withdrawIx(request)
            : movement === "borrow"
              ? await market.client.borrowIx(request)
              : await market.client.repayIx(request);
      const before = market.snapshot(user);
      try {
        await market.send(user, instruction);
      } catch (error) {
        // Refusals are fine (health, own deposit, dust), but must be named and change nothing.
        assert.ok(error instanceof TransactionFailedError && error.decoded?.origin === "program", `step ${step}: ${String(error)}`);
        assert.notEqual(error.decoded?.name.startsWith("Health"), true, `step ${step}: health accounts wrong: ${error.message}`);
        assert.deepEqual(market.snapshot(user), before);
        tally.failed += 1;
        continue;
      }
      tally.ok += 1;
      const actual = await market.client.marginAccount(user.account);
      assert.deepEqual(actual.positions, predicted.positions, `step ${step}: ${movement} ${amount} in bank ${bank.bankIndex}`);
      const onChain = await market.client.bank(bank.address);
      assert.equal(onChain.depositIndex, accrued.depositIndex, `step ${step}: deposit index`);
      assert.equal(onChain.borrowIndex, accrued.borrowIndex, `step ${step}: borrow index`);
      const active = (a: typeof account) => a.positions.filter((p) => p.kind !== PositionKind.Empty).length;
      if (active(actual) < active(account)) tally.closed += 1;
      if (active(actual) > active(account)) tally.opened += 1;
    }
    assert.ok(tally.ok >= 50, `only ${tally.ok} instructions succeeded`);
    assert.ok(tally.closed >= 5 && tally.opened >= 5, `slots opened ${tally.opened}, closed ${tally.closed}`);
    assert.notEqual((await market.client.bank(market.usdc.address)).depositIndex, 1n << 64n, "interest moved the indices");
  });
});
