"""Output files of the table workflow: the format an extension names, writing a table, and the paths of the card
and the report beside it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from perpetuum.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OUTPUT_FORMATS", "output_format", "output_stem", "report_paths", "write_table"]

OUTPUT_FORMATS = (".csv", ".csv.gz", ".parquet", ".jsonl")


def output_format(path: str | Path) -> str:
    """The output format named by the file extension; raises before any slow work when it is not supported."""
    path = Path(path)
    name = path.name.lower()
    for suffix in sorted(OUTPUT_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise ParameterError(
        f"cannot tell which format to write {str(path)!r} in from its extension; "
        f"use one of {', '.join(OUTPUT_FORMATS)} (for example -o synthetic.parquet)."
    )


def output_stem(path: str | Path) -> str:
    """The output file's name without its format extension ("synthetic.csv.gz" -> "synthetic")."""
    path = Path(path)
    return path.name[: -len(output_format(path))]


def report_paths(output: str | Path) -> tuple[Path, Path]:
    """Where the evaluation report of a table output goes: OUTPUT_STEM.report.html and OUTPUT_STEM.report.json."""
    output = Path(output)
    stem = output.parent / output_stem(output)
    return Path(f"{stem}.report.html"), Path(f"{stem}.report.json")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` in the format its extension names (.csv, .csv.gz, .parquet, .jsonl), creating parent folders."""
    path = Path(path)
    suffix = output_format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix in (".csv", ".csv.gz"):
            frame.to_csv(path, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True, date_format="iso")
    except OSError as error:
        raise ParameterError(
            f"cannot write {str(path)!r}: {error.strerror or error}. Choose a folder you can write to with -o."
        ) from None
    return path
