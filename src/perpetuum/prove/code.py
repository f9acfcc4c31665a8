"""`prove_code`: does a set of generated Python exercises teach a model to code? And `code_estimate`: what it costs.

    result = prove_code(read_exercises("out/python_exercises"), benchmark=benchmark_tasks("HumanEval.jsonl.gz"),
                        student="smollm2-135m", seeds=3, device="cuda")
    result["arms"]["passed"]["summary"]["benchmark_pass_rate"]      # {"mean", "low", "high", "values"}

The student (by default SmolLM2-135M-Instruct, from the GGUF file its package ships) is fine-tuned in full
(`perpetuum.train.ChatFineTuner`) once per seed on each arm, and every model answers the same held-out tasks
greedily; each answer runs against the task's tests in the sandbox.
  base        the student as it is (greedy, so one run)
  passed      n exercises whose solutions passed their own tests in the sandbox
  failed      n exercises whose solutions failed them (the control: does executing the solutions matter?)
  passed_all  every passing training exercise, when there are more than n
n is the smaller of the two counts, so `passed` and `failed` train on the same number of exercises. A seeded share
of the passing exercises is held out (never trained on) and scored, as is the benchmark when one is given (a
HumanEval-style file; the recipe drops exercises that share a 13-gram with HumanEval, so it stays unseen).

On 2 CPU cores such a fine-tune takes hours (`code_estimate`); on one GPU, minutes.

The estimate's arithmetic:
* From scratch: the smallest model known to pass HumanEval-style exercises after training on textbook-style data
  is phi-1-small (350 M parameters, 45 % pass@1; Gunasekar et al. 2023, "Textbooks Are All You Need"), trained on a
  corpus of about 7 B tokens seen several times; 7 B tokens seen once is taken here, so the figure is a lower
  bound. Training cost is about 6 x parameters x tokens FLOPs.
* Fine-tuning the smallest model on the ladder (SmolLM2-135M, what `prove_code` does) on the passing exercises:
  about 6 x parameters x tokens x epochs FLOPs, plus the greedy answers to every held-out task.

The CPU rate is an optimistic figure for dense float32 matrix products on 2 cores; the tiny LM of `prove stories`
reaches far less (its matrices are small and Python overhead dominates).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.prove.code_tasks import CodeTask, exercise_tasks, question, score_answers, training_pair
from perpetuum.prove.stories import interval, split_texts

__all__ = ["ARMS", "CPU_FLOPS", "CPU_SECONDS_PER_ANSWER", "GPU_FLOPS", "add_runs", "code_estimate", "prove_code",
           "read_exercises"]

# Measured on 2 CPU cores (4 December, benchmarks/prove_code.py, SmolLM2-135M in float32): a fine-tune ran 27,000
# tokens (2.2e13 FLOPs) in 268 s, and answering 180 problems greedily (at most 512 new tokens, stopping after the
# first code block) took 797 s.
CPU_FLOPS = 8e10
CPU_SECONDS_PER_ANSWER = 4.4
GPU_FLOPS = 2e14  # one H100/H200-class GPU, bf16 at a realistic 30-40 % utilisation (not measured here)
SCRATCH_PARAMETERS, SCRATCH_TOKENS = 350e6, 7e9  # phi-1-small's scale
FINE_TUNE_PARAMETERS = 135e6  # SmolLM2-135M
TOKENS_PER_EXERCISE = 165  # question and solution of one exercise in the chat template (measured, Qwen's exercises)
ARMS = {
    "base": "the student as it is",
    "passed": "fine-tuned on n exercises that passed their tests in the sandbox",
    "failed": "fine-tuned on n exercises that failed them (the control)",
    "passed_all": "fine-tuned on every passing training exercise",
}
METRICS = {
    "benchmark_pass_rate": "share of the benchmark's problems (e.g. HumanEval) whose greedy answer passes its tests",
    "heldout_pass_rate": "share of the held-out passing exercises whose greedy answer passes the exercise's tests",
    "final_loss": "training loss on the answers' tokens at the last step",
}


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:.0f} seconds"


def read_exercises(path: str | Path) -> list[dict]:
    """Every made record of a recipe:python_exercises run, kept or dropped (the control arm needs the failing
    ones): a finished run folder's data.jsonl and dropped.jsonl; an unfinished one's checkpoint; or a .jsonl file
    of records."""
    from perpetuum.prove.inputs import read_records

    path = Path(path)
    if not path.exists():
        raise DataInputError(f"{str(path)!r} does not exist; pass a recipe:python_exercises run folder (from "
                             "`perpetuum generate`) or a .jsonl file of its records")
    if path.is_dir() and not (path / "data.jsonl").is_file() and (path / "checkpoint").is_dir():
        from perpetuum.pipeline.checkpoint import read_checkpoint_entries

        records = [entry["record"] for entry in read_checkpoint_entries(path)
                   if entry.get("status") == "ok" and isinstance(entry.get("record"), dict)]
        if not records:
            raise DataInputError(f"the run in {str(path)!r} has made no record yet")
        return records
    records = read_records(path)
    dropped = path / "dropped.jsonl" if path.is_dir() else None
    if dropped is not None and dropped.is_file() and dropped.stat().st_size:
        records += [line["record"] for line in read_records(dropped) if isinstance(line.get("record"), dict)]
    return records


def code_estimate(dataset: str | Path | None = None, exercises: int = 2000, epochs: int = 3,
                  benchmark_problems: int = 164, seeds: int = 3) -> dict:
    """The compute arithmetic for proving code data by training, on 2 CPU cores (rates measured here) and on one GPU
    (assumed). `dataset`: a generated python_exercises folder (its passing exercises are counted); otherwise
    `exercises` is assumed. Per model and for the whole protocol: the base model plus three arms x `seeds`."""
    counted = None
    if dataset is not None:
        counted = len(exercise_tasks(read_exercises(dataset))[0])
    exercises = counted if counted is not None else exercises
    scratch = 6 * SCRATCH_PARAMETERS * SCRATCH_TOKENS
    fine_tune_tokens = exercises * TOKENS_PER_EXERCISE * epochs
    answers = benchmark_problems + round(0.2 * exercises)  # the benchmark and the held-out exercises
    training = 6 * FINE_TUNE_PARAMETERS * fine_tune_tokens
    answering = 2 * FINE_TUNE_PARAMETERS * 300 * answers  # about 300 answer tokens, 2 x parameters each
    answer_cpu, answer_gpu = answers * CPU_SECONDS_PER_ANSWER, answering / GPU_FLOPS
    cpu_seconds = training / CPU_FLOPS + answer_cpu  # one fine-tuned model, trained and scored
    gpu_seconds = training / GPU_FLOPS + answer_gpu
    models = 1 + 3 * seeds  # the base model is only scored
    protocol_cpu = answer_cpu + 3 * seeds * cpu_seconds
    protocol_gpu = answer_gpu + 3 * seeds * gpu_seconds
    return {
        "exercises": exercises, "exercises_counted_from_dataset": counted is not None,
        "from_scratch": {"parameters": SCRATCH_PARAMETERS, "tokens": SCRATCH_TOKENS, "flops": scratch,
                         "cpu": _duration(scratch / CPU_FLOPS), "gpu": _duration(scratch / GPU_FLOPS)},
        "fine_tune": {"parameters": FINE_TUNE_PARAMETERS, "tokens": fine_tune_tokens, "epochs": epochs,
                      "answers": answers, "flops": training + answering, "cpu_seconds": cpu_seconds,
                      "cpu": _duration(cpu_seconds), "gpu": _duration(gpu_seconds),
                      "models": models, "protocol_cpu": _duration(protocol_cpu),
                      "protocol_gpu": _duration(protocol_gpu)},
        "reason": ("a model small enough to train from scratch on 2 cores (a few million parameters, as in "
                   "`prove stories`) is far below the smallest size known to pass such exercises (350 M), so its "
                   "pass rate would very likely be zero whatever the data; fine-tuning a small model that already "
                   "passes a few (SmolLM2-135M) is what `prove code` does: on 2 cores that is about a quarter of an "
                   "hour per model for a hundred exercises, hours for thousands"),
    }


def _wilson(passed: int, total: int) -> list[float]:
    if not total:
        return [float("nan"), float("nan")]
    z, rate = 1.96, passed / total
    centre = (rate + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [float(centre - half), float(centre + half)]


def _score(tuner, tasks: list[CodeTask], settings: dict) -> dict | None:
    if not tasks:
        return None
    # Generation stops at the end of the first code block: the scorer reads only that block, so verdicts are the
    # same as generating on to max_new_tokens, at a fraction of the cost.
    answers = tuner.answer([question(task) for task in tasks], max_new_tokens=settings["max_new_tokens"],
                           batch=settings["answer_batch"], stop_after_code_block=True)
    verdicts = score_answers(tasks, answers, workers=settings["sandbox_workers"])
    passed = sum(verdict["passed"] for verdict in verdicts)
    for verdict, answer in zip(verdicts, answers):
        verdict["answer"] = answer
    return {"passed": passed, "total": len(tasks), "rate": passed / len(tasks),
            "wilson95": _wilson(passed, len(tasks)), "verdicts": verdicts}


def prove_code(records: list[dict], *, benchmark: list[CodeTask] | None = None, student: str = "smollm2-135m",
               seeds: int = 3, epochs: int = 3, learning_rate: float = 1e-4, batch: int = 8, max_length: int = 768,
               holdout_share: float = 0.2, max_new_tokens: int = 512, answer_batch: int = 64,
               sandbox_workers: int | None = None, device: str = "auto", seed: int = 0, arms: list[str] | None = None,
               first_seed: int | None = None, log=None, on_arm=None) -> dict:
    """Fine-tune `student` on each arm once per seed and score every model (see the module docstring).
    `records`: recipe:python_exercises records (`read_exercises`); `benchmark`: held-out tasks (`benchmark_tasks`).
    `seed` fixes the held-out split and each arm's exercises; training seeds are `first_seed` (default `seed`) and
    the next `seeds - 1`, so more seeds can be run later and joined with `add_runs`.
    `on_arm(result)`, if given, gets the result so far after each arm (to save a long run as it goes)."""
    from perpetuum.train.fine_tune import ChatFineTuner, load_causal_lm

    if not isinstance(seeds, int) or seeds < 1:
        raise ParameterError(f"seeds must be a positive integer, got {seeds!r}")
    if not 0 < holdout_share < 1:
        raise ParameterError(f"holdout_share must be between 0 and 1, got {holdout_share!r}")
    arms = arms or list(ARMS)
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        raise ParameterError(f"unknown arm(s) {unknown}; choose from {', '.join(ARMS)}")
    log = log or (lambda line: None)
    passed, failed = exercise_tasks(records)
    if len(passed) < 5:
        raise DataInputError(f"the dataset holds {len(passed)} exercise(s) that passed their tests; prove code "
                             "needs at least 5 (generate more, or with a stronger model)")
    train_passed, heldout = split_texts(passed, holdout_share, seed)
    n = min(len(train_passed), len(failed))
    if n == 0 and {"passed", "failed"} & set(arms):
        raise DataInputError("the dataset holds no exercise whose solution failed its tests (with a function and "
                             "tests), so the control arm cannot be built; use arms=['base', 'passed_all']")
    rng = np.random.default_rng(seed)
    data = {"base": [], "passed": [train_passed[i] for i in sorted(rng.permutation(len(train_passed))[:n])],
            "failed": [failed[i] for i in sorted(rng.permutation(len(failed))[:n])], "passed_all": train_passed}
    if "passed_all" in arms and len(train_passed) <= n:
        arms = [arm for arm in arms if arm != "passed_all"]  # the same exercises as arm "passed"
    settings = {"max_new_tokens": max_new_tokens, "answer_batch": answer_batch, "sandbox_workers": sandbox_workers}
    started = time.perf_counter()
    log(f"loading the student {student}")
    model = load_causal_lm(student, device=device)
    result = {"student": {"source": student, "parameters": model.parameters, "device": model.device},
              "training": {"epochs": epochs, "learning_rate": learning_rate, "batch": batch, "max_length": max_length,
                           "loss": "answer tokens only", "optimizer": "AdamW, 10 % warm-up, cosine decay"},
              "inputs": {"records": len(records), "passed": len(passed), "failed": len(failed),
                         "heldout_exercises": len(heldout), "passed_training": len(train_passed), "n": n,
                         "benchmark_problems": len(benchmark or [])},
              "answering": {"greedy": True, "max_new_tokens": max_new_tokens}, "metrics": METRICS, "seeds": seeds,
              "arms": {}}
    for arm in arms:
        pairs = [training_pair(task) for task in data[arm]]
        runs = []
        start = seed if first_seed is None else first_seed
        for run_seed in (range(start, start + seeds) if arm != "base" else [seed]):
            log(f"arm {arm}: seed {run_seed} ({len(pairs)} exercises)")
            run_started = time.perf_counter()
            tuner = ChatFineTuner(model, epochs=epochs if pairs else 0, learning_rate=learning_rate, batch=batch,
                                  max_length=max_length, seed=run_seed, progress=log).fit(pairs)
            trained = time.perf_counter() - run_started
            bench, held = _score(tuner, benchmark or [], settings), _score(tuner, heldout, settings)
            run = {"seed": run_seed, "steps": tuner.steps_, "tokens_trained": tuner.tokens_trained_,
                   "final_loss": tuner.history_[-1]["loss"] if tuner.history_ else None,
                   "train_seconds": round(trained, 1),
                   "seconds": round(time.perf_counter() - run_started, 1),
                   "curve": [{key: row[key] for key in ("step", "loss", "tokens")} for row in tuner.history_]}
            for name, scored in (("benchmark", bench), ("heldout", held)):
                if scored is not None:
                    run[f"{name}_pass_rate"] = scored["rate"]
                    run[name] = scored
            log(f"  benchmark {run.get('benchmark_pass_rate', float('nan')):.3f}, held-out exercises "
                f"{run.get('heldout_pass_rate', float('nan')):.3f} ({run['seconds']:.0f} s)")
            runs.append(run)
            del tuner
        result["arms"][arm] = {"description": ARMS[arm], "exercises": len(pairs), "runs": runs,
                               "summary": _summary(runs)}
        if on_arm:
            on_arm(result)
    _compare_with_base(result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _summary(runs: list[dict]) -> dict:
    return {metric: interval([run.get(metric) for run in runs]) for metric in METRICS
            if any(run.get(metric) is not None for run in runs)}


def _compare_with_base(result: dict) -> None:
    """Each run's benchmark problems gained and lost against the base model's answers."""
    base = result["arms"].get("base")
    if not base or "benchmark" not in base["runs"][0]:
        return
    base_verdicts = {v["task_id"]: v["passed"] for v in base["runs"][0]["benchmark"]["verdicts"]}
    for data_arm in result["arms"].values():
        for run in data_arm["runs"]:
            mine = {v["task_id"]: v["passed"] for v in run["benchmark"]["verdicts"]}
            run["benchmark_vs_base"] = {"gained": sum(mine[k] and not base_verdicts[k] for k in mine),
                                        "lost": sum(base_verdicts[k] and not mine[k] for k in mine)}


def add_runs(result: dict, more: dict) -> dict:
    """`result` with the runs of `more` (the same data, student and settings, other training seeds) added to its
    arms, the summaries and the comparison with the base model redone. Raises if the two do not match."""
    for key in ("student", "training", "inputs", "answering"):
        mine, theirs = result.get(key), more.get(key)
        if key == "student":
            mine, theirs = (None if part is None else {k: v for k, v in part.items() if k != "device"}
                            for part in (mine, theirs))
        if mine != theirs:
            raise ParameterError(f"cannot join the runs: their {key} differ ({mine} against {theirs})")
    joined = copy.deepcopy(result)
    for arm, data in more["arms"].items():
        if arm not in joined["arms"]:
            joined["arms"][arm] = copy.deepcopy(data)
            continue
        seen = {run["seed"] for run in joined["arms"][arm]["runs"]}
        clash = sorted(seen & {run["seed"] for run in data["runs"]})
        if clash and arm != "base":
            raise ParameterError(f"cannot join the runs: arm {arm} has seed(s) {clash} twice")
        joined["arms"][arm]["runs"] += [copy.deepcopy(run) for run in data["runs"] if run["seed"] not in seen]
    for data in joined["arms"].values():
        data["summary"] = _summary(data["runs"])
    joined["seeds"] = max(len(data["runs"]) for data in joined["arms"].values())
    _compare_with_base(joined)
    joined["seconds"] = round(result.get("seconds", 0) + more.get("seconds", 0), 1)
    return joined
