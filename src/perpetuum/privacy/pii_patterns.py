"""The evidence that a value or a column name is a personal identifier: name hints, value formats with their
checksums (Luhn for cards, mod 97 for IBANs), and the person-name dictionaries of Faker's locales."""

from __future__ import annotations

import importlib
import ipaddress
import re
from functools import lru_cache

from perpetuum.privacy.pii_kinds import PiiKind

# Locales whose person-name lists are checked when guessing the locale of a column of names.
NAME_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "sv_SE")
DEFAULT_LOCALE = "en_US"
# IBAN country code -> the Faker locale whose fakes look at home there.
IBAN_COUNTRY_LOCALES = {"DE": "de_DE", "GB": "en_GB", "FR": "fr_FR", "ES": "es_ES", "IT": "it_IT", "NL": "nl_NL",
                        "SE": "sv_SE", "BR": "pt_BR"}
PHONE_PREFIX_LOCALES = {"+1": "en_US", "+44": "en_GB", "+49": "de_DE", "+33": "fr_FR", "+34": "es_ES",
                        "+39": "it_IT", "+31": "nl_NL", "+46": "sv_SE", "+55": "pt_BR"}

# Column-name hints, matched against the name in snake case ("FirstName" -> "first_name").
NAME_HINTS: dict[PiiKind, re.Pattern] = {
    PiiKind.GIVEN_NAME: re.compile(r"(^|_)(first_?name|given_?name|fore_?name|f_?name|vorname|prenom|nombre)$"),
    PiiKind.FAMILY_NAME: re.compile(r"(^|_)(surname|last_?name|family_?name|l_?name|nachname|apellidos?)$"),
    PiiKind.FULL_NAME: re.compile(r"^(name|person)$|(^|_)(full_?name|(customer|client|patient|person|employee|contact|"
                                  r"account_holder|holder|member|owner|cardholder)_?name)$"),
    PiiKind.EMAIL: re.compile(r"(^|_)e_?mail(_address)?$|^email"),
    PiiKind.PHONE: re.compile(r"(^|_)(phone|tel|telephone|mobile|cell|fax)(_?(number|no|nr))?$|^phone"),
    PiiKind.STREET_ADDRESS: re.compile(r"(^|_)(street(_address)?|address(_line)?(_?\d)?|addr|adresse|strasse)$"),
    PiiKind.POSTCODE: re.compile(r"(^|_)(zip|zip_?code|post_?code|postal(_code)?|plz)$"),
    PiiKind.IP_ADDRESS: re.compile(r"(^|_)(ip|ip_?address|ipv4|ipv6|client_ip|remote_addr)$"),
    PiiKind.IBAN: re.compile(r"(^|_)iban$"),
    PiiKind.CARD_NUMBER: re.compile(r"(^|_)((credit_?)?card(_?(number|no|nr))?|cc_?(number|num)|pan)$"),
    PiiKind.NATIONAL_ID: re.compile(r"(^|_)(ssn|social_security(_number)?|national_?id|nin|nino|passport(_?number)?|"
                                    r"tax_?id|tin|personal_?id|id_?number|bsn|sin|dni|nie|personnummer)$"),
    PiiKind.DATE_OF_BIRTH: re.compile(r"(^|_)(dob|birth_?date|date_of_birth|birthday|born|geburtsdatum|"
                                      r"birth_?day)$"),
}

EMAIL = re.compile(r"^[\w.+\-']+@[\w\-]+(\.[\w\-]+)+$")
EMAIL_SPAN = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
PHONE = re.compile(r"^\+?[\d\s().\-/]{7,22}$")
PHONE_SPAN = re.compile(r"(?<![\w+])(?:(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.\-])\d{3,4}[\s.\-]?\d{3,4}"
                        r"|\d{10,11})(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\d)")
