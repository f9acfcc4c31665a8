"""Checkpoints: every finished record is appended to a JSONL shard at once, and a small SQLite file keeps the run's
state (spec fingerprint, n, sessions, which record is in which shard).

The shards are the truth. On resume they are read back; a line torn by a crash (no final newline, or not JSON) is
cut off, and the SQLite index is rebuilt from what the shards hold, so a record written just before a crash is
neither lost nor generated twice. Each session appends to shards of its own, never to a file a crash may have
torn. When an index appears twice (a failed record re-run with `retry_failed`), the later entry wins.

Layout under the output folder:

    checkpoint/state.sqlite
    checkpoint/shard-0001-0000.jsonl   # session 1, first shard
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from perpetuum.errors import ParameterError

__all__ = ["CheckpointStore", "CHECKPOINT_FOLDER", "read_checkpoint_entries"]

CHECKPOINT_FOLDER = "checkpoint"
STATE_FILE = "state.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, updated_at REAL NOT NULL, records INTEGER NOT NULL DEFAULT 0,
    backends TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS records (
    record_index INTEGER PRIMARY KEY, status TEXT NOT NULL, shard TEXT NOT NULL, session INTEGER NOT NULL
);
"""


class CheckpointStore:
    """The checkpoint of one run in `output_dir/checkpoint`. Use `open`, then `write` entries, then `close`."""

    def __init__(self, output_dir: Path, shard_size: int) -> None:
        self.output_dir = Path(output_dir)
        self.folder = self.output_dir / CHECKPOINT_FOLDER
        self.shard_size = shard_size
        self.entries: dict[int, dict[str, Any]] = {}
        self.session = 0
        self._database: sqlite3.Connection | None = None
        self._shard = None
        self._shard_name = ""
        self._shard_lines = 0
        self._shard_part = 0

    # ------------------------------------------------------------------------------------------ opening

    @classmethod
    def open(cls, output_dir: str | Path, spec, n: int, resume: bool) -> CheckpointStore:
        """Start a run in `output_dir`, or (resume=True) continue the one there.

        A new run refuses a folder that already holds one; a resumed run refuses a spec whose records would differ
        (seed, backends or columns changed). Filters, dedup, output formats and n may change between sessions.
        """
        store = cls(Path(output_dir), spec.execution.shard_size)
        state = store.folder / STATE_FILE
        pilot = state.exists() and _holds_pilot(state)  # an estimate's pilot records: the real run goes on from them
        if state.exists() and not resume and not pilot:
            raise ParameterError(
                f"{str(store.output_dir)!r} already holds a generation run; resume it (resume=True, or --resume "
                "on the command line) or choose another output folder"
            )
        store.folder.mkdir(parents=True, exist_ok=True)
        fresh = not state.exists()
        store._database = sqlite3.connect(state)
        store._database.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
        if fresh:
            store._set_meta(
                name=spec.name,
                fingerprint=spec.record_fingerprint(),
                seed=spec.seed,
                created_at=time.time(),
                spec=spec.model_dump(mode="json"),
            )
        else:
            stored = store.meta("fingerprint")
            if stored != spec.record_fingerprint() and pilot and not resume:
                store.close()
                raise ParameterError(
                    f"{str(store.output_dir)!r} holds the pilot records of an estimate made with another spec (its "
                    "seed, backends or columns differ); delete that folder or choose another one"
                )
            if stored != spec.record_fingerprint():
                store.close()
                raise ParameterError(
                    f"the spec differs from the one that started the run in {str(store.output_dir)!r} (its seed, "
                    "backends or columns changed), so resuming would mix two datasets; use the original spec or a "
                    "new output folder"
                )
            store._load_shards()
        store._set_meta(n=n, spec=spec.model_dump(mode="json"))
        now = time.time()
        cursor = store._database.execute("INSERT INTO sessions (started_at, updated_at) VALUES (?, ?)", (now, now))
        store.session = int(cursor.lastrowid)
        store._database.commit()
        return store

    def _load_shards(self) -> None:
        """Read every shard in write order (cutting torn tails) and rebuild the SQLite index from them."""
        self.entries.clear()
        rows = []
        for shard in sorted(self.folder.glob("shard-*.jsonl")):
            for entry in _read_shard(shard):
                self.entries[int(entry["index"])] = entry
                rows.append((int(entry["index"]), entry["status"], shard.name, int(entry.get("session", 0))))
        self._database.execute("DELETE FROM records")
        self._database.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", rows)
        self._database.commit()

    # ------------------------------------------------------------------------------------------ state

    def _set_meta(self, **values: Any) -> None:
        self._database.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(key, json.dumps(value)) for key, value in values.items()],
        )
        self._database.commit()

    def remember(self, **values: Any) -> None:
        """Keep run-level facts beside the records (what a budget spent, why a session stopped, a pilot)."""
        self._set_meta(**values)

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._database.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def done(self, retry_failed: bool = False) -> set[int]:
        """Indices that need no more work (with retry_failed, failed ones are not counted as done)."""
        if retry_failed:
            return {index for index, entry in self.entries.items() if entry["status"] == "ok"}
        return set(self.entries)

    def record_backends(self, backends: dict[str, dict]) -> None:
        """Remember which backends and models this session used (for the dataset card)."""
        self._database.execute("UPDATE sessions SET backends = ? WHERE id = ?", (json.dumps(backends), self.session))
        self._database.commit()

    def backends_used(self) -> dict[str, dict]:
        merged: dict[str, dict] = {}
        for (text,) in self._database.execute("SELECT backends FROM sessions ORDER BY id"):
            merged.update(json.loads(text))
        return merged

    def wall_seconds(self) -> float:
        """Time spent over all sessions, up to each one's last write (a crashed session counts until then)."""
        row = self._database.execute("SELECT COALESCE(SUM(updated_at - started_at), 0) FROM sessions").fetchone()
        return float(row[0])

    def sessions(self) -> int:
        return int(self._database.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def touch(self) -> None:
        self._database.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (time.time(), self.session))
        self._database.commit()

    # ------------------------------------------------------------------------------------------ writing

    def write(self, entry: dict[str, Any]) -> None:
        """Append one finished record (or failure) and make it durable against a crash of this process."""
        entry = {**entry, "session": self.session}
        if self._shard is None or self._shard_lines >= self.shard_size:
            self._next_shard()
        self._shard.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._shard.flush()
        self._shard_lines += 1
        self.entries[int(entry["index"])] = entry
        self._database.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
            (int(entry["index"]), entry["status"], self._shard_name, self.session),
        )
        self._database.execute(
            "UPDATE sessions SET updated_at = ?, records = records + 1 WHERE id = ?", (time.time(), self.session)
        )
        self._database.commit()

    def _next_shard(self) -> None:
        if self._shard is not None:
            self._shard.close()
        self._shard_name = f"shard-{self.session:04d}-{self._shard_part:04d}.jsonl"
        self._shard_part += 1
        self._shard_lines = 0
        self._shard = open(self.folder / self._shard_name, "a", encoding="utf-8")

    def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        if self._database is not None:
            self._database.close()
            self._database = None


