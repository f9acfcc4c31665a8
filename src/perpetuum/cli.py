"""The `perpetuum` command: it parses arguments, calls the library, and prints. No logic lives only here.

Every command has a library equivalent: `fit` is `get_synthesizer(name)(...).fit(read_table(...))` then `.save`,
`sample` is `perpetuum.workflow.sample_saved_model` (`perpetuum.workflow.shards.sample_shards` for a folder),
`synthesize` is `perpetuum.workflow.synthesize`, `schema` is `infer_schema(read_table(...))`, `evaluate` is
`perpetuum.workflow.evaluate_files` (read the tables, then `perpetuum.evaluate.evaluate`) then `.to_html` /
`.to_json`, `rebalance` is `perpetuum.workflow.rebalance`, `demo` is `perpetuum.demo.run_demo`.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from perpetuum import __version__
from perpetuum.errors import ParameterError, PerpetuumError

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


# ---------------------------------------------------------------------------------------------- helpers


def _friendly_errors(command):
    """Turn a PerpetuumError into a red one-paragraph message on stderr and exit code 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return command(*args, **kwargs)
        except PerpetuumError as error:
            error_console.print(f"[bold red]Error:[/bold red] [red]{_escape(str(error))}[/red]")
            raise typer.Exit(code=2) from None

    return wrapper


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Library warnings (a column of mixed types, say) as one yellow line, without Python's source excerpt."""
    error_console.print(f"[bold yellow]Warning:[/bold yellow] [yellow]{_escape(str(message))}[/yellow]")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


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


def _read(data: str, table: str | None, query: str | None, encoding: str, verbose: bool = False):
    """(the table, its lineage) read from DATA."""
    from perpetuum.workflow import read_source

    return read_source(data, table, query, encoding, verbose=verbose)


def _describe_conditions(conditions: dict | None) -> str:
    if not conditions:
        return ""
    parts = [
        f"{column} in {values!r}" if isinstance(values, list) else f"{column} = {values!r}"
        for column, values in conditions.items()
    ]
    return " where " + " and ".join(parts)


