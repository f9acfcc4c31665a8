"""Differentially private synthesizers: AIM and MST (McKenna et al.) through OpenDP, behind the usual contract.

    model = get_synthesizer("dp-aim")(epsilon=3.0, delta=1e-6, seed=0).fit(df, schema=schema)
    model.sample(10_000, conditions={"income": ">50K"}); model.privacy_ledger_.to_markdown()

Library choice. Both candidates wrap the same estimator (Private-PGM, the `mbi` package). We use OpenDP
(`opendp[mbi]`): its AIM and MST run inside OpenDP's verified (Rust) measurements and privacy accounting, so every
noisy count and every selection step is charged by the library itself; it discovers category sets privately
(thresholded noisy counts) when none are given; it is actively released; and it installs with numpy 1.26 and
pyarrow < 22. smartnoise-synth 1.0.8 pins opendp < 0.15 and mbi < 2 through smartnoise-sql, drags in opacus 0.14
and torch, and cannot share an environment with a current OpenDP; it is kept as the peer our benchmark runs in its
own environment (benchmarks/privacy.py).

What makes the whole pipeline private, not only the model:
- column kinds, category sets and numeric bounds come from the schema (`ColumnSpec.categories`, `.bounds`): public
  knowledge. A numeric column without bounds gets them from a private release (`private_bounds.py`); a categorical
  column without categories gets them from OpenDP's thresholded one-way counts (this spends part of delta);
- numeric columns are binned from the bounds alone (`bins.py`);
- the sampler draws each column only from the codes the released (noisy) counts support (`support.py`): the bins
  of a numeric column beyond its real range (coarse private bounds leave many) and the missing-value cell of a
  column without missing values get no rows. Post-processing of released counts: no budget;
- every release is planned and charged to a `PrivacyLedger` before any data is touched; a plan over the budget
  (or over a shared ledger passed to `fit`) raises `PrivacyBudgetError` and nothing is released;
- the model keeps only the released (noisy) row total, never the true one.

Fitting is not reproducible run to run: OpenDP draws its noise from a cryptographically secure source on purpose
(a seeded noise source would void the guarantee). Sampling a fitted (or saved and reloaded) model is, with `seed`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from perpetuum.errors import ParameterError
from perpetuum.privacy.ledger import LedgerEntry, PrivacyLedger
from perpetuum.schema import ColumnKind, TableSchema
from perpetuum.tabular.base import Synthesizer, _check_frame
from perpetuum.tabular.conditions import EncodedCondition
from perpetuum.tabular.dp.bins import NumericBins
from perpetuum.tabular.dp.graphical_model import GraphicalModel
from perpetuum.tabular.dp.private_bounds import anchors_from_counts, bounds_from_counts, noisy_bucket_counts
from perpetuum.tabular.dp.support import cell_estimates, released_support
from perpetuum.tabular.registry import register
from perpetuum.tabular.transforms import ModelColumn, TableEncoder

_PLANNING_MARGIN = 1 - 1e-9  # the plan stays a hair under the budget so float sums never cross it


class MarginalSynthesizer(Synthesizer):
    """Shared by `dp-aim` and `dp-mst`; subclasses say which OpenDP algorithm measures the marginals.

    Parameters
    ----------
    epsilon, delta : the privacy budget of the whole fit, required. delta should be well below 1 / rows.
    preprocessing_share : share of the budget for private bounds of numeric columns the schema gives none for.
    oneway_share : share of the rest for the one-way marginals of every column (which also discover unknown
        category sets); the remainder selects and measures the multi-way marginals.
    selection_share : share of the multi-way budget spent on choosing which marginals to measure.
    n_bins : bins of a numeric column that is not a small set of whole numbers (see `bins.py`).
    max_exact_values : whole-number columns with at most this many possible values get one bin per value.
    estimation_iterations : mirror-descent steps of each graphical-model fit (more: closer fit, slower).
    """

    name = "dp-marginal"
    algorithm_name = ""

    def __init__(self, epsilon: float | None = None, delta: float | None = None, preprocessing_share: float = 0.1,
                 oneway_share: float = 0.5, selection_share: float = 0.1, n_bins: int = 64,
                 max_exact_values: int = 128, estimation_iterations: int = 500, seed: int | None = 0,
                 verbose: bool = False):
        super().__init__(seed=seed, verbose=verbose)
        self.estimation_iterations = estimation_iterations
        self.epsilon = epsilon
        self.delta = delta
        self.preprocessing_share = preprocessing_share
        self.oneway_share = oneway_share
        self.selection_share = selection_share
        self.n_bins = n_bins
        self.max_exact_values = max_exact_values

    # --- fitting --------------------------------------------------------------------------------------------

    def fit(self, data: pd.DataFrame, schema: TableSchema | None = None,
            ledger: PrivacyLedger | None = None) -> "MarginalSynthesizer":
        """Learn `data` under (epsilon, delta)-DP. `schema` gives column kinds and, ideally, public category sets and
        bounds. `ledger`: a budget shared with other releases of the same data; this fit's spends are charged to
        it too, and the fit refuses to run if they do not fit in what it has left."""
        self._check_params()
        own_ledger = PrivacyLedger(self.epsilon, self.delta)
        frame = _check_frame(data)
        if schema is None:
            from perpetuum.schema import infer_schema

            schema = infer_schema(frame)
            own_ledger.note("column kinds were inferred from the data (not part of the guarantee); pass a schema "
                            "to make them public knowledge")
        schema.check_matches(list(frame.columns))
        _refuse_unmodelled_columns(schema)
        started = time.perf_counter()
        plan = self._plan(schema, own_ledger)
        own_ledger.charge_all(plan.entries)
        if ledger is not None:
            ledger.charge_all(plan.entries)
        self._progress(f"privacy plan: epsilon {self.epsilon:g}, delta {self.delta:g} -> rho "
                       f"{own_ledger.rho_spent:.5f}; releasing ...")

        bins, anchors = self._release_bounds(frame, schema, plan, own_ledger)
        table = self._release_contingency_table(frame, schema, bins, plan)
        self._keep_fitted_state(schema, bins, table, own_ledger, anchors)
        self.fit_seconds_ = time.perf_counter() - started
        self._progress(f"fitted in {self.fit_seconds_:.1f} s; spent epsilon {own_ledger.epsilon_spent:.4f}")
        return self

    def _check_params(self) -> None:
        super()._check_params()
        PrivacyLedger(self.epsilon, self.delta)  # raises a ParameterError naming a missing or invalid budget
        for name in ("preprocessing_share", "oneway_share", "selection_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ParameterError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
        for name, least in (("n_bins", 2), ("max_exact_values", 2), ("estimation_iterations", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ParameterError(f"{name} must be an integer of at least {least}, got {value!r}")

    def _plan(self, schema: TableSchema, ledger: PrivacyLedger) -> "_Plan":
        unbounded = [spec.name for spec in schema.columns if spec.kind.is_numeric and spec.bounds is None]
        undiscovered = [spec.name for spec in schema.columns if not spec.kind.is_numeric and spec.categories is None]
        key_delta = self.delta / 2 if undiscovered else 0.0
        rho = ledger.rho_left(direct_delta=key_delta) * _PLANNING_MARGIN
        if rho <= 0:
            raise ParameterError(f"the budget (epsilon {self.epsilon:g}, delta {self.delta:g}) leaves nothing to spend")
        bounds_rho = rho * self.preprocessing_share if unbounded else 0.0
        table_rho = self._usable_table_rho(rho - bounds_rho, len(schema.columns))
        oneway_rho = table_rho * self.oneway_share
        multiway_rho = table_rho - oneway_rho
        selection_rho = multiway_rho * self.selection_share
        entries = []
        if unbounded:
            each = bounds_rho / len(unbounded)
            entries += [LedgerEntry("preprocessing", f"bounds of {name}", each, 0.0,
                                    "Gaussian noise on power-of-two bucket counts (OpenDP)", (name,))
                        for name in unbounded]
        oneway_step = "one-way marginals of every column"
        if undiscovered:
            oneway_step += f"; category sets of {len(undiscovered)} column(s) by thresholded noisy counts"
        entries.append(LedgerEntry("measurement", oneway_step, oneway_rho, key_delta,
                                   "Gaussian noise (OpenDP contingency table)", tuple(undiscovered)))
        entries.append(LedgerEntry("selection", f"{self.algorithm_name}: choosing the marginals to measure",
                                   selection_rho, 0.0, self._selection_mechanism()))
        entries.append(LedgerEntry("measurement", f"{self.algorithm_name}: the selected multi-way marginals",
                                   multiway_rho - selection_rho, 0.0, "Gaussian noise (OpenDP)"))
        for spec in schema.columns:
            if spec.kind.is_numeric and spec.bounds is not None:
                ledger.note(f"bounds of {spec.name}: {spec.bounds[0]:g}..{spec.bounds[1]:g}, from the schema")
            elif not spec.kind.is_numeric and spec.categories is not None:
                ledger.note(f"categories of {spec.name}: {len(spec.categories)}, from the schema")
        return _Plan(entries, unbounded, undiscovered, table_rho, oneway_rho, key_delta)

    def _release_bounds(self, frame, schema, plan, ledger) -> tuple[dict[str, NumericBins], dict]:
        """The bins of every numeric column, and for those whose bounds were released privately the values the
        release shows rows at or below and at or above (the outer buckets' inner edges, for `support.py`)."""
        bins, anchors = {}, {}
        for spec in schema.columns:
            if not spec.kind.is_numeric:
                continue
            integer = spec.kind in (ColumnKind.INTEGER, ColumnKind.DATETIME)
            values = _numbers(frame[spec.name], spec)
            if spec.bounds is not None:
                low, high = spec.bounds
            else:
                entry = next(entry for entry in plan.entries if entry.columns == (spec.name,))
                self._progress(f"releasing the bounds of {spec.name}")
                counts, scale = noisy_bucket_counts(values, entry.rho)
                released = bounds_from_counts(counts, scale)
                if released is None:
                    ledger.note(f"bounds of {spec.name}: no bucket cleared the noise; the column is treated as 0")
                    released = (0.0, 0.0)
                else:
                    ledger.note(f"bounds of {spec.name}: {released[0]:g}..{released[1]:g}, released privately")
                    anchors[spec.name] = anchors_from_counts(counts, scale)
                low, high = released
            bins[spec.name] = NumericBins.build(float(low), float(high), integer, self.n_bins, self.max_exact_values)
        return bins, anchors

    def _release_contingency_table(self, frame, schema, bins, plan):
        import opendp.prelude as dp
        import polars as pl

        dp.enable_features("contrib")
        internal = {spec.name: f"c{index}" for index, spec in enumerate(schema.columns)}
        columns, keys = {}, {}
        for spec in schema.columns:
            name = internal[spec.name]
            if spec.name in bins:
                column_bins = bins[spec.name]
                codes = column_bins.encode(_numbers(frame[spec.name], spec))
                # missing values go in as nulls: OpenDP gives null the last cell, which is our missing code
                columns[name] = pl.Series(name, [None if code == column_bins.missing_code else int(code)
                                                 for code in codes], dtype=pl.UInt32)
                keys[name] = list(range(column_bins.missing_code))
            else:
                columns[name] = pl.Series(name, [None if _missing(value) else str(value)
                                                 for value in frame[spec.name]], dtype=pl.String)
                if spec.categories is not None:
                    keys[name] = [str(label) for label in spec.categories]
        data = pl.LazyFrame(columns)
        loss = dp.loss_of(rho=plan.table_rho, delta=plan.key_delta) if plan.key_delta else dp.loss_of(rho=plan.table_rho)
        context = dp.Context.compositor(data=data, privacy_unit=dp.unit_of(contributions=1), privacy_loss=loss,
                                        split_evenly_over=1)
        algorithm = self._algorithm(plan, internal)
        self._progress(f"{self.algorithm_name}: measuring one-way marginals, then selecting and measuring "
                       "multi-way ones (the longest step)")
        query = context.query()  # the context holds exactly this release's budget (split_evenly_over=1)
        table = query.contingency_table(keys=keys, algorithm=algorithm).release()
        return _ReleasedTable(table, internal)

    def _algorithm(self, plan, internal: dict[str, str]):
        raise NotImplementedError

    def _usable_table_rho(self, rho: float, n_columns: int) -> float:
        return rho

    def _selection_mechanism(self) -> str:
        raise NotImplementedError

    def _counting_estimator(self):
        """Private-PGM's mirror descent (OpenDP's default estimator) with `estimation_iterations` steps, reporting
        each refit (AIM refits once a round, warm-started) when verbose. Post-processing: costs no budget."""
        state = {"fits": 0}

        from mbi.estimation import mirror_descent

        def estimator(domain, loss_fn, *, potentials=None):
            state["fits"] += 1
            started = time.perf_counter()
            model = mirror_descent(domain, loss_fn, potentials=potentials, iters=self.estimation_iterations)
            self._progress(f"{self.algorithm_name}: model fit {state['fits']} done "
                           f"({time.perf_counter() - started:.1f} s)")
            return model

        return estimator

    def _keep_fitted_state(self, schema, bins, released, ledger, anchors=None) -> None:
        table, internal = released.table, released.internal
        self.model_ = GraphicalModel.from_mbi(table.model)
        self.internal_names_ = internal
        self.bins_ = bins
        model_columns = []
        for spec in schema.columns:
            name = internal[spec.name]
            if spec.name in bins:
                column_bins = bins[spec.name]
                model_columns.append(ModelColumn(spec.name, "numeric", integer=column_bins.integer,
                                                 low=float(column_bins.lows[0]), high=float(column_bins.highs[-1])))
            else:
                released_keys = list(table.keys[name])
                labels = _labels_back(released_keys, spec)
                model_columns.append(ModelColumn(spec.name, "categorical", categories=labels))
        encoder = TableEncoder()
        encoder.schema_, encoder.model_columns_, encoder.generators_, encoder.derived_ = schema, model_columns, {}, {}
        self.support_ = _supports(table, schema, internal, bins, model_columns, ledger, anchors or {})
        self.encoder_ = encoder
        self.schema_ = schema
        self.n_rows_ = max(1, int(round(float(table.model.total))))  # the released (noisy) total
        self.privacy_ledger_ = ledger
        self._progress("measured marginals: " + "; ".join(" x ".join(self.measured_marginals_[index])
                                                          for index in range(len(self.model_.cliques))))
        self._rng_ = np.random.default_rng(self.seed)

    @property
    def measured_marginals_(self) -> list[tuple[str, ...]]:
        """The column sets of the fitted model's cliques (the marginals measured), in the table's column names."""
        columns = {internal: name for name, internal in self.internal_names_.items()}
        return [tuple(columns[column] for column in clique) for clique in self.model_.cliques]

    # --- sampling -------------------------------------------------------------------------------------------

    def _sample_matrix(self, n: int, conditions: list[EncodedCondition], rng: np.random.Generator) -> np.ndarray:
        allowed, ranges, exact = {}, {}, {}
        for condition in conditions:
            internal = self.internal_names_[condition.column.name]
            if condition.codes is not None:
                allowed[internal] = condition.codes
                continue
            column_bins = self.bins_[condition.column.name]
            if condition.is_range:
                allowed[internal] = column_bins.codes_overlapping(condition.low, condition.high)
                ranges[condition.column.name] = (condition.low, condition.high)
            else:
                allowed[internal] = np.unique(column_bins.encode(condition.values))
                exact[condition.column.name] = condition.values
        for internal, support in self.support_.items():
            # the released support is evidence too; a condition that asks only for codes outside it keeps its codes
            if internal in allowed:
                inside = np.intersect1d(allowed[internal], support)
                allowed[internal] = inside if len(inside) else allowed[internal]
            else:
                allowed[internal] = support
        codes = self.model_.sample(n, rng, allowed)
        matrix = np.empty((n, len(self.encoder_.model_columns_)))
        for index, column in enumerate(self.encoder_.model_columns_):
            column_codes = codes[self.internal_names_[column.name]]
            if not column.is_numeric:
                matrix[:, index] = column_codes
                continue
            column_bins = self.bins_[column.name]
            low, high = ranges.get(column.name, (-np.inf, np.inf))
            values = column_bins.decode(column_codes, rng, low, high)
            if column.name in exact:
                values = _exact_values(exact[column.name], column_codes, column_bins, rng)
            matrix[:, index] = values
        return matrix

    # --- saving ---------------------------------------------------------------------------------------------

    def _state(self):
        model_state, arrays = self.model_.to_state()
        for index, (name, column_bins) in enumerate(self.bins_.items()):
            arrays.update(column_bins.to_arrays(f"bins{index}"))
        supported = sorted(self.support_)
        for index, internal in enumerate(supported):
            arrays[f"support{index}"] = np.asarray(self.support_[internal], dtype=np.int64)
        state = {
            "model": model_state,
            "internal_names": self.internal_names_,
            "supported_columns": supported,
            "binned_columns": [[name, column_bins.integer] for name, column_bins in self.bins_.items()],
            "privacy_ledger": self.privacy_ledger_.to_dict(),
        }
        return state, arrays

    def _restore_state(self, state, arrays):
        self.model_ = GraphicalModel.from_state(state["model"], arrays)
        self.internal_names_ = dict(state["internal_names"])
        self.bins_ = {name: NumericBins.from_arrays(arrays, f"bins{index}", integer)
                      for index, (name, integer) in enumerate(state["binned_columns"])}
        self.privacy_ledger_ = PrivacyLedger.from_dict(state["privacy_ledger"])
        # models saved before supports existed sample every code, as they did
        self.support_ = {internal: arrays[f"support{index}"]
                         for index, internal in enumerate(state.get("supported_columns", []))}


def default_target_weight(n_columns: int, degree: int) -> float:
    """The weight at which the workload's marginals holding the target weigh, together, as much as all the others.

    Measured on Adult at epsilon 3 (benchmarks/results/privacy_aim_fits/): the other columns' count (14), the old
    default, spent AIM's rounds on the target and left strong feature pairs unmeasured (pair trends 0.887, TSTR AUC
    0.855); 3 measured those pairs but fewer of the target's (0.907, 0.850); this rule's 6.5 gave 0.910 and 0.857."""
    holding = math.comb(n_columns - 1, degree - 1)
    return max((math.comb(n_columns, degree) - holding) / holding, 1.0) if holding else 1.0


@register("dp-aim")
class DPAIM(MarginalSynthesizer):
    """AIM (McKenna, Mullins, Sheldon & Miklau, VLDB 2022) through OpenDP: each round privately picks the marginal
    the current model gets most wrong (weighted by its size), measures it with Gaussian noise, and refits a
    graphical model; the per-round budget grows when a measurement stops helping.

    Extra parameters: `degree` (the workload: every set of this many columns), `target` (a column the data will be
    used to predict: the workload's marginals that include it weigh `target_weight` times the others, by default
    so much that together they weigh as much as all the others together, so AIM measures the target's dependence
    on the features without starving the strong pairs among them; which column is the target is public, not
    learned from the data), `max_model_size` (MB a model may
    take; smaller is faster), `rounds` (at most; None lets AIM decide from the number of columns, about 16 per
    column). AIM starts each round at 1/rounds of the multi-way budget and quadruples it when a measurement stops
    helping, so `rounds` bounds how many marginals it can measure: with 12, Adult (15 columns) got 7, all between
    strongly tied categorical pairs, and income came out independent of every feature. Each round refits the
    model (and jax recompiles it), up to a minute a round for Adult on 2 busy cores, so the defaults (10 MB, 24
    rounds, 100 warm-started mirror-descent steps a round) keep a 26k-row Adult fit to tens of minutes; the
    paper's (80 MB, 16 rounds per column, 1000 steps) would take hours there.
    """

    name = "dp-aim"
    algorithm_name = "AIM"

    def __init__(self, epsilon: float | None = None, delta: float | None = None, degree: int = 2,
                 target: str | None = None, target_weight: float | None = None, max_model_size: float = 10.0,
                 rounds: int | None = 24, preprocessing_share: float = 0.1,
                 oneway_share: float = 0.5, selection_share: float = 0.1, n_bins: int = 64,
                 max_exact_values: int = 128, estimation_iterations: int = 100, seed: int | None = 0,
                 verbose: bool = False):
        super().__init__(epsilon, delta, preprocessing_share, oneway_share, selection_share, n_bins,
                         max_exact_values, estimation_iterations, seed, verbose)
        self.degree = degree
        self.target = target
        self.target_weight = target_weight
        self.max_model_size = max_model_size
        self.rounds = rounds

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.degree, bool) or not isinstance(self.degree, (int, np.integer)) or not 1 <= self.degree <= 3:
            raise ParameterError(f"degree must be 1, 2 or 3, got {self.degree!r}")
        if isinstance(self.max_model_size, bool) or not isinstance(self.max_model_size, (int, float)) \
                or self.max_model_size <= 0:
            raise ParameterError(f"max_model_size must be a positive number of MB, got {self.max_model_size!r}")
        if self.rounds is not None and (isinstance(self.rounds, bool) or not isinstance(self.rounds, int)
                                        or self.rounds < 1):
            raise ParameterError(f"rounds must be a positive integer or None, got {self.rounds!r}")
        if self.target is not None and not isinstance(self.target, str):
            raise ParameterError(f"target must be a column name or None, got {self.target!r}")
        if self.target_weight is not None and (isinstance(self.target_weight, bool)
                                               or not isinstance(self.target_weight, (int, float))
                                               or self.target_weight < 1):
            raise ParameterError(f"target_weight must be a number of at least 1 or None, got {self.target_weight!r}")

    def fit(self, data, schema=None, ledger=None):
        if self.target is not None and self.target not in getattr(data, "columns", []):
            raise ParameterError(f"target {self.target!r} is not a column of the table; columns: {list(data.columns)}")
        return super().fit(data, schema=schema, ledger=ledger)

    def _workload(self, internal: dict[str, str]):
        """Every set of `degree` columns; those holding the target weigh `target_weight` times the others."""
        from itertools import combinations

        from opendp.extras.mbi import Count

        columns = list(internal.values())
        degree = min(self.degree, len(columns))
        if self.target is None:
            return degree
        target = internal[self.target]
        weight = float(self.target_weight if self.target_weight is not None
                       else default_target_weight(len(columns), degree))
        return [Count(by, weight if target in by else 1.0) for by in combinations(columns, degree)]

    def _algorithm(self, plan, internal):
        import opendp.prelude as dp

        return dp.mbi.AIM(estimator=self._counting_estimator(), oneway_split=self.oneway_share,
                          measure_split=1 - self.selection_share, queries=self._workload(internal),
                          max_size=float(self.max_model_size), rounds=self.rounds)

    def _selection_mechanism(self) -> str:
        return "exponential mechanism (report noisy max), once a round (OpenDP)"


