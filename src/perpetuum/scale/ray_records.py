"""A spec's records generated on Ray actors, with the dataset a local run gives.

    generate(spec, 1_000_000, "out/", executor="ray")                         # local cluster, or RAY_ADDRESS's
    generate(spec, 1_000_000, "out/", executor=RayExecutor(address="auto", actors=32))

- Each actor builds the run's backends once (an embedded model is loaded once per actor) and generates chunks of
  record indices with the local `RecordExecutor`; a record's values depend only on (spec, index), so it does not
  matter which actor makes it.
- A backend whose requests go to a shared server (`Backend.remote`, e.g. an OpenAI-compatible vLLM fleet) keeps
  its `max_concurrency` as a limit for the whole run: the actors split it (actor i gets its share, the shares add
  up to the limit), so the fleet never sees more requests than a local run would send.
- Finished chunks come back to the driver, which writes every entry to the run's local checkpoint (the same shards
  and SQLite state as a local run), so `resume` works the same way: a driver killed mid-run loses only the chunks in
  flight, and they are generated again, identical, on resume. An actor that dies (a killed process, a lost node)
  is restarted by Ray and its chunk retried; one that cannot be restarted, or does not answer for `actor_timeout`
  seconds (restarting with no free CPU after its node was lost, `actor_watch`), has its chunks handed to the others,
  and only when no actor is left does the run stop, with everything finished so far checkpointed.
- A budget and the spec's monitors hold as locally: the actors reserve every request from one ledger actor
  (`ray_budget`), the driver's monitors watch the entries as they come back, and either stop closes the ledger, so
  no actor sends a request after it; finished records are kept and a resume goes on from there.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import uuid
from collections import deque
from typing import Any

from perpetuum.errors import ParameterError, RunStopped, ScaleOutError
from perpetuum.pipeline.call_gate import CallGate
from perpetuum.pipeline.executor import ABORT_AFTER_FAILURES, BackendPool, RecordExecutor, RunAborted, build_runners
from perpetuum.pipeline.record_executors import register_record_executor
from perpetuum.pipeline.spec import DatasetSpec
from perpetuum.pipeline.spec_models import BackendConfig
from perpetuum.scale.actor_watch import ActorWatch
from perpetuum.scale.cluster import RaySession, require_ray
from perpetuum.scale.ray_budget import LedgerActor, RemoteBudget, stop_as_dict, stop_from

__all__ = ["RayExecutor", "RecordActor", "capacity_shares"]

LEDGER_NAME_PREFIX = "perpetuum-ledger-"  # the run's LedgerActor (`ray_budget`), named so it can be found
# Chunks each actor holds at once: while one comes back, the next keeps the actor's backends busy.
CHUNKS_PER_ACTOR = 2


@register_record_executor("ray")
class RayExecutor:
    """Generate records on `actors` Ray actors (default: one per `cpus_per_actor` CPUs of the cluster).

    address: see `RaySession` (None: RAY_ADDRESS or a local cluster). records_in_flight: records each actor works on
    at once (default: the spec's `execution.max_in_flight`, else twice its backends' concurrency, as locally).
    max_restarts: how often Ray restarts a dead actor (retrying its chunk) before its work goes to the others.
    actor_timeout: seconds a busy actor may leave a ping unanswered (a lost node, a restart waiting for a free CPU)
    before it is killed and its work goes to the others. After `open`, `actors_` holds the actor handles.
    """

    def __init__(
        self,
        address: str | None = None,
        actors: int | None = None,
        cpus_per_actor: float = 1.0,
        records_in_flight: int | None = None,
        max_restarts: int = 2,
        actor_timeout: float = 120.0,
    ) -> None:
        require_ray()  # before a run starts: without Ray, say how to install it
        self.address = address
        self.actors = actors
        self.cpus_per_actor = cpus_per_actor
        self.records_in_flight = records_in_flight
        self.max_restarts = max_restarts
        self.actor_timeout = actor_timeout
        self.actors_: list = []

    def _check(self) -> None:
        if self.actors is not None and (not isinstance(self.actors, int) or self.actors < 1):
            raise ParameterError(f"actors must be a positive number of Ray actors, got {self.actors!r}")
        if not self.cpus_per_actor > 0:
            raise ParameterError(f"cpus_per_actor must be above 0, got {self.cpus_per_actor!r}")
        if self.records_in_flight is not None and self.records_in_flight < 1:
            raise ParameterError(f"records_in_flight must be at least 1, got {self.records_in_flight!r}")
        if not self.actor_timeout > 0:
            raise ParameterError(f"actor_timeout must be a number of seconds above 0, got {self.actor_timeout!r}")

    async def open(self, spec: DatasetSpec, n: int, backends: dict[str, Any] | None) -> RayRecordRunner:
        """Start the actors and build their backends; returns the runner the pipeline hands record indices to."""
        self._check()
        session = RaySession(self.address).open()
        ray = session.ray
        handles: list = []
        try:
            count = self.actors or max(1, int(session.cpus() // self.cpus_per_actor))
            shares = capacity_shares(spec, backends, count)
            classes = _plugin_backend_classes(spec, backends)
            actor_class = ray.remote(RecordActor).options(
                num_cpus=self.cpus_per_actor, max_restarts=self.max_restarts, max_task_retries=self.max_restarts
            )
            given = dict(backends or {})  # each actor gets its own copy
            handles = [actor_class.remote(spec, n, classes, given, shares[i]) for i in range(count)]
            described = await asyncio.gather(*(_awaitable(handle.open.remote()) for handle in handles))
        except BaseException:
            for handle in handles:
                ray.kill(handle)
            session.close()
            raise
        self.actors_ = handles
        in_flight = self.records_in_flight or spec.execution.max_in_flight
        return RayRecordRunner(session, handles, described, in_flight, self.actor_timeout)


class RayRecordRunner:
    """Hands chunks of record indices to the actors and their finished entries to the pipeline's sink."""

    def __init__(self, session: RaySession, actors: list, described: list[dict], records_in_flight: int | None,
                 actor_timeout: float = 120.0):
        self.session = session
        self.actors = list(actors)
        self.watch = ActorWatch(session.ray, self.actors, actor_timeout)
        self.described = described
        concurrency = min(item["total_concurrency"] for item in described)
        in_flight = records_in_flight or max(4, 2 * concurrency)
        self.chunk_size = max(1, math.ceil(in_flight / CHUNKS_PER_ACTOR))
        self.finished = {"ok": 0, "failed": 0}
        self._first_failure: dict | None = None

    def describe(self) -> dict[str, dict]:
        """The backends as the card shows them: `max_concurrency` is the whole cluster's, with the actor count."""
        merged: dict[str, dict] = {}
        for name, info in self.described[0]["backends"].items():
            total = sum(item["backends"][name]["max_concurrency"] for item in self.described)
            merged[name] = {**info, "max_concurrency": total, "ray_actors": len(self.described)}
        return merged

    async def run(self, indices, sink, gate: CallGate | None = None) -> None:
        """Every entry of `indices` to `sink`. With `gate` (the driver's: its budget, closed by a monitor's stop),
        the actors share one ledger (`ray_budget`); when it closes, no chunk is handed out after it, the records
        the stop interrupted are left out of the sink, the rest still go to it, and then RunStopped is raised."""
        chunks = deque(_chunks(list(indices), self.chunk_size))
        alive = set(range(len(self.actors)))
        pending: dict[asyncio.Future, tuple[int, list[int]]] = {}
        ledger = self._open_ledger(gate)
        told: list[RunStopped] = []  # the stop sent to the ledger actor, once

        def submit(position: int) -> None:
            if chunks and position in alive:
                chunk = chunks.popleft()
                pending[_awaitable(self.actors[position].run_chunk.remote(chunk, ledger))] = (position, chunk)

        def closed() -> bool:
            """Whether the run has stopped; a stop decided here (a monitor) goes to the ledger actor."""
            if gate is None or gate.stopped is None:
                return False
            if not told:
                told.append(gate.stopped)
                ledger.stop.remote(stop_as_dict(gate.stopped))
            chunks.clear()
            return True

        for _ in range(CHUNKS_PER_ACTOR):
            for position in sorted(alive):
                submit(position)
        try:
            while pending:
                done, _ = await asyncio.wait(pending, timeout=self.watch.interval, return_when=asyncio.FIRST_COMPLETED)
                self.watch.check({owner for owner, _ in pending.values()})  # a silent actor is killed: its chunks fail
                for future in sorted(done, key=lambda item: pending[item][1][0]):
                    position, chunk = pending.pop(future)
                    try:
                        entries, stopped = future.result()
                    except self.session.ray.exceptions.RayActorError as error:
                        self._lost(position, chunk, error, alive, chunks)
                        for other in sorted(alive):  # the lost chunk goes to whoever has room
                            if sum(1 for owner, _ in pending.values() if owner == other) < CHUNKS_PER_ACTOR:
                                submit(other)
                        continue
                    if stopped is not None and gate is not None:
                        gate.stop(stop_from(stopped))
                    for entry in sorted(entries, key=lambda item: item["index"]):
                        sink(entry)
                        self._watch(entry)
                    if not closed():
                        submit(position)
        finally:
            for future in pending:
                future.cancel()
            if ledger is not None:
                await self._close_ledger(ledger, gate)
        if gate is not None and gate.stopped is not None:
            raise gate.stopped

    def _open_ledger(self, gate: CallGate | None):
        """The run's LedgerActor, holding the driver's ledger (None without a gate)."""
        if gate is None:
            return None
        ray = self.session.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # On the driver's node where it can: a lost worker node then takes record actors, not the run's ledger.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        name = f"{LEDGER_NAME_PREFIX}{uuid.uuid4().hex}"
        return ray.remote(LedgerActor).options(num_cpus=0, max_restarts=0, scheduling_strategy=here,
                                               name=name).remote(gate.budget)

    async def _close_ledger(self, ledger, gate: CallGate) -> None:
        """The ledger back on the driver (what every actor spent, the stop), and the actor ended."""
        ray = self.session.ray
        try:
            budget, stopped = await _awaitable(ledger.state.remote())
        except ray.exceptions.RayActorError:
            return  # lost with its node: the actors stopped on their next request (`RemoteBudget`)
        finally:
            ray.kill(ledger)
        if budget is not None:
            gate.budget = budget
        if stopped is not None:
            gate.stop(stop_from(stopped))

    def _lost(self, position: int, chunk: list[int], error, alive: set[int], chunks: deque) -> None:
        alive.discard(position)
        chunks.appendleft(chunk)
        if not alive:
            done = self.finished["ok"] + self.finished["failed"]
            raise ScaleOutError(
                f"every Ray actor of the run died (last: actor {position}: {type(error).__name__}); the {done} "
                "records finished are in the checkpoint. Resume the run (resume=True, --resume) to generate the "
                "rest; the result equals an uninterrupted run"
            ) from None

    def _watch(self, entry: dict) -> None:
        """A local run's rule: stop when the first records all failed (a broken spec or backend)."""
        self.finished[entry["status"]] += 1
        if entry["status"] != "ok" and self._first_failure is None:
            self._first_failure = entry
        if self.finished["ok"] == 0 and self.finished["failed"] >= ABORT_AFTER_FAILURES:
            failure = self._first_failure
            raise RunAborted(
                f"the first {self.finished['failed']} records all failed; first error, in column "
                f"{failure['column']!r}: {failure['error_type']}: {failure['error']}. Fix the spec or the backend, "
                "then resume with retry_failed=True (--resume --retry-failed)"
            )

    async def close(self) -> None:
        ray = self.session.ray
        try:
            closing = [_awaitable(actor.close.remote()) for actor in self.actors]
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout=30)
        except asyncio.TimeoutError:
            pass  # an actor that does not close in time is killed below all the same
        finally:
            for actor in self.actors:
                ray.kill(actor)
            self.session.close()


