"""`prove_stories`: does a set of synthetic stories teach a small language model English as real stories do?

    result = prove_stories(synthetic, real, holdout, seeds=3, model={"steps": 600})
    result["arms"]["synthetic"]["summary"]["heldout_perplexity"]    # {"mean", "low", "high", "values"}

Four arms train the same `TinyLM` (same parameters, same compute budget: at most steps x batch x context tokens),
each from scratch, once per seed:
  synthetic             the synthetic stories
  real                  real stories with the same number of tokens as the synthetic ones (fewer if real is short)
  real+synthetic        both
  half_real+synthetic   half of those real stories, and the synthetic ones
The tokenizer is trained on the real training stories only and shared by every arm. Each arm stops early on its own
validation split (a seeded share of each of its sources, never the held-out stories). Scored: perplexity of the
held-out real stories, and the recipe's checks and distinct-n of each model's own prompted samples
(`sample_scores`). Means over seeds with 95 % t-intervals.
"""

from __future__ import annotations

import hashlib
import math
import time

import numpy as np

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.prove.sample_scores import SAMPLE_METRICS, score_samples, score_texts, story_prompts
from perpetuum.train import TinyLM, Tokenizer

__all__ = ["prove_stories", "ARMS", "fingerprint", "split_texts", "summarise"]

ARMS = {
    "synthetic": "the synthetic stories alone",
    "real": "real stories, as many tokens as the synthetic ones",
    "real+synthetic": "the real stories of arm 'real' and the synthetic ones",
    "half_real+synthetic": "half of arm 'real's stories and the synthetic ones",
}
METRICS = {"heldout_perplexity": "perplexity of the held-out real stories (per token of the shared tokenizer); "
                                 "lower is better",
           "heldout_nats_per_character": "the same, as nats per character (independent of the tokenizer)",
           **SAMPLE_METRICS,
           "steps_trained": "optimizer steps before early stopping (the budget is the same for every arm)"}


def split_texts(texts: list, share: float, seed: int) -> tuple[list, list]:
    """(kept, held out): a seeded share of the items, at least one, held out; both in their original order."""
    order = np.random.default_rng(seed).permutation(len(texts))
    held = max(1, int(round(share * len(texts))))
    return [texts[i] for i in sorted(order[held:])], [texts[i] for i in sorted(order[:held])]


def _take_tokens(texts: list[str], tokens: int, tokenizer: Tokenizer, seed: int) -> list[str]:
    """Texts in a seeded order until they hold at least `tokens` tokens (all of them if they hold fewer)."""
    order = np.random.default_rng(seed).permutation(len(texts))
    counts = [tokenizer.count_tokens([texts[i]]) for i in order]
    taken, total = [], 0
    for index, count in zip(order, counts):
        if total >= tokens:
            break
        taken.append(texts[index])
        total += count
    return taken


def interval(values: list[float]) -> dict:
    """Mean and 95 % t-interval of per-seed values (low = high = mean for a single seed; NaNs dropped)."""
    from scipy import stats

    finite = [float(value) for value in values if value is not None and not math.isnan(value)]
    if not finite:
        return {"mean": None, "low": None, "high": None, "values": list(values)}
    mean = float(np.mean(finite))
    if len(finite) < 2:
        return {"mean": mean, "low": mean, "high": mean, "values": list(values)}
    half = float(stats.t.ppf(0.975, len(finite) - 1) * np.std(finite, ddof=1) / np.sqrt(len(finite)))
    return {"mean": mean, "low": mean - half, "high": mean + half, "values": list(values)}


def summarise(runs: list[dict]) -> dict:
    return {metric: interval([run[metric] for run in runs]) for metric in METRICS if metric in runs[0]}


def _check(synthetic, real, holdout, seeds: int, samples: int) -> None:
    for name, texts in (("synthetic", synthetic), ("real", real), ("held-out", holdout)):
        if len(texts) < 4:
            raise DataInputError(f"the {name} texts hold {len(texts)} document(s); prove needs at least 4")
    if not isinstance(seeds, int) or seeds < 1:
        raise ParameterError(f"seeds must be a positive integer, got {seeds!r}")
    if not isinstance(samples, int) or samples < 1:
        raise ParameterError(f"samples must be a positive integer, got {samples!r}")


