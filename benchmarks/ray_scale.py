"""Scale-out on Ray: records/s and rows/s for 1 and 2 Ray actors (tasks) on this machine against the local executor,
Ray's overhead per record, and a paper estimate of a 32-node cluster against a vLLM fleet.

    .venv/bin/python benchmarks/ray_scale.py            # 3,000 instant records, 24 embedded records, 2 M table rows
    .venv/bin/python benchmarks/ray_scale.py --small    # a smoke run: 300 / 6 / 200,000

Protocol (one local Ray cluster started here with 2 CPUs, shut down at the end):

- `text-instant`: a spec of two samplers and one `llm_text` column on a backend defined in this script that answers at
  once (a hash of the request): what is left is the pipeline's own cost per record, so the difference between a
  Ray run and the local one is Ray's overhead (chunks out to actors, entries back to the driver). Actor start-up
  (process, imports, backends) is timed apart (`startup_s`), as are the card and output files, the same work
  wherever the records were made: `seconds` is the run itself, every record generated and handed to the sink.
- `text-embedded`: the same spec on the embedded SmolLM2-135M model (llama.cpp), `--max-tokens` tokens per record:
  local with 2 threads, 1 actor with 2 threads, 2 actors with 1 thread each (each actor loads the model once).
- `tables`: the `fast` synthesizer fitted on Adult, `--rows` rows sampled into 8 Parquet shards: locally one shard
  after another, on Ray with 1 and with 2 tasks in flight.
- `driver`: the driver's serial work per record (a checkpoint write: JSONL line + SQLite commit), which bounds how
  many records/s one driver can take in, however many actors feed it.

Every Ray dataset is checked equal to the local one (`same_as_local`). Prints a table and writes
benchmarks/results/ray_scale.json (ray_scale_small.json with --small), with the machine's load average: on a shared
2-core machine the figures are only indicative, and with 2 actors on 2 cores there is no spare core for the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from perpetuum.llm.base import Backend, Completion  # noqa: E402
from perpetuum.llm.registry import register_backend  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"

# Paper-estimate assumptions (stated in the output): a 32-node cluster, one GPU per node serving vLLM.
NODES = 32
VLLM_OUTPUT_TOKENS_PER_S_PER_GPU = 2_000  # an 8B instruct model on one H100 at high concurrency (assumed)
GPU_NODE_USD_PER_HOUR = 2.50  # on-demand price of a one-H100 node (assumed)
DIALOGUE = {"prompt_tokens": 2_000, "completion_tokens": 900}  # a 6-turn tutoring dialogue (assumed)


@register_backend("bench-instant")
class InstantBackend(Backend):
    """Answers at once with words hashed from the request: no model cost, so only the pipeline's cost remains."""

    def __init__(self, model: str = "instant", max_concurrency: int = 16) -> None:
        self.model_name = model
        self.max_concurrency = max_concurrency

    async def chat(self, messages, params, json_schema=None) -> Completion:
        digest = hashlib.sha256(json.dumps([messages, params.seed]).encode()).hexdigest()
        text = " ".join(digest[i:i + 6] for i in range(0, 48, 6))
        return Completion(text=text, prompt_tokens=sum(len(m["content"].split()) for m in messages),
                          completion_tokens=8, model=self.model_name, finish_reason="stop", seconds=0.0)

    async def complete(self, prompt, params) -> Completion:
        return await self.chat([{"role": "user", "content": prompt}], params)


def spec(backend: dict, max_tokens: int) -> dict:
    return {
        "name": "ray_scale",
        "seed": 0,
        "backends": {"default": backend},
        "output": {"formats": ["jsonl"]},
        "columns": [
            {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["cat", "dog", "owl", "fox"]},
            {"name": "mood", "kind": "sampler", "sampler": "words", "words": ["calm", "brave", "odd", "shy"]},
            {"name": "line", "kind": "llm_text", "prompt": "Write one short sentence about a {{ mood }} {{ animal }}.",
             "params": {"max_tokens": max_tokens, "temperature": 0.7}},
        ],
    }


async def run_phase(spec_dict: dict, n: int, executor_args: dict | None) -> dict:
    """Start-up (backends built: actors started, models loaded) and the run itself (every record generated and
    handed to a sink, as the checkpoint gets them), timed apart; the card and output files are left out, being the
    same work wherever the records were made."""
    from perpetuum.pipeline.executor import BackendPool, RecordExecutor, build_runners
    from perpetuum.pipeline.spec import load_spec
    from perpetuum.scale import RayExecutor

    spec_model = load_spec(spec_dict)
    entries: list[dict] = []
    started = time.perf_counter()
    if executor_args is None:
        pool = BackendPool(spec_model)
        pool.open()
        runner = RecordExecutor(spec_model, build_runners(spec_model, n), pool)
    else:
        runner = await RayExecutor(**executor_args).open(spec_model, n, None)
    opened = time.perf_counter()
    try:
        await runner.run(list(range(n)), entries.append)
    finally:
        ran = time.perf_counter()
        await (pool.close() if executor_args is None else runner.close())
    records = {entry["index"]: entry.get("record") for entry in entries}
    return {"startup_s": round(opened - started, 3), "seconds": round(ran - opened, 3),
            "records_per_s": round(n / (ran - opened), 2),
            "completion_tokens": sum(u["completion_tokens"] for e in entries for u in e["usage"].values()),
            "prompt_tokens": sum(u["prompt_tokens"] for e in entries for u in e["usage"].values()),
            "records": records}


