#!/usr/bin/env bash
# A real local validator (solana-test-validator from scripts/install-localnet.sh) running our program.
#
#   scripts/localnet.sh start [--genesis] [--reset]   start in the background and wait until healthy;
#                                                    --genesis loads target/deploy/cross_margin.so at
#                                                    genesis as an upgradeable program (authority:
#                                                    the wallet); without it, use `deploy`. A fresh
#                                                    ledger also gets the localnet genesis accounts
#                                                    (tests/localnet/accounts: mints and Pyth prices
#                                                    for migrations/config.localnet-genesis.json)
#   scripts/localnet.sh deploy                       airdrop to the wallet, `anchor program deploy`
#                                                    the .so with keys/cross_margin-keypair.json
#   scripts/localnet.sh create-group [--group-num N] send create_group, read the Group back, print CU
#   scripts/localnet.sh status                       pid, health, version, slot, program account
#   scripts/localnet.sh stop                         stop the validator this script started
#   scripts/localnet.sh smoke [--genesis]            fresh ledger: start, deploy (or genesis),
#                                                    create_group, stop
#
# Clients: http://127.0.0.1:$LOCALNET_RPC_PORT (default 8899; pubsub on the next port). RPC, pubsub
# and faucet ($LOCALNET_FAUCET_PORT, 9900) listen on 0.0.0.0 whatever --bind-address says (gossip
# does use 127.0.0.1:8000), so run this on trusted machines only.
# State: ledger $LOCALNET_LEDGER (default .anchor/localnet-ledger, gitignored; validator.log inside
# is the validator's log), pid file and stdout next to it; the ledger survives `stop` (use --reset).
# Wallet: $ANCHOR_WALLET (default ~/.config/solana/id.json), created when missing before the
# validator starts, which then makes it the genesis mint (500M SOL); `deploy` tops it up from the
# faucet when it is short (another validator, a wallet made later).
# Does not build: run scripts/build-sbf.sh and scripts/install-localnet.sh first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PORT=${LOCALNET_RPC_PORT:-8899}
FAUCET_PORT=${LOCALNET_FAUCET_PORT:-9900}
LEDGER=${LOCALNET_LEDGER:-$ROOT/.anchor/localnet-ledger}
PIDFILE="$LEDGER.pid"
OUTFILE="$LEDGER.out"
export LOCALNET_URL="http://127.0.0.1:$PORT"
export ANCHOR_WALLET=${ANCHOR_WALLET:-$HOME/.config/solana/id.json}
SO="$ROOT/target/deploy/cross_margin.so"
PROGRAM_KEYPAIR="$ROOT/keys/cross_margin-keypair.json"
PROGRAM_ID=$(sed -n 's/^cross_margin *= *"\(.*\)"/\1/p' Anchor.toml | head -1)
TOOLS_BIN=$("$ROOT/scripts/install-localnet.sh" --print-path)
export PATH="$TOOLS_BIN:$PATH"
CLIENT_DIR="$ROOT/scripts/localnet"

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_tool() { command -v "$1" >/dev/null || die "$1 not found; run scripts/install-localnet.sh"; }
need_so() { [[ -f "$SO" ]] || die "$SO is missing; run scripts/build-sbf.sh"; }

# npm ci for the client, skipped when package-lock.json has not changed since the last install.
need_client() {
  local stamp="$CLIENT_DIR/node_modules/.lock-installed"
  if [[ ! -f "$stamp" ]] || ! cmp -s "$CLIENT_DIR/package-lock.json" "$stamp"; then
    step "npm ci (scripts/localnet)"
    (cd "$CLIENT_DIR" && npm ci --no-audit --no-fund --silent)
    cp "$CLIENT_DIR/package-lock.json" "$stamp"
  fi
}
client() { need_client; node "$CLIENT_DIR/client.mjs" "$@"; }

rpc() {
  curl -s --max-time 2 -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}" "$LOCALNET_URL"
}
healthy() { rpc getHealth 2>/dev/null | grep -q '"result":"ok"'; }
our_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null && grep -q solana-test-validator "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