class RecordActor:
    """One Ray actor: the run's backends, built once, and the local executor over them. Not used directly; Ray
    makes it a remote class (`ray.remote(RecordActor)`) when a run starts."""

    def __init__(self, spec: DatasetSpec, n: int, classes: dict[str, type], given: dict[str, Any],
                 shares: dict[str, int]) -> None:
        from perpetuum.llm.registry import register_backend

        for kind, cls in classes.items():  # backends registered in the driver's code, not importable by name here
            register_backend(kind)(cls)
        self.spec = _with_shares(spec, given, shares)
        self.n = n
        self.given = given
        self.pool: BackendPool | None = None
        self.executor: RecordExecutor | None = None

    async def open(self) -> dict:
        if self.pool is None:
            pool = BackendPool(self.spec, self.given)
            pool.open()
            self.pool = pool
            self.executor = RecordExecutor(self.spec, build_runners(self.spec, self.n), pool)
        return {"backends": self.pool.describe(), "total_concurrency": self.pool.total_concurrency()}

    async def ping(self) -> bool:
        return True

    async def run_chunk(self, indices: list[int], ledger_actor=None) -> tuple[list[dict], dict | None]:
        """The entries of `indices`, generated together (their model calls share the backends' limits), and the
        stop that closed the run's ledger, if one did: the records it interrupted are left out, to be made again on
        resume. `ledger_actor`: the run's LedgerActor, which every model call reserves from."""
        await self.open()  # after a restart by Ray, the backends are built again here
        if ledger_actor is not None and getattr(self.pool.gate.budget, "ledger_actor", None) != ledger_actor:
            self.pool.gate = CallGate(budget=RemoteBudget(ledger_actor))
        results = await asyncio.gather(*(self.executor.run_record(index) for index in indices),
                                       return_exceptions=True)
        entries, stop = [], None
        for result in results:
            if isinstance(result, RunStopped):
                stop = stop or result
            elif isinstance(result, BaseException):
                raise result
            else:
                entries.append(result)
        return entries, None if stop is None else stop_as_dict(stop)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


