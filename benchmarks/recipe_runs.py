"""What the recipe benchmarks share: the git commit they measured, and reading back an interrupted run."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str | None:
    """The short commit the working tree is at, or None outside git."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def finished_run(folder: Path, spec, requested: int) -> tuple[list[dict], list[dict], list[dict], dict]:
    """What an interrupted run in `folder` finished, read from its checkpoint: (every finished record, the kept
    ones, the dropped lines, a card-like summary). Filters and dedup are applied as `generate` would."""
    from perpetuum.pipeline.checkpoint import read_checkpoint_entries
    from perpetuum.pipeline.filters import keep_records

    entries = {int(entry["index"]): entry for entry in read_checkpoint_entries(folder)}
    finished = [(index, entry["record"]) for index, entry in sorted(entries.items()) if entry["status"] == "ok"]
    failed = [entry for entry in entries.values() if entry["status"] != "ok"]
    kept, dropped = keep_records(spec, finished)
    usage = [use for entry in entries.values() for use in (entry.get("usage") or {}).values()]
    database = sqlite3.connect(f"file:{folder / 'checkpoint' / 'state.sqlite'}?mode=ro", uri=True)
    wall = sum(end - start for start, end in database.execute("SELECT started_at, updated_at FROM sessions"))
    database.close()
    completion = sum(use.get("completion_tokens", 0) for use in usage)
    summary = {
        "records": {
            "requested": requested, "generated": len(finished), "failed": len(failed), "kept": len(kept),
            "dropped": len(dropped), "dropped_by_reason": dict(Counter(item.reason for item in dropped)),
            "failed_by_reason": dict(Counter(f"{e.get('column')}: {e.get('error_type')}" for e in failed)),
        },
        "tokens": {"prompt": sum(use.get("prompt_tokens", 0) for use in usage), "completion": completion},
        "wall_seconds": wall,
        "completion_tokens_per_second": round(completion / wall, 2) if wall else None,
        "sessions": None,
    }
    dropped_lines = [{"index": item.index, "reason": item.reason, "detail": item.detail, "record": item.record}
                     for item in dropped]
    return [record for _, record in finished], [record for _, record in kept], dropped_lines, summary


def print_record_counts(recipe: str, records: dict) -> None:
    """The card's record counts and the reasons behind drops and failures, one line each."""
    print(f"recipe:{recipe}, {records['requested']} requested: {records['generated']} generated, "
          f"{records['failed']} failed, {records['kept']} kept, {records['dropped']} dropped")
    for reason, count in records["dropped_by_reason"].items():
        print(f"  dropped {count}: {reason}")
    for reason, count in records["failed_by_reason"].items():
        print(f"  failed {count}: {reason}")


def write_report(report: dict, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def add_run_options(parser, default_output: Path) -> None:
    """-n, --output, --keep, --resume and --finished-only, as every recipe benchmark takes them."""
    parser.add_argument("-n", "--records", type=int, default=50)
    parser.add_argument("--output", type=Path, default=default_output)
    parser.add_argument("--keep", type=Path, default=None, help="write the generated dataset here (default: a temp dir)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --keep (n may be lower than the interrupted run's: the first n count)")
    parser.add_argument("--finished-only", action="store_true",
                        help="generate nothing: report what the interrupted run in --keep finished (any indices)")


def machine(load_before: tuple[float, float, float]) -> dict:
    """Cores, the load average before and after the run, and the llama.cpp thread setting."""
    return {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
            "llm_threads": os.environ.get("PERPETUUM_LLM_THREADS")}


def generate_on_embedded(spec, n: int, folder: Path, model: str, label: str) -> Path:
    """Generate (or resume, when `folder` holds a checkpoint) `n` records of `spec` on the embedded `model`."""
    import asyncio

    from perpetuum.llm import get_backend
    from perpetuum.pipeline import generate

    resume = (folder / "checkpoint").is_dir()
    print(f"{label} on {model}: {'resuming' if resume else 'starting'} {n} records in {folder}", flush=True)
    backend = get_backend("embedded", model=model)
    try:
        generate(spec, n, folder, resume=resume, progress=True, backends={name: backend for name in spec.backends})
    finally:
        asyncio.run(backend.aclose())
    return folder
