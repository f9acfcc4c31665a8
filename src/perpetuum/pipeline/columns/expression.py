"""`expression` columns: a Jinja template rendered with the record, optionally cast to a number, bool or JSON."""

from __future__ import annotations

import json

from perpetuum.errors import GenerationError
from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.spec import ExpressionColumn
from perpetuum.pipeline.templates import render

__all__ = ["ExpressionRunner", "is_true"]

TRUE_WORDS = {"true", "yes", "1", "y", "on"}
FALSE_WORDS = {"false", "no", "0", "n", "off", ""}


def is_true(text: str) -> bool | None:
    """True/False for the usual words, None for anything else."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


class ExpressionRunner(ColumnRunner):
    column: ExpressionColumn

    async def compute(self, record, context):
        text = render(self.column.template, record)
        cast = self.column.cast
        try:
            if cast == "str":
                return text
            if cast == "int":
                return int(float(text.strip()))
            if cast == "float":
                return float(text.strip())
            if cast == "json":
                return json.loads(text)
            value = is_true(text)
            if value is None:
                raise ValueError("not a true/false word")
            return value
        except ValueError as error:
            raise GenerationError(
                f"expression column {self.name!r} rendered {text[:80]!r}, which is not a valid {cast}: {error}"
            ) from None
