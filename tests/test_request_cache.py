"""The request cache: a key that changes with anything that reaches the model, LRU eviction, safety under threads
and processes sharing the file, and a re-run that pays only for the column whose prompt changed."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

import pytest

from perpetuum.llm.base import Completion, GenerationParams
from perpetuum.llm.embedded import EmbeddedBackend
from perpetuum.llm.request_cache import RequestCache, request_key
from perpetuum.pipeline import generate
from test_pipeline_support import EchoBackend

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a river."}]
SCHEMA = {"type": "object", "properties": {"river": {"type": "string"}}}


def answer(text: str = "the Nile", tokens: int = 3) -> Completion:
    return Completion(text=text, prompt_tokens=12, completion_tokens=tokens, model="echo-1", finish_reason="stop",
                      seconds=0.5)


def test_any_change_in_what_reaches_the_model_changes_the_key(tmp_path):
    backend, params = EchoBackend(), GenerationParams(temperature=0.7, seed=5, max_tokens=64)
    base = request_key(backend, MESSAGES, params, None)
    changed = {
        "message text": request_key(backend, [MESSAGES[0], {"role": "user", "content": "Name a river!"}], params, None),
        "message role": request_key(backend, [{"role": "user", "content": "Be brief."}, MESSAGES[1]], params, None),
        "one more message": request_key(backend, MESSAGES + [{"role": "assistant", "content": "Nile"}], params, None),
        "temperature": request_key(backend, MESSAGES, replace(params, temperature=0.8), None),
        "top_p": request_key(backend, MESSAGES, replace(params, top_p=0.9), None),
        "seed": request_key(backend, MESSAGES, replace(params, seed=6), None),
        "max_tokens": request_key(backend, MESSAGES, replace(params, max_tokens=65), None),
        "stop": request_key(backend, MESSAGES, replace(params, stop=["\n"]), None),
        "schema": request_key(backend, MESSAGES, params, SCHEMA),
        "other schema": request_key(backend, MESSAGES, params, {**SCHEMA, "required": ["river"]}),
        "model": request_key(EchoBackend(model="echo-2"), MESSAGES, params, None),
        "backend setting": request_key(EchoBackend(goodbye_after=3), MESSAGES, params, None),
    }
    assert base == request_key(EchoBackend(), [dict(m) for m in MESSAGES], replace(params), None)  # equal requests
    assert all(key != base for key in changed.values()), [name for name, key in changed.items() if key == base]
    assert len(set(changed.values())) == len(changed)
    # Settings that cannot change an answer do not split the cache.
    assert request_key(EchoBackend(max_concurrency=16), MESSAGES, params, None) == base


def test_a_gguf_file_is_identified_by_path_size_and_modification_time(tmp_path):
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    params = GenerationParams(seed=1)
    first = request_key(EmbeddedBackend(model_path=model), MESSAGES, params, None)
    assert first == request_key(EmbeddedBackend(model_path=model), MESSAGES, params, None)
    os.utime(model, ns=(1_000_000_000, 1_000_000_000))
    touched = request_key(EmbeddedBackend(model_path=model), MESSAGES, params, None)
    model.write_bytes(b"GGUF" + bytes(61))
    resized = request_key(EmbeddedBackend(model_path=model), MESSAGES, params, None)
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(model.read_bytes())
    elsewhere = request_key(EmbeddedBackend(model_path=copy), MESSAGES, params, None)
    assert len({first, touched, resized, elsewhere}) == 4
    assert request_key(EmbeddedBackend(model_path=model, n_ctx=4096), MESSAGES, params, None) != resized


def test_requests_without_a_seed_or_a_backend_identity_are_never_cached(tmp_path):
    cache = RequestCache.open(tmp_path)
    key = request_key(EchoBackend(), MESSAGES, GenerationParams(seed=None), None)
    assert key is None
    assert request_key(object(), MESSAGES, GenerationParams(seed=1), None) is None  # no identity: not cached
    cache.put(key, answer())
    assert cache.get(key) is None and cache.stats()["entries"] == 0


def test_answers_come_back_whole_and_the_least_recently_used_go_first(tmp_path):
    cache = RequestCache.open(tmp_path, max_bytes=3000)
    cache.put("a" * 64, answer("first " * 40))
    assert cache.get("a" * 64) == answer("first " * 40)
    for position in range(1, 8):
        cache.put(f"{position:064d}", answer(f"answer {position} " * 30))
        cache.get("a" * 64)  # kept warm: the oldest unused entries go instead
    cache.evict_now()
    stats = cache.stats()
    assert stats["bytes"] <= 3000
    assert cache.get("a" * 64) is not None
    assert cache.get(f"{1:064d}") is None  # the coldest
    assert cache.get(f"{7:064d}") is not None  # the newest


def test_threads_and_a_second_connection_share_the_store_safely(tmp_path):
    cache, other = RequestCache.open(tmp_path), RequestCache.open(tmp_path)  # as two processes would
    problems: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for item in range(40):
                key = f"{worker:032d}{item:032d}"
                store = cache if item % 2 else other
                store.put(key, answer(f"{worker}-{item}"))
                found = (other if item % 2 else cache).get(key)
                assert found is not None and found.text == f"{worker}-{item}"
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            problems.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems
    assert cache.stats()["entries"] == 8 * 40


def three_column_spec(prompt_b: str = "Rewrite: {{ a }}") -> dict:
    """a feeds b, b feeds its judge; c stands alone."""
    return {
        "name": "chain",
        "seed": 3,
        "backends": {"default": {"kind": "test-echo"}},
        "prices": {"default": {"input_per_million": 1.0, "output_per_million": 2.0}},
        "columns": [
            {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["otters", "tides", "kites"]},
            {"name": "a", "kind": "llm_text", "prompt": "Write about {{ topic }}."},
            {"name": "b", "kind": "llm_text", "prompt": prompt_b},
            {"name": "b_score", "kind": "llm_judge", "prompt": "{{ b }}",
             "rubric": [{"name": "clear", "description": "Is it clear?"}]},
            {"name": "c", "kind": "llm_text", "prompt": "A title for {{ topic }}."},
        ],
    }


def test_changing_one_prompt_pays_only_for_that_column_and_its_dependents(tmp_path):
    cache = tmp_path / "cache"
    first = EchoBackend()
    original = generate(three_column_spec(), 12, tmp_path / "one", progress=False, cache=cache,
                        backends={"default": first})
    assert len(first.requests) == 12 * 4 and original.card["economics"]["cache"]["misses"] == 48

    again = EchoBackend()
    changed_spec = three_column_spec("Shorten: {{ a }}")
    rerun = generate(changed_spec, 12, tmp_path / "two", progress=False, cache=cache, backends={"default": again})
    sent = [request["messages"][-1]["content"] for request in again.requests]
    assert len(sent) == 12 * 2  # b and its judge, nothing for a or c
    assert all(text.startswith("Shorten:") or "Score it on these criteria" in text for text in sent)
    uncached = generate(changed_spec, 12, tmp_path / "three", progress=False, cache=False)
    assert rerun.records == uncached.records

    economics = rerun.card["economics"]
    assert economics["cache"]["hits"] == 24 and economics["cache"]["misses"] == 24
    by_column = economics["by_column"]
    assert by_column["a"]["cached_calls"] == 12 and "calls" not in by_column["a"]
    assert by_column["b"]["calls"] == 12
    saved = economics["cache"]["saved_tokens"]
    assert saved["prompt"] > 0 and economics["cache"]["saved_usd"] == pytest.approx(
        (saved["prompt"] * 1.0 + saved["completion"] * 2.0) / 1e6)
    assert "Request cache: 24 hits, 24 misses" in (tmp_path / "two" / "card.md").read_text()


def test_no_cache_pays_for_every_call_again(tmp_path):
    generate(three_column_spec(), 4, tmp_path / "one", progress=False, cache=tmp_path / "cache")
    bypass = EchoBackend()
    result = generate(three_column_spec(), 4, tmp_path / "two", progress=False, cache=False,
                      backends={"default": bypass})
    assert len(bypass.requests) == 16
    assert result.card["economics"]["cache"] == {**result.card["economics"]["cache"], "enabled": False, "hits": 0}
