"""Privacy: does synthetic data copy, or sit suspiciously close to, the rows it was trained on?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError
from perpetuum.evaluate.encoding import DistanceEncoder, as_float, as_labels, check_same_columns, is_numeric
from perpetuum.privacy.record_distance import nearest_distances

# Rows of each table that `dcr_share` looks at, at most: bounds its cost (about 2 s for 10k x 6.5k x 120 features).
DCR_MAX_ROWS = 10_000


def exact_copies(train: pd.DataFrame, synthetic: pd.DataFrame, *, holdout: pd.DataFrame | None = None) -> dict:
    """How many synthetic rows are exact copies of a training row.

    Lower is better. Two rows are equal when every column is (missing equals missing; 3 equals 3.0). Returns:
    - "copies": synthetic rows identical to some training row; "share": copies / synthetic rows, in [0, 1];
    - "copies_of_unique_rows": the copies whose training row occurs only once in train (a single real record
      reproduced: the case that matters for privacy; copies of rows that train itself repeats are common
      profiles);
    - "train_self_duplicates": training rows that repeat an earlier training row, so the copies can be judged
      against what the data itself repeats;
    - with `holdout` (real rows not used for training): "holdout_share", the share of holdout rows identical to
      a training row: the copy rate expected of fresh real data.
    """
    columns = check_same_columns(train, synthetic)
    train_keys = _row_keys(train[columns])
    synthetic_keys = _row_keys(synthetic[columns])
    counts = train_keys.value_counts()
    matched = synthetic_keys.map(counts).fillna(0).to_numpy()
    result = {
        "copies": int((matched > 0).sum()),
        "share": float((matched > 0).mean()) if len(synthetic) else 0.0,
        "copies_of_unique_rows": int((matched == 1).sum()),
        "train_self_duplicates": int(train_keys.duplicated().sum()),
        "n_synthetic": len(synthetic),
    }
    if holdout is not None:
        check_same_columns(train, holdout, what="holdout")
        holdout_keys = _row_keys(holdout[columns])
        result["holdout_share"] = float(holdout_keys.isin(counts.index).mean()) if len(holdout) else 0.0
    return result


def dcr_share(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    seed: int = 0,
    max_rows: int = DCR_MAX_ROWS,
) -> dict:
    """Distance to closest record: are synthetic rows closer to the training rows than to unseen real rows?

    Rows are encoded with `DistanceEncoder` fitted on train + holdout (numbers scaled to [0, 1] by the real
    min/max, missing numbers as 0 plus an indicator; one-hot labels at squared distance 1 apart, missing as a
    label of its own) and compared by Euclidean distance. Train is first subsampled to the holdout's size, so a
    synthetic row drawn from the real distribution is equally likely to land nearer either set. Each table is
    capped at `max_rows` random rows (seeded) to bound the cost.

    - "share": the share of synthetic rows whose nearest train row is closer than their nearest holdout row (ties
      count half). Range [0, 1]; 0.5 is ideal, above 0.5 means the synthesizer memorised its training rows. Note
      that the subsampling dilutes memorisation: a verbatim copy of a train that is k times the holdout scores
      about 0.5 + 0.5 / k, not 1.
    - "p5_ratio": the 5th percentile of synthetic-to-train distances divided by the 5th percentile of
      holdout-to-train distances (same train rows); below 1 means some synthetic rows sit closer to training
      records than real unseen rows do. NaN when the holdout percentile is 0.

    Returns also "p5_synthetic", "p5_holdout", "n_synthetic", "n_reference" (rows in each reference set).
    """
    columns = check_same_columns(train, synthetic)
    check_same_columns(train, holdout, what="holdout")
    if min(len(train), len(synthetic), len(holdout)) == 0:
        raise DataInputError("dcr_share needs non-empty train, synthetic and holdout tables")
    rng = np.random.default_rng(seed)
    reference_rows = min(len(holdout), len(train), max_rows)
    holdout_part = _sample(holdout[columns], reference_rows, rng)
    train_part = _sample(train[columns], reference_rows, rng)
    synthetic_part = _sample(synthetic[columns], min(len(synthetic), max_rows), rng)

    encoder = DistanceEncoder().fit(pd.concat([train[columns], holdout[columns]], ignore_index=True))
    train_matrix, holdout_matrix, synthetic_matrix = (
        encoder.transform(frame) for frame in (train_part, holdout_part, synthetic_part)
    )
    to_train = nearest_distances(train_matrix, synthetic_matrix)
    to_holdout = nearest_distances(holdout_matrix, synthetic_matrix)
    holdout_to_train = nearest_distances(train_matrix, holdout_matrix)

    tie = np.isclose(to_train, to_holdout, rtol=0.0, atol=1e-12)
    share = float(np.mean(np.where(tie, 0.5, (to_train < to_holdout).astype(float))))
    p5_synthetic = float(np.percentile(to_train, 5))
    p5_holdout = float(np.percentile(holdout_to_train, 5))
    return {
        "share": share,
        "p5_ratio": p5_synthetic / p5_holdout if p5_holdout > 0 else np.nan,
        "p5_synthetic": p5_synthetic,
        "p5_holdout": p5_holdout,
        "n_synthetic": len(synthetic_part),
        "n_reference": reference_rows,
    }


def _sample(frame: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if rows >= len(frame):
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))]


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    """One 64-bit hash per row, equal for rows that are equal value by value (dtype differences ignored)."""
    canonical = {}
    for column in frame.columns:
        series = frame[column]
        if is_numeric(series):
            canonical[column] = as_float(series) + 0.0  # + 0.0 turns -0.0 into 0.0
        else:
            canonical[column] = pd.Series(as_labels(series), dtype=object).map(_label_key).to_numpy()
    keys = pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False)
    return pd.Series(keys.to_numpy())


def _label_key(label) -> str | None:
    # Type-tagged text, so True, 1 and "1" stay different labels and every table hashes them the same way.
    return None if label is None else f"{type(label).__name__}:{label}"
