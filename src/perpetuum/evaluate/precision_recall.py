"""α-precision, β-recall and authenticity, after Alaa et al., "How Faithful is your Synthetic Data?" (ICML 2022).

Fidelity (do synthetic rows look like typical real rows?), diversity (does the synthetic data cover the real
data's variety?) and authenticity (are synthetic rows new, rather than copies?) as three separate numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from perpetuum.errors import ParameterError
from perpetuum.evaluate.coverage import checked_columns
from perpetuum.evaluate.encoding import DistanceEncoder

# The α (and β) levels at which the curves are evaluated: 0.05, 0.10, ..., 1.00.
LEVELS = np.round(np.linspace(0.05, 1.0, 20), 2)


def alpha_precision_beta_recall(
    real: pd.DataFrame, synthetic: pd.DataFrame, *, seed: int = 0, max_rows: int = 5000
) -> dict:
    """α-precision and β-recall curves, their integrated scores, and authenticity.

    A simpler, documented variant of Alaa et al. (2022): the paper first learns an embedding with a neural
    one-class network so that the real data fill a hypersphere; here rows are embedded with the shared mixed
    encoding (`DistanceEncoder` fitted on the real rows: numbers scaled to [0, 1] by the real min and max,
    categories one-hot with labels at distance 1 apart) and the sphere is simply centred on the mean of the
    embedded rows. Each table is capped at `max_rows` random rows (seeded) to bound the cost (about 1.5 s of
    CPU time for 5000 x 5000 rows of Adult).

    - α-precision curve: for each α in 0.05, 0.10, ..., 1, the radius r_α that holds a share α of the real rows
      around the real centre, and the share of synthetic rows within r_α. A faithful generator puts the same
      share there. "alpha" is the real share actually within r_α: α itself, except where many real rows lie at
      the same distance (discrete data), which would otherwise penalise even a perfect copy.
    - β-recall curve: the same with the roles swapped: balls around the synthetic centre holding a share β of
      the synthetic rows, and the share of real rows within them.
    - "integrated_precision" IPα = 1 - 2 * mean over the levels of |precision curve - alpha|, and
      "integrated_recall" IRβ likewise. Range [0, 1] (1 at best: the synthetic data fill the real support as the
      real data do; lower: synthetic rows are too concentrated or too spread out), higher is better.
    - "authenticity": the share of synthetic rows whose nearest real row is farther from them than that real
      row's own nearest other real row is. Range [0, 1]; near 0 means synthetic rows sit on top of real ones
      (copies); a fresh sample from the real distribution scores about one half or more. Higher is better up to
      that point. (The paper trains a classifier for this; this is the nearest-neighbour rule it builds on.)

    Returns {"integrated_precision", "integrated_recall", "authenticity", "precision_curve": {"alpha": [...],
    "precision": [...]}, "recall_curve": {"beta": [...], "recall": [...]}, "levels": [...], "n_real",
    "n_synthetic"}.
    """
    columns = checked_columns(real, synthetic)
    if max_rows < 2:
        raise ParameterError(f"max_rows must be at least 2, got {max_rows}")
    rng = np.random.default_rng(seed)
    real_part = _sample(real[columns], max_rows, rng)
    synthetic_part = _sample(synthetic[columns], max_rows, rng)
    encoder = DistanceEncoder().fit(real_part)
    real_matrix, synthetic_matrix = encoder.transform(real_part), encoder.transform(synthetic_part)

    alpha, precision = _ball_curve(real_matrix, synthetic_matrix)
    beta, recall = _ball_curve(synthetic_matrix, real_matrix)
    return {
        "integrated_precision": _integrated(precision, alpha),
        "integrated_recall": _integrated(recall, beta),
        "authenticity": _authenticity(real_matrix, synthetic_matrix),
        "precision_curve": {"alpha": alpha.tolist(), "precision": precision.tolist()},
        "recall_curve": {"beta": beta.tolist(), "recall": recall.tolist()},
        "levels": LEVELS.tolist(),
        "n_real": len(real_part),
        "n_synthetic": len(synthetic_part),
    }


def _ball_curve(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of `reference` rows, share of `other` rows) within the balls around the reference centre that hold
    each level's share of the reference rows."""
    centre = reference.mean(axis=0)
    reference_distance = np.sqrt(((reference - centre) ** 2).sum(axis=1))
    other_distance = np.sqrt(((other - centre) ** 2).sum(axis=1))
    radii = np.quantile(reference_distance, LEVELS)
    reference_sorted, other_sorted = np.sort(reference_distance), np.sort(other_distance)
    inside_reference = np.searchsorted(reference_sorted, radii, side="right") / len(reference_sorted)
    inside_other = np.searchsorted(other_sorted, radii, side="right") / len(other_sorted)
    return inside_reference, inside_other


def _integrated(curve: np.ndarray, diagonal: np.ndarray) -> float:
    return float(np.clip(1.0 - 2.0 * np.mean(np.abs(curve - diagonal)), 0.0, 1.0))


def _authenticity(real: np.ndarray, synthetic: np.ndarray) -> float:
    # Each real row's nearest *other* real row: the second of its two nearest rows counting itself. Distances are
    # recomputed exactly, since the fast search formula leaves rounding noise where a copy should give 0.
    pairs = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(real).kneighbors(real, return_distance=False)
    real_gap = np.max(np.sqrt(((real[:, None, :] - real[pairs]) ** 2).sum(axis=2)), axis=1)
    nearest = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(real).kneighbors(synthetic, return_distance=False)
    nearest = nearest[:, 0]
    synthetic_gap = np.sqrt(((synthetic - real[nearest]) ** 2).sum(axis=1))
    return float(np.mean(synthetic_gap > real_gap[nearest]))


def _sample(frame: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if rows >= len(frame):
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))]
