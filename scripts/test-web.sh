#!/usr/bin/env bash
# The web page (app/web) in a real browser: installs Debian's chromium if missing
# (scripts/install-chromium.sh), app/web's npm packages (npm ci, from its package-lock.json),
# type-checks the page and its test (tsc, strict), builds it (vite), and runs the browser test:
# headless Chromium (playwright-core) drives the page against the loopback JSON-RPC endpoint
# backed by LiteSVM running target/deploy/cross_margin.so (app/sdk/test/support/web-fixture.ts),
# and against solana-test-validator when scripts/install-localnet.sh installed it (or
# CROSS_MARGIN_VALIDATOR names one; the oracle writer, target/deploy/oracle_writer.so, moves
# its prices).
# Runs after scripts/test-ts.sh, whose install and build of app/sdk (node_modules, dist/) the
# page and the fixture use; also runs scripts/check-sdk-vite.sh (a fresh Vite app on the packed
# SDK). Idempotent: install and build are skipped when unchanged.
source "$(dirname "$0")/common.sh"

SDK="$ROOT/app/sdk"
WEB="$ROOT/app/web"
CACHE="$WEB/node_modules/.cache/cross-margin"
SO="${CROSS_MARGIN_SO:-$ROOT/target/deploy/cross_margin.so}"

fingerprint() { # sha256 over the given files' contents and names
  sha256sum "$@" | sha256sum | cut -d' ' -f1
}

if [[ ! -f "$SO" ]]; then
  echo "error: $SO is missing; build the program first (scripts/build-sbf.sh)" >&2
  exit 1
fi
if [[ ! -f "$SDK/dist/index.js" || ! -d "$SDK/node_modules" ]]; then
  echo "error: app/sdk is not installed and built; run scripts/test-ts.sh first" >&2
  exit 1
fi

scripts/install-chromium.sh
CROSS_MARGIN_CHROMIUM="$(scripts/install-chromium.sh --print-path)"
export CROSS_MARGIN_CHROMIUM

install_key="$(fingerprint "$WEB/package-lock.json")-node$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$(cat "$CACHE/install" 2>/dev/null)" != "$install_key" ]]; then
  step "installing app/web dependencies (npm ci)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
  mkdir -p "$CACHE"
  echo "$install_key" >"$CACHE/install"
fi

# A fresh Vite app on the packed SDK (Vite is in the npm cache now): builds, runs in Chromium,
# and prints the bundle sizes.
scripts/check-sdk-vite.sh

mapfile -t inputs < <(find "$WEB/src" "$WEB/test" "$SDK/dist" -type f | sort)
build_key="$(fingerprint "${inputs[@]}" "$WEB"/index.html "$WEB"/tsconfig*.json "$WEB/vite.config.mts" "$WEB/package-lock.json" "$SDK/test/support/web-fixture.ts")"
if [[ "$(cat "$CACHE/build" 2>/dev/null)" != "$build_key" || ! -f "$WEB/dist/index.html" ]]; then
  step "type-checking (tsc, strict) and building (vite) app/web"
  (cd "$WEB" && npx --no-install tsc -p tsconfig.json && npx --no-install tsc -p tsconfig.test.json && npx --no-install vite build --logLevel warn)
  echo "$build_key" >"$CACHE/build"
else
  step "app/web unchanged since the last build; skipping tsc and vite"
fi

# The local validator too, when installed (and not left out with CROSS_MARGIN_SKIP_LOCALNET=1):
# the page then runs against LiteSVM's endpoint and against the validator's.
if [[ -z "${CROSS_MARGIN_VALIDATOR:-}" && "${CROSS_MARGIN_SKIP_LOCALNET:-}" != 1 ]]; then
  candidate="$(scripts/install-localnet.sh --print-path)/solana-test-validator"
  [[ -x "$candidate" ]] && CROSS_MARGIN_VALIDATOR="$candidate"
fi
if [[ -n "${CROSS_MARGIN_VALIDATOR:-}" ]]; then
  [[ -f "$ROOT/target/deploy/oracle_writer.so" ]] || scripts/build-oracle-writer.sh
  export CROSS_MARGIN_VALIDATOR
  step "the web page in headless Chromium (playwright-core), against LiteSVM and solana-test-validator over JSON-RPC"
else
  step "the web page in headless Chromium (playwright-core), against LiteSVM over JSON-RPC (no local validator installed)"
fi
cd "$WEB"
CROSS_MARGIN_SO="$SO" node --import tsx --test test/*.test.ts
