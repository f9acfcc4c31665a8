"""Reading the data files a `records` sampler draws from: JSON Lines (one object a line) or CSV with a header, either
optionally gzip-compressed. Every problem is a SpecError naming the file and, where there is one, the line."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

from perpetuum.errors import SpecError

__all__ = ["read_records"]


def read_records(path: str | Path, fields: list[str] | None = None) -> list[dict[str, Any]]:
    """The records of `path` in file order, each reduced to `fields` when given (every record must have them)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"data file {str(path)!r} does not exist")
    text = _read_text(path)
    is_csv = path.name.lower().removesuffix(".gz").endswith(".csv")
    numbered = _csv_records(path, text) if is_csv else _jsonl_records(path, text)
    if not numbered:
        raise SpecError(f"data file {str(path)!r} holds no records")
    if fields is None:
        return [record for _, record in numbered]
    records = []
    for line, record in numbered:
        missing = [name for name in fields if name not in record]
        if missing:
            raise SpecError(
                f"{path}, line {line}: no field {', '.join(map(repr, missing))}; the record has "
                f"{', '.join(map(repr, record)) or 'no fields'}"
            )
        records.append({name: record[name] for name in fields})
    return records


def _read_text(path: Path) -> str:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix.lower() == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise SpecError(f"cannot read data file {str(path)!r}: {error}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SpecError(f"{path}, line {line}: not UTF-8 text ({error.reason})") from None


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict]]:
    records = []
    # Only "\n" ends a line: str.splitlines would also split at U+2028 and other separators a JSON string may hold.
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise SpecError(f"{path}, line {line_number}: not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(value, dict):
            raise SpecError(f"{path}, line {line_number}: each line must be a JSON object; got {type(value).__name__}")
        records.append((line_number, value))
    return records


def _csv_records(path: Path, text: str) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as error:
        raise SpecError(f"{path}, line 1: not valid CSV ({error})") from None
    if len(set(header)) != len(header) or not all(name.strip() for name in header):
        raise SpecError(f"{path}, line 1: the header needs distinct, non-empty column names; got {header}")
    records = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise SpecError(f"{path}, line {reader.line_num}: {len(row)} fields where the header has {len(header)}")
            records.append((reader.line_num, dict(zip(header, row))))
    except csv.Error as error:
        raise SpecError(f"{path}, line {reader.line_num}: not valid CSV ({error})") from None
    return records
