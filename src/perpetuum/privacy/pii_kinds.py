"""What a personal-identifier column holds, as the schema records it (`ColumnSpec.pii`)."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class PiiKind(str, Enum):
    """The kinds of personal identifier Perpetuum finds and replaces."""

    GIVEN_NAME = "given_name"
    FAMILY_NAME = "family_name"
    FULL_NAME = "full_name"
    EMAIL = "email"
    PHONE = "phone"
    STREET_ADDRESS = "street_address"
    POSTCODE = "postcode"
    IP_ADDRESS = "ip_address"
    IBAN = "iban"
    CARD_NUMBER = "card_number"
    NATIONAL_ID = "national_id"
    DATE_OF_BIRTH = "date_of_birth"
    FREE_TEXT = "free_text"  # text that holds identifiers in its spans: the spans are replaced, the rest is learned

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class PiiSpec(BaseModel):
    """A column's personal-identifier verdict. Its values are never learned: fresh fakes of `kind` replace them.

    Set `pii` to null in a saved schema to model the column normally, or write {"kind": "email"} on a column that
    inference missed. `consistent`: one fake per distinct real value, drawn with the real values' frequencies, so
    a value that repeats in the real table repeats in the synthetic one (never the real value itself).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: PiiKind
    evidence: str = Field("set in the schema", description="why inference called the column personal")
    locale: str | None = Field(None, description="Faker locale of the fakes; inferred from the values when None")
    consistent: bool = False
