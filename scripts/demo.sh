#!/usr/bin/env bash
# The project's main job, on an in-process chain (LiteSVM) running the real program:
#   1. a seeded market (borrowers, and SOL-PERP traders against its pool), SOL crashes, the
#      reference keeper liquidates; a summary of the liquidations, their compute units,
#      insurance and bad debt, and the perp market's open interest and pool PnL;
#   2. the stress lab runs the bundled crash-30pct scenario (with and without the liquidation
#      feedback loop) and writes its report to reports/crash-30pct/.
# Arguments go to the stress lab (e.g. `--accounts 10000 --steps 200`, or another scenario with
# `SCENARIO=scenarios/whale-unwind.toml`).
source "$(dirname "$0")/common.sh"

ensure_host_toolchain
scripts/build-sbf.sh
step "building the CLI (profile sim: optimised; the first build takes a few minutes)"
cargo build -q --locked --profile sim -p cross-margin-cli
step "the keeper on the embedded chain: seeded market, SOL -30%"
target/sim/cross-margin demo
scenario=${SCENARIO:-scenarios/crash-30pct.toml}
name=$(basename "$scenario" .toml)
step "the stress lab: $scenario"
target/sim/cross-margin simulate "$scenario" --out "reports/$name" "$@"
