"""Running specs: seeded reproducibility, retries, failure records, crash + resume, filters, dedup, outputs, card."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from perpetuum.errors import ParameterError
from perpetuum.pipeline import generate, preview
from perpetuum.pipeline.checkpoint import read_checkpoint_entries
from perpetuum.pipeline.executor import RunAborted
from perpetuum.pipeline.filters import deduplicate
from perpetuum.pipeline.spec import DedupConfig
from test_pipeline_support import EchoBackend

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def story_spec(seed: int = 11, **top) -> dict:
    """Samplers feeding a prompt, a judge, a validator and a hidden helper column."""
    return {
        "name": "stories",
        "seed": seed,
        "backends": {"default": {"kind": "test-echo", "max_concurrency": 3}},
        "columns": [
            {"name": "hero", "kind": "sampler", "sampler": "category", "values": {"fox": 2, "owl": 1, "eel": 1}},
            {"name": "mood", "kind": "sampler", "sampler": "words", "words": ["calm", "brave", "odd", "shy"]},
            {"name": "length", "kind": "sampler", "sampler": "integer", "low": 20, "high": 90, "drop": True},
            {"name": "story", "kind": "llm_text", "prompt": "A {{ mood }} {{ hero }}, {{ length }} words."},
            {
                "name": "quality",
                "kind": "llm_judge",
                "prompt": "{{ story }}",
                "rubric": [{"name": "fun", "description": "Is it fun?", "min": 1, "max": 5}],
            },
            {"name": "mentions_hero", "kind": "validator", "validator": "regex", "target": "story", "pattern": "fox"},
        ],
        **top,
    }


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


# ---------------------------------------------------------------------------------------------- reproducibility


def test_spec_error_lives_in_perpetuum_errors_and_keeps_its_old_import_path():
    from perpetuum import errors
    from perpetuum.pipeline import spec

    assert spec.SpecError is errors.SpecError and issubclass(errors.SpecError, errors.PerpetuumError)
    with pytest.raises(errors.SpecError, match="columns"):
        generate({"name": "empty", "columns": []}, 1, "unused", progress=False)



def test_the_same_seed_gives_the_same_records_whatever_the_concurrency(tmp_path):
    serial = generate(
        story_spec(), 30, tmp_path / "a", progress=False, backends={"default": EchoBackend(max_concurrency=1)}
    )
    wide = generate(
        story_spec(execution={"max_in_flight": 16}), 30, tmp_path / "b", progress=False,
        backends={"default": EchoBackend(max_concurrency=8, delay=0.002)},
    )
    other_seed = generate(story_spec(seed=12), 30, tmp_path / "c", progress=False)
    assert serial.records == wide.records
    assert (tmp_path / "a" / "data.jsonl").read_bytes() == (tmp_path / "b" / "data.jsonl").read_bytes()
    assert other_seed.records != serial.records
    assert "length" not in serial.records[0]  # drop: true columns feed prompts but stay out of the data


def test_preview_shows_the_first_records_of_a_run_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = preview(story_spec(), n=4)
    assert list(tmp_path.iterdir()) == []
    result = generate(story_spec(), 4, tmp_path / "out", progress=False)
    assert [{k: v for k, v in row.items() if k != "length"} for row in rows] == result.records
    assert all("length" in row for row in rows)


# ---------------------------------------------------------------------------------------------- retries and failures


def test_transient_errors_are_retried_and_the_dataset_still_completes_unchanged(tmp_path):
    flaky = EchoBackend(fail_share=0.3, failures_per_request=2)
    spec = story_spec(execution={"max_retries": 3, "backoff_base": 0.001, "backoff_max": 0.01})
    result = generate(spec, 40, tmp_path / "flaky", progress=False, backends={"default": flaky})
    clean = generate(story_spec(), 40, tmp_path / "clean", progress=False)
    assert flaky.transient_failures > 20
    assert result.n_failed == 0 and result.records == clean.records
    usage = result.card["tokens"]["by_backend"]["default"]
    assert usage["retries"] == flaky.transient_failures
    assert usage["calls"] == clean.card["tokens"]["by_backend"]["default"]["calls"] == 80


def test_backoff_waits_at_least_a_servers_retry_after_up_to_retry_after_max():
    from perpetuum.pipeline import load_spec
    from perpetuum.pipeline.executor import BackendPool

    policy = {"backoff_base": 0.5, "backoff_max": 2.0, "retry_after_max": 60.0}
    pool = BackendPool(load_spec(story_spec(execution=policy)))
    assert all(0 <= pool.backoff(attempt) <= min(2.0, 0.5 * 2**attempt) for attempt in range(6) for _ in range(20))
    assert pool.backoff(0, retry_after=7.0) == 7.0  # longer than backoff_max: the server's word wins
    assert pool.backoff(0, retry_after=3600.0) == 60.0  # but not an hour
    assert 0.2 <= pool.backoff(3, retry_after=0.2) <= 2.0


def test_records_that_keep_failing_become_failure_records_and_the_run_goes_on(tmp_path):
    stubborn = EchoBackend(fail_share=0.2, failures_per_request=10)
    spec = story_spec(execution={"max_retries": 2, "backoff_base": 0.001})
    result = generate(spec, 40, tmp_path, progress=False, backends={"default": stubborn})
    failures = read_jsonl(tmp_path / "failures.jsonl")
    assert 0 < result.n_failed == len(failures) < 40
    assert result.n_generated + result.n_failed == 40
    assert {f["error_type"] for f in failures} == {"TransientBackendError"}
    assert {f["column"] for f in failures} <= {"story", "quality"}
    assert "after 3 attempts" in failures[0]["error"]
    reasons = result.card["records"]["failed_by_reason"]
    assert sum(reasons.values()) == result.n_failed


def test_a_run_whose_first_records_all_fail_stops_and_can_be_resumed_with_retry_failed(tmp_path):
    broken = EchoBackend(fail_share=1.0, failures_per_request=1000)
    spec = story_spec(execution={"max_retries": 0})
    with pytest.raises(RunAborted, match="the first 10 records all failed; first error, in column 'story'"):
        generate(spec, 30, tmp_path, progress=False, backends={"default": broken})
    with pytest.raises(ParameterError, match="already holds a generation run"):
        generate(spec, 30, tmp_path, progress=False)
    resumed = generate(spec, 30, tmp_path, resume=True, retry_failed=True, progress=False)
    assert resumed.n_failed == 0 and resumed.n_generated == 30
    assert resumed.records == generate(spec, 30, tmp_path / "fresh", progress=False).records


# ---------------------------------------------------------------------------------------------- crash and resume

CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_pipeline_support import EchoBackend
    from perpetuum.pipeline import generate
    generate({spec!r}, {n}, {out!r}, progress=False, backends={{"default": EchoBackend(max_concurrency=2, delay=0.05)}})
    """
)


