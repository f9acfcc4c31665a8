"""Verify and repair on the real embedded model (SmolLM2-135M): a story must name a word the prompt does not ask
for, so the first answer fails its check and the model is asked again; the run is reproducible and resumable."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python")
pytest.importorskip("perpetuum.llm.embedded")

from perpetuum.llm.registry import get_backend  # noqa: E402
from perpetuum.pipeline import generate  # noqa: E402

SPEC = {
    "name": "repaired_lines",
    "seed": 4,
    "backends": {"default": {"kind": "embedded"}},
    "columns": [
        {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["cat", "dog"]},
        {"name": "line", "kind": "llm_text", "prompt": "Write one short sentence about a {{ animal }}.",
         "params": {"max_tokens": 24, "temperature": 0.7}, "repair": {"validator": "says_moon", "attempts": 2}},
        {"name": "says_moon", "kind": "validator", "validator": "regex", "target": "line", "pattern": "moon",
         "ignore_case": True},
    ],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two records in one run, and the same two in two sessions; one model instance serves the three runs."""
    import asyncio

    folder = tmp_path_factory.mktemp("repair_embedded")
    backends = {"default": get_backend("embedded")}
    try:
        whole = generate(SPEC, 2, folder / "whole", progress=False, backends=backends)
        generate(SPEC, 1, folder / "parts", progress=False, backends=backends)
        resumed = generate(SPEC, 2, folder / "parts", resume=True, progress=False, backends=backends)
    finally:
        asyncio.run(backends["default"].aclose())
    return whole, resumed


def test_a_real_model_is_asked_again_and_every_attempt_is_counted(runs):
    whole, _ = runs
    repairs = whole.card["repairs"]["line"]
    assert repairs["records_checked"] == 2 and repairs["first_try_passed"] == 0  # the prompt never mentions a moon
    assert repairs["attempts_used"] >= 2 and repairs["tokens"]["completion"] > 0
    calls = whole.card["tokens"]["by_backend"]["default"]["calls"]
    assert calls == 2 + repairs["attempts_used"]


def test_a_resumed_run_with_repairs_equals_an_uninterrupted_one(runs):
    whole, resumed = runs
    assert resumed.records == whole.records
    assert resumed.card["repairs"] == whole.card["repairs"]
