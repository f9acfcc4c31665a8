"""Text diversity: distinct-n, vocabulary size and the near-duplicate rate see repetition and variety."""

from __future__ import annotations

import math

import pytest

from perpetuum.evaluate.text_diversity import (
    distinct_n,
    near_duplicate_rate,
    text_diversity,
    vocabulary_size,
    words,
)


def test_words_are_case_folded_and_keep_inner_apostrophes():
    assert words("It's a Dog! Don’t run_away, 3 cats.") == ["it's", "a", "dog", "don't", "run", "away", "3", "cats"]


def test_distinct_n_is_one_when_nothing_repeats():
    assert distinct_n(["the cat sat on a mat"], 1) == 1.0
    assert distinct_n(["the cat sat on a mat"], 2) == 1.0


def test_distinct_n_counts_repeats_over_all_texts():
    # Two identical texts: every bigram occurs twice.
    assert distinct_n(["the cat sat", "the cat sat"], 2) == pytest.approx(0.5)
    # Unigrams: 4 tokens, 3 types ("a", "dog", "cat").
    assert distinct_n(["a dog", "a cat"], 1) == pytest.approx(3 / 4)


def test_distinct_n_never_spans_two_texts():
    # "sat the" would be a bigram if the texts were joined; it is not counted.
    assert distinct_n(["the cat sat", "the dog"], 2) == pytest.approx(3 / 3)


def test_distinct_n_is_nan_without_ngrams_and_rejects_n_below_one():
    assert math.isnan(distinct_n(["one"], 2))
    assert math.isnan(distinct_n([], 1))
    with pytest.raises(ValueError, match="n must be at least 1"):
        distinct_n(["a b"], 0)


def test_repetitive_texts_score_lower_than_varied_ones():
    repetitive = ["Once upon a time there was a little dog. The dog was happy."] * 10
    varied = [
        "Lily found a red ball in the park and gave it to her friend.",
        "Tom wanted to fly like a bird, so he built wings from paper.",
        "The old cat slept in the sun while the kids played outside.",
    ]
    assert distinct_n(repetitive, 2) < distinct_n(varied, 2)


def test_vocabulary_size_counts_case_folded_types_and_min_count():
    texts = ["The dog and the cat.", "A dog!"]
    assert vocabulary_size(texts) == 5  # the, dog, and, cat, a
    assert vocabulary_size(texts, min_count=2) == 2  # the, dog
    assert vocabulary_size([]) == 0


def test_near_duplicate_rate_counts_copies_after_the_first():
    story = "Once upon a time there was a little girl named Lily who loved to play in the big green park."
    assert near_duplicate_rate([story, story, story]) == pytest.approx(2 / 3)


def test_near_duplicate_rate_catches_a_one_word_edit_and_ignores_different_texts():
    story = (
        "Once upon a time there was a little girl named Lily. She loved to play in the big green park with "
        "her dog Max. One day they found a shiny red ball under a tree and played until the sun went down."
    )
    edited = story.replace("shiny", "bright")
    other = "Tom had a toy car. It was blue and fast. He raced it down the hill and laughed with his mom."
    assert near_duplicate_rate([story, edited], threshold=0.7) == pytest.approx(0.5)
    assert near_duplicate_rate([story, other]) == 0.0


def test_near_duplicate_rate_threshold_is_checked_and_empty_is_nan():
    assert math.isnan(near_duplicate_rate([]))
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_rate(["a"], threshold=0.0)


def test_text_diversity_collects_every_measure():
    result = text_diversity(["The cat sat.", "The dog ran far."])
    assert result["texts"] == 2
    assert result["words"] == 7
    assert result["mean_words"] == pytest.approx(3.5)
    assert result["vocabulary_size"] == 6
    assert result["near_duplicate_rate"] == 0.0
    assert set(result) >= {"distinct_1", "distinct_2", "distinct_3"}


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
def test_the_dedup_filter_and_the_near_duplicate_rate_judge_the_same_texts_alike(threshold):
    from perpetuum.pipeline.filters import deduplicate
    from perpetuum.pipeline.spec import DedupConfig

    story = "Once upon a time a little fox found a red ball in the tall grass and it's very happy now"
    texts = [
        story,
        story.replace("red", "blue"),  # one word changed
        story.replace("it's", "it s"),  # a tokenizer difference the two detectors once disagreed on
        "A quiet owl watched the moon rise over the old barn while the farmer slept",
        story.upper() + "!!",
    ]
    rate = near_duplicate_rate(texts, threshold=threshold)
    config = DedupConfig(columns=["text"], exact=False, threshold=min(threshold, 0.95))
    kept, dropped = deduplicate([(index, {"text": text}) for index, text in enumerate(texts)], config)
    # Every text here copies the first one or none, so the filter drops exactly the texts the metric counts.
    assert len(dropped) == round(rate * len(texts))
    assert all("similar to record 0" in item.detail for item in dropped)
