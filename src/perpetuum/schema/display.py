"""Render a `TableSchema` as a rich table for the terminal."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from perpetuum.schema.schema import ColumnSpec, TableSchema


def describe_schema(schema: TableSchema, *, title: str | None = "Schema") -> Table:
    """One row per column: name, kind, dtype, missing %, distinct values, notes and the personal-identifier
    verdict with its evidence."""
    table = Table(title=title, title_justify="left")
    table.add_column("column", style="bold")
    table.add_column("kind")
    table.add_column("dtype", style="dim")
    table.add_column("missing %", justify="right")
    table.add_column("unique", justify="right")
    table.add_column("notes")
    table.add_column("personal identifier (replaced, never learned)")
    for column in schema.columns:
        table.add_row(
            column.name,
            column.kind.value,
            column.dtype,
            f"{100 * column.missing_rate:.1f}",
            f"{column.n_unique:,}",
            column_notes(column),
            pii_note(column),
        )
    return table


def column_notes(column: ColumnSpec) -> str:
    """The facts behind a column's kind that a reader should check: format, pattern, cardinality, emptiness."""
    notes = []
    if column.datetime_format:
        notes.append(f"format {column.datetime_format}")
    if column.identifier_pattern:
        notes.append(f"pattern {column.identifier_pattern}")
    if column.high_cardinality:
        notes.append("high cardinality")
    if column.missing_rate == 1.0:
        notes.append("all missing")
    elif column.n_unique == 1:
        notes.append("constant")
    return ", ".join(notes)


def pii_note(column: ColumnSpec) -> str:
    """The personal-identifier verdict and its evidence, or "" when the column is not one."""
    if column.pii is None:
        return ""
    consistent = ", consistent" if column.pii.consistent else ""
    return f"[bold]{column.pii.kind.label}[/bold]{consistent}: {escape(column.pii.evidence)}"
