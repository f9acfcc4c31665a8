"""Does the code data teach? `recipe:python_exercises` made by Qwen2.5-Coder-1.5B, fine-tuned into SmolLM2-135M.

    # 1. generate the exercises once, in the background (checkpointed: rerun the same command to resume)
    nohup nice -n 10 .venv/bin/python benchmarks/prove_code.py generate -n 160 > /tmp/prove_code.log 2>&1 &
    # 2. fine-tune and score (a GPU: minutes; 2 CPU cores: hours, see `perpetuum prove code --estimate`)
    python benchmarks/prove_code.py train --device cuda
    # on 2 CPU cores, one seed (about 15 minutes a model), then more seeds joined into the same report
    .venv/bin/python benchmarks/prove_code.py train --device cpu --seeds 1 --arms base passed failed
    .venv/bin/python benchmarks/prove_code.py train --device cpu --seeds 1 --first-seed 1 --arms passed failed \
        --add-to benchmarks/results/prove_code
    # or elsewhere: export the records, carry them with the student's .gguf file and HumanEval, then train there
    .venv/bin/python benchmarks/prove_code.py export --records records.jsonl
    python benchmarks/prove_code.py train --records records.jsonl --student SmolLM2-135M-Instruct.Q4_1.gguf \
        --benchmark HumanEval.jsonl.gz --device cuda --output out/

Protocol (issue 22, the code half): the teacher is the stronger embedded model, Qwen2.5-Coder-1.5B-Instruct, writing
`recipe:python_exercises` as shipped (sandbox-checked solutions, HumanEval decontamination); the student is the
default model, SmolLM2-135M-Instruct, from the GGUF file the project ships (dequantized by transformers). Arms: the
student as it is; fine-tuned on the exercises that passed their tests in the sandbox; fine-tuned on as many that
failed them (the control: does executing the solutions matter?). Scored in the sandbox on HumanEval (164 problems,
never shown to the teacher: the recipe drops records that share a 13-gram with it) and on held-out passing
exercises. Writes the report (report.html, result.json with every answer and verdict) and prove_code.json (the
figures) into benchmarks/results/prove_code/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe_runs import generate_on_embedded  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RUNS = RESULTS / "prove_code_runs"  # generated exercises (git-ignored), one folder per model and size
TEACHER = "qwen2.5-coder-1.5b"
HUMANEVAL = ROOT.parent / "shared" / "datasets" / "humaneval" / "HumanEval.jsonl.gz"


def run_folder(model: str, n: int) -> Path:
    return RUNS / f"python-exercises-{model}-{n}"


def generate_exercises(model: str, n: int) -> Path:
    """Generate (or resume) `n` recipe:python_exercises records on the embedded `model`; returns the run folder."""
    from perpetuum.pipeline import load_spec
    from perpetuum.recipes import recipe_path

    spec = load_spec(recipe_path("python_exercises"))
    return generate_on_embedded(spec, n, run_folder(model, n), model, "recipe:python_exercises")


def export_records(folder: Path, target: Path) -> Path:
    """Every record the run has made so far (kept or not), as JSON Lines: what `train` reads on another machine."""
    from perpetuum.prove.code import read_exercises

    records = read_exercises(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    print(f"{len(records)} records of {folder} -> {target}", flush=True)
    return target


def train(options) -> dict:
    """Fine-tune and score every arm; writes the compact JSON and the full report."""
    import torch

    from perpetuum.prove.code import add_runs, prove_code, read_exercises
    from perpetuum.prove.code_report import write_code_report
    from perpetuum.prove.code_tasks import benchmark_tasks, exercise_tasks
    from perpetuum.prove.report import json_ready

    source = options.records or run_folder(options.model, options.n)
    records = read_exercises(source)
    passed, failed = exercise_tasks(records)
    print(f"{len(records)} records from {source}: {len(passed)} passed their tests, {len(failed)} failed", flush=True)
    started = time.perf_counter()
    output = options.add_to or options.output or RESULTS / "prove_code"
    output.mkdir(parents=True, exist_ok=True)

    def save_partial(partial: dict) -> None:  # a stopped run keeps its finished arms
        (output / "partial.json").write_text(json.dumps(json_ready(partial)), encoding="utf-8")

    result = prove_code(records, benchmark=benchmark_tasks(options.benchmark), student=options.student,
                        seeds=options.seeds, epochs=options.epochs, learning_rate=options.learning_rate,
                        max_new_tokens=options.max_new_tokens, answer_batch=options.answer_batch,
                        device=options.device, arms=options.arms, first_seed=options.first_seed,
                        log=lambda line: print(line, flush=True), on_arm=save_partial)
    result["inputs"].update(dataset=str(source), benchmark=str(options.benchmark), teacher=options.model)
    result["machine"] = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                         "torch": torch.__version__, "cpus": os.cpu_count()}
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    if options.add_to:  # more seeds for an earlier run: join them into its report
        earlier = json.loads((output / "result.json").read_text(encoding="utf-8"))
        wall = earlier.get("wall_seconds", 0) + result["wall_seconds"]
        result = add_runs(earlier, result)
        result["wall_seconds"] = round(wall, 1)
    (output / "partial.json").unlink(missing_ok=True)
    paths = write_code_report(result, output)
    compact = {"benchmark": "prove_code", "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "student": result["student"], "training": result["training"], "inputs": result["inputs"],
               "machine": result["machine"], "wall_seconds": result["wall_seconds"], "report": str(paths["html"]),
               "arms": {arm: {"exercises": data["exercises"], "summary": data["summary"],
                              "runs": [{key: value for key, value in run.items()
                                        if key not in ("curve", "benchmark", "heldout")} for run in data["runs"]]}
                        for arm, data in result["arms"].items()}}
    (output / "prove_code.json").write_text(json.dumps(json_ready(compact), indent=2), encoding="utf-8")
    return compact


def print_table(compact: dict) -> None:
    print(f"\n{'arm':>12} {'exercises':>9} {'HumanEval pass@1':>26} {'held-out exercises':>26}")
    for arm, data in compact["arms"].items():
        cells = []
        for metric in ("benchmark_pass_rate", "heldout_pass_rate"):
            summary = data["summary"].get(metric)
            cells.append("-" if not summary or summary["mean"] is None else
                         f"{summary['mean']:.3f} [{summary['low']:.3f}, {summary['high']:.3f}]")
        print(f"{arm:>12} {data['exercises']:>9} {cells[0]:>26} {cells[1]:>26}")
    print(f"wall {compact['wall_seconds']} s on {compact['machine']['device']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["generate", "export", "train"])
    parser.add_argument("--model", default=TEACHER, help="embedded model that writes (default %(default)s)")
    parser.add_argument("-n", type=int, default=160, help="exercises to generate")
    parser.add_argument("--records", type=Path, default=None,
                        help="train on these records (a run folder or .jsonl) instead of the run's; export: the target")
    parser.add_argument("--benchmark", type=Path, default=HUMANEVAL, help="HumanEval-style problems")
    parser.add_argument("--student", default="smollm2-135m", help="ladder name, .gguf file or HF folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--answer-batch", type=int, default=64)
    parser.add_argument("--arms", nargs="+", default=None, help="a subset of base passed failed passed_all")
    parser.add_argument("--first-seed", type=int, default=None,
                        help="first training seed (default 0); the held-out split stays seed 0's")
    parser.add_argument("--add-to", type=Path, default=None,
                        help="a report folder of an earlier run: add these seeds' runs to it")
    parser.add_argument("--output", type=Path, default=None,
                        help="report folder (default benchmarks/results/prove_code)")
    options = parser.parse_args(argv)
    if options.stage == "generate":
        generate_exercises(options.model, options.n)
    elif options.stage == "export":
        export_records(run_folder(options.model, options.n), options.records or RUNS / "records.jsonl")
    else:
        print_table(train(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
