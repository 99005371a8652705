#!/usr/bin/env python3
"""Per-module table of cargo-mutants runs: reads <dir>/outcomes.json for each directory given
(default mutants.out; several runs over disjoint modules add up) and prints caught, missed, unviable and timed-out mutants per source file, and the score
caught / (caught + missed + timed out): unviable mutants (they do not build) are not counted."""
import json
import sys
from collections import defaultdict

KINDS = {"CaughtMutant": "caught", "MissedMutant": "missed", "Unviable": "unviable",
         "Timeout": "timeout"}
PREFIX = "programs/cross_margin/src/"


def main():
    outcomes = []
    for out in sys.argv[1:] or ["mutants.out"]:
        with open(f"{out}/outcomes.json") as f:
            outcomes += json.load(f)["outcomes"]
    rows = defaultdict(lambda: defaultdict(int))
    seen = set()
    for outcome in outcomes:
        scenario = outcome["scenario"]
        if not isinstance(scenario, dict) or "Mutant" not in scenario:
            continue  # the baseline
        key = json.dumps(scenario["Mutant"], sort_keys=True)
        if key in seen:
            continue  # tested by two of the runs
        seen.add(key)
        module = scenario["Mutant"]["file"].removeprefix(PREFIX)
        rows[module][KINDS.get(outcome["summary"], outcome["summary"])] += 1
    total = defaultdict(int)
    print(f"| module | mutants | caught | missed | unviable | timed out | score |")
    print(f"|---|---:|---:|---:|---:|---:|---:|")
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
