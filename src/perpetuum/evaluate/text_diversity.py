"""Text diversity: how varied a set of generated texts is, measured on its word tokens.

A generator that collapses repeats itself: the same phrases (low distinct-n), a shrinking vocabulary, and texts
that are near copies of each other. Every function takes a sequence of strings and tokenises them the same way
(`words`: case-folded runs of letters and digits, an inner apostrophe kept, so "Don't" is one token "don't").
All run in well under a second for a few thousand short texts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["distinct_n", "near_duplicate_rate", "text_diversity", "vocabulary_size", "words"]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    """The word tokens of `text`, case-folded, in order ("It's a dog!" -> ["it's", "a", "dog"])."""
    return [token.replace("’", "'") for token in _WORD.findall(text.casefold())]


def _ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct-n (Li et al., 2016): the number of different word n-grams divided by the number of n-grams.

    Range [0, 1], higher is more diverse (1: no n-gram occurs twice; near 0: the same phrases over and over).
    N-grams are counted over all texts together and never span two texts. NaN when the texts hold no n-gram
    (every text shorter than n words). Note that the value falls as the corpus grows, so compare sets of similar
    size and length.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    total = 0
    seen: set[tuple[str, ...]] = set()
    for text in texts:
        grams = list(_ngrams(words(text), n))
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else math.nan


def vocabulary_size(texts: Sequence[str], min_count: int = 1) -> int:
    """The number of different word types (case-folded) that occur at least `min_count` times in all texts.

    Range 0 upwards; higher is a richer vocabulary. Like distinct-n it grows with the amount of text, so compare
    sets of similar size; `min_count=2` ignores one-off types (typos, invented names).
    """
    counts = Counter(token for text in texts for token in words(text))
    return sum(1 for count in counts.values() if count >= min_count)


def _shingles(text: str, size: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) <= size:
        return {tuple(tokens)}
    return set(_ngrams(tokens, size))


def near_duplicate_rate(texts: Sequence[str], threshold: float = 0.8, shingle_size: int = 3) -> float:
    """The share of texts that are a near copy of an earlier text in the sequence.

    Range [0, 1], lower is better (0: no two texts are near copies). Two texts are near copies when the Jaccard
    similarity of their sets of word `shingle_size`-grams is at least `threshold` (exact copies have 1.0). The
    first text of a group of copies is not counted, so n identical texts give (n - 1) / n. Candidate pairs come
    from MinHash LSH (`datasketch`) and each is confirmed with the exact Jaccard similarity, so the result has no
    false positives; LSH may miss a rare pair just above the threshold. NaN for an empty sequence.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not texts:
        return math.nan
    from datasketch import MinHash, MinHashLSH

    # A lower LSH threshold than the one asked for makes missed pairs rarer; exact Jaccard filters the extras.
    lsh = MinHashLSH(threshold=max(0.05, threshold - 0.15), num_perm=128)
    shingle_sets: list[set[tuple[str, ...]]] = []
    duplicates = 0
    for index, text in enumerate(texts):
        shingles = _shingles(text, shingle_size)
        signature = MinHash(num_perm=128, seed=1)
        for shingle in shingles:
            signature.update(" ".join(shingle).encode("utf-8"))
        if any(_jaccard(shingles, shingle_sets[int(key)]) >= threshold for key in lsh.query(signature)):
            duplicates += 1
        lsh.insert(str(index), signature)
        shingle_sets.append(shingles)
    return duplicates / len(texts)


def _jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def text_diversity(texts: Sequence[str], near_duplicate_threshold: float = 0.8) -> dict:
    """All the measures above for one set of texts, as one JSON-ready dict:
    {"texts", "words", "mean_words", "distinct_1", "distinct_2", "distinct_3", "vocabulary_size",
    "near_duplicate_rate"} (NaN where a measure has nothing to count)."""
    counts = [len(words(text)) for text in texts]
    return {
        "texts": len(texts),
        "words": sum(counts),
        "mean_words": sum(counts) / len(counts) if counts else math.nan,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
        "vocabulary_size": vocabulary_size(texts),
        "near_duplicate_rate": near_duplicate_rate(texts, threshold=near_duplicate_threshold),
    }
