#!/usr/bin/env bash
# Builds target/deploy/cross_margin.so, and the test-only programs of tests/programs/*
# (target/deploy/<name>.so, loaded by the LiteSVM tests), setting up whatever it needs.
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
    for dir in tests/programs/*/; do
      cargo build-sbf --manifest-path "$dir/Cargo.toml" --sbf-out-dir target/deploy
    done
    ;;
  upstream)
    ensure_host_toolchain
    tools/sbf-upstream-toolchain/setup.sh
    step "building cross_margin (upstream nightly + sbpf-linker, SBPF v3)"
    # One cargo invocation for every program: they share the std build.
    packages=(-p cross_margin)
    for dir in tests/programs/*/; do packages+=(-p "$(basename "$dir")"); done
    cargo +sbf-upstream build "${packages[@]}" \
      -Z json-target-spec -Z build-std=std,panic_abort -Z build-std-features= \
      --release --target "$ROOT/tools/sbf-upstream-toolchain/bpfel-solana.json"
    for package in "${packages[@]}"; do
      [ "$package" = -p ] && continue
      built=${CARGO_TARGET_DIR:-target}/bpfel-solana/release/lib$package.so
      cmp -s "$built" "target/deploy/$package.so" || cp "$built" "target/deploy/$package.so"
    done
    ;;
  *) echo "SBF_ROUTE must be platform-tools or upstream, not '$route'" >&2; exit 2 ;;
esac
echo "built target/deploy/cross_margin.so ($(wc -c < target/deploy/cross_margin.so) bytes, route: $route) and the test programs: $(cd target/deploy && ls -- *.so | grep -v "^cross_margin.so$" | tr "\n" " ")" >&2
