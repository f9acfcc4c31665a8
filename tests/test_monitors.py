"""Live quality monitors: the card's diversity and collapse signals on a rolling window, shown while the run goes
on, warning or stopping it when the spec's thresholds are crossed, with the reason on the card."""

from __future__ import annotations

import pytest

from perpetuum.errors import SpecError
from perpetuum.evaluate.text_diversity import distinct_n
from perpetuum.pipeline import generate
from perpetuum.pipeline.monitors import RunMonitor
from perpetuum.pipeline.spec import load_spec
from test_pipeline_support import EchoBackend


def parrot_spec(rules: list[dict], **monitors) -> dict:
    """A text column whose prompt barely varies, answered by a backend that repeats the prompt: near copies."""
    return {
        "name": "parrot",
        "seed": 1,
        "backends": {"default": {"kind": "test-echo"}},
        "monitors": {"window": 20, "every": 5, "min_records": 10, "rules": rules, **monitors},
        "columns": [
            {"name": "pet", "kind": "sampler", "sampler": "category", "values": ["cat", "dog"]},
            {"name": "line", "kind": "llm_text",
             "prompt": "Write one long sentence about a {{ pet }} that sits on the warm mat by the door all day."},
            {"name": "quality", "kind": "llm_judge", "prompt": "{{ line }}",
             "rubric": [{"name": "fresh", "description": "Is it fresh?"}]},
            {"name": "about_cats", "kind": "validator", "validator": "regex", "target": "line", "pattern": "cat"},
        ],
    }


def test_a_stop_rule_ends_the_run_early_with_the_reason_on_the_card(tmp_path):
    spec = parrot_spec([{"signal": "near_duplicate_rate", "max": 0.3, "action": "stop"}])
    result = generate(spec, 200, tmp_path, progress=False, cache=False,
                      backends={"default": EchoBackend(echo_only=True)})
    assert result.stopped["kind"] == "monitor" and result.stopped["limit"] == "near_duplicate_rate"
    reason = result.stopped["reason"]
    assert reason.startswith("near-duplicate rate ") and "over the last 10 records of line, above 0.30: stopping" in reason
    assert result.n_generated < 200
    monitors = result.card["economics"]["monitors"]
    assert monitors["stopped"] == reason and monitors["latest"]["near_duplicate_rate"]["line"] > 0.3
    assert reason in (tmp_path / "card.md").read_text()


def test_a_warn_rule_lets_the_run_finish_and_warns_once(tmp_path):
    spec = parrot_spec([{"signal": "validator_pass_rate", "column": "about_cats", "min": 0.9}])
    result = generate(spec, 30, tmp_path, progress=False, cache=False)
    assert result.stopped is None and result.n_generated == 30
    warnings = [w for w in result.card["warnings"] if w.startswith("validator pass rate")]
    assert len(warnings) == 1 and "of about_cats, below 0.90" in warnings[0]


def test_signals_on_the_window_use_the_cards_measures():
    spec = load_spec(parrot_spec([{"signal": "judge_drift", "column": "quality", "min": -0.5, "action": "stop"}],
                                 window=4, every=1, min_records=2))
    monitor = RunMonitor(spec)

    def entry(text: str, score: int, passed: bool) -> dict:
        return {"status": "ok", "record": {"line": text, "quality": {"scores": {"fresh": score}},
                                           "about_cats": {"passed": passed}}}

    stories = ["the cat sat on the mat", "a dog ran far away today", "birds sing in the early light",
               "rain fell on the quiet town"]
    for text in stories:
        assert monitor.observe(entry(text, 5, True)) is None
    assert monitor.latest["distinct_2"]["line"] == distinct_n(stories, 2) == 0.95  # "on the" twice
    assert monitor.latest["validator_pass_rate"]["about_cats"] == 1.0
    assert monitor.latest["judge_drift"]["quality"] == 0.0
    stop = None
    for text in stories:  # the scores fall: the window's mean drifts from the first window's
        stop = stop or monitor.observe(entry(text + " again", 3, False))
    assert stop is not None and stop.reason.startswith("judge-score drift -")
    assert "judge-score drift" in monitor.line()


def test_rules_must_name_a_column_the_signal_can_read():
    with pytest.raises(SpecError, match=r"monitors.rules\[0\].column: distinct_2 reads a column of kind"):
        RunMonitor(load_spec(parrot_spec([{"signal": "distinct_2", "column": "quality", "min": 0.2}])))
    with pytest.raises(SpecError, match="vocabulary_ratio needs a reference corpus"):
        RunMonitor(load_spec(parrot_spec([{"signal": "vocabulary_ratio", "min": 0.5}])))
