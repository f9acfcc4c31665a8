"""Know the price before paying it: a seeded pilot of a few records, scaled to the run you plan.

    result = estimate("spec.yaml", n=100_000)                 # pilot of 8 records, nothing written
    result = estimate("spec.yaml", n=100_000, output_dir="out/")  # the pilot's records start the real run there
    print(result.render())

The pilot makes records 0, 1, ... of the spec, exactly the records `generate` makes first (a record depends only on
the spec and its index), through the same request cache; with `output_dir` they are checkpointed there too, and
`generate(spec, n, output_dir)` goes on from them. Either way the real run does not pay for them again.

What it reports, per column and in total: calls, prompt and completion tokens per record (mean and 95th
percentile), dialogue turns, transient retries, repair attempts, judge calls, the share of records failed and
dropped by filters; then for `n` records: tokens, dollars (the spec's price table) and wall time at the throughput
the pilot measured with its records in flight together, each with a 90 % interval. The interval is a predictive
bootstrap over the pilot records: resample the pilot, draw the other n - pilot records from it, add the pilot's
own. With a handful of records it is as good as they are representative: the pilot size is stated, raise it
(`pilot=`) for a tighter figure. Wall time assumes the measured throughput holds; it does not model a larger
concurrency than the pilot reached, nor a machine busier or idler than during the pilot.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perpetuum.errors import ParameterError
from perpetuum.pipeline.budget import price_for
from perpetuum.pipeline.checkpoint import CheckpointStore
from perpetuum.pipeline.economics import open_cache
from perpetuum.pipeline.executor import BackendPool, RecordExecutor, build_runners
from perpetuum.pipeline.filters import keep_records
from perpetuum.pipeline.spec import DatasetSpec, Price, load_spec
from perpetuum.pipeline.call_gate import CallGate
from perpetuum.progress import progress_bar

__all__ = ["RunEstimate", "estimate", "aestimate", "DEFAULT_PILOT"]

DEFAULT_PILOT = 8
BOOTSTRAP_REPLICATES = 2000
INTERVAL = (5.0, 95.0)  # a 90 % interval


@dataclass
class RunEstimate:
    """The estimate of a run of `n` records from a pilot of `pilot` records. Figures are floats; intervals are
    (low, high) at 90 %."""

    name: str
    n: int
    pilot: int
    per_column: dict[str, dict[str, float]]
    per_record: dict[str, dict[str, float]]
    calls: dict[str, float]
    total: dict[str, Any]
    seconds: dict[str, Any]
    records: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    output_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items()}

    def render(self) -> str:
        """A plain-text report (the CLI prints a richer table from the same figures)."""
        lines = [f"Estimate for {self.n:,} records of {self.name}, from a pilot of {self.pilot} records:"]
        for column, stats in self.per_column.items():
            lines.append(f"  {column}: {stats['calls_mean']:.2f} calls, {stats['prompt_tokens_mean']:,.0f} tokens in "
                         f"(p95 {stats['prompt_tokens_p95']:,.0f}), {stats['completion_tokens_mean']:,.0f} out "
                         f"(p95 {stats['completion_tokens_p95']:,.0f}) per record")
        total = self.total
        lines.append(_interval_line("tokens in", total["prompt_tokens"]))
        lines.append(_interval_line("tokens out", total["completion_tokens"]))
        if total["usd"]["value"] is None:
            lines.append("  cost: unknown (a backend has no price in the table)")
        else:
            lines.append(_interval_line("cost (USD)", total["usd"], money=True))
        if self.seconds["value"] is not None:
            backends = ", ".join(f"{name} {speed:,.1f}" for name, speed in
                                 self.seconds["tokens_per_second_by_backend"].items())
            lines.append(_interval_line("wall seconds", self.seconds) + f" at {self.seconds['tokens_per_second']:,.1f} "
                         f"output tokens/s ({backends}) with {self.seconds['records_in_flight']} records in flight")
        records = self.records
        lines.append(f"  records: {records['failed_share']:.0%} failed and {records['dropped_share']:.0%} dropped "
                     f"by filters in the pilot: about {records['dropped_expected']:,.0f} of {self.n:,} dropped")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _interval_line(label: str, figure: dict, money: bool = False) -> str:
    form = (lambda value: f"${value:,.4f}") if money else (lambda value: f"{value:,.0f}")
    low, high = figure["interval"]
    return f"  {label}: {form(figure['value'])} (90 % interval {form(low)} to {form(high)})"


def estimate(spec: DatasetSpec | dict | str | Path, n: int, pilot: int = DEFAULT_PILOT, *,
             output_dir: str | Path | None = None, backends: dict[str, Any] | None = None,
             prices: dict[str, dict | Price] | None = None, cache: Any = None, progress: bool = True,
             seed: int = 0) -> RunEstimate:
    """Estimate a run of `n` records of `spec` from a seeded pilot of its first `pilot` records (see the module).

    output_dir: checkpoint the pilot records there, so `generate` into that folder goes on from them. cache: as
    for `generate`. seed: of the bootstrap (the records' own seeds come from the spec).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(aestimate(spec, n, pilot, output_dir=output_dir, backends=backends, prices=prices,
                                     cache=cache, progress=progress, seed=seed))
    raise ParameterError("estimate() cannot run inside an event loop; use `await aestimate(...)`")


