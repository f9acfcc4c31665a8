"""The `perpetuum` command: it parses arguments, calls the library, and prints. No logic lives only here.

Every command has a library equivalent: `fit` is `get_synthesizer(name)(...).fit(read_table(...))` then `.save`,
`sample` is `load_synthesizer(folder).sample(n, conditions)`, `schema` is `infer_schema(read_table(...))`,
`demo` is `perpetuum.demo.run_demo`.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from perpetuum import __version__
from perpetuum.errors import ParameterError, PerpetuumError
from perpetuum.progress import progress_bar

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    name="perpetuum",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# soft_wrap: long paths and messages are left for the terminal to wrap, so they stay whole when copied or piped.
console = Console(soft_wrap=True)
error_console = Console(stderr=True, soft_wrap=True)

OUTPUT_FORMATS = (".csv", ".csv.gz", ".parquet", ".jsonl")


# ---------------------------------------------------------------------------------------------- helpers


def _friendly_errors(command):
    """Turn a PerpetuumError into a red one-paragraph message on stderr and exit code 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PerpetuumError as error:
            error_console.print(f"[bold red]Error:[/bold red] [red]{_escape(str(error))}[/red]")
            raise typer.Exit(code=2) from None

    return wrapper


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _check_rows(n: int) -> None:
    if n <= 0:
        raise ParameterError(
            f"-n/--rows must be a positive number of rows to generate; got {n}. Example: -n 50000."
        )


