"""`perpetuum timeseries fit | sample | scenario | report`: thin typer commands over `perpetuum.timeseries`.

The main CLI wires them in with its error handler: `register_commands(app, wrap=_friendly_errors)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from perpetuum.errors import ParameterError

__all__ = ["register_commands", "timeseries_app"]

console = Console(soft_wrap=True)

timeseries_app = typer.Typer(
    name="timeseries", no_args_is_help=True, rich_markup_mode="rich",
    help="Learn a real time series (prices or returns) and sample paths, shock scenarios and a report.")

Seed = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same paths.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary, only errors.")]
ModelFolder = Annotated[Path, typer.Argument(help="A model folder written by `perpetuum timeseries fit`.")]


def fit_command(
    data: Annotated[str, typer.Argument(help="CSV or Parquet file with a time column (or builtin:sp500, "
                                             "builtin:nasdaq, builtin:wti: real daily series shipped with arch).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write (model.json, arrays.npz).")],
    time: Annotated[Optional[str], typer.Option("--time", help="The time column (Date for builtin series).",
                                                show_default=False)] = None,
    value: Annotated[Optional[list[str]], typer.Option("--value", help="A value column; repeat for several "
                                                       "(default: every numeric column).", show_default=False)] = None,
    series: Annotated[Optional[str], typer.Option("--series", help="A series-id column: one fit per series.",
                                                  show_default=False)] = None,
    kind: Annotated[str, typer.Option("--kind", help="prices: positive levels, modelled as log returns; returns: "
                                      "values already are returns.")] = "prices",
    volatility: Annotated[str, typer.Option("--volatility", help="aparch (asymmetric power ARCH), gjr (GJR-GARCH) "
                                            "or egarch.")] = "aparch",
    mean: Annotated[str, typer.Option("--mean", help="constant or ar1 (an AR(1) term in the mean).")] = "constant",
    mean_block: Annotated[float, typer.Option("--mean-block", help="Mean block length (days) of the residual "
                                              "bootstrap.")] = 10.0,
    level_window: Annotated[int, typer.Option("--level-window", help="Days in the window of the slow volatility "
                                              "level the returns are divided by (volatility that moves in eras); 0 "
                                              "for none. Series shorter than 4 windows get none.")] = 250,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Fit an asymmetric GARCH with filtered historical simulation on a series and save it.

    [bold]Examples[/bold]

      perpetuum timeseries fit prices.csv --time Date --value Close -o model/

      perpetuum timeseries fit builtin:sp500 -o sp500-model/
    """
    from perpetuum.timeseries.flow import fit_series
    from perpetuum.timeseries.model import MIN_LEVEL_WINDOWS

    model = fit_series(data, time=time, values=value, series=series, kind=kind, volatility=volatility, mean=mean,
                       mean_block=mean_block, level_window=level_window or None, seed=seed, verbose=not quiet)
    model.save(output)
    if not quiet:
        for series_id in model.series_ids:
            for column, fit in zip(model.columns_, model.params(series_id)):
                label = column if series_id == "all" else f"{series_id} / {column}"
                level = (f"slow level over {model.level_window} days" if model.uses_level(series_id)
                         else "no slow level" + (f" (fewer than {MIN_LEVEL_WINDOWS} windows of {model.level_window} "
                                                 "days)" if model.level_window else ""))
                console.print(f"{label}: {len(model.returns_[series_id]):,} returns; {level}; "
                              f"alpha {fit.alpha:.3f}, gamma {fit.gamma:.3f}, beta {fit.beta:.3f}"
                              + (f", delta {fit.delta:.3f}" if model.volatility == "aparch" else ""),
                              markup=False, highlight=False)
        console.print(f"Model: [bold]{output}[/bold] ({model.volatility.upper()} volatility, residuals resampled in "
                      f"blocks of mean {model.mean_block:g} days; returns are "
                      f"{'log returns of the prices' if model.kind_ == 'prices' else 'the values as given'})")


