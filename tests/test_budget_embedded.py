"""A token budget on the real embedded model (SmolLM2-135M through llama.cpp) is strict: its prompts are counted
exactly (the chat-templated prompt, tokenized as the model reads it), so what the run pays never passes the limit."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python")
pytest.importorskip("perpetuum.llm.embedded")

from perpetuum.llm.base import GenerationParams  # noqa: E402
from perpetuum.llm.registry import get_backend  # noqa: E402
from perpetuum.pipeline import generate  # noqa: E402
from perpetuum.pipeline.budget import prompt_token_bound  # noqa: E402

BACKEND = {"kind": "embedded", "n_parallel": 2, "n_ctx": 512}
CONVERSATIONS = [
    [{"role": "user", "content": "Write one short sentence about a cat."}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Ça va? 日本語で答えて 🙂"},
     {"role": "assistant", "content": "はい。"}, {"role": "user", "content": "{\"json\": [1, 2, 3]}\n\n\tand more"}],
]


def lines_spec(**execution) -> dict:
    return {
        "name": "strict_budget",
        "seed": 4,
        "backends": {"default": BACKEND},
        "execution": execution,
        "columns": [
            {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["cat", "dog", "bird", "eel"]},
            {"name": "line", "kind": "llm_text", "prompt": "Write one short sentence about a {{ animal }}.",
             "params": {"max_tokens": 16, "temperature": 0.7}},
        ],
    }


@pytest.fixture(scope="module", params=[2, 1], ids=["batched", "serial"])
def backend(request):
    made = get_backend("embedded", n_parallel=request.param, n_ctx=512).load()
    yield made
    asyncio.run(made.aclose())


def test_the_embedded_backend_counts_a_prompt_exactly_as_it_reads_it(backend):
    for messages in CONVERSATIONS:
        counted = asyncio.run(backend.count_prompt_tokens(messages))
        answer = asyncio.run(backend.chat(messages, GenerationParams(max_tokens=2, seed=1)))
        assert counted == answer.prompt_tokens


def test_the_bound_for_backends_that_cannot_count_is_above_the_real_count(backend):
    for messages in CONVERSATIONS:
        assert prompt_token_bound(messages) >= asyncio.run(backend.count_prompt_tokens(messages))


def test_a_tight_token_budget_is_never_exceeded(tmp_path):
    result = generate(lines_spec(budget={"tokens": 250}), 8, tmp_path, progress=False, cache=False)
    assert result.stopped is not None and result.stopped["limit"] == "tokens"
    spent = result.card["economics"]["budget"]["spent"]["tokens"]
    paid = result.card["tokens"]["prompt"] + result.card["tokens"]["completion"]
    assert 0 < paid <= spent <= 250
    assert 0 < result.n_generated < 8
