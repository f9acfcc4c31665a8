"""The one API every synthesizer shares: `Synthesizer(**params).fit(df).sample(n, conditions)`.

Subclasses implement four hooks on the encoded matrix (see `TableEncoder`): `_fit_matrix`, `_sample_matrix`,
`_state` and `_restore_state`. Everything else — input checks, schema inference, conditions, dtypes, seeding,
rebalancing, saving — lives here once.
"""

from __future__ import annotations

import inspect
import time
from typing import ClassVar

import numpy as np
import pandas as pd

from perpetuum.errors import ConditionError, DataInputError, ModelFileError, NotFittedError, ParameterError
from perpetuum.schema import TableSchema
from perpetuum.tabular.conditions import EncodedCondition, encode_conditions
from perpetuum.tabular.persistence import read_model, restore_synthesizer, save_synthesizer
from perpetuum.tabular.transforms import TableEncoder

MIN_ROWS = 2


class Synthesizer:
    """Base class; see the module docstring. Parameters are set in `__init__` and checked in `fit`."""

    name: ClassVar[str] = "synthesizer"

    def __init__(self, seed: int | None = 0, verbose: bool = False):
        self.seed = seed
        self.verbose = verbose

    # --- the public API -------------------------------------------------------------------------------------

    def fit(self, data: pd.DataFrame, schema: TableSchema | None = None) -> "Synthesizer":
        """Learn `data` (a DataFrame); `schema` overrides the inferred column kinds."""
        self._check_params()
        frame = _check_frame(data)
        if schema is None:
            from perpetuum.schema import infer_schema

            schema = infer_schema(frame)
        started = time.perf_counter()
        self.encoder_ = TableEncoder().fit(frame, schema)
        self.schema_ = self.encoder_.schema_
        self.n_rows_ = len(frame)
        self._rng_ = np.random.default_rng(self.seed)
        self._fit_matrix(self.encoder_.encode(frame), self._rng_)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def sample(self, n: int, conditions: dict | None = None, seed: int | None = None) -> pd.DataFrame:
        """Exactly `n` synthetic rows; with `conditions`, every row satisfies them (see `conditions.py`)."""
        self._check_fitted()
        n = _check_count(n)
        encoded = encode_conditions(conditions, self.encoder_)
        rng = self._rng_ if seed is None else np.random.default_rng(seed)
        matrix = self._sample_matrix(n, encoded, rng) if self.encoder_.model_columns_ else np.empty((n, 0))
        _enforce_ranges(matrix, encoded)
        return self.encoder_.decode(matrix, n, rng)

    def rebalance(self, target_column: str, ratios: dict, n: int, seed: int | None = None) -> pd.DataFrame:
        """`n` rows whose `target_column` takes each key of `ratios` in that share (shares are normalised)."""
        self._check_fitted()
        n = _check_count(n)
        if not ratios:
            raise ParameterError("ratios must name at least one value of the target column")
        shares = np.array([float(share) for share in ratios.values()])
        if (shares < 0).any() or shares.sum() <= 0:
            raise ParameterError(f"ratios must be non-negative and not all zero, got {ratios}")
        counts = _largest_remainder(shares / shares.sum(), n)
        rng = self._rng_ if seed is None else np.random.default_rng(seed)
        parts = [
            self.sample(int(count), conditions={target_column: value}, seed=int(rng.integers(2**31)))
            for value, count in zip(ratios, counts)
            if count > 0
        ]
        combined = pd.concat(parts, ignore_index=True)
        return combined.iloc[rng.permutation(len(combined))].reset_index(drop=True)

    def get_params(self) -> dict:
        """The `__init__` parameters, as scikit-learn estimators expose them."""
        names = [
            name
            for cls in type(self).__mro__
            if cls is not object
            for name in inspect.signature(cls.__init__).parameters
            if name not in ("self", "args", "kwargs")
        ]
        return {name: getattr(self, name) for name in dict.fromkeys(names)}

    def save(self, path) -> None:
        """Write the fitted model to folder `path` as JSON + NumPy arrays (nothing that can run code on load)."""
        self._check_fitted()
        save_synthesizer(self, path)

    @classmethod
    def load(cls, path) -> "Synthesizer":
        """The model saved in folder `path` by this class or one of its subclasses (`Synthesizer.load` takes any);
        `perpetuum.tabular.load_synthesizer` also finds classes of plug-ins not imported yet."""
        document = read_model(path)
        saved = next((sub for sub in _with_subclasses(cls) if getattr(sub, "name", None) == document["synthesizer"]),
                     None)
        if saved is None:
            raise ModelFileError(
                f"{path} holds a {document['synthesizer']!r} model, not a {cls.__name__}; "
                "open it with perpetuum.tabular.load_synthesizer"
            )
        return restore_synthesizer(saved, document, path)

    # --- hooks for subclasses -------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.seed is not None and not isinstance(self.seed, (int, np.integer)):
            raise ParameterError(f"seed must be an integer or None, got {self.seed!r}")

    def _fit_matrix(self, matrix: np.ndarray, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _sample_matrix(self, n: int, conditions: list[EncodedCondition], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The learned state as (JSON-able dict, named arrays)."""
        raise NotImplementedError

    def _restore_state(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # --- helpers --------------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(data) first")

    def _progress(self, message: str) -> None:
        if self.verbose:
            from rich.console import Console

            Console(stderr=True).print(f"[dim]{self.name}:[/dim] {message}")


def _with_subclasses(cls: type) -> list[type]:
    found = [cls]
    for subclass in cls.__subclasses__():
        found += _with_subclasses(subclass)
    return found


def _check_frame(data) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataInputError(
            f"fit expects a pandas DataFrame, got {type(data).__name__}; read files with perpetuum.schema.read_table"
        )
    if data.shape[1] == 0:
        raise DataInputError("the table has no columns")
    duplicated = data.columns[data.columns.duplicated()].tolist()
    if duplicated:
        raise DataInputError(f"the table has duplicate column names: {duplicated}; rename them so each is unique")
    if len(data) < MIN_ROWS:
        raise DataInputError(
            f"the table has {len(data)} row(s); at least {MIN_ROWS} are needed to learn anything, and a few hundred "
            "for useful statistics"
        )
    return data.reset_index(drop=True)


def _check_count(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ParameterError(f"the number of rows to sample must be a positive integer, got {n!r}")
    return int(n)


def _largest_remainder(shares: np.ndarray, n: int) -> np.ndarray:
    exact = shares * n
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _enforce_ranges(matrix: np.ndarray, conditions: list[EncodedCondition]) -> None:
    """Rounding of integer columns must not push a value out of a requested range."""
    for condition in conditions:
        if condition.is_range:
            low, high = condition.low, condition.high
            if condition.column.integer:
                low, high = np.ceil(low), np.floor(high)
                if low > high:
                    raise ConditionError(
                        f"column {condition.column.name!r} holds whole numbers, and the range asked holds none"
                    )
            matrix[:, condition.index] = np.clip(matrix[:, condition.index], low, high)
