"""`generate` and `preview`: the library calls behind `perpetuum generate` and `perpetuum preview`.

    result = generate("spec.yaml", n=200, output_dir="out/")          # or a dict / DatasetSpec
    result = generate("spec.yaml", n=200, output_dir="out/", resume=True)  # after a crash or Ctrl-C
    rows = preview("spec.yaml", n=3)                                    # nothing written

A run writes, under `output_dir`: data.jsonl / data.parquet / hf_dataset/ (per `output.formats`), dropped.jsonl
(filtered records and why), failures.jsonl (records that could not be generated), card.json and card.md, and the
checkpoint/ folder that `resume` continues from; with `repair` keys in the spec, also repairs.jsonl (every repair
attempt: its value, the validator's verdict and its tokens, per record whose first answer failed). `output_dir` may
be an object-store URI (s3://bucket/prefix, credentials from the AWS variables, `perpetuum.storage`): the run then
works in a local copy, uploads its checkpoint as it goes and its files at the end, and resumes from there.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpetuum.card.economics import economics_section
from perpetuum.card.text import build_card, cost, write_card
from perpetuum.errors import ParameterError, RunStopped
from perpetuum.pipeline.checkpoint import CheckpointStore
from perpetuum.pipeline.economics import close_gate, open_gate
from perpetuum.pipeline.executor import BackendPool, RecordExecutor, build_runners
from perpetuum.pipeline.filters import keep_records
from perpetuum.pipeline.output import write_outputs
from perpetuum.pipeline.record_executors import is_local, open_record_runner, resolve_record_executor
from perpetuum.pipeline.run_progress import RunProgress, calls_per_record_from_spec
from perpetuum.pipeline.spec import BudgetConfig, DatasetSpec, Price, load_spec
from perpetuum.pipeline.spec_repair import repair_targets
from perpetuum.progress import progress_bar

__all__ = ["GenerationResult", "generate", "agenerate", "preview", "apreview"]


@dataclass
class GenerationResult:
    """What a run produced. `records` are the kept records in index order (the rows of data.jsonl)."""

    output_dir: Path | str  # a URI (str) for an output folder in an object store
    n_requested: int
    n_generated: int
    n_failed: int
    n_kept: int
    dropped: dict[str, int]
    files: dict[str, str]
    card: dict[str, Any]
    records: list[dict[str, Any]] = field(repr=False, default_factory=list)
    stopped: dict[str, Any] | None = None  # {"kind": "budget" or "monitor", "limit", "reason"} when it stopped early

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.records)


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ParameterError(f"n must be a positive number of records; got {n!r}. Example: n=200 (-n 200).")


def _no_running_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise ParameterError(f"{name}() cannot run inside an event loop (a notebook or async code); use `await a{name}(...)`")


def generate(
    spec: DatasetSpec | dict | str | Path,
    n: int,
    output_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    *,
    retry_failed: bool = False,
    backends: dict[str, Any] | None = None,
    prices: dict[str, dict | Price] | None = None,
    reference: list[str] | str | Path | None = None,
    generation: int | None = None,
    decontaminate: list[str | Path] | None = None,
    budget: dict | BudgetConfig | None = None,
    cache: Any = None,
    executor: Any = "local",
) -> GenerationResult:
    """Generate `n` records of `spec` into `output_dir`, checkpointing each record as it finishes.

    resume: continue the run already in `output_dir` (its records are kept, the rest generated); the result equals
    an uninterrupted run with the same spec. retry_failed: with resume, generate failed records again.
    backends: ready Backend objects by spec backend name, used instead of creating them from the spec.
    prices: a price table ({backend or model name: {input_per_million, output_per_million}}) over the spec's.
    reference: real text (a list of documents, or a .txt/.txt.gz file) the card's collapse signals compare against.
    generation: which step of a synthetic-data loop this run is (default: one past a parent card, else 0).
    decontaminate: benchmark or other text files that every decontamination validator of the spec also checks
    records against (they must not share a 13-gram with them).
    budget: limits ({"usd", "tokens", "seconds"}) over the spec's `execution.budget`; the run stops before the
    request that could cross one (`perpetuum.pipeline.budget`), `result.stopped` says why, and a resume with a raised
    limit goes on. cache: the request cache (`perpetuum.llm.request_cache`): None follows $PERPETUUM_CACHE (on unless
    it says 0), True/False, a folder, or a RequestCache. A spec's `monitors` may also stop the run (`result.stopped`).
    executor: where records are generated: "local" (this process), "ray" (actors of a Ray cluster, `pip install
    'perpetuum[ray]'`) or an executor object such as `perpetuum.scale.RayExecutor(address=..., actors=...)`. Every
    record keeps its seed, so the dataset is the same wherever it was made; the checkpoint stays in `output_dir`.
    """
    _no_running_loop("generate")
    return asyncio.run(
        agenerate(
            spec,
            n,
            output_dir,
            resume,
            progress,
            retry_failed=retry_failed,
            backends=backends,
            prices=prices,
            reference=reference,
            generation=generation,
            decontaminate=decontaminate,
            budget=budget,
            cache=cache,
            executor=executor,
        )
    )


async def agenerate(
    spec: DatasetSpec | dict | str | Path,
    n: int,
    output_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    *,
    retry_failed: bool = False,
    backends: dict[str, Any] | None = None,
    prices: dict[str, dict | Price] | None = None,
    reference: list[str] | str | Path | None = None,
    generation: int | None = None,
    decontaminate: list[str | Path] | None = None,
    budget: dict | BudgetConfig | None = None,
    cache: Any = None,
    executor: Any = "local",
) -> GenerationResult:
    """The async form of `generate`, for code that already runs an event loop."""
    spec = load_spec(spec)
    if decontaminate:
        from perpetuum.pipeline.columns.decontamination import add_references

        spec = add_references(spec, decontaminate)
    _check_n(n)
    executor = resolve_record_executor(executor)
    price_table = {**spec.prices, **{key: Price.model_validate(value) for key, value in (prices or {}).items()}}
    runners = build_runners(spec, n)
    store = CheckpointStore.open(output_dir, spec, n, resume)
    try:
        store.remember(pilot=False)
        done = store.done(retry_failed=retry_failed)
        todo = [index for index in range(n) if index not in done]
        if not todo:
            store.remember(stop=None)  # a stop of an earlier session no longer holds anything back
        if todo and not is_local(executor):
            _no_cache_elsewhere(cache)
            await _run_elsewhere(executor, spec, n, todo, store, progress, backends,
                                 economics=(price_table, budget, reference))
        elif todo:
            pool = BackendPool(spec, backends)
            pool.open()
            gate = monitor = None
            try:
                store.record_backends(pool.describe())
                gate = pool.gate = open_gate(spec, store, store.backends_used(), price_table, budget, cache)
                monitor = _monitor(spec, store, reference)
                await _run_with_progress(spec, runners, pool, todo, store, progress, monitor)
            finally:
                await pool.close()
                if gate is not None:
                    close_gate(gate, store, gate.stopped, monitor.summary() if monitor else None,
                               close_cache=not _lent_cache(cache))
        return _finish(spec, store, n, price_table, reference=reference, generation=generation)
    finally:
        store.close()


def _no_cache_elsewhere(cache) -> None:
    if cache not in (None, False):
        raise ParameterError("the request cache runs in this process; records made elsewhere (--ray) do not use it: "
                             "drop cache= (or --no-cache) with --ray")


def _lent_cache(cache) -> bool:
    from perpetuum.llm.request_cache import RequestCache

    return isinstance(cache, RequestCache)


def _monitor(spec: DatasetSpec, store: CheckpointStore, reference):
    """The run's quality monitors (None without `monitors` rules), primed with the records already made."""
    if spec.monitors is None or not spec.monitors.rules:
        return None
    from perpetuum.pipeline.monitors import RunMonitor

    if isinstance(reference, (str, Path)):
        from perpetuum.schema.corpus import read_corpus

        reference = read_corpus(reference)
    monitor = RunMonitor(spec, reference)
    monitor.prime([store.entries[i]["record"] for i in sorted(store.entries) if store.entries[i]["status"] == "ok"])
    return monitor


