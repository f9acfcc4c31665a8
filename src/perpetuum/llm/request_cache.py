"""A content-addressed cache of model answers, shared by every run on this machine: a repeated request is answered
from disk instead of paying for it again.

    cache = RequestCache.open()                  # $PERPETUUM_CACHE_DIR, else ~/.cache/perpetuum/requests
    key = request_key(backend, messages, params, json_schema)
    completion = cache.get(key)                  # a Completion, or None
    cache.put(key, completion)

The key is the SHA-256 of everything that reaches the model: the backend's `cache_identity()` (class, model, its
settings; for a GGUF file its path, size and modification time), the exact messages, every sampling parameter
(temperature, top_p, max_tokens, stop, seed) and the JSON schema (and whether decoding is constrained by it). A
change in any of them is a new key, so an answer is never served for a request it was not given for. Requests
without a seed are never cached: their answers are meant to differ.

Storage is one SQLite file (write-ahead log, so several processes and threads may read and write at once) holding
at most `max_bytes` of answers; past that the least recently used go first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from perpetuum.errors import ParameterError
from perpetuum.llm.base import Completion, GenerationParams

__all__ = ["RequestCache", "request_key", "default_cache_dir", "CACHE_DIR_VARIABLE", "CACHE_SWITCH_VARIABLE"]

CACHE_DIR_VARIABLE = "PERPETUUM_CACHE_DIR"
CACHE_SWITCH_VARIABLE = "PERPETUUM_CACHE"  # "0" turns the cache off by default (the test suite does)
CACHE_SIZE_VARIABLE = "PERPETUUM_CACHE_MAX_MB"
DEFAULT_MAX_BYTES = 2 * 1024**3
KEY_VERSION = 1
# How many writes pass between checks of the total size (a SUM over the table).
_EVICTION_CHECK_EVERY = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, completion TEXT NOT NULL, bytes INTEGER NOT NULL, created_at REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_last_used ON answers (last_used);
"""


def default_cache_dir() -> Path:
    """$PERPETUUM_CACHE_DIR, else $XDG_CACHE_HOME/perpetuum/requests, else ~/.cache/perpetuum/requests."""
    configured = os.environ.get(CACHE_DIR_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "perpetuum" / "requests"


def cache_enabled_by_default() -> bool:
    """False when $PERPETUUM_CACHE says 0/false/no/off."""
    return os.environ.get(CACHE_SWITCH_VARIABLE, "").strip().lower() not in {"0", "false", "no", "off"}


def request_key(backend, messages: list[dict], params: GenerationParams, json_schema: dict | None) -> str | None:
    """The cache key of one chat request, or None when it must not be cached: no seed (its answer is meant to vary),
    or a backend that cannot say what it is (a duck-typed object without `cache_identity`)."""
    identity = getattr(backend, "cache_identity", None)
    if params.seed is None or not callable(identity):
        return None
    payload = {
        "version": KEY_VERSION,
        "backend": identity(),
        "messages": messages,
        "params": dataclasses.asdict(params),
        "json_schema": json_schema,
        "constrained": json_schema is not None and bool(getattr(backend, "constrains_json", False)),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequestCache:
    """The SQLite answer store. Thread-safe (one connection behind a lock); several processes may share the file."""

    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ParameterError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._writes = 0
        self._connection: sqlite3.Connection | None = None

    @classmethod
    def open(cls, folder: str | Path | None = None, max_bytes: int | None = None) -> RequestCache:
        """The cache in `folder` (default: `default_cache_dir()`), at most `max_bytes` (default:
        $PERPETUUM_CACHE_MAX_MB megabytes, else 2 GiB)."""
        folder = Path(folder) if folder is not None else default_cache_dir()
        if max_bytes is None:
            configured = os.environ.get(CACHE_SIZE_VARIABLE, "").strip()
            if configured and not configured.isdigit():
                raise ParameterError(f"{CACHE_SIZE_VARIABLE} must be a whole number of megabytes, got {configured!r}")
            max_bytes = int(configured) * 1024**2 if configured else DEFAULT_MAX_BYTES
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ParameterError(f"cannot create the request cache folder {str(folder)!r}: {error}; set "
                                 f"{CACHE_DIR_VARIABLE} to a writable folder or run without the cache") from None
        cache = cls(folder / "requests.sqlite", max_bytes)
        cache._connect()
        return cache

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection

    def get(self, key: str | None) -> Completion | None:
        """The stored answer for `key` (its use time refreshed), or None."""
        if key is None:
            return None
        with self._lock:
            connection = self._connect()
            row = connection.execute("SELECT completion FROM answers WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            connection.execute("UPDATE answers SET last_used = ? WHERE key = ?", (time.time(), key))
        return _completion(json.loads(row[0]))

    def put(self, key: str | None, completion: Completion) -> None:
        """Store `completion` under `key` (nothing for a None key); evicts the least recently used past max_bytes."""
        if key is None:
            return
        text = json.dumps(dataclasses.asdict(completion), ensure_ascii=False, default=repr)
        now = time.time()
        with self._lock:
            connection = self._connect()
            connection.execute(
                "INSERT OR REPLACE INTO answers (key, completion, bytes, created_at, last_used) VALUES (?, ?, ?, ?, ?)",
                (key, text, len(text.encode("utf-8")) + len(key), now, now),
            )
            self._writes += 1
            if self._writes % _EVICTION_CHECK_EVERY == 0 or len(text) > self.max_bytes // 16:
                self._evict(connection)

    def _evict(self, connection: sqlite3.Connection) -> None:
        total = connection.execute("SELECT COALESCE(SUM(bytes), 0) FROM answers").fetchone()[0]
        if total <= self.max_bytes:
            return
        target = int(self.max_bytes * 0.9)  # some room, so the next writes do not evict again at once
        freed, doomed = 0, []
        for key, size in connection.execute("SELECT key, bytes FROM answers ORDER BY last_used ASC, created_at ASC"):
            if total - freed <= target:
                break
            doomed.append((key,))
            freed += size
        connection.executemany("DELETE FROM answers WHERE key = ?", doomed)

    def evict_now(self) -> None:
        """Apply the size limit now (it is otherwise checked every few writes)."""
        with self._lock:
            self._evict(self._connect())

    def stats(self) -> dict:
        """{"entries", "bytes", "max_bytes", "path"} of the store."""
        with self._lock:
            entries, size = self._connect().execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM answers").fetchone()
        return {"entries": int(entries), "bytes": int(size), "max_bytes": self.max_bytes, "path": str(self.path)}

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _completion(data: dict) -> Completion:
    return Completion(**{field.name: data[field.name] for field in dataclasses.fields(Completion) if field.name in data})
