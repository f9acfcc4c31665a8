"""Read sources and describe their columns."""

from perpetuum.schema.display import describe_schema
from perpetuum.schema.infer import infer_schema
from perpetuum.schema.readers import read_table
from perpetuum.schema.schema import ColumnKind, ColumnSpec, TableSchema

__all__ = ["ColumnKind", "ColumnSpec", "TableSchema", "describe_schema", "infer_schema", "read_table"]
