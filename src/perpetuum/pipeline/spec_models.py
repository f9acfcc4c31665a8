"""The parts of a dataset spec as pydantic models: columns (one model per kind), filters, dedup, execution and
output settings, backends and prices. `spec.DatasetSpec` puts them together; `spec_checks` checks references."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------- shared parts


class ModelParams(_Model):
    """Sampling parameters of one LLM call; unset ones take the backend's defaults. Seeds are derived, not set."""

    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | None = None


class BackendConfig(BaseModel):
    """A named model backend: `kind` (embedded, openai, hf, or any registered name) plus that backend's options."""

    model_config = ConfigDict(extra="allow")
    kind: str = "embedded"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Price(_Model):
    """US dollars per million tokens."""

    input_per_million: float = Field(default=0.0, ge=0)
    output_per_million: float = Field(default=0.0, ge=0)


def _normalise_weighted(values: Any) -> list[tuple[Any, float]]:
    """A list of values (equal weights) or a mapping value -> weight, as (value, weight) pairs."""
    if isinstance(values, dict):
        pairs = list(values.items())
    elif isinstance(values, list):
        pairs = [(value, 1.0) for value in values]
    else:
        raise ValueError("must be a list of values or a mapping of value to weight")
    if not pairs:
        raise ValueError("must name at least one value")
    checked = []
    for value, weight in pairs:
        if isinstance(value, (dict, list)):
            raise ValueError(f"values must be strings or numbers; got {value!r}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"weight of {value!r} must be a number >= 0; got {weight!r}")
        checked.append((value, float(weight)))
    if sum(weight for _, weight in checked) <= 0:
        raise ValueError("weights must not all be zero")
    return checked


class _Column(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    depends_on: list[str] = Field(default_factory=list)
    drop: bool = Field(default=False, description="Compute the column (templates may read it) but leave it out.")

    def templates(self) -> dict[str, str]:
        """Key path (relative to the column) -> Jinja source, for every template the column renders."""
        return {}

    def references(self) -> dict[str, list[str]]:
        """Key path -> column names referenced outside templates (e.g. a sampler's parent)."""
        return {"depends_on": list(self.depends_on)} if self.depends_on else {}

    def backends(self) -> dict[str, str | None]:
        """Key path -> backend name for every model the column calls (None: the spec's default backend)."""
        return {}


# ---------------------------------------------------------------------------------------------- samplers


class _Sampler(_Column):
    kind: Literal["sampler"]


class CategorySampler(_Sampler):
    """One value per record, drawn with the given weights (a list means equal weights)."""

    sampler: Literal["category"]
    values: Any
    without_replacement: bool = False

    @field_validator("values")
    @classmethod
    def _check_values(cls, values):
        _normalise_weighted(values)
        return values

    @property
    def weighted(self) -> list[tuple[Any, float]]:
        return _normalise_weighted(self.values)


class SubcategorySampler(_Sampler):
    """A value drawn from the list (or weights) that belongs to the parent column's value."""

    sampler: Literal["subcategory"]
    parent: str
    values: dict[str, Any]

    @field_validator("values")
    @classmethod
    def _check_values(cls, values):
        for key, options in values.items():
            try:
                _normalise_weighted(options)
            except ValueError as error:
                raise ValueError(f"under {key!r}: {error}") from None
        return values

    def weighted(self, parent_value: Any) -> list[tuple[Any, float]] | None:
        options = self.values.get(str(parent_value))
        return None if options is None else _normalise_weighted(options)

    def references(self):
        return {**super().references(), "parent": [self.parent]}


class UniformSampler(_Sampler):
    sampler: Literal["uniform"]
    low: float
    high: float
    decimals: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_range(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class NormalSampler(_Sampler):
    sampler: Literal["normal"]
    mean: float = 0.0
    std: float = Field(default=1.0, gt=0)
    min: float | None = None
    max: float | None = None
    decimals: int | None = Field(default=None, ge=0)


class IntegerSampler(_Sampler):
    """Integers from `low` to `high`, both included."""

    sampler: Literal["integer"]
    low: int
    high: int
    without_replacement: bool = False

    @model_validator(mode="after")
    def _check_range(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        if self.without_replacement and self.high - self.low >= 10_000_000:
            raise ValueError("without_replacement needs a range of fewer than 10,000,000 integers")
        return self


class WordsSampler(_Sampler):
    """`count` distinct words from a list (inline `words`, or `file` with one word a line); count 1 gives a string."""

    sampler: Literal["words"]
    words: list[str] | None = None
    file: str | None = None
    count: int = Field(default=1, ge=1)
    without_replacement: bool = False

    @model_validator(mode="after")
    def _check_source(self):
        if (self.words is None) == (self.file is None):
            raise ValueError("give exactly one of `words` (a list) or `file` (one word a line)")
        if self.words is not None and not self.words:
            raise ValueError("`words` must not be empty")
        if self.without_replacement and self.count != 1:
            raise ValueError("without_replacement works with count: 1")
        return self


class RecordsSampler(_Sampler):
    """A whole record from a data file: a JSON Lines file (one object a line) or a CSV file with a header, either
    optionally gzip-compressed (.jsonl, .jsonl.gz, .csv, .csv.gz). The value is a mapping of the record's fields
    (only `fields` when given); `count` above 1 gives a list of that many distinct records."""

    sampler: Literal["records"]
    file: str
    fields: list[str] | None = Field(default=None, min_length=1)
    count: int = Field(default=1, ge=1)
    without_replacement: bool = False

    @field_validator("file")
    @classmethod
    def _check_format(cls, file: str) -> str:
        if not file.lower().removesuffix(".gz").endswith((".jsonl", ".csv")):
            raise ValueError(f"{file!r}: give a .jsonl or .csv file (optionally .gz)")
        return file

    @model_validator(mode="after")
    def _check_count(self):
        if self.without_replacement and self.count != 1:
            raise ValueError("without_replacement works with count: 1")
        return self


class PersonSampler(_Sampler):
    """A persona from Faker (seeded per record): a dict of the named Faker fields, plus `age` if listed."""

    sampler: Literal["person"]
    locale: str = "en_US"
    fields: list[str] = Field(default_factory=lambda: ["first_name", "last_name", "age", "job", "city"])
    age_range: tuple[int, int] = (18, 80)


# ---------------------------------------------------------------------------------------------- model columns


class RepairConfig(_Model):
    """Verify and repair: when the validator column `validator` fails on the model's answer, the model is asked
    again with the failure shown, up to `attempts` times; the first answer that passes (or the last one) stays."""

    validator: str = Field(pattern=NAME_PATTERN, description="A validator column that reads the repaired value.")
    attempts: int = Field(default=2, ge=1, le=5, description="Repair attempts after the first answer fails.")


def _prompt_templates(column) -> dict[str, str]:
    """The prompt and system prompt of a model column, by key."""
    found = {"prompt": column.prompt}
    if column.system_prompt:
        found["system_prompt"] = column.system_prompt
    return found


class ChatExample(_Model):
    """A worked example shown before the prompt (few-shot): a user turn and the answer wanted, both Jinja templates."""

    user: str = Field(min_length=1)
    assistant: str = Field(min_length=1)


class LLMTextColumn(_Column):
    """Free text from a chat model, prompted by a Jinja template that reads other columns; `examples` are earlier
    user/assistant turns showing the model answers in the form wanted (small models imitate an example far better
    than they follow a description of it). `when`, a Jinja template rendering true or false, makes the call only
    for the records that need it; the others get an empty value (None for `llm_json`) and cost nothing."""

    kind: Literal["llm_text"]
    prompt: str
    system_prompt: str | None = None
    examples: list[ChatExample] = Field(default_factory=list)
    when: str | None = Field(default=None, description="Call the model only where this renders true.")
    backend: str | None = None
    params: ModelParams = Field(default_factory=ModelParams)
    repair: RepairConfig | None = None

    def templates(self):
        found = _prompt_templates(self)
        for i, example in enumerate(self.examples):
            found[f"examples[{i}].user"] = example.user
            found[f"examples[{i}].assistant"] = example.assistant
        if self.when is not None:
            found["when"] = self.when
        return found

    def backends(self):
        return {"backend": self.backend}


class LLMJsonColumn(LLMTextColumn):
    """A JSON object from a chat model that must match `json_schema` (checked; retried with the error shown)."""

    kind: Literal["llm_json"]  # type: ignore[assignment]
    json_schema: dict[str, Any]
    max_attempts: int = Field(default=3, ge=1)

    @field_validator("json_schema")
    @classmethod
    def _check_schema(cls, schema):
        import jsonschema

        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ValueError(f"not a valid JSON Schema: {error.message}") from None
        return schema


class Criterion(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    description: str
    min: int = 1
    max: int = 5

    @model_validator(mode="after")
    def _check_range(self):
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        return self


class JudgeColumn(_Column):
    """Scores a record on named criteria; the value is {"scores": {criterion: int}, "reasons": {criterion: str}}."""

    kind: Literal["llm_judge"]
    prompt: str = Field(description="What the judge reads: a Jinja template showing the parts of the record to judge.")
    rubric: list[Criterion] = Field(min_length=1)
    system_prompt: str | None = None
    backend: str | None = None
    params: ModelParams = Field(default_factory=lambda: ModelParams(temperature=0.0))
    max_attempts: int = Field(default=3, ge=1)

    @field_validator("rubric")
    @classmethod
    def _unique_criteria(cls, rubric):
        names = [criterion.name for criterion in rubric]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"criterion names must be unique; repeated: {', '.join(duplicates)}")
        return rubric

    templates = _prompt_templates
    backends = LLMTextColumn.backends


class ExpressionColumn(_Column):
    """A Jinja template rendered with the record; `cast` turns the text into int, float, bool or parsed JSON."""

    kind: Literal["expression"]
    template: str
    cast: Literal["str", "int", "float", "bool", "json"] = "str"

    def templates(self):
        return {"template": self.template}


class ValidatorColumn(BaseModel):
    """Checks a value with a registered validator kind (python, regex, code, ...); stores {passed, message}.

    The value checked is the column named by `target`, or the rendered `template`. Every other key is an option
    of the validator kind, checked by that kind's own options model.
    """

    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["validator"]
    validator: str
    target: str | None = None
    template: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    drop: bool = False

    @model_validator(mode="after")
    def _check_target(self):
        if (self.target is None) == (self.template is None):
            raise ValueError("give exactly one of `target` (a column name) or `template` (a Jinja template)")
        return self

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def templates(self):
        from perpetuum.pipeline.columns.validators import template_options

        found = {"template": self.template} if self.template is not None else {}
        for key in template_options(self.validator):  # e.g. the `code` kind's `tests`, rendered with the record
            if isinstance(self.options.get(key), str):
                found[key] = self.options[key]
        return found

    def references(self):
        found = {"depends_on": list(self.depends_on)} if self.depends_on else {}
        if self.target is not None:
            found["target"] = [self.target]
        return found

    def backends(self):
        return {}


class DialogueRole(_Model):
    """One side of a dialogue; with `repair`, each of its turns is checked (and regenerated when the validator
    flags it) before the other role answers."""

    name: str = Field(min_length=1)
    system_prompt: str
    backend: str | None = None
    params: ModelParams = Field(default_factory=ModelParams)
    repair: RepairConfig | None = None


class DialogueColumn(_Column):
    """Two roles take turns (the first speaks first) for `turns` messages or until one says `stop_phrase`.

    `opening`, when given, is the first message, spoken by the first role as written; otherwise the first role
    writes it, prompted by `kickoff` (a user message that is not stored). The value is [{role, content}, ...].
    """

    kind: Literal["dialogue"]
    roles: list[DialogueRole] = Field(min_length=2, max_length=2)
    turns: int = Field(default=4, ge=1, le=200)
    stop_phrase: str | None = None
    opening: str | None = None
    kickoff: str = "Begin the conversation."
    backend: str | None = None

    @field_validator("roles")
    @classmethod
    def _distinct_roles(cls, roles):
        if roles[0].name == roles[1].name:
            raise ValueError("the two roles need different names")
        return roles

    def templates(self):
        found = {f"roles[{i}].system_prompt": role.system_prompt for i, role in enumerate(self.roles)}
        if self.opening is not None:
            found["opening"] = self.opening
        found["kickoff"] = self.kickoff
        return found

    def backends(self):
        found: dict[str, str | None] = {}
        for i, role in enumerate(self.roles):
            found[f"roles[{i}].backend"] = role.backend or self.backend
        return found


SAMPLER_TYPES = {
    "category": CategorySampler,
    "subcategory": SubcategorySampler,
    "uniform": UniformSampler,
    "normal": NormalSampler,
    "integer": IntegerSampler,
    "words": WordsSampler,
    "records": RecordsSampler,
    "person": PersonSampler,
}
COLUMN_KINDS = {
    "sampler": None,
    "llm_text": LLMTextColumn,
    "llm_json": LLMJsonColumn,
    "llm_judge": JudgeColumn,
    "expression": ExpressionColumn,
    "validator": ValidatorColumn,
    "dialogue": DialogueColumn,
}


class PluginColumn(BaseModel):
    """A column of a kind registered by a plug-in (`perpetuum.pipeline.register_column_kind`, or the entry-point
    group `perpetuum.column_kinds`). Every key besides name, kind, depends_on and drop is an option of that kind,
    checked by its runner's `Options` model when there is one. Columns it reads go in `depends_on`.
    """

    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=NAME_PATTERN)
    kind: str
    depends_on: list[str] = Field(default_factory=list)
    drop: bool = False

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        from perpetuum.pipeline.columns import COLUMN_KIND_PLUGINS

        if kind not in COLUMN_KIND_PLUGINS.names():
            known = [*COLUMN_KINDS, *COLUMN_KIND_PLUGINS.names()]
            raise ValueError(f"unknown column kind {kind!r}; use one of {', '.join(known)}")
        return kind

    @model_validator(mode="after")
    def _check_options(self):
        from perpetuum.pipeline.columns import COLUMN_KIND_PLUGINS

        options = getattr(COLUMN_KIND_PLUGINS.get(self.kind), "Options", None)
        if options is not None:
            try:
                options.model_validate(self.options)
            except ValidationError as error:
                problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
                raise ValueError(f"options of a {self.kind!r} column: {problems}") from None
        return self

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def templates(self):
        return {}

    def references(self):
        return {"depends_on": list(self.depends_on)} if self.depends_on else {}

    def backends(self):
        return {}


def _column_tag(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    if kind == "sampler":
        sampler = value.get("sampler") if isinstance(value, dict) else getattr(value, "sampler", None)
        return f"sampler:{sampler}"
    if isinstance(kind, str) and kind not in COLUMN_KINDS:
        return "plugin"
    return kind


Column = Annotated[
    Union[
        tuple(Annotated[model, Tag(f"sampler:{name}")] for name, model in SAMPLER_TYPES.items())
        + tuple(Annotated[model, Tag(kind)] for kind, model in COLUMN_KINDS.items() if model is not None)
        + (Annotated[PluginColumn, Tag("plugin")],)
    ],
    Discriminator(_column_tag),
]


# ---------------------------------------------------------------------------------------------- filters, dedup


class ScoreFilter(_Model):
    """Keep records whose judge score (one criterion, or the mean of all) lies within [min, max]."""

    kind: Literal["score"]
    column: str
    criterion: str | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self):
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        return self


class ValidatorFilter(_Model):
    """Keep records whose validator column passed."""

    kind: Literal["validator"]
    column: str


class ExpressionFilter(_Model):
    """Keep records for which the Jinja template renders true (true, yes, 1; anything else drops)."""

    kind: Literal["expression"]
    template: str


Filter = Annotated[Union[ScoreFilter, ValidatorFilter, ExpressionFilter], Field(discriminator="kind")]


class DedupConfig(_Model):
    """Exact and near-duplicate removal on the text of `columns`; the first record (by index) of a group stays."""

    columns: list[str] = Field(min_length=1)
    exact: bool = True
    near: bool = True
    threshold: float = Field(default=0.8, gt=0, le=0.95, description="Jaccard similarity of word shingles.")
    num_perm: int = Field(default=128, ge=16, le=1024)
    shingle_size: int = Field(default=3, ge=1, le=10)


class BudgetConfig(_Model):
    """Hard limits of a run: it stops before the request that could cross one (requests in flight count)."""

    usd: float | None = Field(default=None, gt=0, description="US dollars, priced with the spec's price table.")
    tokens: int | None = Field(default=None, gt=0, description="Prompt plus completion tokens paid for.")
    seconds: float | None = Field(default=None, gt=0, description="Wall time over every session of the run.")

    def limits(self) -> dict[str, float]:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class ExecutionConfig(_Model):
    budget: BudgetConfig | None = None
    max_retries: int = Field(default=5, ge=0)
    backoff_base: float = Field(default=0.5, ge=0, description="Seconds before the first retry; doubles each time.")
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_max: float = Field(
        default=120.0, ge=0, description="Longest wait a server's Retry-After header is honoured for."
    )
    timeout_s: float | None = Field(default=None, gt=0, description="Per LLM call; a timeout is retried.")
    max_in_flight: int | None = Field(default=None, ge=1, description="Records worked on at once.")
    shard_size: int = Field(default=1000, ge=1, description="Records per checkpoint shard file.")


MONITOR_SIGNALS = ("distinct_2", "near_duplicate_rate", "vocabulary_ratio", "judge_drift", "validator_pass_rate")


class MonitorRule(_Model):
    """One threshold on a rolling signal: `min` and/or `max`; `action` warn (once) or stop the run."""

    signal: Literal["distinct_2", "near_duplicate_rate", "vocabulary_ratio", "judge_drift", "validator_pass_rate"]
    column: str | None = Field(default=None, description="The column measured (default: each one the signal reads).")
    min: float | None = None
    max: float | None = None
    action: Literal["warn", "stop"] = "warn"

    @model_validator(mode="after")
    def _check_bounds(self):
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        return self


class MonitorsConfig(_Model):
    """Quality signals over the last `window` finished records, measured every `every` records once `min_records`
    have finished; `rules` warn or stop the run when a signal crosses a threshold."""

    window: int = Field(default=200, ge=2)
    every: int = Field(default=25, ge=1)
    min_records: int = Field(default=50, ge=2)
    rules: list[MonitorRule] = Field(default_factory=list)


class OutputConfig(_Model):
    formats: list[Literal["jsonl", "parquet", "hf"]] = Field(default_factory=lambda: ["jsonl", "parquet"])