def text_variants(name: str, specs: dict, n: int) -> list[dict]:
    rows, local_records = [], None
    for variant, (spec_dict, executor_args) in specs.items():
        measured = asyncio.run(run_phase(spec_dict, n, executor_args))
        records = measured.pop("records")
        local_records = records if executor_args is None else local_records
        rows.append({"workload": name, "variant": variant, "records": n, **measured,
                     "same_as_local": records == local_records and len(records) == n})
    return rows


def driver_write_ms(work: Path, n: int = 2_000) -> float:
    """Milliseconds per entry the driver spends writing the checkpoint (what it does for every record)."""
    from perpetuum.pipeline.checkpoint import CheckpointStore
    from perpetuum.pipeline.spec import load_spec

    spec_dict = spec({"kind": "bench-instant"}, 8)
    store = CheckpointStore.open(work / "driver", load_spec(spec_dict), n, False)
    entry = {"status": "ok", "record": {"animal": "cat", "mood": "calm", "line": "x" * 120},
             "usage": {"default": {"calls": 1, "retries": 0, "prompt_tokens": 30, "completion_tokens": 24,
                                   "seconds": 0.1}}, "seconds": 0.1}
    started = time.perf_counter()
    for index in range(n):
        store.write({**entry, "index": index})
    seconds = time.perf_counter() - started
    store.close()
    return 1000 * seconds / n


