/**
 * A frontend's flow against a real `solana-test-validator`, over JSON-RPC only: skipped unless
 * CROSS_MARGIN_RPC_URL is set (scripts/localnet-e2e.sh sets it, after starting the validator with
 * the genesis accounts of tests/localnet/ and running migrations/deploy.ts), so
 * `scripts/test-ts.sh` keeps to LiteSVM.
 *
 * It creates accounts, mints tokens with the localnet mint authority, deposits, borrows, reads
 * health through simulateTransaction, decodes a refused borrow to its named error, opens the
 * positions a SOL crash to $75 will hit (and one it will not), and sets up the keeper's
 * liquidator account with collateral. What it created goes to CROSS_MARGIN_LOCALNET_STATE for
 * the crash, keeper and check steps of the end-to-end script.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import {
  eventsNamed,
  fundInsuranceIx,
  OracleKind,
  PositionKind,
  activePositions,
} from "../src";
import { expectMarginError } from "./support/assert";
import {
  associatedTokenAddress,
  BTC,
  createAssociatedTokenAccountIx,
  LocalnetMarket,
  mintToIx,
  readKeypair,
  requiredEnv,
  rpcUrl,
  SOL,
  tokenBalance,
  USDC,
  usd,
  writeState,
  type BorrowerRecord,
  type User,
} from "./localnet-support";

/**
 * Health figures in micro-USD, to a few micro-dollars: once interest has accrued the banks'
 * indices are no longer exactly 1.0 and share amounts round (toward the protocol).
 */
