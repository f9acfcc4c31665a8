"""Named plug-ins: synthesizers, LLM backends, validator kinds and collapse generators are all found by name, so users
add their own without editing Perpetuum.

    SYNTHESIZERS = Registry("synthesizer", preload=("perpetuum.tabular",))

    @SYNTHESIZERS.register("copula", "gaussian_copula")      # a name, then any aliases
    class GaussianCopula(Synthesizer): ...

    SYNTHESIZERS.get("gaussian_copula")                      # -> GaussianCopula
    SYNTHESIZERS.names()                                     # ["copula", ..., "gaussian_copula (-> copula)"]

A name is looked up among the registered classes and their aliases, then in `modules` (a name whose module registers
it when imported, so heavy dependencies load only when asked for), then in the package entry-point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from perpetuum.errors import ParameterError

__all__ = ["Registry"]


class Registry:
    """Classes registered under names (and aliases) for one kind of plug-in.

    kind: what the names are of, for messages ("LLM backend"). modules: {name: module that registers it on import}.
    preload: modules imported before any lookup or listing (they register the built-ins). entry_point_group: a
    package entry-point group whose entries ("name = module:Class") are registered when first asked for.
    name_attribute: the class attribute set to the registered name (None: leave the class alone). hint: appended to
    the unknown-name message. error: builds the exception raised for an unknown name or a module that fails to import.
    """

    def __init__(
        self,
        kind: str,
        *,
        modules: dict[str, str] | None = None,
        preload: Iterable[str] = (),
        entry_point_group: str | None = None,
        name_attribute: str | None = "name",
        hint: str = "",
        error: Callable[[str], Exception] = ParameterError,
    ) -> None:
        self.kind = kind
        self.modules = dict(modules or {})
        self.preload = tuple(preload)
        self.entry_point_group = entry_point_group
        self.name_attribute = name_attribute
        self.hint = hint
        self.error = error
        self._classes: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[Any], Any]:
        """Class decorator: make the class available as `name` and as each alias."""

        def decorate(cls):
            self.add(name, cls, *aliases)
            return cls

        return decorate

    def add(self, name: str, cls: Any, *aliases: str) -> None:
        if self.name_attribute:
            setattr(cls, self.name_attribute, name)
        self._classes[name] = cls
        for alias in aliases:
            self._aliases[alias] = name

    def get(self, name: str) -> Any:
        """The class registered as `name` or an alias of it; the error lists the names that exist."""
        self._load_built_ins()
        key = self._aliases.get(name, name)
        if key not in self._classes and key in self.modules:
            try:
                importlib.import_module(self.modules[key])
            except ImportError as problem:
                raise self.error(
                    f"{self.kind} {name!r} needs {self.modules[key]}, which cannot be imported ({problem})"
                ) from None
        if key not in self._classes:
            for entry_point in self._entry_points():
                if entry_point.name == key:
                    self.add(key, entry_point.load())
        if key not in self._classes:
            raise self.error(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}{self.hint}")
        return self._classes[key]

    def names(self) -> list[str]:
        """Registered, importable and entry-point names, sorted, then aliases written as 'alias (-> name)'."""
        self._load_built_ins()
        names = set(self._classes) | set(self.modules) | {entry_point.name for entry_point in self._entry_points()}
        return sorted(names) + [f"{alias} (-> {target})" for alias, target in sorted(self._aliases.items())]

    def _load_built_ins(self) -> None:
        for module in self.preload:
            importlib.import_module(module)

    def _entry_points(self):
        return entry_points(group=self.entry_point_group) if self.entry_point_group else ()
