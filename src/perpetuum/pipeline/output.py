"""Writing a finished dataset: JSON Lines, Parquet, and a Hugging Face `datasets` folder (`save_to_disk`).

Parquet needs one type per column; a column whose values do not share one (a model that answered JSON objects of
different shapes) is stored as JSON text in that file, and said so in the card. The `hf` format needs the optional
`datasets` package: pip install 'perpetuum[hf-datasets]'.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perpetuum.errors import ParameterError

__all__ = ["write_jsonl", "write_parquet", "write_hf_dataset", "write_outputs", "OUTPUT_FILES"]

OUTPUT_FILES = {"jsonl": "data.jsonl", "parquet": "data.parquet", "hf": "hf_dataset"}


def write_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _arrow_table(records: list[dict[str, Any]], columns: list[str]):
    """A pyarrow table; columns pyarrow cannot type as one are JSON text. Returns (table, json_columns)."""
    import pyarrow as pa

    arrays, json_columns = [], []
    for name in columns:
        values = [record.get(name) for record in records]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arrays.append(pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values]))
            json_columns.append(name)
    if not columns:
        return pa.table({}), json_columns
    return pa.table(dict(zip(columns, arrays))), json_columns


def write_parquet(records: list[dict[str, Any]], path: Path, columns: list[str]) -> tuple[Path, list[str]]:
    import pyarrow.parquet as pq

    table, json_columns = _arrow_table(records, columns)
    pq.write_table(table, path)
    return path, json_columns


def write_hf_dataset(records: list[dict[str, Any]], path: Path, columns: list[str]) -> Path:
    try:
        import datasets
    except ImportError:
        raise ParameterError(
            "the `hf` output format needs the `datasets` package: pip install 'perpetuum[hf-datasets]', "
            "or drop `hf` from output.formats"
        ) from None
    table, _ = _arrow_table(records, columns)
    datasets.Dataset(table).save_to_disk(str(path))
    return path


def write_outputs(
    records: list[dict[str, Any]], output_dir: Path, formats: list[str], columns: list[str]
) -> tuple[dict[str, str], list[str]]:
    """Write `records` in each format; returns ({format: path}, columns stored as JSON text in Parquet/HF)."""
    written: dict[str, str] = {}
    json_columns: list[str] = []
    for kind in dict.fromkeys(formats):
        path = output_dir / OUTPUT_FILES[kind]
        if kind == "jsonl":
            write_jsonl(records, path)
        elif kind == "parquet":
            _, json_columns = write_parquet(records, path, columns)
        else:
            write_hf_dataset(records, path, columns)
        written[kind] = str(path)
    return written, json_columns
