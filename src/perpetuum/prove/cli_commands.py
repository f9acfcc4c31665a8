"""`perpetuum prove stories|code`: thin typer commands over `perpetuum.prove.prove_stories` and `prove_code`.

The main CLI wires them in with its error handler: `register_commands(app, wrap=_friendly_errors)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from perpetuum.errors import ParameterError

__all__ = ["stories_command", "code_command", "register_commands"]

console = Console(soft_wrap=True)
prove_app = typer.Typer(help="Does the data teach? Train small models on a dataset and score them on real data.",
                        no_args_is_help=True)


def stories_command(
    dataset: Annotated[Path, typer.Argument(help="The synthetic stories: a folder from `perpetuum generate` (its "
                                            "data.jsonl), a .jsonl file, or a text file of stories.")],
    real: Annotated[Path, typer.Option("--real", help="Real stories for training (text: one story per "
                                       "blank-line-separated block, or .jsonl).")],
    holdout: Annotated[Path, typer.Option("--holdout", help="Held-out real stories, never trained on.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for result.json, report.html "
                                                   "and plots/ (default: DATASET/prove, or DATASET.prove for a "
                                                   "file).", show_default=False)] = None,
    field: Annotated[Optional[str], typer.Option("--field", help="The records' text field (default: story, "
                                                 "text or content).", show_default=False)] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per arm (means and 95 % intervals).")] = 3,
    steps: Annotated[int, typer.Option("--steps", help="Optimizer steps per model: the compute budget.")] = 600,
    batch: Annotated[int, typer.Option("--batch", help="Windows per step.")] = 16,
    context: Annotated[int, typer.Option("--context", help="Tokens per window (and the longest sample).")] = 128,
    d_model: Annotated[int, typer.Option("--d-model", help="Transformer width.")] = 128,
    layers: Annotated[int, typer.Option("--layers", help="Transformer blocks.")] = 4,
    heads: Annotated[int, typer.Option("--heads", help="Attention heads.")] = 4,
    vocabulary: Annotated[int, typer.Option("--vocabulary", help="BPE tokens (trained on the real side).")] = 2048,
    samples: Annotated[int, typer.Option("--samples", help="Stories each model writes to be scored.")] = 40,
    threads: Annotated[Optional[int], typer.Option("--threads", help="torch threads (default: all cores).",
                                                   show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="First seed; the same seed gives the same numbers.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, only errors.")] = False,
) -> None:
    """Train the same tiny transformer on the synthetic stories, on as many tokens of real stories, on both, and on
    half the real ones plus the synthetic ones; score held-out real perplexity and the recipe's checks on each
    model's own stories.

    [bold]Example[/bold]

      perpetuum prove stories out/tinystories --real real.txt --holdout held.txt
    """
    from perpetuum.prove.inputs import read_texts
    from perpetuum.prove.report import write_report
    from perpetuum.prove.stories import prove_stories

    synthetic = read_texts(dataset, field=field)
    real_texts, held = read_texts(real), read_texts(holdout)
    model = {"steps": steps, "batch": batch, "context": context, "d_model": d_model, "layers": layers,
             "heads": heads, "threads": threads}
    result = prove_stories(synthetic, real_texts, held, seeds=seeds, model=model, samples=samples,
                           vocabulary_size=vocabulary, seed=seed, progress=not quiet,
                           log=None if quiet else lambda line: console.print(line, markup=False, highlight=False))
    target = output or (dataset / "prove" if dataset.is_dir() else dataset.with_name(dataset.name + ".prove"))
    try:
        paths = write_report(result, target)
    except OSError as error:
        raise ParameterError(f"cannot write to {str(target)!r}: {error.strerror or error}") from None
    if not quiet:
        for arm, data in result["arms"].items():
            summary = data["summary"]["heldout_perplexity"]
            console.print(f"{arm:>20}: held-out real perplexity {summary['mean']:.2f} "
                          f"[{summary['low']:.2f}, {summary['high']:.2f}]", markup=False, highlight=False)
        console.print(f"{result['seconds']:.1f} s. Report: [bold]{paths['html']}[/bold] (JSON: {paths['json']})")


def code_command(
    dataset: Annotated[Path, typer.Argument(help="A generated recipe:python_exercises run: its folder (kept and "
                                            "dropped records, or the checkpoint of an unfinished run) or a .jsonl "
                                            "file of records.")],
    benchmark: Annotated[Optional[Path], typer.Option("--benchmark", help="Held-out problems in HumanEval's "
                                                      "format (.jsonl or .jsonl.gz with prompt, test, entry_point).",
                                                      show_default=False)] = None,
    student: Annotated[str, typer.Option("--student", help="The model to fine-tune: a ladder name, a .gguf file or "
                                         "a Hugging Face folder.")] = "smollm2-135m",
    device: Annotated[str, typer.Option("--device", help="auto (a CUDA GPU when torch sees one), cuda or cpu. On "
                                        "a CPU the command only prints the estimate unless --device cpu.")] = "auto",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for result.json, report.html "
                                                   "and plots/ (default: DATASET/prove-code).",
                                                   show_default=False)] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per fine-tuned arm.")] = 3,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over each arm's exercises.")] = 3,
    learning_rate: Annotated[float, typer.Option("--learning-rate", help="AdamW peak learning rate.")] = 1e-4,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Longest answer.")] = 512,
    estimate: Annotated[bool, typer.Option("--estimate", help="Print the compute estimate; train nothing.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="First seed; the same seed gives the same numbers.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, only errors.")] = False,
) -> None:
    """Fine-tune a small code model on the exercises that passed their tests, on as many that failed them, and
    not at all; score every model's answers to held-out exercises (and a benchmark) in the sandbox.

    [bold]Examples[/bold]

      perpetuum prove code out/python_exercises --benchmark HumanEval.jsonl.gz      # on a machine with a GPU

      perpetuum prove code out/python_exercises --estimate
    """
    from perpetuum.prove.code import CPU_FLOPS, CPU_SECONDS_PER_ANSWER, GPU_FLOPS, code_estimate

    say = (lambda line: None) if quiet else (lambda line: console.print(line, markup=False, highlight=False))
    gpu = device.startswith("cuda") or (device == "auto" and _cuda_available())
    if estimate or not (gpu or device == "cpu"):
        figures = code_estimate(dataset, epochs=epochs, seeds=seeds)
        scratch, tune = figures["from_scratch"], figures["fine_tune"]
        lines = [] if estimate else ["No GPU here: nothing was trained. Pass --device cpu to fine-tune on the CPUs "
                                     f"anyway (about {tune['cpu']} per model, {tune['protocol_cpu']} for all "
                                     f"{tune['models']}), or run it where a GPU is."]
        lines += [
            f"Why fine-tuning: {figures['reason']}.",
            f"Fine-tune of SmolLM2-135M on {figures['exercises']:,} passing exercises "
            f"({'counted in the dataset' if figures['exercises_counted_from_dataset'] else 'assumed'}) x "
            f"{tune['epochs']} epochs = {tune['tokens']:,} tokens, then {tune['answers']:,} answers: "
            f"{tune['flops']:.1e} FLOPs per model; {tune['cpu']} on 2 CPU cores (training at {CPU_FLOPS:.0e} "
            f"FLOP/s and {CPU_SECONDS_PER_ANSWER:g} s an answer, as measured here), {tune['gpu']} on one GPU at "
            f"{GPU_FLOPS:.0e} FLOP/s (assumed). The protocol trains and scores {tune['models']} models: "
            f"{tune['protocol_cpu']} on the CPUs, {tune['protocol_gpu']} on a GPU.",
            f"From scratch (phi-1-small scale, {scratch['parameters'] / 1e6:.0f} M parameters x "
            f"{scratch['tokens'] / 1e9:.0f} B tokens): 6 x N x D = {scratch['flops']:.1e} FLOPs; {scratch['cpu']} "
            f"on the CPUs, {scratch['gpu']} on one GPU.",
        ]
        for line in lines:
            console.print(line, markup=False, highlight=False)
        return
    from perpetuum.prove.code import prove_code, read_exercises
    from perpetuum.prove.code_report import write_code_report
    from perpetuum.prove.code_tasks import benchmark_tasks

    problems = benchmark_tasks(benchmark) if benchmark else None
    result = prove_code(read_exercises(dataset), benchmark=problems, student=student, seeds=seeds, epochs=epochs,
                        learning_rate=learning_rate, max_new_tokens=max_new_tokens, device=device, seed=seed,
                        log=say)
    result["inputs"]["dataset"] = str(dataset)
    if benchmark:
        result["inputs"]["benchmark"] = str(benchmark)
    target = output or (dataset / "prove-code" if dataset.is_dir() else dataset.with_name(dataset.name + ".prove"))
    try:
        paths = write_code_report(result, target)
    except OSError as error:
        raise ParameterError(f"cannot write to {str(target)!r}: {error.strerror or error}") from None
    for arm, data in result["arms"].items():
        cells = [f"{metric} {data['summary'][metric]['mean']:.3f}" for metric in ("benchmark_pass_rate",
                 "heldout_pass_rate") if metric in data["summary"]]
        say(f"{arm:>12}: " + ", ".join(cells))
    if not quiet:
        console.print(f"{result['seconds']:.1f} s. Report: [bold]{paths['html']}[/bold] (JSON: {paths['json']})")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def register_commands(app: typer.Typer, wrap: Callable = lambda command: command) -> None:
    """Add the `prove` group (`prove stories`, `prove code`) to `app`, each command wrapped by `wrap`."""
    prove_app.command("stories")(wrap(stories_command))
    prove_app.command("code")(wrap(code_command))
    app.add_typer(prove_app, name="prove")
