"""The embedded model ladder, measured here: tokens/s of one stream and HumanEval pass@1 in Perpetuum's sandbox.

    .venv/bin/python benchmarks/llm_ladder.py                          # every installed model, both measurements
    .venv/bin/python benchmarks/llm_ladder.py --models qwen2.5-coder-1.5b --only humaneval
    .venv/bin/python benchmarks/llm_ladder.py --only speed             # alone, on an idle machine

HumanEval (OpenAI, 164 problems, MIT; ../shared/datasets/humaneval): each model is asked, greedily (temperature 0),
to complete the problem's function and answer with the whole function in one ```python block, through its own
chat template; the answer's first code block (with the prompt's imports, or the prompt itself when the block does
not define the entry point) runs with the problem's `check` in `perpetuum.sandbox`. pass@1 is the share of the 164
that pass. This is the usual protocol for instruct models (as EvalPlus runs them); published figures differ by a
few points with the prompt, the quantization and the answer extraction. Each problem's result is appended to
benchmarks/results/llm_ladder_humaneval_<model>.jsonl as it finishes, so a stopped run resumes where it was.

Speed: one stream (n_parallel=1, the serial path), default threads, 4 prompts x 128 new tokens after a warm-up, on
the user's defaults; run it alone on an idle machine (the load average is recorded).

Writes benchmarks/results/llm_ladder.json and src/perpetuum/llm/ladder_measurements.json, which
`perpetuum models --llm` shows (benchmarks/recipe_yields.py adds each model's recipe yields to the latter).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
from collections import Counter
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llm_throughput import write_report  # noqa: E402
from recipe_runs import git_commit  # noqa: E402

from perpetuum.prove.code_tasks import ANSWER_INSTRUCTION  # noqa: E402
from perpetuum.prove.code_tasks import program_of as code_program_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HUMANEVAL = ROOT.parent / "shared" / "datasets" / "humaneval" / "HumanEval.jsonl.gz"
PUBLISHED_HUMANEVAL = {  # the model card's figure for the unquantized instruct model
    "qwen2.5-coder-1.5b": {"pass_at_1": 0.707, "source": "Qwen2.5-Coder technical report (arXiv:2409.12186), Table 16"},
}
SPEED_PROMPTS = [
    "Write a short story about a kitten who finds a golden key.",
    "Explain how a rainbow forms, for a ten-year-old.",
    "Describe a busy market on a Saturday morning.",
    "Write a letter to a friend about a trip to the mountains.",
]
def humaneval_problems() -> list[dict]:
    with gzip.open(HUMANEVAL, "rt") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def program_of(problem: dict, answer: str) -> str:
    """The code to run: the answer's first code block, completed from the prompt when it lacks the function."""
    return code_program_of(problem["prompt"], problem["entry_point"], answer)


def rescore(problems: list[dict], done: dict, limits, log_path: Path) -> None:
    """Run the logged answers through the sandbox again (after a fix to how answers become programs) and
    rewrite the log; the models are not asked again."""
    from perpetuum.sandbox import run_python

    by_id = {problem["task_id"]: problem for problem in problems}
    changed = 0
    for task_id, entry in done.items():
        problem = by_id[task_id]
        verdict = run_python(program_of(problem, entry["answer"]),
                             tests=f"{problem['test']}\ncheck({problem['entry_point']})\n", limits=limits)
        changed += verdict.passed != entry["passed"]
        entry.update(passed=verdict.passed, status=verdict.status, reason=verdict.reason[:300])
    log_path.write_text("".join(json.dumps(done[problem["task_id"]]) + "\n" for problem in problems
                                if problem["task_id"] in done))
    print(f"rescored {len(done)} logged answers: {changed} verdict(s) changed", flush=True)


def run_humaneval(name: str, threads: int | None, parallel: int, rescore_logged: bool = False) -> dict:
    from perpetuum.llm import get_backend
    from perpetuum.llm.base import GenerationParams
    from perpetuum.progress import progress_bar
    from perpetuum.sandbox import SandboxLimits, run_python

    problems = humaneval_problems()
    log_path = RESULTS / f"llm_ladder_humaneval_{name}.jsonl"
    done = {}
    if log_path.is_file():
        for line in log_path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                done[entry["task_id"]] = entry
    remaining = [problem for problem in problems if problem["task_id"] not in done]
    print(f"HumanEval on {name}: {len(done)} done earlier, {len(remaining)} to run", flush=True)
    limits = SandboxLimits(wall_seconds=15, cpu_seconds=10)
    if rescore_logged:
        rescore(problems, done, limits, log_path)
    started = time.perf_counter()
    if remaining:
        backend = get_backend("embedded", model=name, n_parallel=parallel, n_ctx=2048, n_threads=threads).load()
        params = GenerationParams(temperature=0.0, max_tokens=640, seed=0)

        async def solve(problem):
            messages = [{"role": "user", "content": ANSWER_INSTRUCTION.format(prompt=problem["prompt"])}]
            answer = await backend.chat(messages, params)
            program = program_of(problem, answer.text)
            tests = f"{problem['test']}\ncheck({problem['entry_point']})\n"
            verdict = await asyncio.to_thread(run_python, program, tests=tests, limits=limits)
            entry = {
                "task_id": problem["task_id"],
                "passed": verdict.passed,
                "status": verdict.status,
                "reason": verdict.reason[:300],
                "completion_tokens": answer.completion_tokens,
                "prompt_tokens": answer.prompt_tokens,
                "answer": answer.text,
            }
            with log_path.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")
            return entry

        async def solve_all():
            with progress_bar(f"HumanEval {name}", len(remaining)) as bar:
                async def one(problem):
                    entry = await solve(problem)
                    bar.advance()
                    return entry

                return await asyncio.gather(*(one(problem) for problem in remaining))

        try:
            for entry in asyncio.run(solve_all()):
                done[entry["task_id"]] = entry
        finally:
            asyncio.run(backend.aclose())
    entries = [done[problem["task_id"]] for problem in problems]
    passed = sum(entry["passed"] for entry in entries)
    return {
        "problems": len(entries),
        "passed": passed,
        "pass_at_1": passed / len(entries),
        "completion_tokens": sum(entry["completion_tokens"] for entry in entries),
        "seconds_this_run": time.perf_counter() - started,
        "failures_by_status": dict(Counter(entry["status"] for entry in entries if not entry["passed"])),
        "published": PUBLISHED_HUMANEVAL.get(name),
        "log": str(log_path.relative_to(ROOT)),
    }


