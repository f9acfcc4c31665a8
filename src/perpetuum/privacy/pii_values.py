"""Fresh fake values of each personal-identifier kind, in the format the real column uses.

`ValueProfile.learn` reads only the format of the real values (character templates, case, country codes, date
range, the IP version); `make_fakes` draws new values in that format. Names come from Faker's per-locale name
lists, drawn directly with NumPy (far faster than Faker's own calls); addresses and e-mail domains from Faker.
Which fakes collide with a real value is not decided here: `PiiReplacer` checks that.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from perpetuum.privacy import pii_patterns as patterns
from perpetuum.privacy.pii_kinds import PiiKind

_UPPER = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_DIGITS = np.array(list("0123456789"))
MAX_TEMPLATES = 20


@dataclass
class ValueProfile:
    """The format of a real column, without any real value: what fakes must look like."""

    kind: str
    locale: str
    case: str = "title"  # "upper", "lower" or "title"
    templates: list[str] = field(default_factory=list)  # '9' digit, 'A' letter, other characters literal
    template_weights: list[float] = field(default_factory=list)
    family_first: bool = False  # full names written "Family, Given"
    ipv6_share: float = 0.0
    date_range: list[str] = field(default_factory=list)  # ISO first and last real date
    datetime_format: str | None = None  # dates stored as text: their format
    given_names: list[str] = field(default_factory=list)  # the names fakes are drawn from, real ones left out
    given_weights: list[float] = field(default_factory=list)
    family_names: list[str] = field(default_factory=list)
    family_weights: list[float] = field(default_factory=list)

    @classmethod
    def learn(cls, values: pd.Series, kind: PiiKind, locale: str, datetime_format: str | None = None) -> "ValueProfile":
        text = values.dropna().astype(str).str.strip()
        profile = cls(kind=kind.value, locale=locale, datetime_format=datetime_format)
        letters = text[text.str.contains(r"[^\W\d_]", regex=True)]
        if len(letters):
            if (letters == letters.str.upper()).mean() > 0.9:
                profile.case = "upper"
            elif (letters == letters.str.lower()).mean() > 0.9:
                profile.case = "lower"
        if kind == PiiKind.FULL_NAME:
            profile.family_first = bool(text.str.contains(",").mean() > 0.5)
        elif kind == PiiKind.IP_ADDRESS:
            profile.ipv6_share = float(text.str.contains(":").mean())
        elif kind == PiiKind.DATE_OF_BIRTH:
            dates = _parse_dates(values.dropna(), datetime_format)
            profile.date_range = [dates.min().date().isoformat(), dates.max().date().isoformat()]
        elif kind in _TEMPLATED:
            counts = text.map(lambda value: _template_of(value, kind)).value_counts().head(MAX_TEMPLATES)
            profile.templates = counts.index.tolist()
            profile.template_weights = (counts / counts.sum()).tolist()
        return profile

    @classmethod
    def of_value(cls, value: str, kind: PiiKind, locale: str) -> "ValueProfile":
        """The profile of a single value (an identifier found inside free text), without pandas."""
        case = "upper" if value.isupper() else "lower" if value.islower() else "title"
        profile = cls(kind=kind.value, locale=locale, case=case, ipv6_share=float(":" in value))
        if kind in _TEMPLATED:
            profile.templates, profile.template_weights = [_template_of(value, kind)], [1.0]
        return profile

    def to_state(self) -> dict:
        return asdict(self)


def _template_of(value: str, kind: PiiKind) -> str:
    """The value with digits as '9' and letters as 'A' (phone numbers keep their letters: 'x' or 'ext' before an
    extension); a leading '+country code' and an IBAN's country stay."""
    keep = ""
    if match := re.match(r"^(\+\d{1,3})([\s.\-(])", value):
        keep, value = match.group(1), value[len(match.group(1)):]
    elif re.match(r"^[A-Z]{2}\d{2}", value) and patterns.iban_valid(value):
        keep, value = value[:2], value[2:]
    digits_only = re.sub(r"\d", "9", value)
    return keep + (digits_only if kind == PiiKind.PHONE else re.sub(r"[^\W\d_]", "A", digits_only))