IPV4_SPAN = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
IBAN_SPAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
CARD_SPAN = re.compile(r"(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d)")
SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
SSN_SPAN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
UK_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$")
STREET_ADDRESS = re.compile(r"^\s*\d+[a-zA-Z]?[,\s]+\S+.*$|^.*\S\s+\d+[a-zA-Z]?(,.*)?$")
POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,8}[A-Za-z0-9]$")
NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'’.\-]*(?:['’.\-][^\W\d_]*)*\.?$")
HONORIFIC_NAME_SPAN = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Herr|Frau|Mme|M|Sr|Sra)\.?\s+([A-Z][\w'’\-]+"
                                 r"(?:\s+[A-Z][\w'’\-]+)?)")


def snake_case(name: str) -> str:
    """'FirstName' and 'first-name' -> 'first_name', for the name hints."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def hinted_kind(column_name: str) -> PiiKind | None:
    """The PII kind a column name suggests, or None."""
    name = snake_case(column_name)
    for kind, pattern in NAME_HINTS.items():
        if pattern.search(name):
            return kind
    return None


def digits_of(value: str) -> str:
    return re.sub(r"\D", "", value)


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    if not number.isdigit():
        return False
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(value: str) -> bool:
    if re.search(r"[^\d \-]", value):
        return False
    number = digits_of(value)
    return 12 <= len(number) <= 19 and luhn_valid(number)


def iban_valid(value: str) -> bool:
    """An IBAN whose mod-97 check holds (ISO 13616)."""
    compact = value.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


_PHONE_EXTENSION = re.compile(r"\s*(x|ext\.?|extension)\s*\d{1,6}$", re.IGNORECASE)


def is_phone(value: str) -> bool:
    value = _PHONE_EXTENSION.sub("", value.strip())
    return bool(PHONE.match(value)) and 7 <= len(digits_of(value)) <= 15


def is_national_id(value: str) -> bool:
    value = value.strip().upper()
    return bool(SSN.match(value) or UK_NINO.match(value))


def is_street_address(value: str) -> bool:
    """A house number before or after words ("12 Main Street", "Hauptstr. 5"); a street word is not required,
    since addresses are only taken for such when the column name says so."""
    return bool(STREET_ADDRESS.match(value)) and bool(re.search(r"[^\W\d_]{2,}", value))


def is_postcode(value: str) -> bool:
    return bool(POSTCODE.match(value.strip())) and any(char.isdigit() for char in value)


def looks_like_name(value: str, max_tokens: int = 4) -> bool:
    """One to `max_tokens` words of letters (hyphens, apostrophes and initials allowed), starting upper case."""
    tokens = value.replace(",", " ").split()
    return 0 < len(tokens) <= max_tokens and all(NAME_TOKEN.match(token) for token in tokens) and value[:1].isupper()


@lru_cache(maxsize=None)
def name_dictionary(locale: str) -> tuple[frozenset[str], frozenset[str]]:
    """(given names, family names) of a Faker locale, lower case."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    given = set()
    for attribute in ("first_names", "first_names_female", "first_names_male", "first_names_nonbinary"):
        given.update(str(name).lower() for name in getattr(provider, attribute, ()) or ())
    family = {str(name).lower() for name in getattr(provider, "last_names", ()) or ()}
    return frozenset(given), frozenset(family)


@lru_cache(maxsize=1)
def all_names() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, family names) of every locale in `NAME_LOCALES`, lower case."""
    given: set[str] = set()
    family: set[str] = set()
    for locale in NAME_LOCALES:
        locale_given, locale_family = name_dictionary(locale)
        given |= locale_given
        family |= locale_family
    return frozenset(given), frozenset(family)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Common English words that are also names ("May", "Will", "Rose"): not taken for names inside free text."""
    from faker.providers.lorem.en_US import Provider

    return frozenset(word.lower() for word in Provider.word_list)


def name_locale(values: list[str]) -> str:
    """The Faker locale whose name lists hold the most of `values`' words (en_US when none stands out)."""
    tokens = [token.lower() for value in values for token in value.replace(",", " ").split()]
    if not tokens:
        return DEFAULT_LOCALE
    best, best_share = DEFAULT_LOCALE, 0.0
    for locale in NAME_LOCALES:
        given, family = name_dictionary(locale)
        share = sum(token in given or token in family for token in tokens) / len(tokens)
        if share > best_share + 0.02:  # a locale must do clearly better than the default to replace it
            best, best_share = locale, share
    return best


def value_locale(kind: PiiKind, values: list[str]) -> str | None:
    """A locale read off the values themselves where their format names a country; None otherwise."""
    if kind == PiiKind.IBAN:
        countries = [value.strip()[:2].upper() for value in values]
        if countries:
            common = max(set(countries), key=countries.count)
            return IBAN_COUNTRY_LOCALES.get(common)
    if kind == PiiKind.PHONE:
        prefixes = [prefix for value in values for prefix in PHONE_PREFIX_LOCALES
                    if value.strip().replace("00", "+", 1).startswith(prefix)]
        if prefixes:
            longest = max(set(prefixes), key=lambda prefix: (prefixes.count(prefix), len(prefix)))
            return PHONE_PREFIX_LOCALES[longest]
    if kind in (PiiKind.GIVEN_NAME, PiiKind.FAMILY_NAME, PiiKind.FULL_NAME):
        return name_locale(values)
    return None
