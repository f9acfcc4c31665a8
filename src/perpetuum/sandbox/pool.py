"""Many sandboxed runs at once: each run is its own process tree, so a thread per run only waits on it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from perpetuum.errors import ParameterError
from perpetuum.sandbox.limits import SandboxLimits, SandboxResult
from perpetuum.sandbox.runner import run_python

__all__ = ["SandboxPool", "run_many"]


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class SandboxPool:
    """At most `workers` sandboxes running at a time (default: the CPU count, at most 8).

    `submit(code, tests=None)` returns a Future of a SandboxResult; `map([(code, tests), ...])` the results in order.
    """

    def __init__(self, workers: int | None = None, *, limits: SandboxLimits | None = None, isolation: str = "auto"):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ParameterError(f"workers must be a positive integer; got {workers!r}")
        self.workers = workers or _default_workers()
        self.limits = limits or SandboxLimits()
        self.isolation = isolation
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="perpetuum-sandbox")

    def submit(self, code: str, tests: str | None = None) -> Future:
        return self._executor.submit(run_python, code, tests=tests, limits=self.limits, isolation=self.isolation)

    def map(self, jobs: Iterable[tuple[str, str | None] | str]) -> list[SandboxResult]:
        futures = [self.submit(*job) if isinstance(job, tuple) else self.submit(job) for job in jobs]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_many(
    jobs: Iterable[tuple[str, str | None] | str],
    *,
    workers: int | None = None,
    limits: SandboxLimits | None = None,
    isolation: str = "auto",
) -> list[SandboxResult]:
    """Run every (code, tests) pair in its own sandbox, `workers` at a time; results in the order of `jobs`."""
    with SandboxPool(workers, limits=limits, isolation=isolation) as pool:
        return pool.map(jobs)
