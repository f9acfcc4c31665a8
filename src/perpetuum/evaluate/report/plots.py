"""What the report's plots show, computed once (so the JSON carries the same numbers), and the plots themselves.

`distribution_data` and `association_data` run inside `evaluate`; the `*_figure` functions draw with matplotlib's
Agg backend and return `data:image/svg+xml;base64,...` URIs for <img> tags. An SVG inside an <img> cannot run
scripts or load anything, so category labels (untrusted text) drawn into a plot are harmless.
"""

from __future__ import annotations

import base64
import io
from itertools import combinations

import numpy as np
import pandas as pd

from perpetuum.evaluate.encoding import as_float, as_labels, is_numeric, joint_codes
from perpetuum.evaluate.fidelity import _bin_codes, _cramers_v

# Categories drawn per column: the most frequent in the real data; the rest are summed into one "other" bar.
MAX_CATEGORIES = 30
# A numeric column with at most this many distinct real values is drawn as bars, one per value.
MAX_DISCRETE_VALUES = 20
HISTOGRAM_BINS = 30
# Columns in the association heat map (the first ones of the table); beyond this it is unreadable.
MAX_HEATMAP_COLUMNS = 40
# Labels kept per categorical column when measuring association (the rest become one label), to bound memory.
MAX_ASSOCIATION_LABELS = 50

REAL_COLOUR = "#4a6fa5"
SYNTHETIC_COLOUR = "#e07b39"


# ---------------------------------------------------------------------------------------------- data


