"""Time series: learn a real series of prices or returns, sample many plausible paths, shock scenarios that look
like the real crashes, variants of a historical window, and a report of the stylized facts.

    from perpetuum.timeseries import GarchFHS, read_series, parse_shock, shock_scenarios, build_report
    model = GarchFHS(seed=0).fit(read_series("prices.csv", time="Date", values="Close"))
    paths = model.sample(500, length=1000)                        # (500, 1000, 1) log returns
    crash = shock_scenarios(model, parse_shock("drawdown=-35%,days=30"), n=1000)
    build_report(model, shock=parse_shock("drawdown=-35%,days=30")).write("report/")

`perpetuum timeseries fit | sample | scenario | report` is the same from the command line.
"""

from perpetuum.timeseries.data import SeriesData, builtin_series, read_series
from perpetuum.timeseries.model import GarchFHS, load_model
from perpetuum.timeseries.scenarios import Shock, parse_shock, shock_scenarios, stress_windows, window_variants

__all__ = ["SeriesData", "read_series", "builtin_series", "GarchFHS", "load_model", "Shock", "parse_shock",
           "shock_scenarios", "stress_windows", "window_variants", "build_report", "compare_facts",
           "discriminative_score"]


def __getattr__(name: str):
    # The report and the scores pull in scikit-learn and matplotlib; load them when asked for, not with the CLI.
    if name == "build_report":
        from perpetuum.timeseries.report import build_report

        return build_report
    if name == "compare_facts":
        from perpetuum.timeseries.stylized_facts import compare_facts

        return compare_facts
    if name == "discriminative_score":
        from perpetuum.timeseries.discrimination import discriminative_score

        return discriminative_score
    raise AttributeError(f"module 'perpetuum.timeseries' has no attribute {name!r}")
