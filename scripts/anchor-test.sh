#!/usr/bin/env bash
# `anchor test` as this project runs it, from a fresh clone, in one command:
#
#   scripts/anchor-test.sh [more `anchor test` options]
#
# - scripts/install-localnet.sh first: the validator and the Anchor CLI (a no-op once installed)
#   and the localnet wallet ~/.config/solana/id.json, created when missing, never overwritten;
# - ANCHOR_TEST_VALIDATOR=legacy: Anchor 1.2 starts surfpool unless told otherwise, and nothing
#   here installs surfpool, so Anchor starts solana-test-validator (agave 4.2.2) instead. It is
#   the environment form of `anchor test --validator legacy`; Anchor.toml has no setting for it;
# - without Solana's platform-tools (no cargo-build-sbf), `anchor build` cannot run: the .so is
#   built by scripts/build-sbf.sh and Anchor gets --skip-build.
# Anchor then starts the validator with the genesis accounts and the program and runs
# [scripts] test from Anchor.toml: the localnet end to end (scripts/localnet-e2e.sh --attach).
# docs/LOCALNET.md has the details and the measured time.
source "$(dirname "$0")/common.sh"

scripts/install-localnet.sh >&2
PATH="$(scripts/install-localnet.sh --print-path):$PATH"
export ANCHOR_TEST_VALIDATOR=legacy
if command -v cargo-build-sbf >/dev/null 2>&1; then
  exec anchor test "$@"
fi
scripts/build-sbf.sh
exec anchor test --skip-build "$@"
