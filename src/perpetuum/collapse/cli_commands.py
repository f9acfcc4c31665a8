"""`perpetuum collapse`: a thin typer command over `perpetuum.collapse.run_experiment`.

The main CLI wires it in with its error handler: `register_commands(app, wrap=_friendly_errors)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from perpetuum.errors import ParameterError

__all__ = ["collapse_command", "register_commands", "load_experiment_data"]

console = Console(soft_wrap=True)


def load_experiment_data(generator: str, data: str | None, corpus: Path | None, *, repeats: int, dims: int,
                         n: int | None, seed: int, documents: int):
    """(real, reference, n) for a generator: the Gaussian toy when gaussian/gmm get no data, the numeric columns
    of DATA for them otherwise, the table for tabular, a seeded train/held-out split of the corpus for text."""
    import numpy as np

    if generator == "text":
        from perpetuum.collapse.text_generator import read_corpus, split_corpus

        if corpus is None:
            raise ParameterError("the text generator needs --corpus FILE: a .txt or .txt.gz of documents separated "
                                 "by lines <|endoftext|> or blank lines")
        train, heldout = split_corpus(read_corpus(corpus), heldout_share=0.2, seed=seed, max_train=documents)
        return train, heldout[:100], n
    if corpus is not None:
        raise ParameterError(f"--corpus is for the text generator; {generator!r} takes --data")
    if data is None:
        if generator == "tabular":
            raise ParameterError("the tabular generator needs --data TABLE (a CSV, Parquet or SQLite file)")
        from perpetuum.collapse.experiment import derived_seed

        size = n or 100
        rng = np.random.default_rng(derived_seed(seed, 1_000_003))
        return rng.standard_normal((repeats, size, dims)), rng.standard_normal((1, 20_000, dims)), size
    from perpetuum.schema import read_table

    frame = read_table(data)
    if generator == "tabular":
        return frame, None, n
    numeric = frame.select_dtypes("number").dropna()
    if numeric.shape[1] == 0 or len(numeric) < 2:
        raise ParameterError(f"{generator!r} fits numbers: {data} has no numeric column with complete rows; "
                             "use --generator tabular for mixed tables")
    return numeric.to_numpy(dtype="float64"), None, n


def collapse_command(
    generator: Annotated[
        str, typer.Option("--generator", "-g", help="gaussian, gmm, tabular, text (or any registered name).")
    ] = "gaussian",
    strategies: Annotated[
        str,
        typer.Option("--strategies", "-s",
                     help="Comma-separated: replace, accumulate, mix:P (share P of real data), accumulate-subsample."),
    ] = "replace,accumulate,mix:0.1",
    generations: Annotated[int, typer.Option("--generations", "-k", help="Generations after the first.")] = 10,
    repeats: Annotated[int, typer.Option("--repeats", "-r", help="Independent repeats (medians are plotted).")] = 1,
    rows: Annotated[
        Optional[int],
        typer.Option("--rows", "-n", help="Per generation: points/rows (characters for text); default the real size.",
                     show_default=False),
    ] = None,
    data: Annotated[
        Optional[str],
        typer.Option("--data", help="A table (CSV, Parquet, SQLite). Without it gaussian/gmm run the paper's toy: "
                     "a standard normal, a fresh real sample per repeat.", show_default=False),
    ] = None,
    corpus: Annotated[
        Optional[Path],
        typer.Option("--corpus", help="Text generator: documents (.txt/.txt.gz) split on <|endoftext|> lines or "
                     "blank lines; 80 % train (at most --documents), 20 % held out.", show_default=False),
    ] = None,
    documents: Annotated[int, typer.Option("--documents", help="Text: training documents used.")] = 150,
    steps: Annotated[int, typer.Option("--steps", help="Text: training steps per generation.")] = 200,
    model: Annotated[str, typer.Option("--model", "-m", help="Tabular: the synthesizer.")] = "fast",
    components: Annotated[int, typer.Option("--components", help="gmm: mixture components.")] = 3,
    dims: Annotated[int, typer.Option("--dims", help="Gaussian toy: dimensions.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same numbers.")] = 0,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for results.json, report.html and report_plots/*.svg.")
    ] = Path("collapse-lab"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table, only errors.")] = False,
) -> None:
    """Train generation after generation on synthetic data and watch what is lost (model collapse).

    Each generation fits the generator on data built by the strategy (replace: only the last synthetic sample;
    accumulate: real plus every sample so far; mix:P: a share P of real data; accumulate-subsample: accumulate,
    then subsample to the real size) and measures variance, tails, Wasserstein distance, rare categories and
    detection (tables) or perplexity and diversity (text).

    [bold]Examples[/bold]

      perpetuum collapse -k 100 -n 100 -r 200                         # the paper's 1-D Gaussian, seconds

      perpetuum collapse -g tabular --data adult.csv -k 5 -n 2000

      perpetuum collapse -g text --corpus stories.txt.gz -s replace,accumulate -k 5
    """
    from perpetuum.collapse import get_generator, parse_strategies, run_experiment

    chosen = parse_strategies(strategies)
    if dims < 1:
        raise ParameterError(f"--dims must be at least 1, got {dims}")
    options = {"components": components} if generator == "gmm" else {}
    if generator == "tabular":
        options = {"model": model}
    if generator == "text":
        options = {"steps": steps}
    collapse_generator = get_generator(generator, **options)
    real, reference, n = load_experiment_data(generator, data, corpus, repeats=repeats, dims=dims, n=rows, seed=seed,
                                              documents=documents)
    result = run_experiment(collapse_generator, real, strategies=[item.name for item in chosen],
                            generations=generations, n=n, repeats=repeats, seed=seed, reference=reference,
                            measure_n=500 if generator in ("gaussian", "gmm") and data is None else None,
                            progress=not quiet)
    try:
        output.mkdir(parents=True, exist_ok=True)
        json_path = result.to_json(output / "results.json")
        html_path = result.to_html(output / "report.html")
    except OSError as error:
        raise ParameterError(f"cannot write to {str(output)!r}: {error.strerror or error}") from None
    if not quiet:
        console.print(result.table(), markup=False, highlight=False)
        console.print(f"{result.seconds:.1f} s. Results: [bold]{html_path}[/bold] (JSON: {json_path})")


def register_commands(app: typer.Typer, wrap: Callable = lambda command: command) -> None:
    """Add `perpetuum collapse` to `app`, each command wrapped by `wrap` (the CLI's error handler)."""
    app.command("collapse")(wrap(collapse_command))