def run_speed(name: str, threads: int | None) -> dict:
    from perpetuum.llm import get_backend
    from perpetuum.llm.base import GenerationParams
    from perpetuum.llm.embedded import default_threads

    load_before = os.getloadavg()
    backend = get_backend("embedded", model=name, n_parallel=1, n_ctx=1024, n_threads=threads).load()
    try:
        warm = GenerationParams(temperature=0.7, max_tokens=16, seed=1)
        asyncio.run(backend.chat([{"role": "user", "content": "Hello."}], warm))
        tokens, started = 0, time.perf_counter()
        for index, prompt in enumerate(SPEED_PROMPTS):
            params = GenerationParams(temperature=0.7, max_tokens=128, seed=index)
            answer = asyncio.run(backend.chat([{"role": "user", "content": prompt}], params))
            tokens += answer.completion_tokens
        seconds = time.perf_counter() - started
    finally:
        asyncio.run(backend.aclose())
    return {
        "tokens_per_second": tokens / seconds,
        "completion_tokens": tokens,
        "seconds": seconds,
        "threads": threads or default_threads(),
        "load_average_before": [round(value, 2) for value in load_before],
    }


def measurement_stamp() -> dict:
    return {"measured_utc": time.strftime("%Y-%m-%d", time.gmtime()), "commit": git_commit() or "unknown"}


def merge_measurements(model: str, figures: dict) -> None:
    """Merge `figures` for `model` into the package's ladder_measurements.json (what `perpetuum models --llm` shows),
    reading the file just before writing it, so runs of both ladder benchmarks keep each other's figures."""
    from perpetuum.llm.model_ladder import MEASUREMENTS_FILE

    current = json.loads(MEASUREMENTS_FILE.read_text()) if MEASUREMENTS_FILE.is_file() else {}
    entry = current.setdefault("models", {}).setdefault(model, {})
    for key, value in figures.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key].update(value)
        else:
            entry[key] = value
    current["about"] = ("Written by benchmarks/llm_ladder.py (one stream for tokens/s, greedy HumanEval pass@1) and "
                        "benchmarks/recipe_yields.py (records kept per record requested, first try and after repair).")
    MEASUREMENTS_FILE.write_text(json.dumps(current, indent=2) + "\n")


def update_measurements(measured: dict) -> None:
    """This run's speed and HumanEval figures, merged into ladder_measurements.json."""
    for name, figures in measured.items():
        entry: dict = {}
        if "speed" in figures:
            entry.update(tokens_per_second=round(figures["speed"]["tokens_per_second"], 1),
                         threads=figures["speed"]["threads"])
        if "humaneval" in figures:
            entry.update(humaneval_pass_at_1=round(figures["humaneval"]["pass_at_1"], 4),
                         humaneval_problems=figures["humaneval"]["problems"])
        merge_measurements(name, entry | measurement_stamp())


def main(argv: list[str] | None = None) -> int:
    from perpetuum.llm.model_ladder import LADDER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(LADDER), default=None,
                        help="ladder models to measure (default: every installed one)")
    parser.add_argument("--only", choices=["speed", "humaneval"], default=None, help="one of the two measurements")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the backend's)")
    parser.add_argument("--parallel", type=int, default=8, help="n_parallel for HumanEval (default 8)")
    parser.add_argument("--rescore", action="store_true",
                        help="run the logged HumanEval answers through the sandbox again before any new ones")
    options = parser.parse_args(argv)
    names = options.models or [name for name, model in LADDER.items() if model.installed()]
    started = time.time()
    measured: dict[str, dict] = {}
    for name in names:
        figures = measured.setdefault(name, {})
        if options.only in (None, "humaneval"):
            figures["humaneval"] = run_humaneval(name, options.threads, options.parallel, options.rescore)
        if options.only in (None, "speed"):
            figures["speed"] = run_speed(name, options.threads)
    print(f"\n{'model':<22} {'tokens/s':>9} {'HumanEval pass@1':>17} {'published':>10}")
    for name, figures in measured.items():
        speed = figures.get("speed", {}).get("tokens_per_second")
        humaneval = figures.get("humaneval", {})
        published = (humaneval.get("published") or {}).get("pass_at_1")
        print(f"{name:<22} {speed or float('nan'):>9.1f} {humaneval.get('pass_at_1', float('nan')):>17.1%} "
              f"{'-' if published is None else format(published, '.1%'):>10}")
    path = RESULTS / "llm_ladder.json"
    previous = json.loads(path.read_text()).get("results", {}) if path.is_file() else {}
    for name, figures in measured.items():
        previous.setdefault(name, {}).update(figures)
    write_report(path, "llm_ladder", started, previous, protocol={
        "humaneval": "greedy, max 640 new tokens, whole function in a ```python block, run with check() in "
                     "perpetuum.sandbox (15 s wall, 10 s CPU)",
        "speed": "n_parallel=1, 4 prompts x 128 new tokens, temperature 0.7, after a 16-token warm-up",
    })
    update_measurements(measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())