@register("dp-mst")
class DPMST(MarginalSynthesizer):
    """MST (McKenna, Miklau & Sheldon, J. Privacy and Confidentiality 2021; winner of the NIST 2018 challenge)
    through OpenDP: privately picks a maximum spanning tree of column pairs that the one-way marginals explain
    worst, measures those pairs with Gaussian noise, and fits a tree-shaped graphical model. Fast and robust."""

    name = "dp-mst"
    algorithm_name = "MST"

    def _algorithm(self, plan, internal):
        import opendp.prelude as dp

        return dp.mbi.MST(estimator=self._counting_estimator(), oneway_split=self.oneway_share,
                          measure_split=1 - self.selection_share)

    def _selection_mechanism(self) -> str:
        return "exponential mechanism over column pairs, one per tree edge (OpenDP)"

    def _usable_table_rho(self, rho: float, n_columns: int) -> float:
        """The largest rho <= `rho` for which OpenDP 0.16's MST does not refuse its own selection step.

        MST gives each of its n_columns - 1 selections a share of the selection budget rounded down, but composes
        them with upward rounding, so for some budgets the sum lands one float step above the budget and OpenDP
        stops mid-fit. Whether it does depends only on rho and the column count, never on the data, so we
        replay OpenDP's arithmetic here and lower rho by a few parts in 10^12 until it fits."""
        for attempt in range(1000):
            candidate = rho * (1 - attempt * 1e-12)
            if _mst_selection_fits(candidate, n_columns, self.oneway_share, 1 - self.selection_share):
                return candidate
        raise ParameterError(f"no usable budget near rho {rho} for MST over {n_columns} columns")


