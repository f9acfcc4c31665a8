"""The one small interface every model backend implements (see `registry.py` for finding them by name).

A backend is async: `chat`, `complete`, `chat_many`, `aclose`. Sampling settings travel in `GenerationParams`;
every call returns a `Completion` with the text, token usage and wall time, so the executor can report tokens/s
and cost without knowing which backend ran.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from perpetuum.errors import ParameterError

ROLES = ("system", "user", "assistant", "tool")

# Settings that never change an answer, left out of `Backend.cache_identity` (a key must not hold a secret either).
_NOT_IN_IDENTITY = frozenset({"api_key", "timeout", "max_retries", "max_concurrency"})


@dataclass
class GenerationParams:
    """Sampling settings of one request. `seed=None` lets the backend choose; `stop` strings end the text early."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None
    stop: list[str] | None = None

    def check(self) -> "GenerationParams":
        """Raise ParameterError naming the first value out of range; return self."""
        if not self.temperature >= 0:
            raise ParameterError(f"temperature must be >= 0 (0 means greedy), got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ParameterError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ParameterError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            raise ParameterError(f"seed must be a non-negative integer or None, got {self.seed!r}")
        if self.stop is not None and not all(isinstance(s, str) and s for s in self.stop):
            raise ParameterError(f"stop must be a list of non-empty strings, got {self.stop!r}")
        return self


@dataclass
class Completion:
    """One model answer. `finish_reason` is "stop" (end of text or a stop string) or "length" (max_tokens)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str
    seconds: float
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Backend(ABC):
    """Base class of model backends. Configuration goes to `__init__`; nothing heavy happens there.

    `max_concurrency` is how many requests the executor should keep in flight: 1 for a backend that serves one
    request at a time, the batch width for the embedded backend, the server's capacity for a remote one.
    `constrains_json` says whether `chat(..., json_schema=...)` makes the model itself follow the schema (grammar or
    server-side structured output); when False the schema is ignored there and `structured.generate_json`
    validates and retries instead.
    `remote` says that requests go to a server other processes may share (an OpenAI-compatible fleet): its
    `max_concurrency` is then a limit for the whole run, which scale-out divides among workers, not one per worker.
    """

    name: ClassVar[str] = "backend"
    remote: ClassVar[bool] = False
    max_concurrency: int = 1
    model_name: str = ""
    constrains_json: bool = False

    @abstractmethod
    async def chat(
        self, messages: list[dict], params: GenerationParams, json_schema: dict | None = None
    ) -> Completion:
        """Answer a conversation (a list of {"role", "content"} with string contents)."""

    @abstractmethod
    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        """Continue a raw prompt (no chat template)."""

    async def chat_many(
        self, conversations: list[list[dict]], params: GenerationParams, json_schema: dict | None = None
    ) -> list[Completion]:
        """Answer several conversations; answers come back in the order given."""
        return list(await asyncio.gather(*(self.chat(c, params, json_schema) for c in conversations)))

    async def aclose(self) -> None:
        """Release the model, threads and connections. Safe to call twice."""

    async def __aenter__(self) -> "Backend":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    def cache_identity(self) -> dict:
        """Everything about this backend that can change an answer, for the request cache's key: its class, name,
        model and every public setting of scalar type. Backends whose answers depend on more (a model file, a
        library version) add it; adding too much only costs cache hits, leaving something out returns stale ones."""
        settings = {
            key: value for key, value in sorted(vars(self).items())
            if not key.startswith("_") and key not in _NOT_IN_IDENTITY
            and (value is None or isinstance(value, (str, int, float, bool)))
        }
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "name": self.name,
            "model": self.model_name,
            "settings": settings,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r}, max_concurrency={self.max_concurrency})"


def plain_messages(messages: list[dict]) -> list[dict]:
    """Messages with string contents only: lists of parts are joined (llama.cpp's server rejects lists)."""
    if not isinstance(messages, list) or not messages:
        raise ParameterError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    result = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ParameterError(f"message {position} must be a dict with 'role' and 'content', got {message!r}")
        if message["role"] not in ROLES:
            raise ParameterError(f"message {position} has role {message['role']!r}; use one of {', '.join(ROLES)}")
        content = message["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise ParameterError(f"message {position} content must be a string, got {type(content).__name__}")
        result.append({"role": message["role"], "content": content})
    return result


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """`text` up to the first stop string, and whether one was found."""
    if not stop:
        return text, False
    cuts = [text.find(s) for s in stop if s in text]
    if not cuts:
        return text, False
    return text[: min(cuts)], True
