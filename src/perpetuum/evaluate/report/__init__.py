"""The report: what each metric means, and how its numbers are shown (HTML in `html.py`, plain text here).

`METRICS` is the one catalogue of every metric an evaluation runs: its label, which way is better, the text that
explains it (range, direction, how it is computed) and which of its numbers are shown. The HTML report, the text
summary and the CLI all read it, so an explanation is written once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["METRICS", "Metric", "format_value", "lookup", "metric_rows", "summary_text"]


@dataclass(frozen=True)
class Metric:
    key: str
    section: str
    label: str
    better: str
    explanation: str
    # (path into the result, e.g. "tail_coverage.score" or "len:strong_pairs"; label; format)
    values: tuple[tuple[str, str, str], ...]


METRICS: tuple[Metric, ...] = (
    Metric(
        "column_shapes", "fidelity", "Column shapes", "higher (1 = identical)",
        "Per column, 1 − the Kolmogorov–Smirnov statistic (numbers, dates) or 1 − the total-variation distance "
        "between category frequencies (labels); the score is the mean over columns. Range 0–1. Missing values are "
        "ignored here (see Missing values). Agrees with SDMetrics' Column Shapes.",
        (("score", "score", "score"),),
    ),
    Metric(
        "column_pair_trends", "fidelity", "Column pair trends", "higher (1 = identical)",
        "Per pair of columns: 1 − |r_real − r_synthetic| / 2 for two numeric columns (Pearson r), else 1 − the "
        "total-variation distance between the two contingency tables (numbers cut into 10 bins, missing a "
        "category). As in SDMetrics' Quality Report, only pairs with a strong real relationship (|r| > 0.5 or "
        "Cramér's V > 0.3) enter the score; the mean over all pairs is shown too. Range 0–1.",
        (("score", "score (strong pairs)", "score"), ("score_all_pairs", "all pairs", "score"),
         ("len:strong_pairs", "strong pairs", "count")),
    ),
    Metric(
        "missing_values", "fidelity", "Missing values", "higher (1 = same rates)",
        "Per column, 1 − |missing rate real − missing rate synthetic|; the score is the mean over columns. Range 0–1.",
        (("score", "score", "score"),),
    ),
    Metric(
        "category_coverage", "fidelity", "Category coverage", "higher (1 = all present)",
        "Per categorical column, the share of distinct real categories that occur in the synthetic data at all "
        "(unweighted: a rare category counts as much as a common one); the score is the mean over columns. "
        "Identifier-like columns (mostly distinct labels) are listed but not scored. Range 0–1.",
        (("score", "score", "score"),),
    ),
    Metric(
        "range_adherence", "fidelity", "Range adherence", "higher (1 = all inside)",
        "Per column, the share of synthetic values inside what the real data holds: within the real [min, max] "
        "for numbers and dates, a real category for labels; the score is the mean over columns. Range 0–1.",
        (("score", "score", "score"),),
    ),
    Metric(
        "detection", "fidelity", "Detection", "higher (1 = cannot tell apart)",
        "A gradient-boosting classifier tries to tell real rows from synthetic ones (at most 5,000 of each, 3-fold "
        "cross-validation). Score = 1 − (2·AUC − 1), clipped to 0–1: 1 means it does no better than a coin, 0 "
        "that it always can. The only fidelity test that sees whole rows, and the hardest to pass.",
        (("score", "score", "score"), ("auc", "classifier AUC", "score"), ("n_rows_each", "rows each", "count")),
    ),
    Metric(
        "precision_recall", "fidelity", "α-precision / β-recall", "higher (1 = best)",
        "After Alaa et al. (2022), simplified (rows embedded with the shared distance encoding, not a learned "
        "network; at most 5,000 rows of each table). α-precision: do synthetic rows fall where real rows are "
        "typical? β-recall: does the synthetic data cover the real data's variety? Each is 1 − 2 × the mean gap "
        "between its curve and the diagonal, range 0–1. Authenticity: share of synthetic rows farther from their "
        "nearest real row than that row is from its own nearest real neighbour; near 0 means copies, about 0.5 or "
        "more is what a fresh sample scores.",
        (("integrated_precision", "α-precision", "score"), ("integrated_recall", "β-recall", "score"),
         ("authenticity", "authenticity", "score")),
    ),
    Metric(
        "tstr", "utility", "Train synthetic, test real", "higher; compare with TRTR",
        "A gradient-boosting model learns the target from the other columns, once from the synthetic rows (TSTR) "
        "and once from real rows (TRTR, the ceiling), and both are scored on the same real test rows. "
        "Classification: ROC AUC (0.5 = chance, 1 = perfect; macro one-vs-rest for more classes) and macro F1 "
        "(0–1). Regression: R² (at most 1; 0 = predicting the mean). Higher is better; the closer TSTR is to TRTR, "
        "the more useful the synthetic data.",
        (("auc", "TSTR AUC", "score"), ("real_auc", "TRTR AUC", "score"), ("f1", "TSTR F1", "score"),
         ("real_f1", "TRTR F1", "score"), ("r2", "TSTR R²", "score"), ("real_r2", "TRTR R²", "score"),
         ("n_train", "synthetic rows", "count"), ("n_test", "test rows", "count")),
    ),
    Metric(
        "feature_importance", "utility", "Feature-importance agreement", "higher (1 = same ranking)",
        "Permutation importance of each feature for a model trained on synthetic rows and one trained on real rows "
        "(at most 10,000 rows each, scored on the same held-out real rows); the score is the Spearman rank "
        "correlation of the two importance vectors. Range −1 to 1. Features that matter to neither model add "
        "noise, so compare the top features too.",
        (("score", "Spearman ρ", "score"),),
    ),
    Metric(
        "exact_copies", "privacy", "Exact copies", "lower (0 = none)",
        "Synthetic rows identical to a training row, in every column. Copies of a row that occurs once in the "
        "training data are the ones that matter (a single person reproduced). The holdout rate is how often fresh "
        "real rows happen to equal a training row: the copy rate that carries no extra risk.",
        (("copies", "copies", "count"), ("share", "share of synthetic", "percent"),
         ("copies_of_unique_rows", "copies of unique rows", "count"), ("holdout_share", "holdout rate", "percent")),
    ),
    Metric(
        "dcr", "privacy", "Distance to closest record", "share: 0.5 ideal; ratio: 1 or more",
        "Share of synthetic rows whose nearest training row is closer than their nearest holdout row (ties count "
        "half), with the training rows subsampled to the holdout's size (at most 10,000 rows each). 0.5 = no "
        "memorising; above 0.5 the synthesizer stays near its training rows. The 5th-percentile ratio divides the "
        "5th percentile of synthetic-to-train distances by that of holdout-to-train distances; below 1 some "
        "synthetic rows sit closer to training records than unseen real rows do.",
        (("share", "DCR share", "score"), ("p5_ratio", "5th-percentile ratio", "score")),
    ),
    Metric(
        "membership_inference", "privacy", "Membership inference", "lower (0.5 AUC = chance)",
        "An attacker scores candidate records (half training rows, half holdout rows, at most 5,000 of each) by "
        "their distance to the closest synthetic row and guesses that close ones were trained on. AUC 0.5 means "
        "the attack learns nothing; advantage = 2·AUC − 1 (0 = none, 1 = certain).",
        (("auc", "attack AUC", "score"), ("advantage", "advantage", "score")),
    ),
    Metric(
        "anonymeter", "privacy", "Anonymeter attacks", "lower (0 = no risk)",
        "Anonymeter (Giomi et al. 2023) runs singling-out, linkability and attribute-inference attacks built from "
        "the synthetic data against the training rows and, as a control, against the holdout. Risk = (attack − "
        "control) / (1 − control): success on training rows beyond what the attack achieves on people it never "
        "saw. Range 0–1, with a 95 % confidence interval; lower is better.",
        (),
    ),
    Metric(
        "collapse_signals", "collapse", "Collapse signals", "see each",
        "The first things to go when a generator collapses towards the bulk of the data. Tail coverage: share of "
        "the real mass beyond the 1st and 99th percentiles that the synthetic data keeps (0–1, higher is better). "
        "Rare-category survival: share of categories rarer than 1 % that still occur (0–1, higher is better). "
        "Variance ratio: synthetic / real variance per numeric column (1 ideal; below 1 narrower).",
        (("tail_coverage.score", "tail coverage", "score"), ("rare_category_survival.score", "rare survival", "score"),
         ("variance_ratio.median", "variance ratio (median)", "score"),
         ("variance_ratio.min", "variance ratio (min)", "score")),
    ),
)

METRIC_BY_KEY = {metric.key: metric for metric in METRICS}

# Labels of every timed step: the metrics, the report's own computations, and the total.
STEP_LABELS = {
    **{metric.key: metric.label for metric in METRICS},
    "distributions": "Distributions (for the plots)",
    "associations": "Pairwise associations (heat map)",
    "total": "Total",
}

SECTION_TITLES = {"fidelity": "Fidelity", "utility": "Utility", "privacy": "Privacy", "collapse": "Collapse signals"}


def lookup(result, path: str):
    """The value at a dotted `path` in a metric result ("len:key" gives the length of a list); None if absent."""
    if path.startswith("len:"):
        value = lookup(result, path[4:])
        return len(value) if isinstance(value, (list, tuple)) else None
    value = result
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def format_value(value, kind: str = "score") -> str:
    """A number as the report shows it: "n/a" for missing or NaN."""
    if value is None or isinstance(value, (dict, list)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = float(value)
    if not math.isfinite(number):
        return "n/a"
    if kind == "count":
        return f"{int(round(number)):,}"
    if kind == "percent":
        return f"{100 * number:.2f} %"
    if kind == "seconds":
        return f"{number:.1f} s" if number >= 0.1 else f"{number:.2f} s"
    return f"{number:.3f}"


def metric_rows(evaluation, section: str) -> list[dict]:
    """The section's metrics that ran: {"metric", "values": [(label, text)], "error", "seconds"} each."""
    rows = []
    results = evaluation.results.get(section, {})
    for metric in METRICS:
        if metric.section != section or metric.key not in results:
            continue
        result = results[metric.key]
        error = result.get("error") if isinstance(result, dict) else None
        values = []
        if not error:
            for path, label, kind in metric.values:
                value = lookup(result, path)
                if value is not None:
                    values.append((label, format_value(value, kind)))
        rows.append({"metric": metric, "values": values, "error": error,
                     "seconds": evaluation.timings.get(metric.key)})
    return rows


