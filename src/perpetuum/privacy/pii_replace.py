"""Replace, never learn: a personal-identifier column's synthetic values are fresh fakes of the same kind and format,
none equal to a real value.

    replacer = PiiReplacer(PiiSpec(kind="family_name")).fit(real["Surname"])
    replacer.generate(1_000, rng)          # fresh fakes for synthetic rows
    replacer.transform(real["Surname"])    # the real column pseudonymised (consistent=True: same real, same fake)

The check against real values is exact, not statistical: every real value is remembered as a salted 64-bit hash of
its normalised form (case, spaces and punctuation ignored), and a fake whose hash is among them is drawn again. The
hashes and the profile are what a saved model keeps; no real value is written. Hashes of common names can still be
confirmed by whoever holds the model, so treat a model file as sensitive as the data (as the README says).
"""

from __future__ import annotations

import hashlib
import re
import secrets

import numpy as np
import pandas as pd

from perpetuum.errors import ParameterError
from perpetuum.privacy import pii_patterns as patterns
from perpetuum.privacy.pii_kinds import PiiKind, PiiSpec
from perpetuum.privacy.pii_values import ValueProfile, make_fakes, name_pool

MIN_NAME_POOL = 50  # fewer unused names than this in the locale: names of the other locales join the pool
MAX_ROUNDS = 60
_DIGIT_KINDS = (PiiKind.PHONE, PiiKind.CARD_NUMBER, PiiKind.IBAN, PiiKind.NATIONAL_ID, PiiKind.POSTCODE)


