"""Reading a generated dataset folder for review, and telling value shapes apart.

A folder written by `perpetuum generate` holds data.jsonl (or data.parquet, hf_dataset/) and card.json. The card
names each column's kind; where it is missing, the shape of the values decides:

- validator: {"passed": bool, "message": str, ...}; passed=false flags the record. A value may carry
  "flags": [{"turn", "role", "claim", "reason", "expected"}] pointing at dialogue turns (the math recipe's claim check);
- judge: {"scores": {criterion: int}, "reasons": {criterion: str}};
- dialogue: [{"role": str, "content": str}, ...]. A turn repaired automatically (verify-and-repair) carries
  "repair": {"original": the text first generated, "validator": the check that failed it, "verdict": that check's
  value on the original (passed, message, flags), "attempts": int}; its "content" is the repair. The desk shows both
  with the verdict, and the reviewer keeps the repair or reverts to the original.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpetuum.errors import DataInputError
from perpetuum.schema.readers import json_records

__all__ = [
    "Dataset",
    "ColumnInfo",
    "load_dataset",
    "find_data_file",
    "is_validator_value",
    "is_judge_value",
    "is_dialogue_value",
    "is_repair_value",
    "record_summary",
    "turn_flags",
    "column_references",
]

DATA_FILES = ("data.jsonl", "data.parquet", "hf_dataset")


@dataclass
class ColumnInfo:
    """One output column: its name, its kind from the card (or guessed from the values), and its spec entry."""

    name: str
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    folder: Path
    data_file: Path
    fingerprint: str
    card: dict[str, Any] | None
    records: list[dict[str, Any]]
    columns: list[ColumnInfo]


def is_validator_value(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("passed"), bool) and "message" in value


def is_judge_value(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("scores"), dict) and isinstance(value.get("reasons"), dict)


def is_dialogue_value(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(turn, dict) and isinstance(turn.get("role"), str) and "content" in turn for turn in value)
    )


def is_repair_value(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("original"), str)


def _guess_kind(values: list[Any]) -> str:
    present = [value for value in values if value is not None]
    if present and all(is_validator_value(value) for value in present):
        return "validator"
    if present and all(is_judge_value(value) for value in present):
        return "llm_judge"
    if present and all(is_dialogue_value(value) for value in present):
        return "dialogue"
    if present and all(isinstance(value, dict) for value in present):
        return "object"
    if present and all(isinstance(value, str) for value in present):
        return "text"
    return "value"


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _read_records(data_file: Path, card: dict[str, Any] | None) -> list[dict[str, Any]]:
    if data_file.name == "data.jsonl":
        with open(data_file, encoding="utf-8") as handle:
            return json_records(handle, data_file)
    if data_file.name == "data.parquet":
        import pyarrow.parquet as pq

        records = pq.read_table(data_file).to_pylist()
    else:
        try:
            import datasets
        except ImportError:
            raise DataInputError(
                f"{data_file.parent} has only hf_dataset/, which needs the `datasets` package: "
                "pip install 'perpetuum[hf-datasets]'"
            ) from None
        records = datasets.load_from_disk(str(data_file)).to_list()
    # Parquet and HF store columns whose values have no single type as JSON text; the card lists them.
    for name in (card or {}).get("parquet_json_columns", []):
        for record in records:
            if isinstance(record.get(name), str):
                record[name] = json.loads(record[name])
    return records


def find_data_file(folder: Path) -> Path:
    """data.jsonl, else data.parquet, else hf_dataset/ in `folder`; a DataInputError saying what to give if none."""
    if not folder.is_dir():
        raise DataInputError(f"{str(folder)!r} is not a folder; give the output folder of `perpetuum generate`.")
    data_file = next((folder / name for name in DATA_FILES if (folder / name).exists()), None)
    if data_file is None:
        raise DataInputError(
            f"{str(folder)!r} holds no data.jsonl, data.parquet or hf_dataset/; give the output folder of "
            "`perpetuum generate` (perpetuum generate SPEC -n N -o FOLDER)."
        )
    return data_file


def load_dataset(folder: str | Path, *, columns: list[ColumnInfo] | None = None) -> Dataset:
    """The records and column kinds of a generated dataset folder (data.jsonl preferred, then Parquet, then HF).

    columns: the columns as known already (a review store keeps them); the records are then not read (left
    empty), only the data file's fingerprint is taken."""
    folder = Path(folder)
    data_file = find_data_file(folder)
    card = None
    if (folder / "card.json").exists():
        try:
            card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DataInputError(f"{folder / 'card.json'} is not JSON ({error.msg}).") from None
    if columns is not None:
        return Dataset(folder, data_file, _fingerprint(data_file), card, [], columns)
    records = _read_records(data_file, card)
    return Dataset(folder, data_file, _fingerprint(data_file), card, records, _columns(card, records))