def _holds_pilot(state: Path) -> bool:
    """Whether a checkpoint holds only the pilot records of `perpetuum estimate` (no real run has gone on yet)."""
    database = sqlite3.connect(state)
    try:
        row = database.execute("SELECT value FROM meta WHERE key = 'pilot'").fetchone()
    except sqlite3.Error:
        return False
    finally:
        database.close()
    return row is not None and json.loads(row[0]) is True


def read_checkpoint_entries(output_dir: str | Path) -> list[dict[str, Any]]:
    """Every entry in a run's checkpoint, in write order, without changing any file (a torn last line is skipped,
    not cut): for inspecting a run that may still be going or was killed."""
    entries = []
    for shard in sorted((Path(output_dir) / CHECKPOINT_FOLDER).glob("shard-*.jsonl")):
        entries.extend(_parse_shard(shard.read_bytes())[0])
    return entries


def _read_shard(path: Path) -> list[dict[str, Any]]:
    """The entries of one shard; a torn last line (a crash mid-write) is cut from the file."""
    data = path.read_bytes()
    entries, position = _parse_shard(data)
    if position < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(position)
    return entries


def _parse_shard(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """The complete entries of a shard's bytes, and where the first incomplete or torn line starts."""
    entries = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end == -1:
            break  # no newline: the write never finished
        try:
            entries.append(json.loads(data[position:end]))
        except ValueError:
            break
        position = end + 1
    return entries, position
