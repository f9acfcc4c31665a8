"""`evaluate` and its `Evaluation`: the JSON, the headline, the text summary, the HTML report, and bad input.

Small tables (a 1,000-row slice of Adult, a copula synthesizer) keep the whole file well under a minute.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from perpetuum.datasets import load_adult
from perpetuum.errors import DataInputError
from perpetuum.evaluate import Evaluation, evaluate
from perpetuum.evaluate.evaluation import NO_HOLDOUT_MESSAGE
from perpetuum.tabular import get_synthesizer

FIDELITY = ["column_shapes", "column_pair_trends", "missing_values", "category_coverage", "range_adherence",
            "detection", "precision_recall"]
PRIVACY = ["exact_copies", "dcr", "membership_inference", "anonymeter"]
METADATA = {
    "synthesizer": "copula (GaussianCopula)",
    "params": {"seed": 0},
    "fit_seconds": 0.5,
    "lineage": {"source": "adult.csv.gz", "sha256": "0" * 64, "rows": 1000, "seed": 0},
}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    data = load_adult().sample(1_000, random_state=0).reset_index(drop=True)
    train, holdout = data.iloc[:800].reset_index(drop=True), data.iloc[800:].reset_index(drop=True)
    synthetic = get_synthesizer("copula")(seed=0).fit(train).sample(800, seed=0)
    return {"train": train, "holdout": holdout, "synthetic": synthetic}


@pytest.fixture(scope="module")
def full(tables) -> Evaluation:
    return evaluate(
        tables["train"], tables["synthetic"], holdout=tables["holdout"], target="income",
        metadata=METADATA, anonymeter_attacks=40, progress=False,
    )


@pytest.fixture(scope="module")
def full_html(full, tmp_path_factory) -> str:
    path = full.to_html(str(tmp_path_factory.mktemp("report") / "report.html"))  # a str path works too
    assert isinstance(path, Path)
    return path.read_text(encoding="utf-8")


# Fewer columns where the test is not about the whole table: the report draws one plot per column.
NARROW = ["age", "education", "occupation", "sex", "hours-per-week", "income"]


@pytest.fixture(scope="module")
def without_holdout(tables) -> Evaluation:
    return evaluate(tables["train"][NARROW], tables["synthetic"][NARROW], target="income", progress=False)


# ---------------------------------------------------------------------------------------------- JSON


def test_json_has_every_section_the_headline_timings_and_metadata(full):
    report = json.loads(full.to_json())
    assert set(report) >= {"headline", "results", "timings_seconds", "cpu_seconds", "metadata", "data", "schema",
                           "settings", "distributions", "associations", "perpetuum_version"}
    assert set(report["results"]) == {"fidelity", "utility", "privacy", "collapse"}
    assert set(report["results"]["fidelity"]) == set(FIDELITY)
    assert set(report["results"]["privacy"]) >= set(PRIVACY)
    assert set(report["results"]["utility"]) >= {"tstr", "feature_importance"}
    assert report["metadata"] == METADATA
    assert report["data"]["rows"] == {"real": 800, "synthetic": 800, "holdout": 200}


def test_every_metric_is_timed_and_the_total_covers_them(full):
    timings = full.timings
    for key in FIDELITY + PRIVACY + ["tstr", "feature_importance", "collapse_signals"]:
        assert timings[key] >= 0.0, key
    steps = sum(value for key, value in timings.items() if key != "total")
    assert steps <= timings["total"] + 1e-6


def test_json_is_strict_nan_becomes_null(full, tables):
    # A column missing entirely in the synthetic rows gives NaN scores somewhere; the JSON must stay strict.
    real, synthetic = tables["train"][NARROW], tables["synthetic"][NARROW].copy()
    synthetic["hours-per-week"] = np.nan
    evaluation = evaluate(real, synthetic, privacy_attacks=False, progress=False)
    text = evaluation.to_json()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert "NaN" not in text and "Infinity" not in text


def test_to_json_writes_the_same_text_to_a_file(full, tmp_path):
    path = tmp_path / "nested" / "report.json"
    text = full.to_json(path)
    assert path.read_text(encoding="utf-8") == text + "\n"


def test_anonymeter_risks_come_with_confidence_intervals(full):
    anonymeter = full.results["privacy"]["anonymeter"]
    assert "error" not in anonymeter, anonymeter
    for summary in [anonymeter["singling_out_univariate"], anonymeter["linkability"],
                    *anonymeter["inference"].values()]:
        low, high = summary["ci"]
        assert low <= summary["risk"] <= high or math.isclose(summary["risk"], low) or math.isclose(summary["risk"], high)


# ---------------------------------------------------------------------------------------------- headline


def test_headline_has_three_scores_each_with_a_meaning_and_how_it_is_formed(full):
    assert set(full.headline) == {"fidelity", "utility", "privacy"}
    for name, entry in full.headline.items():
        assert entry["score"] is not None and 0.0 <= entry["score"] <= 1.0, name
        assert entry["meaning"] and entry["formed"], name


def test_fidelity_headline_is_the_mean_of_shapes_trends_and_detection(full):
    fidelity = full.results["fidelity"]
    parts = [fidelity["column_shapes"]["score"], fidelity["column_pair_trends"]["score"], fidelity["detection"]["score"]]
    assert full.headline["fidelity"]["score"] == pytest.approx(np.mean(parts))


def test_utility_headline_is_the_share_of_skill_above_chance(full):
    tstr = full.results["utility"]["tstr"]
    expected = np.clip((tstr["auc"] - 0.5) / (tstr["real_auc"] - 0.5), 0.0, 1.0)
    assert full.headline["utility"]["score"] == pytest.approx(expected)


def test_privacy_headline_is_one_minus_the_worst_risk(full):
    components = full.headline["privacy"]["components"]
    measured = [value for value in components.values() if value is not None]
    assert len(measured) == 6
    assert full.headline["privacy"]["score"] == pytest.approx(1.0 - max(measured))
    assert components["membership_inference"] == pytest.approx(
        max(0.0, 2 * full.results["privacy"]["membership_inference"]["auc"] - 1)
    )


# ---------------------------------------------------------------------------------------------- no holdout


def test_without_a_holdout_privacy_says_so_and_holds_no_numbers(without_holdout):
    privacy = without_holdout.results["privacy"]
    assert privacy == {"available": False, "reason": NO_HOLDOUT_MESSAGE}
    assert "cannot be computed without a holdout" in NO_HOLDOUT_MESSAGE
    assert without_holdout.headline["privacy"]["score"] is None
    assert "cannot be computed without a holdout" in without_holdout.headline["privacy"]["meaning"]


def test_without_a_holdout_utility_tests_on_a_slice_of_real_and_says_it_is_optimistic(without_holdout):
    utility = without_holdout.results["utility"]
    assert utility["tested_on"] == "slice of real"
    assert "optimistic" in utility["test_rows"]
    assert "optimistic" in without_holdout.headline["utility"]["caveat"]
    assert "optimistic" in without_holdout.summary()
    assert utility["tstr"]["n_test"] == 160  # 20 % of the 800 real rows


def test_without_a_holdout_the_report_prints_the_sentence_not_a_number(without_holdout, tmp_path):
    html = without_holdout.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    privacy = html[html.index('<section id="privacy">'):html.index('<section id="collapse">')]
    assert "cannot be computed without a holdout" in privacy
    assert not re.search(r"\d\.\d{3}", privacy)
    assert "cannot be computed without a holdout" in without_holdout.summary()


def test_without_a_target_there_is_no_utility_section(tables):
    evaluation = evaluate(tables["train"], tables["synthetic"], privacy_attacks=False, progress=False)
    assert evaluation.results["utility"]["available"] is False
    assert "tstr" not in evaluation.results["utility"]
    assert evaluation.headline["utility"]["score"] is None


# ---------------------------------------------------------------------------------------------- summary


def test_summary_is_a_plain_text_table_of_headline_and_metrics(full):
    text = full.summary()
    for word in ["fidelity", "utility", "privacy", "Column shapes", "Detection", "Membership inference",
                 "Anonymeter attacks", "Collapse signals", "total"]:
        assert word in text, word
    assert "\x1b[" not in text  # no terminal colour codes
    assert f"{full.headline['fidelity']['score']:.3f}" in text


# ---------------------------------------------------------------------------------------------- HTML


def attribute_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)


def test_html_report_is_one_self_contained_file(full_html):
    html = full_html
    urls = attribute_urls(html)
    assert urls, "the report has images"
    for url in urls:
        assert url.startswith(("data:", "#")), url
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.IGNORECASE)
    assert "<script" not in html.lower()
    assert "url(" not in html  # no CSS fetches either
    assert "Content-Security-Policy" in html


def test_html_report_has_every_section_and_explains_each_metric(full, full_html):
    from perpetuum.evaluate.report import METRICS

    html = full_html
    for section in ["headline", "fidelity", "columns", "associations", "utility", "privacy", "collapse", "schema",
                    "provenance"]:
        assert f'id="{section}"' in html, section
    for metric in METRICS:
        assert str(escape(metric.explanation)) in html, metric.key
    assert "How the headline numbers are formed" in html
    assert "0" * 64 in html  # lineage
    assert html.count("<figure") >= len(full.data["columns"])  # one distribution plot per column, and more


def test_untrusted_column_names_and_labels_are_escaped(tables, tmp_path):
    name, label = "<script>alert('name')</script>", '<img src=x onerror="alert(1)">'
    real = tables["train"][NARROW].head(300).copy()
    synthetic = tables["synthetic"][NARROW].head(300).copy()
    # The label is absent from the synthetic rows, so the report lists it among the missing categories.
    real[name] = np.where(np.arange(len(real)) % 3 == 0, label, "plain")
    synthetic[name] = "plain"
    evaluation = evaluate(real, synthetic, metadata={"synthesizer": name}, privacy_attacks=False, progress=False)
    html = evaluation.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    # The JSON keeps the names as they are: escaping is the HTML's job.
    assert name in json.loads(evaluation.to_json())["data"]["columns"]


def test_identifier_columns_are_left_out_of_every_metric(tables):
    real, synthetic = tables["train"][NARROW].head(300).copy(), tables["synthetic"][NARROW].head(300).copy()
    real["customer_id"] = [f"C{index:05d}" for index in range(len(real))]
    synthetic["customer_id"] = [f"C{index:05d}" for index in range(50_000, 50_000 + len(synthetic))]
    evaluation = evaluate(real, synthetic, privacy_attacks=False, progress=False)
    assert "customer_id" in evaluation.data["left_out_columns"]
    assert "customer_id" not in evaluation.results["fidelity"]["column_shapes"]["per_column"]


# ---------------------------------------------------------------------------------------------- bad input


def test_mismatched_columns_are_named(tables):
    with pytest.raises(DataInputError, match="education"):
        evaluate(tables["train"], tables["synthetic"].drop(columns=["education"]), progress=False)
    with pytest.raises(DataInputError, match="bonus"):
        evaluate(tables["train"], tables["synthetic"].assign(bonus=1), progress=False)
    with pytest.raises(DataInputError, match="holdout.*race"):
        evaluate(tables["train"], tables["synthetic"], holdout=tables["holdout"].drop(columns=["race"]), progress=False)


def test_numeric_in_one_table_and_text_in_the_other_is_named(tables):
    synthetic = tables["synthetic"].copy()
    synthetic["age"] = synthetic["age"].astype(str) + " years"
    with pytest.raises(DataInputError, match="'age' is numeric in the real table .* text in the synthetic"):
        evaluate(tables["train"], synthetic, progress=False)


def test_an_empty_synthetic_table_is_refused(tables):
    with pytest.raises(DataInputError, match="synthetic table is empty"):
        evaluate(tables["train"], tables["synthetic"].iloc[:0], progress=False)


def test_a_missing_target_is_named(tables):
    with pytest.raises(DataInputError, match="'salary'"):
        evaluate(tables["train"], tables["synthetic"], target="salary", progress=False)


def test_a_constant_target_is_refused(tables):
    real = tables["train"].assign(income="<=50K")
    with pytest.raises(DataInputError, match="'income' is constant in the real table"):
        evaluate(real, tables["synthetic"], target="income", progress=False)
    holdout = tables["holdout"].assign(income=">50K")
    with pytest.raises(DataInputError, match="'income' is constant in the holdout"):
        evaluate(tables["train"], tables["synthetic"], holdout=holdout, target="income", progress=False)


def test_a_metric_that_cannot_run_is_recorded_and_the_rest_goes_on(tables):
    # The synthetic target holds one class: no model can learn from it, which is a finding, not bad input.
    synthetic = tables["synthetic"][NARROW].assign(income="<=50K")
    evaluation = evaluate(tables["train"][NARROW], synthetic, target="income", privacy_attacks=False, progress=False)
    assert "fewer than two distinct values" in evaluation.results["utility"]["tstr"]["error"]
    assert evaluation.headline["utility"]["score"] is None
    assert "not computed" in evaluation.headline["utility"]["meaning"]
    assert evaluation.results["fidelity"]["column_shapes"]["score"] > 0


def test_a_file_path_that_cannot_be_written_is_a_clear_error(full, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DataInputError, match="cannot write"):
        full.to_json(blocker / "report.json")
