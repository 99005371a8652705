#!/usr/bin/env bash
# Sets up the upstream SBF route (see README.md beside this file). Idempotent, and a quick no-op
# when everything is already in place.
#
# Creates the rustup toolchain "$SBF_TOOLCHAIN" (default: sbf-upstream): a hard-linked copy of a
# pinned nightly whose std sources carry sbpf-solana-library.patch. Installs sbpf-linker.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NIGHTLY=${NIGHTLY:-nightly-2026-10-30}            # LLVM 23.1.4
SBPF_LINKER_VERSION=${SBPF_LINKER_VERSION:-0.2.6}
SBF_TOOLCHAIN=${SBF_TOOLCHAIN:-sbf-upstream}
PATCH="$HERE/sbpf-solana-library.patch"
STAMP_KEY="$NIGHTLY $(sha256sum "$PATCH" | cut -c1-16)"
DEST=${SBF_HOME:-$HOME/.cache/sbf-upstream}/$NIGHTLY
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin

linker_ok() { "$CARGO_BIN/sbpf-linker" --version 2>/dev/null | grep -q " $SBPF_LINKER_VERSION\$"; }
toolchain_ok() {
  [ "$(cat "$DEST/.stamp" 2>/dev/null)" = "$STAMP_KEY" ] &&
    [ "$(readlink -f "$(rustup toolchain list -v | awk -v t="$SBF_TOOLCHAIN" '$1==t {print $NF}')")" = "$(readlink -f "$DEST/toolchain")" ]
}

if linker_ok && toolchain_ok; then
  exit 0
fi

if ! command -v patch >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >&2 && apt-get install -y -qq patch >&2
  else
    echo "setup.sh needs the 'patch' tool (Debian/Ubuntu: sudo apt-get install patch)" >&2; exit 1
  fi
fi

rustup toolchain install "$NIGHTLY" --no-self-update --profile minimal -c rust-src -c llvm-tools >&2

if ! linker_ok; then
  # Built with the host toolchain; --locked uses the linker's own tested dependency versions.
  cargo install sbpf-linker --version "$SBPF_LINKER_VERSION" --locked >&2
fi

if [ "$(cat "$DEST/.stamp" 2>/dev/null)" != "$STAMP_KEY" ]; then
  SRC=$(rustc +"$NIGHTLY" --print sysroot)
  rm -rf "$DEST" && mkdir -p "$DEST"
  cp -al "$SRC" "$DEST/toolchain"                  # hard links: cheap, shares the compiler binaries
  LIB="$DEST/toolchain/lib/rustlib/src/rust/library"
  rm -rf "$LIB" && cp -r "$SRC/lib/rustlib/src/rust/library" "$LIB"   # a real copy, to patch
  patch -s -d "$LIB" -p1 < "$PATCH"
  echo "$STAMP_KEY" > "$DEST/.stamp"
fi
rustup toolchain link "$SBF_TOOLCHAIN" "$DEST/toolchain"
echo "toolchain $SBF_TOOLCHAIN ready ($NIGHTLY + std patch, sbpf-linker $SBPF_LINKER_VERSION)" >&2
