"""`perpetuum generate`, `perpetuum preview` and `perpetuum estimate`: thin typer commands over the library calls.

The main CLI wires them in (with its error handler around each):

    from perpetuum.pipeline.cli_commands import generate_command, preview_command
    app.command("generate")(_friendly_errors(generate_command))
    app.command("preview")(_friendly_errors(preview_command))

or `register_commands(app, wrap=_friendly_errors)` does both. `perpetuum recipes` lives in `perpetuum.recipes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["generate_command", "preview_command", "estimate_command", "register_commands"]

# The exit code of a run that stopped early on a budget limit or a quality monitor (its records are saved).
STOPPED_EXIT_CODE = 3

console = Console(soft_wrap=True)

SpecArgument = Annotated[
    str,
    typer.Argument(
        metavar="SPEC",
        help="A dataset spec (.yaml), e.g. examples/specs/tiny_stories.yaml, or a shipped recipe, e.g. "
        "recipe:tinystories (`perpetuum recipes` lists them).",
        show_default=False,
    ),
]


def _spec_source(spec: str) -> str | Path:
    from perpetuum.pipeline.spec_sources import is_named_source

    return spec if is_named_source(spec) else Path(spec)


def generate_command(
    spec: SpecArgument,
    records: Annotated[int, typer.Option("--records", "-n", help="How many records to generate.", show_default=False)],
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="Output folder: data files, card, and the checkpoint to resume from; or an "
                     "object-store folder such as s3://bucket/prefix (credentials and endpoint from the AWS_* "
                     "variables)."),
    ],
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the run already in the output folder (after a crash or Ctrl-C)."),
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="With --resume: generate the records that failed again.")
    ] = False,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="Real text (.txt or .txt.gz; documents separated by blank lines or <|endoftext|> lines) that "
            "the card's collapse signals compare the generated text with.",
            show_default=False,
        ),
    ] = None,
    generation: Annotated[
        int | None,
        typer.Option(
            "--generation",
            min=0,
            help="Which step of a synthetic-data loop this is, for the card's lineage (default: one past a parent "
            "card, else 0).",
            show_default=False,
        ),
    ] = None,
    decontaminate: Annotated[
        list[Path] | None,
        typer.Option(
            "--decontaminate",
            help="A benchmark or any text file (.jsonl, .json, .gz or text) that records must not share a 13-gram "
            "with; added to every decontamination validator of the spec. Repeat for several files.",
            show_default=False,
        ),
    ] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option("--budget-usd", min=0, help="Stop before spending more US dollars (spec prices) than this.",
                     show_default=False),
    ] = None,
    budget_tokens: Annotated[
        int | None,
        typer.Option("--budget-tokens", min=1, help="Stop before paying for more tokens (in + out) than this.",
                     show_default=False),
    ] = None,
    budget_seconds: Annotated[
        float | None,
        typer.Option("--budget-seconds", min=0, help="Stop before the run's wall time (all sessions) passes this.",
                     show_default=False),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Send every request to the model; neither read nor fill the cache.")
    ] = False,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Generate on a Ray cluster (pip install 'perpetuum\\[ray]'): the cluster RAY_ADDRESS names, else a "
            "new local one. Same records as without it; the checkpoint stays in the output folder.",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            metavar="ADDRESS",
            help="With --ray (implied): the cluster to join, e.g. auto, HEAD:6379 or ray://HEAD:10001.",
            show_default=False,
        ),
    ] = None,
    ray_actors: Annotated[
        int | None,
        typer.Option(
            "--ray-actors",
            min=1,
            help="With --ray: how many actors generate records (default: one per CPU of the cluster); each loads "
            "an embedded model once.",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display or summary, only errors.")] = False,
) -> None:
    """Generate a dataset from a spec: records are checkpointed as they finish, so --resume loses none.

    Repeated requests are answered from the request cache ($PERPETUUM_CACHE_DIR, default
    ~/.cache/perpetuum/requests). With a budget (--budget-* or the spec's execution.budget) the run stops before a
    request that could cross it, keeps what finished and exits with code 3; --resume with a raised budget goes on.

    Writes data.jsonl and data.parquet (per the spec's output.formats), dropped.jsonl, failures.jsonl, card.json
    and card.md into the output folder.

    [bold]Examples[/bold]

      perpetuum generate examples/specs/tiny_stories.yaml -n 200 -o out/stories

      perpetuum generate examples/specs/tiny_stories.yaml -n 200 -o out/stories --resume

      perpetuum generate recipe:tinystories -n 50 -o out/tinystories

      perpetuum generate recipe:python_exercises -n 50 -o out/py --decontaminate HumanEval.jsonl.gz

      perpetuum generate spec.yaml -n 10000 -o out/big --budget-usd 20

      perpetuum generate examples/specs/tiny_stories.yaml -n 100000 -o out/stories --ray --ray-address auto

      perpetuum generate examples/specs/tiny_stories.yaml -n 100000 -o s3://my-bucket/stories --ray
    """
    from perpetuum.pipeline.record_executors import named_record_executor
    from perpetuum.pipeline.run import generate

    executor = "local"
    if ray or ray_address or ray_actors:
        executor = named_record_executor("ray", address=ray_address, actors=ray_actors)

    try:
        result = generate(
            _spec_source(spec),
            records,
            output,
            resume=resume,
            progress=not quiet,
            retry_failed=retry_failed,
            reference=reference,
            generation=generation,
            decontaminate=decontaminate,
            budget=_budget(budget_usd, budget_tokens, budget_seconds),
            cache=False if no_cache else None,
            executor=executor,
        )
    except KeyboardInterrupt:
        Console(stderr=True).print(
            f"Interrupted. Every finished record is saved in {output}; continue with the same command and --resume.",
            markup=False,
        )
        raise typer.Exit(code=130) from None
    if result.stopped:
        Console(stderr=True, soft_wrap=True).print(
            f"Stopped early ({result.stopped['kind']}): {result.stopped['reason']}. Every finished record is saved in "
            f"{output}; continue with --resume" + (" and a raised budget." if result.stopped["kind"] == "budget" else "."),
            style="yellow", markup=False,
        )
    if not quiet:
        _summary(result, output)
    if result.stopped:
        raise typer.Exit(code=STOPPED_EXIT_CODE)


def _budget(usd: float | None, tokens: int | None, seconds: float | None) -> dict | None:
    given = {key: value for key, value in {"usd": usd, "tokens": tokens, "seconds": seconds}.items() if value}
    return given or None


def _summary(result, output: str) -> None:
    card = result.card
    made = f"{result.n_generated + result.n_failed:,}"
    speed = card.get("completion_tokens_per_second")
    cost = card["cost_usd"]["total"]
    console.print(
        f"Generated {made + (f' of {result.n_requested:,}' if made != f'{result.n_requested:,}' else '')} records of "
        f"[bold]{card['name']}[/bold]: {result.n_kept:,} kept, "
        f"{card['records']['dropped']:,} dropped, {result.n_failed:,} failed; "
        f"{card['tokens']['completion']:,} tokens out in {card['wall_seconds']:.1f} s"
        + (f" ({speed:,.0f} tokens/s)" if speed else "")
        + (f", cost ${cost:,.4f}" if cost is not None else "")
    )
    for reason, count in card["records"]["dropped_by_reason"].items():
        console.print(f"  dropped {count:,}: {reason}", markup=False)
    for reason, count in card["records"]["failed_by_reason"].items():
        console.print(f"  failed {count:,}: {reason}", markup=False)
    for label, repair in card.get("repairs", {}).items():
        console.print(f"  {_repair_line(label, repair)}", markup=False)
    for warning in card.get("warnings", []):
        Console(stderr=True).print(f"Warning: {warning}", style="yellow", markup=False)
    cache = card.get("economics", {}).get("cache", {})
    if cache.get("hits"):
        console.print(f"  request cache: {cache['hits']:,} hits, {cache['misses'] or 0:,} misses, "
                      f"{sum(cache['saved_tokens'].values()):,} tokens saved", markup=False)
    console.print(f"Files in {output}: " + ", ".join(Path(path).name for path in result.files.values()), markup=False)


def estimate_command(
    spec: SpecArgument,
    records: Annotated[int, typer.Option("--records", "-n", help="How many records the run would make.",
                                         show_default=False)],
    pilot: Annotated[int, typer.Option("--pilot", "-p", min=2, help="Records the pilot makes (records 0 to p-1).")] = 8,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Checkpoint the pilot records here (a folder, or s3://bucket/prefix); "
                     "`generate` into this folder goes on from them.", show_default=False),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor fill the request cache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Estimate tokens, dollars, wall time and dropped records of a run from a seeded pilot of a few records.

    The pilot makes the first records of the real run, cached (with -o also checkpointed): not paid for twice.

    [bold]Examples[/bold]

      perpetuum estimate recipe:tinystories -n 100000

      perpetuum estimate spec.yaml -n 5000 --pilot 16 -o out/run && perpetuum generate spec.yaml -n 5000 -o out/run
    """
    from perpetuum.pipeline.estimate import estimate

    result = estimate(_spec_source(spec), records, pilot, output_dir=output, cache=False if no_cache else None,
                      progress=not quiet and not as_json)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    _print_estimate(result)


def _print_estimate(result) -> None:
    from rich.table import Table

    table = Table(title=f"{result.name}: per record, from a pilot of {result.pilot} records", title_justify="left")
    for heading in ("column", "calls", "tokens in (mean)", "in p95", "tokens out (mean)", "out p95"):
        table.add_column(heading, justify="left" if heading == "column" else "right")
    for name, stats in result.per_column.items():
        table.add_row(name, f"{stats['calls_mean']:.2f}", f"{stats['prompt_tokens_mean']:,.0f}",
                      f"{stats['prompt_tokens_p95']:,.0f}", f"{stats['completion_tokens_mean']:,.0f}",
                      f"{stats['completion_tokens_p95']:,.0f}")
    per_record = result.per_record
    table.add_row("all", f"{result.calls['per_record']:.2f}", f"{per_record['prompt_tokens']['mean']:,.0f}",
                  f"{per_record['prompt_tokens']['p95']:,.0f}", f"{per_record['completion_tokens']['mean']:,.0f}",
                  f"{per_record['completion_tokens']['p95']:,.0f}", style="bold")
    console.print(table)
    calls = result.calls
    console.print(f"Calls per record: {calls['per_record']:.2f} ({calls['dialogue_turns']:.2f} dialogue turns, "
                  f"{calls['judge_calls']:.2f} judge calls, {calls['repair_attempts']:.2f} repair attempts, "
                  f"{calls['retries']:.2f} retries)", markup=False)
    console.print(result.render().split("\n", 1)[1], markup=False, highlight=False)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _repair_line(label: str, repair: dict) -> str:
    """One line per repaired column or role: pass rates of the records made, before and after repair."""
    first, final = repair["first_try_pass_rate"]["of_made"], repair["after_repair_pass_rate"]["of_made"]
    tokens = repair["tokens"]["prompt"] + repair["tokens"]["completion"]
    return (f"repaired {label} ({repair['validator']}): {_percent(first)} passed at first, {_percent(final)} after "
            f"repair; {repair['records_repaired']:,} repaired with {repair['attempts_used']:,} attempts "
            f"({tokens:,} tokens)")


def preview_command(
    spec: SpecArgument,
    records: Annotated[int, typer.Option("--records", "-n", help="How many records to show.")] = 3,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line (for piping).")] = False,
) -> None:
    """Show the first records a spec makes (every column, before filters); nothing is written.

    [bold]Examples[/bold]

      perpetuum preview examples/specs/tiny_stories.yaml

      perpetuum preview examples/specs/math_tutor.yaml -n 1 --jsonl

      perpetuum preview recipe:math_dialogues -n 1
    """
    from perpetuum.pipeline.run import preview

    rows = preview(_spec_source(spec), records)
    if jsonl:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    from rich.json import JSON
    from rich.panel import Panel

    for index, row in enumerate(rows):
        console.print(Panel(JSON(json.dumps(row, ensure_ascii=False)), title=f"record {index}", title_align="left"))


def register_commands(app: typer.Typer, wrap: Callable[[Callable], Callable] = lambda command: command) -> None:
    """Add `generate`, `preview` and `estimate` to `app`, each wrapped by `wrap` (e.g. the CLI's error handler)."""
    app.command("generate")(wrap(generate_command))
    app.command("preview")(wrap(preview_command))
    app.command("estimate")(wrap(estimate_command))