def distribution_data(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """Per column, the shares real vs synthetic that the distribution plots draw.

    Numeric columns: {"kind": "numeric", "datetime", "edges", "real", "synthetic"} with shares of the present
    values per bin; bins are equal-width over both tables' combined range. Numeric columns with at most 20
    distinct real values and categorical columns: {"kind": "discrete" | "categorical", "labels", "real",
    "synthetic", "other_labels"}, the 30 most frequent real labels, then one "other" share for everything else.
    Every entry has "missing": {"real", "synthetic"}, the share of missing values.
    """
    data = {}
    for column in real.columns:
        first, second = real[column], synthetic[column]
        entry: dict
        if is_numeric(first) and first.nunique() > MAX_DISCRETE_VALUES:
            entry = _histogram(first, second)
        else:
            entry = _bars(first, second, discrete=is_numeric(first))
        entry["missing"] = {"real": float(first.isna().mean()), "synthetic": float(second.isna().mean())}
        data[column] = entry
    return data


def _histogram(real: pd.Series, synthetic: pd.Series) -> dict:
    real_values, synthetic_values = as_float(real), as_float(synthetic)
    real_values, synthetic_values = real_values[np.isfinite(real_values)], synthetic_values[np.isfinite(synthetic_values)]
    is_datetime = bool(pd.api.types.is_datetime64_any_dtype(real.dtype))
    edges = _edges(np.concatenate([real_values, synthetic_values]), whole=not is_datetime)
    return {
        "kind": "numeric",
        "datetime": is_datetime,
        "edges": edges,
        "real": _shares(np.histogram(real_values, bins=edges)[0]),
        "synthetic": _shares(np.histogram(synthetic_values, bins=edges)[0]),
    }


def _edges(values: np.ndarray, *, whole: bool) -> np.ndarray:
    """At most 30 equal-width bins over `values`; bins of whole numbers when every value is whole (so each bin
    holds the same count of possible values and integer columns do not look jagged)."""
    if len(values) == 0:
        return np.linspace(0.0, 1.0, 2)
    low, high = float(values.min()), float(values.max())
    if whole and np.all(values == np.round(values)) and high > low:
        width = max(1.0, float(np.ceil((high - low + 1) / HISTOGRAM_BINS)))
        return np.arange(low - 0.5, high + width, width)
    return np.histogram_bin_edges(values, bins=HISTOGRAM_BINS)


def _bars(real: pd.Series, synthetic: pd.Series, *, discrete: bool) -> dict:
    real_counts = pd.Series(as_labels(real), dtype=object).value_counts(dropna=True)
    synthetic_counts = pd.Series(as_labels(synthetic), dtype=object).value_counts(dropna=True)
    if discrete:
        labels = sorted(set(real_counts.index) | set(synthetic_counts.index), key=float)
        if len(labels) > MAX_CATEGORIES:
            labels = sorted(real_counts.index[:MAX_CATEGORIES], key=float)
    else:
        labels = list(real_counts.index[:MAX_CATEGORIES])
        if len(labels) < MAX_CATEGORIES:
            # Labels only the synthetic data has are shown too (invented categories), most frequent first.
            labels += [label for label in synthetic_counts.index if label not in real_counts.index][
                : MAX_CATEGORIES - len(labels)
            ]
    real_total, synthetic_total = max(real_counts.sum(), 1), max(synthetic_counts.sum(), 1)
    real_shares = [float(real_counts.get(label, 0)) / real_total for label in labels]
    synthetic_shares = [float(synthetic_counts.get(label, 0)) / synthetic_total for label in labels]
    other_labels = len(set(real_counts.index) | set(synthetic_counts.index)) - len(labels)
    return {
        "kind": "discrete" if discrete else "categorical",
        "labels": [_label_text(label) for label in labels],
        "real": real_shares,
        "synthetic": synthetic_shares,
        "other_labels": other_labels,
        "other": {"real": max(0.0, 1.0 - sum(real_shares)), "synthetic": max(0.0, 1.0 - sum(synthetic_shares))},
    }


def _label_text(label) -> str:
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def association_data(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """Pairwise association in each table and its difference (real - synthetic), for the heat map.

    Numeric with numeric: Pearson correlation (signed, [-1, 1]). Any pair with a categorical column: Cramér's V
    ([0, 1]), numeric partners cut into 10 equal-width bins at the real data's edges, missing values a category.
    Only the first 40 columns are compared. Returns {"columns", "real", "synthetic", "difference" (matrices as
    nested lists, None on the diagonal and where undefined), "measure" ({"a × b": "pearson" | "cramers_v"}),
    "largest" (the 10 pairs with the largest absolute difference)}.
    """
    columns = list(real.columns)[:MAX_HEATMAP_COLUMNS]
    numeric = {column: is_numeric(real[column]) for column in columns}
    values, codes = {}, {}
    for column in columns:
        if numeric[column]:
            values[column] = (as_float(real[column]), as_float(synthetic[column]))
            codes[column] = _bin_codes(*values[column], each_table=False)
        else:
            codes[column] = tuple(_capped(part) for part in joint_codes(real[column], synthetic[column]))
    size = len(columns)
    matrices = {name: [[None] * size for _ in range(size)] for name in ("real", "synthetic", "difference")}
    measure = {}
    for (i, first), (j, second) in combinations(enumerate(columns), 2):
        if numeric[first] and numeric[second]:
            pair = [_pearson(x, y) for x, y in zip(values[first], values[second])]
            measure[f"{first} × {second}"] = "pearson"
        else:
            pair = [_cramers_v(x, y) for x, y in zip(codes[first], codes[second])]
            measure[f"{first} × {second}"] = "cramers_v"
        pair = [float(value) if value is not None and np.isfinite(value) else None for value in pair]
        difference = pair[0] - pair[1] if None not in pair else None
        for name, value in zip(("real", "synthetic", "difference"), (*pair, difference)):
            matrices[name][i][j] = matrices[name][j][i] = value
    pairs = [
        (columns[i], columns[j], matrices["difference"][i][j])
        for i, j in combinations(range(size), 2)
        if matrices["difference"][i][j] is not None
    ]
    largest = sorted(pairs, key=lambda item: -abs(item[2]))[:10]
    return {
        "columns": columns,
        **matrices,
        "measure": measure,
        "largest": [
            {"pair": [a, b], "real": matrices["real"][columns.index(a)][columns.index(b)],
             "synthetic": matrices["synthetic"][columns.index(a)][columns.index(b)], "difference": d}
            for a, b, d in largest
        ],
        "left_out_columns": list(real.columns)[MAX_HEATMAP_COLUMNS:],
    }


def _capped(codes: np.ndarray) -> np.ndarray:
    """Codes with every label beyond the 50 most frequent merged into one."""
    counts = np.bincount(codes)
    if len(counts) <= MAX_ASSOCIATION_LABELS:
        return codes
    keep = np.argsort(-counts, kind="stable")[: MAX_ASSOCIATION_LABELS - 1]
    remap = np.full(len(counts), MAX_ASSOCIATION_LABELS - 1)
    remap[keep] = np.arange(len(keep))
    return remap[codes]


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    both = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[both], y[both]
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


# ---------------------------------------------------------------------------------------------- drawing


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _style(axis, grid_axis: str) -> None:
    axis.spines[["top", "right"]].set_visible(False)
    axis.tick_params(labelsize=7, colors="#333333")
    axis.grid(axis=grid_axis, color="#e5e5e5", linewidth=0.6)
    axis.set_axisbelow(True)


def to_data_uri(figure, *, tight: bool = False) -> str:
    """The figure as an SVG data URI (closed afterwards, so figures never pile up in memory).

    Distribution plots keep their fixed size (not `tight`), so every one is drawn at the same scale on the page.
    """
    plt = _pyplot()
    buffer = io.BytesIO()
    # svg.hashsalt makes the ids inside the SVG the same from run to run, so reports diff cleanly.
    with plt.rc_context({"svg.hashsalt": "perpetuum", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight" if tight else None, metadata={"Date": None})
    plt.close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Distribution plots: every figure this wide, with these margins (inches), so all share one scale on the page.
FIGURE_WIDTH = 4.2
LABEL_MARGIN = 1.5
NUMBER_MARGIN = 0.55


def _figure(height: float, left: float, bottom: float = 0.42, top: float = 0.12):
    plt = _pyplot()
    figure = plt.figure(figsize=(FIGURE_WIDTH, height))
    axis = figure.add_axes(
        (left / FIGURE_WIDTH, bottom / height, 1 - (left + 0.15) / FIGURE_WIDTH, 1 - (bottom + top) / height)
    )
    return figure, axis


def distribution_figure(entry: dict) -> str:
    """Real vs synthetic for one column: overlaid histograms, or paired horizontal bars for labels.

    No legend inside the plot: the report states the colours once, above all plots.
    """
    if entry["kind"] == "numeric":
        figure, axis = _figure(2.3, NUMBER_MARGIN)
        edges = np.asarray(entry["edges"], dtype=float)
        if entry.get("datetime"):
            edges = pd.to_datetime(edges).to_numpy()
        axis.stairs(entry["real"], edges, fill=True, color=REAL_COLOUR, alpha=0.35)
        axis.stairs(entry["real"], edges, color=REAL_COLOUR, linewidth=1.1)
        axis.stairs(entry["synthetic"], edges, color=SYNTHETIC_COLOUR, linewidth=1.5)
        axis.set_ylabel("share of rows", fontsize=7)
        axis.xaxis.get_offset_text().set_fontsize(7)
        if entry.get("datetime"):
            for label in axis.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
        _style(axis, "y")
    else:
        labels = list(entry["labels"])
        real, synthetic = list(entry["real"]), list(entry["synthetic"])
        if entry.get("other_labels"):
            labels.append(f"other ({entry['other_labels']} labels)")
            real.append(entry["other"]["real"])
            synthetic.append(entry["other"]["synthetic"])
        labels = [_shorten(label) for label in labels]
        rows = max(len(labels), 1)
        figure, axis = _figure(0.2 * rows + 0.62, LABEL_MARGIN, bottom=0.42, top=0.08)
        positions = np.arange(rows)
        axis.barh(positions - 0.2, real, height=0.4, color=REAL_COLOUR)
        axis.barh(positions + 0.2, synthetic, height=0.4, color=SYNTHETIC_COLOUR)
        axis.set_yticks(positions, labels)
        axis.set_ylim(rows - 0.5, -0.5)
        axis.set_xlabel("share of rows", fontsize=7)
        _style(axis, "x")
    return to_data_uri(figure)


def _shorten(label: str, width: int = 26) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def association_figure(associations: dict) -> str | None:
    """A heat map of association real - synthetic (red: weaker in synthetic, blue: stronger); None for < 2 columns."""
    columns = associations.get("columns") or []
    if len(columns) < 2:
        return None
    plt = _pyplot()
    matrix = np.array(
        [[np.nan if value is None else value for value in row] for row in associations["difference"]], dtype=float
    )
    size = len(columns)
    side = min(9.0, 1.6 + 0.32 * size)
    figure, axis = plt.subplots(figsize=(side + 1.0, side))
    limit = max(0.1, float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 0.1)
    image = axis.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    labels = [_shorten(str(column), 22) for column in columns]
    axis.set_xticks(range(size), labels, rotation=60, ha="right", fontsize=7)
    axis.set_yticks(range(size), labels, fontsize=7)
    if size <= 16:
        for i in range(size):
            for j in range(size):
                if np.isfinite(matrix[i, j]) and abs(matrix[i, j]) >= 0.005:
                    axis.text(j, i, f"{matrix[i, j]:+.2f}".replace("+0.", "+.").replace("-0.", "−."),
                              ha="center", va="center", fontsize=5.5,
                              color="white" if abs(matrix[i, j]) > 0.6 * limit else "#222222")
    colorbar = figure.colorbar(image, ax=axis, fraction=0.04, pad=0.02)
    colorbar.ax.tick_params(labelsize=7)
    colorbar.set_label("association real − synthetic", fontsize=8)
    return to_data_uri(figure, tight=True)


def precision_recall_figure(result: dict) -> str | None:
    """The α-precision and β-recall curves against the ideal diagonal; None when the metric gave no curves."""
    if not isinstance(result, dict) or "precision_curve" not in result:
        return None
    precision, recall = result["precision_curve"], result.get("recall_curve") or {}
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.2, 3.0))
    axis.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="ideal")
    axis.plot(precision["alpha"], precision["precision"], color=REAL_COLOUR, linewidth=1.6, marker=".",
              label="α-precision: synthetic share inside")
    if recall:
        axis.plot(recall["beta"], recall["recall"], color=SYNTHETIC_COLOUR, linewidth=1.6, marker=".",
                  label="β-recall: real share inside")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("α (β): share of real (synthetic) rows inside the ball", fontsize=8)
    axis.set_ylabel("share of the other table inside", fontsize=8)
    _style(axis, "y")
    axis.legend(fontsize=7, frameon=False, loc="upper left")
    return to_data_uri(figure, tight=True)
