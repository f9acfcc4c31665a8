"""The openai backend against llama.cpp's own llama-server with parallel slots, started here on 127.0.0.1.

llama-server is built from the pinned llama-cpp-python's llama.cpp source by `scripts/build_llama_server.sh`, which
`dev.sh test` runs; these tests fail (not skip) where it is missing, so CI cannot pass without them.
"""

import asyncio
import urllib.request

import pytest

from perpetuum.errors import ModelFileError
from perpetuum.llm import GenerationParams, generate_json
from perpetuum.llm.server import LlamaCppServer, llama_server_binary
from perpetuum.pipeline import generate

SLOTS = 4


@pytest.fixture(scope="module")
def server():
    # One thread: on a shared 2-core machine llama.cpp's spin barriers make two threads far slower when a core is busy.
    with LlamaCppServer(n_parallel=SLOTS, n_ctx=512, n_threads=1) as running:
        yield running


def metrics(server) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return {
        name.removeprefix("llamacpp:"): float(value)
        for name, value in (line.split() for line in lines if line and not line.startswith("#"))
    }


def test_the_backend_keeps_one_request_in_flight_per_slot(server):
    backend = server.backend()
    assert backend.max_concurrency == SLOTS
    answer = asyncio.run(backend.chat([{"role": "user", "content": "Name a colour."}], GenerationParams(max_tokens=8)))
    assert answer.text.strip() and answer.prompt_tokens > 5 and 1 <= answer.completion_tokens <= 8
    assert answer.model == server.model_name


def test_requests_in_flight_are_decoded_together_in_parallel_slots(server):
    backend = server.backend()
    before = metrics(server)
    conversations = [[{"role": "user", "content": f"Write a long story about the number {n}."}] for n in range(SLOTS)]
    params = GenerationParams(temperature=0.8, max_tokens=32, seed=2)
    answers = asyncio.run(backend.chat_many(conversations, params))
    after = metrics(server)
    assert all(answer.completion_tokens >= 1 for answer in answers)
    decodes = after["n_decode_total"] - before["n_decode_total"]
    generated = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    # One slot at a time would take one decode call per generated token; parallel slots share them.
    assert generated >= sum(answer.completion_tokens for answer in answers) - SLOTS
    assert decodes < 0.6 * generated


def test_a_dataset_generates_through_the_parallel_server(server, tmp_path):
    spec = {
        "name": "parallel_server",
        "seed": 3,
        "backends": {"default": {"kind": "openai", "base_url": server.base_url, "model": server.model_name,
                                 "max_concurrency": SLOTS}},
        "columns": [
            {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["cat", "owl", "fox"]},
            {"name": "line", "kind": "llm_text", "prompt": "One sentence about a {{ animal }}.",
             "params": {"max_tokens": 16}},
        ],
    }  # fmt: skip
    result = generate(spec, 6, tmp_path / "out", progress=False)
    assert result.n_generated == 6 and result.n_failed == 0
    assert all(record["line"].strip() for record in result.records)


def test_json_mode_gives_valid_json(server):
    schema = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 15}}, "required": ["colour"]}
    value, _ = asyncio.run(
        generate_json(server.backend(), [{"role": "user", "content": "Pick a colour."}], schema,
                      GenerationParams(max_tokens=32))
    )  # fmt: skip
    assert isinstance(value["colour"], str)


def test_a_missing_binary_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PERPETUUM_LLAMA_SERVER", str(tmp_path / "nowhere"))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ModelFileError, match="build_llama_server.sh"):
        llama_server_binary()
