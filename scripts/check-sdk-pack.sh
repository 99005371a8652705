#!/usr/bin/env bash
# The SDK as a dapp gets it: `npm pack`s app/sdk (expects dist/ built: scripts/test-ts.sh does
# it), installs the tarball into a fresh project with the SDK's peers (@solana/web3.js,
# @anchor-lang/core) and TypeScript — offline, from a lock file written from the SDK's own
# package-lock.json, so npm ci takes everything from the npm cache the SDK's install filled —
# then type-checks an import of both entries (app/sdk/test/pack/consumer.ts, strict, as ESM
# and as CJS) and loads both builds in Node: ESM and CJS resolve to the project's one copy of
# web3.js (`PROGRAM_ID instanceof PublicKey`). A few seconds.
source "$(dirname "$0")/common.sh"

SDK="$ROOT/app/sdk"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project"

step "npm pack app/sdk; a fresh project installs the tarball (offline) and type-checks an import"
tarball=$(cd "$SDK" && npm pack --silent --pack-destination "$work/project")
files=$(tar tzf "$work/project/$tarball")
for expected in package/dist/index.mjs package/dist/index.js package/dist/index.d.mts package/dist/index.d.ts package/dist/deploy.mjs package/dist/deploy.js package/dist/deploy.d.mts package/dist/deploy.d.ts; do
  grep -qx "$expected" <<<"$files" || { echo "error: $tarball has no $expected" >&2; exit 1; }
done
if grep -E 'tsbuildinfo|/src/|/test/' <<<"$files"; then echo "error: $tarball ships the above" >&2; exit 1; fi
if grep -lE 'from "node:|require\("node:|from "(fs|path|os)"|require\("(fs|path|os)"\)' "$SDK"/dist/index.mjs "$SDK"/dist/index.js "$SDK"/dist/chunk-*; then
  echo "error: Node-only imports in the main entry's build (above)" >&2
  exit 1
fi
node "$SDK/tools/pack-check-lock.mjs" "$SDK" "$work/project/$tarball" "$work/project"
# The same import as an ES module (index.ts: the `import` condition, .d.mts) and as CommonJS
# (index.cts: the `require` condition, .d.ts).
cp "$SDK/test/pack/consumer.ts" "$work/project/index.ts"
cp "$SDK/test/pack/consumer.ts" "$work/project/index.cts"
cat >"$work/project/tsconfig.json" <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "nodenext", "moduleResolution": "nodenext", "strict": true, "noEmit": true, "skipLibCheck": true, "types": ["node"] }, "files": ["index.ts", "index.cts"] }
JSON
cd "$work/project"
if ! npm ci --offline --no-audit --no-fund --ignore-scripts --loglevel=error; then
  # The npm cache no longer holds what app/sdk's install put there (e.g. cleaned since).
  echo "note: not all in the npm cache; installing with --prefer-offline" >&2
  npm ci --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error
fi
npx --no-install tsc -p tsconfig.json
# Without syntax detection (Node >= 20.19 guesses ESM in a .js file), as older Nodes load it.
detect=()
if node --no-experimental-detect-module -e 0 2>/dev/null; then detect=(--no-experimental-detect-module); fi
node "${detect[@]}" --input-type=module -e '
  const { PublicKey } = await import("@solana/web3.js");
  const esm = await import("@cross-margin/sdk");
  const deploy = await import("@cross-margin/sdk/deploy");
  if (!(esm.PROGRAM_ID instanceof PublicKey)) throw new Error("ESM build: a second copy of web3.js");
  if (typeof deploy.deployFromConfig !== "function") throw new Error("no deployFromConfig in /deploy");
  if ("deployFromConfig" in esm) throw new Error("the main entry exports the deploy tooling");'
node -e '
  const { PublicKey } = require("@solana/web3.js");
  const cjs = require("@cross-margin/sdk");
  if (!(cjs.PROGRAM_ID instanceof PublicKey)) throw new Error("CJS build: a second copy of web3.js");
  if (typeof require("@cross-margin/sdk/deploy").parseDeployConfig !== "function") throw new Error("no CJS /deploy");'
echo "pack check: $tarball ($(du -k "$tarball" | cut -f1) kB) installs, type-checks and loads (ESM and CJS)"
