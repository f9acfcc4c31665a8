"""The differentially private synthesizers (dp-aim, dp-mst): the usual contract, a private pipeline, a ledger."""

import json

import numpy as np
import pandas as pd
import pytest

from perpetuum.errors import ConditionError, ParameterError
from perpetuum.privacy import PrivacyBudgetError, PrivacyLedger
from perpetuum.schema import infer_schema
from perpetuum.tabular import Between, get_synthesizer, load_synthesizer
from perpetuum.tabular.dp.bins import NumericBins
from perpetuum.tabular.dp.synthesizers import _mst_selection_fits, default_target_weight

FAST = {"estimation_iterations": 50}  # small models converge quickly; keeps each fit to seconds


def _table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["Lyon", "Oslo", "Porto"], rows, p=[0.5, 0.3, 0.2])
    age = np.clip(rng.normal(40, 12, rows), 18, 90).round().astype(int)
    income = np.where((age > 40) & (city == "Oslo"), rng.choice(["high", "low"], rows, p=[0.8, 0.2]),
                      rng.choice(["high", "low"], rows, p=[0.2, 0.8]))
    savings = np.where(rng.random(rows) < 0.7, 0, rng.integers(1, 50_000, rows))
    return pd.DataFrame({"city": city, "age": age, "income": income, "savings": savings})


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("opendp.extras.mbi")
    table = _table()
    model = get_synthesizer("dp-mst")(epsilon=5.0, delta=1e-6, seed=3, **FAST).fit(table)
    return table, model


def test_epsilon_and_delta_are_required():
    table = _table(50)
    with pytest.raises(ParameterError, match="epsilon is required"):
        get_synthesizer("dp-aim")(delta=1e-6).fit(table)
    with pytest.raises(ParameterError, match="delta is required"):
        get_synthesizer("dp-mst")(epsilon=1.0).fit(table)


def test_identifier_and_text_columns_are_refused_with_what_to_do():
    table = _table(50).assign(customer=[f"C{index:05d}" for index in range(50)])
    schema = infer_schema(table).set_kind("customer", "identifier")
    with pytest.raises(ParameterError, match="column 'customer' is identifier.*Drop the column"):
        get_synthesizer("dp-mst")(epsilon=1.0, delta=1e-6).fit(table, schema=schema)


def test_samples_keep_the_contract_and_the_ledger_spends_exactly_the_budget(fitted):
    table, model = fitted
    synthetic = model.sample(400, seed=1)
    assert list(synthetic.columns) == list(table.columns)
    assert len(synthetic) == 400
    assert set(synthetic["city"].dropna()) <= {"Lyon", "Oslo", "Porto"}
    assert synthetic["age"].dropna().between(model.bins_["age"].lows[0], model.bins_["age"].highs[-1]).all()
    ledger = model.privacy_ledger_.to_dict()
    assert ledger["spent"]["epsilon"] == pytest.approx(5.0, rel=1e-6)
    assert ledger["spent"]["epsilon"] <= 5.0
    stages = {entry["stage"] for entry in ledger["entries"]}
    assert stages == {"preprocessing", "selection", "measurement"}
    assert {tuple(entry["columns"]) for entry in ledger["entries"] if entry["stage"] == "preprocessing"} == {
        ("age",), ("savings",)}
    assert any("released privately" in note for note in ledger["notes"])
    assert model.n_rows_ != 0  # the released total, noisy; the true count is never stored


def test_the_model_learns_the_table(fitted):
    table, model = fitted
    synthetic = model.sample(3000, seed=2)
    share_lyon = (synthetic["city"] == "Lyon").mean()
    assert share_lyon == pytest.approx(0.5, abs=0.08)
    assert (synthetic["savings"] == 0).mean() == pytest.approx((table["savings"] == 0).mean(), abs=0.1)


def test_conditions_hold_in_every_row(fitted):
    _, model = fitted
    rows = model.sample(200, conditions={"city": "Oslo", "age": Between(30, 40)}, seed=4)
    assert (rows["city"] == "Oslo").all()
    assert rows["age"].between(30, 40).all()
    exact = model.sample(50, conditions={"age": 42}, seed=4)
    assert (exact["age"] == 42).all()
    with pytest.raises(ConditionError, match="never holds 'Paris'"):
        model.sample(5, conditions={"city": "Paris"})