def capacity_shares(spec: DatasetSpec, backends: dict[str, Any] | None, actors: int) -> list[dict[str, int]]:
    """Per actor, {backend name: its share of the backend's max_concurrency} for every remote backend the spec
    uses; the shares add up to the limit, so the cluster keeps the limit a local run keeps."""
    given = dict(backends or {})
    shares: list[dict[str, int]] = [{} for _ in range(actors)]
    for name in BackendPool(spec, given).names_used():
        if name in given:
            cls, total = type(given[name]), getattr(given[name], "max_concurrency", 1)
        else:
            from perpetuum.llm.registry import get_backend_class

            config = spec.backends[name]
            cls = get_backend_class(config.kind)
            total = config.options.get("max_concurrency", _default_concurrency(cls))
        if not getattr(cls, "remote", False):
            continue
        total = int(total or 1)
        if total < actors:
            raise ParameterError(
                f"backend {name!r} allows {total} requests at once for the whole run, fewer than the {actors} Ray "
                "actors that would share them; use at most that many actors (--ray-actors) or raise the backend's "
                "max_concurrency"
            )
        for position in range(actors):
            shares[position][name] = total // actors + (1 if position < total % actors else 0)
    return shares


def _default_concurrency(cls: type) -> int:
    parameter = inspect.signature(cls.__init__).parameters.get("max_concurrency")
    if parameter is not None and parameter.default is not inspect.Parameter.empty:
        return parameter.default
    return getattr(cls, "max_concurrency", 1)


