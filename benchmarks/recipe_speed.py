"""Tokens/s of the three recipes on the embedded model, now, next to the figures their benchmarks last recorded.

    .venv/bin/python benchmarks/recipe_speed.py                 # 16 records of each recipe, the recipes' defaults
    .venv/bin/python benchmarks/recipe_speed.py -n 8 --recipes tinystories

"Before" is `completion_tokens_per_second` from benchmarks/results/recipe_<name>.json (the 50-record runs, with the
date, threads and machine load their notes give). "After" runs `generate()` on `recipe:<name>` with the user's
defaults (embedded backend, every core, `n_parallel` 8) for `-n` records, each recipe in a fresh process, and counts
the completion tokens over the whole run's wall time (model load, every record, checkpoint, card). Only speed is
compared: the record counts differ, and the quality figures stay in the recipe benchmarks. Run it alone on an idle
machine. Writes benchmarks/results/recipe_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llm_throughput import in_fresh_process, write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = ("tinystories", "math_dialogues", "python_exercises")


def run_recipe(name: str, records: int) -> dict:
    from perpetuum.pipeline import generate

    with tempfile.TemporaryDirectory(prefix=f"perpetuum-speed-{name}-") as folder:
        started = time.perf_counter()
        result = generate(f"recipe:{name}", records, Path(folder) / "out", progress=False, cache=False)  # timed
        seconds = time.perf_counter() - started
    tokens = result.card["tokens"]
    return {
        "records_requested": records,
        "records_generated": result.n_generated,
        "records_kept": len(result.records),
        "completion_tokens": tokens["completion"],
        "prompt_tokens": tokens["prompt"],
        "seconds": seconds,
        "completion_tokens_per_second": tokens["completion"] / seconds,
    }


def before(name: str) -> dict:
    recorded = json.loads((RESULTS / f"recipe_{name}.json").read_text())
    return {
        "completion_tokens_per_second": recorded.get("completion_tokens_per_second"),
        "created_at": recorded.get("created_at"),
        "note": recorded.get("note", ""),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--records", type=int, default=16, help="records of each recipe (default 16)")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--output", type=Path, default=RESULTS / "recipe_speed.json")
    options = parser.parse_args(argv)
    if options.records < 1:
        parser.error("-n must be positive")
    results = {}
    started = time.time()
    for name in options.recipes:
        print(f"recipe:{name}: {options.records} records (load average {os.getloadavg()[0]:.1f})", flush=True)
        results[name] = {"before": before(name), "after": in_fresh_process(run_recipe, name, options.records)}
    print()
    print(f"{'recipe':<18} {'before tok/s':>12} {'after tok/s':>11} {'x':>6} {'records':>8} {'tokens out':>10} "
          f"{'seconds':>8}")  # fmt: skip
    for name, figures in results.items():
        old, new = figures["before"]["completion_tokens_per_second"], figures["after"]
        ratio = new["completion_tokens_per_second"] / old if old else float("nan")
        print(f"{name:<18} {old or float('nan'):>12.1f} {new['completion_tokens_per_second']:>11.1f} {ratio:>5.1f}x "
              f"{new['records_generated']:>8} {new['completion_tokens']:>10} {new['seconds']:>8.1f}")  # fmt: skip
    write_report(options.output, "recipe_speed", started, results, records=options.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
