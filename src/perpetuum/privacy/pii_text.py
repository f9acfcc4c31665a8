"""Identifiers inside free text: find their spans, and replace each with a fake of its kind before a text model
learns the column.

Spans found: e-mail addresses, IBANs (mod-97 checked), card numbers (Luhn checked), US social-security numbers,
IPv4 addresses, phone numbers, and person names: a capitalised word after a title (Mr, Mrs, Dr, ...), a name that
the table's own name columns hold (`known_names`), or a capitalised word in Faker's name lists that is not a common
English word ("May", "Will" and "Rose" stay).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perpetuum.privacy import pii_patterns as patterns
from perpetuum.privacy.pii_kinds import PiiKind
from perpetuum.privacy.pii_values import ValueProfile, make_fakes

_WORD = re.compile(r"\b[A-Z][a-zà-ÿ'’\-]+\b")


@dataclass(frozen=True)
class Span:
    kind: PiiKind
    start: int
    end: int


def find_spans(text: str, known_names: frozenset[str] = frozenset(), dictionary_names: bool = False) -> list[Span]:
    """The identifier spans in `text`, left to right, never overlapping. `known_names` (lower case) and
    `dictionary_names` add person names found as single words (see the module docstring)."""
    candidates: list[Span] = []
    for kind, pattern, check in (
        (PiiKind.EMAIL, patterns.EMAIL_SPAN, None),
        (PiiKind.IBAN, patterns.IBAN_SPAN, patterns.iban_valid),
        (PiiKind.CARD_NUMBER, patterns.CARD_SPAN, patterns.is_card_number),
        (PiiKind.NATIONAL_ID, patterns.SSN_SPAN, None),
        (PiiKind.IP_ADDRESS, patterns.IPV4_SPAN, None),
        (PiiKind.PHONE, patterns.PHONE_SPAN, lambda value: 7 <= len(patterns.digits_of(value)) <= 15),
    ):
        for match in pattern.finditer(text):
            if check is None or check(match.group(0)):
                candidates.append(Span(kind, match.start(), match.end()))
    for match in patterns.HONORIFIC_NAME_SPAN.finditer(text):
        kind = PiiKind.FULL_NAME if " " in match.group(1) else PiiKind.FAMILY_NAME
        candidates.append(Span(kind, match.start(1), match.end(1)))
    if known_names or dictionary_names:
        given, family = patterns.all_names() if dictionary_names else (frozenset(), frozenset())
        common = patterns.common_words()
        for match in _WORD.finditer(text):
            word = match.group(0).casefold()
            if word in known_names or ((word in given or word in family) and word not in common):
                candidates.append(Span(PiiKind.FAMILY_NAME if word in family else PiiKind.GIVEN_NAME,
                                       match.start(), match.end()))
    return _without_overlaps(candidates)


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """Earlier spans first; of overlapping ones the longer wins (an IBAN over the phone number inside it)."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda span: (span.start, -(span.end - span.start))):
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def scrub_texts(texts: pd.Series, *, locale: str = patterns.DEFAULT_LOCALE, known_names: frozenset[str] = frozenset(),
                seed: int = 0) -> tuple[pd.Series, dict[str, int]]:
    """(`texts` with every identifier span replaced by a fake of its kind, spans replaced per kind). Missing values
    stay missing. A fake for a phone number or a card keeps the real span's layout (digits and separators)."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    out = []
    for text in texts:
        if text is None or (not isinstance(text, str) and pd.isna(text)):
            out.append(text)
            continue
        text = str(text)
        pieces, position = [], 0
        for span in find_spans(text, known_names, dictionary_names=True):
            pieces.append(text[position:span.start])
            pieces.append(_fake_like(text[span.start:span.end], span.kind, locale, rng))
            counts[span.kind.value] = counts.get(span.kind.value, 0) + 1
            position = span.end
        pieces.append(text[position:])
        out.append("".join(pieces))
    return pd.Series(out, index=texts.index, dtype=object, name=texts.name), counts


def _fake_like(real: str, kind: PiiKind, locale: str, rng: np.random.Generator) -> str:
    profile = ValueProfile.of_value(real, kind, locale)
    for _ in range(20):
        fake = str(make_fakes(profile, 1, rng)[0])
        if fake.casefold() != real.casefold():
            return fake
    raise AssertionError(f"no fake {kind.label} differs from the span it replaces")
