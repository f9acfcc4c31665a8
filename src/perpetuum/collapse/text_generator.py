"""The text generator of the collapse lab: a character-level language model (`char_model.CharModel`) trained on
a list of documents; each generation's corpus is sampled from the previous generation's model.

    from perpetuum.collapse.text_generator import TextGenerator, read_corpus
    documents = read_corpus("stories.txt.gz")             # documents split on <|endoftext|> or blank lines
    train, heldout = documents[:150], documents[-60:]
    result = run_experiment(TextGenerator(steps=200), train, reference=heldout, generations=5)

Per generation: perplexity of the held-out real documents under that generation's model, perplexity of each
generated document under the generation-0 model (mean and 90th percentile), distinct-2 and vocabulary size of
the generated documents. `n` counts characters. The vocabulary is fixed from the real documents, so perplexities
of every generation are comparable. Each generation's model is trained from scratch with the same budget.
"""

from __future__ import annotations

import numpy as np

from perpetuum.collapse.generators import CollapseGenerator, register_generator
from perpetuum.errors import ParameterError
from perpetuum.schema.corpus import read_corpus

__all__ = ["TextGenerator", "read_corpus", "split_corpus"]  # read_corpus lives in perpetuum.schema.corpus


def split_corpus(documents: list[str], heldout_share: float = 0.2, seed: int = 0,
                 max_train: int | None = None) -> tuple[list[str], list[str]]:
    """A seeded split into (training documents, held-out documents)."""
    order = np.random.default_rng(seed).permutation(len(documents))
    held = max(1, int(round(heldout_share * len(documents))))
    heldout = [documents[index] for index in sorted(order[:held])]
    train = [documents[index] for index in sorted(order[held:])]
    return (train[:max_train] if max_train else train), heldout


class _FittedText:
    def __init__(self, model, mean_length: float, max_document: int):
        self.model_ = model
        self.mean_length_ = mean_length
        self.max_document_ = max_document

    def sample(self, n: int, seed) -> list[str]:
        return self.model_.sample_documents(n, seed=int(seed), mean_length=self.mean_length_,
                                            max_document=self.max_document_)


@register_generator("text")
class TextGenerator(CollapseGenerator):
    """A small character-level GRU language model (torch, CPU); see `perpetuum.collapse.char_model`."""

    data_kind = "text"

    def __init__(self, hidden: int = 128, embedding: int = 32, steps: int = 200, batch: int = 32, window: int = 64,
                 learning_rate: float = 5e-3, temperature: float = 1.0, threads: int = 1, max_document: int = 2000,
                 epochs: float | None = None, validation_share: float = 0.0, eval_every: int = 50,
                 patience: int = 0):
        self.hidden, self.embedding, self.steps, self.batch, self.window = hidden, embedding, steps, batch, window
        self.learning_rate, self.temperature, self.threads = learning_rate, temperature, threads
        self.max_document = max_document  # sampled documents are cut at this many characters
        # epochs: train for this many passes over each generation's training set (the steps grow with it, as in
        # Gerstgrasser et al.), instead of a fixed number of `steps` whatever its size.
        self.epochs = epochs
        # Early stopping on a share of each generation's own training documents (never the held-out reference):
        # see `char_model.ModelSettings`. Off when validation_share is 0.
        self.validation_share, self.eval_every, self.patience = validation_share, eval_every, patience
        self._vocabulary = None
        self._mean_length = 800.0
        self.reference_values_: dict = {}

    def _settings(self, characters: int | None = None):
        from perpetuum.collapse.char_model import ModelSettings

        steps = self.steps
        if self.epochs is not None and characters is not None:
            if not self.epochs > 0:
                raise ParameterError(f"epochs must be positive, got {self.epochs!r}")
            steps = max(1, int(round(self.epochs * characters / (self.batch * self.window))))
        return ModelSettings(hidden=self.hidden, embedding=self.embedding, steps=steps, batch=self.batch,
                             window=self.window, learning_rate=self.learning_rate, temperature=self.temperature,
                             threads=self.threads, validation_share=self.validation_share,
                             eval_every=self.eval_every, patience=self.patience)

    def set_real(self, real: list[str]) -> None:
        """Fix the vocabulary and the document length scale from the real documents; record their diversity."""
        from perpetuum.collapse.char_model import CharVocabulary
        from perpetuum.evaluate.text_diversity import distinct_n, vocabulary_size

        if not isinstance(real, list) or not real or not all(isinstance(text, str) for text in real):
            raise ParameterError("the text generator takes a list of documents (strings)")
        self._settings().check()
        self._vocabulary = CharVocabulary.from_documents(real)
        self._mean_length = float(np.mean([len(text) for text in real]))
        self.reference_values_ = {"distinct_2": distinct_n(real, 2), "vocabulary_size": vocabulary_size(real),
                                  "mean_characters": self._mean_length}

    def fit(self, training: list[str], seed: int) -> _FittedText:
        from perpetuum.collapse.char_model import CharModel, CharVocabulary

        vocabulary = self._vocabulary or CharVocabulary.from_documents(training)
        settings = self._settings(sum(len(text) + 1 for text in training))
        return _FittedText(CharModel.train_on(training, vocabulary, settings, seed=int(seed)),
                           self._mean_length, self.max_document)

    def default_n(self, real: list[str]) -> int:
        """Characters per generation when none is given: as many as the real documents hold."""
        return sum(len(text) for text in real)

    def measure(self, reference: list[str], sample: list[str], fitted: _FittedText, first: _FittedText) -> dict:
        from perpetuum.evaluate.text_diversity import distinct_n, vocabulary_size

        nll, counts = first.model_.document_nll(sample)
        per_document = np.exp(nll / np.maximum(counts, 1))
        return {
            "heldout_perplexity": fitted.model_.perplexity(reference),
            "generated_perplexity_mean": float(per_document.mean()),
            "generated_perplexity_p90": float(np.quantile(per_document, 0.9)),
            "distinct_2": distinct_n(sample, 2),
            "vocabulary_size": vocabulary_size(sample),
            "documents": len(sample),
            "mean_characters": float(np.mean([len(text) for text in sample])),
            "steps_trained": float(fitted.model_.steps_trained_),
        }

    def describe(self) -> dict:
        return {"name": self.name, "model": "character-level GRU", **{
            key: getattr(self, key) for key in ("hidden", "embedding", "steps", "batch", "window", "learning_rate",
                                                 "temperature", "threads", "max_document", "epochs",
                                                 "validation_share", "eval_every", "patience")}}