def _output_format(path: Path) -> str:
    """The output format named by the file extension; raises before any slow work when it is not supported."""
    name = path.name.lower()
    for suffix in sorted(OUTPUT_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise ParameterError(
        f"cannot tell which format to write {str(path)!r} in from its extension; "
        f"use one of {', '.join(OUTPUT_FORMATS)} (for example -o synthetic.parquet)."
    )


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` in the format its extension names (.csv, .csv.gz, .parquet, .jsonl), creating parent folders."""
    path = Path(path)
    suffix = _output_format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix in (".csv", ".csv.gz"):
            frame.to_csv(path, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True, date_format="iso")
    except OSError as error:
        raise ParameterError(
            f"cannot write {str(path)!r}: {error.strerror or error}. Choose a folder you can write to with -o."
        ) from None
    return path


def parse_conditions(where: list[str] | None) -> dict[str, str | list[str]] | None:
    """Parse repeated `--where "column=value"` into a conditions dict.

    The text is split on the first "=", so values may contain "=" (`income=>50K` means income equals ">50K").
    The same column given twice means either value; different columns must all hold. Values stay strings:
    the synthesizer converts them to each column's type and rejects unknown columns and unseen values.
    """
    if not where:
        return None
    conditions: dict[str, str | list[str]] = {}
    for clause in where:
        column, separator, value = clause.partition("=")
        column = column.strip()
        if not separator or not column:
            raise ParameterError(
                f'--where {clause!r} is not of the form COLUMN=VALUE; for example --where "income=>50K" '
                "(the text is split on the first '=')."
            )
        if column in conditions:
            previous = conditions[column]
            conditions[column] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            conditions[column] = value
    return conditions


def _read(data: str, table: str | None, query: str | None, encoding: str, verbose: bool = False) -> pd.DataFrame:
    from perpetuum.schema import read_table

    with progress_bar(f"Reading {data}", verbose=verbose):
        return read_table(data, table=table, query=query, encoding=encoding)


def _sample(synthesizer, rows: int, conditions, seed: int, verbose: bool):
    started = time.perf_counter()
    with progress_bar(f"Sampling {rows:,} rows", verbose=verbose):
        frame = synthesizer.sample(rows, conditions=conditions, seed=seed)
    return frame, time.perf_counter() - started


def _describe_conditions(conditions: dict | None) -> str:
    if not conditions:
        return ""
    parts = [
        f"{column} in {values!r}" if isinstance(values, list) else f"{column} = {values!r}"
        for column, values in conditions.items()
    ]
    return " where " + " and ".join(parts)


def _fit(frame, model: str, schema_path: Path | None, seed: int, verbose: bool):
    from perpetuum.schema import TableSchema
    from perpetuum.tabular import get_synthesizer

    synthesizer_class = get_synthesizer(model)
    schema = TableSchema.from_json(schema_path) if schema_path is not None else None
    synthesizer = synthesizer_class(seed=seed, verbose=verbose)
    started = time.perf_counter()
    with progress_bar(f"Fitting {model} on {len(frame):,} rows", verbose=verbose):
        synthesizer.fit(frame, schema=schema)
    return synthesizer, time.perf_counter() - started


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"perpetuum {__version__}")
        raise typer.Exit()


# ---------------------------------------------------------------------------------------------- options

# A string, not a Path: Path would fold the "//" of a SQL URL such as sqlite:///shop.db.
DataArgument = Annotated[
    str,
    typer.Argument(
        metavar="DATA",
        help="The source table: a .csv/.csv.gz, .parquet or SQLite file, or a SQL URL such as sqlite:///shop.db.",
        show_default=False,
    ),
]
TableOption = Annotated[
    Optional[str], typer.Option("--table", help="Table to read when DATA is a database.", show_default=False)
]
QueryOption = Annotated[
    Optional[str],
    typer.Option("--query", help="SQL query to read instead of a whole table (databases only).", show_default=False),
]
EncodingOption = Annotated[str, typer.Option("--encoding", help="Text encoding of a CSV file.")]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Synthesizer name: quality (the default, best fidelity), fast, or any name `perpetuum models` lists.",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same rows.")]
WhereOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--where",
        "-w",
        help=(
            'Only generate rows where COLUMN=VALUE, e.g. --where "income=>50K" (split on the first "="). '
            "Repeat for more columns (all must hold) or for several allowed values of one column."
        ),
        show_default=False,
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or messages, only errors.")]


# ---------------------------------------------------------------------------------------------- commands


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", help="Show the version and exit.", callback=_version_callback, is_eager=True),
    ] = False,
) -> None:
    """Make training data instead of buying it: learn a real table, then sample new rows that keep its statistics.

    Start with [bold]perpetuum demo[/bold], which synthesizes the shipped UCI Adult table and scores the result.
    """


@app.command()
@_friendly_errors
def fit(
    data: DataArgument,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to save the fitted model in (created if needed).")
    ],
    model: ModelOption = "quality",
    schema: Annotated[
        Optional[Path],
        typer.Option(
            "--schema",
            help="A schema JSON (from `perpetuum schema DATA -o schema.json`, edited) to use instead of inferring one.",
            show_default=False,
        ),
    ] = None,
    seed: SeedOption = 0,
    table: TableOption = None,
    query: QueryOption = None,
    encoding: EncodingOption = "utf-8",
    quiet: QuietOption = False,
) -> None:
    """Learn a table and save the model to a folder, for [bold]perpetuum sample[/bold] to use later.

    [bold]Examples[/bold]

      perpetuum fit adult.csv -o models/adult

      perpetuum fit adult.csv --model fast --seed 7 -o models/adult-fast

      perpetuum fit shop.db --table orders --schema orders.schema.json -o models/orders
    """
    frame = _read(data, table, query, encoding, verbose=not quiet)
    synthesizer, seconds = _fit(frame, model, schema, seed, verbose=not quiet)
    synthesizer.save(output)
    if not quiet:
        console.print(
            f"Fitted [bold]{model}[/bold] on {len(frame):,} rows x {frame.shape[1]} columns in {seconds:.1f} s; "
            f"model saved to [bold]{_escape(str(output))}[/bold]"
        )


@app.command()
@_friendly_errors
def sample(
    model_dir: Annotated[
        Path,
        typer.Argument(metavar="MODEL_DIR", help="A model folder written by `perpetuum fit`.", show_default=False),
    ],
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many rows to generate.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Output file; its extension picks the format: .csv, .csv.gz, .parquet or .jsonl.",
        ),
    ],
    where: WhereOption = None,
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Generate rows from a saved model, optionally only rows that meet conditions.

    [bold]Examples[/bold]

      perpetuum sample models/adult -n 50000 -o synthetic.parquet

      perpetuum sample models/adult -n 1000 --where "income=>50K" -o rich.csv

      perpetuum sample models/adult -n 1000 -w "sex=Female" -w "race=Black" -w "race=Asian-Pac-Islander" -o s.jsonl
    """
    from perpetuum.tabular import load_synthesizer

    _check_rows(rows)
    _output_format(output)
    conditions = parse_conditions(where)
    synthesizer = load_synthesizer(model_dir)
    if hasattr(synthesizer, "verbose"):
        synthesizer.verbose = not quiet
    frame, seconds = _sample(synthesizer, rows, conditions, seed, verbose=not quiet)
    write_table(frame, output)
    if not quiet:
        console.print(
            f"Wrote {len(frame):,} rows{_escape(_describe_conditions(conditions))} to "
            f"[bold]{_escape(str(output))}[/bold] ({seconds:.1f} s)"
        )


@app.command()
@_friendly_errors
def synthesize(
    data: DataArgument,
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many rows to generate.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Output file; its extension picks the format: .csv, .csv.gz, .parquet or .jsonl.",
        ),
    ],
    model: ModelOption = "quality",
    where: WhereOption = None,
    seed: SeedOption = 0,
    schema: Annotated[
        Optional[Path],
        typer.Option("--schema", help="A schema JSON to use instead of inferring one.", show_default=False),
    ] = None,
    table: TableOption = None,
    query: QueryOption = None,
    encoding: EncodingOption = "utf-8",
    quiet: QuietOption = False,
) -> None:
    """Fit a model on a table and write synthetic rows in one step (fit + sample, the model is not kept).

    [bold]Examples[/bold]

      perpetuum synthesize adult.csv -n 50000 -o synthetic.csv

      perpetuum synthesize adult.csv -n 5000 --model fast --where "income=>50K" -o rich.parquet
    """
    _check_rows(rows)
    _output_format(output)
    conditions = parse_conditions(where)
    frame = _read(data, table, query, encoding, verbose=not quiet)
    synthesizer, fit_seconds = _fit(frame, model, schema, seed, verbose=not quiet)
    synthetic, sample_seconds = _sample(synthesizer, rows, conditions, seed, verbose=not quiet)
    write_table(synthetic, output)
    if not quiet:
        console.print(
            f"Fitted [bold]{model}[/bold] on {len(frame):,} rows in {fit_seconds:.1f} s, wrote {len(synthetic):,} "
            f"rows{_escape(_describe_conditions(conditions))} to [bold]{_escape(str(output))}[/bold] "
            f"({sample_seconds:.1f} s)"
        )


@app.command("schema")
@_friendly_errors
def schema_command(
    data: DataArgument,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Also save the schema as JSON here, to edit and pass to fit --schema.",
                     show_default=False),
    ] = None,
    table: TableOption = None,
    query: QueryOption = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """Show the inferred kind of each column (continuous, integer, categorical, datetime, identifier, ...).

    [bold]Examples[/bold]

      perpetuum schema adult.csv

      perpetuum schema adult.csv -o adult.schema.json

      [dim]then edit adult.schema.json and run: perpetuum fit adult.csv --schema adult.schema.json -o model/[/dim]
    """
    from perpetuum.schema import infer_schema
    from perpetuum.schema.display import describe_schema

    frame = _read(data, table, query, encoding)
    table_schema = infer_schema(frame)
    console.print(describe_schema(table_schema))
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            table_schema.to_json(output)
        except OSError as error:
            raise ParameterError(f"cannot write {str(output)!r}: {error.strerror or error}.") from None
        console.print(f"Schema saved to [bold]{_escape(str(output))}[/bold]")


@app.command()
@_friendly_errors
def models() -> None:
    """List the synthesizers you can pass to --model.

    [bold]Example[/bold]

      perpetuum models
    """
    from rich.table import Table

    from perpetuum.tabular import available_synthesizers, get_synthesizer

    names = available_synthesizers()
    aliases: dict[str, list[str]] = {}
    for entry in names:
        if " (-> " in entry:
            alias, target = entry.split(" (-> ", 1)
            aliases.setdefault(target.rstrip(")"), []).append(alias)
    listing = Table(title="Synthesizers", show_lines=False)
    listing.add_column("name", style="bold")
    listing.add_column("also called")
    listing.add_column("what it is")
    for name in names:
        if " (-> " in name:
            continue
        doc = (get_synthesizer(name).__doc__ or "").strip().splitlines()
        listing.add_row(name, ", ".join(aliases.get(name, [])), doc[0] if doc else "")
    console.print(listing)


@app.command()
@_friendly_errors
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the synthetic table, model and reports.")
    ] = Path("perpetuum-demo"),
    rows: Annotated[
        Optional[int],
        typer.Option(
            "--rows",
            "-n",
            help="Use only this many rows of Adult (stratified on income), for a quicker run; default: all 32,561.",
            show_default=False,
        ),
    ] = None,
    model: ModelOption = "quality",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Run the whole story on the shipped UCI Adult table: fit, sample, score, condition, save and reload.

    Splits Adult 80/20 into train and holdout, fits the synthesizer on train, samples as many rows, scores
    fidelity (column shapes, pair trends), utility (train-on-synthetic, test-on-real AUC) and privacy
    (exact copies, distance to closest record, detection), and writes synthetic.csv, model/, demo_report.json
    and demo_report.md. About two minutes on 2 cores.

    [bold]Examples[/bold]

      perpetuum demo

      perpetuum demo --rows 5000 --model fast -o /tmp/demo
    """
    from perpetuum.demo import run_demo

    if rows is not None:
        _check_rows(rows)
    run_demo(output, rows=rows, model=model, seed=seed, verbose=not quiet)
