"""Decontamination: find generated records that share a long n-gram (13 words by default, as in the GPT-3 and
phi-1 papers) with a benchmark or any text the user names, so that test problems do not leak into training data.

Text and code are normalized the same way: case folded, then split into identifier/word tokens and numbers, so
punctuation, whitespace, indentation and quoting differences do not hide a copy.

    index = NgramIndex.from_files(["HumanEval.jsonl.gz"])         # .jsonl/.json (every string value), else text
    index.shared_ngrams("def has_close_elements(numbers, ...")     # [(the 13 words, source), ...]
    contamination(texts, index)                                     # {"checked", "contaminated", "rate", ...}

As a spec validator (the `decontamination` kind), it passes clean records and fails contaminated ones:

    - name: not_contaminated
      kind: validator
      validator: decontamination
      template: "{{ solution }}\\n{{ tests }}\\n{{ passage }}"
      references: [benchmarks/HumanEval.jsonl.gz]   # paths relative to the working directory
      n: 13

`generate(spec, n, out, decontaminate=["HumanEval.jsonl.gz"])` (`perpetuum generate --decontaminate FILE`) adds
files to every such validator of the spec (`add_references`), so a shipped recipe can be checked against any file
without editing it; the card's spec then names them. Files listed in the environment variable
PERPETUUM_DECONTAMINATION_REFERENCES (separated by the path separator, ":" on Linux) are added too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field

from perpetuum.pipeline.columns.validators import Validator, ValidatorSetupError, register_validator

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "NgramIndex",
    "DecontaminationValidator",
    "add_references",
    "contamination",
    "normalized_tokens",
    "read_reference_texts",
    "text_of",
]

ENVIRONMENT_VARIABLE = "PERPETUUM_DECONTAMINATION_REFERENCES"
DEFAULT_N = 13
_TOKEN = re.compile(r"[^\W\d]\w*|\d+", re.UNICODE)


def normalized_tokens(text: str) -> list[str]:
    """Case-folded word/identifier tokens and numbers; everything else (punctuation, spacing) is dropped."""
    return _TOKEN.findall(text.casefold())


def text_of(value: Any) -> str:
    """Every string inside a value (mappings and lists included), one per line."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(text_of(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return "\n".join(text_of(item) for item in value)
    return "" if value is None else str(value)


def _key(gram: tuple[str, ...] | list[str]) -> int:
    return int.from_bytes(hashlib.blake2b(" ".join(gram).encode("utf-8"), digest_size=8).digest(), "little")


