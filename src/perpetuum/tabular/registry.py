"""Synthesizers are found by name, so users can add their own without editing Perpetuum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpetuum.registry import Registry

if TYPE_CHECKING:
    from perpetuum.tabular.base import Synthesizer

# importing perpetuum.tabular registers the built-in synthesizers
SYNTHESIZERS = Registry("synthesizer", preload=("perpetuum.tabular",))


def register(name: str, *aliases: str):
    """Class decorator: make a Synthesizer subclass available as `name` (and its aliases)."""
    return SYNTHESIZERS.register(name, *aliases)


def get_synthesizer(name: str) -> type["Synthesizer"]:
    """The synthesizer class registered under `name` or one of its aliases."""
    return SYNTHESIZERS.get(name)


def available_synthesizers() -> list[str]:
    """Registered names, then aliases written as 'alias (-> name)'."""
    return SYNTHESIZERS.names()
