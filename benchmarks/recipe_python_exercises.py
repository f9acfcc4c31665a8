"""Benchmark of `recipe:python_exercises` (phi-1-style exercises run in the sandbox) on the embedded model.

Generates N records (default 50), every solution executed against its tests in the sandbox, decontaminated by
13-gram overlap against HumanEval, and prints: kept/dropped counts and reasons, the sandbox pass rate and failure
reasons, the contaminated count, judge means (if the spec has judges), tokens and wall time. Also runs a positive
control of the decontamination (HumanEval's own problems must all be found) and writes everything as JSON.

    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_python_exercises.py
    .venv/bin/python benchmarks/recipe_python_exercises.py -n 10 --output-dir /tmp/py-ex --resume
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from recipe_runs import git_commit, print_record_counts

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "datasets" / "humaneval" / "HumanEval.jsonl.gz"



def decontamination_control(reference: Path) -> dict:
    """Each HumanEval problem (prompt + canonical solution) checked against the index: all must be found; and a
    clean control (HumanEval checked against an unrelated text) must find none."""
    from perpetuum.recipes.decontamination import NgramIndex, contamination, read_reference_texts

    started = time.perf_counter()
    index = NgramIndex.from_files([reference])
    problems = [json.loads(line) for line in __import__("gzip").open(reference, "rt")]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="HumanEval.jsonl.gz (or any file)")
    parser.add_argument("--output-dir", type=Path, default=Path("/tmp/perpetuum-bench-python-exercises"))
    parser.add_argument("--resume", action="store_true", help="continue the run already in --output-dir")
    parser.add_argument("--note", default="", help="a remark stored in the JSON (e.g. why a run was cut short)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "recipe_python_exercises.json")
    args = parser.parse_args()

    if not args.reference.is_file():
        sys.exit(f"reference file {args.reference} not found; pass --reference PATH to HumanEval.jsonl.gz")
    os.environ["PERPETUUM_DECONTAMINATION_REFERENCES"] = str(args.reference)
    from perpetuum.pipeline import generate
    from perpetuum.sandbox import isolation_mode

    control = decontamination_control(args.reference)
    print("decontamination control:", json.dumps(control))
    started = time.perf_counter()
    result = generate("recipe:python_exercises", n=args.n, output_dir=args.output_dir, resume=args.resume,
                      progress=sys.stderr.isatty())
    wall = time.perf_counter() - started
    card = result.card
    records = card["records"]
    checks = card.get("validators", {})
    checkpoint = args.output_dir / "dropped.jsonl"
    dropped = [json.loads(line) for line in checkpoint.read_text().splitlines() if line.strip()]
    generated = [item["record"] for item in dropped] + result.records
    sandbox = [record["tests_pass"] for record in generated if isinstance(record.get("tests_pass"), dict)]
    durations = [verdict["duration_seconds"] for verdict in sandbox if "duration_seconds" in verdict]
    contaminated = sum(
        1
        for record in generated
        if not record.get("exercise_not_contaminated", {}).get("passed", True)
        or not record.get("passage_not_contaminated", {}).get("passed", True)
    )
    judge_means = {}
    for column in card["spec"]["columns"]:
        if column["kind"] == "llm_judge":
            scores = [record[column["name"]]["scores"] for record in generated if column["name"] in record]
            for criterion in column["rubric"]:
                values = [s[criterion["name"]] for s in scores if criterion["name"] in s]
                if values:
                    judge_means[f"{column['name']}.{criterion['name']}"] = round(statistics.mean(values), 2)
    summary = {
        "recipe": "python_exercises",
        "n": args.n,
        "backend": card["backends"],
        "isolation": isolation_mode(),
        "records": records,
        "checks": checks,
        "sandbox": {
            "run": len(sandbox),
            "passed": sum(bool(v.get("passed")) for v in sandbox),
            "pass_rate": round(sum(bool(v.get("passed")) for v in sandbox) / len(sandbox), 4) if sandbox else None,
            "statuses": {s: sum(v.get("status") == s for v in sandbox) for s in sorted({v.get("status") for v in sandbox})},
            "mean_seconds_per_run": round(statistics.mean(durations), 3) if durations else None,
        },
        "contaminated": contaminated,
        "decontamination_control": control,
        "judge_means": judge_means,
        "tokens": card["tokens"],
        "wall_seconds": round(wall, 1),
        "card_wall_seconds": card["wall_seconds"],
        "threads": os.environ.get("PERPETUUM_LLM_THREADS"),
        "load_average": os.getloadavg(),
        "commit": git_commit(),
        "note": args.note,
        "examples_kept": result.records[:3],
        "examples_failed": [
            {"exercise": r.get("exercise"), "tests_pass": r.get("tests_pass")} for r in generated
            if not r.get("tests_pass", {}).get("passed")
        ][:3],
    }
    print_record_counts("python_exercises", records)
    for name, check in checks.items():
        print(f"check {name} ({check['validator']}): {check['passed']} of {check['checked']} passed "
              f"({check['pass_rate']}); failures: {check['failure_reasons']}")
    print(f"sandbox: {summary['sandbox']}")
    print(f"contaminated records: {contaminated}; judge means: {judge_means or 'none (no judge in the spec)'}")
    print(f"tokens: {card['tokens']['prompt']} in, {card['tokens']['completion']} out; wall {wall:.1f} s "
          f"(card: {card['wall_seconds']} s over {card['sessions']} session(s)); load {os.getloadavg()}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
