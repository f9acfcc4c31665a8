"""Checks for `recipe:tinystories`: the prompt's three words are used, the story keeps to a child's vocabulary, and
its length is in bounds. Each `check_*` function is a `python` validator (`perpetuum.recipes.stories:check_length`)
returning {"passed", "message", ...details}; `vocabulary_compliance` is also usable on any text (the benchmark
compares generated with real stories through it).

The vocabulary is the shipped list in `vocabulary/` (see its SOURCE.md): 1,500 words with part-of-speech tags, the
inflected forms of its content words, and 284 names from real TinyStories.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MAX_WORDS",
    "MIN_COMPLIANCE",
    "MIN_WORDS",
    "Vocabulary",
    "check_length",
    "check_required_words",
    "check_vocabulary",
    "load_vocabulary",
    "story_words",
    "vocabulary_compliance",
    "word_forms",
]

VOCABULARY_FOLDER = Path(__file__).resolve().parent / "vocabulary"
# Real TinyStories stories (5,314 in the shared sample) run from 48 to 837 words; 1 % are under 86 and 1 % over 464.
MIN_WORDS = 50
MAX_WORDS = 500
# Share of word tokens that must be in the vocabulary (with inflections, names, numbers). Real TinyStories stories
# score a median of 0.978 on the 532 stories held out from building the list, and 95 % score at least 0.926.
MIN_COMPLIANCE = 0.9

_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d+")
_CONTRACTIONS = ("n't", "'ll", "'re", "'ve", "'d", "'m", "'s")


@dataclass(frozen=True)
class Vocabulary:
    tags: dict[str, tuple[str, ...]]  # word -> its tags (noun, verb, adjective, adverb, function)
    lemma_of: dict[str, str]  # inflected form -> lemma
    names: frozenset[str]  # lower case

    def knows(self, token: str) -> bool:
        """Whether a lower-case token is a vocabulary word, an inflection of one, or a known name."""
        return token in self.tags or token in self.lemma_of or token in self.names


@functools.lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """The shipped child vocabulary (read once)."""
    tags: dict[str, tuple[str, ...]] = {}
    for line in _rows("child_vocabulary.tsv"):
        word, word_tags, _count = line
        tags[word] = tuple(word_tags.split(","))
    lemma_of = {form: lemma for form, lemma in _rows("inflections.tsv")}
    names = frozenset(
        line.strip().lower()
        for line in (VOCABULARY_FOLDER / "names.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    return Vocabulary(tags, lemma_of, names)


def _rows(file_name: str) -> list[list[str]]:
    lines = (VOCABULARY_FOLDER / file_name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines[1:] if line.strip()]


def story_words(text: str) -> list[tuple[str, bool]]:
    """(token as written, starts a sentence) for every word or number of `text`; curly apostrophes made straight."""
    found = []
    for match in _TOKEN.finditer(text):
        before = text[: match.start()].rstrip(" \t\"'“”‘’(*-")
        found.append((match.group(0).replace("’", "'"), not before or before[-1] in ".!?:\n"))
    return found


def word_forms(word: str) -> set[str]:
    """`word` and its inflections: from the shipped table, plus regular English endings as a fallback for words
    outside it (so a noun, verb or adjective from any list can be checked)."""
    word = word.lower().strip()
    vocabulary = load_vocabulary()
    forms = {word} | {form for form, lemma in vocabulary.lemma_of.items() if lemma == word}
    stem = word[:-1] if word.endswith("e") else word
    forms |= {word + "s", word + "es", stem + "ed", stem + "ing", stem + "er", stem + "est", word + "d"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms |= {word[:-1] + "ies", word[:-1] + "ied", word[:-1] + "ier", word[:-1] + "iest", word[:-1] + "ily"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing", word + word[-1] + "er", word + word[-1] + "est"}
    return forms


def _bare(token: str) -> str:
    """A lower-case token without a possessive or contraction ending ("Lily's" -> "lily", "didn't" -> "did")."""
    lower = token.lower()
    for ending in _CONTRACTIONS:
        if lower.endswith(ending) and len(lower) > len(ending):
            return lower[: -len(ending)]
    return lower


_REGULAR_ENDINGS = (("ies", "y"), ("ied", "y"), ("ier", "y"), ("iest", "y"), ("ily", "y"), ("ing", ""),
                    ("ing", "e"), ("ed", ""), ("ed", "e"), ("es", ""), ("s", ""), ("er", ""), ("er", "e"),
                    ("est", ""), ("est", "e"), ("ly", ""))


def _regular_base_known(token: str, vocabulary: Vocabulary) -> bool:
    """Whether removing a regular ending (-s, -ed, -ing, -er, -est, -ly, doubled consonants) gives a vocabulary word:
    the table lists a word's inflections for its tagged parts of speech only ("sound" is tagged noun, "sounded" is
    still simple)."""
    for ending, replacement in _REGULAR_ENDINGS:
        if token.endswith(ending) and len(token) - len(ending) >= 2:
            base = token[: -len(ending)] + replacement
            if base in vocabulary.tags or (len(base) > 2 and base[-1] == base[-2] and base[:-1] in vocabulary.tags):
                return True
    return False


def vocabulary_compliance(text: str) -> dict:
    """How much of `text` keeps to the child vocabulary.

    Returns {"share": in-vocabulary word tokens / all word tokens (range [0, 1], higher is simpler; NaN for a text
    with no words), "tokens": the number of word tokens, "outside": the 10 most frequent tokens outside it}. A token
    counts as inside when it (case-folded, or without a possessive or contraction ending) is a vocabulary word, an
    inflection of one (from the table, or a regular -s/-ed/-ing/-er/-est/-ly ending on a vocabulary word), a known
    name, a number, or a capitalised word inside a sentence (a name the list lacks).
    """
    vocabulary = load_vocabulary()
    tokens = story_words(text)
    outside: Counter = Counter()
    for token, starts_sentence in tokens:
        lower = token.lower()
        bare = _bare(token)
        if token.isdigit() or vocabulary.knows(lower) or vocabulary.knows(bare) or _regular_base_known(bare, vocabulary):
            continue
        if token[0].isupper() and not starts_sentence:
            continue
        outside[lower] += 1
    count = len(tokens)
    share = 1 - sum(outside.values()) / count if count else float("nan")
    return {"share": share, "tokens": count, "outside": [word for word, _ in outside.most_common(10)]}


def check_vocabulary(story: str) -> dict:
    """Validator: at least MIN_COMPLIANCE of the story's word tokens are in the child vocabulary."""
    result = vocabulary_compliance(story)
    share = result["share"]
    passed = result["tokens"] > 0 and share >= MIN_COMPLIANCE
    shown = ", ".join(result["outside"][:5]) or "none"
    message = f"{share:.1%} of {result['tokens']} words in the vocabulary (need {MIN_COMPLIANCE:.0%}); outside: {shown}"
    return {"passed": passed, "message": message, "share": round(share, 4) if result["tokens"] else None,
            "outside": result["outside"]}


