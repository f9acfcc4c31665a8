"""Writing untrusted text (a model's output, a reviewer's reason or name) into Markdown that may be rendered as HTML.

Markdown passes raw HTML through, so `<img src=x onerror=...>` in a card would run in any viewer that renders HTML;
link and emphasis syntax would reshape the card. `markdown_text` makes a value inert and keeps it on one line, so it
cannot end a table cell or a list item either.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["markdown_text"]

# Intraword underscores (snake_case names) make no emphasis, so they stay as they are.
_PUNCTUATION = re.compile(r"([\\`*\[\]|~#]|(?<!\w)_|_(?!\w))")


def markdown_text(value: Any) -> str:
    """`value` as Markdown that renders as exactly its text: HTML characters as entities, Markdown punctuation
    backslash-escaped, line breaks as spaces."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PUNCTUATION.sub(r"\\\1", text)
