"""Connecting to Ray: the optional dependency checked with a message that says how to install it, and a session
that joins a cluster (or starts one on this machine) for one run and shuts down only what it started."""

from __future__ import annotations

import logging
import os

from perpetuum.errors import ScaleOutError

__all__ = ["INSTALL_HINT", "RaySession", "require_ray"]

INSTALL_HINT = "pip install 'perpetuum[ray]'"


def require_ray():
    """The `ray` module, or a ScaleOutError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ScaleOutError(
            f"scaling out (--ray, executor='ray') needs Ray, which is not installed here: {INSTALL_HINT}"
        ) from None
    return ray


class RaySession:
    """A connection to a Ray cluster for one run.

    address: None joins the cluster `RAY_ADDRESS` names, or else starts a local one on this machine (stopped again
    at `close`); "auto" joins the cluster running on this machine; "HOST:PORT" or "ray://HOST:10001" joins that one.
    A process already connected (`ray.init` called by the user or a notebook) keeps its connection, whatever the
    address, and it is never shut down here.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.ray = require_ray()
        self._started_here = False

    def open(self) -> RaySession:
        ray = self.ray
        if ray.is_initialized():
            return self
        try:
            if self.address is None and not os.environ.get("RAY_ADDRESS"):
                ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
            else:
                ray.init(address=self.address, logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = self.address or os.environ.get("RAY_ADDRESS") or "a new local cluster"
            raise ScaleOutError(
                f"cannot connect to the Ray cluster at {where}: {error}. Start one with `ray start --head` (and "
                "`ray start --address=HEAD:6379` on each worker), or give --ray without an address for a local one"
            ) from None
        self._started_here = True
        return self

    def cpus(self) -> int:
        """CPUs the cluster has in all (at least 1)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self._started_here and self.ray.is_initialized():
            self.ray.shutdown()
        self._started_here = False