def check_length(story: str) -> dict:
    """Validator: the story has between MIN_WORDS and MAX_WORDS word tokens."""
    count = len(story_words(story))
    passed = MIN_WORDS <= count <= MAX_WORDS
    return {"passed": passed, "message": f"{count} words (bounds {MIN_WORDS}-{MAX_WORDS})", "words": count}


def check_required_words(story: str, record: dict) -> dict:
    """Validator: the record's `noun`, `verb` and `adjective` each occur in the story, in any inflected form
    ("run" is found as runs, ran or running; "happy" as happier)."""
    present = {_bare(token) for token, _ in story_words(story)} | {token.lower() for token, _ in story_words(story)}
    missing = []
    for role in ("noun", "verb", "adjective"):
        word = record.get(role)
        if word and not (word_forms(str(word)) & present):
            missing.append(f"{role} {word!r}")
    if missing:
        # "missing words: ..." groups these failures on the card; the rest tells a model repairing the story what
        # to add.
        named = " or ".join(", ".join(f"the {item}" for item in missing).rsplit(", ", 1))
        each = "each of them" if len(missing) > 1 else "it"
        message = (f"missing words: the story never uses {named}; use {each} at least once (any form counts, e.g. "
                   "plural or past tense)")
        return {"passed": False, "message": message, "missing": missing}
    return {"passed": True, "message": "all three words used", "missing": []}
