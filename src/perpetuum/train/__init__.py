"""Small models trained to prove that data teaches: `TinyLM` (a tiny causal transformer), its `Tokenizer`, and the
one training loop (`train_network`) that `perpetuum prove` and the collapse lab's text generator share.

torch and tokenizers are optional: pip install 'perpetuum[train]'. Importing this package does not import torch.
"""

from perpetuum.train.fine_tune import CausalLM, ChatFineTuner, load_causal_lm
from perpetuum.train.language_model import TinyLM
from perpetuum.train.loop import TrainingBudget, TrainingRecord, train_network
from perpetuum.train.tokenizer import Tokenizer

__all__ = ["CausalLM", "ChatFineTuner", "TinyLM", "Tokenizer", "TrainingBudget", "TrainingRecord", "load_causal_lm",
           "train_network"]
