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
export * from "./deploy";
export * from "./deploy-perps";

// Anchor types a caller of the SDK may need (e.g. the deploy hook's provider).
export type { AnchorProvider, Wallet } from "@anchor-lang/core";
// web3.js classes a script needs alongside the SDK (so that it resolves them from the SDK's
// own dependencies, e.g. `migrations/deploy.ts`).
export { Connection, Keypair, PublicKey } from "@solana/web3.js";