def test_saved_model_reloads_and_samples_the_same_rows(fitted, tmp_path):
    _, model = fitted
    model.save(tmp_path / "model")
    document = json.loads((tmp_path / "model" / "model.json").read_text())
    assert document["state"]["privacy_ledger"]["budget"] == {"epsilon": 5.0, "delta": 1e-6}
    reloaded = load_synthesizer(tmp_path / "model")
    pd.testing.assert_frame_equal(model.sample(100, seed=9), reloaded.sample(100, seed=9))
    assert reloaded.privacy_ledger_.epsilon_spent == pytest.approx(model.privacy_ledger_.epsilon_spent)


def test_a_fit_over_a_shared_budget_refuses_before_releasing_anything():
    pytest.importorskip("opendp.extras.mbi")
    shared = PrivacyLedger(epsilon=2.0, delta=1e-6)
    model = get_synthesizer("dp-mst")(epsilon=3.0, delta=1e-6, **FAST)
    with pytest.raises(PrivacyBudgetError, match="over the budget's epsilon 2"):
        model.fit(_table(100), ledger=shared)
    assert shared.entries == []
    assert not hasattr(model, "model_")


def test_public_categories_and_bounds_from_the_schema_cost_nothing_and_are_kept():
    pytest.importorskip("opendp.extras.mbi")
    table = _table(400)
    schema = infer_schema(table)
    schema["city"].categories = ["Lyon", "Oslo", "Porto", "Rome"]  # Rome is public knowledge, absent from the rows
    schema["income"].categories = ["high", "low"]
    schema["age"].bounds = (18, 90)
    schema["savings"].bounds = (0, 50_000)
    model = get_synthesizer("dp-mst")(epsilon=2.0, delta=1e-6, **FAST).fit(table, schema=schema)
    ledger = model.privacy_ledger_.to_dict()
    assert ledger["by_stage"]["preprocessing"]["rho"] == 0
    assert ledger["spent"]["delta_spent_directly"] == 0  # no category set had to be discovered
    city = next(column for column in model.encoder_.model_columns_ if column.name == "city")
    assert city.categories == ["Lyon", "Oslo", "Porto", "Rome", None]
    assert model.bins_["age"].lows[0] == 18 and model.bins_["age"].highs[-1] == 90


def test_the_card_carries_the_ledger(fitted, tmp_path):
    from perpetuum.workflow import write_table_card_beside

    table, model = fitted
    synthetic = model.sample(300, seed=0)
    card, files = write_table_card_beside(table, synthetic, tmp_path / "out.csv", model, seed=0, generation=0,
                                          source={"source": "in memory"}, conditions=None)
    assert card["differential_privacy"]["budget"]["epsilon"] == 5.0
    markdown = (tmp_path / "out.card.md").read_text()
    assert "## Differential privacy ledger" in markdown
    assert "| **measurement** | all |" in markdown


def test_dp_aim_fits_a_small_table():
    pytest.importorskip("opendp.extras.mbi")
    table = _table(300)[["city", "income", "age"]]
    model = get_synthesizer("dp-aim")(epsilon=3.0, delta=1e-6, rounds=4, max_model_size=1.0, **FAST).fit(table)
    synthetic = model.sample(200, seed=0)
    assert list(synthetic.columns) == ["city", "income", "age"]
    assert model.privacy_ledger_.epsilon_spent <= 3.0 + 1e-9
    assert model.privacy_ledger_.by_stage()["selection"]["rho"] > 0


def test_bins_keep_spikes_and_small_integer_ranges_exact():
    wide = NumericBins.build(0, 99_999, integer=True, n_bins=16)
    assert wide.lows[0] == 0 and wide.highs[0] == 0  # the zero spike of an amount column has a bin of its own
    codes = wide.encode(np.array([0.0, 5.0, 99_999.0, np.nan, 250_000.0]))
    assert codes[0] == 0 and codes[3] == wide.missing_code and codes[4] == codes[2]
    rng = np.random.default_rng(0)
    assert (wide.decode(np.zeros(20, dtype=int), rng) == 0).all()
    small = NumericBins.build(17, 90, integer=True)
    assert len(small.lows) == 74 and (small.decode(small.encode(np.array([40.0])), rng) == 40).all()
    signed = NumericBins.build(-10.0, 10.0, integer=False, n_bins=4)
    zero = signed.encode(np.array([0.0]))
    assert signed.lows[zero[0]] == 0 and signed.highs[zero[0]] == 0


def test_mst_budget_is_lowered_only_as_far_as_opendp_needs():
    model = get_synthesizer("dp-mst")(epsilon=3.0, delta=1e-6)
    assert not _mst_selection_fits(0.15, 6, 0.5, 0.9)  # a budget OpenDP 0.16's MST refuses over 6 columns
    usable = model._usable_table_rho(0.15, 6)
    assert usable < 0.15 and usable == pytest.approx(0.15, rel=1e-9)
    assert _mst_selection_fits(usable, 6, 0.5, 0.9)


