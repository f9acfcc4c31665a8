"""Running a spec: records in parallel, columns in dependency order, model calls under each backend's limit.

- Each backend gets a semaphore of its `max_concurrency`; the embedded backend batches whatever requests are in
  flight together, so keeping that many in flight is what makes it fast.
- A `TransientBackendError` (timeout, 429, 5xx) or a call past `timeout_s` is retried with exponential backoff and
  full jitter, up to `max_retries` times; a server's Retry-After (the error's `retry_after`) is a lower bound.
- A record whose column fails for good becomes a failure record (column, error) and the run goes on; only a run
  whose first records all fail stops, because then the spec or the backend is broken, not the luck.
- Finished records go to a sink (the checkpoint, or a list for `preview`) as they finish, in any order; every value
  they hold depends only on (spec, record index), so the order never shows in the result.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from perpetuum.errors import GenerationError, PerpetuumError, RunStopped, SpecError, TransientBackendError
from perpetuum.pipeline.call_gate import CallGate
from perpetuum.pipeline.columns import ColumnRunner, build_runner
from perpetuum.pipeline.repair import attach_repairs
from perpetuum.pipeline.seeds import model_seed, record_rng
from perpetuum.pipeline.spec import DatasetSpec, ExecutionConfig

__all__ = ["BackendPool", "RecordExecutor", "RunAborted", "build_runners"]

# A run stops when this many records have finished and every one of them failed.
ABORT_AFTER_FAILURES = 10


class RunAborted(PerpetuumError, RuntimeError):
    """The first records of a run all failed: the spec or a backend is broken."""


@dataclass
class BackendUsage:
    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    # Answers the request cache gave: not paid for, so apart from the counts above.
    cached_calls: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0


@dataclass
class RecordUsage:
    by_backend: dict[str, BackendUsage] = field(default_factory=dict)

    def add(self, backend: str, completion=None, retry: bool = False) -> None:
        usage = self.by_backend.setdefault(backend, BackendUsage())
        if retry:
            usage.retries += 1
            return
        if completion.extra.get("cached"):
            usage.cached_calls += 1
            usage.cached_prompt_tokens += int(completion.prompt_tokens)
            usage.cached_completion_tokens += int(completion.completion_tokens)
            return
        usage.calls += 1
        usage.prompt_tokens += int(completion.prompt_tokens)
        usage.completion_tokens += int(completion.completion_tokens)
        usage.seconds += float(completion.seconds)

    def as_dict(self) -> dict[str, dict]:
        return {
            name: {key: value for key, value in vars(usage).items() if value or not key.startswith("cached_")}
            | {"seconds": round(usage.seconds, 4)}
            for name, usage in sorted(self.by_backend.items())
        }

    def totals(self) -> dict[str, int]:
        """Calls, retries and tokens summed over backends, paid and cached (for per-column differences)."""
        keys = ("calls", "retries", "prompt_tokens", "completion_tokens", "cached_calls", "cached_prompt_tokens",
                "cached_completion_tokens")
        return {key: sum(getattr(usage, key) for usage in self.by_backend.values()) for key in keys}

    @property
    def completion_tokens(self) -> int:
        return sum(usage.completion_tokens for usage in self.by_backend.values())

    @property
    def prompt_tokens(self) -> int:
        return sum(usage.prompt_tokens for usage in self.by_backend.values())


class BackendPool:
    """The run's backends by spec name: created once, each behind its own concurrency limit and retry policy.

    `instances` lets a caller pass ready Backend objects by spec name (tests, notebooks, shared servers); the
    others are made from the spec's backend configs through the registry. Only backends some column uses are made.
    """

    def __init__(self, spec: DatasetSpec, instances: dict[str, Any] | None = None, gate: CallGate | None = None) -> None:
        self.spec = spec
        self.gate = gate or CallGate()  # the request cache and the budget, when the run has them
        self.policy: ExecutionConfig = spec.execution
        self._given = dict(instances or {})
        self._backends: dict[str, Any] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._jitter = random.Random()  # backoff jitter changes timing only, never a record's content

    def names_used(self) -> list[str]:
        used: list[str] = []
        for column in self.spec.columns:
            for backend in column.backends().values():
                name = self.spec.backend_for(backend)
                if name not in used:
                    used.append(name)
        return used

    def open(self) -> None:
        from perpetuum.llm.registry import get_backend

        # Spec backends with the same configuration (a teacher and a student on the same embedded model) share one
        # instance and one limit: one model in memory, and their requests batched together.
        made: dict[str, str] = {}
        for name in self.names_used():
            if name in self._given:
                backend = self._given[name]
            else:
                config = self.spec.backends[name]
                key = json.dumps([config.kind, config.options], sort_keys=True, default=repr)
                if key in made:
                    self._backends[name] = self._backends[made[key]]
                    self._semaphores[name] = self._semaphores[made[key]]
                    continue
                made[key] = name
                try:
                    backend = get_backend(config.kind, **config.options)
                except PerpetuumError as error:
                    raise SpecError(f"backends.{name}: {error}") from None
            self._backends[name] = backend
            self._semaphores[name] = asyncio.Semaphore(max(1, int(getattr(backend, "max_concurrency", 1) or 1)))

    def describe(self) -> dict[str, dict]:
        """{name: {kind, model, max_concurrency}} of the backends in use, for the dataset card."""
        described = {}
        for name, backend in self._backends.items():
            config = self.spec.backends.get(name)
            described[name] = {
                "kind": getattr(backend, "name", None) or (config.kind if config else ""),
                "model": getattr(backend, "model_name", "") or "",
                "max_concurrency": getattr(backend, "max_concurrency", 1),
            }
        return described

    def _distinct(self) -> dict[int, tuple[str, Any]]:
        """{id(instance): (first spec name, instance)}: each backend instance once, shared or not."""
        distinct: dict[int, tuple[str, Any]] = {}
        for name, backend in self._backends.items():
            distinct.setdefault(id(backend), (name, backend))
        return distinct

    def total_concurrency(self) -> int:
        return sum(getattr(backend, "max_concurrency", 1) or 1 for _, backend in self._distinct().values())

    async def close(self) -> None:
        for name, backend in self._distinct().values():
            if name not in self._given:
                await backend.aclose()
        self._backends.clear()

    def managed(self, name: str | None, usage: RecordUsage) -> ManagedBackend:
        name = self.spec.backend_for(name)
        return ManagedBackend(self, name, self._backends[name], usage)

    async def call(self, name: str, usage: RecordUsage, make_call: Callable[[], Any]):
        """Run one model call under the backend's limit, retrying transient failures with backoff and jitter."""
        attempts = self.policy.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self._semaphores[name]:
                    if self.policy.timeout_s is not None:
                        return await asyncio.wait_for(make_call(), self.policy.timeout_s)
                    return await make_call()
            except (TransientBackendError, asyncio.TimeoutError) as error:
                if attempt + 1 == attempts:
                    reason = str(error) or f"no answer within {self.policy.timeout_s} s"
                    raise TransientBackendError(
                        f"backend {name!r} still failing after {attempts} attempts: {reason}"
                    ) from error
                usage.add(name, retry=True)
                await asyncio.sleep(self.backoff(attempt, getattr(error, "retry_after", None)))

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in [0, min(backoff_max, base * 2^attempt)]; when the server said how long to wait
        (Retry-After), at least that, up to `retry_after_max` (a server asking for an hour should not stall a run)."""
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * (2**attempt))
        delay = self._jitter.uniform(0, ceiling)
        if retry_after:
            delay = max(delay, min(float(retry_after), self.policy.retry_after_max))
        return delay


class ManagedBackend:
    """A backend as a column sees it: calls go through the pool (limit, retries) and count towards the record's
    usage. Other attributes (name, model_name, constrains_json) are the real backend's."""

    def __init__(self, pool: BackendPool, name: str, backend, usage: RecordUsage) -> None:
        self._pool = pool
        self._spec_name = name
        self._backend = backend
        self._usage = usage

    def __getattr__(self, attribute):
        return getattr(self._backend, attribute)

    async def chat(self, messages, params, json_schema=None):
        def send():
            return self._pool.call(self._spec_name, self._usage, lambda: self._backend.chat(messages, params, json_schema))

        completion = await self._pool.gate.call(self._spec_name, self._backend, messages, params, json_schema, send)
        self._usage.add(self._spec_name, completion)
        return completion

    async def generate_json(self, messages, json_schema, params, max_attempts: int = 3):
        from perpetuum.llm.structured import generate_json

        value, _completions = await generate_json(self, messages, json_schema, params, max_attempts=max_attempts)
        return value