def summary_text(evaluation) -> str:
    """A plain-text table: headline scores with their meanings, then each metric's main numbers and its time."""
    rows = evaluation.data["rows"]
    lines = [
        f"Perpetuum evaluation: {rows['real']:,} real rows, {rows['synthetic']:,} synthetic rows, "
        + (f"{rows['holdout']:,} holdout rows" if rows["holdout"] is not None else "no holdout")
        + f", {len(evaluation.data['columns'])} columns"
        + (f", target {evaluation.data['target']!r}" if evaluation.data["target"] else ""),
        "",
        f"{'headline':<10} {'score':>6}  meaning",
    ]
    for name, entry in evaluation.headline.items():
        lines.append(f"{name:<10} {format_value(entry['score']):>6}  {entry['meaning']}")
        if entry.get("decided_by"):
            lines.append(f"{'':<10} {'':>6}  set by {entry['decided_by']}")
        if entry.get("caveat"):
            lines.append(f"{'':<10} {'':>6}  caveat: {entry['caveat']}")
    lines += ["", f"{'section':<9} {'metric':<30} {'seconds':>8}  values"]
    for section in SECTION_TITLES:
        results = evaluation.results.get(section, {})
        if results.get("available") is False:
            lines.append(f"{section:<9} {results.get('reason')}")
            continue
        for row in metric_rows(evaluation, section):
            if row["error"]:
                shown = f"not computed: {row['error']}"
            elif row["metric"].key == "anonymeter":
                shown = ", ".join(f"{label} {text}" for label, text in anonymeter_rows_text(results["anonymeter"]))
            else:
                shown = ", ".join(f"{label} {text}" for label, text in row["values"])
            lines.append(f"{section:<9} {row['metric'].label:<30} {format_value(row['seconds'], 'seconds'):>8}  {shown}")
    warnings = (evaluation.results.get("collapse", {}).get("collapse_signals") or {}).get("warnings") or []
    for warning in warnings:
        lines.append(f"warning: {warning}")
    lines += _privacy_protection_lines(evaluation.metadata)
    lines += ["", f"total {format_value(evaluation.timings.get('total'), 'seconds')}"]
    return "\n".join(lines)


