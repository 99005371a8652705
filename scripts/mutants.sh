#!/usr/bin/env bash
# Mutation testing of the pure risk code (issue 21; docs/SECURITY.md, "Mutation testing"), with
# cargo-mutants (scripts/install-mutants.sh). The modules and the accepted equivalent mutants are
# in .cargo/mutants.toml. Long: not part of scripts/test.sh. Run it under `nice` on a shared
# machine.
#
#   scripts/mutants.sh [-j N] [cargo-mutants options]          fast tier
#   scripts/mutants.sh --slow [-j N] [cargo-mutants options]   slow tier
#
# Fast tier: every mutant of the modules against the program's native unit tests
# (`cargo test -p cross_margin --lib`), in cargo-mutants' scratch copy of the tree. Options pass
# through to cargo-mutants, e.g. `--re '^programs/cross_margin/src/math\.rs'` for one module
# (`--file` adds to the configured modules instead of narrowing them), `--list` to count.
#
# Slow tier: only the mutants the fast tier missed (its missed.txt; every other mutant is
# skipped through cargo-mutants' --iterate), each with the program's .so rebuilt from the
# mutated copy (scripts/mutants-cargo.sh) and the LiteSVM tests of cross-margin-tests run on it.
#
# -j N: N runs at once. The fast tier splits the mutants into N shards (`--shard k/N`), each
# with its own build cache (target/mutants-build, -2, ...; a new one starts as a copy of the
# first): cargo-mutants' own --jobs would share one cache, where two builds of the mutated crate
# overwrite each other's test binary. The slow tier passes -j to cargo-mutants and builds in each
# job's copy of the tree (a cold build per job, then incremental). More jobs than cores is slower.
#
# Output: target/mutants-fast/shard-*/mutants.out, target/mutants-slow/mutants.out, each ending
# with the per-module table (scripts/mutants-report.py).
source "$(dirname "$0")/common.sh"

slow=0
jobs=1
args=()
while (($#)); do
  case "$1" in
    --slow) slow=1 ;;
    -j | --jobs) jobs=$2; shift ;;
    -j* | --jobs=*) jobs=${1#-j}; jobs=${jobs#--jobs=} ;;
    *) args+=("$1") ;;
  esac
  shift
done

scripts/install-mutants.sh
# Called as `cargo-mutants mutants`, not `cargo mutants`: cargo would overwrite $CARGO, which
# the slow tier sets.
mutants=("${CARGO_HOME:-$HOME/.cargo}/bin/cargo-mutants" mutants --package cross_margin --no-shuffle)
fast=target/mutants-fast
cache=$ROOT/target/mutants-build

if [[ $slow == 0 ]]; then
  step "mutation testing, fast tier: cross_margin's unit tests, $jobs shard(s) ($fast)"
  rm -rf "$fast" "$fast"-shard-*.log
  pids=()
  for ((k = 0; k < jobs; k++)); do
    target=$cache
    ((k == 0)) || target=$cache-$((k + 1))
    if [[ ! -d $target && -d $cache/debug ]]; then cp -a "$cache" "$target"; fi
    mkdir -p "$fast/shard-$k"
    shard=()
    ((jobs == 1)) || shard=(--shard "$k/$jobs")
    # --lib for both phases: building the cdylib as well would double every build.
    CARGO_TARGET_DIR=$target "${mutants[@]}" --output "$fast/shard-$k" --cargo-arg=--lib \
      "${shard[@]}" "${args[@]}" > "$fast-shard-$k.log" 2>&1 &
    pids+=($!)
  done
  rc=0
  for pid in "${pids[@]}"; do wait "$pid" || { s=$?; ((s <= rc)) || rc=$s; }; done
  if [[ " ${args[*]} " == *" --list "* ]]; then
    cat "$fast"-shard-*.log
  else
    tail -n 3 "$fast"-shard-*.log >&2
    python3 scripts/mutants-report.py "$fast"/shard-*/mutants.out
  fi
else
  out=target/mutants-slow
  if ! compgen -G "$fast/shard-*/mutants.out/missed.txt" >/dev/null; then
    echo "error: no $fast/shard-*/mutants.out/missed.txt: run the fast tier first" >&2
    exit 2
  fi
  rm -rf "$out"
  mkdir -p "$out/mutants.out"
  cat "$fast"/shard-*/mutants.out/missed.txt > "$out/missed-fast.txt"
  if [[ ! -s $out/missed-fast.txt ]]; then
    echo "the fast tier missed no mutant: nothing for the slow tier" >&2
    exit 0
  fi
  step "mutation testing, slow tier: $(wc -l < "$out/missed-fast.txt") mutants the unit tests missed, against the LiteSVM tests on a rebuilt .so ($out)"
  # What --iterate skips: every mutant but the missed ones.
  "${mutants[@]}" --list "${args[@]}" | grep -vxFf "$out/missed-fast.txt" \
    > "$out/mutants.out/caught.txt" || true
  scripts/build-sbf.sh # the SBF toolchain, once, before the copies
  rc=0
  env -u CARGO_TARGET_DIR CARGO="$ROOT/scripts/mutants-cargo.sh" \
    CROSS_MARGIN_REAL_CARGO="$(command -v cargo)" \
    "${mutants[@]}" --output "$out" --iterate --test-package cross-margin-tests --jobs "$jobs" \
    "${args[@]}" || rc=$?
  python3 scripts/mutants-report.py "$out/mutants.out"
fi
# cargo-mutants: 0 all caught, 2 some missed, 3 some timed out, 4 the baseline failed.
exit "$rc"
