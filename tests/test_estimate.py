"""Estimates before a run: a seeded pilot of the run's first records, scaled with intervals, and reused by the run
so that it is not paid twice; progress counted in calls against what the records are expected to take."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from perpetuum.errors import ParameterError
from perpetuum.llm.base import Completion
from perpetuum.pipeline import generate
from perpetuum.pipeline.estimate import estimate
from perpetuum.pipeline.run_progress import RunProgress, calls_per_record_from_spec
from perpetuum.pipeline.spec import load_spec
from perpetuum.progress import ProgressHandle
from test_budget import dialogue_spec
from test_pipeline_support import EchoBackend


def filtered_spec() -> dict:
    """The dialogue spec with a check that only some records pass, and a filter on it."""
    spec = dialogue_spec()
    spec["columns"].append({"name": "fraction_talk", "kind": "validator", "validator": "regex", "target": "topic",
                            "pattern": "fractions"})
    spec["filters"] = [{"kind": "validator", "column": "fraction_talk"}]
    return spec


def test_the_estimate_scales_the_pilot_per_column_with_intervals(tmp_path):
    result = estimate(filtered_spec(), 1000, pilot=6, cache=False, progress=False)
    pilot = generate(filtered_spec(), 6, tmp_path, progress=False, cache=False)
    assert result.pilot == 6 and set(result.per_column) == {"talk", "summary"}
    assert result.per_column["talk"]["calls_mean"] == 3 and result.calls["dialogue_turns"] == 3
    assert result.calls["per_record"] == 4
    prompt, completion = pilot.card["tokens"]["prompt"], pilot.card["tokens"]["completion"]
    assert result.total["prompt_tokens"]["value"] == pytest.approx(prompt / 6 * 1000)
    assert result.total["completion_tokens"]["value"] == pytest.approx(completion / 6 * 1000)
    usd = (prompt * 2.0 + completion * 8.0) / 1e6 / 6 * 1000
    assert result.total["usd"]["value"] == pytest.approx(usd)
    for figure in (result.total["prompt_tokens"], result.total["completion_tokens"], result.total["usd"]):
        low, high = figure["interval"]
        assert low <= figure["value"] <= high
    dropped_share = pilot.card["records"]["dropped"] / 6
    assert 0 < dropped_share < 1 and result.records["dropped_share"] == pytest.approx(dropped_share)
    assert result.records["dropped_expected"] == pytest.approx(dropped_share * 1000)
    assert result.seconds["value"] > 0 and result.seconds["records_in_flight"] == 6
    assert "pilot of 6 records" in result.render()


def test_the_pilot_checkpointed_in_the_output_folder_starts_the_real_run(tmp_path):
    estimate(dialogue_spec(), 20, pilot=5, output_dir=tmp_path / "run", cache=False, progress=False)
    backend = EchoBackend()
    result = generate(dialogue_spec(), 20, tmp_path / "run", progress=False, cache=False, backends={"default": backend})
    assert len(backend.requests) == 15 * 4  # the 5 pilot records were not made again
    straight = generate(dialogue_spec(), 20, tmp_path / "straight", progress=False, cache=False)
    assert result.records == straight.records
    with pytest.raises(ParameterError, match="already holds a generation run"):
        estimate(dialogue_spec(), 20, pilot=5, output_dir=tmp_path / "run", cache=False, progress=False)


def test_the_pilot_in_the_request_cache_is_not_paid_again(tmp_path):
    estimate(dialogue_spec(), 20, pilot=5, cache=tmp_path / "cache", progress=False)
    backend = EchoBackend()
    result = generate(dialogue_spec(), 20, tmp_path / "run", progress=False, cache=tmp_path / "cache",
                      backends={"default": backend})
    assert len(backend.requests) == 15 * 4
    assert result.card["economics"]["cache"]["hits"] == 5 * 4


def test_a_pilot_of_another_spec_is_not_mixed_in(tmp_path):
    estimate(dialogue_spec(), 20, pilot=3, output_dir=tmp_path, cache=False, progress=False)
    other = {**dialogue_spec(), "seed": 6}
    with pytest.raises(ParameterError, match="pilot records of an estimate made with another spec"):
        generate(other, 20, tmp_path, progress=False, cache=False)


def test_a_pilot_answered_by_the_cache_says_it_timed_nothing(tmp_path):
    estimate(dialogue_spec(), 50, pilot=3, cache=tmp_path, progress=False)
    again = estimate(dialogue_spec(), 50, pilot=3, cache=tmp_path, progress=False)
    assert again.seconds["value"] is None
    assert any("timed nothing" in note for note in again.notes)
    assert again.total["completion_tokens"]["value"] > 0  # cached answers still count as the run's tokens


def test_the_estimate_command_prints_json(tmp_path):
    from perpetuum.cli import app

    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(dialogue_spec()))
    result = CliRunner().invoke(app, ["estimate", str(path), "-n", "100", "--pilot", "3", "--no-cache", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["n"] == 100 and figures["pilot"] == 3 and figures["calls"]["per_record"] == 4


def test_progress_counts_calls_before_the_first_record_finishes():
    spec = load_spec(dialogue_spec())
    assert calls_per_record_from_spec(spec) == 4  # 3 dialogue turns (an opening is given) + the summary
    tracker = RunProgress(ProgressHandle(), spec.name, records=10, calls_per_record=calls_per_record_from_spec(spec))
    for _ in range(3):
        tracker.on_call("default", Completion("text", 10, 7, "m", "stop", 0.1), cached=False)
    assert tracker.done == 0 and tracker.calls == 3 and tracker.tokens == 21
    assert tracker.expected_calls() == 40
    assert tracker.eta_seconds() is not None
    assert tracker.description().startswith("Generating lessons (calls): 0/10 records, ETA ")
    assert ", 21 tokens of ~" not in tracker.description()  # no token expectation before a record or an estimate
    # A record that took more calls than the spec promises raises the expectation for the rest.
    tracker.on_record({"status": "ok", "usage": {"default": {"calls": 8, "completion_tokens": 56}}})
    assert tracker.expected_calls() == pytest.approx((4 * 4 + 8) / 5 * 10)
    assert "of ~560" in tracker.description()
