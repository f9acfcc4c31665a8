"""Judges measured against objective checks on made-up records: the AUC, its interval, the verdicts, the warning
on a score filter that relies on a judge that is not informative, and the card's JSON and Markdown."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from perpetuum.card.judges import (
    MIN_RECORDS_PER_CLASS,
    auc_interval,
    grade_auc,
    judge_agreement,
    judges_markdown,
    verdict_of,
)
from perpetuum.card.text import build_card, render_markdown
from perpetuum.pipeline.spec import load_spec


def pairwise_auc(grades, passed) -> float:
    """The AUC by its definition: over every (passing, failing) pair, 1 if the passing one is graded higher, 1/2 if
    equal."""
    good = [grade for grade, ok in zip(grades, passed) if ok]
    bad = [grade for grade, ok in zip(grades, passed) if not ok]
    wins = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g, b in itertools.product(good, bad))
    return wins / (len(good) * len(bad))


def test_the_auc_is_the_share_of_passing_failing_pairs_in_the_right_order():
    rng = np.random.default_rng(3)
    grades = rng.integers(1, 6, 60).tolist()
    passed = (rng.random(60) < 0.2 + 0.12 * np.array(grades)).tolist()
    assert grade_auc(grades, passed) == pytest.approx(pairwise_auc(grades, passed))
    assert grade_auc([1, 4, 5], [False, True, True]) == 1.0
    assert grade_auc([5, 1], [False, True]) == 0.0
    assert grade_auc([7, 7, 7], [True, False, False]) == 0.5
    assert grade_auc([1, 2], [True, True]) is None


def test_the_interval_is_reproducible_and_holds_the_auc():
    grades = [1, 2, 2, 3, 4, 4, 5, 5, 5, 3, 2, 4]
    passed = [False, False, True, False, True, True, True, True, False, True, False, True]
    low, high = auc_interval(grades, passed)
    assert (low, high) == auc_interval(grades, passed)
    assert low <= grade_auc(grades, passed) <= high
    assert auc_interval([3] * 10, [True, False] * 5) == (0.5, 0.5)


@pytest.mark.parametrize(
    ("passed", "failed", "auc", "interval", "verdict"),
    [
        (20, 20, 0.8, (0.7, 0.9), "informative"),
        (20, 20, 0.58, (0.52, 0.64), "not informative"),  # above chance, but too weak to filter on
        (20, 20, 0.65, (0.45, 0.8), "not informative"),  # the interval holds 0.5
        (20, 20, 0.2, (0.1, 0.3), "reversed"),
        (20, MIN_RECORDS_PER_CLASS - 1, 0.9, (0.8, 1.0), "too few records"),
    ],
)
def test_verdicts(passed, failed, auc, interval, verdict):
    assert verdict_of(passed, failed, auc, interval) == verdict


SPEC = load_spec({
    "name": "judged",
    "columns": [
        {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["a", "b"]},
        {"name": "text", "kind": "llm_text", "prompt": "Write about {{ topic }}"},
        {"name": "long_enough", "kind": "validator", "validator": "regex", "target": "text", "pattern": "....."},
        {"name": "has_topic", "kind": "validator", "validator": "regex", "target": "text", "pattern": "a"},
        {"name": "sharp", "kind": "llm_judge", "prompt": "{{ text }}",
         "rubric": [{"name": "clarity", "description": "clear"}, {"name": "style", "description": "nice"}]},
        {"name": "flat", "kind": "llm_judge", "prompt": "{{ text }}",
         "rubric": [{"name": "quality", "description": "good", "min": 1, "max": 10}]},
    ],
    "filters": [{"kind": "score", "column": "flat", "min": 3}, {"kind": "score", "column": "sharp", "min": 2},
                {"kind": "score", "column": "sharp", "criterion": "style", "min": 2}],
})


def made_up_entries(count: int = 40) -> list[dict]:
    """`sharp` grades clarity 5 when the record is long enough and 1-2 otherwise, style at random; `flat` gives
    10 to everything; `has_topic` fails in a handful of records only."""
    rng = np.random.default_rng(0)
    entries = []
    for index in range(count):
        long_enough = index % 2 == 0
        record = {
            "long_enough": {"passed": long_enough, "message": ""},
            "has_topic": {"passed": index % 10 != 3, "message": ""},
            "sharp": {"scores": {"clarity": 5 if long_enough else int(rng.integers(1, 3)),
                                 "style": int(rng.integers(1, 6))}, "reasons": {}},
            "flat": {"scores": {"quality": 10}, "reasons": {}},
        }
        entries.append({"index": index, "status": "ok", "record": record})
    entries.append({"index": count, "status": "failed", "column": "text", "error_type": "X", "error": "x"})
    return entries


def test_an_informative_judge_and_a_flat_one_against_each_check():
    section = judge_agreement(SPEC, made_up_entries())
    sharp, flat = section["per_judge"]["sharp"], section["per_judge"]["flat"]
    assert sharp["records"] == flat["records"] == 40
    assert sharp["criteria"]["clarity"]["long_enough"]["auc"] == 1.0
    assert sharp["checks"]["long_enough"]["auc"] == pytest.approx(0.945)  # the mean grade also holds random style
    assert sharp["checks"]["long_enough"]["ci95"][0] > 0.8
    assert sharp["checks"]["long_enough"]["verdict"] == "informative"
    assert (sharp["checks"]["has_topic"]["passed"], sharp["checks"]["has_topic"]["failed"]) == (36, 4)
    assert sharp["checks"]["has_topic"]["verdict"] == "too few records"
    assert sharp["checks"]["has_topic"]["ci95"] is None
    assert sharp["verdict"] == "informative"
    assert sharp["criteria"]["style"]["long_enough"]["verdict"] == "not informative"
    assert flat["checks"]["long_enough"] == {"passed": 20, "failed": 20, "auc": 0.5, "ci95": [0.5, 0.5],
                                             "verdict": "not informative"}
    assert flat["verdict"] == "not informative"


def test_score_filters_on_a_judge_or_criterion_that_is_not_informative_are_warned_about():
    warnings = judge_agreement(SPEC, made_up_entries())["warnings"]
    assert len(warnings) == 2
    assert warnings[0].startswith("filters[0] keeps records on the mean grade of flat, a judge that is not informative")
    assert "long_enough 0.50" in warnings[0]
    assert warnings[1].startswith("filters[2] keeps records on sharp.style")


def test_too_few_records_give_no_verdict_and_no_warning():
    section = judge_agreement(SPEC, made_up_entries(6))
    assert section["per_judge"]["flat"]["verdict"] == "too few records"
    assert section["warnings"] == []
    lines = "\n".join(judges_markdown(section))
    assert "could not be measured: no check had 5 passing and 5 failing records among its 6 graded records" in lines


def test_the_card_holds_the_section_in_json_and_markdown(tmp_path):
    entries = made_up_entries()
    card = build_card(SPEC, n_requested=41, entries=entries, n_kept=0, dropped=[], backends={}, wall_seconds=1.0,
                      sessions=1, files={}, json_columns=[], prices={}, records=[])
    assert card["judges"] == judge_agreement(SPEC, entries)
    markdown = render_markdown(card)
    assert "## Judges against the checks" in markdown
    low, high = card["judges"]["per_judge"]["sharp"]["checks"]["long_enough"]["ci95"]
    assert f"| sharp | long_enough | 20 | 20 | 0.94 | {low:.2f}-{high:.2f} | informative |" in markdown
    assert "| flat | has_topic | 36 | 4 | 0.50 | n/a | too few records |" in markdown
    assert "- **flat** is not informative: its grades do not predict any check here" in markdown
    assert "- **Warning:** filters\\[0\\] keeps records on the mean grade of flat" in markdown  # brackets escaped


def test_a_spec_without_judges_adds_nothing_to_the_markdown():
    spec = load_spec({"name": "plain", "columns": [
        {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["a"]}]})
    section = judge_agreement(spec, [{"index": 0, "status": "ok", "record": {"topic": "a"}}])
    assert section["per_judge"] == {} and section["warnings"] == []
    assert judges_markdown(section) == []
