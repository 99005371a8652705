/** A bank's config as the deploy config file writes it, for the deploy tests (LiteSVM and the
 * CLI over JSON-RPC): a SOL-like pull bank unless `overrides` say otherwise. */
import type { DeployConfigJson } from "../../src";

/** Pyth's SOL/USD feed id. */
export const SOL_FEED = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d";

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