async def aestimate(spec, n: int, pilot: int = DEFAULT_PILOT, *, output_dir=None, backends=None, prices=None,
                    cache: Any = None, progress: bool = True, seed: int = 0) -> RunEstimate:
    """The async form of `estimate`."""
    spec = load_spec(spec)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ParameterError(f"n must be a positive number of records; got {n!r}")
    if not isinstance(pilot, int) or isinstance(pilot, bool) or pilot < 2:
        raise ParameterError(f"pilot must be at least 2 records (a spread needs two); got {pilot!r}")
    pilot = min(pilot, n)
    price_table = {**spec.prices, **{key: Price.model_validate(value) for key, value in (prices or {}).items()}}
    runners = build_runners(spec, n)
    store = CheckpointStore.open(output_dir, spec, n, resume=False) if output_dir is not None else None
    entries: dict[int, dict] = dict(store.entries) if store else {}
    request_cache = open_cache(cache)
    pool = BackendPool(spec, backends, gate=CallGate(cache=request_cache))
    pool.open()
    try:
        described = pool.describe()
        if store is not None:
            store.remember(pilot=True)
            store.record_backends(described)
        await _warm_up(pool)
        todo = [index for index in range(pilot) if index not in entries]
        started = time.perf_counter()
        with progress_bar(f"Pilot of {pilot} records for {spec.name}", total=len(todo), verbose=progress) as bar:

            def sink(entry: dict) -> None:
                entries[entry["index"]] = entry
                if store is not None:
                    store.write(entry)
                bar.advance()

            await RecordExecutor(spec, runners, pool).run(todo, sink)
        wall = time.perf_counter() - started
        in_flight = min(len(todo), spec.execution.max_in_flight or max(4, 2 * pool.total_concurrency()))
        concurrency = pool.total_concurrency()
    finally:
        await pool.close()
        if request_cache is not None and request_cache is not cache:
            request_cache.close()
    pilot_entries = [entries[index] for index in range(pilot)]
    result = _summarise(spec, n, pilot_entries, described, price_table, wall if todo else None, in_flight, seed,
                        concurrency)
    if store is not None:
        store.remember(estimate={"calls_per_record": result.calls["per_record"],
                                 "completion_tokens_per_record": result.per_record["completion_tokens"]["mean"]})
        store.close()
        result.output_dir = str(output_dir)
    return result


async def _warm_up(pool: BackendPool) -> None:
    """Load local models before the clock starts: loading is paid once per run, not per record."""
    from perpetuum.pipeline.executor import RecordUsage

    for name in pool.names_used():
        load = getattr(pool.managed(name, RecordUsage()), "load", None)
        if callable(load):
            await asyncio.to_thread(load)


def _record_figures(entry: dict, prices: dict[str, Price | None]) -> dict[str, float]:
    """One pilot record: tokens (paid and cached alike: a real run pays for both), calls, usd, retries, repairs."""
    figures = {"prompt_tokens": 0.0, "completion_tokens": 0.0, "calls": 0.0, "retries": 0.0, "usd": 0.0,
               "paid_completion_tokens": 0.0}
    for backend, usage in entry["usage"].items():
        prompt = usage.get("prompt_tokens", 0) + usage.get("cached_prompt_tokens", 0)
        completion = usage.get("completion_tokens", 0) + usage.get("cached_completion_tokens", 0)
        figures["prompt_tokens"] += prompt
        figures["completion_tokens"] += completion
        figures["paid_completion_tokens"] += usage.get("completion_tokens", 0)
        figures["calls"] += usage.get("calls", 0) + usage.get("cached_calls", 0)
        figures["retries"] += usage.get("retries", 0)
        price = prices.get(backend)
        if price is None:
            figures["usd"] = float("nan")
        else:
            figures["usd"] += prompt / 1e6 * price.input_per_million + completion / 1e6 * price.output_per_million
    figures["repairs"] = float(sum(summary.get("attempts", 0) for summary in entry.get("repairs") or []))
    return figures


