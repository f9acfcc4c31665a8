"""Noticing Ray actors that stop answering, so that a run never waits forever on one.

An actor whose node is lost is restarted by Ray only where a CPU is free; on a full cluster it waits for one, and so
does the chunk it was given. Ray raises nothing while it waits, so each busy actor is pinged now and then (the
actors are async, so a ping is answered while chunks run); one that leaves a ping unanswered for `timeout` seconds
is killed for good: its chunks then fail with RayActorError and go to the other actors, as a dead actor's do.
"""

from __future__ import annotations

import time

__all__ = ["ActorWatch"]


class ActorWatch:
    """Pings of the busy actors among `actors`; `check(busy)` kills those silent for `timeout` seconds."""

    def __init__(self, ray, actors: list, timeout: float) -> None:
        self.ray = ray
        self.actors = actors
        self.timeout = timeout
        self.interval = min(5.0, timeout / 3)
        self._pings: dict[int, tuple] = {}  # position -> (ping reference, sent at)
        self._answered: dict[int, float] = {}

    def check(self, busy: set[int]) -> list[int]:
        """Send due pings and read answers; returns the positions of the actors killed now for not answering."""
        now = time.monotonic()
        killed = []
        for position in sorted(busy):
            if position not in self._pings:
                if now - self._answered.get(position, float("-inf")) >= self.interval:
                    self._pings[position] = (self.actors[position].ping.remote(), now)
                continue
            reference, sent = self._pings[position]
            answered, _ = self.ray.wait([reference], timeout=0)
            if answered:
                del self._pings[position]
                self._answered[position] = now
                try:
                    self.ray.get(reference)
                except self.ray.exceptions.RayError:
                    pass  # a dead actor: its chunks fail the same way and are handled there
            elif now - sent >= self.timeout:
                del self._pings[position]
                self.ray.kill(self.actors[position], no_restart=True)
                killed.append(position)
        return killed