_TEMPLATED = (PiiKind.PHONE, PiiKind.POSTCODE, PiiKind.IBAN, PiiKind.CARD_NUMBER, PiiKind.NATIONAL_ID)


def make_fakes(profile: ValueProfile, count: int, rng: np.random.Generator) -> list:
    """`count` fake values in the profile's format (repeats possible)."""
    kind = PiiKind(profile.kind)
    if kind in (PiiKind.GIVEN_NAME, PiiKind.FAMILY_NAME):
        return [_cased(name, profile.case) for name in _names(kind, profile, count, rng)]
    if kind == PiiKind.FULL_NAME:
        given = _names(PiiKind.GIVEN_NAME, profile, count, rng)
        family = _names(PiiKind.FAMILY_NAME, profile, count, rng)
        joined = [f"{last}, {first}" if profile.family_first else f"{first} {last}" for first, last in zip(given, family)]
        return [_cased(name, profile.case) for name in joined]
    if kind == PiiKind.EMAIL:
        return _emails(profile, count, rng)
    if kind == PiiKind.STREET_ADDRESS:
        return [_cased(address, profile.case) if profile.case != "title" else address
                for address in _faker_values(profile.locale, "street_address", count, rng)]
    if kind == PiiKind.IP_ADDRESS:
        v6 = rng.random(count) < profile.ipv6_share
        v4_values = iter(_faker_values(profile.locale, "ipv4_public", int((~v6).sum()), rng))
        v6_values = iter(_faker_values(profile.locale, "ipv6", int(v6.sum()), rng))
        return [next(v6_values) if is_v6 else next(v4_values) for is_v6 in v6]
    if kind == PiiKind.DATE_OF_BIRTH:
        return _dates(profile, count, rng)
    templates = rng.choice(len(profile.templates), size=count, p=profile.template_weights)
    fill = _FILLERS.get(kind, _fill_template)
    return [fill(profile.templates[index], rng) for index in templates]


# ------------------------------------------------------------------------------------------------ names