def test_synthesize_puts_the_ledger_in_the_report_and_on_the_card(tmp_path):
    pytest.importorskip("opendp.extras.mbi")
    from perpetuum.workflow import synthesize

    run = synthesize(_table(300), 200, tmp_path / "private.csv", model="dp-mst", seed=0, privacy_attacks=False,
                     params={"epsilon": 2.0, "delta": 1e-6, **FAST})
    html = (tmp_path / "private.report.html").read_text()
    assert "Differential privacy ledger" in html and "preprocessing" in html
    report = json.loads((tmp_path / "private.report.json").read_text())
    assert report["metadata"]["differential_privacy"]["budget"]["epsilon"] == 2.0
    assert run.card["differential_privacy"]["spent"]["epsilon"] <= 2.0 + 1e-9


def test_sampling_a_model_with_a_cycle_keeps_every_dependence():
    """A four-cycle A-B-C-D-A needs a fill-in edge to sample; conditioning on the measured cliques' neighbours
    alone (mbi's sampler) drew A and C nearly independently here. The sample must match the exact joint."""
    pytest.importorskip("mbi")
    from itertools import product

    from perpetuum.tabular.dp.graphical_model import GraphicalModel

    agree, disagree = np.log(9.0), 0.0  # each edge makes its two ends agree 9 times as often
    edge = np.array([[agree, disagree], [disagree, agree]])
    cliques = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")]
    model = GraphicalModel(["A", "B", "C", "D"], [2, 2, 2, 2], cliques, [edge.copy() for _ in cliques])
    joint = np.zeros((2, 2, 2, 2))
    for a, b, c, d in product(range(2), repeat=4):
        joint[a, b, c, d] = np.exp(edge[a, b] + edge[b, c] + edge[c, d] + edge[d, a])
    joint /= joint.sum()
    codes = model.sample(40_000, np.random.default_rng(0))
    for first, second, axes in (("A", "C", (1, 3)), ("B", "D", (0, 2)), ("A", "B", (2, 3))):
        expected = joint.sum(axis=axes)[0, 0] + joint.sum(axis=axes)[1, 1]
        observed = float(np.mean(codes[first] == codes[second]))
        assert observed == pytest.approx(expected, abs=0.015), (first, second)


