"""A local Hugging Face model folder through `transformers` (`pip install "perpetuum[hf]"`), on CPU or GPU.

Only local files are read (`local_files_only=True`): nothing is downloaded. The tokenizer's chat template formats
conversations when the folder has one; otherwise a plain "role: content" transcript is used. There is no grammar
here, so JSON goes through `structured.generate_json`'s validate-and-retry. `chat_many` decodes the conversations
as one padded batch.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from perpetuum.errors import ModelFileError, ParameterError
from perpetuum.llm.base import Backend, Completion, GenerationParams, cut_at_stop, plain_messages
from perpetuum.llm.registry import register_backend


@register_backend("hf")
class HuggingFaceBackend(Backend):
    """`model_path`: a folder written by `save_pretrained` (model + tokenizer). `device`: "cpu", "cuda", or "auto"
    (CUDA when available). Requests run one at a time in a worker thread; `chat_many` batches."""

    def __init__(self, model_path: str | os.PathLike, device: str = "cpu", dtype: str | None = None,
                 trust_remote_code: bool = False):
        self.model_path = model_path
        self.device = device
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self.max_concurrency = 1
        self.model_name = Path(model_path).name
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    async def chat(self, messages, params, json_schema=None) -> Completion:
        return (await self.chat_many([messages], params, json_schema))[0]

    async def chat_many(self, conversations, params, json_schema=None) -> list[Completion]:
        params.check()
        conversations = [plain_messages(messages) for messages in conversations]
        return await asyncio.to_thread(self._generate, conversations, params, True)

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        if not isinstance(prompt, str):
            raise ParameterError(f"prompt must be a string, got {type(prompt).__name__}")
        params.check()
        return (await asyncio.to_thread(self._generate, [prompt], params, False))[0]

    async def aclose(self) -> None:
        self._model, self._tokenizer = None, None

    def load(self) -> "HuggingFaceBackend":
        """Load the model now (otherwise the first request does it)."""
        with self._lock:
            self._ensure_loaded()
        return self

    # --- internals -------------------------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as error:
            raise ModelFileError(
                f"the hf backend needs transformers and torch ({error}); run `pip install \"perpetuum[hf]\"`"
            ) from error
        path = Path(self.model_path)
        if not (path / "config.json").is_file():
            raise ModelFileError(f"{str(path)!r} is not a Hugging Face model folder (no config.json); pass the "
                                 "folder that save_pretrained wrote")
        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        options = dict(local_files_only=True, trust_remote_code=self.trust_remote_code)
        if self.dtype is not None:
            options["dtype"] = getattr(torch, self.dtype) if self.dtype != "auto" else "auto"
        tokenizer = AutoTokenizer.from_pretrained(
            path, local_files_only=True, trust_remote_code=self.trust_remote_code
        )
        tokenizer.padding_side = "left"  # decoder-only models continue from the right end
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(path, **options).to(self.device)
        model.eval()
        self._tokenizer, self._model = tokenizer, model

    def _prompt_text(self, messages: list[dict]) -> str:
        tokenizer = self._tokenizer
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        lines = [f"{message['role']}: {message['content']}" for message in messages]
        return "\n".join(lines) + "\nassistant:"

    def _generate(self, inputs: list, params: GenerationParams, is_chat: bool) -> list[Completion]:
        import torch

        with self._lock:
            self._ensure_loaded()
            tokenizer, model = self._tokenizer, self._model
            texts = [self._prompt_text(item) if is_chat else item for item in inputs]
            # A chat template writes its own special tokens; a raw prompt gets the tokenizer's usual ones.
            encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not is_chat)
            encoded = {key: value.to(self.device) for key, value in encoded.items()}
            if params.seed is not None:
                torch.manual_seed(params.seed)
            sampling = (
                dict(do_sample=True, temperature=params.temperature, top_p=params.top_p)
                if params.temperature > 0
                else dict(do_sample=False)
            )
            started = time.perf_counter()
            with torch.no_grad():
                output = model.generate(
                    **encoded,
                    max_new_tokens=params.max_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **sampling,
                )
            seconds = time.perf_counter() - started
        prompt_width = encoded["input_ids"].shape[1]
        completions = []
        for row, attention in zip(output, encoded["attention_mask"]):
            new_tokens = row[prompt_width:].tolist()
            ended = tokenizer.eos_token_id in new_tokens
            if ended:
                new_tokens = new_tokens[: new_tokens.index(tokenizer.eos_token_id)]
            text, stopped = cut_at_stop(tokenizer.decode(new_tokens, skip_special_tokens=True), params.stop)
            completions.append(
                Completion(
                    text=text,
                    prompt_tokens=int(attention.sum()),
                    completion_tokens=len(new_tokens),
                    model=self.model_name,
                    finish_reason="stop" if ended or stopped else "length",
                    seconds=seconds,
                )
            )
        return completions
