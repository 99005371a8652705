#!/usr/bin/env bash
# The `cargo` that `scripts/mutants.sh --slow` gives cargo-mutants (through $CARGO): in
# cargo-mutants' copy of the tree, with the mutant applied, the build phase (`cargo test
# --no-run`) first rebuilds the program's .so into the copy's target/deploy, where the LiteSVM
# tests load it from; a mutant whose .so does not build is then unviable, like one whose tests
# do not. Every other call goes straight to cargo.
set -euo pipefail
if [[ "${1:-}" == test && " $* " == *" --no-run "* ]]; then
  # The SBF build takes its flags from .cargo/config.toml; no cap-lints override from outside.
  env -u CARGO_ENCODED_RUSTFLAGS -u RUSTFLAGS "$PWD/scripts/build-sbf.sh" >&2
fi
exec "${CROSS_MARGIN_REAL_CARGO:-cargo}" "$@"
