"""The collapse lab reproduces the known results on fixed seeds: recursive fitting of a Gaussian on 100 points
loses variance like exp(-generations / 100) and its tails under `replace`, and keeps both when real data stay in
the training set (`accumulate`, `mix:0.1`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from perpetuum.collapse import gaussian_lab, get_generator, parse_strategy, run_experiment
from perpetuum.errors import ParameterError


@pytest.fixture(scope="module")
def paper_toy():
    """1-D Gaussian, N = 100 per generation, 200 repeats, 100 generations (vectorised: seconds)."""
    return gaussian_lab(generations=100, n=100, repeats=200, strategies=["replace", "accumulate", "mix:0.1"], seed=0)


def test_replace_loses_variance_like_exp_minus_generations_over_n(paper_toy):
    final = paper_toy.median("variance_ratio", "replace")[100]
    assert 0.25 <= final <= 0.45, final
    assert abs(math.log(final) - (-1.0)) < 0.4


@pytest.mark.parametrize("strategy", ["accumulate", "mix:0.1"])
def test_keeping_real_data_keeps_the_variance(paper_toy, strategy):
    medians = paper_toy.median("variance_ratio", strategy)
    assert medians[100] > 0.85
    assert medians.min() > 0.85


def test_replace_loses_the_tails(paper_toy):
    tails = paper_toy.median("tail_mass", "replace")
    assert 0.007 <= tails[0] <= 0.013  # generation 0 keeps ~1 % beyond each real 1 %/99 % quantile
    assert tails[100] < 0.003
    assert paper_toy.median("tail_mass_lower", "replace")[100] < 0.002


@pytest.mark.parametrize("strategy", ["accumulate", "mix:0.1"])
def test_keeping_real_data_keeps_the_tails(paper_toy, strategy):
    tails = paper_toy.median("tail_mass", strategy)
    assert np.all((tails > 0.006) & (tails < 0.016))
    assert 0.005 < paper_toy.median("tail_mass_lower", strategy)[100] < 0.016


def test_results_are_reproducible_and_strategies_share_generation_zero():
    first = gaussian_lab(generations=3, n=50, repeats=4, seed=7)
    again = gaussian_lab(generations=3, n=50, repeats=4, seed=7)
    other = gaussian_lab(generations=3, n=50, repeats=4, seed=8)
    np.testing.assert_array_equal(first.values("variance_ratio", "replace"), again.values("variance_ratio", "replace"))
    assert not np.array_equal(first.values("variance_ratio", "replace"), other.values("variance_ratio", "replace"))
    np.testing.assert_array_equal(first.values("wasserstein", "replace")[0], first.values("wasserstein", "mix:0.1")[0])


def test_multivariate_gaussian_and_gmm_report_covariance_spread():
    rng = np.random.default_rng(0)
    real = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=60)
    for name in ("gaussian", "gmm"):
        generator = get_generator(name, components=2) if name == "gmm" else get_generator(name)
        result = run_experiment(generator, real, strategies=["replace", "accumulate"], generations=3, repeats=2, seed=0)
        assert result.values("covariance_trace_ratio", "replace").shape == (4, 2)
        assert np.isfinite(result.median("log_determinant_difference", "accumulate")).all()
        assert result.median("wasserstein", "replace")[-1] > 0


def test_strategies_build_the_documented_training_sets():
    real = np.zeros((1, 10, 1))
    samples = [np.ones((1, 10, 1)), np.full((1, 10, 1), 2.0)]
    rng = np.random.default_rng(0)
    assert parse_strategy("replace").next_training(real, samples, rng).mean() == 2.0
    accumulated = parse_strategy("accumulate").next_training(real, samples, rng)
    assert accumulated.shape == (1, 30, 1) and accumulated.mean() == 1.0
    mixed = parse_strategy("mix:0.3").next_training(real, samples, rng)
    assert mixed.shape == (1, 10, 1) and (mixed == 0).sum() == 3 and (mixed == 2).sum() == 7
    subsampled = parse_strategy("accumulate-subsample").next_training(real, samples, rng)
    assert subsampled.shape == (1, 10, 1)
    texts = parse_strategy("accumulate").next_training(["real"], [["a"], ["b"]], rng)
    assert texts == ["real", "a", "b"]


@pytest.mark.parametrize("bad", ["mix:2", "mix:x", "keep", ""])
def test_unknown_or_invalid_strategies_name_what_is_allowed(bad):
    with pytest.raises(ParameterError, match="strateg"):
        from perpetuum.collapse import parse_strategies

        parse_strategies([bad])


def test_unknown_generator_lists_the_registered_ones():
    with pytest.raises(ParameterError, match="gaussian"):
        get_generator("gan")


def test_tabular_synthesizer_collapse_on_a_real_table_slice():
    from perpetuum.datasets import load_adult

    real = load_adult().sample(400, random_state=0).reset_index(drop=True)[["age", "hours-per-week", "education", "race", "income"]]
    result = run_experiment(get_generator("tabular", model="fast", detection=True), real,
                            strategies=["replace", "accumulate"], generations=1, seed=0)
    names = set(result.metric_names())
    assert {"variance_ratio", "tail_mass", "rare_category_survival", "detection", "wasserstein"} <= names
    assert result.values("detection", "replace").shape == (2, 1)
    assert 0.0 <= result.median("rare_category_survival", "replace")[-1] <= 1.0


def test_result_json_table_and_html(tmp_path):
    result = gaussian_lab(generations=4, n=40, repeats=3, seed=1)
    path = result.to_json(tmp_path / "lab.json")
    data = json.loads(path.read_text())
    assert data["results"]["replace"]["variance_ratio"]["median"][0] == pytest.approx(
        result.median("variance_ratio", "replace")[0]
    )
    assert len(data["results"]["accumulate"]["tail_mass"]["repeats"]) == 3
    assert "replace" in result.table()
    html = result.to_html(tmp_path / "lab.html").read_text()
    assert html.count("<img") == len(result.metric_names())
    assert (tmp_path / "lab_plots" / "variance_ratio.svg").is_file()
    assert "<script" not in html


# ---------------------------------------------------------------------------------------------- text and CLI

STORIES = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tinystories" / "stories.txt.gz"


def _tiny_text_run(seed: int):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from perpetuum.collapse.text_generator import TextGenerator, read_corpus, split_corpus

    if not STORIES.is_file():
        pytest.skip("the shared TinyStories corpus is not available")
    train, heldout = split_corpus(read_corpus(STORIES, limit=40), seed=0)
    generator = TextGenerator(hidden=16, embedding=8, steps=6, batch=4, window=16, max_document=150)
    return run_experiment(generator, train[:12], reference=heldout[:3], n=1500,
                          strategies=["replace", "accumulate"], generations=1, seed=seed)


def test_text_generator_trains_samples_and_measures_reproducibly():
    result = _tiny_text_run(seed=0)
    names = set(result.metric_names())
    assert {"heldout_perplexity", "generated_perplexity_mean", "generated_perplexity_p90", "distinct_2",
            "vocabulary_size"} <= names
    assert np.isfinite(result.values("heldout_perplexity", "replace")).all()
    assert result.reference["vocabulary_size"] > 0
    again = _tiny_text_run(seed=0)
    np.testing.assert_allclose(result.values("heldout_perplexity", "accumulate"),
                               again.values("heldout_perplexity", "accumulate"))


def test_collapse_command_writes_json_and_page(tmp_path):
    from typer.testing import CliRunner

    from perpetuum.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["collapse", "-k", "3", "-n", "50", "-r", "5", "-s", "replace,mix:0.2",
                                 "-o", str(tmp_path / "lab"), "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "lab" / "results.json").read_text())
    assert data["strategies"] == ["replace", "mix:0.2"] and data["repeats"] == 5
    assert (tmp_path / "lab" / "report.html").is_file()
    for arguments, message in ((["-s", "mix:2"], "mix"), (["-g", "text"], "--corpus"), (["-g", "gan"], "gaussian"),
                               (["-k", "0"], "generations")):
        failed = runner.invoke(app, ["collapse", *arguments, "-o", str(tmp_path / "x"), "-q"])
        assert failed.exit_code == 2 and message in failed.output, failed.output


def test_text_training_budget_is_fixed_steps_or_fixed_epochs():
    from perpetuum.collapse.text_generator import TextGenerator

    assert TextGenerator(steps=50)._settings(1_000_000).steps == 50
    by_epochs = TextGenerator(epochs=2.0, batch=10, window=10)
    assert by_epochs._settings(1_000).steps == 20 and by_epochs._settings(2_000).steps == 40


def test_text_model_early_stopping_on_its_own_validation_share():
    pytest.importorskip("torch")
    from perpetuum.collapse.char_model import CharModel, CharVocabulary, ModelSettings

    documents = [f"the cat sat on mat number {i} and the dog ran home {i % 3}" for i in range(20)]
    vocabulary = CharVocabulary.from_documents(documents)
    settings = ModelSettings(hidden=8, embedding=4, steps=30, batch=4, window=16, validation_share=0.25,
                             eval_every=5, patience=1)
    model = CharModel.train_on(documents, vocabulary, settings, seed=0)
    again = CharModel.train_on(documents, vocabulary, settings, seed=0)
    assert 5 <= model.steps_trained_ <= 30 and math.isfinite(model.validation_loss_)
    assert model.steps_trained_ == again.steps_trained_ and model.validation_loss_ == again.validation_loss_
    assert CharModel.train_on(documents, vocabulary, ModelSettings(hidden=8, embedding=4, steps=3, batch=4, window=16),
                              seed=0).validation_loss_ is None
    with pytest.raises(ParameterError):
        ModelSettings(validation_share=1.0).check()
    with pytest.raises(ParameterError):
        ModelSettings(patience=-1).check()
