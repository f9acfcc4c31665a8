"""Every random choice and every model seed comes from (run seed, record index, column name, ...), never from the
order in which work finishes, so a resumed or re-ordered run gives the same records as an uninterrupted one."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive_seed", "record_rng", "model_seed"]

# Column-level draws (a permutation for sampling without replacement) use this in place of a record index.
COLUMN_LEVEL = -1


def derive_seed(run_seed: int, index: int, column: str, *salt: object) -> int:
    """A 64-bit seed that depends only on its arguments (stable across processes and Python versions)."""
    text = "|".join([str(run_seed), str(index), column, *map(str, salt)])
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def record_rng(run_seed: int, index: int, column: str, *salt: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(run_seed, index, column, *salt))


def model_seed(run_seed: int, index: int, column: str, *salt: object) -> int:
    """A seed for an LLM call, in the non-negative 31-bit range every backend accepts."""
    return derive_seed(run_seed, index, column, "llm", *salt) % (2**31 - 1)
