#!/usr/bin/env bash
# The TypeScript client's checks: installs app/sdk's npm dependencies (npm ci, from the committed
# package-lock.json), type-checks the SDK, its tests and migrations/deploy.ts with tsc (strict),
# builds the published package (tsup: ESM + CJS + types in dist/), runs the TS tests, which load
# target/deploy/cross_margin.so into LiteSVM, and checks the `npm pack` tarball in a fresh project
# (scripts/check-sdk-pack.sh).
# Needs Node >= 20.18 and npm; expects the .so to exist (scripts/test.sh builds it first).
# Idempotent: the install and the type-check are skipped when their inputs have not changed.
source "$(dirname "$0")/common.sh"

SDK="$ROOT/app/sdk"
CACHE="$SDK/node_modules/.cache/cross-margin"
SO="${CROSS_MARGIN_SO:-$ROOT/target/deploy/cross_margin.so}"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "error: node and npm are required (Node >= 20.18)" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)'; then
  echo "error: Node >= 20.18 is required (found $(node --version))" >&2
  exit 1
fi
if [[ ! -f "$SO" ]]; then
  echo "error: $SO is missing; build the program first (scripts/build-sbf.sh)" >&2
  exit 1
fi

fingerprint() { # sha256 over the given files' contents and names
  sha256sum "$@" | sha256sum | cut -d' ' -f1
}

# 1. Dependencies, exactly as locked. npm ci wipes node_modules, so it only runs when the lock
#    file or Node's major version changed since the last install.
install_key="$(fingerprint "$SDK/package-lock.json")-node$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$(cat "$CACHE/install" 2>/dev/null)" != "$install_key" ]]; then
  step "installing app/sdk dependencies (npm ci)"
  (cd "$SDK" && npm ci --no-audit --no-fund --loglevel=error)
  mkdir -p "$CACHE"
  echo "$install_key" >"$CACHE/install"
fi

# 2. Type-check (src, tests and migrations; strict, no output) and build (tsup: src -> dist).
mapfile -t inputs < <(find "$SDK/src" "$SDK/test" "$ROOT/migrations" "$ROOT/app/idl" -type f -name '*.ts' -o -type f -name '*.json' | grep -v node_modules | sort)
build_key="$(fingerprint "${inputs[@]}" "$SDK"/tsconfig*.json "$SDK/tsup.config.ts" "$SDK/package.json" "$SDK/package-lock.json")"
if [[ "$(cat "$CACHE/build" 2>/dev/null)" != "$build_key" || ! -f "$SDK/dist/index.js" ]]; then
  step "type-checking (tsc, strict) and building (tsup) app/sdk"
  # tsconfig.test.json covers src too (tsconfig.json is its base: src alone, for editors and tsup).
  # dist/ from scratch: an older build's leftovers (a .tsbuildinfo) must not reach the package.
  (cd "$SDK" && rm -rf dist && npx --no-install tsc -p tsconfig.test.json && npx --no-install tsup --silent)
  echo "$build_key" >"$CACHE/build"
else
  step "app/sdk unchanged since the last type-check; skipping tsc"
fi

# 3. The tests, against the real .so in LiteSVM.
step "running the TypeScript tests (node:test, LiteSVM)"
(cd "$SDK" && CROSS_MARGIN_SO="$SO" node --import tsx --test --test-concurrency=2 test/*.test.ts)

# 4. The package as a dapp installs it (again only when the build changed).
if [[ "$(cat "$CACHE/pack" 2>/dev/null)" != "$build_key" ]]; then
  scripts/check-sdk-pack.sh
  echo "$build_key" >"$CACHE/pack"
else
  step "app/sdk unchanged since the last pack check; skipping it"
fi
