"""Fine-tune a local chat model on question-and-answer pairs, and let it answer: the trainer of `prove code`.

    model = load_causal_lm("smollm2-135m-q4_1")                   # a ladder name, a .gguf file or a HF folder
    tuner = ChatFineTuner(model, epochs=3, learning_rate=1e-4, seed=0).fit(pairs)   # [(question, answer), ...]
    tuner.answer(["Write a function ..."], max_new_tokens=512)     # greedy, batched
    tuner.history_                                                 # one row per step: loss, tokens, seconds

A full fine-tune (every weight moves, AdamW, linear warm-up then cosine decay, gradient clipping) with the loss on
the answer's tokens only: the question is context, not something to learn to write. A GGUF file is dequantized
into torch weights by transformers (it needs `gguf` and `accelerate`, in the train extra), so the model the
embedded backend runs is the one that is trained. Weights and optimizer stay in float32 (on a GPU the matrix
products run under bfloat16 autocast), so small learning rates are not lost to rounding.
"""

from __future__ import annotations

import copy
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perpetuum.errors import ModelFileError, ParameterError
from perpetuum.train.loop import require_torch

__all__ = ["CausalLM", "ChatFineTuner", "load_causal_lm"]


@dataclass
class CausalLM:
    """A loaded model with its tokenizer, and where it came from."""

    model: object
    tokenizer: object
    source: str
    device: str

    @property
    def parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.model.parameters())


