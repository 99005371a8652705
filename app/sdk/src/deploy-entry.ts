/**
 * `@cross-margin/sdk/deploy`: the deployment tooling (a group, its banks and perp markets from a
 * config file; what `migrations/deploy.ts` runs). Kept out of the main entry, which a frontend
 * bundles.
 */
export * from "./deploy";
export * from "./deploy-perps";

// Anchor types a deploy script may need (e.g. the deploy hook's provider).
export type { AnchorProvider, Wallet } from "@anchor-lang/core";
// web3.js classes a script needs alongside the SDK (so that it resolves them from the SDK's
// own dependencies, e.g. `migrations/deploy.ts`).
export { Connection, Keypair, PublicKey } from "@solana/web3.js";
