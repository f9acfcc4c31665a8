"""Where a run's records are generated: in this process (`"local"`, the default) or elsewhere, found by name.

    generate(spec, n, "out/", executor="ray")                              # a registered executor, default options
    generate(spec, n, "out/", executor=RayExecutor(actors=4, address="auto"))   # or a configured object

An executor other than "local" is an object with `async open(spec, n, backends) -> runner`; the runner has
`describe() -> {backend name: {kind, model, max_concurrency, ...}}` (for the dataset card), `async run(indices,
sink)` (every finished entry goes to `sink`, exactly once, as `RecordExecutor.run` does) and `async close()`. The
checkpoint, filters, outputs and card stay in the calling process, so a run made elsewhere is resumed, filtered and
described exactly as a local one. Executors register in `RECORD_EXECUTORS` (entry-point group
`perpetuum.record_executors`); the built-in "ray" lives in `perpetuum.scale` and loads when first asked for.
"""

from __future__ import annotations

from typing import Any, Protocol

from perpetuum.errors import ParameterError
from perpetuum.registry import Registry

__all__ = ["LOCAL", "RECORD_EXECUTORS", "RecordRunner", "is_local", "named_record_executor", "open_record_runner",
           "register_record_executor", "resolve_record_executor"]

LOCAL = "local"

RECORD_EXECUTORS = Registry(
    "record executor",
    modules={"ray": "perpetuum.scale.ray_records"},
    entry_point_group="perpetuum.record_executors",
    name_attribute=None,
    hint=f' (or "{LOCAL}", the default: this process)',
)


class RecordRunner(Protocol):
    def describe(self) -> dict[str, dict]: ...

    async def run(self, indices: list[int], sink) -> None: ...

    async def close(self) -> None: ...


def register_record_executor(name: str):
    """Class decorator: make an executor class (built with no arguments) available as `executor=name`."""
    return RECORD_EXECUTORS.register(name)


def named_record_executor(name: str, **options: Any) -> Any:
    """The executor registered as `name`, built with `options` (for "ray": address, actors, ...)."""
    return RECORD_EXECUTORS.get(name)(**options)


def is_local(executor: Any) -> bool:
    return executor is None or executor == LOCAL


def resolve_record_executor(executor: Any) -> Any:
    """LOCAL, or the executor object `executor` names (a registered name) or is; checked before a run starts, so
    a missing optional dependency (Ray) is reported before any file is written."""
    if is_local(executor):
        return LOCAL
    if isinstance(executor, str):
        executor = RECORD_EXECUTORS.get(executor)()
    if not callable(getattr(executor, "open", None)):
        raise ParameterError(
            f"executor must be {LOCAL!r}, a registered executor name ({', '.join(RECORD_EXECUTORS.names())}) or an "
            f"object with an async open(spec, n, backends) method; got {executor!r}"
        )
    return executor


async def open_record_runner(executor: Any, spec, n: int, backends: dict[str, Any] | None) -> RecordRunner:
    """The runner of `executor` (a registered name or an executor object) for `n` records of `spec`."""
    return await resolve_record_executor(executor).open(spec, n, backends)