def _columns(card: dict[str, Any] | None, records: list[dict[str, Any]]) -> list[ColumnInfo]:
    names: list[str] = []
    for record in records:
        names.extend(name for name in record if name not in names)
    card_kinds = {column["name"]: column.get("kind", "") for column in (card or {}).get("columns", [])}
    specs = {column.get("name"): column for column in ((card or {}).get("spec") or {}).get("columns", [])}
    ordered = [name for name in card_kinds if name in names] + [name for name in names if name not in card_kinds]
    columns = []
    for name in ordered:
        values = [record.get(name) for record in records]
        kind = card_kinds.get(name) or _guess_kind(values)
        # The contract is the value's shape: a python validator may return extra keys, a column may be unknown.
        if kind not in {"validator", "llm_judge", "dialogue"}:
            guessed = _guess_kind(values)
            if guessed in {"validator", "llm_judge", "dialogue"}:
                kind = guessed
        columns.append(ColumnInfo(name, kind, specs.get(name, {})))
    return columns


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def column_references(spec: dict[str, Any], names: list[str]) -> list[str]:
    """The columns a validator (or any column) spec refers to: its `target`, and names used in its templates."""
    found: list[str] = []
    if isinstance(spec.get("target"), str):
        found.append(spec["target"])
    for key, value in spec.items():
        if key in {"name", "kind", "validator", "target"} or not isinstance(value, str):
            continue
        for token in _IDENTIFIER.findall(value):
            if token in names and token not in found:
                found.append(token)
    found.extend(name for name in spec.get("depends_on", []) if name in names and name not in found)
    return found


def turn_flags(record: dict[str, Any], columns: list[ColumnInfo]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """{dialogue column: {turn index: [flag, ...]}} from failed validators whose flags name a turn.

    A flag goes to the dialogue its validator refers to (target or template); otherwise to the first dialogue."""
    names = [column.name for column in columns]
    dialogues = [column.name for column in columns if is_dialogue_value(record.get(column.name))]
    found: dict[str, dict[int, list[dict[str, Any]]]] = {}
    if not dialogues:
        return found
    for column in columns:
        value = record.get(column.name)
        if not is_validator_value(value) or value["passed"] or not isinstance(value.get("flags"), list):
            continue
        referred = [name for name in column_references(column.spec, names) if name in dialogues]
        dialogue = referred[0] if referred else dialogues[0]
        for flag in value["flags"]:
            if isinstance(flag, dict) and isinstance(flag.get("turn"), int):
                found.setdefault(dialogue, {}).setdefault(flag["turn"], []).append(
                    {**flag, "validator": column.name, "stale": bool(value.get("recheck_error"))})
    return found


def record_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the queue filters and sorts on: failed validators, the lowest judge score, and a one-line preview."""
    failed = [name for name, value in record.items() if is_validator_value(value) and not value["passed"]]
    scores = [
        score
        for value in record.values()
        if is_judge_value(value)
        for score in value["scores"].values()
        if isinstance(score, (int, float)) and not isinstance(score, bool)
    ]
    return {
        "flagged": failed,
        "min_score": min(scores) if scores else None,
        "preview": _preview(record),
        "note": _flag_note(record, failed),
    }


def _flag_note(record: dict[str, Any], failed: list[str]) -> str:
    """Why the record is flagged, in one line: the first failing claim, else the first failed validator's message."""
    for name in failed:
        for flag in record[name].get("flags") or []:
            if isinstance(flag, dict) and (flag.get("claim") or flag.get("reason")):
                where = f"turn {flag['turn']}: " if isinstance(flag.get("turn"), int) else ""
                text = " — ".join(str(flag[key]) for key in ("claim", "reason") if flag.get(key))
                return _clip(f"{name}, {where}{text}")
    for name in failed:
        if record[name].get("message"):
            return _clip(f"{name}: {record[name]['message']}")
    return ""


def _clip(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Short values under these names say what a record is about; the queue's preview starts with them.
_LABEL_KEYS = ("topic", "subtopic", "subject", "category", "genre", "theme", "skill", "operation", "difficulty",
               "level", "title")


def _labels(record: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def look(value: Any, depth: int) -> None:
        if not isinstance(value, dict) or depth > 1 or is_validator_value(value) or is_judge_value(value):
            return
        for key in _LABEL_KEYS:
            item = value.get(key)
            if isinstance(item, str) and 0 < len(item) <= 60 and item not in found:
                found.append(" ".join(item.split()))
        for item in value.values():
            look(item, depth + 1)

    look(record, 0)
    return found[:3]


def _preview(record: dict[str, Any], limit: int = 140) -> str:
    """What the record is: its topic-like labels, then the first line of its first text ("algebra · Apples · ...")."""
    labels = _labels(record)
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if len(value.split()) >= 3:
                texts.append(value)
        elif isinstance(value, dict) and not is_validator_value(value) and not is_judge_value(value):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item.get("content") if is_dialogue_value([item]) else item)

    for value in record.values():
        walk(value)
        if texts:
            break
    first_line = next((line for line in texts[0].splitlines() if line.strip()), "") if texts else ""
    if not labels and not first_line:
        return _clip(json.dumps(record, ensure_ascii=False), limit)
    return _clip(" · ".join([*labels, first_line] if first_line else labels), limit)
