"""End to end on the real embedded model (SmolLM2-135M through llama.cpp): a tiny spec, small max_tokens."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python")
pytest.importorskip("perpetuum.llm.embedded")

from perpetuum.pipeline import generate  # noqa: E402

TINY = {
    "name": "tiny_embedded",
    "seed": 3,
    "backends": {"default": {"kind": "embedded"}},
    "columns": [
        {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["cat", "dog", "bird"]},
        {
            "name": "line",
            "kind": "llm_text",
            "prompt": "Write one short sentence about a {{ animal }}.",
            "params": {"max_tokens": 24, "temperature": 0.7},
        },
        {
            "name": "facts",
            "kind": "llm_json",
            "prompt": "Give the name and the number of legs of a {{ animal }}.",
            "json_schema": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 20}, "legs": {"type": "integer", "minimum": 0, "maximum": 8}},
                "required": ["name", "legs"],
            },
            "params": {"max_tokens": 40},
        },
        {
            "name": "quality",
            "kind": "llm_judge",
            "prompt": "Sentence: {{ line }}",
            "rubric": [{"name": "fluent", "description": "Is it fluent English?", "min": 1, "max": 5}],
            "params": {"max_tokens": 60},
        },
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return generate(TINY, 4, tmp_path_factory.mktemp("embedded"), progress=False)


def test_the_embedded_model_fills_every_column(run):
    assert run.n_generated + run.n_failed == 4 and run.n_generated >= 3
    for row in run.records:
        assert row["animal"] in {"cat", "dog", "bird"} and row["line"].strip()
        assert isinstance(row["facts"]["legs"], int) and 0 <= row["facts"]["legs"] <= 8
        assert 1 <= row["quality"]["scores"]["fluent"] <= 5


def test_the_card_names_the_model_and_counts_its_tokens(run):
    card = json.loads((run.output_dir / "card.json").read_text())
    assert "smollm2" in card["backends"]["default"]["model"].lower()
    assert card["tokens"]["completion"] > 0 and card["cost_usd"]["total"] == 0.0


def test_a_resumed_embedded_run_equals_an_uninterrupted_one(run, tmp_path):
    # The first two records, then the rest in a second session: the same records as the one-session run.
    generate(TINY, 2, tmp_path, progress=False)
    resumed = generate(TINY, 4, tmp_path, resume=True, progress=False)
    assert resumed.records == run.records
