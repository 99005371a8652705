import { fileURLToPath } from "node:url";

import { defineConfig } from "vite";

// In a dapp of your own, `npm install @cross-margin/sdk` (with its peers @solana/web3.js and
// @anchor-lang/core) and drop the alias. Here the page uses the SDK built in this repository
// (app/sdk/dist, by scripts/test-ts.sh or `npm --prefix ../sdk run build`), and `dedupe` makes
// the SDK's imports of its peers resolve to this app's single copy, as a package install does.
export default defineConfig({
  resolve: {
    alias: { "@cross-margin/sdk": fileURLToPath(new URL("../sdk/dist/index.mjs", import.meta.url)) },
    dedupe: ["@solana/web3.js", "@anchor-lang/core", "bn.js", "buffer"],
  },
  build: { target: "es2022", chunkSizeWarningLimit: 2_000 },
  optimizeDeps: { esbuildOptions: { target: "es2022" } },
});
