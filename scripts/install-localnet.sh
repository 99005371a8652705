#!/usr/bin/env bash
# Installs a real local validator and the Anchor CLI from crates.io, for machines that cannot
# download Solana's release binaries (no GitHub):
#
#   solana-test-validator  crate agave-validator $AGAVE_VERSION (default 4.2.2)
#   anchor                 crate anchor-cli      $ANCHOR_VERSION (default 1.2.2)
#
# Why these versions (docs/LOCALNET.md): agave 4.2.2 runs the SBPF v3 ELF that the upstream build
# route emits (agave 3.x rejects it) and still builds from crates.io (4.3.x/4.4.0 do not: rocksdb
# API mismatch). The npm anchor binaries need glibc >= 2.38 and do not run on Debian 12.
#
# Everything goes outside the repo:
#   binaries      $CROSS_MARGIN_TOOLS/bin          (default ~/.cache/cross-margin/tools/bin)
#   build dirs    $CROSS_MARGIN_TOOLS_TARGET/<crate>-<version>   (default ~/.cache/cross-margin/target)
#   logs, timings $CROSS_MARGIN_TOOLS/logs
# The build dirs are kept so that a retry or a neighbouring version reuses what was compiled;
# delete them to reclaim several GB.
#
# Also the localnet wallet ~/.config/solana/id.json that `anchor test` signs with, created when
# missing (cargo run -p xtask -- localnet-wallet), never overwritten.
#
# Idempotent: when the binaries report the wanted versions it only prints where they are.
# A cold run is long; docs/LOCALNET.md has the measured times.
# Usage: scripts/install-localnet.sh [--print-path | --validator-only]
#   --validator-only  only solana-test-validator (most of the cold run's time). Without anchor,
#                     scripts/localnet-e2e.sh loads the program at genesis instead of deploying
#                     it with `anchor program deploy`, and `anchor test` is not available.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

TOOLS=${CROSS_MARGIN_TOOLS:-$HOME/.cache/cross-margin/tools}
TARGET_BASE=${CROSS_MARGIN_TOOLS_TARGET:-$HOME/.cache/cross-margin/target}
AGAVE_VERSION=${AGAVE_VERSION:-4.2.2}
ANCHOR_VERSION=${ANCHOR_VERSION:-1.2.2}
# The host toolchain pinned by the project (rust-toolchain.toml), used explicitly with `+`.
TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml")
BIN="$TOOLS/bin"
LOGS="$TOOLS/logs"

step() { printf '\n==> %s\n' "$*" >&2; }

WITH_ANCHOR=1
case "${1:-}" in
  --print-path) echo "$BIN"; exit 0 ;;
  --validator-only) WITH_ANCHOR=0 ;;
  "") ;;
  *) echo "unknown option: $1 (use --print-path or --validator-only)" >&2; exit 2 ;;
esac

# "<binary> --version" contains the wanted version as a whole word.
has_version() { [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -qw -- "$2"; }

report() {
  echo "solana-test-validator: $BIN/solana-test-validator ($("$BIN/solana-test-validator" --version))"
  if has_version "$BIN/anchor" "$ANCHOR_VERSION"; then
    echo "anchor:                $BIN/anchor ($("$BIN/anchor" --version))"
  else
    echo "anchor:                not installed (run without --validator-only to add it)"
  fi
  echo "add to PATH:           export PATH=\"$BIN:\$PATH\""
}

# The Solana CLI's default wallet, which `anchor test` needs (provider wallet, upgrade authority):
# created for local use when missing, never overwritten (xtask localnet-wallet says which).
ensure_wallet() { (cd "$ROOT" && cargo run -q --locked -p xtask -- localnet-wallet); }

if has_version "$BIN/solana-test-validator" "$AGAVE_VERSION" &&
  { ((!WITH_ANCHOR)) || has_version "$BIN/anchor" "$ANCHOR_VERSION"; }; then
  ensure_wallet
  report
  exit 0
fi

# --- Debian packages ---------------------------------------------------------------------------
# What the two builds really use (checked against the crates' Cargo.lock files and a build that
# had only these): a C/C++ toolchain and make (rocksdb, jemalloc, zstd, lz4, bzip2, the autotools
# build of protobuf-src, vendored OpenSSL), perl (openssl-src's Configure) and libclang for
# bindgen (librocksdb-sys). Not needed: libudev-dev (no hidapi in the validator), protobuf-compiler
# (protoc is built from source), cmake, libssl-dev (OpenSSL is vendored), the clang binary.
APT_PACKAGES=(build-essential perl pkg-config libclang-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Rust toolchain ----------------------------------------------------------------------------
if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  step "installing Rust $TOOLCHAIN"
  rustup toolchain install "$TOOLCHAIN" --no-self-update --profile minimal
fi

mkdir -p "$BIN" "$LOGS" "$TARGET_BASE"
# Run cargo from outside the repo so that its .cargo/config.toml and rust-toolchain.toml play no
# part; the toolchain is chosen explicitly with `+`.
cd "$TOOLS"

# cargo_install <crate> <version> <binary> [extra cargo install args]
cargo_install() {
  local crate=$1 version=$2 binary=$3
  shift 3
  if has_version "$BIN/$binary" "$version"; then
    echo "$binary $version already installed: $BIN/$binary" >&2
    return 0
  fi
  local target="$TARGET_BASE/$crate-$version"
  local timing="$LOGS/$crate-$version.time"
  step "cargo +$TOOLCHAIN install $crate --version $version (build dir $target, timings $timing)"
  local start=$SECONDS
  local timer=()
  [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$timing")
  CARGO_TARGET_DIR="$target" "${timer[@]}" \
    cargo "+$TOOLCHAIN" install "$crate" --version "$version" --locked --root "$TOOLS" "$@"
  local secs=$((SECONDS - start))
  has_version "$BIN/$binary" "$version" || {
    echo "error: $BIN/$binary does not report version $version" >&2
    return 1
  }
  printf '%s %s: %dm%02ds wall, build dir %s, binary %s\n' "$crate" "$version" $((secs / 60)) \
    $((secs % 60)) "$(du -sh "$target" | cut -f1)" "$(du -h "$BIN/$binary" | cut -f1)" \
    | tee -a "$LOGS/summary.txt" >&2
}

cargo_install agave-validator "$AGAVE_VERSION" solana-test-validator --bin solana-test-validator
((WITH_ANCHOR)) && cargo_install anchor-cli "$ANCHOR_VERSION" anchor
ensure_wallet
report
