"""Word-level differences between two versions of a value, as escaped HTML with <del> and <ins>.

Text is compared word by word (spaces and punctuation are tokens of their own, so "13," -> "12," marks only the
number); any other value is compared as its indented JSON.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from markupsafe import Markup, escape

__all__ = ["word_diff", "as_text"]

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def as_text(value: Any) -> str:
    """A value as the text a reviewer reads: strings as they are, anything else as indented JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def word_diff(before: Any, after: Any) -> Markup:
    """HTML of `after` with the words removed since `before` in <del> and those added in <ins>."""
    old, new = _TOKEN.findall(as_text(before)), _TOKEN.findall(as_text(after))
    parts: list[str] = []
    for operation, old_start, old_end, new_start, new_end in difflib.SequenceMatcher(None, old, new,
                                                                                       autojunk=False).get_opcodes():
        removed, added = "".join(old[old_start:old_end]), "".join(new[new_start:new_end])
        if operation == "equal":
            parts.append(str(escape(added)))
            continue
        if removed:
            parts.append(f"<del>{escape(removed)}</del>")
        if added:
            parts.append(f"<ins>{escape(added)}</ins>")
    return Markup("".join(parts))
