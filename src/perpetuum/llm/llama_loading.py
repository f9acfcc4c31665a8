"""Loading GGUF models with llama.cpp so that no CPU can reach its AMX code path.

llama.cpp's CPU backend offers "extra buffer types" for model weights: the AMX buffer (Intel Advanced Matrix
Extensions, Sapphire Rapids and later Xeons) and the CPU repack buffers (weights re-laid for AVX2/AVX-512 kernels).
On CPUs with AMX, matrix products on AMX buffers crash with a segmentation fault inside `ggml_backend_amx_mul_mat`
(llama.cpp issue 20824, closed without a fix; other projects dropped their AMX CPU variant for the same crash). The
first chat on such a machine killed the process. llama.cpp cannot leave out the AMX buffer alone, only all extra
buffers together (`llama_model_params.use_extra_bufts`, the C++ server's `--no-repack`), so they are turned off
wherever the AMX path could be reached:

- the CPU has AMX (`amx_tile`, `amx_int8` or `amx_bf16` in /proc/cpuinfo);
- the llama.cpp library was compiled with AMX (`AMX_INT8 = 1` in `llama_print_system_info()`), whatever CPU runs it;
- the CPU's flags cannot be read (not Linux), so AMX cannot be ruled out.

Elsewhere the AMX buffer cannot be created (its set-up asks the kernel for AMX tile state, which fails), so the repack
buffers stay on: they only change the layout of some weight types (Q4_0, Q4_K, IQ4_NL, Q8_0), and leaving them on is
never slower (benchmarks/llm_throughput.py measures the model with and without them). `PERPETUUM_LLM_REPACK=0`
turns them off everywhere; `=1` cannot turn them on where AMX could be reached.
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
from functools import lru_cache
from pathlib import Path

from perpetuum.errors import ParameterError

AMX_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16"})
REPACK_VARIABLE = "PERPETUUM_LLM_REPACK"

_patch_lock = threading.RLock()

# One llama.cpp computation at a time in this process. Each computation runs on every core with threads that
# spin-wait for each other; two at once (a teacher and a student model, two specs' backends) oversubscribe the cores
# and each runs several times slower than alone. Taking turns gives every model the whole machine.
compute_lock = threading.Lock()


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The instruction-set flags of the first CPU in /proc/cpuinfo (or of the given text); None where unreadable."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return None


def library_has_amx() -> bool:
    """Whether the loaded llama.cpp library was compiled with AMX kernels."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return "AMX_INT8 = 1" in info


def amx_reasons(flags: frozenset[str] | None, library_amx: bool, machine: str | None = None) -> list[str]:
    """Why the AMX path could be reached on this machine (empty: it cannot)."""
    machine = (machine or platform.machine()).lower()
    if machine not in {"x86_64", "amd64", "i386", "i686", "x86"}:
        return []  # AMX is an x86 extension
    reasons = []
    if flags is None:
        reasons.append("the CPU's flags cannot be read, so AMX cannot be ruled out")
    elif flags & AMX_FLAGS:
        reasons.append(f"the CPU has AMX ({', '.join(sorted(flags & AMX_FLAGS))})")
    if library_amx:
        reasons.append("llama.cpp was compiled with AMX (AMX_INT8 = 1)")
    return reasons


@lru_cache(maxsize=1)
def _machine_reasons() -> tuple[str, ...]:
    return tuple(amx_reasons(cpu_flags(), library_has_amx()))


def extra_buffers_allowed() -> bool:
    """Whether models may use llama.cpp's extra weight buffers (repacking) here: never where AMX is reachable."""
    if _machine_reasons():
        return False
    configured = os.environ.get(REPACK_VARIABLE, "").strip()
    if configured in {"", "1"}:
        return True
    if configured == "0":
        return False
    raise ParameterError(f"{REPACK_VARIABLE} must be 0 or 1, got {configured!r}")


def guard_reasons() -> list[str]:
    """Why extra buffers are off on this machine (empty where they are on)."""
    reasons = list(_machine_reasons())
    if not reasons and not extra_buffers_allowed():
        reasons.append(f"{REPACK_VARIABLE}=0")
    return reasons


def _guarded(original):
    """Wrap llama-cpp-python's `llama_model_default_params` so that extra buffers are off where they must be."""
    allowed = extra_buffers_allowed()

    def defaults():
        params = original()
        params.use_extra_bufts = params.use_extra_bufts and allowed
        return params

    defaults._perpetuum_guarded = True
    return defaults


@contextlib.contextmanager
def guarded_model_defaults():
    """Within the block, llama-cpp-python builds every model's parameters with extra buffers off where they must be.

    `llama_cpp.Llama` builds its `llama_model_params` from `llama_model_default_params()` inside its constructor and
    loads the model there, with no argument for `use_extra_bufts`; so the defaults function is wrapped for the
    duration of the load (under a lock, since the wrap is process-wide).
    """
    import llama_cpp.llama_cpp as bindings

    with _patch_lock:
        original = bindings.llama_model_default_params
        bindings.llama_model_default_params = _guarded(original)
        try:
            yield
        finally:
            bindings.llama_model_default_params = original


def load_llama(**kwargs):
    """`llama_cpp.Llama(**kwargs)` with the AMX guard applied; the result's `model_params` show what was used."""
    from llama_cpp import Llama

    with guarded_model_defaults():
        llama = Llama(**kwargs)
    if llama.model_params.use_extra_bufts and not extra_buffers_allowed():  # a later llama-cpp-python changed
        llama.close()  # how it builds its parameters: refuse rather than risk the crash
        raise RuntimeError("llama-cpp-python ignored the AMX guard (use_extra_bufts); pin the tested version")
    return llama


def guard_process_wide() -> None:
    """Apply the guard to every model this process loads (the llama-cpp-python server, which builds its own)."""
    import llama_cpp.llama_cpp as bindings

    if not getattr(bindings.llama_model_default_params, "_perpetuum_guarded", False):
        bindings.llama_model_default_params = _guarded(bindings.llama_model_default_params)


def server_flags() -> list[str]:
    """Command-line flags that apply the guard to llama.cpp's own `llama-server`."""
    return [] if extra_buffers_allowed() else ["--no-repack"]
