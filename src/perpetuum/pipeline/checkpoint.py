"""Checkpoints: every finished record is appended to a JSONL shard at once, and a small SQLite file keeps the run's
state (spec fingerprint, n, sessions, which record is in which shard).

The shards are the truth. On resume they are read back; a line torn by a crash (no final newline, or not JSON) is
cut off, and the SQLite index is rebuilt from what the shards hold, so a record written just before a crash is
neither lost nor generated twice. Each session appends to shards of its own, never to a file a crash may have
torn. When an index appears twice (a failed record re-run with `retry_failed`), the later entry wins.

Layout under the output folder:

    checkpoint/state.sqlite
    checkpoint/shard-0001-0000.jsonl   # session 1, first shard

An output folder in an object store (s3://bucket/prefix) holds the same files; the run works in a local copy that
`checkpoint_mirror.CheckpointMirror` keeps uploading (closed shards only, since an object cannot be appended to).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from perpetuum.errors import ParameterError
from perpetuum.pipeline.checkpoint_mirror import CheckpointMirror
from perpetuum.storage import is_remote, open_folder

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
    """The checkpoint of one run in `output_dir/checkpoint`. Use `open`, then `write` entries, then `close`.

    `output_dir` is the local folder the run's files are made in; for a remote run, a working copy that `mirror`
    uploads, and `location` is where the run really is (its URI).
    """

    def __init__(self, output_dir: Path, shard_size: int, mirror: CheckpointMirror | None = None,
                 location: str | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.mirror = mirror
        self.location = location or str(output_dir)
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
        if is_remote(output_dir):
            mirror = CheckpointMirror.open(str(output_dir), CHECKPOINT_FOLDER)
            store = cls(mirror.work, spec.execution.shard_size, mirror, mirror.folder.location())
        else:
            store = cls(Path(output_dir), spec.execution.shard_size)
        try:
            return store._open(spec, n, resume)
        except BaseException:
            store.close(push=False)  # a refused start leaves the remote checkpoint as it was
            raise

    def _open(self, spec, n: int, resume: bool) -> CheckpointStore:
        state = self.folder / STATE_FILE
        pilot = state.exists() and _holds_pilot(state)  # an estimate's pilot records: the real run goes on from them
        if state.exists() and not resume and not pilot:
            raise ParameterError(
                f"{self.location!r} already holds a generation run; resume it (resume=True, or --resume "
                "on the command line) or choose another output folder"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        fresh = not state.exists()
        self._database = sqlite3.connect(state)
        self._database.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
        if fresh:
            self._set_meta(
                name=spec.name,
                fingerprint=spec.record_fingerprint(),
                seed=spec.seed,
                created_at=time.time(),
                spec=spec.model_dump(mode="json"),
            )
        else:
            stored = self.meta("fingerprint")
            if stored != spec.record_fingerprint() and pilot and not resume:
                raise ParameterError(
                    f"{self.location!r} holds the pilot records of an estimate made with another spec (its "
                    "seed, backends or columns differ); delete that folder or choose another one"
                )
            if stored != spec.record_fingerprint():
                raise ParameterError(
                    f"the spec differs from the one that started the run in {self.location!r} (its seed, "
                    "backends or columns changed), so resuming would mix two datasets; use the original spec or a "
                    "new output folder"
                )
            self._load_shards()
        self._set_meta(n=n, spec=spec.model_dump(mode="json"))
        now = time.time()
        cursor = self._database.execute("INSERT INTO sessions (started_at, updated_at) VALUES (?, ?)", (now, now))
        self.session = int(cursor.lastrowid)
        self._database.commit()
        self._push()  # the session is known remotely before any of its shards, so no later session takes its number
        return self

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

    def _push(self, *shards: Path) -> None:
        """Upload closed shards and then the state (meta and sessions; resume rebuilds the record index)."""
        if self.mirror is None:
            return
        snapshot = self.folder / f".{STATE_FILE}.upload"
        snapshot.unlink(missing_ok=True)
        copy = sqlite3.connect(snapshot)
        try:
            copy.executescript(_SCHEMA)
            copy.executemany("INSERT INTO meta VALUES (?, ?)", self._database.execute("SELECT key, value FROM meta"))
            copy.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                             self._database.execute("SELECT * FROM sessions"))
            copy.commit()
        finally:
            copy.close()
        self.mirror.push(*shards)
        self.mirror.folder.upload(snapshot, f"{CHECKPOINT_FOLDER}/{STATE_FILE}")
        snapshot.unlink(missing_ok=True)

    def locations(self, files: dict[str, str]) -> dict[str, str]:
        """Where the run's files are for the user: as written, or their URIs in a remote output folder."""
        return self.mirror.locations(files) if self.mirror else dict(files)

    def publish(self, files: dict[str, str]) -> dict[str, str]:
        """Make finished output files final: uploaded into a remote output folder (nothing to do locally)."""
        return self.mirror.publish(files) if self.mirror else dict(files)

    def touch(self) -> None:
        self._database.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (time.time(), self.session))
        self._database.commit()

    # ------------------------------------------------------------------------------------------ writing

    def write(self, entry: dict[str, Any]) -> None:
        """Append one finished record (or failure) and make it durable against a crash of this process."""
        entry = {**entry, "session": self.session}
        if self._shard is None:
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
        if self._shard_lines >= self.shard_size or (self.mirror is not None and self.mirror.due()):
            self._close_shard()

    def _next_shard(self) -> None:
        self._shard_name = f"shard-{self.session:04d}-{self._shard_part:04d}.jsonl"
        while (self.folder / self._shard_name).exists():  # never append to a shard another session left behind
            self._shard_part += 1
            self._shard_name = f"shard-{self.session:04d}-{self._shard_part:04d}.jsonl"
        self._shard_part += 1
        self._shard_lines = 0
        self._shard = open(self.folder / self._shard_name, "a", encoding="utf-8")

    def _close_shard(self, push_state: bool = False) -> None:
        closed = []
        if self._shard is not None:
            self._shard.close()
            self._shard = None
            closed.append(self.folder / self._shard_name)
        if closed or push_state:
            self._push(*closed)

    def close(self, push: bool = True) -> None:
        try:
            if self._database is not None and push:
                self._close_shard(push_state=True)
        finally:
            if self._shard is not None:
                self._shard.close()
                self._shard = None
            if self._database is not None:
                self._database.close()
                self._database = None
            if self.mirror is not None:
                self.mirror.close()


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
    if is_remote(output_dir):
        folder = open_folder(output_dir)
        shards = [folder.read_bytes(f"{CHECKPOINT_FOLDER}/{name}")
                  for name in folder.names("shard-", under=CHECKPOINT_FOLDER) if name.endswith(".jsonl")]
    else:
        shards = [path.read_bytes() for path in sorted((Path(output_dir) / CHECKPOINT_FOLDER).glob("shard-*.jsonl"))]
    entries = []
    for data in shards:
        entries.extend(_parse_shard(data)[0])
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