def shard_lines(folder: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in (folder / "checkpoint").glob("shard-*.jsonl"))


def test_a_run_killed_mid_way_resumes_to_exactly_the_uninterrupted_result(tmp_path):
    spec = story_spec(execution={"shard_size": 7})
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    n, out = 60, tmp_path / "crashed"
    script = CRASH_SCRIPT.format(tests=str(TESTS), spec=str(spec_path), n=n, out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while shard_lines(out) < 12:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the generating process wrote too few records"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    written_before = {entry["index"] for entry in read_checkpoint_entries(out)}
    assert 12 <= len(written_before) < n

    resumed = generate(spec_path, n, out, resume=True, progress=False)
    uninterrupted = generate(spec_path, n, tmp_path / "straight", progress=False)

    assert (out / "data.jsonl").read_bytes() == (tmp_path / "straight" / "data.jsonl").read_bytes()
    assert resumed.records == uninterrupted.records
    entries = read_checkpoint_entries(out)
    assert sorted(entry["index"] for entry in entries) == list(range(n))  # none lost, none twice
    assert {entry["index"] for entry in entries if entry["session"] == 1} == written_before
    assert resumed.card["sessions"] == 2
    for key in ("prompt", "completion"):  # tokens of the killed session count too
        assert resumed.card["tokens"][key] == uninterrupted.card["tokens"][key]



def test_resume_refuses_a_spec_whose_records_would_differ_but_accepts_new_filters_and_more_records(tmp_path):
    generate(story_spec(), 10, tmp_path, progress=False)
    with pytest.raises(ParameterError, match="the spec differs from the one that started the run"):
        generate(story_spec(seed=99), 10, tmp_path, resume=True, progress=False)
    stricter = story_spec(filters=[{"kind": "validator", "column": "mentions_hero"}])
    result = generate(stricter, 20, tmp_path, resume=True, progress=False)
    assert result.n_generated == 20
    assert all(row["hero"] == "fox" for row in result.records)
    assert result.records == generate(stricter, 20, tmp_path / "fresh", progress=False).records


def test_resuming_a_finished_run_generates_nothing(tmp_path):
    generate(story_spec(), 10, tmp_path, progress=False)
    idle = EchoBackend()
    again = generate(story_spec(), 10, tmp_path, resume=True, progress=False, backends={"default": idle})
    assert idle.requests == [] and again.n_generated == 10


# ---------------------------------------------------------------------------------------------- filters and dedup


def test_filters_keep_records_on_judge_scores_validators_and_conditions(tmp_path):
    spec = story_spec(
        filters=[
            {"kind": "score", "column": "quality", "criterion": "fun", "min": 2, "max": 4},
            {"kind": "validator", "column": "mentions_hero"},
            {"kind": "expression", "template": "{{ mood != 'odd' }}"},
        ]
    )
    result = generate(spec, 60, tmp_path, progress=False)
    everything = preview(story_spec(), n=60)
    expected = [
        row for row in everything
        if 2 <= row["quality"]["scores"]["fun"] <= 4 and row["mentions_hero"]["passed"] and row["mood"] != "odd"
    ]
    assert [row["story"] for row in result.records] == [row["story"] for row in expected]
    dropped = read_jsonl(tmp_path / "dropped.jsonl")
    assert len(dropped) == 60 - len(expected) == result.card["records"]["dropped"]
    assert {d["reason"] for d in dropped} <= {
        "filters[0]: fun of quality >= 2 and <= 4".replace("fun of quality", "quality.fun"),
        "filters[1]: mentions_hero passed",
        "filters[2]: {{ mood != 'odd' }}",
    }
    assert sum(result.dropped.values()) == len(dropped)


def records_of(*texts):
    return [(i, {"text": text}) for i, text in enumerate(texts)]


WALRUS = (
    "The old walrus slept on the warm grey rocks near the harbour every afternoon while the gulls argued over "
    "fish and the fishing boats came home slowly one by one with their nets full of silver herring"
)


def test_dedup_drops_exact_copies_ignoring_case_and_spacing_and_keeps_the_first():
    kept, dropped = deduplicate(
        records_of("A cat sat.", "a  CAT sat.", "A dog ran."), DedupConfig(columns=["text"], near=False)
    )
    assert [index for index, _ in kept] == [0, 2]
    assert dropped[0].index == 1 and dropped[0].reason == "exact duplicate"
    assert "record 0" in dropped[0].detail


def test_dedup_drops_near_copies_by_minhash_but_keeps_different_texts():
    one_word_changed = WALRUS.replace("silver", "golden")
    different = "A small robot learned to paint sunsets on the walls of an empty train station at night"
    kept, dropped = deduplicate(records_of(WALRUS, one_word_changed, different), DedupConfig(columns=["text"]))
    assert [index for index, _ in kept] == [0, 2]
    assert dropped[0].reason == "near duplicate" and "similar to record 0" in dropped[0].detail
    strict = DedupConfig(columns=["text"], threshold=0.95)
    assert len(deduplicate(records_of(WALRUS, one_word_changed), strict)[0]) == 2


def test_dedup_in_a_run_is_reported_on_the_card(tmp_path):
    spec = story_spec(dedup={"columns": ["hero"]})  # three heroes: every later repeat is an exact duplicate
    result = generate(spec, 20, tmp_path, progress=False)
    assert sorted(row["hero"] for row in result.records) == ["eel", "fox", "owl"]
    assert result.dropped == {"exact duplicate": 17}


# ---------------------------------------------------------------------------------------------- outputs and card


def test_outputs_hold_the_kept_records_in_jsonl_and_parquet(tmp_path):
    result = generate(story_spec(), 12, tmp_path, progress=False)
    from_jsonl = read_jsonl(tmp_path / "data.jsonl")
    from_parquet = pd.read_parquet(tmp_path / "data.parquet")
    assert from_jsonl == result.records
    assert list(from_parquet.columns) == ["hero", "mood", "story", "quality", "mentions_hero"]
    assert from_parquet["story"].tolist() == [row["story"] for row in from_jsonl]
    assert from_parquet["quality"].iloc[0]["scores"]["fun"] == from_jsonl[0]["quality"]["scores"]["fun"]


def test_hugging_face_datasets_output(tmp_path):
    datasets = pytest.importorskip("datasets")
    result = generate(story_spec(output={"formats": ["hf"]}), 5, tmp_path, progress=False)
    loaded = datasets.load_from_disk(result.files["hf"])
    assert loaded["story"] == [row["story"] for row in result.records]


def test_the_card_counts_records_tokens_time_and_cost(tmp_path):
    spec = story_spec(
        filters=[{"kind": "validator", "column": "mentions_hero"}],
        prices={"echo-1": {"input_per_million": 1000.0, "output_per_million": 2000.0}},
    )
    backend = EchoBackend()
    result = generate(spec, 25, tmp_path, progress=False, backends={"default": backend})
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["records"]["requested"] == 25 and card["records"]["generated"] == 25
    assert card["records"]["kept"] == result.n_kept == len(result.records)
    assert card["records"]["dropped_by_reason"] == {"filters[0]: mentions_hero passed": 25 - result.n_kept}
    assert card["backends"]["default"]["model"] == "echo-1" and card["backends"]["default"]["kind"] == "test-echo"
    prompt = sum(sum(len(m["content"].split()) for m in r["messages"]) for r in backend.requests)
    assert card["tokens"]["prompt"] == prompt and card["tokens"]["completion"] > 0
    expected_cost = card["tokens"]["prompt"] / 1e6 * 1000 + card["tokens"]["completion"] / 1e6 * 2000
    assert card["cost_usd"]["total"] == pytest.approx(expected_cost, rel=1e-6)
    assert card["wall_seconds"] > 0 and card["column_order"][:3] == ["hero", "mood", "length"]
    assert card["spec"]["name"] == "stories"
    markdown = (tmp_path / "card.md").read_text()
    assert "| 25 | 25 | 0 |" in markdown and "echo-1" in markdown and "mentions_hero passed" in markdown
    # A price table passed to generate() wins over the spec's; an unknown price makes the cost unknown.
    unpriced = generate(story_spec(), 3, tmp_path / "unpriced", progress=False)
    assert unpriced.card["cost_usd"]["total"] is None
    priced = generate(story_spec(), 3, tmp_path / "priced", progress=False, prices={"default": {"input_per_million": 1}})
    assert priced.card["cost_usd"]["total"] == pytest.approx(priced.card["tokens"]["prompt"] / 1e6)


# ---------------------------------------------------------------------------------------------- command line


def test_generate_and_preview_commands(tmp_path):
    import typer

    from perpetuum.pipeline.cli_commands import register_commands

    app = typer.Typer()
    register_commands(app)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(story_spec()))
    runner = CliRunner()
    shown = runner.invoke(app, ["preview", str(spec_path), "-n", "2", "--jsonl"])
    assert shown.exit_code == 0, shown.output
    assert [json.loads(line)["hero"] for line in shown.output.splitlines()] == [
        row["hero"] for row in preview(story_spec(), n=2)
    ]
    made = runner.invoke(app, ["generate", str(spec_path), "-n", "5", "-o", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    assert "Generated 5 records of stories" in made.output
    assert len(read_jsonl(tmp_path / "out" / "data.jsonl")) == 5
    again = runner.invoke(app, ["generate", str(spec_path), "-n", "5", "-o", str(tmp_path / "out"), "--resume"])
    assert again.exit_code == 0, again.output


def test_a_record_torn_by_a_crash_mid_write_is_generated_again_once(tmp_path):
    complete = generate(story_spec(), 10, tmp_path, progress=False)
    [shard] = sorted((tmp_path / "checkpoint").glob("shard-*.jsonl"))
    data = shard.read_bytes()
    torn_index = json.loads(data.splitlines()[-1])["index"]
    shard.write_bytes(data[:-15])  # the last record's line lost its end, as when a process dies mid-write
    resumed = generate(story_spec(), 10, tmp_path, resume=True, progress=False)
    assert resumed.records == complete.records
    entries = read_checkpoint_entries(tmp_path)
    assert sorted(entry["index"] for entry in entries) == list(range(10))
    assert [entry["index"] for entry in entries if entry["session"] == 2] == [torn_index]


def test_backends_with_the_same_configuration_share_one_instance_and_one_limit():
    from perpetuum.pipeline import load_spec
    from perpetuum.pipeline.executor import BackendPool

    spec = story_spec()
    spec["backends"] = {
        "default": {"kind": "test-echo", "max_concurrency": 3},
        "teacher": {"kind": "test-echo", "max_concurrency": 3},
        "other": {"kind": "test-echo", "max_concurrency": 2},
    }
    spec["columns"][4]["backend"] = "teacher"
    spec["columns"].append({"name": "title", "kind": "llm_text", "prompt": "Title: {{ story }}", "backend": "other"})
    pool = BackendPool(load_spec(spec))
    pool.open()
    assert pool._backends["default"] is pool._backends["teacher"] is not pool._backends["other"]
    assert pool._semaphores["default"] is pool._semaphores["teacher"]
    assert pool.total_concurrency() == 3 + 2