def table_variants(work: Path, rows: int) -> list[dict]:
    from perpetuum.datasets import load_adult
    from perpetuum.scale import RayShardWriter
    from perpetuum.tabular import get_synthesizer
    from perpetuum.workflow.shards import sample_shards

    model = work / "adult-fast"
    get_synthesizer("fast")(seed=0).fit(load_adult()).save(model)
    shard_rows = -(-rows // 8)
    results, local_frames = [], None
    for variant, executor in (("local", "local"), ("ray-1-task", RayShardWriter(tasks_in_flight=1)),
                              ("ray-2-tasks", RayShardWriter(tasks_in_flight=2))):
        folder = work / f"tables-{variant}"
        started = time.perf_counter()
        sample_shards(model, rows, folder, seed=0, shard_rows=shard_rows, executor=executor)
        seconds = time.perf_counter() - started
        frames = [path.read_bytes() for path in sorted(folder.glob("part-*.parquet"))]
        local_frames = frames if variant == "local" else local_frames
        results.append({"workload": "tables", "variant": variant, "rows": rows, "shards": len(frames),
                        "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds), "same_as_local":
                        _same_shards(folder, work / "tables-local")})
    return results


def _same_shards(folder: Path, local: Path) -> bool:
    import pandas as pd

    mine, theirs = sorted(folder.glob("part-*.parquet")), sorted(local.glob("part-*.parquet"))
    return len(mine) == len(theirs) and all(pd.read_parquet(a).equals(pd.read_parquet(b)) for a, b in zip(mine, theirs))


def paper_estimate(overhead_ms: float, driver_ms: float, measured_tokens: dict) -> list[dict]:
    """Throughput and cost of NODES GPU nodes serving vLLM, fed by one driver with NODES actors."""
    fleet_tokens = NODES * VLLM_OUTPUT_TOKENS_PER_S_PER_GPU
    driver_ceiling = 1000.0 / max(driver_ms + max(overhead_ms, 0.0), 1e-9)
    estimates = []
    for label, tokens in (("this benchmark's record", measured_tokens), ("tutoring dialogue (assumed)", DIALOGUE)):
        fleet_records = fleet_tokens / max(tokens["completion_tokens"], 1)
        records_per_s = min(fleet_records, driver_ceiling)
        hours_per_million = 1_000_000 / records_per_s / 3600
        estimates.append({
            "record": label, "completion_tokens": round(tokens["completion_tokens"], 1),
            "fleet_records_per_s": round(fleet_records, 1), "driver_ceiling_records_per_s": round(driver_ceiling, 1),
            "records_per_s": round(records_per_s, 1),
            "bound_by": "fleet" if fleet_records <= driver_ceiling else "driver",
            "hours_per_million_records": round(hours_per_million, 2),
            "usd_per_million_records": round(hours_per_million * NODES * GPU_NODE_USD_PER_HOUR, 2),
        })
    return estimates


def load_note(load_before: float) -> str:
    """What the load at the start says about the figures."""
    if load_before < 1:
        return "an idle 2-core machine (load average below 1 at the start): 2 actors leave no spare core for the driver"
    return f"a 2-core machine under load {load_before:.1f} from other work: figures are indicative, not final"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a smoke run: fewer records and rows")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="tokens per embedded record (default 32; 16 with --small)")
    args = parser.parse_args()
    instant_n, embedded_n, rows = (300, 6, 200_000) if args.small else (3_000, 24, 2_000_000)
    max_tokens = args.max_tokens or (16 if args.small else 32)

    import ray

    load_before = os.getloadavg()
    started = time.perf_counter()
    # The workers import this script's backend from its module (__main__ is shipped by value) and Perpetuum from src.
    ray.init(num_cpus=2, include_dashboard=False, address="local", logging_level=logging.WARNING, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO / "src")}})
    ray_start = time.perf_counter() - started
    work = Path(tempfile.mkdtemp(prefix="ray_scale_"))
    try:
        instant = spec({"kind": "bench-instant", "max_concurrency": 16}, 8)
        text = text_variants("text-instant", {
            "local": (instant, None), "ray-1-actor": (instant, {"actors": 1}), "ray-2-actors": (instant, {"actors": 2}),
        }, instant_n)
        embedded = {"kind": "embedded", "n_parallel": 4, "n_ctx": 1024}
        text += text_variants("text-embedded", {
            "local-2-threads": (spec({**embedded, "n_threads": 2}, max_tokens), None),
            "ray-1-actor-2-threads": (spec({**embedded, "n_threads": 2}, max_tokens),
                                      {"actors": 1, "cpus_per_actor": 2}),
            "ray-2-actors-1-thread": (spec({**embedded, "n_threads": 1}, max_tokens), {"actors": 2}),
        }, embedded_n)
        tables = table_variants(work, rows)
        driver_ms = driver_write_ms(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        ray.shutdown()

    local, ray_one = text[0], text[1]
    overhead_ms = 1000 * (ray_one["seconds"] - local["seconds"]) / instant_n
    embedded_local = text[3]
    measured_tokens = {"completion_tokens": embedded_local["completion_tokens"] / embedded_n,
                       "prompt_tokens": embedded_local["prompt_tokens"] / embedded_n}
    estimate = paper_estimate(overhead_ms, driver_ms, measured_tokens)
    report = {
        "benchmark": "ray_scale", "small": args.small, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg(),
                    "note": load_note(load_before[0])},
        "ray_version": ray.__version__, "ray_start_s": round(ray_start, 2),
        "text": text, "tables": tables,
        "ray_overhead_ms_per_record": round(overhead_ms, 3), "driver_checkpoint_ms_per_record": round(driver_ms, 3),
        "paper_estimate": {"assumptions": {
            "nodes": NODES, "vllm_output_tokens_per_s_per_gpu": VLLM_OUTPUT_TOKENS_PER_S_PER_GPU,
            "gpu_node_usd_per_hour": GPU_NODE_USD_PER_HOUR, "dialogue": DIALOGUE,
            "model": "an 8B instruct model on one H100 per node (vLLM figure assumed, not measured here)",
            "driver": "one driver takes in every entry (checkpoint write + Ray transfer, both measured here)",
            "actors": "one actor per node, its share of the fleet's max_concurrency; actor start-up not counted"},
            "rows": estimate},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("ray_scale_small.json" if args.small else "ray_scale.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report, path)


def print_report(report: dict, path: Path) -> None:
    print(f"Ray {report['ray_version']}, local cluster start {report['ray_start_s']} s; load average before "
          f"{report['machine']['load_average_before'][0]:.2f} ({report['machine']['note']})")
    print(f"{'workload':<15}{'variant':<24}{'n':>10}{'seconds':>10}{'per s':>12}{'startup s':>11}  same as local")
    for row in report["text"]:
        print(f"{row['workload']:<15}{row['variant']:<24}{row['records']:>10,}{row['seconds']:>10.2f}"
              f"{row['records_per_s']:>12,.1f}{row['startup_s']:>11.2f}  {row['same_as_local']}")
    for row in report["tables"]:
        print(f"{row['workload']:<15}{row['variant']:<24}{row['rows']:>10,}{row['seconds']:>10.2f}"
              f"{row['rows_per_s']:>12,}{'':>11}  {row['same_as_local']}")
    print(f"Ray overhead per record (1 actor against local, instant backend, start-up excluded): "
          f"{report['ray_overhead_ms_per_record']:.3f} ms; driver checkpoint write per record: "
          f"{report['driver_checkpoint_ms_per_record']:.3f} ms")
    assumptions = report["paper_estimate"]["assumptions"]
    print(f"Paper estimate, {assumptions['nodes']} nodes x 1 GPU (vLLM, "
          f"{assumptions['vllm_output_tokens_per_s_per_gpu']:,} output tok/s per GPU and "
          f"${assumptions['gpu_node_usd_per_hour']}/node-hour, assumed):")
    for row in report["paper_estimate"]["rows"]:
        print(f"  {row['record']:<30} {row['completion_tokens']:>7} tok/record  {row['records_per_s']:>10,.1f} rec/s "
              f"(bound by the {row['bound_by']})  {row['hours_per_million_records']:>8} h and "
              f"${row['usd_per_million_records']:,} per million records")
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
