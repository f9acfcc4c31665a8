"""A deterministic test backend for the pipeline tests, and the checks that it behaves as the tests assume.

`EchoBackend` is a real `Backend`: its answer is a pure function of (messages, seed, schema), so it shows exactly
what the pipeline sends and lets the tests compare runs. It can answer JSON for a schema, fail a set share of
requests with TransientBackendError (the same requests on every run, whatever the order), and end dialogues.
Other test modules (and the crash test's subprocess) import it to register the `test-echo` backend kind.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter

from perpetuum.errors import TransientBackendError
from perpetuum.llm.base import Backend, Completion, GenerationParams
from perpetuum.llm.registry import register_backend

VOCABULARY = (
    "river lantern quiet orbit maple copper thunder velvet harbor meadow echo prism tundra cobalt willow ember "
    "canyon saffron glacier beacon"
).split()


def _digest(*parts) -> bytes:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()


def _fraction(digest: bytes) -> float:
    return int.from_bytes(digest[:8], "little") / 2**64


def value_for_schema(schema: dict, digest: bytes, depth: int = 0):
    """A value valid under the small JSON Schemas the tests use (objects, strings, enums, numbers, arrays)."""
    pick = int.from_bytes(digest[depth % 24 : depth % 24 + 8], "little")
    if "enum" in schema:
        return schema["enum"][pick % len(schema["enum"])]
    kind = schema.get("type", "string")
    if kind == "object":
        return {
            key: value_for_schema(sub, _digest(digest.hex(), key), depth + 1)
            for key, sub in schema.get("properties", {}).items()
        }
    if kind == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 100)
        return low + pick % (high - low + 1)
    if kind == "number":
        low, high = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return low + (high - low) * _fraction(digest)
    if kind == "boolean":
        return bool(pick % 2)
    if kind == "array":
        count = max(schema.get("minItems", 2), 1)
        return [value_for_schema(schema.get("items", {}), _digest(digest.hex(), i), depth + 1) for i in range(count)]
    return " ".join(VOCABULARY[(pick >> (5 * i)) % len(VOCABULARY)] for i in range(3))


@register_backend("test-echo")
class EchoBackend(Backend):
    """Answers "<words chosen by hash> :: <last user message>"; JSON for a schema. Deterministic per request.

    fail_share: that share of distinct requests fails `failures_per_request` times with TransientBackendError
    before it succeeds. goodbye_after: once a conversation holds that many user/assistant turns, the answer ends
    with "GOODBYE". delay: seconds each answer takes.
    """

    constrains_json = True

    def __init__(
        self,
        model: str = "echo-1",
        max_concurrency: int = 4,
        delay: float = 0.0,
        fail_share: float = 0.0,
        failures_per_request: int = 1,
        goodbye_after: int | None = None,
        echo_only: bool = False,
    ) -> None:
        self.model_name = model
        self.max_concurrency = max_concurrency
        self.delay = delay
        self.fail_share = fail_share
        self.failures_per_request = failures_per_request
        self.goodbye_after = goodbye_after
        self.echo_only = echo_only
        self.attempts: Counter = Counter()
        self.requests: list[dict] = []
        self.transient_failures = 0

    async def chat(self, messages, params: GenerationParams, json_schema=None) -> Completion:
        key = _digest(messages, params.seed, params.temperature, params.max_tokens, json_schema)
        self.attempts[key] += 1
        if _fraction(_digest("fail", key.hex())) < self.fail_share and self.attempts[key] <= self.failures_per_request:
            self.transient_failures += 1
            raise TransientBackendError("simulated 503 from the test backend")
        started = time.perf_counter()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.requests.append({"messages": messages, "params": params, "json_schema": json_schema})
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if json_schema is not None:
            text = json.dumps(value_for_schema(json_schema, key))
        elif self.echo_only:
            text = last_user
        else:
            words = " ".join(VOCABULARY[b % len(VOCABULARY)] for b in key[:4])
            text = f"{words} :: {last_user}"
        turns = sum(1 for m in messages if m["role"] in ("user", "assistant"))
        if self.goodbye_after is not None and json_schema is None and turns >= self.goodbye_after:
            text += " GOODBYE"
        text = text[: params.max_tokens * 8]
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(text.split()),
            model=self.model_name,
            finish_reason="stop",
            seconds=time.perf_counter() - started,
        )

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        return await self.chat([{"role": "user", "content": prompt}], params)


def run(coroutine):
    return asyncio.run(coroutine)


def test_echo_backend_is_a_pure_function_of_the_request():
    backend = EchoBackend()
    messages = [{"role": "user", "content": "Tell me about otters"}]
    first = run(backend.chat(messages, GenerationParams(seed=7)))
    again = run(EchoBackend().chat(messages, GenerationParams(seed=7)))
    other_seed = run(backend.chat(messages, GenerationParams(seed=8)))
    assert first.text == again.text
    assert first.text != other_seed.text
    assert first.text.endswith(":: Tell me about otters")


def test_echo_backend_fails_the_same_share_of_requests_once_each():
    backend = EchoBackend(fail_share=0.3)
    failed = 0
    for seed in range(200):
        try:
            run(backend.chat([{"role": "user", "content": "x"}], GenerationParams(seed=seed)))
        except TransientBackendError:
            failed += 1
            run(backend.chat([{"role": "user", "content": "x"}], GenerationParams(seed=seed)))  # second try passes
    assert 40 <= failed <= 80


def test_echo_backend_answers_json_matching_the_schema():
    import jsonschema

    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "stars": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["title", "stars"],
    }
    answer = run(EchoBackend().chat([{"role": "user", "content": "review"}], GenerationParams(seed=1), schema))
    jsonschema.validate(json.loads(answer.text), schema)
