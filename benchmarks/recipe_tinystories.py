"""`recipe:tinystories` on the embedded model, next to real TinyStories stories.

    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_tinystories.py            # 50 stories
    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_tinystories.py -n 5 --max-tokens 120   # a smoke run

Generates the stories with the recipe as shipped (only the story's max_tokens can be changed), then reports: kept,
dropped and failed records with reasons; each check's pass rate over every generated story; the judge's mean
grades; tokens and wall time. Then it compares the generated stories with real ones from
../shared/datasets/tinystories/stories.txt.gz (the stories held out from building the vocabulary: every 10th),
on the same measures: vocabulary compliance, length, distinct-n, vocabulary size and near-duplicate rate. The
diversity measures depend on how much text there is, so the real side is shown both for as many stories as were
generated and for all 532 held-out stories. Prints a table and writes benchmarks/results/recipe_tinystories.json.

On a busy machine a run can be stopped and reported on as it stands: run with `--keep DIR`, stop it, then the same
command with `--finished-only` reports the records it finished (filters and dedup applied as `generate` would); or
`--resume` continues it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from recipe_runs import add_run_options, finished_run, git_commit, machine, print_record_counts, write_report

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "recipe_tinystories.json"
REAL_STORIES = REPO.parent / "shared" / "datasets" / "tinystories" / "stories.txt.gz"
HELD_OUT_EVERY = 10  # scripts/build_child_vocabulary.py leaves out stories 0, 10, 20, ...
CHECKS = ("length_check", "words_used", "vocabulary_check", "not_copied")
CRITERIA = ("grammar", "creativity", "consistency")


def read_records(folder: Path) -> tuple[list[dict], list[dict]]:
    """(every generated record, kept and dropped, in index order; the dropped lines)."""
    kept = [json.loads(line) for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines() if line]
    dropped = [json.loads(line) for line in (folder / "dropped.jsonl").read_text(encoding="utf-8").splitlines()
               if line]
    return kept + [item["record"] for item in dropped], dropped


def text_measures(stories: list[str]) -> dict:
    from perpetuum.evaluate.text_diversity import text_diversity
    from perpetuum.recipes.stories import MAX_WORDS, MIN_COMPLIANCE, MIN_WORDS, story_words, vocabulary_compliance

    shares = [vocabulary_compliance(story)["share"] for story in stories]
    lengths = [len(story_words(story)) for story in stories]
    return {
        "stories": len(stories),
        "compliance_mean": statistics.fmean(shares),
        "compliance_median": statistics.median(shares),
        "compliance_pass_rate": sum(share >= MIN_COMPLIANCE for share in shares) / len(shares),
        "words_mean": statistics.fmean(lengths),
        "words_median": statistics.median(lengths),
        "length_pass_rate": sum(MIN_WORDS <= n <= MAX_WORDS for n in lengths) / len(lengths),
        **{f"diversity_{key}": value for key, value in text_diversity(stories).items() if key != "texts"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser, RESULTS)
    parser.add_argument("--max-tokens", type=int, default=None, help="the story's max_tokens (default: the recipe's)")
    options = parser.parse_args(argv)

    from perpetuum.pipeline.run import generate
    from perpetuum.recipes import load_recipe

    spec = load_recipe("tinystories")
    if options.max_tokens is not None:
        spec.column("story").params.max_tokens = options.max_tokens
    load_before = os.getloadavg()
    if options.finished_only:
        records, kept_records, dropped, card = finished_run(options.keep, spec, options.records)
        wall = card["wall_seconds"]
    else:
        with tempfile.TemporaryDirectory() as scratch:
            folder = options.keep or Path(scratch) / "tinystories"
            result = generate(spec, options.records, folder, resume=options.resume, progress=False, cache=False)
            records, dropped = read_records(Path(folder))
        card, kept_records = result.card, result.records
        wall = card["wall_seconds"]  # every session's wall time, added up

    checks = {name: sum(bool(r[name]["passed"]) for r in records) / len(records) for name in CHECKS}
    graded = [r["grade"]["scores"] for r in records if isinstance(r.get("grade"), dict)]
    judge = {name: statistics.fmean(scores[name] for scores in graded) for name in CRITERIA} if graded else {}
    missing = Counter(item.split(" ")[0] for r in records for item in r["words_used"].get("missing", []))
    stories = [r["story"] for r in records]
    kept_stories = [r["story"] for r in kept_records]

    real_all = [s.strip() for s in gzip.open(REAL_STORIES, "rt", encoding="utf-8").read().split("<|endoftext|>")
                if s.strip()]
    held_out = real_all[::HELD_OUT_EVERY]
    comparison = {
        "generated (all)": text_measures(stories),
        **({"generated (kept)": text_measures(kept_stories)} if kept_stories else {}),
        f"real held-out ({len(stories)})": text_measures(held_out[: len(stories)]),
        f"real held-out ({len(held_out)})": text_measures(held_out),
    }
    report = {
        "benchmark": "recipe_tinystories",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": git_commit(),
        "sessions": card["sessions"],
        "finished_only": options.finished_only,
        "machine": machine(load_before),
        "story_max_tokens": spec.column("story").params.max_tokens,
        "records": card["records"],
        "check_pass_rates": checks,
        "missing_words_by_role": dict(missing),
        "judge_means": judge,
        "judge_scores_seen": sorted({score for scores in graded for score in scores.values()}),
        "tokens": card["tokens"],
        "wall_seconds": wall,
        "completion_tokens_per_second": card.get("completion_tokens_per_second"),
        "comparison": comparison,
        "examples": [{"noun": r["noun"], "verb": r["verb"], "adjective": r["adjective"], "features": r["features"],
                      "story": r["story"][:600]} for r in records[:3]],
        "drop_details": [{"index": item["index"], "reason": item["reason"], "detail": item["detail"]}
                         for item in dropped[:20]],
    }
    write_report(report, options.output)
    print_report(report)
    print(f"\nwrote {options.output}")
    return 0


def print_report(report: dict) -> None:
    print_record_counts("tinystories", report["records"])
    print("check pass rates (all generated): " + ", ".join(f"{k} {v:.0%}" for k, v in report["check_pass_rates"].items()))
    print("missing words by role: " + (", ".join(f"{k} {v}" for k, v in report["missing_words_by_role"].items())
                                        or "none"))
    print("judge means (1-10): " + ", ".join(f"{k} {v:.2f}" for k, v in report["judge_means"].items()))
    tokens = report["tokens"]
    print(f"tokens: {tokens['prompt']:,} prompt, {tokens['completion']:,} completion; wall {report['wall_seconds']:.0f} s"
          f" ({report['completion_tokens_per_second']} completion tokens/s)")
    rows = [
        ("vocabulary compliance, mean", "compliance_mean", "{:.3f}"),
        ("vocabulary compliance, median", "compliance_median", "{:.3f}"),
        ("share with compliance >= 0.90", "compliance_pass_rate", "{:.0%}"),
        ("words, mean", "words_mean", "{:.0f}"),
        ("words, median", "words_median", "{:.0f}"),
        ("share within 50-500 words", "length_pass_rate", "{:.0%}"),
        ("distinct-1", "diversity_distinct_1", "{:.3f}"),
        ("distinct-2", "diversity_distinct_2", "{:.3f}"),
        ("distinct-3", "diversity_distinct_3", "{:.3f}"),
        ("vocabulary size (types)", "diversity_vocabulary_size", "{:,}"),
        ("near-duplicate rate", "diversity_near_duplicate_rate", "{:.0%}"),
    ]
    columns = list(report["comparison"])
    width = max(len(c) for c in columns) + 2
    print("\n" + "measure".ljust(32) + "".join(c.rjust(width) for c in columns))
    for label, key, fmt in rows:
        print(label.ljust(32) + "".join(fmt.format(report["comparison"][c][key]).rjust(width) for c in columns))



if __name__ == "__main__":
    raise SystemExit(main())