class PiiReplacer:
    """Fresh fakes for one personal-identifier column; see the module docstring. `spec`: the column's `PiiSpec`;
    `datetime_format`: the text format of a date-of-birth column stored as text (from the schema); `seed`: for the
    consistent fakes made in `fit`."""

    def __init__(self, spec: PiiSpec, datetime_format: str | None = None, seed: int = 0):
        self.spec = spec
        self.datetime_format = datetime_format
        self.seed = seed

    def fit(self, column: pd.Series) -> "PiiReplacer":
        kind = self.spec.kind
        if kind == PiiKind.FREE_TEXT:
            raise ParameterError(f"column {column.name!r}: free text is scrubbed span by span (scrub_texts), "
                                 "not replaced whole")
        present = column.dropna()
        self.name_ = str(column.name)
        self.missing_rate_ = float(column.isna().mean()) if len(column) else 0.0
        sample = present.astype(str).head(2_000).tolist()
        self.locale_ = self.spec.locale or patterns.value_locale(kind, sample) or patterns.DEFAULT_LOCALE
        self.profile_ = ValueProfile.learn(present, kind, self.locale_, self.datetime_format)
        self.salt_ = secrets.token_hex(16)
        self.real_keys_ = np.unique(self._keys(present))
        if kind in (PiiKind.GIVEN_NAME, PiiKind.FAMILY_NAME, PiiKind.FULL_NAME, PiiKind.EMAIL):
            self._set_name_pools(present, kind)
        self.pool_, self.pool_weights_ = [], []
        self.mapping_: dict = {}
        if self.spec.consistent and len(present):
            counts = present.value_counts()
            fakes = self._fresh(len(counts), np.random.default_rng(self.seed), distinct=True)
            self.mapping_ = dict(zip(counts.index, fakes))
            self.pool_ = list(fakes)
            self.pool_weights_ = (counts / counts.sum()).tolist()
        return self

    def generate(self, n: int, rng: np.random.Generator) -> pd.Series:
        """`n` synthetic values: fakes (drawn with the real frequencies when consistent) and the real missing rate."""
        missing = rng.random(n) < self.missing_rate_
        present = int((~missing).sum())
        if self.pool_:
            picks = rng.choice(len(self.pool_), size=present, p=self.pool_weights_)
            fakes = [self.pool_[index] for index in picks]
        else:
            fakes = self._fresh(present, rng)
        values = np.empty(n, dtype=object)
        values[~missing] = fakes
        values[missing] = None
        return pd.Series(values, dtype=object)

    def transform(self, column: pd.Series, seed: int | None = 0) -> pd.Series:
        """The real column with every value replaced: consistently (one fake per distinct value, kept from fit) when
        the spec asks for it, else a fresh fake per row. Missing values stay missing."""
        rng = np.random.default_rng(seed)
        present = column.notna().to_numpy()
        values = np.empty(len(column), dtype=object)
        values[~present] = None
        if self.spec.consistent:
            unseen = [value for value in pd.unique(column[present]) if value not in self.mapping_]
            self.mapping_.update(zip(unseen, self._fresh(len(unseen), rng, distinct=True)))
            values[present] = [self.mapping_[value] for value in column[present]]
        else:
            values[present] = self._fresh(int(present.sum()), rng)
        return pd.Series(values, index=column.index, dtype=object, name=column.name)

    def describe(self) -> str:
        """What replaces the column, for the report."""
        how = "one fake per distinct real value, drawn with the real frequencies" if self.spec.consistent else (
            "a fresh fake per row")
        return (f"fresh {self.spec.kind.label} fakes in the real format (locale {self.locale_}); {how}; "
                f"checked never equal to any of the {len(self.real_keys_):,} real values")

    # --------------------------------------------------------------------------------------- the real-value check

    def _fresh(self, count: int, rng: np.random.Generator, distinct: bool = False) -> list:
        made: list = []
        seen: set = set()
        for _ in range(MAX_ROUNDS):
            if len(made) >= count:
                break
            wanted = count - len(made)
            batch = make_fakes(self.profile_, int(wanted * 1.3) + 8, rng)
            keys = self._keys(pd.Series(batch, dtype=object))
            fresh = ~np.isin(keys, self.real_keys_)
            for value, key, keep in zip(batch, keys, fresh):
                if keep and not (distinct and key in seen):
                    made.append(value)
                    seen.add(key)
                    if len(made) == count:
                        break
            if len(made) < count and self.spec.kind == PiiKind.DATE_OF_BIRTH:
                self._widen_dates()
        if len(made) < count:
            raise ParameterError(
                f"column {self.name_!r}: could not make {count:,} {'distinct ' if distinct else ''}"
                f"{self.spec.kind.label} fakes that differ from every real value (the format allows too few); "
                "set the column's pii to null in the schema to model it, or drop the column"
            )
        return made[:count]

    def _keys(self, values: pd.Series) -> np.ndarray:
        """Salted 64-bit hashes of the normalised values: case, spaces and punctuation do not make a fake new."""
        if self.spec.kind == PiiKind.DATE_OF_BIRTH:
            parsed = pd.to_datetime(values, format=self.datetime_format or "mixed", errors="coerce")
            normalised = [str(day.date()) if not pd.isna(day) else str(raw) for day, raw in zip(parsed, values)]
        elif self.spec.kind in _DIGIT_KINDS:
            normalised = [re.sub(r"[^0-9A-Z]", "", str(value).upper()) for value in values]
        else:
            normalised = [" ".join(str(value).casefold().split()) for value in values]
        salt = bytes.fromhex(self.salt_)
        return np.array([int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8, key=salt).digest(), "big")
                         for text in normalised], dtype=np.uint64)

    def _widen_dates(self) -> None:
        """Real birthdays can cover most days of their range: widen it by a year at each end."""
        low, high = (pd.Timestamp(day) for day in self.profile_.date_range)
        self.profile_.date_range = [(low - pd.DateOffset(years=1)).date().isoformat(),
                                    (high + pd.DateOffset(years=1)).date().isoformat()]

    def _set_name_pools(self, present: pd.Series, kind: PiiKind) -> None:
        """Name lists to draw from with the real names left out, so a fake name is never a real one."""
        tokens = {token.strip(".,").casefold() for value in present.astype(str) for token in value.split()}
        for pool_kind, names_attribute, weights_attribute in (
            (PiiKind.GIVEN_NAME, "given_names", "given_weights"),
            (PiiKind.FAMILY_NAME, "family_names", "family_weights"),
        ):
            names: list[str] = []
            weights: list[float] = []
            locales = [self.locale_] + [locale for locale in patterns.NAME_LOCALES if locale != self.locale_]
            for locale in locales:
                if len(names) >= MIN_NAME_POOL:
                    break
                pool, pool_weights = name_pool(pool_kind, locale)
                # whole-column names only: in full names and e-mails the combination is what is checked
                exclude = tokens if kind == pool_kind else set()
                for name, weight in zip(pool, pool_weights):
                    if name.casefold() not in exclude and name not in names:
                        names.append(name)
                        weights.append(weight)
            if not names:
                raise ParameterError(f"column {self.name_!r}: every {pool_kind.label} Faker knows occurs in the "
                                     "real data; no fake can differ from them")
            total = sum(weights)
            setattr(self.profile_, names_attribute, names)
            setattr(self.profile_, weights_attribute, [weight / total for weight in weights])

    # --------------------------------------------------------------------------------------- model files

    def to_state(self) -> dict:
        """What a saved model keeps: the profile, hashes of the real values, the fake pool. No real value."""
        return {"type": "pii", "spec": self.spec.model_dump(mode="json"), "datetime_format": self.datetime_format,
                "seed": self.seed,
                "name": self.name_, "missing_rate": self.missing_rate_, "locale": self.locale_,
                "profile": self.profile_.to_state(), "salt": self.salt_,
                "real_keys": [int(key) for key in self.real_keys_], "pool": [str(value) for value in self.pool_],
                "pool_weights": self.pool_weights_}

    @classmethod
    def from_state(cls, state: dict) -> "PiiReplacer":
        replacer = cls(PiiSpec.model_validate(state["spec"]), state["datetime_format"], state.get("seed", 0))
        replacer.name_, replacer.missing_rate_ = state["name"], state["missing_rate"]
        replacer.locale_, replacer.salt_ = state["locale"], state["salt"]
        replacer.profile_ = ValueProfile(**state["profile"])
        replacer.real_keys_ = np.array(state["real_keys"], dtype=np.uint64)
        replacer.pool_, replacer.pool_weights_ = state["pool"], state["pool_weights"]
        replacer.mapping_ = {}
        return replacer