async def _run_elsewhere(executor, spec, n: int, todo, store: CheckpointStore, progress: bool, backends, *,
                         economics) -> None:
    """The records of `todo` generated by a non-local executor (`record_executors`); entries come back here and go
    to the checkpoint as a local run's do. A budget or monitors make a gate here that the executor's runner takes
    (`run(indices, sink, gate=...)`): it shares the gate's ledger with its workers and stops when the gate closes."""
    from perpetuum.pipeline.economics import budget_limits

    prices, budget, reference = economics
    runner = await open_record_runner(executor, spec, n, backends)
    gate = monitor = None
    try:
        store.record_backends(runner.describe())
        if budget_limits(spec, budget) or (spec.monitors is not None and spec.monitors.rules):
            if "gate" not in inspect.signature(runner.run).parameters:
                raise ParameterError(f"{type(runner).__name__} cannot hold a run-wide budget or stop for monitors "
                                     "(its run() takes no gate); drop the budget and monitors, or run locally")
            gate = open_gate(spec, store, store.backends_used(), prices, budget, cache=False)
            monitor = _monitor(spec, store, reference)
        await _run_with_progress(spec, None, None, todo, store, progress, monitor, record_runner=runner, gate=gate)
    finally:
        await runner.close()
        if gate is not None:
            close_gate(gate, store, gate.stopped, monitor.summary() if monitor else None)


