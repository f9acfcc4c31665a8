"""The gate every model call of a run passes: the request cache, then the budget, then the backend.

    gate = CallGate(cache=RequestCache.open(), budget=BudgetLedger(...))
    pool = BackendPool(spec, backends, gate=gate)     # ManagedBackend.chat goes through gate.call

A cache hit is answered at once: it costs nothing, is never refused, and its Completion carries
extra["cached"] = True so the record's usage counts it apart from paid calls. A miss reserves its worst case in the
budget (its prompt counted by `prompt_tokens_for`; refused: RunStopped, and the gate refuses every later call
too), is sent, settles what it used, and is stored. The budget is a BudgetLedger, or a stand-in whose `reserve` and
`settle` return awaitables (`perpetuum.scale.ray_budget`: one ledger for every actor of a Ray run). `stop(error)`
(a quality monitor) closes the gate the same way. Listeners hear of every answer, paid or
cached (the progress display counts calls and tokens with them).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from perpetuum.errors import RunStopped
from perpetuum.llm.base import Completion, plain_messages
from perpetuum.llm.request_cache import RequestCache, request_key
from perpetuum.pipeline.budget import BudgetLedger, prompt_tokens_for

__all__ = ["CallGate"]

Listener = Callable[[str, Completion, bool], None]


class CallGate:
    """What stands between a column and a backend. With neither cache nor budget it only counts and passes."""

    def __init__(self, cache: RequestCache | None = None, budget: BudgetLedger | Any = None) -> None:
        self.cache = cache
        self.budget = budget
        self.listeners: list[Listener] = []
        self.hits = 0
        self.misses = 0
        self._stopped: RunStopped | None = None

    @property
    def stopped(self) -> RunStopped | None:
        """Why the gate is closed (a budget limit or a monitor), or None while calls may pass."""
        if self._stopped is None and self.budget is not None:
            return self.budget.stopped
        return self._stopped

    def stop(self, error: RunStopped) -> None:
        """Close the gate: every later call raises `error` (the first reason given stays)."""
        if self.stopped is None:
            self._stopped = error

    async def call(self, backend_name: str, backend: Any, messages: list[dict], params, json_schema: dict | None,
                   send: Callable[[], Awaitable[Completion]]) -> Completion:
        """`send()` the request unless the cache answers it or the gate is closed."""
        if self.stopped is not None:
            raise self.stopped
        key = request_key(backend, plain_messages(messages), params, json_schema) if self.cache else None
        if key is not None:
            cached = self.cache.get(key)
            if cached is not None:
                self.hits += 1
                cached = replace(cached, extra={**cached.extra, "cached": True}, seconds=0.0)
                self._tell(backend_name, cached, True)
                return cached
            self.misses += 1
        reservation = None
        if self.budget is not None:
            prompt_tokens = await prompt_tokens_for(backend, messages, json_schema)
            reservation = await _awaited(self.budget.reserve(backend_name, prompt_tokens, params.max_tokens))
        completion = None
        try:
            completion = await send()
        finally:
            if reservation is not None:
                await _awaited(self.budget.settle(reservation, completion))
        if key is not None:
            self.cache.put(key, completion)
        self._tell(backend_name, completion, False)
        return completion

    def _tell(self, backend_name: str, completion: Completion, cached: bool) -> None:
        for listener in self.listeners:
            listener(backend_name, completion, cached)


async def _awaited(value):
    """A ledger's answer: at once from a BudgetLedger here, awaited from one in another process (a Ray actor)."""
    return await value if inspect.isawaitable(value) else value
