"""`recipe:math_dialogues` on the embedded model: how many final answers match GSM8K's gold answer, how many teacher
claims are checkable, and how many are wrong.

    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_math_dialogues.py           # 50 dialogues
    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_math_dialogues.py -n 3 --turns 2   # a smoke run
    PERPETUUM_LLM_THREADS=1 .venv/bin/python benchmarks/recipe_math_dialogues.py -n 30 --turns 4 --teacher-max-tokens 100

Generates the dialogues with the recipe as shipped (the number of messages can be lowered with --turns), then
reports: kept, dropped and failed records with reasons; the dialogues whose final answer matches the gold answer
(of those requested and of those generated, and how many needed the teacher's turn repaired); the share of dialogues
with flagged (wrong) teacher claims,
over all dialogues and over those with at least one checkable claim; claims checked; the share of students who said
"I understand"; messages per dialogue; the judge's mean grades; tokens and wall time; the flagged claims
themselves. Prints a table and writes benchmarks/results/recipe_math_dialogues.json.

On a busy machine a run can be stopped and reported on as it stands: run with `--keep DIR`, stop it, then the same
command with `--finished-only` reports the records it finished (filters and dedup applied as `generate` would); or
`--resume` continues it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from recipe_runs import add_run_options, finished_run, git_commit, machine, print_record_counts, write_report

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "recipe_math_dialogues.json"
CRITERIA = ("clarity", "correctness")


def read_records(folder: Path) -> list[dict]:
    kept = [json.loads(line) for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines() if line]
    dropped = [json.loads(line)["record"]
               for line in (folder / "dropped.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return kept + dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser, RESULTS)
    parser.add_argument("--turns", type=int, default=None, help="messages per dialogue (default: the recipe's)")
    parser.add_argument("--teacher-max-tokens", type=int, default=None, help="default: the recipe's")
    options = parser.parse_args(argv)

    from perpetuum.pipeline.run import generate
    from perpetuum.recipes import load_recipe

    spec = load_recipe("math_dialogues")
    if options.turns is not None:
        spec.column("lesson").turns = options.turns
    if options.teacher_max_tokens is not None:
        spec.column("lesson").roles[1].params.max_tokens = options.teacher_max_tokens
    load_before = os.getloadavg()
    if options.finished_only:
        records, _kept, _dropped, card = finished_run(options.keep, spec, options.records)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            folder = options.keep or Path(scratch) / "math_dialogues"
            result = generate(spec, options.records, folder, resume=options.resume, progress=False, cache=False)
            records = read_records(Path(folder))
        card = result.card
    wall = card["wall_seconds"]  # every session's wall time, added up

    from perpetuum.recipes.math_claims import check_claims

    for record in records:  # with the checker as it is now, so a run resumed or reported later stays consistent
        record["claim_check"] = check_claims(record["lesson"])
    checks = [r["claim_check"] for r in records]
    with_claims = [c for c in checks if c.get("checked", 0) > 0]
    flagged = [c for c in checks if c["flags"]]
    graded = [r["grade"]["scores"] for r in records if isinstance(r.get("grade"), dict)]
    teacher_messages = [m for r in records for m in r["lesson"] if m["role"] == "teacher"]
    gold = sum(bool(r["answer_check"]["passed"]) for r in records)
    answers_found = Counter(r["answer_check"].get("how", "none") for r in records)
    report = {
        "benchmark": "recipe_math_dialogues",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": git_commit(),
        "sessions": card["sessions"],
        "finished_only": options.finished_only,
        "machine": machine(load_before),
        "turns": spec.column("lesson").turns,
        "teacher_max_tokens": spec.column("lesson").roles[1].params.max_tokens,
        "records": card["records"],
        "dialogues": len(records),
        "dialogues_with_checkable_claims": len(with_claims),
        "dialogues_with_flagged_claims": len(flagged),
        "flagged_share": len(flagged) / len(records) if records else None,
        "flagged_share_of_dialogues_with_claims": len(flagged) / len(with_claims) if with_claims else None,
        "claims_checked": sum(c.get("checked", 0) for c in checks),
        "claims_flagged": sum(len(c["flags"]) for c in checks),
        "teacher_messages": len(teacher_messages),
        "messages_per_dialogue_mean": statistics.fmean(len(r["lesson"]) for r in records) if records else None,
        "student_understood_share": sum(bool(r["student_understood"]) for r in records) / len(records)
        if records else None,
        "judge_means": {name: statistics.fmean(s[name] for s in graded) for name in CRITERIA} if graded else {},
        "gold_answer_matches": gold,
        "gold_answer_share_of_requested": gold / card["records"]["requested"] if card["records"]["requested"] else None,
        "gold_answer_share_of_generated": gold / len(records) if records else None,
        "final_answer_found_by": dict(answers_found),
        "teacher_repairs": (card.get("repairs") or {}).get("lesson.teacher"),
        "judges": card.get("judges"),
        "tokens": card["tokens"],
        "wall_seconds": wall,
        "completion_tokens_per_second": card.get("completion_tokens_per_second"),
        "flags": [{"problem": r["problem"]["id"], **flag}
                  for r in records for flag in r["claim_check"]["flags"]][:40],
        "example": records[0] if records else None,
    }
    write_report(report, options.output)
    print_report(report)
    print(f"\nwrote {options.output}")
    return 0


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def print_report(report: dict) -> None:
    print_record_counts("math_dialogues", report["records"])
    share = report["flagged_share"]
    share_with = report["flagged_share_of_dialogues_with_claims"]
    rows = [
        ("dialogues (generated)", f"{report['dialogues']}"),
        ("final answer = gold answer", f"{report['gold_answer_matches']}"),
        ("  share of requested", _percent(report["gold_answer_share_of_requested"])),
        ("with at least one checkable claim", f"{report['dialogues_with_checkable_claims']}"),
        ("with a flagged (wrong) claim", f"{report['dialogues_with_flagged_claims']}"),
        ("flagged share, all dialogues", "n/a" if share is None else f"{share:.0%}"),
        ("flagged share, dialogues with claims", "n/a" if share_with is None else f"{share_with:.0%}"),
        ("teacher claims checked / flagged", f"{report['claims_checked']} / {report['claims_flagged']}"),
        ("messages per dialogue, mean", f"{report['messages_per_dialogue_mean']:.1f}"),
        ("student said 'I understand'", f"{report['student_understood_share']:.0%}"),
        *((f"judge {name} (1-5), mean", f"{value:.2f}") for name, value in report["judge_means"].items()),
        ("tokens prompt / completion", f"{report['tokens']['prompt']:,} / {report['tokens']['completion']:,}"),
        ("wall seconds", f"{report['wall_seconds']:.0f}"),
        ("completion tokens/s", f"{report['completion_tokens_per_second']}"),
    ]
    for label, value in rows:
        print(f"  {label:<40}{value:>16}")
    for flag in report["flags"][:10]:
        print(f"  flag, turn {flag['turn']} ({flag['problem']}): {flag['claim']!r}: {flag['reason']}; "
              f"expected {flag['expected']!r}")



if __name__ == "__main__":
    raise SystemExit(main())