class _Plan:
    def __init__(self, entries, unbounded, undiscovered, table_rho, oneway_rho, key_delta):
        self.entries = entries
        self.unbounded = unbounded
        self.undiscovered = undiscovered
        self.table_rho = table_rho
        self.oneway_rho = oneway_rho
        self.key_delta = key_delta


class _ReleasedTable:
    def __init__(self, table, internal):
        self.table = table
        self.internal = internal


def _mst_selection_fits(rho: float, n_columns: int, oneway_split: float, measure_split: float) -> bool:
    """Replays how OpenDP's contingency table and MST split `rho` (next float down after each subtraction, shares
    rounded down) and compose the selections (sums rounded up); True if the sum stays within the selection budget."""
    from fractions import Fraction

    def prior(value: float) -> float:
        return math.nextafter(value, -math.inf)

    def add_rounding_up(total: float, part: float) -> float:
        exact = Fraction(total) + Fraction(part)
        rounded = float(exact)
        return math.nextafter(rounded, math.inf) if Fraction(rounded) < exact else rounded

    multiway = prior(prior(rho - rho * oneway_split))
    selection = prior(prior(multiway - multiway * measure_split))
    selections = max(n_columns - 1, 1)
    each = prior(selection / selections)
    total = 0.0
    for _ in range(selections):
        total = add_rounding_up(total, each)
    return total <= selection


