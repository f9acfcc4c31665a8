"""Named spec sources: a string `PREFIX:NAME` that stands for a spec file, such as "recipe:tinystories".

The pipeline knows no prefix itself: a package registers a resolver (NAME -> path of the spec file) under its
prefix, in code or through the entry-point group `perpetuum.spec_sources` ("prefix = module:function").

    @register_spec_source("team")
    def team_spec(name: str) -> Path:
        return Path("/shared/specs") / f"{name}.yaml"

    load_spec("team:support_dialogues")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from perpetuum.errors import SpecError
from perpetuum.registry import Registry

__all__ = ["SPEC_SOURCES", "is_named_source", "register_spec_source", "resolve_spec_source"]

SPEC_SOURCES = Registry(
    "spec source",
    # The shipped recipes are a spec source like any other; their package registers it when first asked for.
    modules={"recipe": "perpetuum.recipes"},
    entry_point_group="perpetuum.spec_sources",
    name_attribute=None,
    error=SpecError,
)


def register_spec_source(prefix: str) -> Callable[[Callable[[str], Path]], Callable[[str], Path]]:
    """Decorator: make `PREFIX:NAME` strings load the spec file that the decorated function returns for NAME."""
    return SPEC_SOURCES.register(prefix)


def is_named_source(source: object) -> bool:
    """True for a one-line string whose text before the first ":" is a registered prefix ("recipe:tinystories")."""
    if not isinstance(source, str) or "\n" in source or ":" not in source:
        return False
    prefix = source.partition(":")[0]
    return bool(prefix) and prefix in SPEC_SOURCES.names()


def resolve_spec_source(source: str) -> Path:
    """The spec file that `PREFIX:NAME` stands for."""
    prefix, _, name = source.partition(":")
    return Path(SPEC_SOURCES.get(prefix)(name))
