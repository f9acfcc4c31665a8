"""Scale-out on Ray: the same spec or model on a cluster, with the same result as on one machine.

    from perpetuum.pipeline import generate
    generate("spec.yaml", 1_000_000, "out/", executor="ray")          # or RayExecutor(address=..., actors=...)

    from perpetuum.workflow.shards import sample_shards
    sample_shards("models/adult", 100_000_000, "out/", seed=7, executor="ray")   # or RayShardWriter(address=...)

Modules: `cluster` (the optional `ray` import and one run's connection), `ray_records` (text: records on Ray actors,
checkpointed by the driver in the local format), `actor_watch` (actors that stop answering, as after a lost node,
are given up so that their chunks go to the others), `ray_budget` (one budget ledger, in an actor, that every
record actor reserves from; a monitor's stop on the driver closes it), `ray_tables` (tables: Parquet shards written
by Ray tasks).
Either may write to an object store (`output_dir="s3://bucket/prefix"`, see `perpetuum.storage`). The
pipeline and the table workflow find these executors by name ("ray"), so neither imports Ray; without it installed,
asking for "ray" says `pip install 'perpetuum[ray]'`.
"""

from perpetuum.scale.cluster import INSTALL_HINT, RaySession, require_ray
from perpetuum.scale.ray_records import RayExecutor, capacity_shares
from perpetuum.scale.ray_tables import RayShardWriter

__all__ = ["INSTALL_HINT", "RayExecutor", "RaySession", "RayShardWriter", "capacity_shares", "require_ray"]
