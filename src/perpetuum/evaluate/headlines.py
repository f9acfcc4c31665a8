"""The three headline scores of an evaluation (fidelity, utility, privacy), each in [0, 1] where higher is better,
and the privacy risks they are formed from."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["headline_scores", "privacy_risks", "NO_HOLDOUT_MESSAGE", "NO_TARGET_MESSAGE"]

NO_HOLDOUT_MESSAGE = (
    "Privacy cannot be computed without a holdout: every privacy measure compares the synthetic rows with real "
    "rows the synthesizer never saw. Keep a share of the real rows out of training and pass them as the holdout."
)
NO_TARGET_MESSAGE = "Utility was not measured: no target column was given (pass target=... or --target)."


def headline_scores(results: dict) -> dict:
    """The three overall scores, each in [0, 1] where higher is better, or None when it cannot be computed.

    - fidelity = the mean of Column Shapes, Column Pair Trends and Detection. Shapes and trends look at one and
      two columns at a time; detection is the only one that sees whole rows, so averaging it in keeps a table of
      implausible rows from scoring high. (SDMetrics' Quality Score is the mean of the first two alone; it is
      given as "sdmetrics_quality" for comparison.)
    - utility = (TSTR - chance) / (TRTR - chance), clipped to [0, 1]: the share of a real-trained model's skill
      above chance that a model trained on synthetic rows keeps. AUC with chance 0.5 for classification, R² with
      chance 0 for regression. A plain TSTR / TRTR ratio would flatter: a useless model scores 0.5 / 0.9 = 0.56.
    - privacy = 1 - the largest measured risk: membership-inference advantage (2·AUC - 1), DCR excess
      (2·share - 1), exact copies beyond the rate fresh real rows repeat training rows, and Anonymeter's
      singling-out, linkability and inference risks (the worst variant of each). The worst attack decides, as an
      attacker would choose it; averaging would let harmless measures hide a leak. Anonymeter's risks are point
      estimates; the largest upper end of their 95 % confidence intervals is given as "worst_upper_bound",
      because with few attacks a real risk can hide inside a wide interval.
    """
    return {
        "fidelity": _fidelity_headline(results["fidelity"]),
        "utility": _utility_headline(results["utility"]),
        "privacy": _privacy_headline(results["privacy"]),
    }


def _get(result, key):
    """A finite float from a metric result, or None."""
    if not isinstance(result, dict) or "error" in result:
        return None
    value = result.get(key)
    if value is None or isinstance(value, (dict, list, str)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _fidelity_headline(section: dict) -> dict:
    components = {
        "column_shapes": _get(section.get("column_shapes"), "score"),
        "column_pair_trends": _get(section.get("column_pair_trends"), "score"),
        "detection": _get(section.get("detection"), "score"),
    }
    present = [value for value in components.values() if value is not None]
    missing = [name for name, value in components.items() if value is None]
    first_two = [components["column_shapes"], components["column_pair_trends"]]
    left_out = (
        "Missing-value similarity, category coverage, range adherence and α-precision/β-recall are shown below "
        "but not averaged in."
    )
    if missing:
        left_out += f" Not available here, so not averaged: {', '.join(missing)}."
    return {
        "score": float(np.mean(present)) if present else None,
        "meaning": "how closely the synthetic rows follow the real ones: columns, column pairs, whole rows (1 = identical)",
        "formed": "mean of Column Shapes, Column Pair Trends and Detection",
        "left_out": left_out,
        "components": components,
        "sdmetrics_quality": float(np.mean(first_two)) if None not in first_two else None,
    }


def _utility_headline(section: dict) -> dict:
    entry = {
        "score": None,
        "meaning": "how much of a real-trained model's skill a model trained on synthetic rows keeps (1 = all)",
        "formed": "(TSTR - chance) / (TRTR - chance), clipped to [0, 1]; AUC (chance 0.5) or R² (chance 0)",
        "left_out": "F1 and feature-importance agreement are shown below but not used.",
        "components": {},
    }
    if not section.get("available"):
        entry["meaning"] = section.get("reason") or NO_TARGET_MESSAGE
        return entry
    tstr = section.get("tstr") or {}
    if "error" in tstr:
        entry["meaning"] = f"not computed: {tstr['error']}"
        return entry
    name, chance = ("r2", 0.0) if tstr.get("task") == "regression" else ("auc", 0.5)
    synthetic_score, real_score = _get(tstr, name), _get(tstr, f"real_{name}")
    entry["components"] = {f"tstr_{name}": synthetic_score, f"trtr_{name}": real_score, "chance": chance}
    if synthetic_score is None or real_score is None:
        entry["meaning"] = "not computed: the models gave no score"
    elif real_score <= chance:
        entry["meaning"] = "not computed: a model trained on real rows does no better than chance on this target"
    else:
        entry["score"] = float(np.clip((synthetic_score - chance) / (real_score - chance), 0.0, 1.0))
    if section.get("tested_on") != "holdout":
        entry["caveat"] = "tested without a holdout, on real rows the synthesizer saw: optimistic"
    return entry


def _privacy_headline(section: dict) -> dict:
    entry = {
        "score": None,
        "meaning": "1 minus the largest risk any measured attack shows (1 = no attack beats chance)",
        "formed": "1 - max(membership-inference advantage, DCR excess, excess exact copies, Anonymeter risks)",
        "left_out": "",
        "components": {},
    }
    if not section.get("available"):
        sentence, _, why = NO_HOLDOUT_MESSAGE.partition(": ")
        entry["meaning"] = sentence + "."
        entry["left_out"] = why[:1].upper() + why[1:]
        return entry
    risks = privacy_risks(section)
    entry["components"] = risks
    measured = {name: value for name, value in risks.items() if value is not None}
    not_measured = [name for name, value in risks.items() if value is None]
    if not_measured:
        entry["left_out"] = (
            f"Not measured, so not in the score: {', '.join(not_measured)}; the score rests on the other measures."
        )
    if measured:
        worst = max(measured, key=measured.get)
        entry["score"] = float(1.0 - min(1.0, measured[worst]))
        entry["decided_by"] = _decided_by(section, worst, measured[worst])
    entry["worst_upper_bound"] = _worst(section.get("anonymeter"), "high")
    return entry


def _decided_by(section: dict, component: str, risk: float) -> str:
    """One line naming the measure that sets the privacy score, with its confidence interval where it has one."""
    if not component.startswith("anonymeter_"):
        return f"{component.replace('_', ' ')}: risk {risk:.3f}"
    anonymeter = section.get("anonymeter") or {}
    variants = {
        "anonymeter_singling_out": {
            "singling out (one attribute)": anonymeter.get("singling_out_univariate"),
            "singling out (several attributes)": anonymeter.get("singling_out_multivariate"),
        },
        "anonymeter_linkability": {"linkability": anonymeter.get("linkability")},
        "anonymeter_inference": {
            f"inference of {secret}": summary for secret, summary in (anonymeter.get("inference") or {}).items()
        },
    }[component]
    for label, summary in variants.items():
        if isinstance(summary, dict) and math.isclose(max(0.0, min(1.0, summary["risk"])), risk):
            low, high = summary["ci"]
            note = " (the interval includes 0: not distinguishable from no risk)" if low <= 0 else ""
            return f"Anonymeter {label}: risk {risk:.3f}, 95 % interval {low:.3f}-{high:.3f}{note}"
    return f"{component.replace('_', ' ')}: risk {risk:.3f}"


def privacy_risks(section: dict) -> dict:
    """Each privacy measure turned into a risk in [0, 1] (0 = no sign of risk); None where not measured."""
    risks: dict[str, float | None] = {}
    attack = section.get("membership_inference")
    auc = _get(attack, "auc")
    risks["membership_inference"] = None if auc is None else max(0.0, 2.0 * auc - 1.0)
    share = _get(section.get("dcr"), "share")
    risks["dcr"] = None if share is None else max(0.0, 2.0 * share - 1.0)
    copies = section.get("exact_copies")
    copy_share, fresh_share = _get(copies, "share"), _get(copies, "holdout_share")
    risks["exact_copies"] = None if copy_share is None else max(0.0, copy_share - (fresh_share or 0.0))
    for name in ("singling_out", "linkability", "inference"):
        risks[f"anonymeter_{name}"] = _worst(section.get("anonymeter"), "risk", name)
    return risks


def _worst(anonymeter, field: str, attack: str | None = None) -> float | None:
    """The largest Anonymeter risk ("risk": point estimate; "high": upper end of the 95 % interval) among the
    variants of `attack` ("singling_out", "linkability", "inference"; None: all), clipped to [0, 1]."""
    if not isinstance(anonymeter, dict) or "error" in anonymeter:
        return None
    summaries = {
        "singling_out": [anonymeter.get("singling_out_univariate"), anonymeter.get("singling_out_multivariate")],
        "linkability": [anonymeter.get("linkability")],
        "inference": list((anonymeter.get("inference") or {}).values()),
    }
    chosen = [item for name, items in summaries.items() if attack in (None, name) for item in items]
    values = []
    for summary in chosen:
        if not isinstance(summary, dict):
            continue
        value = summary.get("risk") if field == "risk" else (summary.get("ci") or [None, None])[1]
        if value is not None and math.isfinite(float(value)):
            values.append(float(np.clip(value, 0.0, 1.0)))
    return max(values) if values else None
