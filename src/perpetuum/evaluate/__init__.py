"""Metrics that compare synthetic data with the real data it imitates.

Every metric is a plain function `metric(real, synthetic, **options) -> dict` whose docstring gives its range and
which way is better. Column roles come from dtypes, so no schema is needed: numeric and datetime columns are
numbers, everything else (booleans included) is categorical.
"""

from perpetuum.evaluate.fidelity import column_pair_trends, column_shapes, detection_score
from perpetuum.evaluate.privacy import dcr_share, exact_copies
from perpetuum.evaluate.utility import tstr

__all__ = ["column_pair_trends", "column_shapes", "dcr_share", "detection_score", "exact_copies", "tstr"]
