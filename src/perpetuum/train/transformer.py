"""The network of `TinyLM`: a small GPT-style causal transformer (pre-norm blocks, learned positions, tied input and
output embeddings) with a key/value cache for sampling.

    network = build_transformer(vocabulary_size=2048, d_model=128, layers=4, heads=4, context=128)
    logits = network(ids)                     # (batch, length) -> (batch, length, vocabulary)
    logits, cache = network.step(ids, cache)  # incremental decoding
"""

from __future__ import annotations

from perpetuum.train.loop import require_torch

__all__ = ["build_transformer"]


def build_transformer(vocabulary_size: int, d_model: int, layers: int, heads: int, context: int,
                      dropout: float = 0.0):
    torch = require_torch()
    functional = torch.nn.functional

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = torch.nn.LayerNorm(d_model)
            self.qkv = torch.nn.Linear(d_model, 3 * d_model)
            self.proj = torch.nn.Linear(d_model, d_model)
            self.norm2 = torch.nn.LayerNorm(d_model)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(d_model, 4 * d_model), torch.nn.GELU(),
                                           torch.nn.Linear(4 * d_model, d_model))
            self.drop = torch.nn.Dropout(dropout)

        def forward(self, x, cache=None):
            batch, length, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).split(d_model, dim=2)
            q, k, v = (t.view(batch, length, heads, d_model // heads).transpose(1, 2) for t in (q, k, v))
            if cache is not None:
                if cache[0] is not None:
                    k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
                cache = (k, v)
            # With a cache holding earlier positions, a single new position may see all of them.
            causal = cache is None or length > 1
            attended = functional.scaled_dot_product_attention(
                q, k, v, is_causal=causal and k.shape[2] == length,
                dropout_p=dropout if self.training else 0.0)
            x = x + self.drop(self.proj(attended.transpose(1, 2).reshape(batch, length, d_model)))
            x = x + self.drop(self.mlp(self.norm2(x)))
            return x, cache

    class Transformer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.context = context
            self.embed = torch.nn.Embedding(vocabulary_size, d_model)
            self.position = torch.nn.Embedding(context, d_model)
            self.blocks = torch.nn.ModuleList(Block() for _ in range(layers))
            self.norm = torch.nn.LayerNorm(d_model)
            self.drop = torch.nn.Dropout(dropout)
            self.apply(self._initialise)

        @staticmethod
        def _initialise(module):
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                torch.nn.init.zeros_(module.bias)

        def _run(self, ids, start: int, caches):
            positions = torch.arange(start, start + ids.shape[1])
            x = self.drop(self.embed(ids) + self.position(positions))
            new = []
            for index, block in enumerate(self.blocks):
                x, cache = block(x, None if caches is None else caches[index])
                new.append(cache)
            # Tied weights: the output layer is the input embedding (fewer parameters, better small models).
            return self.norm(x) @ self.embed.weight.T, new

        def forward(self, ids):
            return self._run(ids, 0, None)[0]

        def step(self, ids, caches=None):
            """Logits for `ids` following the cached positions, and the extended cache."""
            start = 0 if caches is None or caches[0][0] is None else caches[0][0].shape[2]
            if start + ids.shape[1] > context:
                raise ValueError("the sequence is longer than the model's context")
            return self._run(ids, start, caches if caches is not None else [(None, None)] * layers)

    return Transformer()
