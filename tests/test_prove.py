"""perpetuum prove: the four-arm stories experiment, its report and its inputs (the code half: test_prove_code.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from perpetuum.cli import app  # noqa: E402
from perpetuum.errors import DataInputError  # noqa: E402
from perpetuum.prove import ARMS, prove_stories, read_texts  # noqa: E402
from perpetuum.prove.stories import fingerprint, split_texts  # noqa: E402
from perpetuum.schema.corpus import read_corpus  # noqa: E402
from perpetuum.train import Tokenizer  # noqa: E402

STORIES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tinystories" / "stories.txt.gz"
TINY = {"d_model": 32, "layers": 1, "heads": 2, "context": 32, "batch": 4, "steps": 8, "eval_every": 4,
        "patience": 0, "threads": 1}


@pytest.fixture(scope="module")
def corpora():
    if not STORIES.is_file():
        pytest.skip("the shared TinyStories corpus is not available")
    torch.set_num_threads(1)
    documents = read_corpus(STORIES, limit=90)
    # Stand-in "synthetic" stories: real ones with a word the real side never uses.
    synthetic = [text.replace(" the ", " the zorbly ") for text in documents[:30]]
    return synthetic, documents[30:70], documents[70:90]


@pytest.fixture(scope="module")
def result(corpora):
    synthetic, real, holdout = corpora
    return prove_stories(synthetic, real, holdout, seeds=2, model=TINY, samples=3, vocabulary_size=400)


def test_every_arm_uses_the_one_tokenizer_trained_on_the_real_side(corpora, result):
    synthetic, real, _ = corpora
    real_train, _ = split_texts(real, 0.1, 0)
    expected = fingerprint(Tokenizer.train(real_train, 400))
    assert result["tokenizer"]["sha256"] == expected and result["tokenizer"]["stories"] == len(real_train)
    assert {run["tokenizer_sha256"] for arm in result["arms"].values() for run in arm["runs"]} == {expected}


def test_every_arm_gets_the_same_compute_budget(result):
    budget = result["model"]["budget_tokens"]
    assert budget == 8 * 4 * 32
    assert [run["tokens_seen"] for arm in result["arms"].values() for run in arm["runs"]] == [budget] * 8


def test_arms_hold_what_they_promise(result):
    arms = result["arms"]
    assert list(arms) == list(ARMS)
    synthetic_tokens = result["inputs"]["synthetic_training_tokens"]
    assert arms["synthetic"]["training_tokens"] == synthetic_tokens
    assert arms["real"]["training_tokens"] >= synthetic_tokens or arms["real"]["stories"] == 36
    assert arms["real+synthetic"]["stories"] == arms["real"]["stories"] + arms["synthetic"]["stories"]
    assert arms["half_real+synthetic"]["stories"] == arms["real"]["stories"] // 2 + arms["synthetic"]["stories"]


def test_scores_have_means_and_intervals_over_seeds(result):
    summary = result["arms"]["real"]["summary"]
    for metric in ("heldout_perplexity", "required_words_continued", "vocabulary_share", "distinct_2"):
        values = summary[metric]["values"]
        assert len(values) == 2 and summary[metric]["low"] <= summary[metric]["mean"] <= summary[metric]["high"]
    assert 1 < summary["heldout_perplexity"]["mean"] < 400
    assert 0.9 < result["reference"]["real_holdout"]["vocabulary_share"] <= 1


def test_prove_stories_command_writes_html_and_json(corpora, tmp_path):
    synthetic, real, holdout = corpora
    dataset = tmp_path / "generated"
    dataset.mkdir()
    (dataset / "data.jsonl").write_text("".join(json.dumps({"story": text}) + "\n" for text in synthetic))
    (tmp_path / "real.txt").write_text("\n\n".join(real))
    (tmp_path / "held.txt").write_text("\n\n".join(holdout))
    options = ["--seeds", "1", "--steps", "4", "--batch", "2", "--context", "16", "--d-model", "16", "--layers", "1",
               "--heads", "2", "--vocabulary", "300", "--samples", "2", "--threads", "1", "-q"]
    outcome = CliRunner().invoke(app, ["prove", "stories", str(dataset), "--real", str(tmp_path / "real.txt"),
                                       "--holdout", str(tmp_path / "held.txt"), *options])
    assert outcome.exit_code == 0, outcome.output
    data = json.loads((dataset / "prove" / "result.json").read_text())
    assert set(data["arms"]) == set(ARMS) and data["seeds"] == 1
    html = (dataset / "prove" / "report.html").read_text()
    assert html.count("<img") == 2 and "<script" not in html and "heldout_perplexity" in html
    assert (dataset / "prove" / "plots" / "learning_curves.svg").is_file()
    missing = CliRunner().invoke(app, ["prove", "stories", str(dataset), "--real", str(tmp_path / "none.txt"),
                                       "--holdout", str(tmp_path / "held.txt"), *options])
    assert missing.exit_code == 2 and "none.txt" in missing.output and "does not exist" in missing.output


def test_inputs_read_folders_jsonl_and_blank_line_text_and_refuse_empty_files(tmp_path):
    (tmp_path / "a.txt").write_text("One story.\n\nTwo story.\n\n\n")
    assert read_texts(tmp_path / "a.txt") == ["One story.", "Two story."]
    (tmp_path / "b.jsonl").write_text('{"text": "x y"}\n{"text": "z"}\n')
    assert read_texts(tmp_path / "b.jsonl") == ["x y", "z"]
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataInputError, match="empty.txt.*no texts"):
        read_texts(tmp_path / "empty.txt")
    with pytest.raises(DataInputError, match="without data.jsonl"):
        read_texts(tmp_path)
    (tmp_path / "c.jsonl").write_text('{"answer": "x"}\n')
    with pytest.raises(DataInputError, match="name the text field"):
        read_texts(tmp_path / "c.jsonl")


def test_json_lines_keep_line_separators_inside_strings_and_refuse_a_line_that_is_not_a_record(tmp_path):
    stories = tmp_path / "stories.jsonl"
    # json.dumps(ensure_ascii=False) writes U+2028 raw: it must not split the record.
    stories.write_text(json.dumps({"story": "One day\u2028a cat sat."}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_texts(stories) == ["One day\u2028a cat sat."]
    stories.write_text(json.dumps({"story": "A dog ran."}) + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataInputError, match="line 2: a record must be a JSON object"):
        read_texts(stories)
