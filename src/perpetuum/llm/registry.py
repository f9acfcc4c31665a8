"""Backends are found by name, so users can add their own without editing Perpetuum.

Built-in backends are imported only when asked for (`hf` needs torch, which most users do not install). Third-party
packages can register backends through the entry-point group `perpetuum.llm_backends` (name = "module:Class"), or
by calling `register_backend` at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perpetuum.errors import ParameterError
from perpetuum.registry import Registry

if TYPE_CHECKING:
    from perpetuum.llm.base import Backend

ENTRY_POINT_GROUP = "perpetuum.llm_backends"
DEFAULT_BACKEND = "embedded"

# Built-in backends register themselves when their module is imported, which happens on first use.
BACKENDS = Registry(
    "LLM backend",
    modules={
        "embedded": "perpetuum.llm.embedded",
        "openai": "perpetuum.llm.openai_compatible",
        "hf": "perpetuum.llm.huggingface",
    },
    entry_point_group=ENTRY_POINT_GROUP,
)


def register_backend(name: str):
    """Class decorator: make a Backend subclass available to `get_backend(name)`."""
    return BACKENDS.register(name)


def get_backend_class(name: str) -> type["Backend"]:
    """The Backend class registered as `name` (built-in, entry point, or registered in code)."""
    return BACKENDS.get(name)


def get_backend(name: str = DEFAULT_BACKEND, **config) -> "Backend":
    """A new backend instance: `get_backend("openai", base_url=..., model=...)`. Config keys are the class's
    `__init__` arguments; an unknown key raises ParameterError naming the accepted ones."""
    cls = get_backend_class(name)
    try:
        return cls(**config)
    except TypeError as error:
        import inspect

        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ParameterError(
            f"backend {name!r} got invalid configuration {sorted(config)} ({error}); it accepts: {', '.join(accepted)}"
        ) from error


def available_backends() -> list[str]:
    """Names of the built-in, entry-point and code-registered backends."""
    return BACKENDS.names()
