"""Columns that are generated rather than learned.

Personal identifiers (a schema column with `pii`) are replaced by fresh fakes (`perpetuum.privacy.pii.PiiReplacer`).

Identifiers are keys: learning them would copy real keys, so fresh unique ones are made in the same shape.
Free text is generated word by word from a first-order Markov chain of the column's words, so the vocabulary and
local phrasing survive while whole real texts (which may hold personal details) are not copied.
"""

from __future__ import annotations

import string
from collections import defaultdict

import numpy as np
import pandas as pd

from perpetuum.errors import ParameterError
from perpetuum.privacy.pii import PiiReplacer, scrub_texts
from perpetuum.schema import ColumnSpec

_LETTERS = np.array(list(string.ascii_uppercase))
_LOWER = np.array(list(string.ascii_lowercase))
_DIGITS = np.array(list(string.digits))
_HEX = np.array(list("0123456789abcdef"))


class IdentifierGenerator:
    """Fresh unique keys: integers above the real ones, or strings in the real keys' character pattern."""

    def fit(self, column: pd.Series, spec: ColumnSpec) -> "IdentifierGenerator":
        values = column.dropna()
        self.numeric_ = bool(pd.api.types.is_numeric_dtype(values))
        self.start_ = int(values.max()) + 1 if self.numeric_ else 0
        self.pattern_ = spec.identifier_pattern or _pattern_of(values.astype(str))
        self.lowercase_ = bool(values.astype(str).str.contains("[a-z]").any()) if not self.numeric_ else False
        self.fixed_ = _fixed_characters(values.astype(str)) if self.pattern_ is not None else None
        return self

    def generate(self, n: int, rng: np.random.Generator) -> pd.Series:
        if self.numeric_:
            return pd.Series(np.arange(self.start_, self.start_ + n, dtype=np.int64))
        if self.pattern_ is None:
            return pd.Series([f"id-{index:08d}" for index in range(n)], dtype=object)
        letters = _LOWER if self.lowercase_ else _LETTERS
        capacity = np.prod([{"A": 26, "9": 10, "X": 16}.get(char, 1) if fixed is None else 1
                            for char, fixed in zip(self.pattern_, self.fixed_)], dtype=float)
        if capacity < 2 * n:
            raise ParameterError(
                f"the identifier pattern {self.pattern_!r} allows only {capacity:.0f} distinct keys, too few for "
                f"{n} unique rows; sample fewer rows or set the column's kind to 'categorical'"
            )
        made: list[str] = []
        seen: set[str] = set()
        while len(made) < n:
            batch = _fill_pattern(self.pattern_, self.fixed_, 2 * (n - len(made)) + 8, rng, letters)
            for key in batch:
                if key not in seen:
                    seen.add(key)
                    made.append(key)
                    if len(made) == n:
                        break
        return pd.Series(made, dtype=object)

    def to_state(self) -> dict:
        return {"type": "identifier", "numeric": self.numeric_, "start": self.start_, "pattern": self.pattern_,
                "lowercase": self.lowercase_, "fixed": self.fixed_}

    @classmethod
    def from_state(cls, state: dict) -> "IdentifierGenerator":
        generator = cls()
        generator.numeric_, generator.start_ = state["numeric"], state["start"]
        generator.pattern_, generator.lowercase_ = state["pattern"], state["lowercase"]
        generator.fixed_ = state["fixed"]
        return generator


def _pattern_of(values: pd.Series) -> str | None:
    """'A' for each letter and '9' for each digit when all keys share one template, else None.

    (Inferred schemas may also use 'X' for positions mixing letters and digits; `_fill_pattern` honours it.)"""
    templates = values.str.replace(r"[A-Za-z]", "A", regex=True).str.replace(r"[0-9]", "9", regex=True).unique()
    return str(templates[0]) if len(templates) == 1 else None


def _fixed_characters(values: pd.Series) -> list[str | None]:
    """Per position, the character every key has there (a prefix such as 'C-'), or None where keys differ."""
    width = int(values.str.len().max())
    padded = values.str.pad(width, side="right")
    return [chars[0] if len(chars := padded.str[position].unique()) == 1 else None for position in range(width)]


def _fill_pattern(pattern: str, fixed: list, count: int, rng: np.random.Generator, letters: np.ndarray) -> list[str]:
    columns = []
    for char, constant in zip(pattern, fixed):
        if constant is not None:
            columns.append(np.full(count, constant))
        elif char == "A":
            columns.append(letters[rng.integers(0, len(letters), count)])
        elif char == "9":
            columns.append(_DIGITS[rng.integers(0, 10, count)])
        elif char == "X":  # a position holding letters or digits (uuid-like keys): hexadecimal characters
            hex_chars = _HEX if letters is _LOWER else np.char.upper(_HEX)
            columns.append(hex_chars[rng.integers(0, 16, count)])
        else:
            columns.append(np.full(count, char))
    return ["".join(parts) for parts in zip(*columns)]


_START, _END = "\x02", "\x03"


class TextGenerator:
    """First-order word Markov chain fitted on a text column, plus its missing-value rate. With `scrub`, every
    identifier span in the texts (e-mails, phones, names, ...; `perpetuum.privacy.pii.scrub_texts`) is replaced by a
    fake before the chain learns the words; `known_names` are the table's own names to look for."""

    def fit(self, column: pd.Series, scrub: bool = False, known_names: frozenset[str] = frozenset()) -> "TextGenerator":
        self.replaced_spans_: dict[str, int] = {}
        if scrub:
            column, self.replaced_spans_ = scrub_texts(column, known_names=known_names)
        texts = column.dropna().astype(str)
        self.missing_rate_ = float(column.isna().mean())
        transitions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for text in texts:
            words = [_START, *text.split(), _END]
            for current, following in zip(words, words[1:]):
                transitions[current][following] += 1
        self.transitions_ = {word: dict(nexts) for word, nexts in transitions.items()}
        self.max_words_ = int(max((len(text.split()) for text in texts), default=1))
        return self

    def generate(self, n: int, rng: np.random.Generator) -> pd.Series:
        tables = {
            word: (list(nexts), np.cumsum(list(nexts.values()), dtype=float))
            for word, nexts in self.transitions_.items()
        }
        texts: list[str | None] = []
        for _ in range(n):
            if rng.random() < self.missing_rate_:
                texts.append(None)
                continue
            words, current = [], _START
            while len(words) < self.max_words_:
                choices, cumulative = tables[current]
                current = choices[int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))]
                if current == _END:
                    break
                words.append(current)
            texts.append(" ".join(words))
        return pd.Series(texts, dtype=object)

    def to_state(self) -> dict:
        return {"type": "text", "missing_rate": self.missing_rate_, "max_words": self.max_words_,
                "transitions": self.transitions_, "replaced_spans": self.replaced_spans_}

    @classmethod
    def from_state(cls, state: dict) -> "TextGenerator":
        generator = cls()
        generator.missing_rate_, generator.max_words_ = state["missing_rate"], state["max_words"]
        generator.transitions_ = state["transitions"]
        generator.replaced_spans_ = state.get("replaced_spans", {})
        return generator


def generator_from_state(state: dict) -> IdentifierGenerator | TextGenerator | PiiReplacer:
    kinds = {"identifier": IdentifierGenerator, "text": TextGenerator, "pii": PiiReplacer}
    return kinds[state["type"]].from_state(state)
