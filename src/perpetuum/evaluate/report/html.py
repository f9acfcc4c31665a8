"""Render an `Evaluation` as one self-contained HTML file.

Everything is inline: CSS in a <style> element, plots as SVG data URIs, no scripts at all. A Content-Security-Policy
forbids scripts and any network request, and jinja2 escapes every value (autoescape on), because column names,
category labels and metadata are untrusted text.
"""

from __future__ import annotations

import inspect

import jinja2

from perpetuum.evaluate.report import (
    METRIC_BY_KEY,
    SECTION_TITLES,
    STEP_LABELS,
    anonymeter_risks_list,
    format_value,
    metric_rows,
)
from perpetuum.evaluate.report import plots

__all__ = ["render_html"]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("perpetuum.evaluate.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["fmt"] = format_value
    return environment


def render_html(evaluation) -> str:
    """The report as HTML text."""
    template = _environment().get_template("report.html.j2")
    return template.render(**report_context(evaluation))


def report_context(evaluation) -> dict:
    """Everything the template shows, as plain values (the template does no computing)."""
    from perpetuum.evaluate.headlines import headline_scores

    results = evaluation.results
    metadata = dict(evaluation.metadata)
    lineage = metadata.pop("lineage", None) or {}
    params = metadata.pop("params", None) or {}
    synthesizer = metadata.pop("synthesizer", None)
    stage_seconds = {key: metadata.pop(key) for key in ("fit_seconds", "sample_seconds") if key in metadata}
    pii_columns = metadata.pop("pii", None) or []
    privacy_filters = metadata.pop("privacy_filters", None)
    privacy_ledger = metadata.pop("differential_privacy", None)
    privacy = results["privacy"]
    return {
        "version": _version(),
        "created": evaluation.created,
        "data": evaluation.data,
        "settings": evaluation.settings,
        "headline": _headline(evaluation.headline),
        "how_formed": _paragraphs(inspect.getdoc(headline_scores) or ""),
        "sections": SECTION_TITLES,
        "fidelity_rows": metric_rows(evaluation, "fidelity"),
        "per_column": _per_column(evaluation),
        "distributions": _distributions(evaluation),
        "heatmap": plots.association_figure(evaluation.associations),
        "associations": evaluation.associations,
        "precision_recall_figure": plots.precision_recall_figure(results["fidelity"].get("precision_recall")),
        "utility": results["utility"],
        "utility_rows": metric_rows(evaluation, "utility"),
        "top_features": (results["utility"].get("feature_importance") or {}).get("top_features"),
        "privacy": privacy,
        "privacy_ledger": privacy_ledger,
        "privacy_rows": [row for row in metric_rows(evaluation, "privacy") if row["metric"].key != "anonymeter"],
        "anonymeter": _anonymeter(privacy.get("anonymeter")),
        "anonymeter_metric": METRIC_BY_KEY["anonymeter"],
        "privacy_components": [
            (COMPONENT_LABELS.get(key, key), value)
            for key, value in (evaluation.headline["privacy"].get("components") or {}).items()
        ],
        "collapse_rows": metric_rows(evaluation, "collapse"),
        "collapse": _collapse(results["collapse"].get("collapse_signals")),
        "schema_columns": (evaluation.schema or {}).get("columns", []),
        "left_out": evaluation.data.get("left_out_columns") or {},
        "synthesizer": synthesizer,
        "params": params,
        "stage_seconds": stage_seconds,
        "timings": _timings(evaluation.timings),
        "lineage": lineage,
        "other_metadata": metadata,
        "pii_columns": pii_columns,
        "privacy_filters": privacy_filters,
    }


def _version() -> str:
    from perpetuum import __version__

    return __version__


def _paragraphs(docstring: str) -> list[str]:
    """A docstring's bullet points as separate paragraphs (its first line is the summary)."""
    lines = docstring.splitlines()
    items, current = [], []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("- "):
            if current:
                items.append(" ".join(current))
            current = [stripped[2:]]
        elif stripped and current:
            current.append(stripped)
        elif not stripped and current:
            items.append(" ".join(current))
            current = []
        elif stripped and not items and not current:
            items.append(stripped)
    if current:
        items.append(" ".join(current))
    return items


def _headline(headline: dict) -> list[dict]:
    cards = []
    for name, entry in headline.items():
        score = entry.get("score")
        cards.append({
            "name": name.capitalize(),
            "score": score,
            "text": format_value(score),
            "width": 100.0 * max(0.0, min(1.0, score)) if score is not None else 0.0,
            "meaning": entry.get("meaning", ""),
            "caveat": entry.get("caveat", ""),
            "formed": entry.get("formed", ""),
            "left_out": entry.get("left_out", ""),
            "components": [
                (COMPONENT_LABELS.get(key, key.replace("_", " ")), format_value(value) if value is not None else
                 "not measured")
                for key, value in (entry.get("components") or {}).items()
            ],
            "extra": _headline_extra(entry),
        })
    return cards


COMPONENT_LABELS = {
    "column_shapes": "column shapes",
    "column_pair_trends": "column pair trends",
    "detection": "detection",
    "tstr_auc": "TSTR AUC",
    "trtr_auc": "TRTR AUC",
    "tstr_r2": "TSTR R²",
    "trtr_r2": "TRTR R²",
    "chance": "chance level",
    "membership_inference": "membership-inference advantage",
    "dcr": "DCR excess (2·share − 1)",
    "exact_copies": "excess exact copies",
    "anonymeter_singling_out": "Anonymeter singling out",
    "anonymeter_linkability": "Anonymeter linkability",
    "anonymeter_inference": "Anonymeter inference",
}


def _headline_extra(entry: dict) -> list[tuple[str, str]]:
    extra = []
    if entry.get("decided_by"):
        extra.append(("set by", entry["decided_by"]))
    if entry.get("sdmetrics_quality") is not None:
        extra.append(("SDMetrics-comparable quality (shapes and trends only)", format_value(entry["sdmetrics_quality"])))
    if entry.get("worst_upper_bound") is not None:
        extra.append(("largest upper end of Anonymeter's 95 % intervals", format_value(entry["worst_upper_bound"])))
    return extra


def _per_column(evaluation) -> list[dict]:
    fidelity = evaluation.results["fidelity"]

    def per_column(key: str) -> dict:
        result = fidelity.get(key)
        return result.get("per_column", {}) if isinstance(result, dict) else {}

    shapes, ranges, coverage = per_column("column_shapes"), per_column("range_adherence"), per_column("category_coverage")
    missing = fidelity.get("missing_values") or {}
    rows = []
    for column in evaluation.data["columns"]:
        covered = coverage.get(column) or {}
        absent = covered.get("absent") or []
        rows.append({
            "column": column,
            "shape": format_value(shapes.get(column)),
            "missing_real": format_value((missing.get("real_rate") or {}).get(column), "percent"),
            "missing_synthetic": format_value((missing.get("synthetic_rate") or {}).get(column), "percent"),
            "range": format_value(ranges.get(column)),
            "coverage": format_value(covered.get("coverage")) if covered else "",
            "absent": ", ".join(str(item["category"]) for item in absent[:5])
            + (f" … ({covered['n_absent']} in all)" if covered.get("n_absent", 0) > 5 else ""),
        })
    return rows


def _distributions(evaluation) -> list[dict]:
    shapes = (evaluation.results["fidelity"].get("column_shapes") or {}).get("per_column") or {}
    figures = []
    for column, entry in evaluation.distributions.items():
        note = ""
        if entry.get("kind") != "numeric" and entry.get("other_labels"):
            note = f"the {len(entry['labels'])} most frequent labels; {entry['other_labels']} more summed as “other”"
        missing = entry.get("missing") or {}
        figures.append({
            "column": column,
            "uri": plots.distribution_figure(entry),
            "shape": format_value(shapes.get(column)),
            "missing": f"missing: real {format_value(missing.get('real'), 'percent')}, "
                       f"synthetic {format_value(missing.get('synthetic'), 'percent')}",
            "note": note,
        })
    return figures


def _anonymeter(result) -> dict:
    if not isinstance(result, dict):
        return {"ran": False, "error": None, "risks": [], "notes": []}
    if "error" in result:
        return {"ran": False, "error": result["error"], "risks": [], "notes": []}
    risks = []
    for risk in anonymeter_risks_list(result):
        def position(value):
            return 100.0 * max(0.0, min(1.0, float(value))) if value is not None else 0.0

        risks.append({
            **risk,
            "risk_text": format_value(risk["risk"]),
            "ci_text": f"{format_value(risk['low'])} – {format_value(risk['high'])}",
            "rates_text": f"attack {format_value(risk['attack'])}, control {format_value(risk['control'])}, "
                          f"baseline {format_value(risk['baseline'])}",
            "bar": position(risk["risk"]),
            "ci_left": position(risk["low"]),
            "ci_width": max(0.4, position(risk["high"]) - position(risk["low"])),
        })
    return {
        "ran": True,
        "error": None,
        "risks": risks,
        "notes": result.get("notes") or [],
        "n_rows": result.get("n_rows"),
        "n_attacks": result.get("n_attacks"),
    }


def _collapse(result) -> dict:
    if not isinstance(result, dict) or "error" in result:
        return {"warnings": [], "columns": [], "lost": [], "error": (result or {}).get("error")}
    tails = (result.get("tail_coverage") or {}).get("per_column") or {}
    variances = (result.get("variance_ratio") or {}).get("per_column") or {}
    columns = [
        {"column": column, "tail": format_value((tails.get(column) or {}).get("coverage")),
         "tail_ratio": format_value((tails.get(column) or {}).get("ratio")),
         "variance": format_value(variances.get(column))}
        for column in dict.fromkeys([*tails, *variances])
    ]
    rare = (result.get("rare_category_survival") or {}).get("per_column") or {}
    lost = [
        {"column": column, "survival": format_value(entry.get("survival")), "n_rare": entry.get("n_rare"),
         "lost": ", ".join(f"{item['category']} ({format_value(item['real_share'], 'percent')})"
                           for item in (entry.get("lost") or [])[:8])}
        for column, entry in rare.items()
    ]
    return {"warnings": result.get("warnings") or [], "columns": columns, "lost": lost, "error": None}


def _timings(timings: dict) -> list[tuple[str, str]]:
    return [(STEP_LABELS.get(key, key.replace("_", " ")), format_value(seconds, "seconds")) for key, seconds in timings.items()]
