"""One budget and one stop for a whole Ray run.

The driver's BudgetLedger (`perpetuum.pipeline.budget`) moves into a small Ray actor, `LedgerActor`; every record
actor's call gate reserves from it and settles to it (`RemoteBudget`), so requests in flight on every node count
against the same limits and the first refused request closes the run everywhere, as locally. The ledger actor runs
one method at a time, so reservations never race. A quality monitor's stop, decided on the driver as entries
arrive, goes to the same actor (`stop`): the next request of any record actor is refused with that reason. When the
run ends the driver takes the ledger back (`state`) for the card and the checkpoint. A ledger actor that is lost
(its node gone) stops the run, resumably, since no limit can be kept without it; the card then shows what the
driver last knew was spent before the run, and the records' own usage.
"""

from __future__ import annotations

from typing import Any

from perpetuum.errors import RunStopped
from perpetuum.pipeline.budget import BudgetLedger, Reservation

__all__ = ["LedgerActor", "RemoteBudget", "stop_from", "stop_as_dict"]


def stop_as_dict(stop: RunStopped) -> dict[str, Any]:
    return {"reason": stop.reason, "kind": stop.kind, "limit": stop.limit}


def stop_from(values: dict[str, Any]) -> RunStopped:
    return RunStopped(values["reason"], kind=values["kind"], limit=values["limit"])


class LedgerActor:
    """The run's ledger (None: no budget, only a stop channel for monitors). Made a Ray actor by the runner."""

    def __init__(self, ledger: BudgetLedger | None) -> None:
        self.ledger = ledger
        self.halt: RunStopped | None = None

    def _stopped(self) -> RunStopped | None:
        return self.halt or (self.ledger.stopped if self.ledger is not None else None)

    def reserve(self, backend: str, prompt_tokens: int, max_tokens: int) -> dict[str, Any]:
        """{"reservation": Reservation or None} or {"stopped": the stop} (plain values: they cross processes)."""
        stopped = self._stopped()
        if stopped is not None:
            return {"stopped": stop_as_dict(stopped)}
        if self.ledger is None:
            return {"reservation": None}
        try:
            return {"reservation": self.ledger.reserve(backend, prompt_tokens, max_tokens)}
        except RunStopped as stop:
            return {"stopped": stop_as_dict(stop)}

    def settle(self, reservation: Reservation, completion) -> None:
        if self.ledger is not None:
            self.ledger.settle(reservation, completion)

    def stop(self, values: dict[str, Any]) -> None:
        """Refuse every later request (a monitor's stop); a stop already made stays."""
        if self._stopped() is None:
            self.halt = stop_from(values)

    def state(self) -> tuple[BudgetLedger | None, dict | None]:
        stopped = self._stopped()
        return self.ledger, None if stopped is None else stop_as_dict(stopped)


class RemoteBudget:
    """A record actor's view of the run's LedgerActor, as its CallGate's budget: `reserve` and `settle` are
    awaitable, and a refusal is remembered so this actor's later calls stop without asking again."""

    def __init__(self, ledger_actor) -> None:
        self.ledger_actor = ledger_actor
        self.stopped: RunStopped | None = None

    async def reserve(self, backend: str, prompt_tokens: int, max_tokens: int) -> Reservation | None:
        if self.stopped is not None:
            raise self.stopped
        try:
            answer = await self.ledger_actor.reserve.remote(backend, prompt_tokens, max_tokens)
        except _ray_actor_error() as error:  # without the ledger no limit can be kept: stop, resumable
            self.stopped = RunStopped(f"the run's budget ledger (a Ray actor) was lost ({type(error).__name__}); "
                                      "the finished records are kept: resume the run to go on", kind="budget",
                                      limit="ledger")
            raise self.stopped from None
        if "stopped" in answer:
            self.stopped = stop_from(answer["stopped"])
            raise self.stopped
        return answer["reservation"]

    async def settle(self, reservation: Reservation, completion) -> None:
        try:
            await self.ledger_actor.settle.remote(reservation, completion)
        except _ray_actor_error():
            pass  # the answer is good; the lost ledger stops the next request (`reserve`)


def _ray_actor_error() -> type[BaseException]:
    from ray.exceptions import RayActorError

    return RayActorError
