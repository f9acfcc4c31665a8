"""Synthesizers are found by name, so users can add their own without editing Perpetuum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpetuum.errors import ParameterError

if TYPE_CHECKING:
    from perpetuum.tabular.base import Synthesizer

_SYNTHESIZERS: dict[str, type["Synthesizer"]] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, *aliases: str):
    """Class decorator: make a Synthesizer subclass available as `name` (and its aliases)."""

    def decorate(cls):
        cls.name = name
        _SYNTHESIZERS[name] = cls
        for alias in aliases:
            _ALIASES[alias] = name
        return cls

    return decorate


def get_synthesizer(name: str) -> type["Synthesizer"]:
    """The synthesizer class registered under `name` or one of its aliases."""
    import perpetuum.tabular  # noqa: F401  (registers the built-in synthesizers)

    key = _ALIASES.get(name, name)
    if key not in _SYNTHESIZERS:
        raise ParameterError(
            f"unknown synthesizer {name!r}; choose one of: {', '.join(available_synthesizers())}"
        )
    return _SYNTHESIZERS[key]


def available_synthesizers() -> list[str]:
    """Registered names, then aliases written as 'alias (-> name)'."""
    import perpetuum.tabular  # noqa: F401

    return sorted(_SYNTHESIZERS) + [f"{alias} (-> {target})" for alias, target in sorted(_ALIASES.items())]
