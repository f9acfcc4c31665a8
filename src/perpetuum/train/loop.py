"""The one training loop of Perpetuum's language models: next-token prediction on random windows of a token
stream, a cosine-decayed learning rate, gradient clipping, and early stopping on a validation stream.

    record = train_network(network, stream, budget, seed=0, validation=held_windows)
    record.steps_trained, record.best_validation_loss, record.curve

Both the collapse lab's character model and `TinyLM` (the transformer `perpetuum prove` trains) train through
`train_network`, so a comparison made with either has the same budget rules. The compute budget is `steps` x
`batch` x `window` tokens: every model given the same `TrainingBudget` sees at most the same number of tokens;
early stopping may stop it sooner (the record says when), and the best weights seen on validation are restored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from perpetuum.errors import ParameterError

__all__ = ["TrainingBudget", "TrainingRecord", "require_torch", "consecutive_windows", "train_network"]


def require_torch():
    """The torch module, or a ParameterError saying how to install it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the installation
        raise ParameterError(
            "training a language model needs torch; install it with: pip install 'perpetuum[train]'"
        ) from None
    return torch


@dataclass(frozen=True)
class TrainingBudget:
    """Steps, batch and window fix the compute; eval_every/patience the early stopping (patience 0: never stops
    early, the best weights are still restored)."""

    steps: int = 300
    batch: int = 32
    window: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    eval_every: int = 50
    patience: int = 0
    warmup: int = 0

    def check(self) -> None:
        for name in ("steps", "batch", "window", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"training setting {name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0:
            raise ParameterError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not self.weight_decay >= 0:
            raise ParameterError(f"weight_decay must be non-negative, got {self.weight_decay!r}")
        for name in ("patience", "warmup"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ParameterError(f"{name} must be a non-negative integer, got {value!r}")

    @property
    def max_tokens(self) -> int:
        """Tokens seen when training runs to the last step: the same for every model given this budget."""
        return self.steps * self.batch * self.window


@dataclass
class TrainingRecord:
    """What happened: steps run, tokens seen, the best validation loss (None without validation), and the learning
    curve as rows {"step", "tokens", "train_loss", "validation_loss"} (one per measurement)."""

    steps_trained: int = 0
    tokens_seen: int = 0
    best_validation_loss: float | None = None
    best_step: int | None = None
    stopped_early: bool = False
    curve: list[dict] = field(default_factory=list)


def consecutive_windows(stream, window: int, limit: int = 256):
    """Up to `limit` consecutive, non-overlapping windows of `window` + 1 tokens of a 1-D token tensor (None if the
    stream is shorter than one window)."""
    torch = require_torch()
    count = min(limit, (len(stream) - 1) // window)
    if count < 1:
        return None
    return torch.stack([stream[i * window: (i + 1) * window + 1] for i in range(count)])


def _logits(output):
    return output[0] if isinstance(output, tuple) else output


def window_loss(network, windows, batch: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of `network` over windows (rows of window + 1 tokens)."""
    torch = require_torch()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            chunk = windows[start:start + batch]
            logits = _logits(network(chunk[:, :-1]))
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1),
                                                     reduction="sum")
            total += float(loss)
            count += chunk[:, 1:].numel()
    return total / max(count, 1)


def train_network(network, stream, budget: TrainingBudget, seed: int, validation=None,
                  on_step: Callable[[int], None] | None = None) -> TrainingRecord:
    """Train `network` (its forward maps token windows to logits, or to (logits, state)) in place on random
    windows of `stream` (a 1-D long tensor) for at most `budget.steps` steps.

    validation: windows (a 2-D tensor of window + 1 tokens each, see `consecutive_windows`) measured every
    `eval_every` steps and at the last step; the best weights are kept and restored, and training stops after
    `patience` measurements without improvement. The caller seeds torch before building the network; batches come
    from a torch.Generator seeded with `seed`. `on_step(step)` is called after each step (progress display)."""
    torch = require_torch()
    budget.check()
    if len(stream) < budget.window + 2:
        raise ParameterError(f"the training text has {len(stream)} tokens; the model needs more than "
                             f"{budget.window + 2}")
    if budget.weight_decay > 0:
        optimiser = torch.optim.AdamW(network.parameters(), lr=budget.learning_rate, weight_decay=budget.weight_decay)
    else:
        optimiser = torch.optim.Adam(network.parameters(), lr=budget.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    offsets_range = len(stream) - budget.window - 1
    positions = torch.arange(budget.window + 1)
    record = TrainingRecord()
    best_state, waited, running = None, 0, []
    network.train()
    for step in range(budget.steps):
        # A cosine-decayed learning rate (after an optional linear warm-up): a short budget ends at a lower loss
        # than a constant one.
        scale = 0.5 * (1 + np.cos(np.pi * step / budget.steps))
        if step < budget.warmup:
            scale *= (step + 1) / budget.warmup
        for group in optimiser.param_groups:
            group["lr"] = budget.learning_rate * scale
        starts = torch.randint(0, offsets_range, (budget.batch, 1), generator=generator)
        windows = stream[starts + positions]
        logits = _logits(network(windows[:, :-1]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimiser.step()
        running.append(loss.item())
        record.steps_trained = step + 1
        record.tokens_seen = record.steps_trained * budget.batch * budget.window
        if on_step is not None:
            on_step(record.steps_trained)
        if validation is not None and (record.steps_trained % budget.eval_every == 0
                                       or record.steps_trained == budget.steps):
            network.eval()
            held_loss = window_loss(network, validation)
            network.train()
            record.curve.append({"step": record.steps_trained, "tokens": record.tokens_seen,
                                 "train_loss": float(np.mean(running)), "validation_loss": held_loss})
            running = []
            if held_loss < (record.best_validation_loss if record.best_validation_loss is not None else np.inf):
                record.best_validation_loss, record.best_step, waited = held_loss, record.steps_trained, 0
                best_state = {key: value.detach().clone() for key, value in network.state_dict().items()}
            else:
                waited += 1
                if budget.patience and waited >= budget.patience:
                    record.stopped_early = record.steps_trained < budget.steps
                    break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return record
