"""A run's economics: the call gate it opens (request cache, budget), and what it keeps in the checkpoint so that a
resumed session knows what the earlier ones spent and the card can say it.

    gate = open_gate(spec, store, backends, prices, budget={"tokens": 50_000}, cache=True)
    ...                                  # the run
    close_gate(gate, store, stop=...)    # spent and the stop reason into the checkpoint's meta
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perpetuum.card.text import cost, usage_totals
from perpetuum.errors import ParameterError, RunStopped
from perpetuum.llm.request_cache import RequestCache, cache_enabled_by_default
from perpetuum.pipeline.budget import BudgetLedger
from perpetuum.pipeline.call_gate import CallGate
from perpetuum.pipeline.spec import BudgetConfig, DatasetSpec

__all__ = ["open_cache", "budget_limits", "open_gate", "close_gate"]


def open_cache(cache: bool | str | Path | RequestCache | None) -> RequestCache | None:
    """None/True: the shared cache (None follows $PERPETUUM_CACHE); False: no cache; a path: the cache there."""
    if isinstance(cache, RequestCache):
        return cache
    if cache is None:
        cache = cache_enabled_by_default()
    if cache is False:
        return None
    if cache is True:
        return RequestCache.open()
    if isinstance(cache, (str, Path)):
        return RequestCache.open(cache)
    raise ParameterError(f"cache must be True, False, a folder or a RequestCache; got {cache!r}")


def budget_limits(spec: DatasetSpec, budget: dict | BudgetConfig | None) -> dict[str, float]:
    """The spec's `execution.budget`, with any limit given in `budget` (a run's --budget-* options) over it."""
    limits = spec.execution.budget.limits() if spec.execution.budget else {}
    if budget is not None:
        try:
            given = budget if isinstance(budget, BudgetConfig) else BudgetConfig.model_validate(budget)
        except ValueError as error:
            raise ParameterError(f"budget: {error}; give {{'usd': 20, 'tokens': 5_000_000, 'seconds': 3600}}") from None
        limits.update(given.limits())
    return limits


def spent_before(store, backends: dict[str, dict], prices: dict) -> dict[str, float]:
    """Tokens and dollars paid by earlier sessions: the larger of what they wrote down and what their records hold
    (a session killed before writing it down still has its records)."""
    usage = usage_totals(list(store.entries.values()))
    tokens = sum(counts.get("prompt_tokens", 0) + counts.get("completion_tokens", 0) for counts in usage.values())
    usd = cost(usage, backends, prices)[1] or 0.0
    noted = store.meta("spent") or {}
    return {"tokens": max(tokens, int(noted.get("tokens", 0))), "usd": max(usd, float(noted.get("usd", 0.0)))}


def open_gate(spec: DatasetSpec, store, backends: dict[str, dict], prices: dict,
              budget: dict | BudgetConfig | None = None, cache: Any = None) -> CallGate:
    """The gate of one session: the request cache (see `open_cache`) and the budget, which starts from what the
    run's earlier sessions spent (tokens, dollars, wall time)."""
    limits = budget_limits(spec, budget)
    ledger = None
    if limits:
        ledger = BudgetLedger(limits, backends, prices, spent_before(store, backends, prices),
                              seconds_before=store.wall_seconds())
    request_cache = open_cache(cache)
    store.remember(cache_enabled=request_cache is not None)
    return CallGate(cache=request_cache, budget=ledger)


def close_gate(gate: CallGate, store, stop: RunStopped | None, monitor_summary: dict | None = None,
               close_cache: bool = True) -> None:
    """Write what the session spent, why it stopped (None: it did not) and the monitors' last state; close the
    cache unless the caller lent it."""
    values: dict[str, Any] = {"stop": None if stop is None else {"kind": stop.kind, "limit": stop.limit,
                                                                  "reason": stop.reason}}
    values["budget"] = None
    if gate.budget is not None:
        values["spent"] = {"tokens": gate.budget.spent["tokens"], "usd": gate.budget.spent["usd"]}
        values["budget"] = gate.budget.summary()
    if monitor_summary is not None:
        values["monitors"] = monitor_summary
    store.remember(**values)
    if gate.cache is not None and close_cache:
        gate.cache.close()
