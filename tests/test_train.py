"""perpetuum.train: the tiny transformer LM, its tokenizer, and the one training loop shared with the collapse lab."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from perpetuum.errors import DataInputError, ParameterError  # noqa: E402
from perpetuum.schema.corpus import read_corpus  # noqa: E402
from perpetuum.train import TinyLM, Tokenizer  # noqa: E402

STORIES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tinystories" / "stories.txt.gz"
TINY = dict(d_model=32, layers=1, heads=2, context=32, batch=8, learning_rate=3e-3, warmup=0, threads=1)


@pytest.fixture(scope="module")
def stories():
    if not STORIES.is_file():
        pytest.skip("the shared TinyStories corpus is not available")
    torch.set_num_threads(1)
    documents = read_corpus(STORIES, limit=140)
    return documents[:100], documents[100:120], documents[120:140]  # train, validation, held out


@pytest.fixture(scope="module")
def tokenizer(stories):
    return Tokenizer.train(stories[0], vocabulary_size=512)


def test_training_lowers_validation_and_heldout_perplexity_with_a_fixed_seed(stories, tokenizer):
    train, validation, heldout = stories
    model = TinyLM(**TINY, steps=60, eval_every=20, seed=0).fit(train, validation=validation, tokenizer=tokenizer)
    losses = [row["validation_loss"] for row in model.curve_]
    assert len(losses) == 3 and losses[-1] < losses[0]
    # An untrained model is near uniform over the 512 tokens; 60 steps on real stories must be far below that.
    assert model.perplexity(heldout) < 0.5 * len(tokenizer)
    again = TinyLM(**TINY, steps=60, eval_every=20, seed=0).fit(train, validation=validation, tokenizer=tokenizer)
    assert again.perplexity(heldout) == model.perplexity(heldout)


def test_the_given_tokenizer_is_used_and_knows_only_the_real_side(stories, tokenizer):
    train, validation, _ = stories
    model = TinyLM(**TINY, steps=2, seed=0).fit(["zorblax quuxified " * 20] * 10, tokenizer=tokenizer)
    assert model.tokenizer_ is tokenizer
    # A word that only the synthetic side uses is no single token of a tokenizer trained on the real side.
    assert len(tokenizer.encode(" zorblax")) > 2
    assert len(Tokenizer.train(["zorblax quuxified " * 20] * 10, 300).encode(" zorblax")) <= 2


def test_early_stopping_on_the_validation_split_restores_the_best_weights(stories, tokenizer):
    train, validation, _ = stories
    settings = dict(TINY, learning_rate=1e-2, steps=400, eval_every=10, patience=2, validation_windows=10**6, seed=0)
    model = TinyLM(**settings).fit(train[:3], validation=validation, tokenizer=tokenizer)  # three stories: overfits
    record = model.record_
    assert record.stopped_early and record.steps_trained < 400
    assert record.best_step < record.steps_trained
    # The restored weights are the best measured ones (every validation window is measured here).
    assert math.isclose(model.loss(validation), record.best_validation_loss, rel_tol=1e-5)
    assert record.best_validation_loss == min(row["validation_loss"] for row in model.curve_)


def test_budget_fixes_the_tokens_seen_whatever_the_corpus_size(stories, tokenizer):
    train, validation, _ = stories
    small = TinyLM(**TINY, steps=12, eval_every=6, patience=0, seed=1).fit(train[:20], validation=validation,
                                                                           tokenizer=tokenizer)
    large = TinyLM(**TINY, steps=12, eval_every=6, patience=0, seed=1).fit(train, validation=validation,
                                                                           tokenizer=tokenizer)
    assert small.tokens_seen_ == large.tokens_seen_ == small.budget().max_tokens == 12 * 8 * 32
    assert small.training_tokens_ < large.training_tokens_


def test_cached_sampling_matches_the_full_forward_pass(stories, tokenizer):
    model = TinyLM(**TINY, steps=5, seed=0).fit(stories[0], tokenizer=tokenizer)
    ids = torch.from_numpy(tokenizer.encode_documents([stories[1][0]])[:20])[None]
    with torch.no_grad():
        full = model.network_(ids)
        logits, cache = model.network_.step(ids[:, :10])
        steps = [logits[:, -1]]
        for position in range(10, 20):
            logits, cache = model.network_.step(ids[:, position:position + 1], cache)
            steps.append(logits[:, -1])
    np.testing.assert_allclose(torch.stack(steps[:-1], dim=1).numpy(), full[:, 9:19].numpy(), atol=1e-4)


def test_samples_are_seeded_continue_their_prompt_and_survive_save_and_load(stories, tokenizer, tmp_path):
    _, _, heldout = stories
    model = TinyLM(**TINY, steps=20, seed=0).fit(stories[0], tokenizer=tokenizer)
    prompts = ["Once upon a time, there was a red ball."]
    first = model.sample(3, seed=4, prompts=prompts)
    assert first == model.sample(3, seed=4, prompts=prompts) and all(text.startswith(prompts[0]) for text in first)
    loaded = TinyLM.load(model.save(tmp_path / "model.pt"))
    assert loaded.perplexity(heldout) == pytest.approx(model.perplexity(heldout))
    assert loaded.sample(3, seed=4, prompts=prompts) == first
    assert model.n_parameters_ == loaded.n_parameters_ > 0


def test_parameters_are_checked_at_fit_with_clear_messages(stories, tokenizer):
    with pytest.raises(ParameterError, match="multiple of heads"):
        TinyLM(d_model=30, heads=4).fit(stories[0], tokenizer=tokenizer)
    with pytest.raises(ParameterError, match="steps"):
        TinyLM(steps=0).fit(stories[0], tokenizer=tokenizer)
    with pytest.raises(DataInputError, match="empty"):
        TinyLM(**TINY).fit(["", "  "], tokenizer=tokenizer)
    with pytest.raises(ParameterError, match="not fitted"):
        TinyLM().perplexity(["a story"])


def test_the_collapse_lab_trains_through_the_same_loop():
    import perpetuum.collapse.char_model as char_model
    import perpetuum.train as train
    from perpetuum.collapse.char_model import CharModel, CharVocabulary, ModelSettings

    assert char_model.train_network is train.train_network
    documents = [f"the cat sat on mat number {i} and the dog ran home {i % 3}" for i in range(20)]
    settings = ModelSettings(hidden=8, embedding=4, steps=10, batch=4, window=16, validation_share=0.25, eval_every=5)
    model = CharModel.train_on(documents, CharVocabulary.from_documents(documents), settings, seed=0)
    # The shared loop's learning curve: tokens seen are steps x batch x window, as for TinyLM.
    assert [row["tokens"] for row in model.curve_] == [5 * 4 * 16, 10 * 4 * 16]
