"""Metrics that compare synthetic data with the real data it imitates, and the evaluation that runs them all.

`evaluate(real, synthetic, holdout=..., target=...)` runs every metric and returns an `Evaluation` (JSON, HTML
report, text summary). Every metric is also a plain function `metric(real, synthetic, **options) -> dict` whose
docstring gives its range and which way is better. Column roles come from dtypes, so no schema is needed: numeric
and datetime columns are numbers, everything else (booleans included) is categorical.
"""

from perpetuum.evaluate.anonymeter_attacks import anonymeter_risks
from perpetuum.evaluate.attacks import membership_inference
from perpetuum.evaluate.collapse_signals import collapse_signals, rare_category_survival, tail_coverage, variance_ratio
from perpetuum.evaluate.coverage import category_coverage, missing_value_similarity, range_adherence
from perpetuum.evaluate.evaluation import Evaluation, evaluate
from perpetuum.evaluate.fidelity import column_pair_trends, column_shapes, detection_score
from perpetuum.evaluate.precision_recall import alpha_precision_beta_recall
from perpetuum.evaluate.privacy import dcr_share, exact_copies
from perpetuum.evaluate.utility import feature_importance_agreement, tstr

__all__ = [
    "Evaluation",
    "alpha_precision_beta_recall",
    "anonymeter_risks",
    "category_coverage",
    "collapse_signals",
    "column_pair_trends",
    "column_shapes",
    "dcr_share",
    "detection_score",
    "evaluate",
    "exact_copies",
    "feature_importance_agreement",
    "membership_inference",
    "missing_value_similarity",
    "range_adherence",
    "rare_category_survival",
    "tail_coverage",
    "tstr",
    "variance_ratio",
]
