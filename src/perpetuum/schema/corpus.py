"""Text corpora: a file of documents (.txt or .txt.gz) read into a list of texts.

    documents = read_corpus("stories.txt.gz")   # split on "<|endoftext|>" lines when present, else on blank lines
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from perpetuum.errors import DataInputError

__all__ = ["read_corpus", "split_documents", "SEPARATOR"]

SEPARATOR = "<|endoftext|>"


def read_corpus(path: str | Path, limit: int | None = None) -> list[str]:
    """Documents from a text file (.txt or .txt.gz): split on lines "<|endoftext|>" when present, else on blank
    lines; whitespace stripped, empty documents dropped. `limit` keeps the first documents only."""
    path = Path(path)
    if not path.is_file():
        raise DataInputError(f"text corpus {str(path)!r} does not exist; pass a .txt or .txt.gz file of documents")
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise DataInputError(f"cannot read text corpus {str(path)!r}: {error}") from None
    documents = split_documents(text)
    if len(documents) < 4:
        raise DataInputError(
            f"text corpus {str(path)!r} holds {len(documents)} document(s); the lab needs several (separate them "
            f"with a line {SEPARATOR} or a blank line)"
        )
    return documents[:limit] if limit else documents


def split_documents(text: str) -> list[str]:
    """The documents of `text`: split on lines "<|endoftext|>" when present, else on blank lines; whitespace
    stripped, empty documents dropped."""
    parts = text.split(SEPARATOR) if SEPARATOR in text else re.split(r"\n\s*\n", text)
    return [part.strip() for part in parts if part.strip()]