def _supports(table, schema, internal, bins, model_columns, ledger, anchors) -> dict[str, np.ndarray]:
    """{internal column name: the codes it may take} for the columns whose released counts rule codes out (see
    `support.py`); each restriction is noted on the ledger. Post-processing: no budget."""
    sizes = dict(zip(table.model.domain.attrs, table.model.domain.shape))
    measurements = table.marginals.flatten()
    supports = {}
    for spec, column in zip(schema.columns, model_columns):
        name = internal[spec.name]
        estimates = cell_estimates(measurements, sizes, name)
        if estimates is None:
            continue
        anchor_codes = None
        if spec.name in bins:
            missing_code = bins[spec.name].missing_code
            if anchors.get(spec.name) is not None:  # the bounds release showed rows in these end bins: keep them
                anchor_codes = tuple(int(code) for code in bins[spec.name].encode(np.array(anchors[spec.name])))
        else:
            missing_code = column.categories.index(None) if None in column.categories else -1
        support = released_support(*estimates, numeric=spec.name in bins, missing_code=missing_code,
                                   anchors=anchor_codes)
        if support is None:
            continue
        supports[name] = support
        ledger.note(f"support of {spec.name}: {_describe_support(support, bins.get(spec.name), missing_code)} "
                    "(bins and cells where the released counts show no rows are not sampled; post-processing, "
                    "no budget)")
    return supports


