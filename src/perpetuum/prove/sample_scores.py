"""Scores of a model's own stories, with the checks `recipe:tinystories` applies to generated stories
(`perpetuum.recipes.stories`) and the diversity metric of the evaluation report (`distinct_n`).

    prompts = story_prompts(40, seed=0)       # [{"noun", "verb", "adjective", "prompt"}]: the recipe's opening
    score_samples(samples, prompts)           # {"required_words_continued", "vocabulary_share", ...}

Every model is prompted with the recipe's own first sentence ("Once upon a time, there was a happy dog who wanted
to run.") for seeded word triples drawn from the recipe's word lists. The required-word rate is measured on what the
model wrote *after* the prompt (the prompt already holds the words): the share of stories that use all three words
again, any inflection, as the recipe's `words_used` check counts them. A model that keeps to its subject scores
high; one that drifts into unrelated text scores low.
"""

from __future__ import annotations

import math

import numpy as np

from perpetuum.evaluate.text_diversity import distinct_n
from perpetuum.recipes.stories import (
    VOCABULARY_FOLDER,
    check_length,
    check_required_words,
    check_vocabulary,
    vocabulary_compliance,
)

__all__ = ["story_prompts", "score_samples", "score_texts", "SAMPLE_METRICS"]

SAMPLE_METRICS = {
    "required_words_continued": "share of samples that use the prompt's noun, verb and adjective again after it",
    "vocabulary_share": "mean share of a sample's words in the recipe's child vocabulary",
    "vocabulary_pass_rate": "share of samples passing the recipe's vocabulary check (at least 90 % of words)",
    "length_pass_rate": "share of samples within the recipe's 50-500 words",
    "distinct_1": "distinct words / words over all samples",
    "distinct_2": "distinct word pairs / word pairs over all samples",
}


def _words(file_name: str) -> list[str]:
    return [line.strip() for line in (VOCABULARY_FOLDER / file_name).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def story_prompts(n: int, seed: int) -> list[dict]:
    """`n` seeded (noun, verb, adjective) triples from the recipe's word lists and the recipe's opening sentence."""
    rng = np.random.default_rng(seed)
    nouns, verbs, adjectives = _words("nouns.txt"), _words("verbs.txt"), _words("adjectives.txt")
    prompts = []
    for _ in range(n):
        noun, verb, adjective = (str(rng.choice(words)) for words in (nouns, verbs, adjectives))
        article = "an" if adjective[:1] in "aeio" else "a"
        prompt = f"Once upon a time, there was {article} {adjective} {noun} who wanted to {verb}."
        prompts.append({"noun": noun, "verb": verb, "adjective": adjective, "prompt": prompt})
    return prompts


def score_texts(texts: list[str]) -> dict:
    """The prompt-free scores of any texts (for the real and synthetic corpora, as references)."""
    shares = [vocabulary_compliance(text)["share"] for text in texts]
    shares = [share for share in shares if not math.isnan(share)]
    return {
        "vocabulary_share": float(np.mean(shares)) if shares else math.nan,
        "vocabulary_pass_rate": float(np.mean([check_vocabulary(text)["passed"] for text in texts])),
        "length_pass_rate": float(np.mean([check_length(text)["passed"] for text in texts])),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
    }


def score_samples(samples: list[str], prompts: list[dict]) -> dict:
    """Scores of samples made from `prompts` (sample i from prompt i)."""
    continued = []
    for sample, prompt in zip(samples, prompts):
        continuation = sample[len(prompt["prompt"]):] if sample.startswith(prompt["prompt"]) else sample
        continued.append(check_required_words(continuation, prompt)["passed"])
    return {"required_words_continued": float(np.mean(continued)), **score_texts(samples)}
