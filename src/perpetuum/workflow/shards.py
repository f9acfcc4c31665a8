"""Sampling a saved model into a folder of Parquet shards, here or on a Ray cluster, with the same files either way.

    sample_shards("models/adult", 100_000_000, "out/", seed=7)                   # this process, a shard at a time
    sample_shards("models/adult", 100_000_000, "out/", seed=7, executor="ray")   # shards written in parallel on Ray

Shard i holds `shard_rows` rows (the last one the rest), sampled with the seed `shard_seed(seed, i)`: its rows depend
only on (model, seed, shard_rows, i), so the folder is the same whichever executor wrote it and in whatever order.
Memory stays bounded by one shard per worker: a shard is sampled, written (to a temporary name, then renamed, so a
file under its final name is always whole; on S3 an object appears only once its upload completes) and dropped; the
caller keeps only each shard's file name and row count. The folder may be an object-store URI (s3://bucket/prefix,
see `perpetuum.storage`): every worker then writes its shards there directly.

The folder holds part-00000.parquet, part-00001.parquet, ..., plan.json (what the shards are: model, seed, rows)
and the dataset card (card.json, card.md). `resume=True` continues a folder whose plan matches, writing only the
shards that are missing. A single output file (`sample_saved_model`) keeps sampling all rows with `seed` itself.
Executors other than "local" register in `SHARD_EXECUTORS`; "ray" lives in `perpetuum.scale`.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar
from perpetuum.registry import Registry
from perpetuum.storage import OutputFolder, is_remote, open_folder

__all__ = ["DEFAULT_SHARD_ROWS", "SHARD_EXECUTORS", "ShardTask", "ShardedRun", "register_shard_executor",
           "sample_shards", "shard_plan", "shard_seed", "write_shard"]

DEFAULT_SHARD_ROWS = 500_000
PLAN_FILE = "plan.json"

SHARD_EXECUTORS = Registry(
    "shard executor",
    modules={"ray": "perpetuum.scale.ray_tables"},
    entry_point_group="perpetuum.shard_executors",
    name_attribute=None,
    hint=' (or "local", the default: this process)',
)


def register_shard_executor(name: str):
    """Class decorator: an executor class (built with no arguments) with `write(synthesizer, tasks, folder,
    conditions, verbose) -> [shard summaries]`, available as `executor=name`."""
    return SHARD_EXECUTORS.register(name)


@dataclass(frozen=True)
class ShardTask:
    index: int
    rows: int
    seed: int

    @property
    def file(self) -> str:
        return f"part-{self.index:05d}.parquet"


@dataclass
class ShardedRun:
    """What `sample_shards` wrote: the folder (a URI for an object store), rows in all, each shard's summary, the card
    and its files."""

    output_dir: Path | str
    rows: int
    shards: list[dict] = field(repr=False)
    card: dict = field(repr=False)
    files: dict[str, str]
    sample_seconds: float
    shards_written: int


def shard_seed(seed: int, index: int) -> int:
    """The seed of shard `index` of a run seeded `seed`: a stable 63-bit hash of both (any Python, any machine)."""
    text = f"perpetuum-shard|{int(seed)}|{int(index)}"
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little") % 2**63


def shard_plan(n: int, shard_rows: int, seed: int) -> list[ShardTask]:
    """Shards of `shard_rows` rows (the last holds the rest) covering `n` rows."""
    if isinstance(shard_rows, bool) or not isinstance(shard_rows, int) or shard_rows < 1:
        raise ParameterError(f"shard_rows (--shard-rows) must be a positive number of rows, got {shard_rows!r}")
    return [ShardTask(index, min(shard_rows, n - start), shard_seed(seed, index))
            for index, start in enumerate(range(0, n, shard_rows))]


def write_shard(synthesizer, task: ShardTask, folder: str | Path | OutputFolder,
                conditions: dict | None = None) -> dict:
    """Sample shard `task` and write it to `folder`/part-NNNNN.parquet; returns {file, rows, seed, columns}."""
    frame = synthesizer.sample(task.rows, conditions=conditions, seed=task.seed)
    data = io.BytesIO()
    frame.to_parquet(data, index=False)
    open_folder(folder, check=False).write_bytes(task.file, data.getvalue())  # whole or not at all
    return {"file": task.file, "index": task.index, "rows": int(len(frame)), "seed": task.seed,
            "columns": [str(column) for column in frame.columns]}


class LocalShardWriter:
    """Writes the shards one after another in this process."""

    def write(self, synthesizer, tasks: list[ShardTask], folder: OutputFolder, conditions: dict | None,
              verbose: bool = False) -> list[dict]:
        written = []
        with progress_bar(f"Writing {len(tasks)} shards", total=len(tasks), verbose=verbose) as bar:
            for task in tasks:
                written.append(write_shard(synthesizer, task, folder, conditions))
                bar.advance()
        return written


def sample_shards(
    model_dir: str | Path,
    n: int,
    output_dir: str | Path,
    *,
    seed: int = 0,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    conditions: dict | None = None,
    executor: Any = "local",
    resume: bool = False,
    generation: int | None = None,
    verbose: bool = False,
) -> ShardedRun:
    """Sample `n` rows from a model folder into Parquet shards under `output_dir`, with a dataset card there.

    executor: "local" (this process), "ray" (tasks on a Ray cluster, `pip install 'perpetuum[ray]'`) or an executor
    object such as `perpetuum.scale.RayShardWriter(address=...)`; the files are the same. On a cluster of several
    machines `output_dir` must be a folder every machine can write: an object-store URI (s3://bucket/prefix, with
    credentials and endpoint from the AWS variables) or a shared file system.
    """
    from perpetuum.card import folder_sha256
    from perpetuum.tabular import load_synthesizer
    from perpetuum.workflow.steps import check_row_count

    check_row_count(n)
    tasks = shard_plan(n, shard_rows, seed)
    synthesizer = load_synthesizer(model_dir)
    folder = open_folder(output_dir)  # a remote one is checked (credentials, bucket) before any shard is sampled
    plan = {"model": str(model_dir), "model_sha256": folder_sha256(model_dir), "rows": n, "seed": seed,
            "shard_rows": shard_rows, "conditions": _plain(conditions)}
    done = _start(folder, plan, resume)
    todo = [task for task in tasks if task.index not in done]
    writer = _shard_writer(executor)
    started = time.perf_counter()
    written = writer.write(synthesizer, todo, folder, conditions, verbose) if todo else []
    seconds = time.perf_counter() - started
    by_index = {**done, **{summary["index"]: summary for summary in written}}
    shards = [by_index[task.index] for task in tasks]
    card, files = _write_card(folder, synthesizer, shards, plan, conditions, generation, executor)
    return ShardedRun(output_dir=Path(output_dir) if folder.local else folder.uri,
                      rows=sum(shard["rows"] for shard in shards), shards=shards, card=card,
                      files=files, sample_seconds=seconds, shards_written=len(written))


def _shard_writer(executor: Any):
    if executor is None or executor == "local":
        return LocalShardWriter()
    if isinstance(executor, str):
        return SHARD_EXECUTORS.get(executor)()
    if not callable(getattr(executor, "write", None)):
        raise ParameterError(f"executor must be 'local', a registered shard executor name or an object with a "
                             f"write(synthesizer, tasks, folder, conditions, verbose) method; got {executor!r}")
    return executor


def _plain(conditions: dict | None) -> dict | None:
    return None if not conditions else {str(key): value if isinstance(value, (str, int, float, list)) else str(value)
                                        for key, value in conditions.items()}


def _start(folder: OutputFolder, plan: dict, resume: bool) -> dict[int, dict]:
    """Create the folder and its plan, or (resume) check the plan there; returns the shards already complete."""
    where = folder.location()
    if folder.exists(PLAN_FILE):
        if not resume:
            raise ParameterError(f"{where!r} already holds sampled shards; resume them (--resume, "
                                 "resume=True) or choose another output folder")
        stored = json.loads(folder.read_bytes(PLAN_FILE))
        if {key: stored.get(key) for key in plan if key != "model"} != {k: v for k, v in plan.items() if k != "model"}:
            raise ParameterError(f"{where!r} holds shards of another model, seed, row count, shard size or "
                                 "conditions; resuming would mix two tables. Use the same arguments or a new folder")
    elif not folder.is_empty():
        raise ParameterError(f"{where!r} is not empty; sample shards into a new or empty folder")
    folder.write_bytes(PLAN_FILE, json.dumps(plan, indent=2).encode("utf-8"))
    done = {}
    if resume:
        present = set(folder.names("part-"))
        for task in shard_plan(plan["rows"], plan["shard_rows"], plan["seed"]):
            if task.file in present:
                summary = _complete_shard(folder, task)
                if summary is not None:
                    done[task.index] = summary
    return done


def _complete_shard(folder: OutputFolder, task: ShardTask) -> dict | None:
    """The summary of a shard already written, from its Parquet footer; None when the file is not a whole shard
    (a writer that failed mid-upload), which is then written again."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with folder.open_input_file(task.file) as handle:
            metadata = pq.ParquetFile(handle).metadata
    except (pa.ArrowInvalid, OSError):
        return None
    return {"file": task.file, "index": task.index, "seed": task.seed, "rows": metadata.num_rows,
            "columns": metadata.schema.to_arrow_schema().names}


