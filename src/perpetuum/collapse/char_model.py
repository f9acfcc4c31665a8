"""A small character-level language model (embedding -> GRU -> linear) in torch, trainable on a CPU in a minute;
it trains through the shared loop of `perpetuum.train` (the same trainer as `perpetuum prove`).

    vocabulary = CharVocabulary.from_documents(documents)
    model = CharModel.train_on(documents, vocabulary, steps=300, seed=0)
    texts = model.sample_documents(characters=100_000, seed=1)
    model.document_nll(texts)        # per document: (summed negative log-likelihood in nats, characters)

Documents are joined with an end-of-document symbol (index 0), which the model also learns to emit; sampling
starts from it and cuts documents at it. Characters never seen in training map to an unknown symbol (index 1).
Everything is seeded (torch.manual_seed, a torch.Generator for batches and sampling, deterministic algorithms) and
runs on `threads` CPU threads (1 by default: on a shared machine more threads mostly wait on each other).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from perpetuum.errors import ParameterError
from perpetuum.train.loop import TrainingBudget, require_torch, consecutive_windows, train_network

__all__ = ["CharVocabulary", "CharModel", "ModelSettings"]

END, UNKNOWN = 0, 1


def _torch():
    return require_torch()


class CharVocabulary:
    """Characters seen at least `min_count` times, plus the end-of-document and unknown symbols."""

    def __init__(self, characters: list[str]):
        self.characters = characters
        self.index = {character: i + 2 for i, character in enumerate(characters)}

    @classmethod
    def from_documents(cls, documents: list[str], min_count: int = 2) -> "CharVocabulary":
        counts = Counter(character for document in documents for character in document)
        return cls(sorted(character for character, count in counts.items() if count >= min_count))

    def __len__(self) -> int:
        return len(self.characters) + 2

    def encode(self, documents: list[str]) -> np.ndarray:
        """The documents as one index stream: END doc END doc ... END."""
        parts = [np.array([END], dtype=np.int64)]
        for document in documents:
            parts.append(np.fromiter((self.index.get(character, UNKNOWN) for character in document),
                                     dtype=np.int64, count=len(document)))
            parts.append(np.array([END], dtype=np.int64))
        return np.concatenate(parts)

    def decode(self, indices) -> str:
        symbols = ["\x00", "\ufffd", *self.characters]
        return "".join(symbols[index] for index in indices)


@dataclass(frozen=True)
class ModelSettings:
    """Size and training budget. The defaults train in about a minute on one CPU thread."""

    hidden: int = 256
    embedding: int = 48
    steps: int = 300
    batch: int = 32
    window: int = 128
    learning_rate: float = 3e-3
    temperature: float = 1.0
    threads: int = 1
    # Early stopping (off when validation_share is 0): a seeded share of the *training* documents is set aside;
    # every `eval_every` steps the loss on it is measured, the best weights are kept, and training stops after
    # `patience` measurements without improvement (0: never stops early, still restores the best weights).
    validation_share: float = 0.0
    eval_every: int = 50
    patience: int = 0

    def check(self) -> None:
        for name in ("hidden", "embedding", "steps", "batch", "window", "threads", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"text model setting {name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0 or not self.temperature > 0:
            raise ParameterError("text model learning_rate and temperature must be positive")
        if not 0.0 <= self.validation_share < 1.0:
            raise ParameterError(f"validation_share must be in [0, 1), got {self.validation_share!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ParameterError(f"patience must be a non-negative integer, got {self.patience!r}")

    def budget(self) -> TrainingBudget:
        """The shared trainer's budget for these settings."""
        return TrainingBudget(steps=self.steps, batch=self.batch, window=self.window,
                              learning_rate=self.learning_rate, eval_every=self.eval_every, patience=self.patience)


