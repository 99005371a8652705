#!/usr/bin/env python3
"""Per-module table of cargo-mutants runs: caught, missed, unviable and timed-out mutants per
source file, and the score caught / (caught + missed + timed out) (unviable mutants do not build
and are not counted).

    mutants-report.py [--only LIST] DIR...

Reads DIR/outcomes.json for each mutants.out DIR given (default mutants.out). Runs over disjoint
modules add up; a mutant in several runs counts once, with the outcome of the last DIR given (so
a re-run of the missed mutants after new tests goes last). --only LIST keeps the mutants named
in LIST (the output of `cargo mutants --list`: drops those excluded since)."""
import json
import sys
from collections import defaultdict

KINDS = {"CaughtMutant": "caught", "MissedMutant": "missed", "Unviable": "unviable",
         "Timeout": "timeout"}
PREFIX = "programs/cross_margin/src/"


def main():
    args = sys.argv[1:]
    only = None
    if args[:1] == ["--only"]:
        with open(args[1]) as f:
            only = {line.rstrip("\n") for line in f}
        args = args[2:]
    latest = {}
    for out in args or ["mutants.out"]:
        with open(f"{out}/outcomes.json") as f:
            for outcome in json.load(f)["outcomes"]:
                scenario = outcome["scenario"]
                if isinstance(scenario, dict) and "Mutant" in scenario:  # not the baseline
                    latest[scenario["Mutant"]["name"]] = (scenario["Mutant"], outcome["summary"])
    rows = defaultdict(lambda: defaultdict(int))
    for name, (mutant, summary) in latest.items():
        if only is None or name in only:
            rows[mutant["file"].removeprefix(PREFIX)][KINDS.get(summary, summary)] += 1
    total = defaultdict(int)
    print("| module | mutants | caught | missed | unviable | timed out | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for module in sorted(rows) + ["total"]:
        row = total if module == "total" else rows[module]
        if module != "total":
            for kind, n in row.items():
                total[kind] += n
        viable = row["caught"] + row["missed"] + row["timeout"]
        score = f"{100 * row['caught'] / viable:.1f}%" if viable else "-"
        name = "**total**" if module == "total" else f"`{module}`"
        print(f"| {name} | {sum(row.values())} | {row['caught']} | {row['missed']} "
              f"| {row['unviable']} | {row['timeout']} | {score} |")


if __name__ == "__main__":
    main()
