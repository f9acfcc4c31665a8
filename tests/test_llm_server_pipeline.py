"""Whole runs against a real OpenAI-compatible server (llama-cpp-python's, with the embedded SmolLM2 model) started
by the test on 127.0.0.1: through a proxy that injects 429s, 500s, hangs and garbled answers; and a `perpetuum
generate` process killed mid-run, then resumed with `--resume`. Sampling is at temperature 0.9 with per-record
seeds, so equality with an undisturbed run means the server's answers are a function of the request alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_proxy import FaultProxy
from perpetuum.llm import GenerationParams
from perpetuum.llm.server import LocalServer
from perpetuum.pipeline import generate
from perpetuum.pipeline.checkpoint import read_checkpoint_entries

THINGS = ["an apple", "the sea", "a fox", "a lamp", "a cloud", "a tree", "a bell", "a kite"]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server] (the test extra)")
    with LocalServer(n_ctx=1024, n_threads=1) as running:
        yield running


def spec_for(base_url: str, model: str, timeout: float = 60.0, **execution) -> dict:
    return {
        "name": "one_liners",
        "seed": 5,
        "backends": {
            "default": {
                "kind": "openai", "base_url": base_url, "model": model, "timeout": timeout, "max_concurrency": 2
            }
        },
        "columns": [
            {"name": "thing", "kind": "sampler", "sampler": "category", "values": THINGS},
            {
                "name": "line",
                "kind": "llm_text",
                "prompt": "Describe {{ thing }} in one sentence.",
                "params": {"max_tokens": 12, "temperature": 0.9},
            },
        ],
        "execution": execution,
        "output": {"formats": ["jsonl"]},
    }



# ---------------------------------------------------------------------------------------------- determinism


def test_a_repeated_seeded_prompt_gets_the_same_answer_as_a_fresh_one(server):
    """llama-cpp-python alone decodes only the last token of a prompt it has just seen, in a one-token batch whose
    logits differ; the server LocalServer starts always decodes at least two (perpetuum/llm/prompt_cache.py)."""
    backend = server.backend()

    async def pairs():
        answers = []
        for seed, thing in enumerate(THINGS[:3]):  # "an apple" with seed 100 changed before the fix
            messages = [{"role": "user", "content": f"Write a short story about {thing} in a city."}]
            params = GenerationParams(temperature=0.9, max_tokens=24, seed=100 + seed)
            first = await backend.chat(messages, params)
            again = await backend.chat(messages, params)  # the server's cache now holds exactly this prompt
            answers.append((first.text, again.text))
        await backend.aclose()
        return answers

    for first, again in asyncio.run(pairs()):
        assert first == again


# ---------------------------------------------------------------------------------------------- fault injection

# One fault sequence per distinct request (12 records, 12 requests): every kind alone, two back to back, clean
# requests between. A single hang: each one costs the client's whole timeout, which must be long enough that a real
# answer from a busy 2-core machine never hits it.
PLAN = [["429"], [], ["500"], ["garbled"], [], ["hang"], ["429", "garbled"], [], ["500", "429"], [], ["garbled"], []]
TIMEOUT_S = 15.0


def test_a_dataset_completes_through_429s_500s_hangs_and_garbled_answers_unchanged(server, tmp_path):
    n = len(PLAN)
    with FaultProxy(f"http://127.0.0.1:{server.port}", PLAN, retry_after=1.0, hang_seconds=TIMEOUT_S + 2) as proxy:
        faulty = spec_for(proxy.base_url, server.model_name, timeout=TIMEOUT_S)
        # Backoff alone would retry within 50 ms, so the wait after a 429 shows that its Retry-After was honoured.
        faulty["execution"] = {"max_retries": 4, "backoff_base": 0.01, "backoff_max": 0.05}
        result = generate(faulty, n, tmp_path / "faulty", progress=False)
    clean = generate(spec_for(server.base_url, server.model_name), n, tmp_path / "clean", progress=False)

    assert result.n_failed == 0 and result.n_generated == n
    assert result.records == clean.records and all(row["line"].strip() for row in result.records)
    injected = proxy.injected()
    assert all(injected[kind] >= 1 for kind in ("429", "500", "hang", "garbled")), injected
    retries = result.card["tokens"]["by_backend"]["default"]["retries"]
    assert retries >= sum(injected.values())  # a slow answer may also have timed out and been retried
    # Retry-After is honoured: the attempt after a 429 came no sooner than the 1 s the proxy asked for.
    attempts = {}
    for key, attempt, fault, at in proxy.log:
        attempts[(key, attempt)] = (fault, at)
    after_429 = [
        attempts[(key, attempt + 1)][1] - at
        for (key, attempt), (fault, at) in attempts.items()
        if fault == "429" and (key, attempt + 1) in attempts
    ]
    assert after_429 and min(after_429) >= 0.95


# ---------------------------------------------------------------------------------------------- kill and resume


def perpetuum_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "perpetuum", *arguments]


def test_a_generate_process_killed_mid_run_resumes_to_exactly_the_uninterrupted_dataset(server, tmp_path):
    n = 10
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_for(server.base_url, server.model_name, shard_size=3)))
    out = tmp_path / "killed"
    environment = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        perpetuum_command("generate", str(spec_path), "-n", str(n), "-o", str(out), "--quiet"),
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while len(read_checkpoint_entries(out)) < 3:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the generating process checkpointed too few records"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    written_before = {entry["index"] for entry in read_checkpoint_entries(out)}
    assert 3 <= len(written_before) < n

    resumed = subprocess.run(
        perpetuum_command("generate", str(spec_path), "-n", str(n), "-o", str(out), "--resume", "--quiet"),
        cwd=tmp_path, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    straight = generate(spec_path, n, tmp_path / "straight", progress=False)

    entries = read_checkpoint_entries(out)
    assert sorted(entry["index"] for entry in entries) == list(range(n))  # none lost, none twice
    assert {entry["index"] for entry in entries if entry["session"] == 1} == written_before
    assert all(entry["status"] == "ok" for entry in entries)
    assert (out / "data.jsonl").read_bytes() == (tmp_path / "straight" / "data.jsonl").read_bytes()
    card = json.loads((out / "card.json").read_text())
    assert card["sessions"] == 2 and card["records"]["generated"] == n
    assert len({row["line"] for row in straight.records}) > 1  # seeded sampling, not one greedy answer