class _Context:
    """The RecordContext handed to columns for one record."""

    def __init__(self, index: int, spec: DatasetSpec, pool: BackendPool | None, usage: RecordUsage) -> None:
        self.index = index
        self.run_seed = spec.seed
        self._pool = pool
        self._usage = usage
        self.repairs: list[dict[str, Any]] = []

    def tokens_used(self) -> tuple[int, int]:
        return self._usage.prompt_tokens, self._usage.completion_tokens

    def rng(self, column: str, *salt: object):
        return record_rng(self.run_seed, self.index, column, *salt)

    def model_seed(self, column: str, *salt: object) -> int:
        return model_seed(self.run_seed, self.index, column, *salt)

    def backend(self, name: str | None) -> ManagedBackend:
        return self._pool.managed(name, self._usage)


def build_runners(spec: DatasetSpec, n: int) -> list[ColumnRunner]:
    """Runners in execution order, prepared, and checked against `n` (sampling without replacement)."""
    positions = {column.name: i for i, column in enumerate(spec.columns)}
    runners = []
    for name in spec.column_order():
        try:
            runner = build_runner(spec.column(name), spec)
        except SpecError as error:
            raise SpecError(f"columns[{positions[name]}]: {error}") from None
        capacity = getattr(runner, "capacity", lambda: None)()
        if capacity is not None and capacity < n:
            raise SpecError(
                f"columns[{positions[name]}].without_replacement: column {name!r} has {capacity} distinct values, "
                f"too few for {n} records; generate at most {capacity} or sample with replacement"
            )
        runners.append(runner)
    return attach_repairs(spec, runners)


