#!/usr/bin/env bash
# Builds tools/oracle-writer (a test-only SBF program: it owns a test market's oracle accounts on
# a local validator and overwrites them, so that tests move prices on a real validator) into
# target/deploy/oracle_writer.so, with the same upstream SBF toolchain as scripts/build-sbf.sh.
source "$(dirname "$0")/common.sh"
ensure_host_toolchain
tools/sbf-upstream-toolchain/setup.sh
(cd tools/oracle-writer && cargo +sbf-upstream build -Z json-target-spec \
  -Z build-std=core -Z build-std-features= --release \
  --target "$ROOT/tools/sbf-upstream-toolchain/bpfel-solana.json")
mkdir -p target/deploy
cp tools/oracle-writer/target/bpfel-solana/release/liboracle_writer.so target/deploy/oracle_writer.so
echo "built target/deploy/oracle_writer.so ($(wc -c < target/deploy/oracle_writer.so) bytes)" >&2