def _target_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A column and a noisy copy (the strongest dependence, which AIM finds first) and a feature that predicts the
    target."""
    rng = np.random.default_rng(seed)
    first = rng.choice(list("pqrs"), rows)
    copy = np.where(rng.random(rows) < 0.6, first, rng.choice(list("pqrs"), rows))
    feature = rng.choice(["x0", "x1", "x2"], rows)
    target = np.where(rng.random(rows) < 0.8, np.where(feature == "x0", "yes", "no"), rng.choice(["yes", "no"], rows))
    return pd.DataFrame({"first": first, "first_copy": copy, "feature": feature, "target": target})


def test_dp_aim_keeps_the_targets_dependence_on_its_feature():
    """Regression: dp-aim once sampled Adult's income as if independent of every feature (TSTR AUC 0.49). With
    few rounds, AIM spends them on the strongest pairs (here the near-copies); a target makes the pairs with it
    count first."""
    pytest.importorskip("opendp.extras.mbi")
    table = _target_table(1500)
    model = get_synthesizer("dp-aim")(epsilon=10.0, delta=1e-6, rounds=1, target="target", target_weight=3,
                                      max_model_size=1.0, **FAST).fit(table)
    measured = [set(clique) for clique in model.measured_marginals_]
    assert {"feature", "target"} in measured
    synthetic = model.sample(4000, seed=0)
    real_gap = (table.loc[table.feature == "x0", "target"] == "yes").mean() - (
        table.loc[table.feature != "x0", "target"] == "yes").mean()
    gap = (synthetic.loc[synthetic.feature == "x0", "target"] == "yes").mean() - (
        synthetic.loc[synthetic.feature != "x0", "target"] == "yes").mean()
    assert gap == pytest.approx(real_gap, abs=0.1)
    with pytest.raises(ParameterError, match="target 'income' is not a column"):
        get_synthesizer("dp-aim")(epsilon=1.0, delta=1e-6, target="income").fit(table)


def test_the_default_target_weight_balances_the_targets_marginals_against_the_others():
    pytest.importorskip("opendp.extras.mbi")
    columns = [f"c{index}" for index in range(15)]
    workload = get_synthesizer("dp-aim")(epsilon=1.0, delta=1e-6, target="c3")._workload(dict(zip(columns, columns)))
    holding = sum(query.weight for query in workload if "c3" in query.by)
    others = sum(query.weight for query in workload if "c3" not in query.by)
    assert len(workload) == 105 and holding == pytest.approx(others)
    assert default_target_weight(15, 2) == 6.5  # Adult: 14 pairs with income at 6.5 against 91 at 1
    assert default_target_weight(4, 2) == 1.0 and default_target_weight(15, 1) == 14.0
    assert default_target_weight(2, 2) == 1.0


def test_synthesize_gives_dp_aim_the_target(monkeypatch, tmp_path):
    import perpetuum.workflow.tables as tables
    from perpetuum.workflow import synthesize

    seen = {}

    class Stop(Exception):
        pass

    def capture(train, model, schema, seed, verbose=False, params=None):
        seen[model] = params
        raise Stop

    monkeypatch.setattr(tables, "fit_synthesizer", capture)
    for model in ("dp-aim", "dp-mst"):
        with pytest.raises(Stop):
            synthesize(_table(60), 10, tmp_path / "out.csv", model=model, target="income",
                       params={"epsilon": 1.0, "delta": 1e-6})
    assert seen["dp-aim"] == {"epsilon": 1.0, "delta": 1e-6, "target": "income"}
    assert seen["dp-mst"] == {"epsilon": 1.0, "delta": 1e-6}


def test_the_support_drops_the_empty_tails_and_missing_cell_that_noise_fills():
    from perpetuum.tabular.dp.support import released_support

    # ten bins and the missing-value cell; rows in bins 2..6 only, the rest is noise (standard deviation 2)
    counts = np.array([1.0, -2.0, 400.0, 5.0, 800.0, 600.0, 300.0, 3.0, -1.0, 2.0, 4.0])
    deviation = np.full(11, 2.0)
    numeric = released_support(counts, deviation, numeric=True, missing_code=10)
    assert numeric.tolist() == [2, 3, 4, 5, 6]  # bin 3 lies inside the support: kept whatever its count
    # the bounds release showed rows at or below bin 0 and at or above bin 8: those bins stay
    assert released_support(counts, deviation, numeric=True, missing_code=10, anchors=(0, 8)).tolist() == list(
        range(9))
    categorical = released_support(counts, deviation, numeric=False, missing_code=10)
    assert categorical.tolist() == list(range(10))  # every category is kept, the empty missing cell is not
    with_missing = counts.copy()
    with_missing[10] = 50.0
    assert released_support(with_missing, deviation, numeric=False, missing_code=10) is None
    uncovered = deviation.copy()
    uncovered[10] = np.inf  # no release covers the missing cell: nothing is known about it, so it stays
    assert released_support(counts, uncovered, numeric=False, missing_code=10) is None
    thin_tail = counts.copy()
    thin_tail[7:10] = 5.0  # no bin clears alone, but the run 7..9 does: the support reaches into it
    assert released_support(thin_tail, deviation, numeric=True, missing_code=10).tolist() == list(range(2, 8))
    nothing_shows = np.zeros(11)
    assert released_support(nothing_shows, deviation, numeric=True, missing_code=10).tolist() == list(range(10))


def test_the_support_of_an_overshooting_private_range_ends_near_the_real_one():
    """Adult's age at epsilon 3: rows at 17..90 (a spike at 90), private bounds 15..127, one bin per year, noise
    of standard deviation 9.7 on every bin."""
    from perpetuum.tabular.dp.support import released_support

    ages = np.arange(15, 128)
    rows = np.where((ages >= 17) & (ages <= 90), 26_000 * np.exp(-0.5 * ((ages - 37) / 13.5) ** 2) / 34, 0.0)
    rows[ages == 90] = 35.0
    noisy = np.r_[rows, 0.0] + np.random.default_rng(0).normal(0, 9.7, len(ages) + 1)
    support = released_support(noisy, np.full(len(ages) + 1, 9.7), numeric=True, missing_code=len(ages))
    kept = ages[support]
    assert kept[0] == 17 and 75 <= kept[-1] <= 90  # the thin tail of the late 70s and 80s may go, 91..127 does
    assert len(ages) not in support


def test_cell_estimates_combine_the_oneway_prefix_and_the_summed_pairs():
    pytest.importorskip("opendp.extras.mbi")
    from mbi import LinearMeasurement
    from opendp.extras.mbi._utilities import SelectPrefixQuery

    from perpetuum.tabular.dp.support import cell_estimates

    sizes = {"a": 3, "b": 2}  # a: two discovered categories and the latent missing-or-rare cell
    oneway = LinearMeasurement(np.array([10.0, 20.0]), ("a",), stddev=1.0, query=SelectPrefixQuery(2))
    pair = LinearMeasurement(np.array([[4.0, 5.0], [8.0, 10.0], [1.0, 2.0]]).ravel(), ("a", "b"), stddev=1.0)
    counts, deviation = cell_estimates([oneway, pair], sizes, "a")
    # the pair summed over b: 9, 18, 3 with variance 2; the prefix: 10, 20 with variance 1
    assert counts == pytest.approx([(10 + 9 / 2) / 1.5, (20 + 18 / 2) / 1.5, 3.0])
    assert deviation == pytest.approx([np.sqrt(1 / 1.5), np.sqrt(1 / 1.5), np.sqrt(2.0)])
    counts_b, _ = cell_estimates([oneway, pair], sizes, "b")
    assert counts_b == pytest.approx([13.0, 17.0])
    assert cell_estimates([oneway], {"a": 3, "c": 4}, "c") is None


def test_sampled_rows_stay_in_the_released_support(fitted, tmp_path):
    table, model = fitted
    assert model.support_, "the fixture's noise should rule some cell out"
    assert any(note.startswith("support of ") for note in model.privacy_ledger_.notes)
    synthetic = model.sample(3000, seed=5)
    for column in model.encoder_.model_columns_:
        support = model.support_.get(model.internal_names_[column.name])
        if support is None:
            continue
        values = synthetic[column.name]
        if column.is_numeric:
            bins = model.bins_[column.name]
            kept = support[support != bins.missing_code]
            assert values.dropna().astype(float).between(bins.lows[kept[0]], bins.highs[kept[-1]]).all()
            assert values.notna().all() or bins.missing_code in support
        else:
            assert values.notna().all() or column.categories.index(None) in support
    model.save(tmp_path / "model")
    reloaded = load_synthesizer(tmp_path / "model")
    assert {name: codes.tolist() for name, codes in reloaded.support_.items()} == {
        name: codes.tolist() for name, codes in model.support_.items()}


def test_private_bounds_anchor_the_rows_their_outer_buckets_show():
    from perpetuum.tabular.dp.private_bounds import MAGNITUDES, anchors_from_counts, bounds_from_counts

    counts = np.zeros(2 * MAGNITUDES + 1)
    counts[MAGNITUDES + 2] = 50.0  # values in (1, 3]
    counts[MAGNITUDES + 7] = 80.0  # values in (63, 127]
    assert bounds_from_counts(counts, 1.0) == (1.0, 127.0)
    assert anchors_from_counts(counts, 1.0) == (3.0, 63.0)
    assert anchors_from_counts(np.zeros(2 * MAGNITUDES + 1), 1.0) is None


def test_noise_alone_almost_never_releases_a_bound():
    # Pure noise in every bucket: a flat 4-sigma line lets some bucket through in about 0.4 % of releases (8 of
    # these 2,000), and one spurious bucket bins the whole column over billions. The Bonferroni line: about 0.2.
    from perpetuum.tabular.dp.private_bounds import MAGNITUDES, bounds_from_counts

    rng = np.random.default_rng(0)
    noise_only = rng.normal(0.0, 3.0, size=(2000, 2 * MAGNITUDES + 1))
    released = sum(bounds_from_counts(counts, 3.0) is not None for counts in noise_only)
    flat_four_sigma = int((noise_only.max(axis=1) > 4 * 3.0).sum())
    assert flat_four_sigma >= 4
    assert released <= 1


def test_the_bounds_reach_a_weaker_bucket_next_to_the_data_but_not_a_far_one():
    from perpetuum.tabular.dp.private_bounds import MAGNITUDES, bounds_from_counts

    counts = np.zeros(2 * MAGNITUDES + 1)
    counts[MAGNITUDES + 3:MAGNITUDES + 5] = 100.0  # values in (3, 15]: far above every line
    counts[MAGNITUDES + 5] = 3.5  # (15, 31]: a thin real edge, under the 4.8-sigma line, next to the data
    counts[MAGNITUDES + 2] = 2.0  # (1, 3]: next to the data but under the neighbour line too
    counts[MAGNITUDES - 30] = 4.5  # a bucket near -2^30, alone: needs the full line
    assert bounds_from_counts(counts, 1.0) == (3.0, 31.0)