def _privacy_protection_lines(metadata: dict) -> list[str]:
    """The personal identifiers replaced and what the privacy filters removed, when the run recorded them."""
    lines = []
    for entry in metadata.get("pii") or []:
        lines.append(f"personal identifier {entry['column']!r} ({entry['kind']}): {entry['replaced_by']}")
    filters = metadata.get("privacy_filters")
    if filters:
        removed = ", ".join(f"{name} {count:,}" for name, count in filters["removed"].items())
        lines.append(f"privacy filters removed {removed} of {filters['sampled']:,} sampled rows")
        if filters.get("before"):
            for stage in ("before", "after"):
                numbers = filters[stage]
                lines.append(f"  {stage:<6} DCR share {format_value(numbers['dcr_share'])}, membership-inference AUC "
                             f"{format_value(numbers['membership_inference_auc'])}, exact copies "
                             f"{numbers['exact_copies']}")
    return [""] + lines if lines else []


def anonymeter_risks_list(result: dict) -> list[dict]:
    """Each Anonymeter risk as {"name", "risk", "low", "high", "attack", "control", "baseline"}, in a fixed order."""
    if not isinstance(result, dict) or "error" in result:
        return []
    entries = [
        ("singling out (one attribute)", result.get("singling_out_univariate")),
        ("singling out (several attributes)", result.get("singling_out_multivariate")),
        ("linkability", result.get("linkability")),
    ]
    entries += [(f"inference of {secret!s}", summary) for secret, summary in (result.get("inference") or {}).items()]
    risks = []
    for name, summary in entries:
        if not isinstance(summary, dict):
            continue
        low, high = (summary.get("ci") or [None, None])[:2]
        risks.append({
            "name": name,
            "risk": summary.get("risk"),
            "low": low,
            "high": high,
            "attack": (summary.get("attack_rate") or {}).get("value"),
            "control": (summary.get("control_rate") or {}).get("value"),
            "baseline": (summary.get("baseline_rate") or {}).get("value"),
        })
    return risks


def anonymeter_rows_text(result: dict) -> list[tuple[str, str]]:
    return [
        (risk["name"], f"{format_value(risk['risk'])} [{format_value(risk['low'])}, {format_value(risk['high'])}]")
        for risk in anonymeter_risks_list(result)
    ]
