"""What a collapse experiment found: per strategy and metric, one value per generation and repeat, with the
summaries (median, mean, 10th/90th percentiles over repeats) that the table, JSON and plots show."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CollapseResult", "METRIC_DESCRIPTIONS"]

# What each metric means, which way is better and its ideal value: shown in the table, the JSON and the page.
METRIC_DESCRIPTIONS = {
    "variance_ratio": "sample variance / real variance (median over columns); ideal 1, collapse drives it to 0",
    "covariance_trace_ratio": "trace of the sample covariance / real one: total spread kept; ideal 1",
    "log_determinant_difference": "log det of the sample covariance minus the real one: volume kept; ideal 0",
    "wasserstein": "1-D Wasserstein distance to the real data in real standard deviations (mean over columns); ideal 0",
    "tail_mass": "share of the sample beyond the real 1 %/99 % quantiles, per tail; ideal 0.01, collapse drives it to 0",
    "tail_mass_lower": "share below the real 1 % quantile; ideal 0.01",
    "tail_mass_upper": "share above the real 99 % quantile; ideal 0.01",
    "tail_coverage": "real tail mass kept beyond the 1st/99th percentiles, min(ratio, 1) per tail; ideal 1",
    "rare_category_survival": "share of categories rarer than 1 % in the real data that still occur; ideal 1",
    "detection": "1 - (2 AUC - 1) of a classifier telling synthetic from real rows; 1 = indistinguishable",
    "heldout_perplexity": "perplexity per character of held-out real text under this generation's model; lower is better",
    "generated_perplexity_mean": "mean per-document perplexity of the generated text under the generation-0 model",
    "generated_perplexity_p90": "90th percentile of the per-document perplexity under the generation-0 model",
    "distinct_2": "distinct word bigrams / all bigrams of the generated text; higher is more varied",
    "vocabulary_size": "different words in the generated text (same amount of text every generation)",
    "documents": "documents (texts) in the generation's sample",
}


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _plain(value.item())
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass
class CollapseResult:
    generator: dict
    strategies: list[str]
    generations: int
    repeats: int
    n: int
    seed: int
    # {strategy: {metric: array (generations + 1, repeats)}}
    metrics: dict[str, dict[str, np.ndarray]]
    seconds: float
    reference: dict = field(default_factory=dict)  # the real data's own value of a metric, where it has one
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def metric_names(self) -> list[str]:
        return list(dict.fromkeys(name for by_metric in self.metrics.values() for name in by_metric))

    @staticmethod
    def number_text(value: float) -> str:
        """A metric value as the table and the page show it ("-" when missing or not finite)."""
        return _format(value)

    def describe(self, metric: str) -> str:
        """What `metric` means, which way is better and its ideal value ("" for a metric without a description)."""
        return METRIC_DESCRIPTIONS.get(metric, "")

    def values(self, metric: str, strategy: str) -> np.ndarray:
        """Every value: an array (generations + 1, repeats)."""
        return self.metrics[strategy][metric]

    def median(self, metric: str, strategy: str) -> np.ndarray:
        """The median over repeats, one value per generation (NaN values ignored)."""
        return _nan_statistic(np.nanmedian, self.values(metric, strategy))

    def mean(self, metric: str, strategy: str) -> np.ndarray:
        return _nan_statistic(np.nanmean, self.values(metric, strategy))

    def quantile(self, metric: str, strategy: str, q: float) -> np.ndarray:
        return _nan_statistic(lambda values, axis: np.nanquantile(values, q, axis=axis), self.values(metric, strategy))

    def to_dict(self, *, include_repeats: bool | None = None) -> dict:
        """JSON-ready: settings, and per strategy and metric the median, mean and 10th/90th percentiles per
        generation; every repeat's values too when there are at most 20 repeats (or `include_repeats`)."""
        include_repeats = self.repeats <= 20 if include_repeats is None else include_repeats
        strategies = {}
        for strategy in self.strategies:
            entry = {}
            for metric in self.metrics[strategy]:
                summary = {
                    "median": self.median(metric, strategy).tolist(),
                    "mean": self.mean(metric, strategy).tolist(),
                    "q10": self.quantile(metric, strategy, 0.1).tolist(),
                    "q90": self.quantile(metric, strategy, 0.9).tolist(),
                }
                if include_repeats:
                    summary["repeats"] = self.values(metric, strategy).T.tolist()
                entry[metric] = summary
            strategies[strategy] = entry
        return _plain({
            "generator": self.generator,
            "strategies": self.strategies,
            "generations": self.generations,
            "repeats": self.repeats,
            "n_per_generation": self.n,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "created": self.created,
            "metric_descriptions": {name: METRIC_DESCRIPTIONS.get(name, "") for name in self.metric_names()},
            "reference": self.reference,
            "results": strategies,
        })

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        return path

    def table(self, metrics: list[str] | None = None, generations: list[int] | None = None) -> str:
        """A plain-text table: one row per strategy and chosen generation, the median over repeats of each metric."""
        metrics = metrics or self.metric_names()
        if generations is None:
            generations = sorted({0, 1, self.generations // 2, self.generations})
        header = ["strategy", "gen", *metrics]
        rows = [header]
        for strategy in self.strategies:
            for generation in generations:
                row = [strategy, str(generation)]
                for metric in metrics:
                    value = self.median(metric, strategy)[generation] if metric in self.metrics[strategy] else math.nan
                    row.append(_format(value))
                rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.rjust(width) if i > 1 else cell.ljust(width) for i, (cell, width) in
                           enumerate(zip(row, widths))) for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def to_html(self, path: str | Path, title: str | None = None) -> Path:
        """One self-contained HTML page: a plot per metric (strategies as lines, generations on x) and the table."""
        from perpetuum.collapse.report import write_html

        return write_html(self, path, title=title)


def _nan_statistic(function, values: np.ndarray) -> np.ndarray:
    out = np.full(values.shape[0], np.nan)
    present = ~np.isnan(values).all(axis=1)
    if present.any():
        out[present] = function(values[present], axis=1)
    return out


def _format(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"