async def _run_with_progress(spec, runners, pool, todo, store: CheckpointStore, progress: bool, monitor=None, *,
                             record_runner=None, gate=None) -> RunStopped | None:
    """Run `todo` into the checkpoint; returns the stop (budget or monitor) when the run ended early. Records come
    from `record_runner` when given (a non-local executor: its calls pass no gate of this process, so progress
    counts finished records' calls; `gate`, when given, is the one it shares its budget through and a monitor's
    stop closes), else from a RecordExecutor over `pool`."""
    gate = pool.gate if pool is not None else gate
    executor = record_runner or RecordExecutor(spec, runners, pool)
    estimate = store.meta("estimate") or {}
    with progress_bar(f"Generating {spec.name}", total=None, verbose=progress) as bar:
        tracker = RunProgress(bar, spec.name, len(todo),
                              estimate.get("calls_per_record") or calls_per_record_from_spec(spec),
                              estimate.get("completion_tokens_per_record"), monitor)
        tracker.show_repairs = bool(repair_targets(spec))
        if pool is not None:
            pool.gate.listeners.append(tracker.on_call)

        def sink(entry: dict) -> None:
            store.write(entry)
            tracker.on_record(entry)
            if monitor is not None:
                stop = monitor.observe(entry)
                if stop is not None:
                    gate.stop(stop)

        try:
            if record_runner is not None and gate is not None:
                await executor.run(todo, sink, gate=gate)
            else:
                await executor.run(todo, sink)
        except RunStopped as stop:
            return stop
    return None


