"""`TinyLM`: a small causal transformer language model with a scikit-learn-like API, trained on a CPU.

    tokenizer = Tokenizer.train(real_texts)                  # one vocabulary for every model of a comparison
    model = TinyLM(d_model=128, layers=4, steps=600, seed=0).fit(texts, validation=held, tokenizer=tokenizer)
    model.perplexity(real_heldout)      # per token of the shared tokenizer; lower is better
    model.sample(20, seed=1, prompts=["Once upon a time,"])
    model.save("model.pt"); TinyLM.load("model.pt")

Training goes through `perpetuum.train.loop.train_network` (the trainer the collapse lab uses too): at most
`steps` x `batch` x `context` tokens seen, early stopping on the validation texts (or a seeded `validation_share`
of the training texts when none are given), best weights restored. Hyper-parameters are checked at `fit`;
learned state ends with an underscore.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.progress import progress_bar
from perpetuum.train.loop import TrainingBudget, consecutive_windows, require_torch, train_network, window_loss
from perpetuum.train.tokenizer import Tokenizer
from perpetuum.train.transformer import build_transformer

__all__ = ["TinyLM"]


class TinyLM:
    """A GPT-style causal transformer: about 1.1 M parameters with the defaults (0.8 M in the blocks, the rest
    embeddings); d_model=256, layers=6 gives about 5 M."""

    def __init__(self, d_model: int = 128, layers: int = 4, heads: int = 4, context: int = 128,
                 vocabulary_size: int = 2048, steps: int = 600, batch: int = 16, learning_rate: float = 2e-3,
                 weight_decay: float = 0.01, warmup: int = 20, dropout: float = 0.0, eval_every: int = 50,
                 patience: int = 3, validation_share: float = 0.1, validation_windows: int = 128,
                 temperature: float = 0.8, threads: int | None = None, seed: int = 0, verbose: bool = False):
        self.d_model, self.layers, self.heads, self.context = d_model, layers, heads, context
        self.vocabulary_size, self.steps, self.batch = vocabulary_size, steps, batch
        self.learning_rate, self.weight_decay, self.warmup, self.dropout = learning_rate, weight_decay, warmup, dropout
        self.eval_every, self.patience = eval_every, patience
        self.validation_share, self.validation_windows = validation_share, validation_windows
        self.temperature, self.threads, self.seed, self.verbose = temperature, threads, seed, verbose

    # ------------------------------------------------------------------------------------------------- settings
    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in (
            "d_model", "layers", "heads", "context", "vocabulary_size", "steps", "batch", "learning_rate",
            "weight_decay", "warmup", "dropout", "eval_every", "patience", "validation_share", "validation_windows",
            "temperature", "threads", "seed", "verbose")}

    def budget(self) -> TrainingBudget:
        """The compute budget: every TinyLM with the same parameters sees at most `budget().max_tokens` tokens."""
        return TrainingBudget(steps=self.steps, batch=self.batch, window=self.context,
                              learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                              eval_every=self.eval_every, patience=self.patience, warmup=self.warmup)

    def _check(self) -> None:
        for name in ("d_model", "layers", "heads", "context", "validation_windows"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"TinyLM {name} must be a positive integer, got {value!r}")
        if self.d_model % self.heads:
            raise ParameterError(f"TinyLM d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.validation_share < 1.0:
            raise ParameterError("TinyLM dropout and validation_share must be in [0, 1)")
        if not self.temperature > 0:
            raise ParameterError(f"TinyLM temperature must be positive, got {self.temperature!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ParameterError(f"TinyLM threads must be a positive integer or None (all cores), got {self.threads!r}")
        self.budget().check()

    def _threads(self) -> None:
        require_torch().set_num_threads(self.threads or os.cpu_count() or 1)

    # ------------------------------------------------------------------------------------------------- training
    def fit(self, texts: list[str], validation: list[str] | None = None,
            tokenizer: Tokenizer | None = None) -> "TinyLM":
        """Train from scratch on `texts`. validation: texts for early stopping (default: a seeded
        `validation_share` of `texts`, kept out of training). tokenizer: the shared vocabulary (default: one trained
        on `texts`)."""
        torch = require_torch()
        self._check()
        texts = _texts(texts, "training texts")
        if validation is None and self.validation_share > 0 and len(texts) >= 2:
            order = np.random.default_rng(self.seed).permutation(len(texts))
            held = max(1, int(round(self.validation_share * len(texts))))
            validation = [texts[i] for i in sorted(order[:held])]
            texts = [texts[i] for i in sorted(order[held:])]
        self.tokenizer_ = tokenizer or Tokenizer.train(texts, self.vocabulary_size)
        self._threads()
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(self.seed)
        self.network_ = build_transformer(len(self.tokenizer_), self.d_model, self.layers, self.heads, self.context,
                                          self.dropout)
        stream = torch.from_numpy(self.tokenizer_.encode_documents(texts))
        held = None
        if validation:
            held = consecutive_windows(torch.from_numpy(self.tokenizer_.encode_documents(_texts(validation,
                                       "validation texts"))), self.context, limit=self.validation_windows)
        self.training_tokens_ = int(len(stream))
        with progress_bar(f"Training TinyLM (seed {self.seed})", total=self.steps, verbose=self.verbose) as bar:
            record = train_network(self.network_, stream, self.budget(), seed=self.seed, validation=held,
                                   on_step=lambda _step: bar.advance())
        self.record_ = record
        self.curve_ = record.curve
        self.steps_trained_ = record.steps_trained
        self.tokens_seen_ = record.tokens_seen
        self.n_parameters_ = int(sum(p.numel() for p in self.network_.parameters()))
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ParameterError("this TinyLM is not fitted yet; call fit(texts) first")

    # ------------------------------------------------------------------------------------------------- scoring
    def perplexity(self, texts: list[str]) -> float:
        """exp(mean next-token negative log-likelihood) of the texts (each preceded and followed by the end token),
        in windows of the model's context; per token of the model's tokenizer. Lower is better."""
        return float(np.exp(self.loss(texts)))

    def loss(self, texts: list[str]) -> float:
        """Mean next-token cross-entropy (nats per token) of the texts."""
        torch = require_torch()
        self._fitted()
        self._threads()
        stream = torch.from_numpy(self.tokenizer_.encode_documents(_texts(texts, "texts to score")))
        windows = consecutive_windows(stream, self.context, limit=10**9)
        if windows is None:
            raise DataInputError(f"the texts to score hold {len(stream)} tokens; need more than {self.context + 1}")
        return window_loss(self.network_, windows)

    # ------------------------------------------------------------------------------------------------- sampling
    def sample(self, n: int, seed: int = 0, prompts: list[str] | None = None,
               max_tokens: int | None = None) -> list[str]:
        """`n` texts sampled at `temperature`, each ended at the end-of-document token or at `max_tokens` (at most the
        context). prompts: texts to continue (cycled over the n samples); each sample then starts with its prompt."""
        torch = require_torch()
        self._fitted()
        self._threads()
        if not isinstance(n, int) or n < 1:
            raise ParameterError(f"n must be a positive integer, got {n!r}")
        generator = torch.Generator().manual_seed(int(seed))
        end = self.tokenizer_.end_id
        limit = self.context if max_tokens is None else min(max_tokens, self.context)
        samples = []
        with torch.no_grad():
            for index in range(n):
                prompt = prompts[index % len(prompts)] if prompts else ""
                ids = [end] + (self.tokenizer_.encode(prompt) if prompt else [])
                ids = ids[: limit - 1]
                logits, cache = self.network_.step(torch.tensor([ids]))
                produced = []
                for _ in range(limit - len(ids)):
                    probabilities = torch.softmax(logits[0, -1] / self.temperature, dim=-1)
                    token = int(torch.multinomial(probabilities, 1, generator=generator))
                    if token == end:
                        break
                    produced.append(token)
                    logits, cache = self.network_.step(torch.tensor([[token]]), cache)
                samples.append(self.tokenizer_.decode(ids[1:] + produced))
        return samples

    # ------------------------------------------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        torch = require_torch()
        self._fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"params": self.get_params(), "tokenizer": self.tokenizer_.to_json(),
                    "state": self.network_.state_dict(), "curve": self.curve_,
                    "steps_trained": self.steps_trained_, "tokens_seen": self.tokens_seen_,
                    "training_tokens": self.training_tokens_}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TinyLM":
        torch = require_torch()
        path = Path(path)
        if not path.is_file():
            raise DataInputError(f"model file {str(path)!r} does not exist")
        saved = torch.load(path, weights_only=True)
        model = cls(**saved["params"])
        model.tokenizer_ = Tokenizer.from_json(saved["tokenizer"])
        model.network_ = build_transformer(len(model.tokenizer_), model.d_model, model.layers, model.heads,
                                           model.context, model.dropout)
        model.network_.load_state_dict(saved["state"])
        model.network_.eval()
        model.curve_, model.steps_trained_ = saved["curve"], saved["steps_trained"]
        model.tokens_seen_, model.training_tokens_ = saved["tokens_seen"], saved["training_tokens"]
        model.n_parameters_ = int(sum(p.numel() for p in model.network_.parameters()))
        return model


def _texts(texts, what: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise ParameterError(f"the {what} must be a list of strings")
    texts = [text for text in texts if isinstance(text, str) and text.strip()]
    if not texts:
        raise DataInputError(f"the {what} are empty")
    return list(texts)
