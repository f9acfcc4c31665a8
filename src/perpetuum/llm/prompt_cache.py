"""Prompt-cache reuse in llama-cpp-python that never changes an answer.

`llama_cpp.Llama` keeps the previous request's tokens in its KV cache and decodes only the part of a new prompt that
differs. llama.cpp's CPU kernels give bit-identical rows for any batch of two or more tokens, however it is split
(measured on SmolLM2-135M Q4_1: every split of a prompt into a cached prefix and a suffix of 2 to 16 tokens gave the
same logits as decoding it whole), but a one-token batch goes through other kernels and rounds differently. Two
cases hit that, and both changed seeded answers:

- a prompt that repeats the previous one (a retry, or the first request of a resumed run) re-decodes only its last
  token, alone: the next-token logits moved by up to 0.61, and 2 of 8 seeded stories changed;
- a prompt that extends the previous answer (the next turn of a dialogue) reuses cache cells that generation filled
  one token at a time: the logits moved by up to 0.73.

So reuse is limited to cells filled by a prompt decode (never by generation), and at least two prompt tokens are
always decoded. Shared system prompts and templates are still reused (decoding every prompt whole cost about a
third more CPU on short requests here), and every answer equals that of a fresh context.
"""

from __future__ import annotations

import functools

# The smallest batch whose rows llama.cpp's CPU kernels compute exactly as they would in any longer batch.
MIN_DECODED_TOKENS = 2


def limit_reuse(llama, tokens) -> None:
    """Before `llama.generate(tokens)`: cut the cache `generate` may reuse to what a fresh decode would reproduce."""
    prompt_cells = getattr(llama, "_perpetuum_prompt_cells", 0)
    reusable = min(llama.n_tokens, prompt_cells, len(tokens) - MIN_DECODED_TOKENS)
    if reusable < llama.n_tokens:
        # `generate` matches the new prompt against the first n_tokens cached tokens and removes the cells after the
        # match from the KV cache itself, so lowering n_tokens is enough.
        llama.n_tokens = max(0, reusable)
    # After this request the cache holds, up to len(tokens), cells filled by prompt decodes only.
    llama._perpetuum_prompt_cells = len(tokens)


def _exact(generate):
    @functools.wraps(generate)
    def wrapper(self, tokens, *args, **kwargs):
        limit_reuse(self, tokens)
        return generate(self, tokens, *args, **kwargs)

    wrapper._perpetuum_exact = True
    return wrapper


def make_reuse_exact(llama) -> None:
    """Apply the rule to one `llama_cpp.Llama` object (its `create_completion` and chat calls go through it)."""
    if not getattr(llama.generate, "_perpetuum_exact", False):
        llama.generate = _exact(type(llama).generate).__get__(llama)


def make_reuse_exact_everywhere() -> None:
    """Apply the rule to every `llama_cpp.Llama` in this process (used by the server process, which builds its own)."""
    from llama_cpp import Llama

    if not getattr(Llama.generate, "_perpetuum_exact", False):
        Llama.generate = _exact(Llama.generate)