def _finish(
    spec: DatasetSpec, store: CheckpointStore, n: int, prices, *, reference=None, generation=None
) -> GenerationResult:
    """Filters, dedup, output files and the card, from every entry in the checkpoint (index order). The files are
    made in the store's folder, then published (uploaded when the run's output folder is remote)."""
    output_dir = store.output_dir
    entries = [store.entries[index] for index in sorted(store.entries) if index < n]
    generated = [(entry["index"], entry["record"]) for entry in entries if entry["status"] == "ok"]
    kept, dropped = keep_records(spec, generated)
    output_columns = [column.name for column in spec.columns if not column.drop]
    rows = [{name: record[name] for name in output_columns} for _, record in kept]
    files, json_columns = write_outputs(rows, output_dir, spec.output.formats, output_columns)

    dropped_path = output_dir / "dropped.jsonl"
    with open(dropped_path, "w", encoding="utf-8") as handle:
        for item in dropped:
            line = {"index": item.index, "reason": item.reason, "detail": item.detail, "record": item.record}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    failures_path = output_dir / "failures.jsonl"
    failures = [entry for entry in entries if entry["status"] != "ok"]
    with open(failures_path, "w", encoding="utf-8") as handle:
        for entry in failures:
            line = {key: entry.get(key) for key in ("index", "column", "error_type", "error")}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    files.update(dropped=str(dropped_path), failures=str(failures_path))
    if repair_targets(spec):
        files["repairs"] = str(_write_repairs(entries, {index for index, _ in kept}, output_dir / "repairs.jsonl"))

    store.touch()
    backends = store.backends_used()
    economics = economics_section(entries, lambda usage: cost(usage, backends, prices)[1],
                                  cache_enabled=store.meta("cache_enabled"),
                                  budget=store.meta("budget"), stop=store.meta("stop"), monitors=store.meta("monitors"))
    card = build_card(
        spec,
        n_requested=n,
        entries=entries,
        n_kept=len(rows),
        dropped=dropped,
        backends=store.backends_used(),
        wall_seconds=store.wall_seconds(),
        sessions=store.sessions(),
        files=store.locations(files),
        json_columns=json_columns,
        prices=prices,
        records=rows,
        reference=reference,
        generation=generation,
        economics=economics,
    )
    files.update(write_card(card, output_dir))
    files = card["files"] = store.publish(files)
    return GenerationResult(
        output_dir=output_dir if store.mirror is None else store.location,
        n_requested=n,
        n_generated=len(generated),
        n_failed=len(failures),
        n_kept=len(rows),
        dropped=card["records"]["dropped_by_reason"],
        files=files,
        card=card,
        records=rows,
        stopped=store.meta("stop"),
    )


def _write_repairs(entries: list[dict], kept: set[int], path: Path) -> Path:
    """repairs.jsonl: per record that needed a repair, whether it was kept and what each attempt gave. Like
    dropped.jsonl, a file for looking into the run: it shows the attempts' values even of `drop: true` columns."""
    with open(path, "w", encoding="utf-8") as handle:
        for entry in entries:
            repairs = [summary for summary in entry.get("repairs") or [] if summary["attempts"]]
            if repairs:
                outcome = "failed" if entry["status"] != "ok" else ("kept" if entry["index"] in kept else "dropped")
                line = {"index": entry["index"], "outcome": outcome, "repairs": repairs}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def _preview_row(entry: dict) -> dict[str, Any]:
    """A preview's record; `_repairs` says briefly what verify-and-repair did when a first answer failed."""
    if entry["status"] != "ok":
        return {"_error": f"{entry['error_type']}: {entry['error']}", "_column": entry["column"]}
    repaired = [
        {key: summary[key] for key in ("column", "role", "validator", "attempts", "passed") if key in summary}
        | {"first_verdict": summary["history"][0]["verdict"].get("message", "")}
        for summary in entry.get("repairs") or [] if summary["attempts"]
    ]
    return {**entry["record"], "_repairs": repaired} if repaired else entry["record"]


def preview(
    spec: DatasetSpec | dict | str | Path, n: int = 3, *, backends: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The first `n` records of `spec` (the same ones `generate` makes), every column included, nothing written.

    Filters and dedup are not applied. A record that failed shows as {"_error": ..., "_column": ...}; one whose
    first answer a `repair` validator failed has `_repairs`: [{column, (role,) validator, attempts, passed,
    first_verdict}].
    """
    _no_running_loop("preview")
    return asyncio.run(apreview(spec, n, backends=backends))


async def apreview(
    spec: DatasetSpec | dict | str | Path, n: int = 3, *, backends: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The async form of `preview`."""
    spec = load_spec(spec)
    _check_n(n)
    runners = build_runners(spec, n)
    pool = BackendPool(spec, backends)
    pool.open()
    entries: list[dict] = []
    try:
        await RecordExecutor(spec, runners, pool).run(range(n), entries.append)
    finally:
        await pool.close()
    entries.sort(key=lambda entry: entry["index"])
    return [_preview_row(entry) for entry in entries]