def _with_shares(spec: DatasetSpec, given: dict[str, Any], shares: dict[str, int]) -> DatasetSpec:
    """The actor's copy of the spec (and of ready backends) with its share of each remote backend's limit."""
    for name, share in shares.items():
        if name in given:
            given[name].max_concurrency = share
        else:
            config = spec.backends[name]
            spec.backends[name] = BackendConfig(kind=config.kind, **{**config.options, "max_concurrency": share})
    return spec


def _plugin_backend_classes(spec: DatasetSpec, backends: dict[str, Any] | None) -> dict[str, type]:
    """Backend classes the driver registered in code (not built in, not an entry point): the actors register the
    same classes (Ray imports their module there, or ships the class itself when it was defined in a script)."""
    from perpetuum.llm.registry import BACKENDS, get_backend_class

    from importlib.metadata import entry_points

    from perpetuum.llm.registry import ENTRY_POINT_GROUP

    given = backends or {}
    kinds = {spec.backends[name].kind for name in BackendPool(spec, given).names_used() if name not in given}
    published = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return {kind: get_backend_class(kind) for kind in sorted(kinds) if kind not in BACKENDS.modules
            and kind not in published}


def _chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[start:start + size] for start in range(0, len(indices), size)]


def _awaitable(ref) -> asyncio.Future:
    """A Ray ObjectRef as an asyncio future of this event loop."""
    return asyncio.wrap_future(ref.future())
