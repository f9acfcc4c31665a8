"""Continuous batching for the embedded backend: many requests decoded together in one llama.cpp context.

Every llama.cpp call runs on the process's compute thread (`compute_thread.py`), one step per task, so that engines
of several models and serial requests take turns. The context has one sequence id, and one KV
stream, per slot (`n_parallel` slots). Each step decodes the prompts of newly admitted requests (several per call,
in pieces of one length), then the next token of every running request in a single `llama_decode`, ordered by
sequence id; after each call, every request whose prompt is done samples its next token with its own sampler chain,
seed and grammar (`sampling.py`).

Why it is laid out this way (measured on SmolLM2-135M Q4_1, 2 threads, 2-core machine; see
benchmarks/llm_throughput.py):

- A KV stream per slot (`kv_unified = False`): a request's cache cells and attention sums are laid out as if it ran
  alone, so a seeded answer does not depend on which requests share its batch (in one shared cache the float
  summation order, and the sampled text with it, changes with the neighbours).
- Sequence ids in increasing order: with one stream per sequence, llama.cpp puts only runs of consecutive sequence ids
  into one micro-batch; a batch in arbitrary order was cut into several micro-batches, each reading every weight
  again, and decoded three times slower. Free slots are handed out lowest id first for the same reason.
- Prompt prefixes are shared: a slot keeps the cells of its last prompt after the request ends (only the cells that
  a prompt decode filled, never the ones generation filled, whose values differ; see `prompt_cache.py`). A new
  request goes to the free slot whose kept prompt shares the longest prefix with it and decodes only the rest (at
  least two tokens, which keeps the logits identical to a whole-prompt decode). When another slot holds a prefix
  longer by at least `COPY_MIN_TOKENS` tokens (a long system prompt, few-shot examples, the earlier turns of a
  dialogue), its KV stream is copied over instead of decoding that prefix again (llama.cpp copies streams whole).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import threading
import time
from collections import deque

from perpetuum.errors import GenerationError, ModelFileError
from perpetuum.llm.base import Completion, GenerationParams, cut_at_stop
from perpetuum.llm import compute_thread
from perpetuum.llm.prompt_cache import MIN_DECODED_TOKENS
from perpetuum.llm.sampling import RequestSampler

# A stream copy moves a whole slot's cache (n_ctx cells); below this many saved prompt tokens, decoding them is cheaper.
COPY_MIN_TOKENS = 32
# A free slot other than the lowest one is taken only if its kept prefix saves this many tokens more.
AFFINITY_MIN_TOKENS = 8


class EngineRequest:
    """One chat or completion request on its way through the engine (or the serial path)."""

    def __init__(self, kind: str, payload, params: GenerationParams, schema_json: str | None):
        self.kind = kind
        self.payload = payload
        self.params = params
        self.schema_json = schema_json
        self.seed = 0
        self.abandoned = False
        self.prompt_tokens: list[int] | None = None
        self.future: concurrent.futures.Future = concurrent.futures.Future()


class _Slot:
    """A sequence id with its KV stream, and the prompt tokens whose cells it holds (filled by prompt decodes)."""

    def __init__(self, seq_id: int):
        self.seq_id = seq_id
        self.cached: list[int] = []
        self.sequence: _Sequence | None = None


class _Sequence:
    """A request being decoded: its slot, sampler, prompt progress and tokens so far."""

    def __init__(self, request: EngineRequest, slot: _Slot, prompt: list[int], reused: int, max_tokens: int, sampler):
        self.request = request
        self.slot = slot
        self.prompt = prompt
        self.decoded = reused  # prompt tokens whose cells are in the slot's stream
        self.reused = reused
        self.max_tokens = max_tokens
        self.sampler = sampler
        self.generated: list[int] = []
        self.text = b""
        self.logits_index = -1
        self.started = time.perf_counter()

    @property
    def seq_id(self) -> int:
        return self.slot.seq_id


def shared_prefix(first: list[int], second: list[int]) -> int:
    """How many leading tokens two token lists have in common."""
    count = 0
    for a, b in zip(first, second):
        if a != b:
            break
        count += 1
    return count


class BatchEngine:
    """Continuous batching over one llama.cpp context (see the module docstring). `submit` is thread-safe."""

    def __init__(self, llama, model_name: str, n_parallel: int, n_ctx: int, grammar_text):
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.llama = llama
        self.model_name = model_name
        self.n_parallel = n_parallel
        self.n_ctx = n_ctx
        self._grammar_text = grammar_text
        # One decode call takes a whole prompt (< n_ctx tokens) or the next token of every slot.
        self.n_batch = max(n_ctx, n_parallel)
        params = llama_cpp.llama_context_params()
        ctypes.pointer(params)[0] = llama.context_params  # the same settings as the serial path (flash attention,
        # KV cache type), so both paths compute the same logits
        params.n_ctx = n_ctx * n_parallel
        params.n_batch = self.n_batch
        params.n_ubatch = min(512, self.n_batch)
        params.n_seq_max = n_parallel
        params.kv_unified = False
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not self.ctx:
            raise ModelFileError("llama.cpp could not create a batching context; lower n_parallel or n_ctx")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.vocab = llama._model.vocab
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.formatter = chat_formatter(llama)
        self.slots = [_Slot(seq_id) for seq_id in range(n_parallel)]
        self.stats = {
            "prompt_tokens": 0,
            "reused_prompt_tokens": 0,
            "stream_copies": 0,
            "decode_calls": 0,
            "decode_seconds": 0.0,  # inside llama_decode
            "sample_seconds": 0.0,  # sampling and detokenizing after each call
            "step_seconds": 0.0,  # whole steps on the compute thread (admission, decode, sampling)
            "steps": 0,
        }
        self._pending: deque[EngineRequest] = deque()
        self._lock = threading.Lock()
        self._scheduled = False  # a step is queued on the compute thread
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False

    def submit(self, request: EngineRequest) -> concurrent.futures.Future:
        with self._lock:
            if self._closed:
                raise GenerationError("the embedded backend was closed; create a new one")
            self._pending.append(request)
            if not self._scheduled:
                self._scheduled = True
                self._idle.clear()
                compute_thread.submit(self._tick)
        return request.future

    def close(self) -> None:
        """Stop after the step under way; fail what is left; free the context (callable from any thread)."""
        with self._lock:
            self._closed = True
            leftover = list(self._pending)
            self._pending.clear()
        if not compute_thread.on_compute_thread():
            self._idle.wait()
        compute_thread.run(self._free)
        for request in leftover:
            if request.future.set_running_or_notify_cancel():
                request.future.set_exception(GenerationError("the embedded backend was closed mid-request"))

    # --- on the compute thread -------------------------------------------------------------------------------

    def _running(self) -> list[_Sequence]:
        return [slot.sequence for slot in self.slots if slot.sequence is not None]

    def _tick(self) -> None:
        """One step: admit what fits, drop abandoned requests, decode; queue the next step while work is left."""
        started = time.perf_counter()
        try:
            with self._lock:
                if self._closed:
                    self._scheduled = False
                    self._idle.set()
                    return
                self._admit()
            for sequence in [s for s in self._running() if s.request.abandoned]:
                self._finish(sequence, None)
            if self._running():
                self._step()
        except BaseException as error:  # never leave a caller waiting forever
            for sequence in self._running():
                sequence.slot.cached = []
                self._finish(sequence, GenerationError(f"embedded batch engine failed: {error!r}"))
        self.stats["step_seconds"] += time.perf_counter() - started
        self.stats["steps"] += 1
        with self._lock:
            if (self._pending or self._running()) and not self._closed:
                compute_thread.submit(self._tick)
            else:
                self._scheduled = False
                self._idle.set()

    def _free(self) -> None:
        for sequence in self._running():
            sequence.slot.cached = []
            self._finish(sequence, GenerationError("the embedded backend was closed mid-request"))
        if self.ctx:
            self._llama_cpp.llama_batch_free(self.batch)
            self._llama_cpp.llama_free(self.ctx)
            self.ctx = None

    def _admit(self) -> None:
        """Start pending requests while a slot is free (called with the lock held)."""
        while self._pending:
            free = [slot for slot in self.slots if slot.sequence is None]
            if not free:
                return
            request = self._pending.popleft()
            if request.abandoned or request.future.cancelled():
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
                if request.future.set_running_or_notify_cancel():
                    request.future.set_exception(error)
                continue
            if not request.future.set_running_or_notify_cancel():
                continue
            try:
                sampler = self._sampler(request)
            except Exception as error:
                request.future.set_exception(error)
                continue
            try:
                slot, reused = self._place(prompt, free)
            except Exception as error:
                sampler.free()
                request.future.set_exception(GenerationError(f"embedded batch engine failed: {error!r}"))
                continue
            slot.sequence = _Sequence(request, slot, prompt, reused, min(request.params.max_tokens, room), sampler)

    def _place(self, prompt: list[int], free: list[_Slot]) -> tuple[_Slot, int]:
        """Pick a free slot for a prompt and reuse what it can; returns the slot and the prompt tokens reused."""
        llama_cpp = self._llama_cpp
        held = {other.seq_id: shared_prefix(other.cached, prompt) for other in self.slots}
        slot = free[0]
        kept = held[slot.seq_id]
        for candidate in free[1:]:
            if held[candidate.seq_id] >= kept + AFFINITY_MIN_TOKENS:
                slot, kept = candidate, held[candidate.seq_id]
        donor = max(self.slots, key=lambda other: held[other.seq_id])
        donated = held[donor.seq_id]
        if donor is not slot and donated >= kept + COPY_MIN_TOKENS:
            llama_cpp.llama_memory_seq_cp(self.memory, donor.seq_id, slot.seq_id, -1, -1)
            self.stats["stream_copies"] += 1
            kept = donated
        reused = max(0, min(kept, len(prompt) - MIN_DECODED_TOKENS))
        llama_cpp.llama_memory_seq_rm(self.memory, slot.seq_id, reused, -1)
        slot.cached = prompt[:reused]
        self.stats["prompt_tokens"] += len(prompt)
        self.stats["reused_prompt_tokens"] += reused
        return slot, reused

    def _step(self) -> None:
        """Decode the rest of the new prompts, then the next token of every running request in one call; sample
        after each call."""
        self._prefill()
        generating = [s for s in self._running() if s.generated and s.decoded == len(s.prompt)]
        if generating:
            self._decode([(s, s.generated[-1:], len(s.prompt) + len(s.generated) - 1) for s in generating])

    def _prefill(self) -> None:
        """Decode new prompts, several per call, in pieces of one length.

        With one KV stream per sequence, llama.cpp cuts a batch into micro-batches holding equally many tokens of
        each sequence. Pieces of one length run as one micro-batch, reading the weights once for all of them. A
        prompt never shares a call with one-token decodes, and never leaves a last piece of one token: a lone token
        attending to earlier cells rounds differently from a longer piece (measured: 1 of 12 seeded answers changed),
        while every piece of two or more tokens gives the logits of a whole-prompt decode.
        """
        while True:
            waiting = [s for s in self._running() if s.decoded < len(s.prompt)]
            if not waiting:
                return
            length = min(len(s.prompt) - s.decoded for s in waiting)
            group = [s for s in waiting if len(s.prompt) - s.decoded - length != 1]
            group = group[: max(1, self.n_batch // length)]
            self._decode([(s, s.prompt[s.decoded : s.decoded + length], s.decoded) for s in group])

    def _decode(self, pieces: list[tuple[_Sequence, list[int], int]]) -> None:
        """One `llama_decode` of (sequence, tokens, first position) pieces; then each sequence whose prompt is done
        samples a token."""
        llama_cpp, batch = self._llama_cpp, self.batch
        n_tokens = 0
        sampling: list[_Sequence] = []
        for sequence, tokens, first_position in pieces:
            for offset, token in enumerate(tokens):
                batch.token[n_tokens] = token
                batch.pos[n_tokens] = first_position + offset
                batch.n_seq_id[n_tokens] = 1
                batch.seq_id[n_tokens][0] = sequence.seq_id
                batch.logits[n_tokens] = 0
                n_tokens += 1
            if first_position + len(tokens) >= len(sequence.prompt):  # the prompt is done: sample from here
                batch.logits[n_tokens - 1] = 1
                sequence.logits_index = n_tokens - 1
                sampling.append(sequence)
        batch.n_tokens = n_tokens
        started = time.perf_counter()
        status = llama_cpp.llama_decode(self.ctx, batch)
        finished = time.perf_counter()
        self.stats["decode_seconds"] += finished - started
        self.stats["decode_calls"] += 1
        if status != 0:
            for sequence, _, _ in pieces:
                sequence.slot.cached = []
                self._finish(sequence, GenerationError(f"llama_decode failed with status {status}"))
            return
        for sequence, tokens, first_position in pieces:
            if sequence.decoded < len(sequence.prompt):
                sequence.decoded = first_position + len(tokens)
                sequence.slot.cached = sequence.prompt[: sequence.decoded]
        for sequence in sampling:
            token = sequence.sampler.sample(self.ctx, sequence.logits_index)
            if llama_cpp.llama_vocab_is_eog(self.vocab, token):
                self._finish(sequence, "stop")
                continue
            sequence.generated.append(token)
            sequence.text += self._piece(token)
            stop = sequence.request.params.stop
            if stop and cut_at_stop(sequence.text.decode("utf-8", errors="ignore"), stop)[1]:
                self._finish(sequence, "stop")
            elif len(sequence.generated) >= sequence.max_tokens:
                self._finish(sequence, "length")
        self.stats["sample_seconds"] += time.perf_counter() - finished

    def _finish(self, sequence: _Sequence, outcome) -> None:
        """Free the slot, keeping its prompt's cells; `outcome` is a finish reason, an exception, or None for an
        abandoned request."""
        llama_cpp = self._llama_cpp
        slot = sequence.slot
        llama_cpp.llama_memory_seq_rm(self.memory, slot.seq_id, len(slot.cached), -1)
        sequence.sampler.free()
        slot.sequence = None
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

    def _tokens(self, request: EngineRequest) -> list[int]:
        if request.kind == "chat":
            return chat_prompt_tokens(self.llama, self.formatter, request.payload)
        return self.llama.tokenize(request.payload.encode("utf-8"), add_bos=True, special=True)

    def _piece(self, token: int) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        size = self._llama_cpp.llama_token_to_piece(self.vocab, token, buffer, 64, 0, False)
        return buffer.raw[: max(size, 0)]

    def _sampler(self, request: EngineRequest) -> RequestSampler:
        grammar = self._grammar_text(request.schema_json) if request.schema_json is not None else None
        return RequestSampler(self._llama_cpp, self.vocab, self.n_vocab, request.params, request.seed, grammar)


def chat_formatter(llama):
    """The model's own chat template (the GGUF's), or ChatML for a model without one."""
    from llama_cpp import llama_chat_format

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


def chat_prompt_tokens(llama, formatter, messages: list[dict]) -> list[int]:
    """The tokens the model reads for a chat request: the templated prompt, BOS added unless the template did."""
    formatted = formatter(messages=messages)
    add_bos = not getattr(formatted, "added_special", False)
    return llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=add_bos, special=True)