def _write_card(folder: OutputFolder, synthesizer, shards: list[dict], plan: dict, conditions, generation, executor):
    """The table card (lineage, rows, columns) with the shards listed; collapse signals need the whole table in
    memory, which a sharded run never holds, so the card says they were not computed."""
    import pandas as pd

    from perpetuum.card import table_card
    from perpetuum.card.writer import write_card_files

    columns = shards[0]["columns"] if shards else []
    card = table_card(None, pd.DataFrame(columns=columns), synthesizer=getattr(synthesizer, "name", "synthesizer"),
                      params=synthesizer.get_params(), seed=plan["seed"], generation=generation,
                      source={"source": plan["model"], "model": plan["model"], "model_sha256": plan["model_sha256"]},
                      name=folder.location().rstrip("/").rsplit("/", 1)[-1], conditions=conditions)
    card["rows"] = sum(shard["rows"] for shard in shards)
    if not conditions:
        card["collapse_signals"]["reason"] = ("a sharded output is never held in memory whole; compute them on a "
                                              "sample (perpetuum evaluate, or perpetuum sample --reference to a file)")
    card["sharding"] = {"shard_rows": plan["shard_rows"], "shards": len(shards),
                        "executor": executor if isinstance(executor, str) else type(executor).__name__,
                        "seeding": "shard i is sampled with shard_seed(seed, i) (perpetuum.workflow.shards)",
                        "files": [{key: shard[key] for key in ("file", "rows", "seed")} for shard in shards]}
    with tempfile.TemporaryDirectory(prefix="perpetuum-card-") as work:
        made = Path(work) if is_remote(folder) else Path(folder.location())
        files = write_card_files(card, made / "card.json", made / "card.md", _render_sharded_card)
        if is_remote(folder):
            files = {kind: folder.upload(path, Path(path).name) for kind, path in files.items()}
    return card, {**files, "plan": folder.location(PLAN_FILE)}


def _render_sharded_card(card: dict) -> str:
    from perpetuum.card.table import render_table_card_markdown

    sharding = card["sharding"]
    lines = ["", "## Shards", "",
             f"{sharding['shards']} Parquet shards of up to {sharding['shard_rows']:,} rows, written by the "
             f"{sharding['executor']} executor; {sharding['seeding']}.", "",
             "| file | rows | seed |", "| --- | ---: | ---: |",
             *(f"| {item['file']} | {item['rows']:,} | {item['seed']} |" for item in sharding["files"]), ""]
    return render_table_card_markdown(card) + "\n".join(lines)
