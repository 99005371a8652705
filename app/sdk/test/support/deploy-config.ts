/** Bank and perp market configs as the deploy config file writes them, for the deploy tests
 * (LiteSVM and the CLI over JSON-RPC). */
import type { DeployConfigJson, PerpMarketConfigJson } from "../../src/deploy-entry";

/** Pyth's SOL/USD feed id. */
export const SOL_FEED = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d";

/** A SOL-like pull bank unless `overrides` say otherwise. */
export function bankJson(overrides: Partial<DeployConfigJson["banks"][number]["config"]> = {}): DeployConfigJson["banks"][number]["config"] {
  return {
    oracleKind: "pythPull",
    oracleFeedId: `0x${SOL_FEED}`,
    oracleMaxAgeSecs: 60,
    oracleMaxConfBps: 200,
    oracleConfMultiplierBps: 10_000,
    initAssetWeightBps: 8_000,
    maintAssetWeightBps: 9_000,
    initLiabWeightBps: 12_000,
    maintLiabWeightBps: 11_000,
    liquidationFeeBps: 500,
    insuranceFeeBps: 100,
    optimalUtilizationBps: 8_000,
    minRateBps: 0,
    optimalRateBps: 1_000,
    maxRateBps: 10_000,
    depositLimitNative: "18446744073709551615",
    borrowLimitNative: 1_000_000_000_000,
    depositWeightScaleStartQuote: "0",
    netBorrowLimitPerWindowQuote: "0",
    netBorrowLimitWindowSecs: "0",
    ...overrides,
  };
}

/** A perp market's config as the deploy config file writes it: over the SOL feed (9 decimals,
 * 1 lot = 0.01 SOL), 10× init / 20× maint, unless `overrides` say otherwise. */
export function perpMarketJson(overrides: Partial<PerpMarketConfigJson> = {}): PerpMarketConfigJson {
  return {
    oracleKind: "pythPull",
    oracleFeedId: SOL_FEED,
    oracleMaxAgeSecs: 60,
    oracleMaxConfBps: 200,
    oracleConfMultiplierBps: 10_000,
    initBaseWeightBps: 9_000,
    maintBaseWeightBps: 9_500,
    initPnlWeightBps: 5_000,
    maintPnlWeightBps: 9_000,
    takerFeeBps: 10,
    impactCoeffBps: 1_000,
    maxImpactBps: 100,
    fundingCoeffBps: 1_000,
    maxFundingBpsPerDay: 50,
    poolFundingShareBps: 2_000,
    liquidationFeeBps: 200,
    insuranceFeeBps: 100,
    poolCoverBps: 1_000,
    baseDecimals: 9,
    baseLotSize: "10000000",
    maxLongLots: 1_000_000,
    maxShortLots: "1000000",
    ...overrides,
  };
}
