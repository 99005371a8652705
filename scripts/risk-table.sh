#!/usr/bin/env bash
# The risk committee's table at the top of docs/STRESS.md: for each bundled scenario, a Monte
# Carlo of its current parameters (VaR99 bad debt against the insurance funds) and the
# recommendation for its key parameter (`simulate --recommend`). Outputs go to
# docs/stress/risk/<scenario>/ (monte_carlo.txt, recommend.txt and the reports). Sized to run in
# minutes on a 2-core machine: RISK_ACCOUNTS accounts (default 200) and RISK_SEEDS seeds
# (default 8) per value; the perp scenarios' parameters are not searchable (the sweep sets bank
# parameters only), so they get the Monte Carlo alone. `scripts/risk-table.sh [SCENARIO...]`.
source "$(dirname "$0")/common.sh"

ensure_host_toolchain
cargo build -q --locked --profile sim -p cross-margin-cli
lab=target/sim/cross-margin
accounts=${RISK_ACCOUNTS:-200}
seeds=${RISK_SEEDS:-8}
out=docs/stress/risk

# scenario | key parameter and range searched | resolution. A maint asset weight stops where the
# program refuses the bank: (1 + liquidation and insurance fees) x weight must stay below 1.
rows=(
  "crash-30pct|SOL.maint_asset=8000..9400|200"
  "crash-high-utilization|SOL.maint_asset=8000..9400|200"
  "whale-unwind|MID.deposit_weight_scale_start_usd=0..16000000|4000000"
  "usdc-depeg|USDC.maint_asset=9700..9850|50"
  "bleed-and-spike|SOL.maint_asset=8000..9400|200"
  "oi-collapse|SOL.maint_asset=8000..9400|200"
  "oracle-pump|THIN.init_asset=1000..8000|1000"
  "perp-oi-collapse||"
  "perp-whale||"
)
for row in "${rows[@]}"; do
  IFS='|' read -r name parameter resolution <<<"$row"
  # Arguments, if any, name the scenarios to run.
  if (($# > 0)) && [[ " $* " != *" $name "* ]]; then continue; fi
  dir="$out/$name"
  mkdir -p "$dir"
  step "risk: $name, Monte Carlo of the current parameters ($seeds seeds, $accounts accounts)"
  "$lab" simulate "scenarios/$name.toml" --accounts "$accounts" --seeds "$seeds" --out "$dir/current" \
    | tee "$dir/monte_carlo.txt"
  if [[ -n "$parameter" ]]; then
    step "risk: $name, --recommend $parameter"
    "$lab" simulate "scenarios/$name.toml" --accounts "$accounts" --seeds "$seeds" \
      --recommend "$parameter" --resolution "$resolution" --out "$dir/recommend" | tee "$dir/recommend.txt"
  fi
done