def _print_card(run, quiet: bool) -> None:
    """The dataset card's collapse warnings in yellow, then where the card is."""
    for warning in run.card["warnings"]:
        error_console.print(f"[bold yellow]Collapse warning:[/bold yellow] [yellow]{_escape(warning)}[/yellow]")
    if not quiet:
        console.print(f"Dataset card: [bold]{_escape(run.files['card_markdown'])}[/bold] (generation "
                      f"{run.card['lineage']['generation']})")


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
RowsOption = Annotated[int, typer.Option("--rows", "-n", help="How many rows to generate.", show_default=False)]
OutputFileOption = Annotated[
    Path,
    typer.Option("--output", "-o", help="Output file; its extension picks the format: .csv, .csv.gz, .parquet or .jsonl."),
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
EpsilonOption = Annotated[
    Optional[float],
    typer.Option("--epsilon", help="Privacy budget epsilon, required by the private models (dp-aim, dp-mst).",
                 show_default=False),
]
DeltaOption = Annotated[
    Optional[float],
    typer.Option("--delta", help="Privacy budget delta, required by the private models; well below 1/rows.",
                 show_default=False),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or messages, only errors.")]
GenerationOption = Annotated[
    Optional[int],
    typer.Option(
        "--generation",
        help=(
            "Which generation of a synthetic-data loop this output is, for the dataset card's lineage (0: learned "
            "from real data). Default: one more than the card beside DATA if it is Perpetuum output, else 0."
        ),
        show_default=False,
    ),
]


# ---------------------------------------------------------------------------------------------- commands


def _privacy_params(epsilon: float | None, delta: float | None) -> dict:
    """--epsilon/--delta as synthesizer parameters; only given ones, so models without a budget are not offered one."""
    return {name: value for name, value in (("epsilon", epsilon), ("delta", delta)) if value is not None}


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
    epsilon: EpsilonOption = None,
    delta: DeltaOption = None,
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

      perpetuum fit adult.csv --model dp-aim --epsilon 3 --delta 1e-6 -o models/adult-dp
    """
    from perpetuum.workflow import fit_synthesizer

    frame, _ = _read(data, table, query, encoding, verbose=not quiet)
    synthesizer, seconds = fit_synthesizer(frame, model, schema, seed, verbose=not quiet,
                                           params=_privacy_params(epsilon, delta))
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
    rows: RowsOption,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o",
            help="Output file, its extension picking the format (.csv, .csv.gz, .parquet, .jsonl); or a folder (no "
            "extension): Parquet shards, each seeded from (seed, shard), written one at a time or with --ray; the "
            "folder may be in an object store, e.g. s3://bucket/prefix (AWS_* variables for credentials, endpoint).",
        ),
    ],
    where: WhereOption = None,
    seed: SeedOption = 0,
    shard_rows: Annotated[
        Optional[int],
        typer.Option("--shard-rows", min=1, show_default=False,
                     help="Rows per Parquet shard when -o is a folder (default 500,000); the same seed and shard size "
                          "give the same shards, here or on Ray."),
    ] = None,
    ray: Annotated[
        bool,
        typer.Option("--ray", help="Write the shards in parallel on a Ray cluster (pip install "
                                   "'perpetuum\\[ray]'): the one RAY_ADDRESS names, else a new local one. -o must be "
                                   "a folder."),
    ] = False,
    ray_address: Annotated[
        Optional[str],
        typer.Option("--ray-address", metavar="ADDRESS", show_default=False,
                     help="With --ray (implied): the cluster to join, e.g. auto or HEAD:6379."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="With a folder output: write only the shards still missing there.")
    ] = False,
    reference: Annotated[
        Optional[str],
        typer.Option(
            "--reference",
            help="The table the model was fitted on: the dataset card then has collapse signals against it and its "
            "SHA-256 in the lineage.",
            show_default=False,
        ),
    ] = None,
    generation: GenerationOption = None,
    quiet: QuietOption = False,
) -> None:
    """Generate rows from a saved model, optionally only rows that meet conditions.

    Writes a dataset card beside the output (OUTPUT_STEM.card.json and .card.md): lineage (synthetic, model,
    seed, generation) and, with --reference, collapse signals against the training table.

    [bold]Examples[/bold]

      perpetuum sample models/adult -n 50000 -o synthetic.parquet

      perpetuum sample models/adult -n 1000 --where "income=>50K" -o rich.csv

      perpetuum sample models/adult -n 1000 -w "sex=Female" -w "race=Black" -w "race=Asian-Pac-Islander" -o s.jsonl

      perpetuum sample models/adult -n 100000000 -o synthetic/ --ray

      perpetuum sample models/adult -n 100000000 -o s3://my-bucket/synthetic --ray
    """
    from perpetuum.storage import is_remote
    from perpetuum.workflow import sample_saved_model
    from perpetuum.workflow.files import OUTPUT_FORMATS, output_stem

    conditions = parse_conditions(where)
    if not output.lower().endswith(OUTPUT_FORMATS):
        _sample_shards(model_dir, rows, output, conditions, seed, shard_rows, ray or bool(ray_address), ray_address,
                       resume, reference, generation, quiet)
        return
    if ray or ray_address or shard_rows or resume:
        raise ParameterError(
            "--ray, --shard-rows and --resume write Parquet shards into a folder: give -o a folder without an "
            f"extension (e.g. -o {output_stem(output)}/) instead of the file {str(output)!r}"
        )
    if is_remote(output):
        raise ParameterError(f"a single output file is written on this machine; for {output!r} give a folder "
                             "(no file extension): Parquet shards are written into an object store directly")
    output = Path(output)
    run = sample_saved_model(model_dir, rows, output, conditions=conditions, seed=seed, reference=reference,
                             generation=generation, verbose=not quiet)
    if not quiet:
        console.print(
            f"Wrote {len(run.synthetic):,} rows{_escape(_describe_conditions(conditions))} to "
            f"[bold]{_escape(str(output))}[/bold] ({run.sample_seconds:.1f} s)"
        )
    _print_card(run, quiet)


def _sample_shards(model_dir, rows, output, conditions, seed, shard_rows, ray, ray_address, resume, reference,
                   generation, quiet) -> None:
    from perpetuum.workflow.shards import DEFAULT_SHARD_ROWS, sample_shards

    if reference is not None:
        raise ParameterError("--reference needs the whole table in memory, which a folder of shards never is; sample "
                             "to a file (-o synthetic.parquet) for collapse signals")
    executor = "local"
    if ray:
        from perpetuum.scale import RayShardWriter

        executor = RayShardWriter(address=ray_address)
    run = sample_shards(model_dir, rows, output, seed=seed, shard_rows=shard_rows or DEFAULT_SHARD_ROWS,
                        conditions=conditions, executor=executor, resume=resume, generation=generation,
                        verbose=not quiet)
    if not quiet:
        console.print(
            f"Wrote {run.rows:,} rows{_escape(_describe_conditions(conditions))} in {len(run.shards)} Parquet shards "
            f"({run.shards_written} written now) to [bold]{_escape(str(output))}[/bold] ({run.sample_seconds:.1f} s); "
            f"card: {_escape(run.files['card_json'])}"
        )


TargetOption = Annotated[
    Optional[str],
    typer.Option(
        "--target",
        help="A column to predict: the report then measures utility (a model trained on synthetic rows, tested on real).",
        show_default=False,
    ),
]
NoPrivacyAttacksOption = Annotated[
    bool,
    typer.Option(
        "--no-privacy-attacks",
        help="Skip the membership-inference and Anonymeter attacks (the slow part); copies and DCR are still measured.",
    ),
]


@app.command()
@_friendly_errors
def synthesize(
    data: DataArgument,
    rows: RowsOption,
    output: OutputFileOption,
    model: ModelOption = "quality",
    where: WhereOption = None,
    seed: SeedOption = 0,
    schema: Annotated[
        Optional[Path],
        typer.Option("--schema", help="A schema JSON to use instead of inferring one.", show_default=False),
    ] = None,
    holdout_share: Annotated[
        float,
        typer.Option(
            "--holdout-share",
            help=(
                "Share of the rows kept out of training (seeded random choice) so the report can test privacy and "
                "utility on real rows the model never saw; 0 fits on every row (the report then has no privacy "
                "section)."
            ),
        ),
    ] = 0.2,
    no_report: Annotated[
        bool,
        typer.Option("--no-report", help="Write no report; the model is then fitted on every row (no holdout)."),
    ] = False,
    target: TargetOption = None,
    no_privacy_attacks: NoPrivacyAttacksOption = False,
    no_privacy_filters: Annotated[
        bool,
        typer.Option(
            "--no-privacy-filters",
            help="Keep every sampled row: do not drop rows closer to a training row than real rows are to each other, "
                 "or rows that single out an outlier (dropped rows are otherwise sampled again).",
        ),
    ] = False,
    table: TableOption = None,
    query: QueryOption = None,
    encoding: EncodingOption = "utf-8",
    generation: GenerationOption = None,
    epsilon: EpsilonOption = None,
    delta: DeltaOption = None,
    quiet: QuietOption = False,
) -> None:
    """Fit a model on a table and write synthetic rows in one step (fit + sample, the model is not kept).

    Always writes a dataset card beside the output (OUTPUT_STEM.card.json and .card.md): lineage (source SHA-256,
    synthesizer and parameters, seed, generation) and collapse signals against the rows the model learned from.

    By default a share of the rows (--holdout-share, 0.2) is held out, the model is fitted on the rest, and an
    evaluation report is written beside the output: OUTPUT_STEM.report.html (self-contained) and
    OUTPUT_STEM.report.json. With --where, or --no-report, no report is written and every row is used for fitting.

    Personal identifiers (names, e-mails, phones, ...; see `perpetuum schema`) are replaced by fresh fakes, never
    learned. Privacy filters drop rows too close to a real person and sample again (--no-privacy-filters: off).

    [bold]Examples[/bold]

      perpetuum synthesize adult.csv -n 50000 -o synthetic.csv --target income

      perpetuum synthesize adult.csv -n 5000 --model fast --where "income=>50K" -o rich.parquet

      perpetuum synthesize adult.csv -n 10000 -o out/synthetic.csv --no-report

      perpetuum synthesize adult.csv -n 30000 --model dp-mst --epsilon 1 --delta 1e-6 -o private.csv
    """
    from perpetuum.workflow import synthesize as synthesize_table

    conditions = parse_conditions(where)
    run = synthesize_table(
        data, rows, output, model=model, conditions=conditions, seed=seed, schema=schema,
        holdout_share=holdout_share, report=not no_report, target=target, privacy_attacks=not no_privacy_attacks,
        privacy_filters=not no_privacy_filters, table=table, query=query, encoding=encoding, generation=generation,
        params=_privacy_params(epsilon, delta), verbose=not quiet,
    )
    if not quiet:
        held = f" ({len(run.holdout):,} held out for the report)" if run.holdout is not None else ""
        console.print(
            f"Fitted [bold]{model}[/bold] on {len(run.train):,} rows{held} in {run.fit_seconds:.1f} s, wrote "
            f"{len(run.synthetic):,} rows{_escape(_describe_conditions(conditions))} to "
            f"[bold]{_escape(str(output))}[/bold] ({run.sample_seconds:.1f} s)"
        )
    _print_card(run, quiet)
    if quiet:
        return
    if run.evaluation is None:
        if run.no_report_reason == "conditions":
            console.print(
                "No report: rows generated under --where conditions are not comparable with the whole table. "
                "Run [bold]perpetuum evaluate[/bold] against real rows that meet the same conditions."
            )
        return
    console.print(run.evaluation.summary(), markup=False, highlight=False)
    console.print(f"Report: [bold]{_escape(run.files['report_html'])}[/bold] "
                  f"(JSON: {_escape(run.files['report_json'])})")


@app.command()
@_friendly_errors
def rebalance(
    data: DataArgument,
    target: Annotated[
        str, typer.Option("--target", help="The class column whose rare classes get new rows.", show_default=False)
    ],
    output: OutputFileOption,
    ratio: Annotated[
        str,
        typer.Option(
            "--ratio",
            help=(
                "Rows of each rarer class per row of the most common class, as RARE:COMMON: 1:1 tops every class up "
                "to the most common one, 1:4 to a quarter of it (a number such as 0.25 works too). auto: no rows, "
                "1:4 or 1:1, whichever trains the best --probe classifier by 3-fold cross-validation on the real rows."
            ),
        ),
    ] = "1:1",
    probe: Annotated[
        str,
        typer.Option(
            "--probe",
            help="With --ratio auto, the classifier the rows are for: gradient-boosting (tree ensembles such as "
                 "XGBoost) or logistic (linear models).",
        ),
    ] = "gradient-boosting",
    model: ModelOption = "quality",
    fit_on: Annotated[
        str,
        typer.Option(
            "--fit-on",
            help=(
                "class: one model per rare class, learned from that class's rows alone (the default, measured "
                "best); table: one model of the whole table, sampled with a condition on the target."
            ),
        ),
    ] = "class",
    no_clean: Annotated[
        bool,
        typer.Option(
            "--no-clean",
            help="Keep every new row, also those whose nearest real row is of another class (by default they are "
                 "dropped and sampled again: measured better in benchmarks/rare_events.py).",
        ),
    ] = False,
    seed: SeedOption = 0,
    schema: Annotated[
        Optional[Path],
        typer.Option("--schema", help="A schema JSON to use instead of inferring one.", show_default=False),
    ] = None,
    table: TableOption = None,
    query: QueryOption = None,
    encoding: EncodingOption = "utf-8",
    generation: GenerationOption = None,
    quiet: QuietOption = False,
) -> None:
    """Top up the rare classes of a table with synthetic rows, e.g. thousands of fraud rows from a few dozen.

    Writes every real row, then the new rows of each class that has fewer rows than --ratio asks (the most common
    class gets none), and a dataset card beside the output (OUTPUT_STEM.card.json and .card.md) with each class's
    real and synthetic counts. A new row whose nearest real row belongs to another class is dropped and sampled
    again (--no-clean keeps it). A class needs at least 10 real rows to learn from. Train your classifier on the
    output; test it on real rows only. On 30 real imbalanced tables (benchmarks/rare_events.py, README "Rare
    events") these rows trained a better XGBoost than SMOTE or random oversampling did; for logistic regression
    SMOTE beat the 1:1 rows, and on some tables the real rows alone are best. --ratio auto lets the classifier
    decide (no rows, 1:4 or 1:1, by cross-validation on the real rows): there it had no significant loss on any
    table with either classifier, and the best median rank among the oversamplers.

    [bold]Examples[/bold]

      perpetuum rebalance transactions.csv --target Class --ratio 1:1 -o balanced.csv

      perpetuum rebalance claims.parquet --target fraud --ratio 1:4 --model fast -o claims_balanced.parquet

      perpetuum rebalance transactions.csv --target Class --ratio auto --probe logistic -o balanced.csv
    """
    from perpetuum.workflow import rebalance as rebalance_table

    run = rebalance_table(data, target, output, ratio=ratio, model=model, fit_on=fit_on, clean=not no_clean,
                          seed=seed, schema=schema, table=table, query=query, encoding=encoding,
                          generation=generation, probe=probe, verbose=not quiet)
    if quiet:
        return
    if run.ratio_choice is not None:
        from perpetuum.tabular.ratio_search import ratio_text

        scores = ", ".join(f"{ratio_text(share)} {score:.3f}" for share, score in run.ratio_choice.scores.items())
        chosen = run.ratio_choice.ratio
        console.print(f"  --ratio auto ({probe} classifier, {run.ratio_choice.scoring}, 3-fold CV): {scores}; "
                      f"chosen: {'no synthetic rows' if chosen == 0 else ratio_text(chosen)}")
    for count in run.counts:
        added = f" + {count.synthetic:,} synthetic" if count.synthetic else ""
        console.print(f"  {_escape(target)} = {_escape(repr(count.value))}: {count.real:,} real{added} = "
                      f"{count.total:,} rows")
    console.print(
        f"Wrote {len(run.table):,} rows ({len(run.synthetic):,} synthetic, after the real ones) to "
        f"[bold]{_escape(str(output))}[/bold] ({run.seconds:.1f} s)"
    )
    _print_card(run, quiet)


@app.command("evaluate")
@_friendly_errors
def evaluate_command(
    real: Annotated[
        str,
        typer.Argument(
            metavar="REAL",
            help="The real table the synthesizer learned from (CSV, Parquet, SQLite file or SQL URL).",
            show_default=False,
        ),
    ],
    synthetic: Annotated[
        str,
        typer.Argument(metavar="SYNTHETIC", help="The synthetic table, with the same columns.", show_default=False),
    ],
    holdout: Annotated[
        Optional[str],
        typer.Option(
            "--holdout",
            help="Real rows the synthesizer never saw. Needed for the privacy section; also the utility test set.",
            show_default=False,
        ),
    ] = None,
    target: TargetOption = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the self-contained HTML report.")
    ] = Path("report.html"),
    json_output: Annotated[
        Optional[Path],
        typer.Option("--json", help="Also write every number as JSON here.", show_default=False),
    ] = None,
    no_privacy_attacks: NoPrivacyAttacksOption = False,
    schema: Annotated[
        Optional[Path],
        typer.Option("--schema", help="A schema JSON for the real table instead of inferring one.", show_default=False),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed of the metrics' sampling and models; the same seed, the same numbers.")
    ] = 0,
    encoding: EncodingOption = "utf-8",
    quiet: QuietOption = False,
) -> None:
    """Score a synthetic table against the real one: fidelity, utility, privacy and collapse signals.

    Writes one self-contained HTML report (no network needed to open it) and, with --json, the same numbers as
    JSON; prints a summary table. Without --holdout the privacy section says it cannot be computed; without
    --target there is no utility section.

    [bold]Examples[/bold]

      perpetuum evaluate train.csv synthetic.csv --holdout holdout.csv --target income -o report.html

      perpetuum evaluate real.parquet synthetic.parquet --json report.json --no-privacy-attacks
    """
    from perpetuum.workflow import evaluate_files

    evaluation = evaluate_files(real, synthetic, holdout, target=target, schema=schema, seed=seed,
                                privacy_attacks=not no_privacy_attacks, encoding=encoding, verbose=not quiet)
    evaluation.to_html(output)
    if json_output is not None:
        evaluation.to_json(json_output)
    if not quiet:
        console.print(evaluation.summary(), markup=False, highlight=False)
        written = f"Report: [bold]{_escape(str(output))}[/bold]"
        if json_output is not None:
            written += f" (JSON: {_escape(str(json_output))})"
        console.print(written)


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

    The last column says which columns hold personal identifiers (names, e-mails, phones, addresses, postcodes, IP
    addresses, IBANs, card numbers, national IDs, dates of birth, free text holding any of these) and why: those
    are replaced by fresh fakes, never learned. In the saved JSON, set a column's "pii" to null to model it, or to
    {"kind": "email", "consistent": true} to replace it (consistent: repeated values stay repeated).

    [bold]Examples[/bold]

      perpetuum schema adult.csv

      perpetuum schema adult.csv -o adult.schema.json

      [dim]then edit adult.schema.json and run: perpetuum fit adult.csv --schema adult.schema.json -o model/[/dim]
    """
    from perpetuum.schema import infer_schema
    from perpetuum.schema.display import describe_schema

    frame, _ = _read(data, table, query, encoding)
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
def models(
    llm: Annotated[
        bool, typer.Option("--llm", help="List the embedded LLM backend's models (the ladder) instead.")
    ] = False,
) -> None:
    """List the synthesizers you can pass to --model, or with --llm the embedded backend's models.

    [bold]Examples[/bold]

      perpetuum models
      perpetuum models --llm
    """
    if llm:
        _print_model_ladder()
        return
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


def _print_model_ladder() -> None:
    from rich.table import Table

    from perpetuum.llm.model_ladder import LADDER, ladder_measurements

    measured = ladder_measurements()
    listing = Table(title="Embedded models (backend `embedded`, option `model`)", show_lines=False)
    for heading in ("name", "model", "size", "installed", "tokens/s", "HumanEval pass@1",
                    "recipe yields (after repair)", "notes"):
        listing.add_column(heading, style="bold" if heading == "name" else None)
    for model in LADDER.values():
        figures = measured.get(model.name, {})
        speed = figures.get("tokens_per_second")
        humaneval = figures.get("humaneval_pass_at_1")
        size = model.size or (model.path().stat().st_size if model.installed() and not model.chunked else None)
        listing.add_row(
            model.name,
            f"{model.title} ({model.licence})",
            f"{size / 1e9:.2f} GB" if size else "",
            "yes" if model.installed() else f"no: {model.install_hint}",
            f"{speed:.1f}" if speed else "not measured",
            f"{humaneval:.1%}" if humaneval is not None else "not measured",
            _recipe_yields_cell(figures.get("recipe_yields") or {}),
            model.notes,
        )
    console.print(listing)
    if measured:
        console.print(
            "Measured here by benchmarks/llm_ladder.py: tokens/s of one stream, HumanEval pass@1 greedy in the sandbox "
            "(benchmarks/results/llm_ladder.json); by benchmarks/recipe_yields.py: records that pass every check of "
            "the shipped recipe, per record requested (benchmarks/results/recipe_yields.json)."
        )


def _recipe_yields_cell(yields: dict) -> str:
    """'tinystories 88 % (first try 88 %)', one recipe per line; 'not measured' when there are none."""
    if not yields:
        return "not measured"
    return "\n".join(f"{recipe} {figures['after_repair']:.0%} (first try {figures['first_try']:.0%})"
                     for recipe, figures in sorted(yields.items()))


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
    """Run the whole story on the shipped UCI Adult table: fit, sample, evaluate, condition, save and reload.

    Splits Adult 80/20 into train and holdout, fits the synthesizer on train, samples as many rows, evaluates
    fidelity, utility (income) and privacy (copies, distances, membership inference, Anonymeter) like
    [bold]perpetuum evaluate[/bold], and writes report.html (the evaluation report), report.json, synthetic.csv,
    model/, demo_report.json and demo_report.md. About 45 CPU-seconds: a minute or two on 2 cores.

    [bold]Examples[/bold]

      perpetuum demo

      perpetuum demo --rows 5000 --model fast -o /tmp/demo
    """
    from perpetuum.demo import run_demo
    from perpetuum.workflow import check_row_count

    if rows is not None:
        check_row_count(rows)
    run_demo(output, rows=rows, model=model, seed=seed, verbose=not quiet)


# `perpetuum generate` and `perpetuum preview` (LLM dataset specs) live beside the pipeline they drive.
from perpetuum.pipeline.cli_commands import register_commands  # noqa: E402

register_commands(app, wrap=_friendly_errors)

# `perpetuum recipes` (the shipped specs) lives beside the recipes.
from perpetuum.recipes.cli_commands import register_commands as register_recipe_commands  # noqa: E402

register_recipe_commands(app, wrap=_friendly_errors)

# `perpetuum review DIR` and `perpetuum review export DIR -o OUT` (the human review desk) live in review/.
from perpetuum.review.cli_commands import register_commands as register_review_commands  # noqa: E402

register_review_commands(app, wrap=_friendly_errors)

# `perpetuum collapse` (the model-collapse lab) lives beside the lab it drives.
from perpetuum.collapse.cli_commands import register_commands as register_collapse_commands  # noqa: E402

register_collapse_commands(app, wrap=_friendly_errors)

# `perpetuum timeseries fit|sample|scenario|report` (series, shock scenarios) lives beside the time-series package.
from perpetuum.timeseries.cli_commands import register_commands as register_timeseries_commands  # noqa: E402

register_timeseries_commands(app, wrap=_friendly_errors)

# `perpetuum prove stories|code` (does the data teach?) lives beside the experiment it drives.
from perpetuum.prove.cli_commands import register_commands as register_prove_commands  # noqa: E402

register_prove_commands(app, wrap=_friendly_errors)
