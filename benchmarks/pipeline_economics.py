"""Know the price before paying it, measured: estimates against real runs, the request cache on a changed prompt,
and a budget stop with its resume, all on the embedded SmolLM2-135M model.

    .venv/bin/python benchmarks/pipeline_economics.py                 # a, b, c as specified, the defaults
    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/pipeline_economics.py --n-a 16 --pilot 6 --n-b 20 --n-c 10

(a) `estimate(recipe:math_dialogues, n)` from a pilot, then the real run of n records (the pilot's records come
    from the request cache, as they would for a user): estimated against actual tokens (all n records) and wall
    seconds (the n - pilot records the run really made), with the 90 % interval; target: actual inside it and
    error at most 25 %.
(b) A finished run of a three-column spec (story, then a title and a moral of it); the title's prompt changes and
    the spec runs again with the same cache: tokens paid by the re-run against the title column's share of the
    first run; target: at most that share + 5 percentage points.
(c) The same spec under a token budget (70 % of what it takes) that stops it part-way, resumed with a raised budget, against an
    uninterrupted run without the cache: records equal, and the two sessions together paid for as many calls.

Timing figures depend on the machine's load, which is recorded (load average before and after); token figures do
not. Prints a table and writes benchmarks/results/pipeline_economics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from recipe_runs import git_commit, machine

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "pipeline_economics.json"


def fable_spec(title_prompt: str = "Give a short title for this fable:\n{{ story }}") -> dict:
    return {
        "name": "fable_parts",
        "seed": 7,
        "backends": {"default": {"kind": "embedded", "n_parallel": 4}},
        # As if the model were hosted (the embedded one costs nothing): shows dollars in the card and the figures.
        "prices": {"default": {"input_per_million": 0.15, "output_per_million": 0.60}},
        "columns": [
            {"name": "animal", "kind": "sampler", "sampler": "category",
             "values": ["fox", "owl", "bear", "hare", "crow", "mole", "goat", "wren"]},
            {"name": "place", "kind": "sampler", "sampler": "category", "values": ["forest", "river", "hill", "farm"]},
            {"name": "story", "kind": "llm_text", "prompt": "Write a short fable about a {{ animal }} near a {{ place }}.",
             "params": {"max_tokens": 110, "temperature": 0.8}},
            {"name": "title", "kind": "llm_text", "prompt": title_prompt, "params": {"max_tokens": 16}},
            {"name": "moral", "kind": "llm_text", "prompt": "State the moral of this fable in one sentence:\n{{ story }}",
             "params": {"max_tokens": 40}},
        ],
    }


def all_tokens(card: dict) -> dict:
    """Tokens of every record of a run, paid and answered by the cache."""
    saved = card["economics"]["cache"]["saved_tokens"]
    return {"prompt": card["tokens"]["prompt"] + saved["prompt"],
            "completion": card["tokens"]["completion"] + saved["completion"]}


def relative_error(estimated: float, actual: float) -> float:
    return abs(estimated - actual) / actual if actual else float("nan")


def part_a(n: int, pilot: int, work: Path) -> dict:
    from perpetuum.pipeline import generate
    from perpetuum.pipeline.estimate import estimate

    cache = work / "cache-a"
    started = time.perf_counter()
    guess = estimate("recipe:math_dialogues", n, pilot, cache=cache, progress=False)
    estimate_seconds = time.perf_counter() - started
    print(guess.render(), flush=True)
    run = generate("recipe:math_dialogues", n, work / "a", progress=False, cache=cache)
    actual = all_tokens(run.card)
    rows = {}
    for key, label in (("prompt_tokens", "prompt"), ("completion_tokens", "completion")):
        figure = guess.total[key]
        rows[f"{label}_tokens"] = {"estimated": figure["value"], "interval": figure["interval"],
                                   "actual": actual[label]}
    # Seconds: the run made n - pilot records (the pilot's came from the cache); the estimate for those is the
    # completion tokens still to come at the pilot's throughput.
    pilot_completion = guess.per_record["completion_tokens"]["mean"] * guess.pilot
    speed = guess.seconds["tokens_per_second"]
    completion = guess.total["completion_tokens"]
    rows["seconds_after_pilot"] = {
        "estimated": (completion["value"] - pilot_completion) / speed,
        "interval": [(bound - pilot_completion) / speed for bound in completion["interval"]],
        "actual": run.card["wall_seconds"],
    }
    for row in rows.values():
        row["error"] = relative_error(row["estimated"], row["actual"])
        row["inside_interval"] = row["interval"][0] <= row["actual"] <= row["interval"][1]
    return {"n": n, "pilot": pilot, "estimate_seconds": estimate_seconds, "pilot_tokens_per_second": speed,
            "rows": rows, "calls_per_record": guess.calls, "dropped_expected": guess.records["dropped_expected"],
            "dropped_actual": run.card["records"]["dropped"], "kept": run.n_kept}


def part_b(n: int, work: Path) -> dict:
    from perpetuum.pipeline import generate

    cache = work / "cache-b"
    first = generate(fable_spec(), n, work / "b1", progress=False, cache=cache)
    by_column = first.card["economics"]["by_column"]
    paid_first = first.card["tokens"]["prompt"] + first.card["tokens"]["completion"]
    title = by_column["title"]
    title_share = (title.get("prompt_tokens", 0) + title.get("completion_tokens", 0)) / paid_first
    changed = generate(fable_spec("Name this fable in at most five words:\n{{ story }}"), n, work / "b2",
                       progress=False, cache=cache)
    paid_again = changed.card["tokens"]["prompt"] + changed.card["tokens"]["completion"]
    share_paid = paid_again / paid_first
    cache_figures = changed.card["economics"]["cache"]
    return {"n": n, "first_run_tokens": paid_first, "first_run_seconds": first.card["wall_seconds"],
            "title_share": title_share, "rerun_tokens": paid_again, "rerun_share": share_paid,
            "rerun_seconds": changed.card["wall_seconds"], "rerun_hits": cache_figures["hits"],
            "rerun_misses": cache_figures["misses"], "rerun_saved_usd": cache_figures["saved_usd"],
            "target_met": share_paid <= title_share + 0.05}


def part_c(n: int, work: Path, budget_share: float = 0.7) -> dict:
    from perpetuum.pipeline import generate

    straight = generate(fable_spec(), n, work / "c-straight", progress=False, cache=False)
    paid_straight = straight.card["tokens"]["prompt"] + straight.card["tokens"]["completion"]
    budget = int(paid_straight * budget_share)
    cache = work / "cache-c"
    stopped = generate(fable_spec(), n, work / "c", progress=False, cache=cache, budget={"tokens": budget})
    resumed = generate(fable_spec(), n, work / "c", resume=True, progress=False, cache=cache,
                       budget={"tokens": paid_straight * 2})
    calls = lambda card: sum(u.get("calls", 0) for u in card["tokens"]["by_backend"].values())  # noqa: E731
    return {
        "n": n, "budget_tokens": budget, "stopped": stopped.stopped, "records_before_stop": stopped.n_generated,
        "spent_at_stop": stopped.card["economics"]["budget"]["spent"],
        "records_equal": resumed.records == straight.records,
        "calls_straight": calls(straight.card),
        # Paid calls over both sessions: those in the records, plus the calls of records the stop interrupted,
        # which the resume got back from the cache (the cache was fresh, so every hit is one of them).
        "calls_both_sessions": calls(resumed.card) + resumed.card["economics"]["cache"]["hits"],
        "cache_hits_on_resume": resumed.card["economics"]["cache"]["hits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="abc", help="which parts to run (default abc)")
    parser.add_argument("--n-a", type=int, default=50, help="math dialogues in part a (default 50)")
    parser.add_argument("--pilot", type=int, default=8, help="pilot records in part a (default 8)")
    parser.add_argument("--n-b", type=int, default=50, help="records in part b (default 50)")
    parser.add_argument("--n-c", type=int, default=12, help="records in part c (default 12)")
    parser.add_argument("--budget-share", type=float, default=0.7,
                        help="part c's token budget, as a share of what the uninterrupted run paid (default 0.7)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--update", action="store_true",
                        help="keep the other parts already in the output file (each part notes its own machine load)")
    args = parser.parse_args()
    report: dict = {}
    if args.update and args.output.is_file():
        report = json.loads(args.output.read_text(encoding="utf-8"))
    report.update({"benchmark": "pipeline_economics", "commit": git_commit(),
                   "note": "token figures do not depend on the machine's load; seconds do (each part's machine.load_"
                           "before and load_after): on a shared, loaded machine the pilot's throughput and the run's "
                           "differ"})
    parts = {"a": ("a_estimate_vs_run", lambda work: part_a(args.n_a, args.pilot, work)),
             "b": ("b_changed_prompt", lambda work: part_b(args.n_b, work)),
             "c": ("c_budget_resume", lambda work: part_c(args.n_c, work, args.budget_share))}
    with tempfile.TemporaryDirectory(prefix="perpetuum-economics-") as folder:
        for letter, (key, run) in parts.items():
            if letter in args.parts:
                load_before = os.getloadavg()
                report[key] = {**run(Path(folder)), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "machine": machine(load_before)}
    print_table(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


def print_table(report: dict) -> None:
    if "a_estimate_vs_run" in report:
        part = report["a_estimate_vs_run"]
        print(f"\n(a) math_dialogues, n={part['n']}, pilot={part['pilot']}")
        print(f"{'figure':<22}{'estimated':>12}{'90% interval':>24}{'actual':>12}{'error':>8}  inside")
        for name, row in part["rows"].items():
            low, high = row["interval"]
            print(f"{name:<22}{row['estimated']:>12,.0f}{f'{low:,.0f} - {high:,.0f}':>24}{row['actual']:>12,.0f}"
                  f"{row['error']:>8.1%}  {row['inside_interval']}")
    if "b_changed_prompt" in report:
        part = report["b_changed_prompt"]
        print(f"\n(b) one prompt changed, n={part['n']}: re-run paid {part['rerun_tokens']:,} of "
              f"{part['first_run_tokens']:,} tokens ({part['rerun_share']:.1%}); the title column's share "
              f"{part['title_share']:.1%}; target (share + 5 pp) met: {part['target_met']}; "
              f"{part['rerun_hits']} hits, {part['rerun_misses']} misses")
    if "c_budget_resume" in report:
        part = report["c_budget_resume"]
        print(f"\n(c) budget {part['budget_tokens']:,} tokens, n={part['n']}: stopped after "
              f"{part['records_before_stop']} records ({(part['stopped'] or {}).get('limit')}); resumed equals "
              f"uninterrupted: {part['records_equal']}; calls paid {part['calls_both_sessions']} "
              f"(uninterrupted {part['calls_straight']})")


if __name__ == "__main__":
    main()
