#!/usr/bin/env bash
# The protocol end to end on a REAL solana-test-validator, one command:
#
#   scripts/localnet-e2e.sh [--if-installed] [--attach] [--keep]
#
#   1. start solana-test-validator on loopback (fresh ledger; the first free block of ports from
#      18899, so it never takes anchor's 8899) with the genesis accounts of tests/localnet/accounts/
#      (3 SPL mints, 4 Pyth price accounts in their real formats; app/sdk/test/localnet-genesis.ts
#      writes them)
#   2. deploy target/deploy/cross_margin.so for real (`anchor program deploy` with
#      keys/cross_margin-keypair.json); without anchor, load it at genesis (--upgradeable-program)
#   3. migrations/deploy.ts --url with migrations/config.localnet-genesis.json, twice: the second
#      run must send nothing; with anchor installed, a third run through `anchor migrate` too
#   4. the TS localnet test over RPC (app/sdk/test/localnet.test.ts): users, mints, deposits,
#      borrows, health by simulation, InitHealthNegative, the keeper's liquidator account
#   5. crash SOL: the group admin re-pins the SOL bank to the $75 genesis oracle (configure_bank)
#   6. the Rust keeper binary over JSON-RPC: `cross-margin-keeper create-lookup-table`, then
#      `cross-margin-keeper run --config keeper.toml` as a service (the table, metrics on a free
#      loopback port), polling its /metrics until a round finds nothing to do; /health must say
#      200; Ctrl-C (SIGINT) must stop it cleanly
#   7. check the liquidations on chain (events from getSignaturesForAddress + getTransaction, the
#      accounts' end state and health view), and that the keeper's /metrics counted exactly as
#      many landed liquidations and write-offs as the chain holds
#   8. stop the validator (also on failure)
#
# --if-installed  when solana-test-validator is not installed, print SKIPPED and exit 0 (without
#                 it: exit 1). scripts/test.sh uses it.
# --attach        use a validator that is already running (e.g. the one `anchor test` starts,
#                 see Anchor.toml): $CROSS_MARGIN_RPC_URL or $ANCHOR_PROVIDER_URL, wallet
#                 $ANCHOR_WALLET (the group admin; it must hold SOL). Skips steps 1 and 8; step 2
#                 deploys only if the program is missing.
# --keep          keep the validator running at the end (prints how to stop it).
#
# Environment: CROSS_MARGIN_VALIDATOR (a solana-test-validator binary), CROSS_MARGIN_ANCHOR (an
# anchor binary; set it empty to use the genesis fallback), LOCALNET_E2E_RPC_PORT
# (first RPC port to try, default 18899), CROSS_MARGIN_KEEPER_BIN (a built cross-margin-keeper;
# default: cargo build -p cross-margin-keeper), CROSS_MARGIN_SO (default
# target/deploy/cross_margin.so). Work files, logs and the ledger go to .anchor/localnet-e2e/<run>/
# (removed after a passing run unless --keep).
# Needs: the .so (scripts/build-sbf.sh), Node >= 20.18, cargo, curl.
source "$(dirname "$0")/common.sh"

IF_INSTALLED=0
ATTACH=0
KEEP=0
for arg in "$@"; do
  case $arg in
    --if-installed) IF_INSTALLED=1 ;;
    --attach) ATTACH=1 ;;
    --keep) KEEP=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

TOOLS_BIN=$("$ROOT/scripts/install-localnet.sh" --print-path)
# common.sh has put cargo's bin first; the validator and anchor go before it.
export PATH="$TOOLS_BIN:$PATH"
PROGRAM_ID=$(sed -n 's/^cross_margin *= *"\(.*\)"/\1/p' Anchor.toml | head -1)
SDK="$ROOT/app/sdk"
CONFIG="$ROOT/migrations/config.localnet-genesis.json"
ACCOUNTS="$ROOT/tests/localnet/accounts"
SO_SOURCE=${CROSS_MARGIN_SO:-$ROOT/target/deploy/cross_margin.so}

VALIDATOR=${CROSS_MARGIN_VALIDATOR:-$(command -v solana-test-validator || true)}
# CROSS_MARGIN_ANCHOR= (set, empty) forces the no-anchor fallback.
ANCHOR=${CROSS_MARGIN_ANCHOR-$(command -v anchor || true)}

