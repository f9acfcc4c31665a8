"""The card's economics: tokens per column, the request cache (hits, misses, what the hits saved), the budget
(limits, what was spent, which limit stopped the run) and the live quality monitors (last values, warnings, stop).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from perpetuum.card.writer import three_decimals
from perpetuum.markdown import markdown_text

__all__ = ["economics_section", "economics_markdown", "cached_usage"]


def cached_usage(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per backend, the calls and tokens the request cache answered (as prompt/completion token counts)."""
    totals: dict[str, Counter] = {}
    for entry in entries:
        for backend, usage in (entry.get("usage") or {}).items():
            totals.setdefault(backend, Counter()).update({
                "calls": usage.get("cached_calls", 0),
                "prompt_tokens": usage.get("cached_prompt_tokens", 0),
                "completion_tokens": usage.get("cached_completion_tokens", 0),
            })
    return {backend: dict(counts) for backend, counts in sorted(totals.items())}


def tokens_by_column(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per column, the calls and tokens paid (and answered by the cache) over every record entry."""
    totals: dict[str, Counter] = {}
    for entry in entries:
        for column, usage in (entry.get("usage_by_column") or {}).items():
            totals.setdefault(column, Counter()).update(usage)
    return {column: dict(counts) for column, counts in totals.items()}


def economics_section(entries: list[dict[str, Any]], price: Callable[[dict], float | None], *,
                      cache_enabled: bool | None = None, budget: dict | None = None, stop: dict | None = None,
                      monitors: dict | None = None) -> dict[str, Any]:
    """{"by_column", "cache", "budget", "stopped", "monitors"} for the card. `price` turns a usage table
    ({backend: {prompt_tokens, completion_tokens}}) into dollars (None when a price is unknown)."""
    cached = cached_usage(entries)
    hits = sum(counts["calls"] for counts in cached.values())
    paid_calls = sum(usage.get("calls", 0) for entry in entries for usage in (entry.get("usage") or {}).values())
    saved_usd = price(cached) if cached else 0.0
    return {
        "by_column": tokens_by_column(entries),
        "cache": {
            "enabled": bool(cache_enabled) or hits > 0,
            "hits": hits,
            "misses": paid_calls if (cache_enabled or hits) else None,
            "saved_tokens": {"prompt": sum(c["prompt_tokens"] for c in cached.values()),
                             "completion": sum(c["completion_tokens"] for c in cached.values())},
            "saved_usd": saved_usd,
        },
        "budget": budget,
        "stopped": stop,
        "monitors": monitors,
    }


def economics_markdown(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    lines = ["## Cost, budget and cache", ""]
    stop = section.get("stopped")
    if stop:
        lines += [f"**Stopped early ({stop['kind']}{': ' + stop['limit'] if stop.get('limit') else ''}):** "
                  f"{markdown_text(stop['reason'])}. Resume to go on.", ""]
    by_column = section.get("by_column") or {}
    if by_column:
        lines += ["| column | calls | tokens in | tokens out | cached calls |", "| --- | ---: | ---: | ---: | ---: |"]
        for column, usage in by_column.items():
            lines.append(f"| {markdown_text(column)} | {usage.get('calls', 0):,} | {usage.get('prompt_tokens', 0):,} "
                         f"| {usage.get('completion_tokens', 0):,} | {usage.get('cached_calls', 0):,} |")
        lines.append("")
    cache = section["cache"]
    if cache["enabled"]:
        saved = cache["saved_tokens"]
        money = "unknown (no price)" if cache["saved_usd"] is None else f"${cache['saved_usd']:,.4f}"
        lines.append(f"Request cache: {cache['hits']:,} hits, {cache['misses'] or 0:,} misses; the hits saved "
                     f"{saved['prompt']:,} tokens in, {saved['completion']:,} out ({money}).")
    else:
        lines.append("Request cache: off.")
    budget = section.get("budget")
    if budget:
        limits = ", ".join(f"{key} {value:,}" for key, value in budget["limits"].items())
        spent = budget["spent"]
        lines.append(f"Budget: {limits}; spent {spent['tokens']:,} tokens, ${spent['usd']:,.4f}, "
                     f"{spent['seconds']:,.1f} s.")
    monitors = section.get("monitors")
    if monitors:
        latest = "; ".join(f"{signal} " + ", ".join(f"{column} {three_decimals(value)}" for column, value in values.items())
                           for signal, values in (monitors.get("latest") or {}).items())
        lines.append(f"Monitors (last {monitors['window']} records): {markdown_text(latest) or 'not measured yet'}.")
        lines += [f"- **Monitor warning:** {markdown_text(warning)}" for warning in monitors.get("warnings", [])]
    lines.append("")
    return lines
