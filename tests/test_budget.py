"""Hard budgets: a run stops before the request that could cross a limit, keeps what finished, says which limit
stopped it, and a resume with a raised limit ends equal to an uninterrupted run, nothing lost or paid twice."""

from __future__ import annotations

import json

import pytest

from perpetuum.errors import RunStopped, SpecError
from perpetuum.llm.base import Completion
from perpetuum.pipeline import generate
from perpetuum.pipeline.budget import BudgetLedger
from perpetuum.pipeline.spec import Price
from test_pipeline_support import EchoBackend


def dialogue_spec(**execution) -> dict:
    return {
        "name": "lessons",
        "seed": 5,
        "backends": {"default": {"kind": "test-echo"}},
        "prices": {"default": {"input_per_million": 2.0, "output_per_million": 8.0}},
        "execution": execution,
        "columns": [
            {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["fractions", "ratios", "areas"]},
            {"name": "talk", "kind": "dialogue", "turns": 4, "opening": "Teach me {{ topic }}.",
             "roles": [{"name": "student", "system_prompt": "You learn {{ topic }}.", "params": {"max_tokens": 40}},
                       {"name": "teacher", "system_prompt": "You teach {{ topic }}.", "params": {"max_tokens": 40}}]},
            {"name": "summary", "kind": "llm_text", "prompt": "Summarise: {{ talk }}", "params": {"max_tokens": 30}},
        ],
    }


def paid_tokens(result) -> int:
    return result.card["tokens"]["prompt"] + result.card["tokens"]["completion"]


def test_a_token_budget_stops_before_the_limit_and_says_so(tmp_path):
    result = generate(dialogue_spec(), 30, tmp_path, progress=False, cache=False, budget={"tokens": 3000})
    assert result.stopped["kind"] == "budget" and result.stopped["limit"] == "tokens"
    assert "token budget 3,000" in result.stopped["reason"]
    assert 0 < result.n_generated < 30
    budget = result.card["economics"]["budget"]
    assert budget["limits"] == {"tokens": 3000}
    assert paid_tokens(result) <= budget["spent"]["tokens"] <= 3000  # partial records' calls count as spent
    assert "Stopped early (budget: tokens)" in (tmp_path / "card.md").read_text()
    lines = (tmp_path / "data.jsonl").read_text().splitlines()
    assert len(lines) == result.n_kept  # every finished record written, none half-made
    assert all(len(json.loads(line)["talk"]) == 4 for line in lines)


def test_resume_with_a_raised_budget_equals_an_uninterrupted_run_and_pays_nothing_twice(tmp_path):
    cache = tmp_path / "cache"
    straight_backend = EchoBackend()
    straight = generate(dialogue_spec(), 24, tmp_path / "straight", progress=False, cache=tmp_path / "other-cache",
                        backends={"default": straight_backend})
    first, second = EchoBackend(), EchoBackend()
    stopped = generate(dialogue_spec(budget={"usd": 0.01}), 24, tmp_path / "run", progress=False, cache=cache,
                       backends={"default": first})
    assert stopped.stopped["limit"] == "usd" and stopped.n_generated < 24
    assert stopped.card["economics"]["budget"]["spent"]["usd"] <= 0.01
    resumed = generate(dialogue_spec(), 24, tmp_path / "run", resume=True, progress=False, cache=cache,
                       budget={"usd": 1.0}, backends={"default": second})
    assert resumed.stopped is None
    assert resumed.records == straight.records
    assert len(first.requests) + len(second.requests) == len(straight_backend.requests)  # nothing paid twice
    assert resumed.card["sessions"] == 2


