/**
 * A perp market on the LiteSVM `Market` (support/market.ts), settling in its USDC bank, over a
 * Pyth pull oracle of its own. Its base token has 6 decimals like the quote, so an oracle price
 * of $p is exactly p quote native units per base native unit (Q64.64 `p << 64`) and tests can
 * state every amount by hand.
 *
 * | setting | value |
 * |---|---|
 * | lot | 10,000 base native units (0.01 token) |
 * | taker fee | 10 bps |
 * | impact | 0.1 × skew value / pool, at most 1% |
 * | funding | 0.1 × skew value / pool per day, at most 0.5%; the pool keeps 20% |
 * | base weight init / maint | 0.90 (10×) / 0.95 (20×) |
 * | PnL weight init / maint | 0.5 / 1.0 |
 */
import {
  addPerpMarketIx,
  encodePriceUpdateV2,
  OracleKind,
  perpMarketRef,
  type PerpMarketConfig,
  type PerpMarketRef,
  type PythQuote,
} from "../../src";
import { feedId, quoteDollars, type Market, type User } from "./market";

/** The perp oracle's feed id (apart from the banks' `feedId(bankIndex)`). */
export const PERP_FEED = feedId(1_000);

export function perpConfig(overrides: Partial<PerpMarketConfig> = {}): PerpMarketConfig {
  return {
    oracleKind: OracleKind.PythPull,
    oracleFeedId: PERP_FEED,
    oracleMaxAgeSecs: 60,
    oracleMaxConfBps: 200,
    oracleConfMultiplierBps: 10_000,
    initBaseWeightBps: 9_000,
    maintBaseWeightBps: 9_500,
    initPnlWeightBps: 5_000,
    maintPnlWeightBps: 10_000,
    takerFeeBps: 10,
    impactCoeffBps: 1_000,
    maxImpactBps: 100,
    fundingCoeffBps: 1_000,
    maxFundingBpsPerDay: 50,
    poolFundingShareBps: 2_000,
    liquidationFeeBps: 200,
    insuranceFeeBps: 100,
    poolCoverBps: 1_000,
    baseDecimals: 6,
    baseLotSize: 10_000n,
    maxLongLots: 1_000_000n,
    maxShortLots: 1_000_000n,
    ...overrides,
  };
}

/** Writes the perp market's oracle account (a fully verified `PriceUpdateV2`). */
export function setPerpPrice(market: Market, perp: Pick<PerpMarketRef, "oracle">, quote: PythQuote): void {
  market.chain.setAccount(perp.oracle, market.receiverProgram, encodePriceUpdateV2(PERP_FEED, quote));
}

/** Adds the group's next perp market, its oracle at `dollars` (conf 0), settling in USDC. */
export async function addPerpMarket(market: Market, dollars: bigint, overrides: Partial<PerpMarketConfig> = {}): Promise<PerpMarketRef> {
  const oracle = market.chain.newPubkey();
  setPerpPrice(market, { oracle }, quoteDollars(dollars, 0n, market.now()));
  const { instruction, perpMarket } = await addPerpMarketIx({
    group: market.group,
    admin: market.admin.publicKey,
    payer: market.chain.payer.publicKey,
    marketIndex: (await market.client.group(market.group)).perpMarketCount,
    settleBank: market.usdc.address,
    oracle,
    config: perpConfig(overrides),
  });
  await market.chain.sendTransaction([instruction], market.chain.payer, [market.admin]);
  return perpMarketRef(perpMarket, await market.client.perpMarket(perpMarket));
}

/** The owner's perp accounts of `user`, for the client's perp builders. */
export function perpRequest(user: User, perp: PerpMarketRef) {
  return { account: user.account, owner: user.keypair.publicKey, perpMarket: perp.address };
}

/** An LP holding `amount` USDC (native) in the pool of `perp`, with as much again deposited. */
export async function withPool(market: Market, perp: PerpMarketRef, amount: bigint): Promise<User> {
  const lp = await market.user([2n * amount, 0n, 0n]);
  await market.deposit(lp, market.usdc, 2n * amount);
  await market.send(lp, await market.client.poolDepositIx({ ...perpRequest(lp, perp), amount }));
  return lp;
}
