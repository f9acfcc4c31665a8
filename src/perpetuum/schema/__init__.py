"""Read sources and describe their columns."""

from perpetuum.schema.schema import ColumnKind, ColumnSpec, TableSchema

__all__ = ["ColumnKind", "ColumnSpec", "TableSchema"]
