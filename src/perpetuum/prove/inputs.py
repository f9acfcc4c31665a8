"""Texts for `perpetuum prove`: a generated dataset folder (its data.jsonl), a JSON Lines file, or a text file of
documents (one per blank-line-separated block, or separated by lines <|endoftext|>); .gz works for the files.

    stories = read_texts("out/tinystories")               # the `story` field of each record
    real = read_texts("real.txt")
"""

from __future__ import annotations

import gzip
from pathlib import Path

from perpetuum.errors import DataInputError
from perpetuum.schema.corpus import split_documents
from perpetuum.schema.readers import json_records

__all__ = ["read_texts", "read_records"]

TEXT_FIELDS = ("story", "text", "content")


def _read(path: Path) -> str:
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise DataInputError(f"cannot read {str(path)!r}: {error}") from None


def _dataset_file(path: Path) -> Path:
    if path.is_dir():
        found = path / "data.jsonl"
        if not found.is_file():
            raise DataInputError(f"{str(path)!r} is a folder without data.jsonl; pass a folder written by "
                                 "`perpetuum generate`, a .jsonl file, or a text file of documents")
        return found
    if not path.is_file():
        raise DataInputError(f"{str(path)!r} does not exist; pass a generated dataset folder, a .jsonl file or a "
                             "text file of documents")
    return path


def read_records(path: str | Path) -> list[dict]:
    """The records of a generated dataset folder or a JSON Lines file."""
    path = _dataset_file(Path(path))
    # Only "\n" ends a line: str.splitlines would also split at U+2028 and other separators a JSON string may hold.
    records = json_records(_read(path).split("\n"), path)
    if not records:
        raise DataInputError(f"{str(path)!r} holds no records")
    return records


def read_texts(path: str | Path, field: str | None = None) -> list[str]:
    """The documents of `path`, whitespace stripped, empty ones dropped. For records: `field` (default: the first
    of story, text, content that the records have)."""
    path = Path(path)
    source = _dataset_file(path)
    if path.is_dir() or source.name.endswith((".jsonl", ".jsonl.gz")):
        records = read_records(source)
        name = field or next((candidate for candidate in TEXT_FIELDS if candidate in records[0]), None)
        if name is None:
            raise DataInputError(f"the records of {str(source)!r} have none of the fields {', '.join(TEXT_FIELDS)}; "
                                 f"name the text field (fields: {', '.join(records[0])})")
        texts = [str(record[name]).strip() for record in records if isinstance(record.get(name), str)]
    else:
        texts = split_documents(_read(source))
    texts = [text for text in texts if text]
    if not texts:
        raise DataInputError(f"{str(source)!r} holds no texts")
    return texts
