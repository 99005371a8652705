#!/usr/bin/env bash
# The project's main job: build the program, start an in-process chain (LiteSVM) running it,
# and show what the protocol does and what each step costs in compute units.
source "$(dirname "$0")/common.sh"

ensure_host_toolchain
scripts/build-sbf.sh
step "running the demo on the embedded chain"
cargo run -q --locked -p cross-margin-cli -- demo "$@"
