"""End to end on the real embedded model (SmolLM2-135M through llama.cpp): a tiny spec, small max_tokens.

A run in two sessions (one record, then a resume that adds the second) must equal an uninterrupted run: the batch
engine decodes every prompt on its own, in its own KV stream, so a seeded request's answer does not depend on
which other requests share the batch or ran before it.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python")
pytest.importorskip("perpetuum.llm.embedded")

from perpetuum.pipeline import generate, preview  # noqa: E402

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
            "params": {"max_tokens": 16, "temperature": 0.7},
        },
        {"name": "says_animal", "kind": "validator", "validator": "regex", "template": "{{ line }}", "pattern": "\\w"},
        {
            "name": "chat",
            "kind": "dialogue",
            "turns": 2,
            "opening": "Tell me about a {{ animal }}.",
            "roles": [
                {"name": "child", "system_prompt": "You are a curious child."},
                {"name": "vet", "system_prompt": "You are a vet. Answer in one sentence.", "params": {"max_tokens": 16}},
            ],
        },
    ],
}


def entries(folder) -> dict[int, dict]:
    found = {}
    for shard in sorted((folder / "checkpoint").glob("shard-*.jsonl")):
        for line in shard.read_text().splitlines():
            entry = json.loads(line)
            assert entry["index"] not in found, "a record was written twice"
            found[entry["index"]] = entry
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two records in two sessions: the first alone, then a resume that adds the second."""
    folder = tmp_path_factory.mktemp("embedded")
    generate(TINY, 1, folder, progress=False)
    return generate(TINY, 2, folder, resume=True, progress=False)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return generate(TINY, 2, tmp_path_factory.mktemp("embedded-straight"), progress=False)


def test_a_run_in_two_sessions_equals_an_uninterrupted_run(run, straight):
    assert run.records == straight.records
    assert (run.output_dir / "data.jsonl").read_bytes() == (straight.output_dir / "data.jsonl").read_bytes()


def test_the_embedded_model_fills_every_column(run):
    assert run.n_generated == 2 and run.n_failed == 0
    for row in run.records:
        assert row["animal"] in {"cat", "dog", "bird"} and row["line"].strip()
        assert row["says_animal"]["passed"]
        assert [m["role"] for m in row["chat"]] == ["child", "vet"] and row["chat"][1]["content"].strip()


def test_the_card_names_the_model_and_counts_its_tokens(run):
    card = json.loads((run.output_dir / "card.json").read_text())
    assert "smollm2" in card["backends"]["default"]["model"].lower()
    assert card["tokens"]["completion"] > 0 and card["tokens"]["by_backend"]["default"]["calls"] >= 4
    assert card["cost_usd"]["total"] == 0.0 and card["sessions"] == 2


def test_a_resumed_embedded_run_has_every_record_once_with_the_same_seeded_choices(run):
    written = entries(run.output_dir)
    assert sorted(written) == [0, 1] and [written[i]["session"] for i in (0, 1)] == [1, 2]
    samplers_only = {**TINY, "columns": TINY["columns"][:1]}  # the same seed gives the same draws, no model needed
    expected = [row["animal"] for row in preview(samplers_only, n=2)]
    assert [written[i]["record"]["animal"] for i in (0, 1) if written[i]["status"] == "ok"] == [
        animal for i, animal in enumerate(expected) if written[i]["status"] == "ok"
    ]
