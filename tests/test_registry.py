"""The plug-in registry shared by synthesizers, LLM backends, validator kinds and collapse generators."""

from __future__ import annotations

import sys
import types

import pytest

from perpetuum.errors import ParameterError
from perpetuum.registry import Registry


def test_names_aliases_and_the_name_attribute():
    plugins = Registry("widget")

    @plugins.register("round", "circle")
    class Round:
        pass

    assert plugins.get("round") is plugins.get("circle") is Round
    assert Round.name == "round"
    assert plugins.names() == ["round", "circle (-> round)"]


def test_an_unknown_name_lists_what_exists_with_the_hint_and_the_chosen_error():
    class SetupError(Exception):
        pass

    plugins = Registry("gadget", hint="; or write your own", error=SetupError, name_attribute=None)
    plugins.register("a")(type("A", (), {}))
    with pytest.raises(SetupError, match=r"unknown gadget 'b'; choose one of: a; or write your own"):
        plugins.get("b")
    assert not hasattr(plugins.get("a"), "name")


def test_modules_are_imported_only_when_their_name_is_asked_for(monkeypatch):
    plugins = Registry("thing", modules={"lazy": "perpetuum_test_lazy_thing", "broken": "perpetuum_no_such_module"})
    module = types.ModuleType("perpetuum_test_lazy_thing")
    imported = []

    def register_on_import():
        imported.append(True)
        plugins.register("lazy")(type("Lazy", (), {}))

    monkeypatch.setitem(sys.modules, "perpetuum_test_lazy_thing", module)
    monkeypatch.setattr("importlib.import_module", lambda name: register_on_import() or module
                        if name == "perpetuum_test_lazy_thing" else __import__(name))
    assert plugins.names() == ["broken", "lazy"] and not imported
    assert plugins.get("lazy").__name__ == "Lazy" and imported == [True]
    with pytest.raises(ParameterError, match="thing 'broken' needs perpetuum_no_such_module, which cannot be imported"):
        plugins.get("broken")
