"""Lineage: where a dataset came from and how many synthetic steps separate it from real data.

A later training run can read a card's `lineage` to filter or down-weight synthetic data: `synthetic` is always
true, `generation` counts how many synthetic steps lie between the data and real data (0: made from real data),
and the hashes name the exact sources.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from perpetuum.errors import ParameterError

__all__ = ["file_sha256", "folder_sha256", "check_generation", "card_paths", "parent_generation", "source_lineage"]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_generation(generation) -> int | None:
    if generation is None:
        return None
    if isinstance(generation, bool) or not isinstance(generation, (int, np.integer)) or generation < 0:
        raise ParameterError(
            f"generation must be a whole number >= 0 (0: made from real data, 1: from data of generation 0, ...); "
            f"got {generation!r}"
        )
    return int(generation)


def card_paths(output: str | Path) -> tuple[Path, Path]:
    """Where the card of a table output goes: beside it, OUTPUT_STEM.card.json and OUTPUT_STEM.card.md."""
    output = Path(output)
    name = output.name
    for suffix in (".csv.gz", ".csv", ".parquet", ".jsonl", ".json", ".txt.gz", ".txt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return output.parent / f"{name}.card.json", output.parent / f"{name}.card.md"


def parent_generation(source: str | Path | None) -> tuple[int | None, str | None]:
    """If `source` is itself Perpetuum output (a card beside it: SOURCE_STEM.card.json, or card.json in its
    folder), its generation and the card's path; else (None, None)."""
    if source is None or "://" in str(source):
        return None, None
    path = Path(source)
    candidates = [card_paths(path)[0], path / "card.json", path.parent / "card.json"] if path.exists() else []
    for candidate in candidates:
        if candidate.is_file():
            try:
                card = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            generation = (card.get("lineage") or {}).get("generation")
            if isinstance(generation, int) and generation >= 0:
                return generation, str(candidate)
    return None, None


def folder_sha256(folder: str | Path) -> str:
    """One SHA-256 over every file of a folder (names and contents, in sorted order): a saved model's identity."""
    digest = hashlib.sha256()
    folder = Path(folder)
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
        digest.update(file_sha256(path).encode("ascii"))
    return digest.hexdigest()


def source_lineage(data: str, frame, table: str | None = None, query: str | None = None) -> dict:
    """Where a table came from: the file path and its SHA-256, or a database URL with any password hidden."""
    lineage: dict = {"source": data, "rows_read": len(frame), "columns": frame.shape[1]}
    path = Path(data)
    if "://" not in data and path.is_file():
        lineage["source"] = str(path.resolve())
        lineage["sha256"] = file_sha256(path)
    elif "://" in data:
        try:
            from sqlalchemy.engine import make_url

            lineage["source"] = make_url(data).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL: keep only its scheme, never a possible password
            lineage["source"] = data.split("://", 1)[0] + "://…"
    if table:
        lineage["table"] = table
    if query:
        lineage["query"] = query
    return lineage
