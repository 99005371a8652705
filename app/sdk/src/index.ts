/**
 * `@cross-margin/sdk`: a TypeScript client for the `cross_margin` program.
 */
export * from "./idl";
export * from "./pda";
export * from "./fixed";
export * from "./accounts";
export * from "./positions";
export * from "./interest";
export * from "./instructions";
export * from "./perp-instructions";
export * from "./prices";
export * from "./perp";
export * from "./perp-liquidation";
export * from "./chain";
export * from "./errors";
export * from "./events";
export * from "./health";
export * from "./pending";
export * from "./liquidation";
export * from "./pyth";
export * from "./client";
export * from "./wallet";
export * from "./transaction";
export * from "./units";