def read_reference_texts(path: str | Path) -> list[tuple[str, str]]:
    """(label, text) pairs of a reference file: one per JSON line or JSON list item, else the whole file.

    Gzip-compressed files (.gz) are read transparently. Labels look like "HumanEval.jsonl.gz#17"."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        content = handle.read()
    stem = path.name.removesuffix(".gz")
    if stem.endswith(".jsonl"):
        # Split at "\n" only: splitlines() also breaks at U+2028, which JSON strings may hold unescaped.
        items = [json.loads(line) for line in content.split("\n") if line.strip()]
        return [(f"{path.name}#{i}", text_of(item)) for i, item in enumerate(items)]
    if stem.endswith(".json"):
        data = json.loads(content)
        items = data if isinstance(data, list) else [data]
        return [(f"{path.name}#{i}", text_of(item)) for i, item in enumerate(items)]
    return [(path.name, content)]


class NgramIndex:
    """The set of n-grams (hashed to 64 bits) of reference texts, each remembering one text it came from."""

    def __init__(self, n: int = DEFAULT_N) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of tokens; got {n!r}")
        self.n = n
        self._sources: dict[int, str] = {}
        self.texts = 0

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], n: int = DEFAULT_N) -> NgramIndex:
        index = cls(n)
        for path in paths:
            for label, text in read_reference_texts(path):
                index.add(text, label)
        return index

    def add(self, text: str, source: str = "") -> None:
        tokens = normalized_tokens(text)
        self.texts += 1
        for start in range(len(tokens) - self.n + 1):
            self._sources.setdefault(_key(tokens[start : start + self.n]), source)

    def __len__(self) -> int:
        return len(self._sources)

    def shared_ngrams(self, text: str) -> list[tuple[str, str]]:
        """Each distinct n-gram of `text` found in the references, as (its words, the reference it came from)."""
        tokens = normalized_tokens(text)
        found: dict[int, tuple[str, str]] = {}
        for start in range(len(tokens) - self.n + 1):
            gram = tokens[start : start + self.n]
            key = _key(gram)
            if key in self._sources and key not in found:
                found[key] = (" ".join(gram), self._sources[key])
        return list(found.values())


def contamination(texts: Iterable[str], index: NgramIndex, min_shared: int = 1) -> dict[str, Any]:
    """How many texts share at least `min_shared` n-grams with the index. Range of `rate`: 0 (clean) to 1; lower is
    better. `examples` holds up to 10 (text position, shared n-gram, reference) triples."""
    checked = contaminated = 0
    examples = []
    for position, text in enumerate(texts):
        checked += 1
        shared = index.shared_ngrams(text)
        if len(shared) >= min_shared:
            contaminated += 1
            if len(examples) < 10:
                examples.append({"text": position, "ngram": shared[0][0], "reference": shared[0][1]})
    return {
        "checked": checked,
        "contaminated": contaminated,
        "rate": contaminated / checked if checked else 0.0,
        "n": index.n,
        "reference_ngrams": len(index),
        "examples": examples,
    }


_cache: dict[tuple, NgramIndex] = {}
_cache_lock = threading.Lock()


def _cached_index(paths: list[Path], n: int) -> NgramIndex:
    key = (n, tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in paths))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = NgramIndex.from_files(paths, n)
        return _cache[key]


def _environment_references() -> list[str]:
    return [part for part in os.environ.get(ENVIRONMENT_VARIABLE, "").split(os.pathsep) if part.strip()]


@register_validator("decontamination")
class DecontaminationValidator(Validator):
    """Fails a record whose text shares `min_shared` or more n-grams with any reference file."""

    depends_on_run = True  # the references may come from $PERPETUUM_DECONTAMINATION_REFERENCES

    class Options(Validator.Options):
        references: list[str] = Field(default_factory=list, description="Reference files (benchmarks, held-out).")
        n: int = Field(default=DEFAULT_N, ge=3, le=100, description="Tokens per n-gram.")
        min_shared: int = Field(default=1, ge=1, description="Shared n-grams that make a record contaminated.")
        use_environment: bool = Field(default=True, description=f"Also read the files in ${ENVIRONMENT_VARIABLE}.")

    def __init__(self, options) -> None:
        super().__init__(options)
        named = list(options.references) + (_environment_references() if options.use_environment else [])
        paths = []
        for position, name in enumerate(named):
            path = Path(name).expanduser()
            if not path.is_file():
                where = f"references[{position}]" if position < len(options.references) else ENVIRONMENT_VARIABLE
                raise ValidatorSetupError(f"reference file {name!r} does not exist", where)
            paths.append(path)
        try:
            self.index = _cached_index(paths, options.n)
        except (OSError, ValueError) as error:
            raise ValidatorSetupError(f"cannot read the reference files: {error}", "references") from None
        self.references = [path.name for path in paths]

    def check(self, value, record):
        if not self.references:
            return {"passed": True, "message": "clean: no reference files given", "shared_ngrams": 0}
        shared = self.index.shared_ngrams(text_of(value))
        if len(shared) >= self.options.min_shared:
            words, source = shared[0]
            return {
                "passed": False,
                "message": f"contaminated: shares {len(shared)} {self.options.n}-gram(s) with {source} "
                f"(e.g. {words[:120]!r})",
                "shared_ngrams": len(shared),
            }
        return {
            "passed": True,
            "message": f"clean: no {self.options.n}-gram shared with {', '.join(self.references)}",
            "shared_ngrams": len(shared),
        }


def add_references(spec, files: Iterable[str | Path]):
    """A copy of `spec` whose every decontamination validator also checks against `files`; ParameterError when a
    file is missing or the spec has no decontamination validator to give them to."""
    from perpetuum.errors import ParameterError

    paths = [Path(file) for file in files]
    for path in paths:
        if not path.is_file():
            raise ParameterError(f"decontaminate: {path}: no such file")
    spec = spec.model_copy(deep=True)
    columns = [column for column in spec.columns if getattr(column, "validator", None) == "decontamination"]
    if not columns:
        raise ParameterError(
            f"decontaminate: the spec {spec.name!r} has no decontamination validator to give the files to; add a "
            "column {kind: validator, validator: decontamination, target: COLUMN}"
        )
    for column in columns:
        # `references` is the validator's option, kept among the column's extra keys (`column.options`).
        options = column.__pydantic_extra__
        options["references"] = list(options.get("references", [])) + [str(path.resolve()) for path in paths]
    return spec