def prove_stories(synthetic: list[str], real: list[str], holdout: list[str], *, seeds: int = 3,
                  model: dict | None = None, samples: int = 40, validation_share: float = 0.1,
                  vocabulary_size: int = 2048, seed: int = 0, arms: list[str] | None = None,
                  progress: bool = False, log=None) -> dict:
    """Train every arm once per seed and score it (see the module docstring). model: TinyLM parameters (the same
    for all arms; `seed` is set per run). Returns the JSON-ready result."""
    _check(synthetic, real, holdout, seeds, samples)
    arms = arms or list(ARMS)
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        raise ParameterError(f"unknown arm(s) {unknown}; choose from {', '.join(ARMS)}")
    model = {**dict(model or {}), "vocabulary_size": vocabulary_size}
    model.pop("seed", None)
    started = time.perf_counter()
    real_train, real_validation = split_texts(real, validation_share, seed)
    synthetic_train, synthetic_validation = split_texts(synthetic, validation_share, seed + 1)
    tokenizer = Tokenizer.train(real_train, vocabulary_size)  # the real side only: one vocabulary for all arms
    synthetic_tokens = tokenizer.count_tokens(synthetic_train)
    real_matched = _take_tokens(real_train, synthetic_tokens, tokenizer, seed)
    half_real = real_matched[: max(1, len(real_matched) // 2)]
    data = {
        "synthetic": (synthetic_train, synthetic_validation),
        "real": (real_matched, real_validation),
        "real+synthetic": (real_matched + synthetic_train, real_validation + synthetic_validation),
        "half_real+synthetic": (half_real + synthetic_train, real_validation + synthetic_validation),
    }
    result = {"arms": {}, "metrics": METRICS, "seeds": seeds, "samples_per_model": samples,
              "tokenizer": {"trained_on": "real training stories only", "vocabulary_size": len(tokenizer),
                            "stories": len(real_train), "sha256": fingerprint(tokenizer)},
              "inputs": {"synthetic": len(synthetic), "real": len(real), "holdout": len(holdout),
                         "validation_share": validation_share,
                         "synthetic_training_tokens": synthetic_tokens,
                         "real_training_tokens_available": tokenizer.count_tokens(real_train)},
              "reference": {"real_holdout": score_texts(holdout[:max(samples, 1)]),
                            "synthetic": score_texts(synthetic_train[:max(samples, 1)])}}
    for arm in arms:
        texts, validation = data[arm]
        runs = []
        for run_seed in range(seed, seed + seeds):
            if log:
                log(f"arm {arm}: seed {run_seed} ({len(texts)} stories)")
            lm = TinyLM(**model, seed=run_seed, verbose=progress).fit(texts, validation=validation,
                                                                    tokenizer=tokenizer)
            prompts = story_prompts(samples, seed=run_seed)
            made = lm.sample(samples, seed=run_seed, prompts=[item["prompt"] for item in prompts])
            loss = lm.loss(holdout)
            characters = sum(len(text) for text in holdout)
            tokens = tokenizer.count_tokens(holdout)
            runs.append({"seed": run_seed, "heldout_perplexity": float(np.exp(loss)),
                         "heldout_nats_per_character": loss * tokens / characters,
                         **score_samples(made, prompts), "steps_trained": lm.steps_trained_,
                         "tokens_seen": lm.tokens_seen_, "stopped_early": lm.record_.stopped_early,
                         "tokenizer_sha256": fingerprint(lm.tokenizer_), "curve": lm.curve_, "examples": made[:3]})
        result["arms"][arm] = {"description": ARMS[arm], "stories": len(texts), "validation_stories": len(validation),
                               "training_tokens": tokenizer.count_tokens(texts), "runs": runs,
                               "summary": summarise(runs)}
    probe = TinyLM(**model)
    result["model"] = {**probe.get_params(), "budget_tokens": probe.budget().max_tokens,
                       "parameters": _parameters(model, len(tokenizer))}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def fingerprint(tokenizer: Tokenizer) -> str:
    """The sha256 of a tokenizer's JSON: equal fingerprints, equal vocabularies and merges."""
    return hashlib.sha256(tokenizer.to_json().encode("utf-8")).hexdigest()


def _parameters(model: dict, vocabulary: int) -> int:
    """Parameters of the TinyLM these settings build (embedding tied with the output layer)."""
    params = TinyLM(**model).get_params()
    d, layers, context = params["d_model"], params["layers"], params["context"]
    block = 2 * 2 * d + 3 * d * d + 3 * d + d * d + d + 4 * d * d + 4 * d + 4 * d * d + d
    return vocabulary * d + context * d + layers * block + 2 * d
