"""Synthesizers are found by name, so users can add their own without editing Perpetuum: register a class in code
(`@register("mine")`) or, from a package, in the entry-point group `perpetuum.synthesizers` ("mine = module:Class"),
and `--model mine` reaches it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpetuum.registry import Registry
from perpetuum.tabular.persistence import read_model, restore_synthesizer

if TYPE_CHECKING:
    from perpetuum.tabular.base import Synthesizer

# importing perpetuum.tabular registers the built-in synthesizers
SYNTHESIZERS = Registry("synthesizer", preload=("perpetuum.tabular",), entry_point_group="perpetuum.synthesizers")


def register(name: str, *aliases: str):
    """Class decorator: make a Synthesizer subclass available as `name` (and its aliases)."""
    return SYNTHESIZERS.register(name, *aliases)


def get_synthesizer(name: str) -> type["Synthesizer"]:
    """The synthesizer class registered under `name` or one of its aliases."""
    return SYNTHESIZERS.get(name)


def available_synthesizers() -> list[str]:
    """Registered names, then aliases written as 'alias (-> name)'."""
    return SYNTHESIZERS.names()


def load_synthesizer(path) -> "Synthesizer":
    """A fitted synthesizer from a folder written by `Synthesizer.save`, as the class registered under the name the
    folder records."""
    document = read_model(path)
    return restore_synthesizer(get_synthesizer(document["synthesizer"]), document, path)
