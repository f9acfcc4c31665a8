"""One writer for every dataset card: the card as JSON (for machines) and Markdown (for people), side by side."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from perpetuum.errors import ParameterError

__all__ = ["write_card_files", "finite", "three_decimals"]


def finite(value):
    """`value` with NaN and infinities as None and numpy scalars as Python numbers, so the card is valid JSON."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def write_card_files(card: dict, json_path: Path, markdown_path: Path, render: Callable[[dict], str]) -> dict[str, str]:
    """Write `card` to `json_path` and its Markdown (`render(card)`) to `markdown_path`; returns both paths."""
    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        markdown_path.write_text(render(card), encoding="utf-8")
    except OSError as error:
        raise ParameterError(f"cannot write the dataset card {str(json_path)!r}: {error.strerror or error}") from None
    return {"card_json": str(json_path), "card_markdown": str(markdown_path)}


def three_decimals(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