class RecordExecutor:
    """Generates records by index and hands each finished entry to `sink` (as soon as it is done)."""

    def __init__(self, spec: DatasetSpec, runners: list[ColumnRunner], pool: BackendPool) -> None:
        self.spec = spec
        self.runners = runners
        self.pool = pool

    async def run_record(self, index: int) -> dict[str, Any]:
        """One entry: {"index", "status": "ok", "record", "usage", "seconds"} or a failure with column and error;
        with "repairs" (perpetuum.pipeline.repair) when the spec repairs a column or a dialogue role."""
        usage = RecordUsage()
        context = _Context(index, self.spec, self.pool, usage)
        record: dict[str, Any] = {}
        by_column: dict[str, dict[str, int]] = {}
        started = time.perf_counter()
        runner = None
        try:
            for runner in self.runners:
                before = usage.totals()
                record[runner.name] = await runner.compute(record, context)
                spent = {key: value - before[key] for key, value in usage.totals().items() if value != before[key]}
                if spent:
                    by_column[runner.name] = spent
        except RunStopped:
            raise  # a budget or monitor stop: the record is left unfinished, not failed; a resume makes it
        except Exception as error:  # one bad record must not end the run; it is kept as a failure record
            if self.pool.gate.stopped is not None:
                raise self.pool.gate.stopped from error  # a column that wrapped the stop in its own error
            return {
                "index": index,
                "status": "failed",
                "column": runner.name if runner else None,
                "error_type": type(error).__name__,
                "error": str(error),
                "expected": isinstance(error, (GenerationError, TransientBackendError)),
                "usage": usage.as_dict(),
                "usage_by_column": by_column,
                "seconds": round(time.perf_counter() - started, 4),
                **({"repairs": context.repairs} if context.repairs else {}),
            }
        return {
            "index": index,
            "status": "ok",
            "record": record,
            "usage": usage.as_dict(),
            "usage_by_column": by_column,
            "seconds": round(time.perf_counter() - started, 4),
            **({"repairs": context.repairs} if context.repairs else {}),
        }

    async def run(
        self, indices: Iterable[int], sink: Callable[[dict], None], max_in_flight: int | None = None
    ) -> None:
        """Work on up to `max_in_flight` records at once (default: twice the backends' total concurrency).

        When the pool's gate closes (RunStopped: a budget limit or a monitor), no record is started after it, the
        records it interrupted are left out of the sink, the ones that finish still go to it, and then RunStopped
        is raised."""
        in_flight = max_in_flight or self.spec.execution.max_in_flight or max(4, 2 * self.pool.total_concurrency())
        pending = iter(indices)
        finished = {"ok": 0, "failed": 0}
        first_failure: list[dict] = []

        async def worker() -> None:
            for index in pending:  # a shared iterator: each index goes to exactly one worker
                if self.pool.gate.stopped is not None:
                    return
                try:
                    entry = await self.run_record(index)
                except RunStopped:
                    return
                finished[entry["status"]] += 1
                if entry["status"] == "failed" and not first_failure:
                    first_failure.append(entry)
                sink(entry)
                if finished["ok"] == 0 and finished["failed"] >= ABORT_AFTER_FAILURES:
                    failure = first_failure[0]
                    raise RunAborted(
                        f"the first {finished['failed']} records all failed; first error, in column "
                        f"{failure['column']!r}: {failure['error_type']}: {failure['error']}. Fix the spec or the "
                        "backend, then resume with retry_failed=True (--resume --retry-failed)"
                    )

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(in_flight):
                    group.create_task(worker())
        except BaseExceptionGroup as errors:  # one worker's error (RunAborted, a failing sink) is the run's error
            raise errors.exceptions[0] from None
        if self.pool.gate.stopped is not None:
            raise self.pool.gate.stopped
