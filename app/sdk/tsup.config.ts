import { defineConfig } from "tsup";

// The published build: ESM (`.mjs`, `.d.mts`) and CJS (`.js`, `.d.ts`; the package is not
// "type": "module") for the main entry and `/deploy`, with bundled declarations, in a flat dist/. The IDL is inlined. `Buffer` is imported from the `buffer` package (Node's
// builtin under Node, the npm package in a browser bundle) instead of assumed global.
export default defineConfig({
  entry: { index: "src/index.ts", deploy: "src/deploy-entry.ts" },
  format: ["esm", "cjs"],
  dts: { compilerOptions: { noEmit: false, incremental: false, composite: false } },
  splitting: true,
  sourcemap: false,
  clean: true,
  target: "es2022",
  platform: "neutral",
  external: ["@solana/web3.js", "@anchor-lang/core", "bn.js", "buffer"],
  inject: ["src/buffer-shim.ts"],
  tsconfig: "tsconfig.json",
});
