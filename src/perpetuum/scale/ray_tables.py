"""Parquet shards of a saved model written in parallel by Ray tasks: `sample_shards(..., executor="ray")`.

The model is put once in Ray's object store; each task samples one shard with that shard's own seed and writes it
under its final name atomically (`perpetuum.workflow.shards.write_shard`), so the files equal a local run's and a
task retried after a worker died never leaves half a file. The driver keeps a bounded number of tasks in flight and
receives only each shard's summary (file, rows, seed), never its rows. An output folder in an object store
(s3://bucket/prefix) is written by the tasks directly; its file system goes with them, configured from the driver's
AWS variables (`perpetuum.storage`), so the workers need no settings of their own to reach a custom endpoint.
"""

from __future__ import annotations

from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar
from perpetuum.scale.cluster import RaySession, require_ray
from perpetuum.storage import OutputFolder
from perpetuum.workflow.shards import ShardTask, register_shard_executor, write_shard

__all__ = ["RayShardWriter"]


@register_shard_executor("ray")
class RayShardWriter:
    """Write shards as Ray tasks. address: see `RaySession`; cpus_per_task: CPUs each task reserves;
    tasks_in_flight: shards sampled at once (default: the cluster's CPUs / cpus_per_task), which bounds memory at
    that many shards; max_retries: how often a task whose worker died is run again."""

    def __init__(self, address: str | None = None, cpus_per_task: float = 1.0, tasks_in_flight: int | None = None,
                 max_retries: int = 3) -> None:
        require_ray()  # before any shard is planned: without Ray, say how to install it
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.tasks_in_flight = tasks_in_flight
        self.max_retries = max_retries

    def write(self, synthesizer, tasks: list[ShardTask], folder: OutputFolder, conditions: dict | None,
              verbose: bool = False) -> list[dict]:
        if not self.cpus_per_task > 0:
            raise ParameterError(f"cpus_per_task must be above 0, got {self.cpus_per_task!r}")
        session = RaySession(self.address).open()
        ray = session.ray
        try:
            limit = self.tasks_in_flight or max(1, int(session.cpus() // self.cpus_per_task))
            model = ray.put(synthesizer)
            remote_write = ray.remote(_write_shard_task).options(num_cpus=self.cpus_per_task,
                                                                 max_retries=self.max_retries)
            queue, pending, written = list(reversed(tasks)), [], []
            with progress_bar(f"Writing {len(tasks)} shards on Ray", total=len(tasks), verbose=verbose) as bar:
                while queue or pending:
                    while queue and len(pending) < limit:
                        pending.append(remote_write.remote(model, queue.pop(), folder, conditions))
                    done, pending = ray.wait(pending, num_returns=1)
                    for summary in ray.get(done):
                        written.append(summary)
                        bar.advance()
            return sorted(written, key=lambda summary: summary["index"])
        finally:
            session.close()


def _write_shard_task(synthesizer, task: ShardTask, folder: OutputFolder, conditions: dict | None) -> dict:
    return write_shard(synthesizer, task, folder, conditions)
