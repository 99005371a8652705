#!/usr/bin/env bash
# The project's test command (README, and what CI runs): builds the program, checks that the
# committed IDL matches it, runs every test (native unit tests and LiteSVM integration tests on
# the real .so), and prints the CU table.
source "$(dirname "$0")/common.sh"

ensure_host_toolchain
scripts/build-sbf.sh

step "checking formatting"
cargo fmt --all --check

step "checking the committed IDL (app/idl) against the program"
cargo run -q -p xtask -- idl --check

step "running all tests"
log=$(mktemp)
e2e_log=$(mktemp)
trap 'rm -f "$log" "$e2e_log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

step "TypeScript client: strict tsc build and its tests on the real .so (LiteSVM)"
scripts/test-ts.sh 2>&1 | tee -a "$log"

scripts/localnet-e2e.sh --if-installed 2>&1 | tee "$e2e_log"
if grep -q '^\*\*\* SKIPPED' "$e2e_log"; then
  localnet="SKIPPED, no solana-test-validator (scripts/install-localnet.sh installs it); so was the keeper's JSON-RPC test"
else
  localnet="passed"
fi
step "CU per instruction (SBF build, LiteSVM)"
cargo test -q --locked -p cross-margin-tests --test cu_table -- --nocapture 2>&1 | grep -E '^(\||CU table)'

# One closing line for the whole run, summed over every Rust test binary and the TS suites.
awk '/^test result:/ { p += $4; f += $6 } /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
echo "localnet end to end: $localnet"
