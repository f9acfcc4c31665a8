"""llama.cpp's CPU repack buffers on and off: what the AMX guard costs where it has to turn them off.

    .venv/bin/python benchmarks/llm_repack.py                      # SmolLM2-135M Q4_1 (shipped) and a Q4_0 copy
    .venv/bin/python benchmarks/llm_repack.py --model my.gguf      # add any GGUF file

llama.cpp can only turn its AMX weight buffer off together with the repack buffers (`use_extra_bufts`), so on CPUs
with AMX Perpetuum loads models without either (perpetuum/llm/llama_loading.py). Repacking re-lays some weight types
(Q4_0, Q4_K, IQ4_NL, Q8_0) for AVX2/AVX-512 kernels; the shipped model is Q4_1, which it leaves alone. This
measures, for each model, prompt tokens/s (B prompts of 128 tokens) and aggregate decode tokens/s at B = 1 and 8
(one `llama_decode` per step, one KV stream per sequence), with the buffers on and off. The Q4_0 copy is made here
from the shipped file with llama.cpp's own quantizer, to show a weight type that repacking does change. Run it alone
on an idle machine. Writes benchmarks/results/llm_repack.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llm_throughput import run_ceiling, write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "llm_repack.json"


def requantized_q4_0(source: Path, folder: Path) -> Path:
    import llama_cpp

    target = folder / (source.stem.replace("Q4_1", "") + "Q4_0.requantized.gguf")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.allow_requantize = True
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if status != 0:
        raise RuntimeError(f"llama_model_quantize failed with status {status}")
    return target


def measure(model: Path, threads: int, repack: bool) -> dict:
    os.environ["PERPETUUM_LLM_REPACK"] = "1" if repack else "0"
    figures = run_ceiling([1, 8], threads, prompt_tokens=128, steps=64, model_path=model)
    return {
        "prompt_tokens_per_second": figures["8"]["prompt_tokens_per_second"],
        "decode_b1_tokens_per_second": figures["1"]["tokens_per_second"],
        "decode_b8_tokens_per_second": figures["8"]["tokens_per_second"],
    }


def main(argv: list[str] | None = None) -> int:
    from perpetuum.llm.embedded import default_threads, shipped_model_path
    from perpetuum.llm.llama_loading import guard_reasons

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", default=[], help="another GGUF file to measure")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: default_threads())")
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    threads = options.threads or default_threads()
    started = time.time()
    if guard_reasons():
        print(f"note: the AMX guard keeps the buffers off on this machine ({'; '.join(guard_reasons())}), "
              "so 'on' below measures them off too")  # fmt: skip
    results = {}
    with tempfile.TemporaryDirectory(prefix="perpetuum-repack-") as folder:
        models = [shipped_model_path(), requantized_q4_0(shipped_model_path(), Path(folder)), *options.model]
        for model in models:
            for repack in (True, False):
                label = f"{model.name} repack {'on' if repack else 'off'}"
                print(f"{label}: measuring (load average {os.getloadavg()[0]:.1f})", flush=True)
                results[label] = {"model": model.name, "repack": repack, **measure(model, threads, repack)}
    print()
    print(f"{'model':<52} {'repack':>6} {'prompt tok/s':>12} {'decode B=1':>10} {'decode B=8':>10}")
    for figures in results.values():
        print(f"{figures['model']:<52} {'on' if figures['repack'] else 'off':>6} "
              f"{figures['prompt_tokens_per_second']:>12.1f} {figures['decode_b1_tokens_per_second']:>10.1f} "
              f"{figures['decode_b8_tokens_per_second']:>10.1f}")  # fmt: skip
    write_report(options.output, "llm_repack", started, results, threads=threads, guard_reasons_here=guard_reasons())
    return 0


if __name__ == "__main__":
    sys.exit(main())
