"""Can a classifier tell real windows of returns from synthetic ones?

Both series are cut into non-overlapping windows of `window` days; each window becomes a row of features that
describe what a trader would look at (level and shape of volatility, tails, drift, drawdown, autocorrelations, the
volatility's trend inside the window), and the table detection score of `perpetuum.evaluate` (gradient boosting,
3-fold cross-validation, score = 1 − (2·AUC − 1), 1 = cannot tell apart) runs on the two tables. Synthetic windows
are drawn from as many paths as it takes to match the real count, one random window per path where possible, so
one odd path cannot dominate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError
from perpetuum.evaluate.fidelity import detection_score

__all__ = ["window_features", "discriminative_score", "near_copy_share"]


def window_features(returns: np.ndarray) -> pd.DataFrame:
    """One row of features per window; `returns` is (windows, days) of log returns."""
    centred = returns - returns.mean(axis=1, keepdims=True)
    std = np.sqrt(np.mean(centred**2, axis=1))
    safe = np.where(std > 0, std, np.nan)
    absolute = np.abs(returns)
    half = returns.shape[1] // 2
    cumulative = np.concatenate([np.zeros((len(returns), 1)), np.cumsum(returns, axis=1)], axis=1)

    def lag_one(values: np.ndarray) -> np.ndarray:
        values = values - values.mean(axis=1, keepdims=True)
        denominator = np.sum(values**2, axis=1)
        return np.sum(values[:, :-1] * values[:, 1:], axis=1) / np.where(denominator > 0, denominator, np.nan)

    return pd.DataFrame({
        "log_volatility": np.log(safe),
        "mean": returns.mean(axis=1),
        "skew": np.mean(centred**3, axis=1) / safe**3,
        "kurtosis": np.mean(centred**4, axis=1) / safe**4,
        "min_z": returns.min(axis=1) / safe,
        "max_z": returns.max(axis=1) / safe,
        "acf_r_1": lag_one(returns),
        "acf_abs_1": lag_one(absolute),
        "volatility_trend": np.log(np.std(returns[:, half:], axis=1) / np.std(returns[:, :half], axis=1)),
        "drawdown": (cumulative - np.maximum.accumulate(cumulative, axis=1)).min(axis=1),
        "leverage": np.mean(returns[:, :-1] * returns[:, 1:] ** 2, axis=1) / safe**3,
    }).replace([np.inf, -np.inf], np.nan)


def _windows(series: np.ndarray, window: int) -> np.ndarray:
    count = len(series) // window
    return series[: count * window].reshape(count, window)


def discriminative_score(real: np.ndarray, paths: np.ndarray, *, window: int = 20, seed: int = 0) -> dict:
    """{"score" (0–1, higher is better: 1 − (2·AUC − 1), clipped), "auc", "windows_each", "window"} for a real
    1-D log-return series against (paths, days) synthetic ones."""
    real_windows = _windows(np.asarray(real, dtype=float), window)
    paths = np.atleast_2d(np.asarray(paths, dtype=float))
    per_path = paths.shape[1] // window
    if len(real_windows) < 30 or per_path < 1:
        raise DataInputError(f"the discriminative score needs at least 30 real windows of {window} days and paths "
                             f"of at least {window} days; got {len(real_windows)} windows and {paths.shape[1]} days")
    rng = np.random.default_rng(seed)
    needed = len(real_windows)
    take = max(1, -(-needed // len(paths)))
    chosen = []
    for path in rng.permutation(len(paths)):
        windows = _windows(paths[path], window)
        chosen.append(windows[rng.choice(len(windows), size=min(take, len(windows)), replace=False)])
        if sum(len(item) for item in chosen) >= needed:
            break
    synthetic_windows = np.concatenate(chosen)[:needed]
    result = detection_score(window_features(real_windows), window_features(synthetic_windows), seed=seed)
    return {"score": result["score"], "auc": result["auc"], "windows_each": result["n_rows_each"], "window": window}


def near_copy_share(real: np.ndarray, paths: np.ndarray, *, window: int = 20, threshold: float = 0.2,
                    max_paths: int = 5) -> float:
    """Share of synthetic windows (non-overlapping, `window` days, from at most `max_paths` paths) whose
    root-mean-square distance to the closest real window (any start) is below `threshold` times their own standard
    deviation: stretches that replay history. Real windows score 0 against the rest of the real series. Range 0-1,
    lower is better."""
    real_windows = np.lib.stride_tricks.sliding_window_view(np.asarray(real, dtype=float), window)
    synthetic = np.concatenate([_windows(path, window) for path in np.atleast_2d(paths)[:max_paths]])
    near = np.array([np.sqrt(np.mean((real_windows - row) ** 2, axis=1)).min() for row in synthetic])
    spread = synthetic.std(axis=1)
    return float(np.mean(near < threshold * np.where(spread > 0, spread, np.inf)))