def _summarise(spec, n, entries, backends, prices, wall, in_flight, seed, concurrency) -> RunEstimate:
    backend_prices = {name: price_for(name, info, prices) for name, info in backends.items()}
    figures = [_record_figures(entry, backend_prices) for entry in entries]
    generated = [(entry["index"], entry["record"]) for entry in entries if entry["status"] == "ok"]
    kept, _dropped = keep_records(spec, generated)
    kept_indices = {index for index, _ in kept}
    dropped = np.array([entry["status"] == "ok" and entry["index"] not in kept_indices for entry in entries], float)
    failed = np.array([entry["status"] != "ok" for entry in entries], float)
    k = len(entries)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(BOOTSTRAP_REPLICATES, k))

    def predicted(values: np.ndarray) -> dict[str, Any]:
        """Pilot sum plus the other n - k records, drawn (normal approximation of their sum) from each resample."""
        if not np.all(np.isfinite(values)):
            return {"value": None, "interval": (None, None)}
        rest = n - k
        resampled = values[draws]
        means, spreads = resampled.mean(axis=1), resampled.std(axis=1, ddof=0)
        totals = values.sum() + rest * means + rng.standard_normal(BOOTSTRAP_REPLICATES) * spreads * np.sqrt(rest)
        low, high = np.percentile(totals, INTERVAL)
        return {"value": float(values.sum() + rest * values.mean()), "interval": (float(max(low, 0)), float(high))}

    column = lambda key: np.array([figure[key] for figure in figures])  # noqa: E731
    per_record = {key: _stats(column(key)) for key in ("prompt_tokens", "completion_tokens", "calls", "retries",
                                                       "repairs", "usd")}
    per_column = {}
    for name in spec.column_order():
        usages = [entry.get("usage_by_column", {}).get(name, {}) for entry in entries]
        if not any(usages):
            continue
        calls = np.array([u.get("calls", 0) + u.get("cached_calls", 0) for u in usages], float)
        prompt = np.array([u.get("prompt_tokens", 0) + u.get("cached_prompt_tokens", 0) for u in usages], float)
        completion = np.array([u.get("completion_tokens", 0) + u.get("cached_completion_tokens", 0) for u in usages],
                              float)
        per_column[name] = {"kind": spec.column(name).kind, "calls_mean": float(calls.mean()),
                            "prompt_tokens_mean": float(prompt.mean()), "prompt_tokens_p95": _p95(prompt),
                            "completion_tokens_mean": float(completion.mean()),
                            "completion_tokens_p95": _p95(completion)}
    calls = {
        "per_record": float(column("calls").mean()),
        "dialogue_turns": sum(c["calls_mean"] for c in per_column.values() if c["kind"] == "dialogue"),
        "judge_calls": sum(c["calls_mean"] for c in per_column.values() if c["kind"] == "llm_judge"),
        "retries": float(column("retries").mean()),
        "repair_attempts": float(column("repairs").mean()),
    }
    completion_total = predicted(column("completion_tokens"))
    notes = [f"pilot of {k} records (indices 0 to {k - 1}), the first records of the real run"]
    paid = float(column("paid_completion_tokens").sum())
    seconds: dict[str, Any] = {"value": None, "interval": (None, None), "tokens_per_second": None,
                               "records_in_flight": in_flight}
    if wall and paid > 0:
        throughput = paid / wall
        low, high = completion_total["interval"]
        by_backend: dict[str, float] = {}
        for entry in entries:
            for backend, usage in entry["usage"].items():
                by_backend[backend] = by_backend.get(backend, 0.0) + usage.get("completion_tokens", 0) / wall
        seconds = {"value": completion_total["value"] / throughput, "interval": (low / throughput, high / throughput),
                   "tokens_per_second": throughput, "tokens_per_second_by_backend": by_backend,
                   "records_in_flight": in_flight, "pilot_seconds": wall}
        if in_flight < concurrency:
            notes.append(f"the pilot had {in_flight} records in flight, fewer than the {concurrency} requests the "
                         "backends take at once: a batching backend runs faster in the real run, so wall time is "
                         f"likely overestimated; a pilot of at least {concurrency} records measures it better")
        if paid < column("completion_tokens").sum():
            notes.append("part of the pilot came from the request cache: throughput from its paid calls only")
    else:
        notes.append("the whole pilot came from the request cache (or an earlier estimate), so it timed nothing; "
                     "estimate with cache=False (--no-cache) to measure wall time")
    usd_total = predicted(column("usd"))
    if usd_total["value"] is None:
        unpriced = sorted(name for name, price in backend_prices.items() if price is None)
        notes.append(f"no price for backend(s) {', '.join(unpriced)}: add them to the spec's `prices`")
    drop_total = predicted(dropped)
    return RunEstimate(
        name=spec.name, n=n, pilot=k, per_column=per_column, per_record=per_record, calls=calls,
        total={"prompt_tokens": predicted(column("prompt_tokens")), "completion_tokens": completion_total,
               "usd": usd_total, "calls": predicted(column("calls"))},
        seconds=seconds,
        records={"failed_share": float(failed.mean()), "dropped_share": float(dropped.mean()),
                 "dropped_expected": drop_total["value"], "dropped_interval": drop_total["interval"]},
        notes=notes,
    )


def _stats(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)] if values.size else values
    if not finite.size:
        return {"mean": float("nan"), "p95": float("nan")}
    return {"mean": float(finite.mean()), "p95": _p95(finite)}


def _p95(values: np.ndarray) -> float:
    return float(np.percentile(values, 95)) if values.size else 0.0
