"""Personal identifiers: found from names and values, shown in the schema, replaced by checked fakes, never learned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from faker import Faker

from perpetuum.privacy.pii import PiiKind, PiiReplacer, PiiSpec, detect_pii, scrub_texts
from perpetuum.schema import TableSchema, infer_schema
from perpetuum.schema.display import describe_schema
from perpetuum.tabular import get_synthesizer, load_synthesizer

PII_COLUMNS = ["Surname", "FirstName", "Email", "Phone", "IBAN", "Card", "IP", "SSN", "Address", "zip", "DateOfBirth"]


def bank_table(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """A bank-customer table full of real-looking identifiers (Faker, five locales, fixed seeds)."""
    fakers = [Faker(locale) for locale in ("en_US", "en_GB", "de_DE", "it_IT", "nl_NL")]
    for index, faker in enumerate(fakers):
        faker.seed_instance(seed + index)
    us = fakers[0]
    rng = np.random.default_rng(seed)
    people = [fakers[index] for index in rng.integers(0, len(fakers), rows)]
    return pd.DataFrame({
        "Surname": [person.last_name() for person in people],
        "FirstName": [person.first_name() for person in people],
        "Email": [person.email() for person in people],
        "Phone": [us.phone_number() for _ in people],
        "IBAN": [person.iban() for person in people],
        "Card": [us.credit_card_number() for _ in people],
        "IP": [us.ipv4() for _ in people],
        "SSN": [us.ssn() for _ in people],
        "Address": [us.street_address() for _ in people],
        "zip": [us.postcode() for _ in people],
        "DateOfBirth": [us.date_of_birth(minimum_age=18, maximum_age=90).isoformat() for _ in people],
        "Notes": [f"Called {p.first_name()} {p.last_name()} on {us.phone_number()}; mail {p.email()}" for p in people],
        "Geography": rng.choice(["France", "Germany", "Spain"], rows),
        "Age": rng.integers(18, 90, rows),
        "Balance": rng.gamma(2.0, 40_000.0, rows).round(2),
    })


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    return bank_table()


def test_infer_schema_marks_every_identifier_column_with_its_kind(bank):
    schema = infer_schema(bank)
    found = {column.name: column.pii.kind for column in schema.columns if column.pii is not None}
    assert found == {
        "Surname": PiiKind.FAMILY_NAME, "FirstName": PiiKind.GIVEN_NAME, "Email": PiiKind.EMAIL,
        "Phone": PiiKind.PHONE, "IBAN": PiiKind.IBAN, "Card": PiiKind.CARD_NUMBER, "IP": PiiKind.IP_ADDRESS,
        "SSN": PiiKind.NATIONAL_ID, "Address": PiiKind.STREET_ADDRESS, "zip": PiiKind.POSTCODE,
        "DateOfBirth": PiiKind.DATE_OF_BIRTH, "Notes": PiiKind.FREE_TEXT,
    }
    assert "Surname" in schema["Surname"].pii.evidence and "Faker's name lists" in schema["Surname"].pii.evidence


def test_values_alone_find_self_proving_formats_under_neutral_names(bank):
    assert detect_pii(bank["Email"].rename("contact")).kind == PiiKind.EMAIL
    assert detect_pii(bank["IBAN"].rename("account")).kind == PiiKind.IBAN
    assert detect_pii(bank["Card"].rename("c7")).kind == PiiKind.CARD_NUMBER


def test_ordinary_columns_are_not_personal(bank):
    from perpetuum.datasets import load_adult

    adult = load_adult().head(3000)
    assert [name for name in adult.columns if detect_pii(adult[name]) is not None] == []
    assert detect_pii(bank["Geography"]) is None and detect_pii(bank["Balance"]) is None
    random_digits = pd.Series([f"{value:016d}" for value in np.random.default_rng(0).integers(0, 10**15, 300)],
                              name="reference")
    assert detect_pii(random_digits) is None  # 16 digits, but only about 10 % pass the Luhn check


def test_schema_display_shows_verdict_and_evidence(bank):
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(describe_schema(infer_schema(bank[["Surname", "Age"]])))
    text = console.export_text()
    assert "family name" in text and "says family name" in text


def test_the_user_overrides_the_verdict_in_the_schema_file(bank, tmp_path):
    schema = infer_schema(bank[["Surname", "Geography", "Age"]])
    schema.to_json(tmp_path / "schema.json")
    edited = TableSchema.from_json(tmp_path / "schema.json")
    edited["Surname"].pii = None
    edited["Geography"].pii = PiiSpec(kind="given_name")
    model = get_synthesizer("fast")(seed=0).fit(bank[["Surname", "Geography", "Age"]], schema=edited)
    synthetic = model.sample(500, seed=0)
    assert synthetic["Surname"].isin(bank["Surname"]).all()  # modelled again, as asked
    assert not synthetic["Geography"].isin(bank["Geography"]).any()


def test_no_real_identifier_survives_into_synthetic_output(bank, tmp_path):
    model = get_synthesizer("quality")(seed=0).fit(bank)
    synthetic = model.sample(3000, seed=1)
    for column in PII_COLUMNS:
        real = set(bank[column].astype(str).str.casefold().str.strip())
        leaked = synthetic[column].dropna().astype(str).str.casefold().str.strip().isin(real)
        assert not leaked.any(), f"{column}: {synthetic[column][leaked].head(3).tolist()}"
    notes = " ".join(synthetic["Notes"].dropna())
    for column in ("Email", "Phone"):
        assert not any(value in notes for value in bank[column]), f"a real {column} survived inside the notes"
    model.save(tmp_path / "model")
    saved = (tmp_path / "model" / "model.json").read_text()
    assert not any(value in saved for value in bank["Email"].head(200)), "a model file must not hold real values"
    reloaded = load_synthesizer(tmp_path / "model").sample(500, seed=2)
    assert not reloaded["Email"].isin(bank["Email"]).any()


def test_fakes_keep_the_format_of_the_real_values(bank):
    rng = np.random.default_rng(0)
    iban = PiiReplacer(detect_pii(bank["IBAN"])).fit(bank["IBAN"]).generate(200, rng)
    from perpetuum.privacy.pii_patterns import iban_valid, is_card_number, is_national_id

    assert iban.map(iban_valid).all()
    assert PiiReplacer(PiiSpec(kind="card_number")).fit(bank["Card"]).generate(200, rng).map(is_card_number).all()
    assert PiiReplacer(PiiSpec(kind="national_id")).fit(bank["SSN"]).generate(200, rng).map(is_national_id).all()
    dates = PiiReplacer(PiiSpec(kind="date_of_birth"), "%Y-%m-%d").fit(bank["DateOfBirth"]).generate(200, rng)
    assert pd.to_datetime(dates, format="%Y-%m-%d").notna().all()


def test_consistent_replacement_maps_the_same_real_value_to_the_same_fake():
    column = pd.Series(["Smith", "Jones", "Smith", None, "Jones", "Smith"] * 10, name="surname")
    replacer = PiiReplacer(PiiSpec(kind="family_name", consistent=True)).fit(column)
    replaced = replacer.transform(column)
    assert replaced.isna().sum() == column.isna().sum()
    pairs = pd.DataFrame({"real": column, "fake": replaced}).dropna().drop_duplicates()
    assert len(pairs) == 2 and pairs["fake"].nunique() == 2
    assert not pairs["fake"].isin(["Smith", "Jones"]).any()
    generated = replacer.generate(600, np.random.default_rng(0)).dropna()
    assert set(generated) == set(pairs["fake"])  # drawn from the same two fakes, with the real frequencies


def test_identifiers_inside_free_text_are_replaced():
    texts = pd.Series(["Mr Hargrave asked to call +44 20 7946 0958 or write to ann.hargrave@example.com",
                       "card 4111 1111 1111 1111 from 192.168.2.14", None])
    scrubbed, counts = scrub_texts(texts, known_names=frozenset({"hargrave"}))
    for secret in ("Hargrave", "7946 0958", "ann.hargrave@example.com", "4111 1111 1111 1111", "192.168.2.14"):
        assert not scrubbed.dropna().str.contains(secret, regex=False).any(), secret
    assert scrubbed.iloc[2] is None
    assert counts["email"] == 1 and counts["card_number"] == 1 and counts["ip_address"] == 1
