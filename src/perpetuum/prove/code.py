"""`code_estimate`: what proving `recipe:python_exercises` by training would take, in compute arithmetic.

On these machines (2 CPU cores, no GPU lent) no code model that could pass held-out exercises fits, so
`perpetuum prove code` does not train anything; it says why, with the numbers, and what it would need:

* From scratch: the smallest model known to pass HumanEval-style exercises after training on textbook-style data
  is phi-1-small (350 M parameters, 45 % pass@1; Gunasekar et al. 2023, "Textbooks Are All You Need"), trained on a
  corpus of about 7 B tokens seen several times; 7 B tokens seen once is taken here, so the figure is a lower
  bound. Training cost is about 6 x parameters x tokens FLOPs.
* Fine-tuning the smallest model on the ladder (SmolLM2-135M) with LoRA on the passing exercises: it ships only
  as a quantized GGUF file for llama.cpp, which torch cannot train; the estimate is for its Hugging Face weights,
  which would have to be installed first. LoRA still runs the full forward and backward pass through the frozen
  weights: about 6 x parameters x tokens x epochs FLOPs (less a third for the frozen weights' gradients).

The CPU rate is an optimistic figure for dense float32 matrix products on 2 cores; the tiny LM of `prove stories`
reaches far less (its matrices are small and Python overhead dominates).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["code_estimate", "CPU_FLOPS", "GPU_FLOPS"]

CPU_FLOPS = 5e10  # 2 cores, float32, optimistic
GPU_FLOPS = 2e14  # one H100/H200-class GPU, bf16 at a realistic 30-40 % utilisation
SCRATCH_PARAMETERS, SCRATCH_TOKENS = 350e6, 7e9  # phi-1-small's scale
FINE_TUNE_PARAMETERS = 135e6  # SmolLM2-135M
TOKENS_PER_EXERCISE = 300  # problem, solution and tests of one exercise, about


def _passed(record: dict) -> bool:
    value = record.get("tests_pass")
    if isinstance(value, dict):
        return bool(value.get("passed"))
    return value is None or bool(value)


def _exercises(dataset: str | Path | None) -> int | None:
    if dataset is None:
        return None
    from perpetuum.prove.inputs import read_records

    return sum(1 for record in read_records(dataset) if _passed(record))


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:.0f} seconds"


def code_estimate(dataset: str | Path | None = None, exercises: int = 2000, epochs: int = 3) -> dict:
    """The compute arithmetic for proving code data by training, on 2 CPU cores and on one GPU. `dataset`: a
    generated python_exercises folder (its passing exercises are counted); otherwise `exercises` is assumed."""
    counted = _exercises(dataset)
    exercises = counted if counted is not None else exercises
    scratch = 6 * SCRATCH_PARAMETERS * SCRATCH_TOKENS
    fine_tune_tokens = exercises * TOKENS_PER_EXERCISE * epochs
    fine_tune = 6 * FINE_TUNE_PARAMETERS * fine_tune_tokens * 2 / 3
    return {
        "meaningful_on_cpu": False,
        "exercises": exercises, "exercises_counted_from_dataset": counted is not None,
        "from_scratch": {"parameters": SCRATCH_PARAMETERS, "tokens": SCRATCH_TOKENS, "flops": scratch,
                         "cpu": _duration(scratch / CPU_FLOPS), "gpu": _duration(scratch / GPU_FLOPS)},
        "lora_fine_tune": {"parameters": FINE_TUNE_PARAMETERS, "tokens": fine_tune_tokens, "epochs": epochs,
                           "flops": fine_tune, "cpu": _duration(fine_tune / CPU_FLOPS),
                           "gpu": _duration(fine_tune / GPU_FLOPS),
                           "blocker": "SmolLM2-135M ships here only as a quantized GGUF for llama.cpp; torch "
                                      "cannot train it, and its Hugging Face weights are not installed"},
        "reason": ("a model small enough to train from scratch on 2 cores (a few million parameters, as in "
                   "`prove stories`) is far below the smallest size known to pass such exercises (350 M), so its "
                   "pass rate would very likely be zero whatever the data, and say nothing about it; a model that "
                   "can pass exercises is out of reach of these CPUs"),
    }
