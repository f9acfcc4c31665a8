"""The collapse guard's parts live in `perpetuum.card` (lineage, collapse signals, the table card); this name is
kept for existing imports."""

from perpetuum.card.lineage import (  # noqa: F401
    card_paths,
    check_generation,
    file_sha256,
    folder_sha256,
    parent_generation,
)
from perpetuum.card.signals import TEXT_THRESHOLDS, table_signals, text_signals  # noqa: F401
from perpetuum.card.table import render_table_card_markdown, table_card, write_table_card  # noqa: F401

__all__ = ["table_signals", "text_signals", "table_card", "write_table_card", "render_table_card_markdown",
           "card_paths", "file_sha256", "folder_sha256", "parent_generation", "check_generation", "TEXT_THRESHOLDS"]
