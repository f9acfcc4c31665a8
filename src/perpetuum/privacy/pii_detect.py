"""Find personal-identifier columns from their names and their values together.

A value format that carries its own proof (an e-mail address, an IP address, an IBAN whose mod-97 check holds, a
card number whose Luhn check holds, a US social-security or UK national-insurance number) decides alone when at
least `STRONG_SHARE` of the sampled values have it. Formats that ordinary data also takes (phone-like digit groups,
postcodes, dates, capitalised words) decide only together with a column name that says what they are, and then
`HINTED_SHARE` of the values must fit. Person names without a hint need `NAME_SHARE` of values found in the name
lists of Faker's locales and many distinct values. Free text is personal when its spans hold any of the above.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.privacy import pii_patterns as patterns
from perpetuum.privacy.pii_kinds import PiiKind, PiiSpec
from perpetuum.privacy.pii_text import find_spans

SAMPLE_SIZE = 500
STRONG_SHARE = 0.9
HINTED_SHARE = 0.8
NAME_SHARE = 0.6
MIN_NAME_VALUES = 20  # fewer distinct values than this are categories (a handful of staff names), not people
TEXT_SPAN_SHARE = 0.01  # free text is personal when at least this share of its values holds a span

_VALUE_TESTS = {
    PiiKind.EMAIL: lambda value: bool(patterns.EMAIL.match(value.strip())),
    PiiKind.IP_ADDRESS: patterns.is_ip_address,
    PiiKind.IBAN: patterns.iban_valid,
    PiiKind.CARD_NUMBER: patterns.is_card_number,
    PiiKind.NATIONAL_ID: patterns.is_national_id,
    PiiKind.PHONE: patterns.is_phone,
    PiiKind.STREET_ADDRESS: patterns.is_street_address,
    PiiKind.POSTCODE: patterns.is_postcode,
}
# Formats that prove themselves, in the order they are tried without a name hint.
_SELF_PROVING = (PiiKind.EMAIL, PiiKind.IBAN, PiiKind.CARD_NUMBER, PiiKind.IP_ADDRESS, PiiKind.NATIONAL_ID)


def detect_pii(column: pd.Series, *, free_text: bool | None = None) -> PiiSpec | None:
    """The personal-identifier verdict for one column (its name is `column.name`), with the evidence; None when
    nothing personal was found. `free_text`: whether the column is free text (inferred when None)."""
    name = str(column.name)
    present = column.dropna()
    if present.empty or pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_float_dtype(column.dtype):
        return None
    hint = patterns.hinted_kind(name)
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or hint == PiiKind.DATE_OF_BIRTH:
        return _date_of_birth(column, present, hint)
    values = _sample_text(present)
    distinct = int(present.nunique())
    if hint is not None:  # before free text: an address column reads as text too
        verdict = _hinted(name, hint, values, distinct)
        if verdict is not None:
            return verdict
    if free_text is None:
        free_text = distinct > 0.5 * len(present) and float(values.str.split().str.len().median()) >= 4
    if free_text:
        return _free_text(values)
    for kind in _SELF_PROVING:
        share = _share(values, kind)
        if share >= STRONG_SHARE:
            return PiiSpec(kind=kind, evidence=f"{share:.0%} of values are {_format_name(kind)}",
                           locale=patterns.value_locale(kind, values.tolist()))
    return _unhinted_names(values, distinct)


def _hinted(name: str, hint: PiiKind, values: pd.Series, distinct: int) -> PiiSpec | None:
    said = f"name {name!r} says {hint.label}"
    if hint in (PiiKind.GIVEN_NAME, PiiKind.FAMILY_NAME, PiiKind.FULL_NAME):
        shaped = float(values.map(patterns.looks_like_name).mean())
        if shaped < HINTED_SHARE or distinct < MIN_NAME_VALUES:
            return None
        known = _known_name_share(values, hint)
        return PiiSpec(kind=hint, evidence=f"{said}; {shaped:.0%} of values are shaped like names, {known:.0%} are "
                                           f"in Faker's name lists; {distinct:,} distinct",
                       locale=patterns.value_locale(hint, values.tolist()))
    share = _share(values, hint)
    if share < HINTED_SHARE:
        return None
    return PiiSpec(kind=hint, evidence=f"{said}; {share:.0%} of values are {_format_name(hint)}",
                   locale=patterns.value_locale(hint, values.tolist()))


def _unhinted_names(values: pd.Series, distinct: int) -> PiiSpec | None:
    if distinct < MIN_NAME_VALUES or values.map(patterns.looks_like_name).mean() < HINTED_SHARE:
        return None
    tokens = values.str.replace(",", " ").str.split()
    single = float((tokens.str.len() == 1).mean())
    kind = PiiKind.FULL_NAME if single < 0.5 else None
    if kind is None:
        given_share = _known_name_share(values, PiiKind.GIVEN_NAME)
        family_share = _known_name_share(values, PiiKind.FAMILY_NAME)
        kind = PiiKind.GIVEN_NAME if given_share >= family_share else PiiKind.FAMILY_NAME
    share = _known_name_share(values, kind)
    if share < NAME_SHARE:
        return None
    return PiiSpec(kind=kind, evidence=f"{share:.0%} of values are {kind.label}s in Faker's name lists; "
                                       f"{distinct:,} distinct", locale=patterns.name_locale(values.tolist()))


def _known_name_share(values: pd.Series, kind: PiiKind) -> float:
    given, family = patterns.all_names()

    def known(value: str) -> bool:
        tokens = [token.strip(".").lower() for token in value.replace(",", " ").split()]
        if kind == PiiKind.GIVEN_NAME:
            return bool(tokens) and tokens[0] in given
        if kind == PiiKind.FAMILY_NAME:
            return bool(tokens) and tokens[-1] in family
        return len(tokens) >= 2 and any(token in given for token in tokens) and any(t in family for t in tokens)

    return float(values.map(known).mean())


def _date_of_birth(column: pd.Series, present: pd.Series, hint: PiiKind | None) -> PiiSpec | None:
    if hint != PiiKind.DATE_OF_BIRTH:
        return None
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        dates, share = present, 1.0
    else:
        sample = _sample_text(present)
        dates = pd.to_datetime(sample, errors="coerce", format="mixed")
        share = float(dates.notna().mean())
        dates = dates.dropna()
    if share < HINTED_SHARE or dates.empty:
        return None
    years = pd.DatetimeIndex(dates).year
    if years.min() < 1880 or years.max() > pd.Timestamp.now().year:
        return None
    return PiiSpec(kind=PiiKind.DATE_OF_BIRTH,
                   evidence=f"name {str(column.name)!r} says date of birth; {share:.0%} of values are dates "
                            f"from {years.min()} to {years.max()}")


def _free_text(values: pd.Series) -> PiiSpec | None:
    found: dict[str, int] = {}
    holding = 0
    for text in values:
        kinds = {span.kind for span in find_spans(text)}
        holding += bool(kinds)
        for kind in kinds:
            found[kind.label] = found.get(kind.label, 0) + 1
    if not found or holding < TEXT_SPAN_SHARE * len(values):
        return None
    parts = ", ".join(f"{label} in {count / len(values):.0%}" for label, count in sorted(found.items()))
    return PiiSpec(kind=PiiKind.FREE_TEXT, evidence=f"free text holding identifiers: {parts} of sampled values")


def _share(values: pd.Series, kind: PiiKind) -> float:
    return float(values.map(_VALUE_TESTS[kind]).mean())


def _format_name(kind: PiiKind) -> str:
    return {
        PiiKind.EMAIL: "e-mail addresses",
        PiiKind.IP_ADDRESS: "IP addresses",
        PiiKind.IBAN: "IBANs with a valid mod-97 check",
        PiiKind.CARD_NUMBER: "card numbers with a valid Luhn check",
        PiiKind.NATIONAL_ID: "national-ID numbers (US SSN or UK NINO format)",
        PiiKind.PHONE: "phone numbers (7-15 digits)",
        PiiKind.STREET_ADDRESS: "street addresses (a house number and words)",
        PiiKind.POSTCODE: "postcode-shaped",
    }.get(kind, kind.label)


def _sample_text(present: pd.Series) -> pd.Series:
    """Up to `SAMPLE_SIZE` evenly spaced values as text (whole numbers without a decimal point)."""
    if len(present) > SAMPLE_SIZE:
        present = present.iloc[np.linspace(0, len(present) - 1, SAMPLE_SIZE).astype(int)]
    return present.astype(str).str.strip().reset_index(drop=True)