class CharModel:
    """A trained model: `sample_documents`, `document_nll`, `perplexity`."""

    def __init__(self, vocabulary: CharVocabulary, settings: ModelSettings, network):
        self.vocabulary = vocabulary
        self.settings = settings
        self.network = network
        self.steps_trained_ = settings.steps
        self.validation_loss_ = None

    @staticmethod
    def _network(vocabulary_size: int, settings: ModelSettings):
        torch = _torch()

        class Network(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(vocabulary_size, settings.embedding)
                self.gru = torch.nn.GRU(settings.embedding, settings.hidden, batch_first=True)
                self.out = torch.nn.Linear(settings.hidden, vocabulary_size)

            def forward(self, indices, state=None):
                hidden, state = self.gru(self.embed(indices), state)
                return self.out(hidden), state

        return Network()

    @classmethod
    def train_on(cls, documents: list[str], vocabulary: CharVocabulary, settings: ModelSettings, seed: int):
        """A new model trained from scratch for `settings.steps` steps on random windows of the documents.

        With `settings.validation_share` > 0, that share of the documents (a seeded draw) is kept out of training and
        used for early stopping (see `ModelSettings`); `steps_trained_` and `validation_loss_` record the outcome."""
        torch = _torch()
        settings.check()
        validation = None
        if settings.validation_share > 0 and len(documents) >= 2:
            order = np.random.default_rng(seed).permutation(len(documents))
            held = max(1, int(round(settings.validation_share * len(documents))))
            validation = [documents[index] for index in sorted(order[:held])]
            documents = [documents[index] for index in sorted(order[held:])]
        stream = torch.from_numpy(vocabulary.encode(documents))
        if len(stream) < settings.window + 2:
            raise ParameterError(
                f"the text corpus has {len(stream)} characters; the model needs more than {settings.window + 2}"
            )
        torch.set_num_threads(settings.threads)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(seed)
        network = cls._network(len(vocabulary), settings)
        # Consecutive windows of the validation documents, at most 256 of them (a fixed, cheap measurement).
        held_windows = None
        if validation is not None:
            held_windows = consecutive_windows(torch.from_numpy(vocabulary.encode(validation)), settings.window)
        # The shared trainer (perpetuum.train): the same loop, budget rules and early stopping as `TinyLM`.
        record = train_network(network, stream, settings.budget(), seed=seed, validation=held_windows)
        model = cls(vocabulary, settings, network)
        model.steps_trained_ = record.steps_trained
        model.validation_loss_ = record.best_validation_loss
        model.curve_ = record.curve
        return model

    def sample_documents(self, characters: int, seed: int, mean_length: float = 800.0,
                         max_document: int = 2000) -> list[str]:
        """Documents sampled at `settings.temperature`, about `characters` characters in all.

        Each document is the first one of its own stream (streams run side by side, starting at the
        end-of-document symbol), taken in stream order until the total is reached, so long documents are as
        likely to be kept as short ones. `mean_length` (characters) sizes the batches of streams. A document
        still running after `max_document` characters is cut there and kept (rambling is part of what the lab
        should see)."""
        torch = _torch()
        torch.set_num_threads(self.settings.threads)
        generator = torch.Generator().manual_seed(seed)
        documents: list[str] = []
        total = 0
        while total < characters:
            lanes = int(min(512, max(8, np.ceil(1.1 * (characters - total) / max(mean_length, 1.0)))))
            for piece in self._first_documents(lanes, max_document, generator):
                if total >= characters:
                    break
                documents.append(piece)
                total += len(piece)
        return documents

    def _first_documents(self, lanes: int, max_document: int, generator) -> list[str]:
        torch = _torch()
        current = torch.zeros((lanes, 1), dtype=torch.long)
        state = None
        steps = []
        finished = torch.zeros(lanes, dtype=torch.bool)
        with torch.no_grad():
            for position in range(max_document + 1):
                logits, state = self.network(current, state)
                probabilities = torch.softmax(logits[:, -1] / self.settings.temperature, dim=-1)
                current = torch.multinomial(probabilities, 1, generator=generator)
                steps.append(current[:, 0])
                finished |= current[:, 0] == END
                if position % 50 == 49 and bool(finished.all()):
                    break
        out = torch.stack(steps, dim=1).numpy()
        pieces = []
        for lane in out:
            ends = np.flatnonzero(lane == END)
            pieces.append(self.vocabulary.decode(lane[: ends[0] if len(ends) else max_document]))
        return pieces

    def document_nll(self, documents: list[str], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Per document: the summed negative log-likelihood (nats) of its characters and its end symbol, read
        from the end-of-document symbol onwards, and the number of predicted symbols."""
        torch = _torch()
        torch.set_num_threads(self.settings.threads)
        encoded = [self.vocabulary.encode([document]) for document in documents]
        order = np.argsort([len(item) for item in encoded])
        nll = np.zeros(len(documents))
        counts = np.array([len(item) - 1 for item in encoded], dtype=float)
        with torch.no_grad():
            for start in range(0, len(order), batch):
                chosen = order[start:start + batch]
                width = max(len(encoded[index]) for index in chosen)
                padded = torch.zeros((len(chosen), width), dtype=torch.long)
                mask = torch.zeros((len(chosen), width - 1), dtype=torch.bool)
                for row, index in enumerate(chosen):
                    padded[row, : len(encoded[index])] = torch.from_numpy(encoded[index])
                    mask[row, : len(encoded[index]) - 1] = True
                logits, _ = self.network(padded[:, :-1])
                losses = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), padded[:, 1:].reshape(-1), reduction="none"
                ).reshape(len(chosen), -1)
                nll[chosen] = (losses * mask).sum(dim=1).numpy()
        return nll, counts

    def perplexity(self, documents: list[str]) -> float:
        """Perplexity per character of the documents together: exp(total NLL / symbols). Lower is better."""
        nll, counts = self.document_nll(documents)
        return float(np.exp(nll.sum() / counts.sum()))
