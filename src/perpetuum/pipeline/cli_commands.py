"""`perpetuum generate` and `perpetuum preview`: thin typer commands over `perpetuum.pipeline.generate/preview`.

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

__all__ = ["generate_command", "preview_command", "register_commands"]

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
        Path, typer.Option("--output", "-o", help="Output folder: data files, card, and the checkpoint to resume from.")
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

    Writes data.jsonl and data.parquet (per the spec's output.formats), dropped.jsonl, failures.jsonl, card.json
    and card.md into the output folder.

    [bold]Examples[/bold]

      perpetuum generate examples/specs/tiny_stories.yaml -n 200 -o out/stories

      perpetuum generate examples/specs/tiny_stories.yaml -n 200 -o out/stories --resume

      perpetuum generate recipe:tinystories -n 50 -o out/tinystories

      perpetuum generate recipe:python_exercises -n 50 -o out/py --decontaminate HumanEval.jsonl.gz

      perpetuum generate examples/specs/tiny_stories.yaml -n 100000 -o out/stories --ray --ray-address auto
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
            executor=executor,
        )
    except KeyboardInterrupt:
        Console(stderr=True).print(
            f"Interrupted. Every finished record is saved in {output}; continue with the same command and --resume.",
            markup=False,
        )
        raise typer.Exit(code=130) from None
    if quiet:
        return
    card = result.card
    speed = card.get("completion_tokens_per_second")
    cost = card["cost_usd"]["total"]
    console.print(
        f"Generated {result.n_requested:,} records of [bold]{card['name']}[/bold]: {result.n_kept:,} kept, "
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
    console.print(f"Files in {output}: " + ", ".join(Path(path).name for path in result.files.values()), markup=False)


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
    """Add `generate` and `preview` to `app`, each wrapped by `wrap` (e.g. the CLI's error handler)."""
    app.command("generate")(wrap(generate_command))
    app.command("preview")(wrap(preview_command))