def _describe_support(support: np.ndarray, column_bins: NumericBins | None, missing_code: int) -> str:
    missing = "missing values kept" if missing_code in support else "no missing values"
    values = support[support != missing_code]
    if column_bins is None or not len(values):
        return missing
    low, high = column_bins.lows[values[0]], column_bins.highs[values[-1]]
    return f"{low:g}..{high:g}, {missing}"


def _refuse_unmodelled_columns(schema: TableSchema) -> None:
    for spec in schema.columns:
        if spec.kind in (ColumnKind.IDENTIFIER, ColumnKind.TEXT):
            raise ParameterError(
                f"column {spec.name!r} is {spec.kind.value}: the private synthesizers model every column as "
                "categories or numbers and cannot generate keys or free text without looking at them. Drop the "
                "column before fitting, or set its kind to 'categorical' in the schema if its values are a public "
                "set of labels."
            )


def _numbers(column: pd.Series, spec) -> np.ndarray:
    from perpetuum.tabular.transforms import _to_numbers

    return _to_numbers(column, spec)


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _labels_back(released: list, spec) -> list:
    """Released keys are text (None for missing or a category the release dropped); give them the column's type."""
    if spec.categories is not None:
        by_text = {str(label): label for label in spec.categories}
        return [None if key is None else by_text[key] for key in released]
    labels = []
    for key in released:
        if key is None:
            labels.append(None)
        elif spec.dtype in ("bool", "boolean"):
            labels.append(key == "True")
        elif spec.dtype.lower().startswith(("int", "uint", "float")):
            number = float(key)
            labels.append(int(number) if number.is_integer() and "float" not in spec.dtype.lower() else number)
        else:
            labels.append(key)
    if labels and labels[-1] is not None:
        labels.append(None)
    return labels


def _exact_values(wanted: np.ndarray, codes: np.ndarray, column_bins: NumericBins, rng) -> np.ndarray:
    """For an exact-value condition: each row gets one of the wanted values that lies in its bin."""
    wanted_codes = column_bins.encode(wanted)
    values = np.empty(len(codes))
    for code in np.unique(codes):
        members = codes == code
        choices = wanted[wanted_codes == code]
        values[members] = rng.choice(choices, members.sum())
    return values
