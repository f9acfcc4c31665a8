"""The AMX guard: llama.cpp's extra weight buffers (AMX among them) are off wherever the AMX path could be reached.

On CPUs with AMX the AMX buffer crashes llama.cpp with a segmentation fault on the first matrix product (llama.cpp
issue 20824). These tests pretend to be such a machine and check that every way Perpetuum loads a model (embedded
serial and batched paths, llama-cpp-python's server process, llama.cpp's llama-server) turns the buffers off; and that
on this machine the loaded model uses exactly what the guard allows, so a regression fails on any CPU.
"""

import asyncio
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (it is a core dependency)")

from perpetuum.errors import ParameterError  # noqa: E402
from perpetuum.llm import GenerationParams, get_backend  # noqa: E402
from perpetuum.llm import llama_loading  # noqa: E402
from perpetuum.llm.embedded import shipped_model_path  # noqa: E402
from perpetuum.llm.server import LlamaCppServer  # noqa: E402

SAPPHIRE_RAPIDS_FLAGS = "flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
EPYC_FLAGS = "processor\t: 0\nflags\t\t: fpu vme sse sse2 avx avx2 fma f16c avx512f avx512_vnni\n"


@pytest.fixture
def amx_machine(monkeypatch):
    """Make this machine look like a CPU with AMX to the guard."""
    monkeypatch.setattr(llama_loading, "_machine_reasons", lambda: ("the CPU has AMX (amx_int8, amx_tile)",))
    monkeypatch.delenv(llama_loading.REPACK_VARIABLE, raising=False)


def test_cpu_flags_are_read_from_cpuinfo_text():
    assert "amx_tile" in llama_loading.cpu_flags(SAPPHIRE_RAPIDS_FLAGS)
    assert llama_loading.cpu_flags(EPYC_FLAGS) == frozenset(EPYC_FLAGS.split(":")[-1].split())
    assert llama_loading.cpu_flags("processor\t: 0\n") is None


@pytest.mark.parametrize(
    ("flags", "library_amx", "machine", "expected"),
    [
        (SAPPHIRE_RAPIDS_FLAGS, False, "x86_64", ["the CPU has AMX (amx_bf16, amx_int8, amx_tile)"]),
        (EPYC_FLAGS, False, "x86_64", []),
        (EPYC_FLAGS, True, "x86_64", ["llama.cpp was compiled with AMX (AMX_INT8 = 1)"]),
        (None, False, "AMD64", ["the CPU's flags cannot be read, so AMX cannot be ruled out"]),
        (None, False, "aarch64", []),
    ],
)
def test_amx_is_ruled_out_only_where_it_cannot_be_reached(flags, library_amx, machine, expected):
    parsed = llama_loading.cpu_flags(flags) if flags else None
    assert llama_loading.amx_reasons(parsed, library_amx, machine) == expected


def test_an_amx_machine_never_allows_extra_buffers_whatever_the_variable_says(amx_machine, monkeypatch):
    assert not llama_loading.extra_buffers_allowed()
    monkeypatch.setenv(llama_loading.REPACK_VARIABLE, "1")
    assert not llama_loading.extra_buffers_allowed()
    assert llama_loading.server_flags() == ["--no-repack"]


def test_the_repack_variable_turns_extra_buffers_off_and_rejects_other_values(monkeypatch):
    monkeypatch.setattr(llama_loading, "_machine_reasons", lambda: ())
    monkeypatch.setenv(llama_loading.REPACK_VARIABLE, "0")
    assert not llama_loading.extra_buffers_allowed()
    assert llama_loading.guard_reasons() == ["PERPETUUM_LLM_REPACK=0"]
    monkeypatch.setenv(llama_loading.REPACK_VARIABLE, "yes")
    with pytest.raises(ParameterError, match="PERPETUUM_LLM_REPACK must be 0 or 1"):
        llama_loading.extra_buffers_allowed()


@pytest.mark.parametrize("n_parallel", [1, 4])
def test_the_embedded_backend_loads_without_extra_buffers_on_an_amx_machine(amx_machine, n_parallel):
    backend = get_backend("embedded", n_parallel=n_parallel, n_ctx=256, n_threads=1).load()
    try:
        assert backend._llama.model_params.use_extra_bufts is False
        answer = asyncio.run(backend.chat([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=4, seed=1)))
        assert answer.completion_tokens >= 1
    finally:
        asyncio.run(backend.aclose())


def test_on_this_machine_the_model_uses_exactly_what_the_guard_allows():
    backend = get_backend("embedded", n_parallel=1, n_ctx=256, n_threads=1).load()
    try:
        assert backend._llama.model_params.use_extra_bufts is llama_loading.extra_buffers_allowed()
    finally:
        asyncio.run(backend.aclose())


def test_the_guard_is_scoped_to_the_load(amx_machine):
    import llama_cpp.llama_cpp as bindings

    original = bindings.llama_model_default_params
    with llama_loading.guarded_model_defaults():
        assert bindings.llama_model_default_params().use_extra_bufts is False
    assert bindings.llama_model_default_params is original


def test_the_llama_cpp_python_server_process_applies_the_guard(amx_machine, monkeypatch):
    import llama_cpp.llama_cpp as bindings

    monkeypatch.setattr(bindings, "llama_model_default_params", bindings.llama_model_default_params)
    llama_loading.guard_process_wide()  # what `python -m perpetuum.llm.llama_server` does before serving
    assert bindings.llama_model_default_params().use_extra_bufts is False
    llama_loading.guard_process_wide()  # applying it twice wraps once
    assert getattr(bindings.llama_model_default_params, "_perpetuum_guarded", False)


def test_llama_server_gets_no_repack_on_an_amx_machine(amx_machine):
    command = LlamaCppServer(n_parallel=2, binary="/bin/true")._command(shipped_model_path(), "1")
    assert "--no-repack" in command
    assert command[command.index("--parallel") + 1] == "2"

