"""The collapse guard: every dataset card carries lineage and collapse signals against its reference data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from perpetuum.cli import app
from perpetuum.card import table_card, text_signals, write_table_card
from perpetuum.datasets import load_adult
from perpetuum.errors import ParameterError

STORIES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tinystories" / "stories.txt.gz"


@pytest.fixture(scope="module")
def adult_slice() -> pd.DataFrame:
    return load_adult().sample(600, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def stories() -> list[str]:
    if not STORIES.is_file():
        pytest.skip("the shared TinyStories corpus is not available")
    from perpetuum.schema.corpus import read_corpus

    return read_corpus(STORIES, limit=600)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------- tables


def test_a_collapsed_table_gets_warnings_and_a_faithful_copy_does_not(adult_slice):
    narrow = adult_slice.copy()
    narrow["age"] = adult_slice["age"].median()  # no spread, no tails
    narrow["race"] = "White"  # every rare category gone
    card = table_card(adult_slice, narrow, synthesizer="test", seed=3, source={"source": "adult.csv", "sha256": "ab"})
    text = " ".join(card["warnings"])
    assert "variance shrinks" in text and "age" in text
    assert card["collapse_signals"]["per_column"]["variance_ratio"]["age"] == 0.0
    assert card["lineage"]["synthetic"] is True
    assert card["lineage"]["generation"] == 0 and card["lineage"]["seed"] == 3
    assert card["lineage"]["source"]["sha256"] == "ab"
    clean = table_card(adult_slice, adult_slice.sample(frac=1.0, random_state=1), synthesizer="test")
    assert clean["warnings"] == []


def test_table_card_files_are_written_beside_the_output(adult_slice, tmp_path):
    card = table_card(adult_slice, adult_slice, synthesizer="test", generation=4)
    paths = write_table_card(card, tmp_path / "out" / "rows.csv.gz")
    assert Path(paths["card_json"]).name == "rows.card.json"
    assert json.loads(Path(paths["card_json"]).read_text())["lineage"]["generation"] == 4
    assert "| generation | 4 |" in Path(paths["card_markdown"]).read_text()
    with pytest.raises(ParameterError, match="generation"):
        table_card(adult_slice, adult_slice, synthesizer="test", generation=-1)


def test_synthesize_and_sample_write_cards_with_lineage_and_generation(adult_slice, tmp_path):
    runner = CliRunner()
    source = tmp_path / "adult.csv"
    adult_slice.to_csv(source, index=False)
    first = tmp_path / "gen0.csv"
    result = runner.invoke(app, ["synthesize", str(source), "-n", "300", "-o", str(first), "--model", "fast",
                                 "--no-report", "--seed", "5", "-q"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "gen0.card.json").read_text())
    lineage = card["lineage"]
    assert lineage["synthetic"] is True and lineage["generation"] == 0 and lineage["seed"] == 5
    assert lineage["source"]["sha256"] == _sha256(source)
    assert lineage["generator"]["synthesizer"] == "copula" and "n_quantiles" in lineage["generator"]["params"]
    assert card["collapse_signals"]["computed"] and card["collapse_signals"]["reference_rows"] == len(adult_slice)

    # Synthetic data fed back in: the next card says generation 1 and points at its parent.
    second = tmp_path / "gen1.csv"
    result = runner.invoke(app, ["synthesize", str(first), "-n", "300", "-o", str(second), "--model", "fast",
                                 "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    child = json.loads((tmp_path / "gen1.card.json").read_text())["lineage"]
    assert child["generation"] == 1 and child["parent_card"].endswith("gen0.card.json")

    model = tmp_path / "model"
    assert runner.invoke(app, ["fit", str(source), "-o", str(model), "--model", "fast", "-q"]).exit_code == 0
    sampled = tmp_path / "sampled.parquet"
    result = runner.invoke(app, ["sample", str(model), "-n", "200", "-o", str(sampled), "--reference", str(source),
                                 "--generation", "7", "-q"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "sampled.card.json").read_text())
    assert card["lineage"]["generation"] == 7 and card["lineage"]["source"]["sha256"] == _sha256(source)
    assert len(card["lineage"]["source"]["model_sha256"]) == 64 and card["collapse_signals"]["computed"]
    result = runner.invoke(app, ["sample", str(model), "-n", "50", "-o", str(tmp_path / "bare.csv"), "-q"])
    assert result.exit_code == 0, result.output
    bare = json.loads((tmp_path / "bare.card.json").read_text())
    assert bare["collapse_signals"]["computed"] is False and "--reference" in bare["collapse_signals"]["reason"]


# ---------------------------------------------------------------------------------------------- text


def test_text_signals_warn_on_repetitive_text_against_a_real_corpus(stories):
    repetitive = ["Once upon a time there was a cat. The cat was happy."] * 40
    signals = text_signals({"story": repetitive}, reference=stories)
    warnings = " ".join(signals["warnings"])
    assert "nearly copy" in warnings and "vocabulary shrinks" in warnings and "length" in warnings
    compared = signals["per_column"]["story"]["vs_reference"]
    assert compared["vocabulary_ratio"] < 0.2 and compared["length_variance_ratio"] == 0.0

    healthy = text_signals({"story": stories[300:400]}, reference=stories[:300])
    assert healthy["warnings"] == []
    assert 0.7 < healthy["per_column"]["story"]["vs_reference"]["vocabulary_ratio"] < 1.4


def test_text_signals_without_a_reference_measure_diversity_only():
    signals = text_signals(["the same words"] * 10)
    assert signals["reference"] is None and "diversity only" in signals["note"]
    assert signals["per_column"]["text"]["diversity"]["near_duplicate_rate"] == pytest.approx(0.9)
    assert any("nearly copy" in warning for warning in signals["warnings"])


def _spec(word_file: Path) -> dict:
    return {
        "name": "stories",
        "seed": 3,
        "backends": {"default": {"kind": "test-echo"}},
        "columns": [
            {"name": "hero", "kind": "sampler", "sampler": "category", "values": ["fox", "owl", "eel"]},
            {"name": "mood", "kind": "sampler", "sampler": "words", "file": str(word_file)},
            {"name": "story", "kind": "llm_text", "prompt": "A {{ mood }} {{ hero }} went for a walk in the woods."},
        ],
    }


def test_generated_dataset_card_carries_lineage_and_text_collapse_signals(tmp_path, stories):
    from test_pipeline_support import EchoBackend

    from perpetuum.pipeline import generate
    from perpetuum.card import build_card

    words = tmp_path / "moods.txt"
    words.write_text("calm\nbrave\nodd\nshy\n")
    result = generate(_spec(words), 25, tmp_path / "run", progress=False, backends={"default": EchoBackend()})
    card = json.loads((tmp_path / "run" / "card.json").read_text())
    lineage = card["lineage"]
    assert lineage["synthetic"] is True and lineage["generation"] == 0
    assert lineage["generator"]["backends"]["default"]["kind"] == "test-echo"
    assert len(lineage["spec_sha256"]) == 64
    assert lineage["sources"] == [{"column": "mood", "path": str(words), "sha256": _sha256(words)}]
    diversity = card["collapse_signals"]["per_column"]["story"]["diversity"]
    assert diversity["texts"] == 25 and 0 < diversity["distinct_2"] <= 1
    markdown = (tmp_path / "run" / "card.md").read_text()
    assert "## Lineage" in markdown and "## Collapse signals" in markdown

    # A word list that is itself Perpetuum output (a card beside it) makes the next run one generation later.
    (tmp_path / "card.json").write_text(json.dumps({"lineage": {"generation": 2}}))
    again = generate(_spec(words), 5, tmp_path / "run2", progress=False, backends={"default": EchoBackend()})
    assert again.card["lineage"]["generation"] == 3 and again.card["lineage"]["parent_cards"]

    # With a reference corpus and an explicit generation (what a spec key / --generation passes in).
    from perpetuum.pipeline.spec import load_spec

    explicit = build_card(load_spec(_spec(words)), n_requested=25, entries=[], n_kept=25, dropped=[],
                          backends={}, wall_seconds=1.0, sessions=1, files={}, json_columns=[], prices={},
                          records=result.records, reference=STORIES, generation=1)
    assert explicit["lineage"]["generation"] == 1
    assert explicit["lineage"]["reference"]["sha256"] == _sha256(STORIES)
    compared = explicit["collapse_signals"]["per_column"]["story"]["vs_reference"]
    assert compared["length_tail_coverage"] is not None and compared["vocabulary_ratio"] < 1
    assert explicit["warnings"] == explicit["collapse_signals"]["warnings"] and explicit["warnings"]


def test_generate_command_takes_a_reference_corpus_and_a_generation(tmp_path, stories):
    import yaml
    from test_pipeline_support import EchoBackend  # noqa: F401  (registers the test-echo backend kind)

    words = tmp_path / "moods.txt"
    words.write_text("calm\nbrave\nodd\nshy\n")
    spec_path = tmp_path / "stories.yaml"
    spec_path.write_text(yaml.safe_dump(_spec(words)))
    reference = tmp_path / "real.txt"
    reference.write_text("\n<|endoftext|>\n".join(stories[:200]) + "\n")
    result = CliRunner().invoke(
        app,
        ["generate", str(spec_path), "-n", "12", "-o", str(tmp_path / "run"), "--reference", str(reference),
         "--generation", "5"],
    )
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "run" / "card.json").read_text())
    assert card["lineage"]["generation"] == 5
    assert card["lineage"]["reference"]["sha256"] == _sha256(reference)
    assert "vs_reference" in card["collapse_signals"]["per_column"]["story"]
    assert card["warnings"] and "Warning:" in result.output


def test_generate_command_names_a_missing_reference_file(tmp_path):
    from test_pipeline_support import EchoBackend  # noqa: F401

    import yaml

    words = tmp_path / "moods.txt"
    words.write_text("calm\n")
    spec_path = tmp_path / "stories.yaml"
    spec_path.write_text(yaml.safe_dump(_spec(words)))
    result = CliRunner().invoke(
        app, ["generate", str(spec_path), "-n", "2", "-o", str(tmp_path / "run"), "--reference", "nowhere.txt"]
    )
    assert result.exit_code == 2
    assert "nowhere.txt" in result.output and "Traceback" not in result.output