def sample_command(
    model_folder: ModelFolder,
    output: Annotated[Path, typer.Option("--output", "-o", help="Paths file: .parquet or .csv (long format).")],
    n: Annotated[int, typer.Option("-n", "--paths", help="Paths (per series).")] = 100,
    length: Annotated[Optional[int], typer.Option("--length", help="Days per path (default: the real length).",
                                                  show_default=False)] = None,
    series: Annotated[Optional[str], typer.Option("--series", help="Only this series id.", show_default=False)] = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Sample paths that continue the real series from its last day (levels from the last real level)."""
    from perpetuum.timeseries.flow import sample_frame, write_frame
    from perpetuum.timeseries.model import load_model

    model = load_model(model_folder)
    model.verbose = not quiet
    path = write_frame(sample_frame(model, n, length, series_id=series, seed=seed), output)
    if not quiet:
        console.print(f"{n:,} paths written to [bold]{path}[/bold]")


def scenario_command(
    model_folder: ModelFolder,
    output: Annotated[Path, typer.Option("--output", "-o", help="Paths file: .parquet or .csv (long format).")]
    = Path("scenarios.parquet"),
    shock: Annotated[Optional[str], typer.Option("--shock", help="A fall and its speed: 'drawdown=-35%,days=30'.",
                                                 show_default=False)] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Variants of a real window: "
                                                  "2008-09-01..2009-03-31.", show_default=False)] = None,
    n: Annotated[int, typer.Option("-n", "--paths", help="Paths.")] = 1000,
    before: Annotated[int, typer.Option("--before", help="Shock: days before the shock window.")] = 250,
    after: Annotated[int, typer.Option("--after", help="Shock: days after the shock window.")] = 250,
    series: Annotated[Optional[str], typer.Option("--series", help="The series id (default: the first).",
                                                  show_default=False)] = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Paths holding a shock of the asked size and speed, or variants of a historical window.

    [bold]Examples[/bold]

      perpetuum timeseries scenario model/ --shock "drawdown=-35%,days=30" -n 1000 -o crash.parquet

      perpetuum timeseries scenario model/ --window 2008-09-01..2009-03-31 -n 200 -o variants.parquet
    """
    from perpetuum.timeseries.flow import parse_window, write_frame
    from perpetuum.timeseries.model import load_model
    from perpetuum.timeseries.scenarios import parse_shock, shock_scenarios, window_variants

    if (shock is None) == (window is None):
        raise ParameterError("give exactly one of --shock 'drawdown=-35%,days=30' or --window START..END")
    model = load_model(model_folder)
    if shock is not None:
        result = shock_scenarios(model, parse_shock(shock), n, before=before, after=after, series_id=series,
                                 seed=seed, verbose=not quiet)
        summary = result.summary
        message = (f"{n:,} paths; {summary['hit_rate']:.1%} fall {summary['shock']['drawdown']:.0%} "
                   f"(within {summary['tolerance']:.0%}) inside days {before}..{before + summary['shock']['days']}; "
                   f"volatility during/before {summary['profile']['ratio_during']:.2f} (median)")
    else:
        start, end = parse_window(window)
        result = window_variants(model, start, end, n, series_id=series, seed=seed)
        summary = result.summary
        message = (f"{n:,} variants of {summary['window']['start']}..{summary['window']['end']}; drawdown median "
                   f"{summary['drawdown']['median']:.1%} (real {summary['real_drawdown']:.1%}); correlation with the "
                   f"real days {summary['correlation_with_real']['median']:.3f}")
    path = write_frame(result.to_frame(), output)
    if not quiet:
        console.print(message, markup=False, highlight=False)
        console.print(f"Written to [bold]{path}[/bold]")


def report_command(
    model_folder: ModelFolder,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for report.html and report.json.")]
    = Path("timeseries-report"),
    n: Annotated[int, typer.Option("-n", "--paths", help="Synthetic paths, each as long as the real series.")] = 200,
    shock: Annotated[Optional[str], typer.Option("--shock", help="Also a shock scenario: 'drawdown=-35%,days=30'.",
                                                 show_default=False)] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Also variants of a real window: START..END.",
                                                  show_default=False)] = None,
    series: Annotated[Optional[str], typer.Option("--series", help="The series id (default: the first).",
                                                  show_default=False)] = None,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Stylized facts real vs synthetic with bootstrap intervals, drawdowns, VaR/ES, a discriminative score, and
    plots of paths and shock scenarios, as HTML and JSON."""
    from perpetuum.timeseries.flow import parse_window
    from perpetuum.timeseries.model import load_model
    from perpetuum.timeseries.report import build_report
    from perpetuum.timeseries.scenarios import parse_shock

    model = load_model(model_folder)
    report = build_report(model, n_paths=n, shock=parse_shock(shock) if shock else None,
                          window=parse_window(window) if window else None, series_id=series, seed=seed,
                          verbose=not quiet)
    html_path, json_path = report.write(output)
    if not quiet:
        for column in report.data["columns"]:
            console.print(f"{column['column']}: {column['facts_inside']}/{len(column['facts'])} stylized facts inside "
                          f"the real 95 % interval; discriminative score {column['discriminative']['score']:.3f}",
                          markup=False, highlight=False)
        console.print(f"Report: [bold]{html_path}[/bold] (JSON: {json_path})")


def register_commands(app: typer.Typer, wrap: Callable = lambda command: command) -> None:
    """Add `perpetuum timeseries ...` to `app`, each command wrapped by `wrap` (the CLI's error handler)."""
    timeseries_app.command("fit")(wrap(fit_command))
    timeseries_app.command("sample")(wrap(sample_command))
    timeseries_app.command("scenario")(wrap(scenario_command))
    timeseries_app.command("report")(wrap(report_command))
    app.add_typer(timeseries_app, name="timeseries")
