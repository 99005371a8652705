#!/usr/bin/env bash
# Regenerates docs/stress/: the report of every bundled scenario (scenarios/*.toml), two parameter
# sweeps, and the 10,000-account, 200-step scale run's summary. Every figure in docs/STRESS.md
# comes from this script.
source "$(dirname "$0")/common.sh"

ensure_host_toolchain
scripts/build-sbf.sh
step "building the stress lab (profile sim)"
cargo build -q --locked --profile sim -p cross-margin-cli
lab=target/sim/cross-margin
out=docs/stress
mkdir -p "$out"

for scenario in scenarios/*.toml; do
  name=$(basename "$scenario" .toml)
  step "scenario $name"
  mkdir -p "$out/$name"
  started=$(date +%s.%N)
  "$lab" simulate "$scenario" --out "$out/$name" | tee "$out/$name/summary.txt"
  echo "wall time $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }") s" >&2
done

step "scenario oracle-pump without the defences"
mkdir -p "$out/oracle-pump-no-defences"
"$lab" simulate scenarios/oracle-pump.toml --no-defences --out "$out/oracle-pump-no-defences" \
  | tee "$out/oracle-pump-no-defences/summary.txt"

step "sweep: whale-unwind, MID's size-aware weight threshold"
mkdir -p "$out/sweep-mid-scale-start" "$out/sweep-sol-maint-weight"
"$lab" simulate scenarios/whale-unwind.toml --out "$out/sweep-mid-scale-start" \
  --sweep MID.deposit_weight_scale_start_usd=0,16000000,8000000,6000000,4000000 \
  | tee "$out/sweep-mid-scale-start/summary.txt"
step "sweep: crash-30pct, SOL's maint asset weight"
"$lab" simulate scenarios/crash-30pct.toml --out "$out/sweep-sol-maint-weight" \
  --sweep SOL.maint_asset=8000,8500,9000,9300 \
  | tee "$out/sweep-sol-maint-weight/summary.txt"

step "scale: crash-30pct with 10,000 accounts and 200 steps"
scale=$(mktemp -d)
started=$(date +%s.%N)
"$lab" simulate scenarios/crash-30pct.toml --accounts 10000 --steps 200 --out "$scale" \
  | tee "$out/scale-10k-200.txt"
echo "wall time $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }") s on $(nproc) cores (load average before: $(cut -d" " -f1 /proc/loadavg))" | tee -a "$out/scale-10k-200.txt"
rm -rf "$scale"
