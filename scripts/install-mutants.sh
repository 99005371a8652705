#!/usr/bin/env bash
# Installs cargo-mutants (mutation testing of the risk code, scripts/mutants.sh) from crates.io
# at the pinned version, if that version is missing; a no-op once installed.
source "$(dirname "$0")/common.sh"

version=27.1.0
if cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $version"; then
  exit 0
fi
ensure_host_toolchain
step "cargo install cargo-mutants $version (mutation testing)"
cargo install --locked "cargo-mutants@$version" >&2
