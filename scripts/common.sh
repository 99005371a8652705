# Sourced by the scripts in this folder.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

# Installs the host toolchain pinned in rust-toolchain.toml (tests, IDL, tooling), if missing.
ensure_host_toolchain() {
  local channel
  channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
  if ! rustup run "$channel" rustc --version >/dev/null 2>&1; then
    step "installing Rust $channel (rust-toolchain.toml)"
    rustup toolchain install "$channel" --no-self-update --profile minimal -c rustfmt -c clippy >&2
  fi
}
