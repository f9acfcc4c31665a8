"""Benchmark of `recipe:python_exercises` (phi-1-style exercises run in the sandbox) on the embedded model.

Generates N records (default 50), every solution executed against its tests in the sandbox, decontaminated by
13-gram overlap against HumanEval, and prints: kept/dropped counts and reasons, the sandbox pass rate and failure
reasons, the contaminated count, judge means (if the spec has judges), tokens and wall time. Also runs a positive
control of the decontamination (HumanEval's own problems must all be found) and writes everything as JSON.

    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_python_exercises.py --keep out/py
    .venv/bin/python benchmarks/recipe_python_exercises.py -n 10 --keep out/py --resume
    .venv/bin/python benchmarks/recipe_python_exercises.py --keep out/py --finished-only   # report a stopped run
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from recipe_runs import add_run_options, finished_run, git_commit, machine, print_record_counts, write_report

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "datasets" / "humaneval" / "HumanEval.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results" / "recipe_python_exercises.json"


def decontamination_control(reference: Path) -> dict:
    """Each HumanEval problem (prompt + canonical solution) checked against the index: all must be found; and a
    clean control (HumanEval checked against an unrelated text) must find none."""
    from perpetuum.pipeline.columns.decontamination import NgramIndex, contamination, read_reference_texts

    started = time.perf_counter()
    index = NgramIndex.from_files([reference])
    problems = [json.loads(line) for line in gzip.open(reference, "rt")]
    found = contamination([p["prompt"] + p["canonical_solution"] for p in problems], index)
    # Reformatted copies: the prompt with its indentation and quotes changed must still be found.
    reformatted = [p["prompt"].replace("    ", "\t").replace('"""', "'''") for p in problems]
    found_reformatted = contamination(reformatted, index)
    unrelated = NgramIndex()
    unrelated.add(Path(__file__).read_text(), "this script")
    clean = contamination([text for _, text in read_reference_texts(reference)], unrelated)
    return {
        "reference_ngrams": len(index),
        "humaneval_problems_found": f"{found['contaminated']} of {found['checked']}",
        "reformatted_prompts_found": f"{found_reformatted['contaminated']} of {found_reformatted['checked']}",
        "false_positives_against_unrelated_text": clean["contaminated"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, RESULTS)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="HumanEval.jsonl.gz (or any file)")
    parser.add_argument("--note", default="", help="a remark stored in the JSON (e.g. why a run was cut short)")
    options = parser.parse_args(argv)

    if not options.reference.is_file():
        sys.exit(f"reference file {options.reference} not found; pass --reference PATH to HumanEval.jsonl.gz")
    os.environ["PERPETUUM_DECONTAMINATION_REFERENCES"] = str(options.reference)
    from perpetuum.pipeline import generate
    from perpetuum.card.text import validator_summary
    from perpetuum.pipeline.spec import load_spec
    from perpetuum.sandbox import isolation_mode

    control = decontamination_control(options.reference)
    print("decontamination control:", json.dumps(control))
    spec = load_spec("recipe:python_exercises")
    load_before = os.getloadavg()
    if options.finished_only:
        if options.keep is None:
            sys.exit("--finished-only needs --keep DIR, the folder of the interrupted run")
        generated, kept, _dropped, card = finished_run(options.keep, spec, options.records)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            folder = options.keep or Path(scratch) / "python_exercises"
            result = generate(spec, options.records, folder, resume=options.resume, progress=sys.stderr.isatty(),
                              cache=False)
            dropped = [json.loads(line)["record"] for line in (folder / "dropped.jsonl").read_text().splitlines()
                       if line.strip()]
        card, kept = result.card, result.records
        generated = kept + dropped
    # the card's own per-validator summary, computed here so that a --finished-only report has it too
    checks = validator_summary(spec, [{"status": "ok", "record": record} for record in generated])
    sandbox = [record["tests_pass"] for record in generated if isinstance(record.get("tests_pass"), dict)]
    durations = [verdict["duration_seconds"] for verdict in sandbox if "duration_seconds" in verdict]
    contaminated = sum(
        1 for record in generated
        if not record.get("exercise_not_contaminated", {}).get("passed", True)
        or not record.get("passage_not_contaminated", {}).get("passed", True)
    )
    judge_means = {}
    for column in spec.columns:
        if column.kind == "llm_judge":
            scores = [record[column.name]["scores"] for record in generated if column.name in record]
            for criterion in column.rubric:
                values = [s[criterion.name] for s in scores if criterion.name in s]
                if values:
                    judge_means[f"{column.name}.{criterion.name}"] = round(statistics.mean(values), 2)
    wall = card["wall_seconds"]
    summary = {
        "benchmark": "recipe_python_exercises",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": git_commit(),
        "note": options.note,
        "finished_only": options.finished_only,
        "machine": machine(load_before),
        "isolation": isolation_mode(),
        "records": card["records"],
        "with_a_function": sum(bool(record.get("problem")) for record in generated),
        "with_tests": sum(bool(record.get("tests")) for record in generated),
        "checks": checks,
        "sandbox": {
            "run": len(sandbox),
            "passed": sum(bool(v.get("passed")) for v in sandbox),
            "pass_rate": checks["tests_pass"]["pass_rate"],
            "statuses": dict(Counter(str(v.get("status")) for v in sandbox)),
            "mean_seconds_per_run": round(statistics.mean(durations), 3) if durations else None,
        },
        "contaminated": contaminated,
        "decontamination_control": control,
        "judge_means": judge_means,
        "tokens": card["tokens"],
        "wall_seconds": wall,
        "completion_tokens_per_second": round(card["tokens"]["completion"] / wall, 2) if wall else None,
        "examples_kept": [{key: record.get(key) for key in ("topic", "concept", "problem", "solution", "tests")}
                          for record in kept[:3]],
        "examples_failed": [
            {"problem": r.get("problem"), "solution": r.get("solution"), "tests": r.get("tests"),
             "tests_pass": r.get("tests_pass")}
            for r in generated if not r.get("tests_pass", {}).get("passed")
        ][:3],
    }
    print_record_counts("python_exercises", card["records"])
    rows = [
        ("records with a function", f"{summary['with_a_function']} of {len(generated)}"),
        ("records with assert tests", f"{summary['with_tests']} of {len(generated)}"),
        *((f"check {name}", f"{c['passed']} of {c['checked']} ({c['pass_rate']})") for name, c in checks.items()),
        ("contaminated records", f"{contaminated}"),
        ("sandbox seconds per run, mean", f"{summary['sandbox']['mean_seconds_per_run']}"),
        ("tokens prompt / completion", f"{card['tokens']['prompt']:,} / {card['tokens']['completion']:,}"),
        ("wall seconds", f"{wall:.0f}"),
        ("completion tokens/s", f"{summary['completion_tokens_per_second']}"),
    ]
    for label, value in rows:
        print(f"  {label:<40}{value:>20}")
    for reason, count in checks["tests_pass"]["failure_reasons"].items():
        print(f"  sandbox failure {count}: {reason}")
    print(f"  judge means: {judge_means or 'none (no judge in the spec)'}; isolation {summary['isolation']}")
    write_report(summary, options.output)
    print(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