function assertNear(actual: bigint, expected: bigint, tolerance = 10n): void {
  const off = actual > expected ? actual - expected : expected - actual;
  assert.ok(off <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}

const url = rpcUrl();
const skip = url ? false : "set CROSS_MARGIN_RPC_URL to a validator prepared by scripts/localnet-e2e.sh";

describe("a frontend over a real validator's JSON-RPC", { skip }, () => {
  let market: LocalnetMarket;
  let lender: User;
  const borrowers: Array<{ user: User; expect: BorrowerRecord["expect"]; solLiquidationPrice: number | null }> = [];

  before(async () => {
    market = await LocalnetMarket.load(url!);
  });

  it("finds the group deploy.ts created, its banks, and the genesis oracles", async () => {
    const group = await market.client.group(market.group);
    assert.ok(group.admin.equals(market.admin.publicKey));
    assert.equal(group.bankCount, 3);
    assert.equal(group.liquidationEndBufferBps, 500);
    assert.equal(group.pythReceiverProgram.toBase58(), market.manifest.pythReceiverProgram);
    const expected: Array<[string, number, OracleKind, number]> = [
      ["USDC", 6, OracleKind.PythPull, 1],
      ["SOL", 9, OracleKind.PythPull, 125],
      ["BTC", 8, OracleKind.PythLegacy, 100_000],
    ];
    for (const [name, decimals, kind, price] of expected) {
      const ref = market.banks[name as "USDC"];
      const bank = await market.client.bank(ref.address);
      assert.equal(bank.decimals, decimals, name);
      assert.equal(bank.config.oracleKind, kind, name);
      assert.equal(bank.oracle.toBase58(), market.manifest.oracles[name as "USDC"].address, `${name}: the $${price} genesis oracle`);
      assert.equal(bank.config.oracleMaxAgeSecs, market.manifest.oracleMaxAgeSecs);
      const quote = await market.client.oracleQuote(bank);
      assert.equal(Number(quote.price) * 10 ** quote.exponent, price, name);
      assert.equal(quote.publishTime, BigInt(market.manifest.publishTime));
    }
  });

  it("creates accounts, mints tokens with the mint authority and deposits (a lender)", async () => {
    const funds = { USDC: 1_000_000n * USDC, SOL: 1_000n * SOL, BTC: 10n * BTC };
    const vaultBefore = await tokenBalance(market.chain, market.banks.USDC.vault);
    lender = await market.newUser("lender", funds);
    assert.equal(await tokenBalance(market.chain, lender.tokens.SOL), funds.SOL);
    const sent = await market.deposit(lender, funds);
    const movements = eventsNamed(sent.logs, "tokenMovement");
    assert.deepEqual(
      movements.map((m) => [market.bankName(m.bank), m.amount.toString()]),
      [
        ["USDC", funds.USDC.toString()],
        ["SOL", funds.SOL.toString()],
        ["BTC", funds.BTC.toString()],
      ],
    );
    assert.equal(await tokenBalance(market.chain, lender.tokens.USDC), 0n);
    assert.equal(await tokenBalance(market.chain, market.banks.USDC.vault), vaultBefore + funds.USDC);
    const account = await market.client.marginAccount(lender.account);
    assert.deepEqual(
      activePositions(account).map((p) => p.kind),
      [PositionKind.Deposit, PositionKind.Deposit, PositionKind.Deposit],
    );
  });

  it("borrows and reads health through simulateTransaction; an over-borrow fails as InitHealthNegative", async () => {
    const user = await market.newUser("A: 10 SOL, borrows 500 USDC", { SOL: 10n * SOL });
    await market.deposit(user, { SOL: 10n * SOL });
    // 952.380953 USDC × 1.05 is just over the $1,000 of init-weighted SOL (10 × $125 × 0.80).
    const before = await tokenBalance(market.chain, user.tokens.USDC);
    const failure = await expectMarginError(() => market.borrow(user, "USDC", 952_380_953n), "InitHealthNegative");
    assert.match(failure.message, /InitHealthNegative \(\d+\): Init health would be negative/);
    assert.ok(failure.logs.some((l) => l.includes("Error Code: InitHealthNegative")), "the node's preflight logs come back");
    assert.equal(await tokenBalance(market.chain, user.tokens.USDC), before);

    const borrowed = await market.borrow(user, "USDC", 500n * USDC);
    const [movement] = eventsNamed(borrowed.logs, "tokenMovement");
    assert.deepEqual(movement?.kind, { borrow: {} });
    assertNear(BigInt(movement?.initHealthAfter.toString() ?? "0"), 475_000_000n); // 1,250 × 0.80 − 500 × 1.05
    assert.ok(borrowed.computeUnits !== null && borrowed.computeUnits > 0);
    assert.equal(await tokenBalance(market.chain, user.tokens.USDC), 500n * USDC);

    const health = await market.health(user.account);
    assertNear(health.init, 475_000_000n);
    assertNear(health.maint, 615_000_000n); // 1,125 − 510
    assert.equal(health.liquidatable, false);
    assert.deepEqual(
      health.positions.map((p) => [p.bankIndex, p.isLiability]),
      [
        [1, false],
        [0, true],
      ],
    );
    assertNear(health.positions[0]!.native, 10n * SOL, 2n);
    assertNear(health.positions[1]!.native, 500n * USDC, 2n);
    const estimate = await market.client.liquidationPrice(user.account, market.banks.SOL.address, market.admin.publicKey);
    // p' = 125 × 510 / 1,125 = $56.67: a fall to $75 leaves this account alone.
    assert.ok(Math.abs(estimate.liquidationPrice! - 56.6667) < 0.001, String(estimate.liquidationPrice));
    borrowers.push({ user, expect: "untouched", solLiquidationPrice: estimate.liquidationPrice });
  });

  it("opens the positions a SOL crash to $75 will hit, and one it helps", async () => {
    // Each is healthy now; the estimate says where SOL makes it liquidatable.
    const plans: Array<{ label: string; funds: { USDC?: bigint; SOL?: bigint; BTC?: bigint }; borrow: ["USDC" | "SOL", bigint]; expect: BorrowerRecord["expect"] }> = [
      // maint at $75: 675 − 714 = −$39; the collateral covers the debt: liquidated to the end target.
      { label: "B: 10 SOL, borrows 700 USDC", funds: { SOL: 10n * SOL }, borrow: ["USDC", 700n * USDC], expect: "liquidated" },
      // Collateral at $75 ($750) is less than the debt plus fees: liquidated to nothing, written off.
      { label: "C: 10 SOL, borrows 900 USDC", funds: { SOL: 10n * SOL }, borrow: ["USDC", 900n * USDC], expect: "written-off" },
      // Two collaterals: maint at $75: 920 + 675 − 1,632 = −$37.
      { label: "D: 0.01 BTC + 10 SOL, borrows 1,600 USDC", funds: { BTC: BTC / 100n, SOL: 10n * SOL }, borrow: ["USDC", 1_600n * USDC], expect: "liquidated" },
      // Borrows SOL against USDC: a SOL crash makes it healthier.
      { label: "E: 2,000 USDC, borrows 10 SOL", funds: { USDC: 2_000n * USDC }, borrow: ["SOL", 10n * SOL], expect: "untouched" },
    ];
    const users = await Promise.all(plans.map((plan) => market.newUser(plan.label, plan.funds)));
    await Promise.all(users.map((user, i) => market.deposit(user, plans[i]!.funds)));
    await Promise.all(users.map((user, i) => market.borrow(user, plans[i]!.borrow[0], plans[i]!.borrow[1])));
    for (const [i, user] of users.entries()) {
      const plan = plans[i]!;
      const health = await market.health(user.account);
      assert.ok(health.init >= 0n && !health.liquidatable, `${plan.label}: healthy before the crash`);
      const estimate = await market.client.liquidationPrice(user.account, market.banks.SOL.address, market.admin.publicKey);
      const price = estimate.liquidationPrice;
      if (plan.expect === "untouched") assert.ok(price === null || price < 75 || estimate.side === "borrow", `${plan.label}: ${price}`);
      else assert.ok(price !== null && price > 75 && price < 125, `${plan.label}: liquidatable below $${price}`);
      console.log(`${plan.label}: init ${usd(health.init)}, maint ${usd(health.maint)}, SOL liquidation price ${price === null ? "none" : `$${price.toFixed(2)}`} (${estimate.side})`);
      borrowers.push({ user, expect: plan.expect, solLiquidationPrice: price });
    }
  });

  it("funds the USDC insurance fund as the admin (a write-off draws on it first)", async () => {
    const insuranceBefore = (await market.client.bank(market.banks.USDC.address)).insuranceNative;
    const source = associatedTokenAddress(market.admin.publicKey, market.banks.USDC.mint);
    await market.chain.sendTransaction(
      [
        createAssociatedTokenAccountIx(market.admin.publicKey, market.admin.publicKey, market.banks.USDC.mint),
        mintToIx(market.banks.USDC.mint, source, market.mintAuthority.publicKey, 50n * USDC),
      ],
      market.admin,
      [market.mintAuthority],
    );
    const instruction = await fundInsuranceIx({ group: market.group, admin: market.admin.publicKey, bank: market.banks.USDC, source, amount: 50n * USDC });
    const sent = await market.chain.sendTransaction([instruction], market.admin);
    const [funded] = eventsNamed(sent.logs, "insuranceFunded");
    assert.equal(funded?.amount.toString(), (50n * USDC).toString());
    assert.equal((await market.client.bank(market.banks.USDC.address)).insuranceNative, insuranceBefore + 50n * USDC);
  });

  it("sets up the keeper's liquidator account with collateral", async () => {
    const keeper = readKeypair(requiredEnv("CROSS_MARGIN_KEEPER_KEYPAIR"));
    const user = await market.newUser("keeper", { USDC: 100_000n * USDC }, keeper, 10_000_000_000n);
    await market.deposit(user, { USDC: 100_000n * USDC });
    const health = await market.health(user.account);
    assertNear(health.init, 95_000_000_000n); // 100,000 × 0.95
    writeState({
      rpcUrl: url!,
      group: market.group.toBase58(),
      admin: market.admin.publicKey.toBase58(),
      keeper: { owner: keeper.publicKey.toBase58(), account: user.account.toBase58() },
      lender: lender.account.toBase58(),
      borrowers: borrowers.map(({ user: b, expect, solLiquidationPrice }) => ({
        label: b.label,
        owner: b.keypair.publicKey.toBase58(),
        account: b.account.toBase58(),
        expect,
        solLiquidationPrice,
      })),
    });
  });
});
