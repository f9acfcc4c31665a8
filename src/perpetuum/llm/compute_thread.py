"""The one thread that makes every llama.cpp call of this process: model loads, serial requests, batch-engine steps.

llama.cpp's CPU backend (built with OpenMP, as llama-cpp-python builds it) runs each computation on a team of
threads owned by the calling thread. A second calling thread gets a second team, and from then on its computations
ran on one core only (measured on the 2-core machine, SmolLM2-135M, 2 threads: 88-104 tokens/s from a lone worker
thread, 40 tokens/s from the same worker once the main thread had computed once, with 0.98 CPU-seconds per second).
So every llama.cpp call goes through this thread, as tasks in one FIFO queue: a batch engine's steps, a serial
request, a model load. Tasks of different models interleave, so they take turns at the whole machine instead of
fighting over it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_thread_ident: int | None = None


def _remember_thread() -> None:
    global _thread_ident
    _thread_ident = threading.get_ident()


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="perpetuum-llama", initializer=_remember_thread
            )
        return _executor


def on_compute_thread() -> bool:
    return _thread_ident is not None and threading.get_ident() == _thread_ident


def submit(function: Callable[..., Any], *args) -> concurrent.futures.Future:
    """Queue `function(*args)` on the compute thread."""
    return _get_executor().submit(function, *args)


def run(function: Callable[..., Any], *args) -> Any:
    """`function(*args)` on the compute thread, waiting for it (called directly when already there)."""
    if on_compute_thread():
        return function(*args)
    return submit(function, *args).result()


async def run_async(function: Callable[..., Any], *args) -> Any:
    """`function(*args)` on the compute thread, awaited without blocking the event loop."""
    if on_compute_thread():
        return function(*args)
    return await asyncio.wrap_future(submit(function, *args))