def _device(device: str) -> str:
    torch = require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} asked for, but torch sees no CUDA GPU here; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ParameterError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def _model_file(source: str | os.PathLike) -> tuple[Path, str | None]:
    """(folder, gguf file name or None) for a HF folder, a .gguf file, or a name on the embedded model ladder."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelFileError(f"{str(path)!r} is not a Hugging Face model folder (no config.json)")
        return path, None
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelFileError(f"{str(path)!r} is neither a .gguf file nor a Hugging Face model folder")
        return path.parent, path.name
    if str(source).endswith(".gguf") or os.sep in str(source):
        raise ModelFileError(f"model file {str(source)!r} does not exist")
    from perpetuum.llm.model_ladder import ladder_model

    file = ladder_model(str(source)).shipped_path()  # not the copy re-encoded for llama.cpp's CPU kernels
    return file.parent, file.name


def load_causal_lm(source: str | os.PathLike, device: str = "auto") -> CausalLM:
    """Load a causal LM and its tokenizer from local files only (nothing is downloaded), as float32 weights."""
    torch = require_torch()
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ParameterError("fine-tuning needs transformers: pip install 'perpetuum[train]'") from None
    device = _device(device)
    folder, gguf = _model_file(source)
    options = {"local_files_only": True}
    if gguf:
        options["gguf_file"] = gguf
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **options)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **options)
    except ImportError as error:  # transformers names the missing package (gguf, accelerate)
        raise ParameterError(f"loading {str(source)!r} needs a package that is missing: {error}; "
                             "pip install 'perpetuum[train]'") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device).eval()
    return CausalLM(model=model, tokenizer=tokenizer, source=str(source), device=device)


class ChatFineTuner:
    """Fine-tune a copy of `model` (a `CausalLM`, left untouched) on (question, answer) chat pairs.

    `epochs` passes over the pairs in a seeded order, `batch` pairs per step (padded), answers cut to fit
    `max_length` tokens with the question; AdamW with `learning_rate`, `warmup` (a share of the steps) and cosine
    decay to zero. `epochs=0` keeps the model as it is (the baseline arm of a comparison). `progress`: True prints
    the loss every 10 steps and each answered batch; a callable gets those lines instead."""

    def __init__(self, model: CausalLM, epochs: int = 3, learning_rate: float = 1e-4, batch: int = 8,
                 max_length: int = 768, warmup: float = 0.1, weight_decay: float = 0.0, seed: int = 0,
                 system_prompt: str | None = None, progress: bool | Callable[[str], None] = False):
        self.model = model
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch = batch
        self.max_length = max_length
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.seed = seed
        self.system_prompt = system_prompt
        self.progress = progress

    def _check(self) -> None:
        if not isinstance(self.model, CausalLM):
            raise ParameterError(f"model must be a CausalLM from load_causal_lm, got {type(self.model).__name__}")
        for name in ("batch", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ParameterError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if not self.learning_rate > 0:
            raise ParameterError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not 0 <= self.warmup < 1:
            raise ParameterError(f"warmup is a share of the steps in [0, 1), got {self.warmup!r}")

    def _report(self, line: str) -> None:
        if callable(self.progress):
            self.progress(line)
        elif self.progress:
            print(line, flush=True)

    def _messages(self, question: str) -> list[dict]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": "user", "content": question}]

    def _prompt_ids(self, question: str) -> list[int]:
        tokenizer = self.model.tokenizer
        text = tokenizer.apply_chat_template(self._messages(question), add_generation_prompt=True, tokenize=False)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def _example(self, question: str, answer: str) -> tuple[list[int], int] | None:
        """(token ids, where the answer starts), the answer ending with the end-of-turn token; None if the
        question alone fills max_length."""
        tokenizer = self.model.tokenizer
        prompt = self._prompt_ids(question)
        reply = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        if len(prompt) >= self.max_length - 8:
            return None
        return (prompt + reply)[: self.max_length], len(prompt)

    def fit(self, pairs: list[tuple[str, str]]) -> "ChatFineTuner":
        self._check()
        torch = require_torch()
        pairs = [(str(question), str(answer)) for question, answer in pairs]
        examples = [example for example in (self._example(q, a) for q, a in pairs) if example is not None]
        if self.epochs and not examples:
            raise ParameterError("no training pair fits max_length; raise it or shorten the questions")
        self.skipped_pairs_ = len(pairs) - len(examples)
        device = self.model.device
        network = copy.deepcopy(self.model.model)  # on the loaded model's device already
        self.history_ = []
        self.tokens_trained_ = 0
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        steps_per_epoch = math.ceil(len(examples) / self.batch) if examples else 0
        total = steps_per_epoch * self.epochs
        if total:
            network.train()
            optimizer = torch.optim.AdamW(network.parameters(), lr=self.learning_rate,
                                          weight_decay=self.weight_decay)
            warm = int(self.warmup * total)

            def factor(step: int) -> float:
                if step < warm:
                    return (step + 1) / warm
                return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
            pad = self.model.tokenizer.pad_token_id
            autocast = device.startswith("cuda")
            started, step = time.perf_counter(), 0
            for epoch in range(self.epochs):
                order = rng.permutation(len(examples))
                for first in range(0, len(order), self.batch):
                    chosen = [examples[i] for i in order[first:first + self.batch]]
                    width = max(len(ids) for ids, _ in chosen)
                    ids = torch.full((len(chosen), width), pad, dtype=torch.long)
                    labels = torch.full((len(chosen), width), -100, dtype=torch.long)
                    mask = torch.zeros((len(chosen), width), dtype=torch.long)
                    for row, (tokens, answer_start) in enumerate(chosen):
                        ids[row, : len(tokens)] = torch.tensor(tokens)
                        labels[row, answer_start: len(tokens)] = torch.tensor(tokens[answer_start:])
                        mask[row, : len(tokens)] = 1
                    ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                        loss = network(input_ids=ids, attention_mask=mask, labels=labels).loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    step += 1
                    self.tokens_trained_ += int(mask.sum())
                    self.history_.append({"step": step, "epoch": epoch + 1, "loss": float(loss.detach()),
                                          "tokens": self.tokens_trained_,
                                          "seconds": round(time.perf_counter() - started, 3)})
                    if step % 10 == 0 or step == total:
                        self._report(f"  step {step}/{total}: answer loss {float(loss.detach()):.3f} "
                                     f"({time.perf_counter() - started:.0f} s)")
            network.eval()
        self.network_ = network
        self.steps_ = total
        return self

    def answer(self, questions: list[str], max_new_tokens: int = 512, batch: int = 32,
               stop_after_code_block: bool = False) -> list[str]:
        """Greedy answers, `batch` questions of similar length at a time (left-padded), in the questions' order.
        `stop_after_code_block`: an answer ends once its first ``` code block is closed (what a code scorer reads),
        so one rambling answer does not keep a whole batch generating to `max_new_tokens`."""
        if not hasattr(self, "network_"):
            raise ParameterError("call fit() first (fit([]) with epochs=0 for the model as it is)")
        torch = require_torch()
        tokenizer = self.model.tokenizer
        prompts = [self._prompt_ids(question) for question in questions]
        order = sorted(range(len(prompts)), key=lambda index: len(prompts[index]))  # less padding per batch
        started = time.perf_counter()
        backticks = ({token_id for token, token_id in tokenizer.get_vocab().items() if "`" in token}
                     if stop_after_code_block else set())
        answers: list[str] = [""] * len(prompts)
        for first in range(0, len(order), batch):
            chosen = order[first:first + batch]
            width = max(len(prompts[index]) for index in chosen)
            ids = torch.full((len(chosen), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(chosen), width), dtype=torch.long)
            for row, index in enumerate(chosen):
                tokens = prompts[index]
                ids[row, width - len(tokens):] = torch.tensor(tokens)
                mask[row, width - len(tokens):] = 1
            stopping = None
            if stop_after_code_block:
                from transformers import StoppingCriteriaList

                stopping = StoppingCriteriaList([_CodeBlockClosed(tokenizer, backticks, width, len(chosen))])
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16,
                                                 enabled=self.model.device.startswith("cuda")):
                output = self.network_.generate(input_ids=ids.to(self.model.device),
                                                attention_mask=mask.to(self.model.device),
                                                max_new_tokens=max_new_tokens, do_sample=False,
                                                pad_token_id=tokenizer.pad_token_id,
                                                eos_token_id=tokenizer.eos_token_id,
                                                stopping_criteria=stopping)
            for index, row in zip(chosen, output[:, width:].tolist()):
                if tokenizer.eos_token_id in row:
                    row = row[: row.index(tokenizer.eos_token_id)]
                answers[index] = tokenizer.decode(row, skip_special_tokens=True)
            self._report(f"  answered {min(first + batch, len(order))}/{len(order)} "
                         f"({time.perf_counter() - started:.0f} s)")
        return answers


CLOSED_CODE_BLOCK = re.compile(r"```[^\n]*\n.*?```", re.S)


class _CodeBlockClosed:
    """A per-row stopping criterion for `generate`: true once the row's new text holds a closed code block. The
    text is decoded only when the newest token is one of `backtick_ids` (the tokens holding a backtick), so the
    check costs next to nothing."""

    def __init__(self, tokenizer, backtick_ids: set[int], prompt_width: int, rows: int):
        self.tokenizer = tokenizer
        self.backtick_ids = backtick_ids
        self.prompt_width = prompt_width
        self.done = [False] * rows

    def __call__(self, input_ids, scores, **kwargs):
        torch = require_torch()
        newest = input_ids[:, -1].tolist()
        for row, token_id in enumerate(newest):
            if not self.done[row] and token_id in self.backtick_ids:
                text = self.tokenizer.decode(input_ids[row, self.prompt_width:].tolist(), skip_special_tokens=True)
                self.done[row] = bool(CLOSED_CODE_BLOCK.search(text))
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)