if ((!ATTACH)) && [[ -z "$VALIDATOR" || ! -x "$VALIDATOR" ]]; then
  msg="SKIPPED: localnet end-to-end test (scripts/localnet-e2e.sh): solana-test-validator is not installed. Install it with scripts/install-localnet.sh (long when cold, see docs/LOCALNET.md; then a no-op), then run scripts/localnet-e2e.sh."
  printf '\n*** %s ***\n\n' "$msg" >&2
  ((IF_INSTALLED)) && exit 0
  exit 1
fi

# --- bookkeeping: step headers, timings, cleanup ------------------------------------------------
T_START=$EPOCHREALTIME
STEP_NAME=""
STEP_T0=""
TIMINGS=()
VALIDATOR_PID=""
KEEPER_PID=""
RESULT=FAILED

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, b - a }'; }
# Replaces common.sh's step: timed, and with the time of day.
step() {
  [[ -n "$STEP_NAME" ]] && step_done
  STEP_NAME=$1
  STEP_T0=$EPOCHREALTIME
  printf '\n==> [e2e %s] %s\n' "$(date -u +%H:%M:%S)" "$STEP_NAME" >&2
}
step_done() {
  local took
  took=$(elapsed "$STEP_T0")
  TIMINGS+=("$took|$STEP_NAME")
  printf '    (%s s)\n' "$took" >&2
  STEP_NAME=""
}
say() { printf '    %s\n' "$*" >&2; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

stop_validator() {
  [[ -n "$VALIDATOR_PID" ]] || return 0
  if kill -0 "$VALIDATOR_PID" 2>/dev/null; then
    kill "$VALIDATOR_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$VALIDATOR_PID" 2>/dev/null || break
      sleep 0.25
    done
    kill -0 "$VALIDATOR_PID" 2>/dev/null && kill -9 "$VALIDATOR_PID" 2>/dev/null || true
    wait "$VALIDATOR_PID" 2>/dev/null || true
  fi
  VALIDATOR_PID=""
}

on_exit() {
  local code=$?
  if [[ -n "$KEEPER_PID" ]] && kill -0 "$KEEPER_PID" 2>/dev/null; then
    kill "$KEEPER_PID" 2>/dev/null || true
    wait "$KEEPER_PID" 2>/dev/null || true
  fi
  if [[ -n "$STEP_NAME" ]]; then
    ((code == 0)) || printf '\nFAILED in step: %s\n' "$STEP_NAME" >&2
    step_done
  fi
  if ((code != 0)) && [[ -n "${WORK:-}" && -f "$WORK/ledger/validator.log" ]]; then
    printf '\nvalidator log: %s; its last warnings and errors:\n' "$WORK/ledger/validator.log" >&2
    grep -E ' (WARN|ERROR) ' "$WORK/ledger/validator.log" | grep -v solana_metrics | tail -n 10 >&2 || true
  fi
  if ((KEEP)) && ((code == 0)) && [[ -n "$VALIDATOR_PID" ]]; then
    printf '\nvalidator left running: pid %s at %s (stop it with: kill %s)\n' "$VALIDATOR_PID" "$URL" "$VALIDATOR_PID" >&2
  else
    stop_validator
  fi
  printf '\n---- localnet e2e timings ----\n' >&2
  for t in "${TIMINGS[@]}"; do
    printf '%8s s  %s\n' "${t%%|*}" "${t#*|}" >&2
  done
  printf '%8s s  total (wall)\n' "$(elapsed "$T_START")" >&2
  if ((code == 0)); then
    RESULT=PASSED
    ((KEEP)) || rm -rf "${WORK:?}"
  fi
  printf 'localnet e2e: %s%s\n' "$RESULT" "${WORK:+ (work files: $WORK$( ((code == 0 && !KEEP)) && echo ", removed"))}" >&2
  exit "$code"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# node with tsx, from app/sdk (its node_modules)
sdk() { (cd "$SDK" && node --import tsx "$@"); }

# app/sdk's npm dependencies, as scripts/test-ts.sh installs them (same stamp: npm ci runs only
# when the lock file or Node's major version changed).
ensure_sdk_deps() {
  local cache="$SDK/node_modules/.cache/cross-margin" key
  key="$(sha256sum "$SDK/package-lock.json" | sha256sum | cut -d' ' -f1)-node$(node -p 'process.versions.node.split(".")[0]')"
  if [[ "$(cat "$cache/install" 2>/dev/null)" != "$key" ]]; then
    say "npm ci (app/sdk)"
    (cd "$SDK" && npm ci --no-audit --no-fund --loglevel=error)
    mkdir -p "$cache"
    echo "$key" >"$cache/install"
  fi
}

rpc() {
  curl -s --max-time 5 -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}" "$URL"
}
healthy() { rpc getHealth 2>/dev/null | grep -q '"result":"ok"'; }
program_deployed() {
  rpc getAccountInfo "[\"$PROGRAM_ID\",{\"encoding\":\"base64\",\"dataSlice\":{\"offset\":0,\"length\":0}}]" | grep -q '"executable":true'
}

# A port p with p..p+40 free on loopback (RPC p, pubsub p+1, faucet p+2, gossip p+3, the rest for
# the validator's dynamic ports).
free_port_block() {
  node -e '
    const net = require("net");
    const free = (p) => new Promise((r) => { const s = net.createServer(); s.once("error", () => r(false)); s.listen(p, "127.0.0.1", () => s.close(() => r(true))); });
    (async () => {
      for (let base = Number(process.argv[1]); base < 60000; base += 50) {
        let ok = true;
        for (let p = base; p <= base + 40 && ok; p++) ok = await free(p);
        if (ok) { console.log(base); return; }
      }
      process.exit(1);
    })();' "${LOCALNET_E2E_RPC_PORT:-18899}"
}

# --- 1. validator ---------------------------------------------------------------------------------
[[ -f "$SO_SOURCE" ]] || die "$SO_SOURCE is missing; build it with scripts/build-sbf.sh"
command -v node >/dev/null || die "node is required (>= 20.18)"
# One directory per run, so that two runs (two engineers' test commands) never share files;
# removed when the run passes (unless --keep), kept for a look when it fails.
mkdir -p "$ROOT/.anchor/localnet-e2e"
WORK=$(mktemp -d "$ROOT/.anchor/localnet-e2e/$(date -u +%Y%m%d-%H%M%S)$( ((ATTACH)) && echo -attach)-XXXX")
# A copy: other builds may rewrite target/deploy while this runs.
SO="$WORK/cross_margin.so"
cp "$SO_SOURCE" "$SO"
KEEPER_KEYPAIR="$WORK/keeper.json"
STATE="$WORK/state.json"

if ((ATTACH)); then
  step "1/8 attach to the running validator"
  URL=${CROSS_MARGIN_RPC_URL:-${ANCHOR_PROVIDER_URL:-}}
  [[ -n "$URL" ]] || die "--attach needs CROSS_MARGIN_RPC_URL or ANCHOR_PROVIDER_URL"
  WALLET=${ANCHOR_WALLET:-$HOME/.config/solana/id.json}
  [[ -f "$WALLET" ]] || die "wallet $WALLET not found (ANCHOR_WALLET)"
  healthy || die "no healthy validator at $URL"
  ensure_sdk_deps
  say "validator at $URL ($(rpc getVersion | sed -n 's/.*"solana-core":"\([^"]*\)".*/\1/p')), wallet $WALLET"
  sdk test/localnet-genesis.ts --check >&2 || die "tests/localnet/ is out of date with its generator"
else
  step "1/8 start solana-test-validator (fresh ledger, loopback, genesis accounts)"
  ensure_sdk_deps
  sdk test/localnet-genesis.ts --check >&2 || die "tests/localnet/ is out of date with its generator"
  WALLET="$WORK/wallet.json"
  WALLET_PUBKEY=$(sdk test/localnet-e2e.ts keypair "$WALLET")
  PORT=$(free_port_block) || die "no free block of 41 ports from ${LOCALNET_E2E_RPC_PORT:-18899}"
  URL="http://127.0.0.1:$PORT"
  args=(--ledger "$WORK/ledger" --reset --quiet --bind-address 127.0.0.1
    --rpc-port "$PORT" --faucet-port $((PORT + 2)) --gossip-port $((PORT + 3))
    --dynamic-port-range "$((PORT + 4))-$((PORT + 40))"
    --mint "$WALLET_PUBKEY" --account-dir "$ACCOUNTS")
  if [[ -z "$ANCHOR" ]]; then
    # Fallback: no anchor CLI to deploy with, so the program is loaded at genesis (loader v3;
    # the deprecated loader v2 of --bpf-program is refused by this validator).
    say "no anchor CLI (not installed, or CROSS_MARGIN_ANCHOR is empty): loading the program at genesis (--upgradeable-program) instead of deploying it"
    args+=(--upgradeable-program "$PROGRAM_ID" "$SO" "$WALLET_PUBKEY")
  fi
  say "$VALIDATOR ${args[*]}"
  "$VALIDATOR" "${args[@]}" >"$WORK/validator.out" 2>&1 </dev/null &
  VALIDATOR_PID=$!
  for _ in $(seq 1 240); do
    healthy && break
    kill -0 "$VALIDATOR_PID" 2>/dev/null || { cat "$WORK/validator.out" >&2; die "the validator exited"; }
    sleep 0.25
  done
  healthy || die "the validator is not healthy after 60 s"
  say "pid $VALIDATOR_PID, $URL ($("$VALIDATOR" --version | cut -d' ' -f1-2)), wallet $WALLET_PUBKEY (genesis mint: 500M SOL)"
fi
export ANCHOR_WALLET="$WALLET" CROSS_MARGIN_RPC_URL="$URL" CROSS_MARGIN_DEPLOY_CONFIG="$CONFIG"
export CROSS_MARGIN_KEEPER_KEYPAIR="$KEEPER_KEYPAIR" CROSS_MARGIN_LOCALNET_STATE="$STATE"

# --- 2. program -----------------------------------------------------------------------------------
SIZE=$(stat -c %s "$SO")
if ((ATTACH)) && program_deployed; then
  step "2/8 program: already on the validator"
  say "$PROGRAM_ID is loaded (anchor test loads it at genesis: Anchor.toml [test] upgradeable = true); not redeploying"
elif [[ -n "$ANCHOR" ]]; then
  step "2/8 deploy the program (anchor program deploy)"
  say "$(basename "$SO_SOURCE"): $SIZE bytes, sha256 $(sha256sum "$SO" | cut -c1-16)..."
  # --max-len leaves room for a larger build to be deployed over it later.
  "$ANCHOR" program deploy "$SO" --program-keypair "$ROOT/keys/cross_margin-keypair.json" --no-idl \
    --max-len $((SIZE * 2)) --provider.cluster "$URL" --provider.wallet "$WALLET" 2>&1 | sed 's/^/    /' >&2 \
    || die "anchor program deploy failed"
else
  ((ATTACH)) && die "the program is not on the validator and anchor is not installed to deploy it"
  step "2/8 program: loaded at genesis (fallback: no anchor CLI to deploy with)"
fi
sdk test/localnet-e2e.ts ready 2>&1 | sed 's/^/    /' >&2 || die "the validator is not ready"

# --- 3. deploy.ts, twice --------------------------------------------------------------------------
step "3/8 migrations/deploy.ts --url (group + 3 banks), then again (and via anchor migrate): nothing to send"
# --apply-config-changes on the first run only: on a validator reused from an earlier run it puts
# the SOL bank back on its $125 oracle; on a fresh one it changes nothing.
first=$(sdk "$ROOT/migrations/deploy.ts" --url "$URL" --keypair "$WALLET" --config "$CONFIG" --apply-config-changes 2>&1) \
  || { echo "$first" >&2; die "deploy.ts failed"; }
sed 's/^/    /' <<<"$first" >&2
grep -q "transaction(s) sent" <<<"$first" || die "deploy.ts printed no summary"
second=$(sdk "$ROOT/migrations/deploy.ts" --url "$URL" --keypair "$WALLET" --config "$CONFIG" 2>&1) \
  || { echo "$second" >&2; die "the second deploy.ts run failed"; }
sed 's/^/    /' <<<"$second" >&2
grep -q "^0 transaction(s) sent" <<<"$second" || die "the second deploy.ts run sent transactions"
grep -q "differ" <<<"$second" && die "the second deploy.ts run found differences"
[[ $(grep -c ": unchanged" <<<"$second") -eq 4 ]] || die "expected the group and 3 banks unchanged on the second run"
if [[ -n "$ANCHOR" ]]; then
  # And as Anchor's own hook: `anchor migrate` loads migrations/deploy.js, which runs deploy.ts.
  say "anchor migrate (the same hook through Anchor): nothing to send"
  third=$(cd "$ROOT" && NODE_PATH="$SDK/node_modules" "$ANCHOR" migrate --provider.cluster "$URL" \
    --provider.wallet "$WALLET" 2>&1) || { echo "$third" >&2; die "anchor migrate failed"; }
  sed 's/^/    /' <<<"$third" >&2
  grep -q "^0 transaction(s) sent" <<<"$third" || die "anchor migrate sent transactions"
  grep -q "differ" <<<"$third" && die "anchor migrate found differences"
  [[ $(grep -c ": unchanged" <<<"$third") -eq 4 ]] || die "anchor migrate: expected 4 accounts unchanged"
fi

# --- 4. the TS test over RPC ----------------------------------------------------------------------
step "4/8 TS localnet test over RPC (app/sdk/test/localnet.test.ts)"
sdk test/localnet-e2e.ts keypair "$KEEPER_KEYPAIR" >/dev/null
(cd "$SDK" && node --import tsx --test --test-reporter=spec test/localnet.test.ts) 2>&1 | sed 's/^/    /' >&2 \
  || die "the TS localnet test failed"
[[ -f "$STATE" ]] || die "the TS test left no state in $STATE"
GROUP=$(node -p "require('$STATE').group")
LIQUIDATOR=$(node -p "require('$STATE').keeper.account")

# --- 5. crash -------------------------------------------------------------------------------------
step "5/8 crash SOL: the admin re-pins the SOL bank to the \$75 oracle (configure_bank)"
sdk test/localnet-e2e.ts crash 2>&1 | sed 's/^/    /' >&2 || die "the crash step failed"

# --- 6. keeper ------------------------------------------------------------------------------------
KEEPER_BIN=${CROSS_MARGIN_KEEPER_BIN:-}
if [[ -z "$KEEPER_BIN" ]]; then
  step "6/8 build the keeper (cargo build --locked -p cross-margin-keeper)"
  cargo build --locked -q -p cross-margin-keeper 2>&1 | sed 's/^/    /' >&2 || die "cargo build -p cross-margin-keeper failed"
  KEEPER_BIN="$ROOT/target/debug/cross-margin-keeper"
fi
step "6/8 cross-margin-keeper create-lookup-table (what the keeper needs for accounts with many positions)"
"$KEEPER_BIN" create-lookup-table --rpc-url "$URL" --keypair "$KEEPER_KEYPAIR" --group "$GROUP" \
  --liquidator-account "$LIQUIDATOR" >"$WORK/lookup-table.log" 2>&1 \
  || { cat "$WORK/lookup-table.log" >&2; die "create-lookup-table failed"; }
TABLE=$(tail -n 1 "$WORK/lookup-table.log")
[[ "$TABLE" =~ ^[1-9A-HJ-NP-Za-km-z]{32,44}$ ]] || { cat "$WORK/lookup-table.log" >&2; die "create-lookup-table printed no address"; }
say "lookup table $TABLE ($(grep -c 'extended (chunk' "$WORK/lookup-table.log") extend transaction(s))"

step "6/8 the keeper over JSON-RPC as a service: run --config keeper.toml (metrics on), until a round finds nothing"
METRICS_PORT=$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
METRICS="http://127.0.0.1:$METRICS_PORT"
KEEPER_CONFIG_FILE="$WORK/keeper.toml"
cat >"$KEEPER_CONFIG_FILE" <<TOML
rpc_url = "$URL"
keypair = "$KEEPER_KEYPAIR"
group = "$GROUP"
liquidator_account = "$LIQUIDATOR"
lookup_table = "$TABLE"
interval_secs = 0.5
metrics_addr = "127.0.0.1:$METRICS_PORT"
health_max_age_secs = 30
log_format = "json"
TOML
log="$WORK/keeper.log"
say "$(basename "$KEEPER_BIN") run --config $KEEPER_CONFIG_FILE (metrics at $METRICS)"
"$KEEPER_BIN" run --config "$KEEPER_CONFIG_FILE" >"$log" 2>&1 </dev/null &
KEEPER_PID=$!
metric() { awk -v s="$1" '$1 == s { print $2 }' <<<"$SCRAPE"; }
t0=$EPOCHREALTIME
quiet=0
for _ in $(seq 1 180); do
  sleep 0.5
  kill -0 "$KEEPER_PID" 2>/dev/null || { cat "$log" >&2; die "the keeper exited"; }
  SCRAPE=$(curl -s --max-time 2 "$METRICS/metrics") || continue
  rounds=$(metric keeper_rounds_total)
  landed=$(metric 'keeper_transactions_landed_total{kind="liquidate"}')
  # The gauges are the last finished round's: quiet once a round after the liquidations found
  # nothing to do.
  if [[ -n "$rounds" ]] && ((rounds >= 2 && landed > 0)) && [[ "$(metric keeper_accounts_liquidatable) $(metric keeper_accounts_bankrupt)" == "0 0" ]]; then
    quiet=1
    break
  fi
  ((${rounds:-0} <= 8)) || die "the keeper still found work after 8 rounds"
done
((quiet)) || { tail -n 20 "$log" >&2; die "the keeper did not finish its work in 90 s"; }
say "quiet after $rounds rounds, $(elapsed "$t0") s"
grep '^keeper_' <<<"$SCRAPE" | grep -v ' 0$' | sed 's/^/    metric: /' >&2
health=$(curl -s --max-time 2 -w ' HTTP %{http_code}' "$METRICS/health" | tr -d '\n')
say "/health: $health"
[[ "$health" == ok:*" HTTP 200" ]] || die "/health is not 200 while the keeper runs"
[[ "$(metric keeper_rounds_failed_total)" == 0 ]] || die "a keeper round failed (see $log)"
grep -q '^keeper_transactions_failed_total{' <<<"$SCRAPE" && die "the keeper counted failed transactions (see $log)"
kill -INT "$KEEPER_PID"
for _ in $(seq 1 100); do kill -0 "$KEEPER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$KEEPER_PID" 2>/dev/null && die "the keeper did not stop within 10 s of Ctrl-C"
wait "$KEEPER_PID" || die "the keeper exited non-zero after Ctrl-C (see $log)"
KEEPER_PID=""
report=$(sdk test/localnet-e2e.ts round "$log") || { echo "$report" >&2; die "no round summary in $log"; }
summary=$(tail -n 1 <<<"$report")
say "last round: $summary"
grep -q "warnings=0" <<<"$summary" || { sed '$d' <<<"$report" | sed 's/^/    /' >&2; die "the keeper logged warnings or errors (see $log)"; }
grep -q "liquidatable=0 bankrupt=0" <<<"$summary" || die "the keeper left accounts it did not act on"

# --- 7. check on chain ----------------------------------------------------------------------------
step "7/8 check the liquidations on chain (events from the transactions' logs, end states)"
verified=$(sdk test/localnet-e2e.ts verify 2>&1) || { sed 's/^/    /' <<<"$verified" >&2; die "the on-chain check failed"; }
sed 's/^/    /' <<<"$verified" >&2
on_chain=$(sed -n 's/^ *\([0-9]*\) liquidations, \([0-9]*\) write-offs on chain.*/\1 \2/p' <<<"$verified")
counted="$(metric 'keeper_transactions_landed_total{kind="liquidate"}') $(metric 'keeper_transactions_landed_total{kind="resolve_bankruptcy"}')"
say "liquidations and write-offs: on chain $on_chain, in the keeper's /metrics $counted"
[[ -n "$on_chain" && "$on_chain" == "$counted" ]] || die "the keeper's metrics ($counted) do not match the chain ($on_chain)"

# --- 8. stop --------------------------------------------------------------------------------------
if ((ATTACH)); then
  step "8/8 leave the validator to whoever started it"
elif ((KEEP)); then
  step "8/8 keep the validator running (--keep)"
else
  step "8/8 stop the validator"
  stop_validator
fi
step_done
