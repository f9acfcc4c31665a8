"""Privacy filters: rows too close to a real person are dropped and sampled again, in the report's distance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perpetuum.datasets import load_adult
from perpetuum.errors import ParameterError
from perpetuum.privacy.filters import OutlierFilter, SimilarityFilter, sample_filtered
from perpetuum.tabular import get_synthesizer


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return load_adult().sample(2000, random_state=0).reset_index(drop=True)


def test_similarity_filter_drops_copies_and_near_copies(train):
    similarity = SimilarityFilter().fit(train)
    fresh = get_synthesizer("fast")(seed=0).fit(train).sample(500, seed=0)
    copies = train.head(50)
    keep = similarity.keep_mask(pd.concat([copies, fresh], ignore_index=True))
    assert not keep[:50].any()  # every exact copy goes
    assert keep[50:].mean() > 0.8  # most fresh rows stay
    assert similarity.threshold_ > 0


def test_outlier_filter_drops_rows_that_single_out_an_isolated_person(train):
    outliers = OutlierFilter(outlier_quantile=0.95).fit(train)
    isolated = train[outliers.is_outlier_].copy()
    nudged = isolated.copy()
    nudged["age"] = nudged["age"] + 1  # a near-copy of an isolated person
    keep = outliers.keep_mask(nudged)
    assert keep.mean() < 0.5
    common = train[~outliers.is_outlier_].head(200)
    assert outliers.keep_mask(common).all()  # rows near ordinary people single nobody out


def test_sample_filtered_returns_exactly_n_rows_that_pass_every_filter(train):
    model = get_synthesizer("quality")(seed=0).fit(train)
    filters = [SimilarityFilter().fit(train), OutlierFilter().fit(train)]
    rows, summary = sample_filtered(model, 1500, filters, seed=3)
    assert len(rows) == 1500
    assert all(item.keep_mask(rows).all() for item in filters)
    assert summary["sampled"] >= 1500 and summary["rounds"] >= 1
    assert 0 < sum(summary["removed"].values()) <= summary["sampled"] - len(rows)  # the surplus of the last draw
    again, _ = sample_filtered(model, 1500, filters, seed=3)
    pd.testing.assert_frame_equal(rows, again)  # seeded


def test_filters_that_keep_almost_nothing_say_so(train):
    class Copier:
        def sample(self, n, conditions=None, seed=None):
            return train.sample(n, replace=True, random_state=seed).reset_index(drop=True)

    with pytest.raises(ParameterError, match="privacy filters kept"):
        sample_filtered(Copier(), 200, [SimilarityFilter().fit(train)], max_rounds=3)


def test_parameters_are_checked_at_fit(train):
    with pytest.raises(ParameterError, match="quantile"):
        SimilarityFilter(quantile=1.5).fit(train)
    with pytest.raises(ParameterError, match="not fitted"):
        OutlierFilter().keep_mask(train)


def test_synthesize_reports_filters_and_personal_identifiers(tmp_path):
    from tests.test_privacy_pii import bank_table
    from perpetuum.workflow import synthesize

    bank = bank_table(800)
    run = synthesize(bank, 800, tmp_path / "synthetic.csv", privacy_attacks=False, seed=0)
    filters = run.privacy_filters
    assert set(filters["removed"]) == {"similarity", "outlier"}
    assert set(filters["before"]) == {"dcr_share", "membership_inference_auc", "exact_copies"}
    assert filters["after"]["exact_copies"] == 0
    assert len(run.synthetic) == 800
    pii = {entry["column"] for entry in run.evaluation.metadata["pii"]}
    assert {"Surname", "Email", "Notes"} <= pii
    html = (tmp_path / "synthetic.report.html").read_text()
    assert "Personal identifiers" in html and "Privacy filters" in html
    assert "Surname" in run.evaluation.data["left_out_columns"]
    off = synthesize(bank, 800, tmp_path / "plain.csv", privacy_attacks=False, privacy_filters=False)
    assert off.privacy_filters is None


def test_synthesize_on_a_table_too_coarse_to_filter_warns_and_samples_unfiltered(tmp_path):
    from perpetuum.workflow import synthesize

    coarse = pd.DataFrame({"code": [str(i % 3) for i in range(200)], "x": range(200)})
    with pytest.warns(UserWarning, match="privacy filters not applied"):
        run = synthesize(coarse, 5, tmp_path / "out.csv", report=False, model="fast")
    assert len(run.synthetic) == 5 and run.privacy_filters is None
