#!/usr/bin/env bash
# Builds target/deploy/cross_margin.so, setting up whatever it needs.
#
# Route, chosen automatically (override with SBF_ROUTE=platform-tools|upstream):
#   platform-tools  Solana's own tools are installed: `anchor build` if anchor is on PATH,
#                   otherwise `cargo build-sbf`.
#   upstream        Otherwise: pinned nightly + std patch + sbpf-linker, SBPF v3
#                   (tools/sbf-upstream-toolchain).
source "$(dirname "$0")/common.sh"

route=${SBF_ROUTE:-auto}
if [ "$route" = auto ]; then
  if command -v cargo-build-sbf >/dev/null 2>&1; then route=platform-tools; else route=upstream; fi
fi

# The program id is fixed by declare_id!; keep the matching keypair where Anchor looks for it.
mkdir -p target/deploy
cp -p keys/cross_margin-keypair.json target/deploy/cross_margin-keypair.json

case "$route" in
  platform-tools)
    step "building cross_margin with Solana platform-tools"
    if command -v anchor >/dev/null 2>&1; then
      anchor build -p cross_margin
    else
      cargo build-sbf --manifest-path programs/cross_margin/Cargo.toml --sbf-out-dir target/deploy
    fi
    ;;
  upstream)
    ensure_host_toolchain
    tools/sbf-upstream-toolchain/setup.sh
    step "building cross_margin (upstream nightly + sbpf-linker, SBPF v3)"
    (cd programs/cross_margin && cargo +sbf-upstream build \
      -Z json-target-spec -Z build-std=std,panic_abort -Z build-std-features= \
      --release --target "$ROOT/tools/sbf-upstream-toolchain/bpfel-solana.json")
    built=target/bpfel-solana/release/libcross_margin.so
    cmp -s "$built" target/deploy/cross_margin.so || cp "$built" target/deploy/cross_margin.so
    ;;
  *) echo "SBF_ROUTE must be platform-tools or upstream, not '$route'" >&2; exit 2 ;;
esac
echo "built target/deploy/cross_margin.so ($(wc -c < target/deploy/cross_margin.so) bytes, route: $route)" >&2
