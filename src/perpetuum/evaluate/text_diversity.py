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

__all__ = ["NearDuplicateIndex", "distinct_n", "near_duplicate_rate", "text_diversity", "vocabulary_size", "words"]

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


class NearDuplicateIndex:
    """Texts seen so far, to find the earlier text a new one nearly copies: the one near-duplicate detector behind
    the `near_duplicate_rate` metric and the pipeline's dedup filter, so both judge the same texts alike.

    Two texts are near copies when the Jaccard similarity of their sets of word `shingle_size`-grams (tokens as
    `words` gives them) is at least `threshold`; exact copies have 1.0. Candidates come from MinHash LSH
    (`datasketch`) at a lower threshold than the one asked for, which makes missed pairs rare, and each is
    confirmed with the exact Jaccard similarity, so a match is never a false positive.

        index = NearDuplicateIndex(threshold=0.8)
        index.add(0, "the fox ran home"); index.closest("The fox ran home!")   # (0, 1.0)
    """

    def __init__(self, threshold: float = 0.8, shingle_size: int = 3, num_perm: int = 128) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        from datasketch import MinHashLSH

        self.threshold, self.shingle_size, self.num_perm = threshold, shingle_size, num_perm
        self._lsh = MinHashLSH(threshold=max(0.05, threshold - 0.15), num_perm=num_perm)
        self._keys: list = []
        self._shingle_sets: list[set[tuple[str, ...]]] = []
        self._prepared: tuple[str, set, object] | None = None  # the last text looked up, so `add` need not redo it

    def closest(self, text: str) -> tuple[object, float] | None:
        """(key, similarity) of the most similar earlier text at or above the threshold (the earliest of equals),
        or None."""
        shingles, signature = self._prepare(text)
        best = None
        for position in sorted(int(candidate) for candidate in self._lsh.query(signature)):
            similarity = _jaccard(shingles, self._shingle_sets[position])
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (self._keys[position], similarity)
        return best

    def add(self, key, text: str) -> None:
        """Index `text` under `key` (a record index, say), for later texts to be compared with."""
        shingles, signature = self._prepare(text)
        self._lsh.insert(str(len(self._keys)), signature)
        self._keys.append(key)
        self._shingle_sets.append(shingles)

    def _prepare(self, text: str) -> tuple[set, object]:
        if self._prepared is None or self._prepared[0] != text:
            from datasketch import MinHash

            shingles = _shingles(text, self.shingle_size)
            signature = MinHash(num_perm=self.num_perm, seed=1)
            for shingle in shingles:
                signature.update(" ".join(shingle).encode("utf-8"))
            self._prepared = (text, shingles, signature)
        return self._prepared[1], self._prepared[2]


def near_duplicate_rate(texts: Sequence[str], threshold: float = 0.8, shingle_size: int = 3) -> float:
    """The share of texts that are a near copy of an earlier text in the sequence (`NearDuplicateIndex`).

    Range [0, 1], lower is better (0: no two texts are near copies). The first text of a group of copies is not
    counted, so n identical texts give (n - 1) / n; a near copy is still compared with the texts after it. NaN
    for an empty sequence.
    """
    index = NearDuplicateIndex(threshold, shingle_size)
    if not texts:
        return math.nan
    duplicates = 0
    for position, text in enumerate(texts):
        if index.closest(text) is not None:
            duplicates += 1
        index.add(position, text)
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