def test_without_the_cache_a_resume_still_loses_and_doubles_no_record(tmp_path):
    stopped = generate(dialogue_spec(), 20, tmp_path, progress=False, cache=False, budget={"tokens": 2500})
    assert stopped.stopped is not None
    resumed = generate(dialogue_spec(), 20, tmp_path, resume=True, progress=False, cache=False,
                       budget={"tokens": 10**7})
    straight = generate(dialogue_spec(), 20, tmp_path / "straight", progress=False, cache=False)
    assert resumed.records == straight.records
    assert sorted(entry["index"] for entry in _entries(tmp_path)) == list(range(20))
    # The budget counts both sessions, the calls of records the stop interrupted included.
    assert resumed.card["economics"]["budget"]["spent"]["tokens"] >= paid_tokens(straight)


def _entries(folder):
    from perpetuum.pipeline.checkpoint import read_checkpoint_entries

    return read_checkpoint_entries(folder)


def test_the_spec_budget_applies_and_the_call_overrides_it(tmp_path):
    result = generate(dialogue_spec(budget={"tokens": 1500}), 10, tmp_path / "spec", progress=False, cache=False)
    assert result.stopped["limit"] == "tokens"
    relaxed = generate(dialogue_spec(budget={"tokens": 1500}), 10, tmp_path / "given", progress=False, cache=False,
                       budget={"tokens": 10**6})
    assert relaxed.stopped is None and relaxed.n_generated == 10


def test_a_dollar_budget_needs_a_price_for_every_paid_backend(tmp_path):
    spec = dialogue_spec()
    del spec["prices"]
    with pytest.raises(SpecError, match="execution.budget.usd: no price for backend"):
        generate(spec, 3, tmp_path, progress=False, cache=False, budget={"usd": 1})


def test_requests_in_flight_count_against_the_limit():
    ledger = BudgetLedger({"tokens": 1000}, {"api": {"kind": "openai", "model": "m"}}, {"api": Price()})
    held = [ledger.reserve("api", 100, 300), ledger.reserve("api", 100, 300)]
    with pytest.raises(RunStopped, match="reserved by requests in flight"):
        ledger.reserve("api", 100, 300)
    ledger.settle(held[0], Completion("ok", 30, 20, "m", "stop", 0.1))
    with pytest.raises(RunStopped):  # once stopped, stopped: no request after the refused one
        ledger.reserve("api", 1, 1)
    assert ledger.summary()["stopped_by"] == "tokens" and ledger.spent["tokens"] == 50


def test_a_time_budget_counts_earlier_sessions():
    ledger = BudgetLedger({"seconds": 60}, {"api": {"kind": "embedded"}}, {}, seconds_before=61)
    with pytest.raises(RunStopped, match="time budget 60 s"):
        ledger.reserve("api", 5, 10)


def test_the_command_says_which_limit_stopped_it_and_exits_with_code_3(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from perpetuum.cli import app

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(dialogue_spec()))
    out = tmp_path / "out"
    stopped = CliRunner().invoke(app, ["generate", str(path), "-n", "20", "-o", str(out), "--budget-tokens", "1200",
                                       "--no-cache"])
    assert stopped.exit_code == 3, stopped.output
    assert "Stopped early (budget): token budget 1,200" in stopped.output
    assert "continue with --resume and a raised budget" in stopped.output
    resumed = CliRunner().invoke(app, ["generate", str(path), "-n", "20", "-o", str(out), "--resume", "--no-cache"])
    assert resumed.exit_code == 0, resumed.output
    assert "Generated 20 records of lessons" in resumed.output


class RunnerWithoutGate:
    """An executor from elsewhere whose runner cannot share a budget: its run() takes no gate."""

    async def open(self, spec, n, backends):
        return self

    def describe(self) -> dict:
        return {"default": {"kind": "test-echo", "model": "echo-1", "max_concurrency": 1}}

    async def run(self, indices, sink) -> None:
        raise AssertionError("a budget it cannot keep must be refused before any record is made")

    async def close(self) -> None:
        pass


def test_a_budget_is_refused_with_an_executor_that_cannot_share_it(tmp_path):
    from perpetuum.errors import ParameterError

    with pytest.raises(ParameterError, match="cannot hold a run-wide budget"):
        generate(dialogue_spec(), 3, tmp_path, progress=False, executor=RunnerWithoutGate(), budget={"tokens": 10**4})
