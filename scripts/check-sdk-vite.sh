#!/usr/bin/env bash
# A fresh Vite app on the packed SDK, as a dapp builds it: `npm pack`s app/sdk (dist/ built by
# scripts/test-ts.sh), installs the tarball with the SDK's peers and Vite into a new project
# (app/sdk/test/pack/vite-app: index.html and an entry that encodes an instruction with the
# IDL coder and signs a v0 transaction with a wallet), type-checks it (tsc, strict), builds it
# for the browser (vite build), loads the build in headless Chromium (it must print `sdk-ok`),
# and states the sizes:
#   - the app's JavaScript (the SDK with web3.js, Anchor and the rest), minified, and gzipped;
#   - the SDK alone (its ESM entry bundled by esbuild with the peers, bn.js and buffer
#     external), minified, and gzipped.
# gzip at level 9. Runs from scripts/test-web.sh, after app/web's install (which puts Vite in
# the npm cache). About 30 s.
source "$(dirname "$0")/common.sh"

SDK="$ROOT/app/sdk"
APP="$SDK/test/pack/vite-app"
work=$(mktemp -d)
server_pid=""
trap '[[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

step "a fresh Vite app installs the packed SDK, type-checks, builds for the browser and runs in Chromium"
tarball=$(cd "$SDK" && npm pack --silent --pack-destination "$work")
cp -r "$APP" "$work/app"
# The peers at the versions app/web uses, Vite and TypeScript likewise (so the npm cache has them).
versions=$(node -p 'const p = require(process.argv[1]); JSON.stringify({ ...p.dependencies, ...p.devDependencies })' "$ROOT/app/web/package.json")
node -e '
  const [versions, tarball, out] = [JSON.parse(process.argv[1]), process.argv[2], process.argv[3]];
  const pick = (...names) => Object.fromEntries(names.map((n) => [n, versions[n]]));
  const pkg = {
    name: "fresh-dapp", private: true, type: "module",
    dependencies: { "@cross-margin/sdk": `file:../${tarball}`, ...pick("@solana/web3.js", "@anchor-lang/core", "buffer") },
    devDependencies: pick("vite", "typescript"),
  };
  require("node:fs").writeFileSync(out, JSON.stringify(pkg, null, 2));' "$versions" "$tarball" "$work/app/package.json"
cd "$work/app"
npm install --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error
npx --no-install tsc -p tsconfig.json
npx --no-install vite build --logLevel error

# Serve the build on loopback and let Chromium run it.
port_file="$work/port"
node -e '
  const http = require("node:http"), fs = require("node:fs"), path = require("node:path");
  const root = path.resolve("dist");
  const types = { ".html": "text/html", ".js": "text/javascript" };
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, "http://x").pathname;
    const file = path.join(root, name === "/" ? "index.html" : path.normalize(name));
    if (!file.startsWith(root) || !fs.existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" }).end(fs.readFileSync(file));
  });
  server.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[1], String(server.address().port)));' "$port_file" &
server_pid=$!
for _ in $(seq 1 50); do [[ -s "$port_file" ]] && break; sleep 0.1; done
browser="$("$ROOT/scripts/install-chromium.sh" --print-path)"
dom=$("$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 --dump-dom "http://127.0.0.1:$(cat "$port_file")/" 2>/dev/null)
result=$(grep -o 'sdk-[a-z]*[^<]*' <<<"$dom" | head -1)
if [[ "$result" != sdk-ok* ]]; then
  echo "error: the built app did not run in Chromium: ${result:-no output}" >&2
  exit 1
fi

kb() { awk -v b="$1" 'BEGIN { printf "%.1f kB", b / 1000 }'; }
app_min=$(cat dist/assets/*.js | wc -c)
app_gz=$(cat dist/assets/*.js | gzip -9 | wc -c)
npx --no-install esbuild node_modules/@cross-margin/sdk/dist/index.mjs --bundle --minify --format=esm \
  --platform=browser --log-level=warning --outfile="$work/sdk.min.js" \
  --external:@solana/web3.js --external:@anchor-lang/core --external:bn.js --external:buffer
sdk_min=$(wc -c <"$work/sdk.min.js")
sdk_gz=$(gzip -9 <"$work/sdk.min.js" | wc -c)
echo "vite app: $tarball builds and runs in Chromium ($result)"
echo "bundle size: the app's JavaScript $(kb "$app_min") minified, $(kb "$app_gz") gzipped; the SDK alone (peers external) $(kb "$sdk_min") minified, $(kb "$sdk_gz") gzipped"
