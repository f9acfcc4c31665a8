"""The dataset card: one format for every dataset Perpetuum writes, tables and text alike.

- `lineage`: where the data came from (source hashes, generator, seed) and its `generation` in a synthetic loop;
- `signals`: collapse signals against the data it should resemble (tables: tails, rare categories, variances;
  text: diversity, and length and vocabulary against a reference corpus), with warnings;
- `table`: the card of a synthetic table; `text`: the card of a generation run (records, checks, tokens, cost);
- `judges`: each LLM judge of a run measured against its objective checks (AUC), and warnings on filters using one
  that is not informative;
- `writer`: the JSON + Markdown pair every card is written as.

    from perpetuum.card import table_card, write_table_card
    card = table_card(train, synthetic, synthesizer="quality", seed=0, source=source_lineage("adult.csv", train))
    write_table_card(card, "synthetic.csv")      # synthetic.card.json + synthetic.card.md
"""

from perpetuum.card.judges import judge_agreement
from perpetuum.card.lineage import (
    card_paths,
    check_generation,
    file_sha256,
    folder_sha256,
    parent_generation,
    source_lineage,
)
from perpetuum.card.signals import TEXT_THRESHOLDS, table_signals, text_signals
from perpetuum.card.table import render_table_card_markdown, table_card, write_table_card
from perpetuum.card.text import build_card, render_markdown, write_card

__all__ = [
    "TEXT_THRESHOLDS",
    "build_card",
    "card_paths",
    "check_generation",
    "file_sha256",
    "folder_sha256",
    "judge_agreement",
    "parent_generation",
    "render_markdown",
    "render_table_card_markdown",
    "source_lineage",
    "table_card",
    "table_signals",
    "text_signals",
    "write_card",
    "write_table_card",
]
