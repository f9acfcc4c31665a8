"""Dataset specs: pydantic models, YAML loading, and the checks that make a bad spec fail before any model runs.

A spec names its columns; each column has a `kind` (sampler, llm_text, llm_json, llm_judge, expression, validator,
dialogue). Columns run in dependency order, found from the names their Jinja templates read plus `depends_on`.
Every error names the key path that is wrong, e.g. ``columns[2].prompt: unknown column 'topci'``.

    spec = load_spec("examples/specs/tiny_stories.yaml")   # or a dict, a YAML string, or DatasetSpec(...)
    spec.column_order()                                      # names in execution order
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from perpetuum.errors import PerpetuumError

__all__ = [
    "SpecError",
    "DatasetSpec",
    "load_spec",
    "BackendConfig",
    "ModelParams",
    "COLUMN_KINDS",
    "SAMPLER_TYPES",
]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DEFAULT_BACKEND = "default"


class SpecError(PerpetuumError, ValueError):
    """A dataset spec is invalid; the message names each offending key path and what to write instead."""


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


class PersonSampler(_Sampler):
    """A persona from Faker (seeded per record): a dict of the named Faker fields, plus `age` if listed."""

    sampler: Literal["person"]
    locale: str = "en_US"
    fields: list[str] = Field(default_factory=lambda: ["first_name", "last_name", "age", "job", "city"])
    age_range: tuple[int, int] = (18, 80)


# ---------------------------------------------------------------------------------------------- model columns


class LLMTextColumn(_Column):
    """Free text from a chat model, prompted by a Jinja template that reads other columns."""

    kind: Literal["llm_text"]
    prompt: str
    system_prompt: str | None = None
    backend: str | None = None
    params: ModelParams = Field(default_factory=ModelParams)

    def templates(self):
        found = {"prompt": self.prompt}
        if self.system_prompt:
            found["system_prompt"] = self.system_prompt
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

    templates = LLMTextColumn.templates
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
        return {"template": self.template} if self.template is not None else {}

    def references(self):
        found = {"depends_on": list(self.depends_on)} if self.depends_on else {}
        if self.target is not None:
            found["target"] = [self.target]
        return found

    def backends(self):
        return {}


class DialogueRole(_Model):
    name: str = Field(min_length=1)
    system_prompt: str
    backend: str | None = None
    params: ModelParams = Field(default_factory=ModelParams)


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


def _column_tag(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    if kind == "sampler":
        sampler = value.get("sampler") if isinstance(value, dict) else getattr(value, "sampler", None)
        return f"sampler:{sampler}"
    return kind


Column = Annotated[
    Union[
        tuple(Annotated[model, Tag(f"sampler:{name}")] for name, model in SAMPLER_TYPES.items())
        + tuple(Annotated[model, Tag(kind)] for kind, model in COLUMN_KINDS.items() if model is not None)
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


class ExecutionConfig(_Model):
    max_retries: int = Field(default=5, ge=0)
    backoff_base: float = Field(default=0.5, ge=0, description="Seconds before the first retry; doubles each time.")
    backoff_max: float = Field(default=30.0, ge=0)
    timeout_s: float | None = Field(default=None, gt=0, description="Per LLM call; a timeout is retried.")
    max_in_flight: int | None = Field(default=None, ge=1, description="Records worked on at once.")
    shard_size: int = Field(default=1000, ge=1, description="Records per checkpoint shard file.")


class OutputConfig(_Model):
    formats: list[Literal["jsonl", "parquet", "hf"]] = Field(default_factory=lambda: ["jsonl", "parquet"])


# ---------------------------------------------------------------------------------------------- the spec


class DatasetSpec(_Model):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    columns: list[Column] = Field(min_length=1)
    filters: list[Filter] = Field(default_factory=list)
    dedup: DedupConfig | None = None
    prices: dict[str, Price] = Field(default_factory=dict, description="Keyed by backend name or model name.")
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    _order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _backends_default(cls, data):
        if isinstance(data, dict) and not data.get("backends"):
            data = {**data, "backends": {DEFAULT_BACKEND: {"kind": "embedded"}}}
        return data

    def column(self, name: str):
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def column_order(self) -> list[str]:
        """Column names in the order they run (each after every column it reads)."""
        return list(self._order)

    def default_backend(self) -> str:
        return DEFAULT_BACKEND if DEFAULT_BACKEND in self.backends else next(iter(self.backends))

    def backend_for(self, name: str | None) -> str:
        return name or self.default_backend()

    def record_fingerprint(self) -> str:
        """Hash of everything that decides a record's values (seed, backends, columns); filters may change."""
        payload = self.model_dump(mode="json", include={"seed", "backends", "columns"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @model_validator(mode="after")
    def _check_references(self):
        problems = _semantic_problems(self)
        if problems:
            raise _SemanticErrors(problems)
        self._order = _dependency_order(self)
        return self


class _SemanticErrors(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _column_reads(column) -> dict[str, set[str]]:
    """Key path -> names read, for templates and explicit references. Raises TemplateProblem on bad syntax."""
    from perpetuum.pipeline.templates import referenced_names

    reads: dict[str, set[str]] = {}
    for path, source in column.templates().items():
        reads[path] = set(referenced_names(source))
    for path, names in column.references().items():
        reads.setdefault(path, set()).update(names)
    return reads


def _semantic_problems(spec: DatasetSpec) -> list[str]:
    from perpetuum.pipeline.templates import TemplateProblem, referenced_names

    problems: list[str] = []
    names = [column.name for column in spec.columns]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"columns[{i}].name: column {name!r} is defined twice; names must be unique")
        seen.add(name)

    for i, column in enumerate(spec.columns):
        try:
            reads = _column_reads(column)
        except TemplateProblem:
            reads = {}
            for path, source in column.templates().items():
                try:
                    referenced_names(source)
                except TemplateProblem as error:
                    problems.append(f"columns[{i}].{path}: {error}")
            continue
        for path, read in reads.items():
            for reference in sorted(read):
                if reference == column.name:
                    problems.append(f"columns[{i}].{path}: column {column.name!r} cannot read itself")
                elif reference not in seen:
                    problems.append(f"columns[{i}].{path}: unknown column {reference!r}{_suggest(reference, names)}")
        for path, backend in column.backends().items():
            if backend is not None and backend not in spec.backends:
                problems.append(
                    f"columns[{i}].{path}: unknown backend {backend!r}{_suggest(backend, list(spec.backends))}; "
                    f"the spec's backends are {', '.join(spec.backends)}"
                )
        if isinstance(column, ValidatorColumn):
            problems.extend(_validator_problems(i, column))

    problems.extend(_backend_problems(spec))

    by_name = {column.name: column for column in spec.columns}
    for i, rule in enumerate(spec.filters):
        if isinstance(rule, ExpressionFilter):
            try:
                for reference in sorted(referenced_names(rule.template)):
                    if reference not in by_name:
                        problems.append(
                            f"filters[{i}].template: unknown column {reference!r}{_suggest(reference, names)}"
                        )
            except TemplateProblem as error:
                problems.append(f"filters[{i}].template: {error}")
            continue
        target = by_name.get(rule.column)
        if target is None:
            problems.append(f"filters[{i}].column: unknown column {rule.column!r}{_suggest(rule.column, names)}")
        elif isinstance(rule, ScoreFilter):
            if not isinstance(target, JudgeColumn):
                problems.append(f"filters[{i}].column: {rule.column!r} is not an llm_judge column")
            elif rule.criterion is not None and rule.criterion not in {c.name for c in target.rubric}:
                known = [c.name for c in target.rubric]
                problems.append(
                    f"filters[{i}].criterion: {rule.column!r} has no criterion {rule.criterion!r}"
                    f"{_suggest(rule.criterion, known)}; it has {', '.join(known)}"
                )
        elif isinstance(rule, ValidatorFilter) and not isinstance(target, ValidatorColumn):
            problems.append(f"filters[{i}].column: {rule.column!r} is not a validator column")

    if spec.dedup is not None:
        for j, name in enumerate(spec.dedup.columns):
            if name not in by_name:
                problems.append(f"dedup.columns[{j}]: unknown column {name!r}{_suggest(name, names)}")

    for key in spec.prices:
        if not key:
            problems.append("prices: a price needs a backend or model name as its key")
    return problems


def _backend_problems(spec: DatasetSpec) -> list[str]:
    try:
        from perpetuum.llm.registry import available_backends
    except ImportError:  # the llm package is optional at spec-check time; get_backend reports it later
        return []
    known = list(available_backends())
    return [
        f"backends.{name}.kind: unknown backend kind {config.kind!r}{_suggest(config.kind, known)}; "
        f"available: {', '.join(known)}"
        for name, config in spec.backends.items()
        if config.kind not in known
    ]


def _validator_problems(i: int, column: ValidatorColumn) -> list[str]:
    from perpetuum.pipeline.columns.validators import ValidatorSetupError, build_validator

    try:
        build_validator(column.validator, column.options)
    except ValidatorSetupError as error:
        return [f"columns[{i}].{path or 'validator'}: {message}" for path, message in error.problems]
    return []


def _dependency_order(spec: DatasetSpec) -> list[str]:
    """Kahn's algorithm, ties broken by spec order so the order is stable; a cycle names its columns."""
    position = {column.name: i for i, column in enumerate(spec.columns)}
    needs: dict[str, set[str]] = {}
    for column in spec.columns:
        reads: set[str] = set()
        for names in _column_reads(column).values():
            reads |= names
        needs[column.name] = reads
    order: list[str] = []
    remaining = dict(needs)
    while remaining:
        ready = [name for name, reads in remaining.items() if not (reads & remaining.keys())]
        if not ready:
            cycle = _find_cycle({name: reads & remaining.keys() for name, reads in remaining.items()})
            first = min(cycle, key=position.__getitem__)
            path = " -> ".join(cycle + [cycle[0]])
            raise _SemanticErrors(
                [f"columns[{position[first]}]: dependency cycle {path}; break it by removing one of these reads"]
            )
        ready.sort(key=position.__getitem__)
        order.append(ready[0])
        del remaining[ready[0]]
    return order


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    start = min(graph)
    path: list[str] = []
    node = start
    while node not in path:
        path.append(node)
        node = min(graph[node])
    return path[path.index(node):]


# ---------------------------------------------------------------------------------------------- loading


def _format_location(location: tuple) -> str:
    parts: list[str] = []
    for i, part in enumerate(location):
        if isinstance(part, int):
            parts.append(f"[{part}]")
            continue
        # Skip union tags that pydantic adds after a list index (columns[2].sampler:category.values).
        if i > 0 and isinstance(location[i - 1], int) and location[0] in ("columns", "filters"):
            continue
        parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(spec)"


def _known_tags(prefix: str | None) -> str:
    if prefix == "sampler":
        return ", ".join(SAMPLER_TYPES)
    return ", ".join(COLUMN_KINDS)


def _format_error(error: dict) -> list[str]:
    location = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind.startswith("value_error") and isinstance(error.get("ctx", {}).get("error"), _SemanticErrors):
        return error["ctx"]["error"].problems
    path = _format_location(location)
    message = error.get("msg", "invalid")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        value = error.get("input") or {}
        if location[:1] == ("filters",):
            return [f"{path}.kind: unknown filter kind {value.get('kind')!r}; use one of score, validator, expression"]
        if not isinstance(value, dict):
            return [f"{path}: each column must be a mapping with `name` and `kind`"]
        if value.get("kind") == "sampler":
            return [f"{path}.sampler: unknown sampler {value.get('sampler')!r}; use one of {_known_tags('sampler')}"]
        if "kind" not in value:
            return [f"{path}.kind: missing; use one of {_known_tags(None)}"]
        return [f"{path}.kind: unknown column kind {value.get('kind')!r}; use one of {_known_tags(None)}"]
    if kind == "extra_forbidden":
        return [f"{path}: unknown key"]
    if kind == "missing":
        return [f"{path}: required key is missing"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return [f"{path}: {message}"]


def _spec_error(error: ValidationError, source: str) -> SpecError:
    problems: list[str] = []
    for item in error.errors():
        for line in _format_error(item):
            if line not in problems:
                problems.append(line)
    plural = "problem" if len(problems) == 1 else "problems"
    body = "\n".join(f"  {line}" for line in problems)
    return SpecError(f"invalid dataset spec{source}: {len(problems)} {plural}\n{body}")


def load_spec(source: DatasetSpec | dict | str | Path) -> DatasetSpec:
    """A validated spec from a DatasetSpec, a dict, a YAML/JSON file path, or a YAML string.

    Relative `file:` paths of word samplers are read relative to the spec file's folder.
    """
    if isinstance(source, DatasetSpec):
        return source
    where = ""
    base: Path | None = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and _looks_like_path(source)):
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"spec file {str(path)!r} does not exist; pass the path of a .yaml spec")
        where, base = f" {str(path)!r}", path.parent
        text = path.read_text(encoding="utf-8")
        data = _parse_yaml(text, where)
    elif isinstance(source, str):
        data = _parse_yaml(source, where)
    else:
        data = source
    if not isinstance(data, dict):
        raise SpecError(f"invalid dataset spec{where}: the top level must be a mapping with `name` and `columns`")
    try:
        spec = DatasetSpec.model_validate(data, context={"base": base})
    except ValidationError as error:
        raise _spec_error(error, where) from None
    for i, column in enumerate(spec.columns):
        if isinstance(column, WordsSampler) and column.file:
            if base is not None and not Path(column.file).is_absolute():
                column.file = str(base / column.file)
            if not Path(column.file).is_file():
                raise SpecError(
                    f"invalid dataset spec{where}: 1 problem\n  columns[{i}].file: word list {column.file!r} "
                    "does not exist (relative paths are read from the spec file's folder)"
                )
    return spec


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml", ".json")) or Path(text).is_file()


def _parse_yaml(text: str, where: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"spec{where} is not valid YAML{at}: {getattr(error, 'problem', error)}") from None