cmd_start() {
  local genesis=0 reset=0
  for a in "$@"; do
    case $a in
      --genesis) genesis=1 ;;
      --reset) reset=1 ;;
      *) die "start: unknown option $a" ;;
    esac
  done
  need_tool solana-test-validator
  if pid=$(our_pid); then
    echo "already running (pid $pid) at $LOCALNET_URL"
    return 0
  fi
  healthy && die "something else already answers at $LOCALNET_URL (anchor test? another validator?)"
  local args=(--ledger "$LEDGER" --bind-address 127.0.0.1 --rpc-port "$PORT" --faucet-port "$FAUCET_PORT" --quiet)
  ((reset)) && args+=(--reset)
  # Genesis accounts only reach a new ledger (solana-test-validator ignores them on a restart).
  args+=(--account-dir "$ROOT/tests/localnet/accounts")
  # Create the wallet first: solana-test-validator makes ~/.config/solana/id.json, when it exists,
  # the genesis mint (500M SOL), so the default wallet starts funded.
  client wallet "$ANCHOR_WALLET" >/dev/null
  if ((genesis)); then
    need_so
    args+=(--upgradeable-program "$PROGRAM_ID" "$SO" "$ANCHOR_WALLET")
  fi
  mkdir -p "$(dirname "$LEDGER")"
  step "solana-test-validator ${args[*]}"
  local t0=$SECONDS
  setsid solana-test-validator "${args[@]}" >"$OUTFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    healthy && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$OUTFILE" >&2; die "validator exited; see $LEDGER/validator.log"; }
    sleep 0.5
  done
  healthy || die "validator not healthy after 60 s; see $LEDGER/validator.log"
  echo "started (pid $(cat "$PIDFILE")) at $LOCALNET_URL in $((SECONDS - t0)) s; ledger $LEDGER"
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    echo "not running (no live pid in $PIDFILE)"
    rm -f "$PIDFILE"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$PIDFILE"
  echo "stopped (pid $pid)"
}

cmd_status() {
  local pid=""
  pid=$(our_pid) || true
  echo "pid:     ${pid:-none (from $PIDFILE)}"
  echo "url:     $LOCALNET_URL"
  if ! healthy; then
    echo "health:  no answer"
    [[ -n "$pid" ]] && return 0 || return 1
  fi
  echo "health:  ok"
  echo "version: $(rpc getVersion | sed -n 's/.*"solana-core":"\([^"]*\)".*/\1/p')"
  echo "slot:    $(rpc getSlot '[{"commitment":"processed"}]' | sed -n 's/.*"result":\([0-9]*\).*/\1/p')"
  local acc
  acc=$(rpc getAccountInfo "[\"$PROGRAM_ID\",{\"commitment\":\"processed\",\"encoding\":\"base64\",\"dataSlice\":{\"offset\":0,\"length\":0}}]")
  if grep -q '"executable":true' <<<"$acc"; then
    echo "program: $PROGRAM_ID deployed ($(sed -n 's/.*"owner":"\([^"]*\)".*/\1/p' <<<"$acc"))"
  else
    echo "program: $PROGRAM_ID not deployed"
  fi
}

cmd_deploy() {
  need_tool anchor
  need_so
  healthy || die "no validator at $LOCALNET_URL; run scripts/localnet.sh start"
  step "wallet $ANCHOR_WALLET"
  client wallet "$ANCHOR_WALLET" --airdrop 100
  local size
  size=$(stat -c %s "$SO")
  step "anchor program deploy $SO ($size bytes)"
  local t0=$EPOCHREALTIME
  # Room to grow: a first deploy sizes the program account to the .so exactly otherwise, and a
  # later, larger build could not be deployed over it without extending the account first.
  anchor program deploy "$SO" --program-keypair "$PROGRAM_KEYPAIR" --no-idl --max-len $((size * 2)) \
    --provider.cluster "$LOCALNET_URL" --provider.wallet "$ANCHOR_WALLET"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "deploy took %.1f s\n", b - a }'
}

cmd_smoke() {
  local genesis=0
  [[ "${1:-}" == "--genesis" ]] && genesis=1
  cmd_stop >/dev/null
  trap cmd_stop EXIT
  if ((genesis)); then
    cmd_start --reset --genesis
    client wallet "$ANCHOR_WALLET" --airdrop 100
  else
    cmd_start --reset
    cmd_deploy
  fi
  step "create_group"
  client create-group
  cmd_status
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  deploy) cmd_deploy ;;
  create-group) shift; client create-group "$@" ;;
  smoke) shift; cmd_smoke "$@" ;;
  *) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
