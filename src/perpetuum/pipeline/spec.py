"""Dataset specs: the `DatasetSpec` model, YAML loading, and errors that name the offending key path.

A spec names its columns; each column has a `kind` (sampler, llm_text, llm_json, llm_judge, expression, validator,
dialogue). Columns run in dependency order, found from the names their Jinja templates read plus `depends_on`.
Every error names the key path that is wrong, e.g. ``columns[2].prompt: unknown column 'topci'``.

    spec = load_spec("examples/specs/tiny_stories.yaml")   # or a dict, a YAML string, or DatasetSpec(...)
    spec.column_order()                                      # names in execution order
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from perpetuum.errors import SpecError  # defined in errors.py; `perpetuum.pipeline.spec.SpecError` still works
from perpetuum.pipeline.spec_sources import is_named_source, resolve_spec_source
from perpetuum.pipeline.spec_models import (  # noqa: F401  (re-exported: the spec's parts)
    COLUMN_KINDS,
    SAMPLER_TYPES,
    BackendConfig,
    BudgetConfig,
    CategorySampler,
    Column,
    Criterion,
    DedupConfig,
    DialogueColumn,
    DialogueRole,
    ExecutionConfig,
    ExpressionColumn,
    ExpressionFilter,
    Filter,
    IntegerSampler,
    JudgeColumn,
    LLMJsonColumn,
    LLMTextColumn,
    ModelParams,
    MonitorRule,
    MonitorsConfig,
    NormalSampler,
    OutputConfig,
    PersonSampler,
    Price,
    RecordsSampler,
    ScoreFilter,
    SubcategorySampler,
    UniformSampler,
    ValidatorColumn,
    ValidatorFilter,
    WordsSampler,
    _Model,
)

__all__ = [
    "SpecError",
    "DatasetSpec",
    "load_spec",
    "BackendConfig",
    "ModelParams",
    "COLUMN_KINDS",
    "SAMPLER_TYPES",
]

DEFAULT_BACKEND = "default"


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
    monitors: MonitorsConfig | None = None
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
        # An unset `repair` (a key newer than some checkpoints) is left out, so a run started before it resumes.
        for column in payload["columns"]:
            for part in [column, *column.get("roles", [])]:
                if isinstance(part, dict) and part.get("repair", "set") is None:
                    del part["repair"]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @model_validator(mode="after")
    def _check_references(self):
        from perpetuum.pipeline.spec_checks import SemanticErrors, dependency_order, semantic_problems

        problems = semantic_problems(self)
        if problems:
            raise SemanticErrors(problems)
        self._order = dependency_order(self)
        return self


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
    from perpetuum.pipeline.spec_checks import SemanticErrors

    if kind.startswith("value_error") and isinstance(error.get("ctx", {}).get("error"), SemanticErrors):
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
    """A validated spec from a DatasetSpec, a dict, a YAML/JSON file path, a named spec source such as a recipe
    ("recipe:tinystories", see `perpetuum.pipeline.spec_sources`), or a YAML string.

    Relative `file:` paths of word and records samplers are read relative to the spec file's folder; so are a
    decontamination validator's relative `references` that exist there (others stay relative to the working
    directory).
    """
    if isinstance(source, DatasetSpec):
        return source
    if is_named_source(source):
        source = resolve_spec_source(source)
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
    if base is not None:
        data = _references_beside_spec(data, base)
    try:
        spec = DatasetSpec.model_validate(data, context={"base": base})
    except ValidationError as error:
        raise _spec_error(error, where) from None
    for i, column in enumerate(spec.columns):
        if isinstance(column, (WordsSampler, RecordsSampler)) and column.file:
            if base is not None and not Path(column.file).is_absolute():
                column.file = str(base / column.file)
            if not Path(column.file).is_file():
                what = "word list" if isinstance(column, WordsSampler) else "data file"
                raise SpecError(
                    f"invalid dataset spec{where}: 1 problem\n  columns[{i}].file: {what} {column.file!r} "
                    "does not exist (relative paths are read from the spec file's folder)"
                )
    return spec


def _references_beside_spec(data: dict, base: Path) -> dict:
    """`data` with each relative decontamination reference that exists in the spec's folder made absolute, before
    validation builds the validators (which check that their files exist)."""
    columns = data.get("columns")
    if not isinstance(columns, list):
        return data
    resolved = []
    for column in columns:
        references = column.get("references") if isinstance(column, dict) else None
        if _is_decontamination(column) and isinstance(references, list):
            column = {**column, "references": [
                str(base / item) if isinstance(item, str) and not Path(item).is_absolute() and (base / item).is_file()
                else item
                for item in references
            ]}
        resolved.append(column)
    return {**data, "columns": resolved}


def _is_decontamination(column: Any) -> bool:
    return isinstance(column, dict) and column.get("kind") == "validator" and column.get("validator") == "decontamination"


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