@lru_cache(maxsize=None)
def name_pool(kind: PiiKind, locale: str) -> tuple[list[str], list[float]]:
    """(names, probabilities) from the Faker locale's list for given or family names."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    attributes = ("last_names",) if kind == PiiKind.FAMILY_NAME else ("first_names_female", "first_names_male")
    weights: dict[str, float] = {}
    for attribute in attributes:
        names = getattr(provider, attribute, None) or getattr(provider, "first_names", ())
        if isinstance(names, dict):
            for name, weight in names.items():
                weights[str(name)] = weights.get(str(name), 0.0) + float(weight)
        else:
            for name in names:
                weights[str(name)] = weights.get(str(name), 0.0) + 1.0
    names = list(weights)
    probabilities = np.array([weights[name] for name in names])
    return names, (probabilities / probabilities.sum()).tolist()


def _names(kind: PiiKind, profile: ValueProfile, count: int, rng: np.random.Generator) -> list[str]:
    if kind == PiiKind.GIVEN_NAME:
        names, weights = profile.given_names, profile.given_weights
    else:
        names, weights = profile.family_names, profile.family_weights
    if not names:
        names, weights = name_pool(kind, profile.locale)
    return [names[index] for index in rng.choice(len(names), size=count, p=weights)]


def _cased(value: str, case: str) -> str:
    return value.upper() if case == "upper" else value.lower() if case == "lower" else value


# ------------------------------------------------------------------------------------------------ Faker


@lru_cache(maxsize=None)
def _faker_for(locale: str):
    from faker import Faker

    return Faker(locale)  # about 40 ms to build, so one per locale; each use seeds it afresh


def _faker(locale: str, rng: np.random.Generator):
    faker = _faker_for(locale)
    faker.seed_instance(int(rng.integers(2**31)))
    return faker


def _faker_values(locale: str, method: str, count: int, rng: np.random.Generator) -> list[str]:
    """`count` values of a Faker method; at most 5,000 calls (each costs about 0.1 ms), then drawn from those."""
    if count == 0:
        return []
    faker = _faker(locale, rng)
    made = [getattr(faker, method)() for _ in range(min(count, 5_000))]
    if len(made) == count:
        return made
    return [made[index] for index in rng.integers(0, len(made), count)]


def _emails(profile: ValueProfile, count: int, rng: np.random.Generator) -> list[str]:
    given = _names(PiiKind.GIVEN_NAME, profile, count, rng)
    family = _names(PiiKind.FAMILY_NAME, profile, count, rng)
    provider = importlib.import_module("faker.providers.internet").Provider
    domains = list(provider.free_email_domains)
    separators = np.array([".", "_", ""])
    numbers = rng.integers(0, 100, count)
    shapes = rng.integers(0, 3, count)
    emails = []
    for index in range(count):
        local = f"{given[index]}{separators[shapes[index]]}{family[index]}"
        if shapes[index] == 2:
            local += str(numbers[index])
        local = re.sub(r"[^a-z0-9._]", "", local.lower())
        emails.append(f"{local}@{domains[int(rng.integers(len(domains)))]}")
    return emails


# ------------------------------------------------------------------------------------------------ templates


def _fill_template(template: str, rng: np.random.Generator) -> str:
    prefix = re.match(r"^\+\d{1,3}", template)
    start = prefix.end() if prefix else 0
    characters = list(template)
    for position in range(start, len(characters)):
        if characters[position] == "9":
            characters[position] = str(_DIGITS[rng.integers(10)])
        elif characters[position] == "A":
            characters[position] = str(_UPPER[rng.integers(26)])
    return "".join(characters)


def _fill_card(template: str, rng: np.random.Generator) -> str:
    """Random digits in the template: the first 3-6 (the major card networks), the last a Luhn check digit."""
    positions = [index for index, char in enumerate(template) if char == "9"]
    digits = [int(rng.integers(3, 7))] + [int(rng.integers(10)) for _ in positions[1:-1]]
    digits.append(_luhn_check_digit("".join(map(str, digits))))
    characters = list(template)
    for position, digit in zip(positions, digits):
        characters[position] = str(digit)
    return "".join(characters)


def _luhn_check_digit(partial: str) -> int:
    for digit in range(10):
        if patterns.luhn_valid(partial + str(digit)):
            return digit
    raise AssertionError("a Luhn check digit always exists")


def _fill_iban(template: str, rng: np.random.Generator) -> str:
    """Template 'CC99 AAAA 9999 ...': random account part, then the two check digits that make mod 97 hold."""
    filled = _fill_template(template, rng)
    compact = filled.replace(" ", "")
    country, account = compact[:2], compact[4:]
    number = int("".join(str(int(char, 36)) for char in account + country + "00"))
    return filled[:2] + f"{98 - number % 97:02d}" + filled[4:]  # the check digits follow the country code


_FILLERS = {PiiKind.CARD_NUMBER: _fill_card, PiiKind.IBAN: _fill_iban}


# ------------------------------------------------------------------------------------------------ dates


def _parse_dates(values: pd.Series, datetime_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    parsed = pd.to_datetime(values.astype(str), format=datetime_format or "mixed", errors="coerce")
    return parsed.dropna()


def _dates(profile: ValueProfile, count: int, rng: np.random.Generator) -> list:
    low, high = (pd.Timestamp(day) for day in profile.date_range)
    days = rng.integers(0, (high - low).days + 1, count)
    dates = pd.to_datetime(low) + pd.to_timedelta(days, unit="D")
    if profile.datetime_format:
        return list(dates.strftime(profile.datetime_format))
    return list(dates)
