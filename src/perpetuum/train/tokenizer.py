"""A byte-level BPE tokenizer (the Hugging Face `tokenizers` library) trained on one side of a comparison only.

    tokenizer = Tokenizer.train(real_texts, vocabulary_size=2048)
    ids = tokenizer.encode_documents(texts)     # END doc END doc ... END, one numpy array
    tokenizer.decode(ids)

Training it on the real texts alone and handing the same object to every model of a comparison gives all arms one
vocabulary, so their perplexities on held-out real text are per the same tokens. Byte-level: any text encodes,
nothing maps to an unknown token. Id 0 is the end-of-document token.
"""

from __future__ import annotations

import numpy as np

from perpetuum.errors import ParameterError

__all__ = ["Tokenizer", "END_OF_DOCUMENT"]

END_OF_DOCUMENT = "<|endoftext|>"


def _tokenizers():
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - depends on the installation
        raise ParameterError("the language-model tokenizer needs the tokenizers package; install it with: "
                             "pip install 'perpetuum[train]'") from None
    return tokenizers


class Tokenizer:
    """A trained byte-level BPE; build one with `Tokenizer.train` or `Tokenizer.from_json`."""

    def __init__(self, backend):
        self.backend = backend
        self.end_id = backend.token_to_id(END_OF_DOCUMENT)

    @classmethod
    def train(cls, texts: list[str], vocabulary_size: int = 2048, min_frequency: int = 2) -> "Tokenizer":
        """A tokenizer learned from `texts` (the real side of a comparison)."""
        tokenizers = _tokenizers()
        if not isinstance(vocabulary_size, int) or vocabulary_size < 300:
            raise ParameterError(f"vocabulary_size must be an integer of at least 300 (256 bytes and some merges), "
                                 f"got {vocabulary_size!r}")
        if not texts or not all(isinstance(text, str) for text in texts):
            raise ParameterError("the tokenizer is trained on a non-empty list of texts")
        backend = tokenizers.Tokenizer(tokenizers.models.BPE())
        backend.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = tokenizers.decoders.ByteLevel()
        trainer = tokenizers.trainers.BpeTrainer(
            vocab_size=vocabulary_size, min_frequency=min_frequency, special_tokens=[END_OF_DOCUMENT],
            initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend)

    @classmethod
    def from_json(cls, text: str) -> "Tokenizer":
        return cls(_tokenizers().Tokenizer.from_str(text))

    def to_json(self) -> str:
        return self.backend.to_str()

    def __len__(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text).ids

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """The texts as one id stream: END text END text ... END."""
        parts = [np.array([self.end_id], dtype=np.int64)]
        for encoding in self.backend.encode_batch(list(texts)):
            parts.append(np.asarray(encoding.ids, dtype=np.int64))
            parts.append(np.array([self.end_id], dtype=np.int64))
        return np.concatenate(parts)

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens of the texts, each with its end-of-document token."""
        return sum(len(encoding.ids) + 1 for encoding in self.backend.encode_batch(list(texts)))

    def decode(self, ids) -> str:
        return self.backend.decode([int(i) for i in ids if int(i) != self.end_id])
