"""The review store: one SQLite file beside the data (review.sqlite), the single truth of a review.

Every action (edit, accept, reject, reset) is one transaction that changes the record and appends to the log, and is
committed before the answer goes back: a server killed at any moment loses nothing that was confirmed. Each record
carries a version; an action names the version it was made on, and a stale version raises `VersionConflict` (with
the record as it is now) instead of overwriting what another reviewer saved. The log is append-only (triggers refuse
UPDATE and DELETE on it).

    store = ReviewStore.open("out/")                     # imports data.jsonl the first time
    record = store.get(0)
    record = store.edit(0, ["lesson", 3, "content"], "7 + 5 is 12.", version=record.version, reviewer="ana")
    store.accept(0, version=record.version, reviewer="ana")
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perpetuum.errors import DataInputError, ParameterError, PerpetuumError
from perpetuum.review.dataset import (
    ColumnInfo,
    Dataset,
    find_data_file,
    is_repair_value,
    is_validator_value,
    load_dataset,
    record_summary,
)
from perpetuum.review.recheck import recheck

__all__ = ["ReviewStore", "ReviewRecord", "VersionConflict", "ReviewError", "StillFlagged", "STORE_FILE", "field_label",
           "SORTS", "LOG_ACTIONS"]

STORE_FILE = "review.sqlite"
STATUSES = ("pending", "accepted", "rejected")
SORTS = {
    "index": "id",
    "score": "min_score IS NULL, min_score, id",
    "flags": "flag_count DESC, id",
    "recent": "updated_at IS NULL, updated_at DESC, id",
}

# edit; recheck (a validator re-run by an edit); override (a verdict set by hand, with a reason); repair accept /
# repair revert (an automatic repair kept or undone); accept, reject, reset; conflict (a save refused as stale).
LOG_ACTIONS = ("edit", "recheck", "override", "repair accept", "repair revert", "accept", "reject", "reset", "conflict")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,          -- the record's row in the data file, from 0
    original TEXT NOT NULL,          -- JSON as generated
    current TEXT NOT NULL,           -- JSON with the reviewers' corrections
    version INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    edited INTEGER NOT NULL DEFAULT 0,
    flagged TEXT NOT NULL DEFAULT '[]',
    flag_count INTEGER NOT NULL DEFAULT 0,
    min_score REAL,
    preview TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',   -- why flagged, in one line
    reviewer TEXT,
    updated_at TEXT
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id INTEGER NOT NULL,
    action TEXT NOT NULL,            -- one of LOG_ACTIONS
    field TEXT,                      -- e.g. lesson[3].content
    path TEXT,                       -- the same as a JSON list
    before TEXT,                     -- JSON
    after TEXT,                      -- JSON
    reviewer TEXT NOT NULL,
    at TEXT NOT NULL,
    version INTEGER NOT NULL         -- the record's version after the action (the one refused, for a conflict)
);
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the review log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the review log is append-only'); END;
"""


class ReviewError(PerpetuumError, ValueError):
    """A review action cannot be done as asked (unknown record or field, a value of the wrong type)."""


class StillFlagged(ReviewError):
    """Accepting a record that a validator still flags needs the reviewer to say so (`while_flagged=True`)."""

    def __init__(self, record: "ReviewRecord"):
        super().__init__(
            f"record {record.id} is still flagged by {', '.join(record.flagged)}: fix it, override the verdict with a "
            "reason, or accept it knowingly"
        )
        self.record = record


class VersionConflict(PerpetuumError, RuntimeError):
    """The record changed since the version an action was made on; `current` is the record as saved now."""

    def __init__(self, current: "ReviewRecord", attempted_version: int):
        super().__init__(
            f"record {current.id} is at version {current.version}, saved by {current.reviewer} at "
            f"{current.updated_at}; the action was made on version {attempted_version}"
        )
        self.current = current
        self.attempted_version = attempted_version


@dataclass
class ReviewRecord:
    id: int
    original: dict[str, Any]
    current: dict[str, Any]
    version: int
    status: str
    reason: str | None
    edited: bool
    flagged: list[str]
    min_score: float | None
    reviewer: str | None
    updated_at: str | None


def field_label(path: list[str | int]) -> str:
    """["lesson", 3, "content"] -> "lesson[3].content"."""
    label = ""
    for part in path:
        label += f"[{part}]" if isinstance(part, int) else (f".{part}" if label else str(part))
    return label


def _utc_now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class ReviewStore:
    """Review state of one dataset folder. Open with `ReviewStore.open(folder)`; safe to use from several threads
    (each call opens its own SQLite connection)."""

    def __init__(self, path: Path, dataset: Dataset):
        self.path = Path(path)
        self.dataset = dataset

    @property
    def columns(self) -> list[ColumnInfo]:
        return self.dataset.columns

    @property
    def validator_columns(self) -> list[str]:
        """Columns holding a validator's verdict: read-only for reviewers (overridden with a reason instead)."""
        return [column.name for column in self.columns if column.kind == "validator"]

    @classmethod
    def open(cls, folder: str | Path, store_path: str | Path | None = None) -> "ReviewStore":
        """The store of `folder` (created and filled from the data file the first time).

        Refuses a store made for other data (the data file was regenerated since): move review.sqlite away to
        start a new review."""
        folder = Path(folder)
        store = cls(Path(store_path) if store_path else folder / STORE_FILE, None)  # type: ignore[arg-type]
        find_data_file(folder)  # before the store file is made: a folder without data gets none
        try:
            with store._connect() as connection:
                connection.executescript(_SCHEMA)
                meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as error:
            raise DataInputError(
                f"cannot open the review store {store.path} ({error}); the folder must be writable, and the file "
                "a review store (move it away to start a new review)."
            ) from None
        # A store made before keeps the records and their columns: the data file is only fingerprinted.
        known = [ColumnInfo(**column) for column in json.loads(meta["columns"])] if "columns" in meta else None
        dataset = store.dataset = load_dataset(folder, columns=known)
        with store._connect() as connection:
            if not meta:
                store._import(connection)
                dataset.records = []  # the store has them now
            elif meta.get("fingerprint") != dataset.fingerprint:
                raise DataInputError(
                    f"{dataset.data_file} changed since its review began (the review in {store.path} was made on "
                    f"other data). Move {store.path} away to start a new review; it keeps the old one (the records "
                    "as generated, the corrections and the log)."
                )
        return store

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")  # a committed action survives a crash of the machine too
            connection.execute("PRAGMA foreign_keys=ON")
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _import(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        if connection.execute("SELECT COUNT(*) FROM meta").fetchone()[0]:
            connection.execute("ROLLBACK")  # another process imported it meanwhile
            return
        rows = []
        for index, record in enumerate(self.dataset.records):
            summary = record_summary(record)
            text = _dumps(record)
            rows.append(
                (index, text, text, _dumps(summary["flagged"]), len(summary["flagged"]), summary["min_score"],
                 summary["preview"], summary["note"])
            )
        connection.executemany(
            "INSERT INTO records (id, original, current, flagged, flag_count, min_score, preview, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("fingerprint", self.dataset.fingerprint),
                ("data_file", self.dataset.data_file.name),
                ("columns", _dumps([asdict(column) for column in self.dataset.columns])),
                ("created_at", _utc_now()),
            ],
        )
        connection.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------------------------

    @staticmethod
    def _record(row: sqlite3.Row | tuple) -> ReviewRecord:
        (id_, original, current, version, status, reason, edited, flagged, min_score, reviewer, updated_at) = row
        return ReviewRecord(
            id_, json.loads(original), json.loads(current), version, status, reason, bool(edited), json.loads(flagged),
            min_score, reviewer, updated_at,
        )

    _COLUMNS = "id, original, current, version, status, reason, edited, flagged, min_score, reviewer, updated_at"

    def __len__(self) -> int:
        with self._connect() as connection:
            return connection.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    def get(self, record_id: int) -> ReviewRecord:
        with self._connect() as connection:
            return self._get(connection, record_id)

    def _get(self, connection: sqlite3.Connection, record_id: int) -> ReviewRecord:
        row = connection.execute(f"SELECT {self._COLUMNS} FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise ReviewError(f"no record {record_id}; records are numbered 0 to {len(self) - 1}")
        return self._record(row)

    def all(self) -> list[ReviewRecord]:
        with self._connect() as connection:
            return [self._record(row) for row in connection.execute(f"SELECT {self._COLUMNS} FROM records ORDER BY id")]

    def queue(
        self,
        *,
        flagged: bool = False,
        below: float | None = None,
        status: str = "any",
        sort: str = "index",
        search: str = "",
    ) -> list[dict[str, Any]]:
        """Records matching every filter given, as summaries (id, status, edited, flagged, min_score, preview...).

        flagged: some validator failed. below: the lowest judge score is below this. status: any, pending,
        accepted, rejected, reviewed (accepted or rejected) or edited. search: words that must all occur in the
        record as it is now (any field, case-insensitive for ASCII letters). sort: index, score (lowest first),
        flags (most failed validators first), recent (latest reviewed first)."""
        keys = ("id", "status", "reason", "edited", "flagged", "min_score", "preview", "note", "reviewer", "updated_at",
                "version")
        sql, arguments = self._queue_sql(", ".join(keys), flagged, below, status, sort, search)
        with self._connect() as connection:
            rows = connection.execute(sql, arguments).fetchall()
        items = [dict(zip(keys, row)) for row in rows]
        for item in items:
            item["flagged"] = json.loads(item["flagged"])
            item["edited"] = bool(item["edited"])
        return items

    @staticmethod
    def _queue_sql(selected: str, flagged: bool, below: float | None, status: str, sort: str,
                   search: str = "") -> tuple[str, list]:
        where: list[str] = []
        arguments: list[Any] = []
        for word in search.split():
            # Matched in the JSON text, where a quote or backslash is escaped as JSON writes it.
            pattern = json.dumps(word, ensure_ascii=False)[1:-1]
            where.append("current LIKE ? ESCAPE '\\'")
            arguments.append("%" + re.sub(r"([%_\\])", r"\\\1", pattern) + "%")
        if flagged:
            where.append("flag_count > 0")
        if below is not None:
            where.append("min_score IS NOT NULL AND min_score < ?")
            arguments.append(below)
        if status in STATUSES:
            where.append("status = ?")
            arguments.append(status)
        elif status == "reviewed":
            where.append("status != 'pending'")
        elif status == "edited":
            where.append("edited = 1")
        elif status != "any":
            raise ParameterError(f"unknown status filter {status!r}; use any, pending, accepted, rejected, reviewed or edited")
        if sort not in SORTS:
            raise ParameterError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
        sql = (
            f"SELECT {selected} FROM records"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {SORTS[sort]}"
        )
        return sql, arguments

    def queue_ids(self, *, flagged: bool = False, below: float | None = None, status: str = "any",
                  sort: str = "index", search: str = "") -> list[int]:
        """The ids of `queue(...)`, in its order (cheaper: no summaries)."""
        sql, arguments = self._queue_sql("id", flagged, below, status, sort, search)
        with self._connect() as connection:
            return [row[0] for row in connection.execute(sql, arguments)]

    def counts(self) -> dict[str, int]:
        """records, pending, reviewed, accepted, rejected, edited, flagged."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT COUNT(*), SUM(status = 'pending'), SUM(status != 'pending'), SUM(status = 'accepted'), "
                "SUM(status = 'rejected'), SUM(edited), SUM(flag_count > 0) FROM records"
            ).fetchone()
        keys = ("records", "pending", "reviewed", "accepted", "rejected", "edited", "flagged")
        return {key: int(value or 0) for key, value in zip(keys, row)}

    _LOG_KEYS = ("id", "record", "action", "field", "path", "before", "after", "reviewer", "at", "version")

    def log(self, record_id: int | None = None) -> list[dict[str, Any]]:
        """The review log in order: id, record, action, field, path, before, after, reviewer, at, version."""
        return self.log_page(record=record_id, newest_first=False)[0]

    def log_page(self, *, record: int | None = None, reviewer: str | None = None, action: str | None = None,
                 offset: int = 0, limit: int | None = None, newest_first: bool = True) -> tuple[list[dict], int]:
        """(entries, how many match) of the log entries matching every filter given, `limit` of them from
        `offset` (all when limit is None), newest first unless told otherwise."""
        where, arguments = [], []
        for column, value in (("record_id", record), ("reviewer", reviewer), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                arguments.append(value)
        condition = " WHERE " + " AND ".join(where) if where else ""
        sql = (f"SELECT id, record_id, action, field, path, before, after, reviewer, at, version FROM log{condition} "
               f"ORDER BY id {'DESC' if newest_first else 'ASC'}")
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with self._connect() as connection:
            rows = connection.execute(sql, arguments).fetchall()
            total = connection.execute(f"SELECT COUNT(*) FROM log{condition}", arguments).fetchone()[0]
        entries = []
        for row in rows:
            entry = dict(zip(self._LOG_KEYS, row))
            for key in ("path", "before", "after"):
                entry[key] = None if entry[key] is None else json.loads(entry[key])
            entries.append(entry)
        return entries, total

    def log_reviewers(self) -> list[str]:
        """Everyone who has acted in this review, by name."""
        with self._connect() as connection:
            return [row[0] for row in connection.execute("SELECT DISTINCT reviewer FROM log ORDER BY reviewer")]

    # -- actions ---------------------------------------------------------------------------------------------

    def edit(self, record_id: int, path: list[str | int], value: Any, *, version: int, reviewer: str) -> ReviewRecord:
        """Set the value at `path` (a column, then keys and list indexes inside it) to `value`.

        The value must keep the type of the one it replaces where that was text (text stays text); otherwise any
        JSON value is allowed. A validator's verdict is not edited by hand (see `override`). Saving the value
        already there changes nothing and logs nothing. The validators that read the edited column are re-run
        (perpetuum.review.recheck); each verdict that changes is saved with the edit and logged as a "recheck"
        entry after it."""
        if not isinstance(path, list) or not path or not isinstance(path[0], str):
            raise ReviewError(f"a field path starts with a column name; got {path!r}")
        if path[0] in self.validator_columns:
            raise ReviewError(
                f"{path[0]} is a validator's verdict, not edited by hand: correct what it checks (it is checked again "
                "when you save), or override the verdict with a reason"
            )

        def set_value(current: dict[str, Any]) -> tuple[Any, Any]:
            parent, key = self._locate(current, path)
            before = parent[key]
            if isinstance(before, str) and not isinstance(value, str):
                raise ReviewError(f"{field_label(path)} holds text; give text, not {type(value).__name__}")
            parent[key] = value
            return before, value

        return self._change(record_id, version, reviewer, "edit", path, value, set_value)

    def override(self, record_id: int, column: str, passed: bool, reason: str, *, version: int,
                 reviewer: str) -> ReviewRecord:
        """Set a validator's verdict by hand (passed or failed), with the reviewer's reason kept in the verdict
        (`override`) and in the log. Editing what the validator checks re-runs it, which replaces the override."""
        reason = " ".join((reason or "").split())
        if column not in self.validator_columns:
            raise ReviewError(f"{column} is not a validator column; overriding is for validator verdicts")
        if not reason:
            raise ReviewError("say why the verdict is overridden (a reason is required)")

        def set_verdict(current: dict[str, Any]) -> tuple[Any, Any]:
            before = current.get(column)
            if not is_validator_value(before):
                raise ReviewError(f"record {record_id} has no verdict in {column} to override")
            after = {**before, "passed": bool(passed),
                     "override": {"passed_before": before["passed"], "reason": reason, "reviewer": reviewer}}
            current[column] = after
            return before, after

        return self._change(record_id, version, reviewer, "override", [column], {"passed": passed, "reason": reason},
                            set_verdict, recheck_after=False)

    def decide_repair(self, record_id: int, path: list[str | int], decision: str, *, version: int,
                      reviewer: str) -> ReviewRecord:
        """Keep ("accept") or undo ("revert") an automatic repair: `path` names a dialogue turn carrying a `repair`
        (see perpetuum.review.dataset). Reverting puts the original text back, and the validators run again."""
        if decision not in {"accept", "revert"}:
            raise ReviewError(f"a repair is accepted or reverted; got {decision!r}")

        def decide(current: dict[str, Any]) -> tuple[Any, Any]:
            parent, key = self._locate(current, path)
            turn = parent[key]
            if not isinstance(turn, dict) or not is_repair_value(turn.get("repair")):
                raise ReviewError(f"{field_label(path)} was not repaired automatically")
            before = copy.deepcopy(turn)
            if decision == "revert":
                turn["content"] = turn["repair"]["original"]
            turn["repair"] = {**turn["repair"], "decision": "accepted" if decision == "accept" else "reverted"}
            return before, turn

        # Keeping a repair changes no text, so no validator needs to run again.
        return self._change(record_id, version, reviewer, f"repair {decision}", path, decision, decide,
                            recheck_after=decision == "revert")

    def _change(self, record_id, version, reviewer, action, path, attempted, mutate, *, recheck_after=True):
        """One change of a record's content in one transaction: `mutate(current)` changes it and returns
        (before, after) of the changed part; the validators reading the column run again; summary, version and
        log follow."""
        with self._transaction() as connection:
            record = self._get(connection, record_id)
            self._check_version(connection, record, version, action, path, attempted, reviewer)
            current = copy.deepcopy(record.current)
            before, after = mutate(current)
            if before == after:
                return record
            rechecked = {}
            if recheck_after:
                rechecked = {name: (current[name], verdict)
                             for name, verdict in recheck(self.columns, current, path[0]).items()
                             if verdict != current[name]}
                current.update({name: verdict for name, (_, verdict) in rechecked.items()})
            summary = record_summary(current)
            new_version = record.version + 1
            now = _utc_now()
            connection.execute(
                "UPDATE records SET current = ?, version = ?, edited = ?, flagged = ?, flag_count = ?, min_score = ?, "
                "preview = ?, note = ?, reviewer = ?, updated_at = ? WHERE id = ? AND version = ?",
                (_dumps(current), new_version, int(current != record.original), _dumps(summary["flagged"]),
                 len(summary["flagged"]), summary["min_score"], summary["preview"], summary["note"], reviewer, now,
                 record_id, record.version),
            )
            self._append(connection, record_id, action, path, before, after, reviewer, now, new_version)
            for name, (verdict_before, verdict_after) in rechecked.items():
                self._append(connection, record_id, "recheck", [name], verdict_before, verdict_after, reviewer, now,
                             new_version)
            return self._get(connection, record_id)

    def accept(self, record_id: int, *, version: int, reviewer: str, while_flagged: bool = False) -> ReviewRecord:
        """Accept the record. One still flagged by a validator raises `StillFlagged` unless `while_flagged` says the
        reviewer saw the flags; such an acceptance names the flags in the log and is counted in the export's card."""
        return self._set_status(record_id, "accepted", None, version, reviewer, while_flagged=while_flagged)

    def reject(self, record_id: int, reason: str, *, version: int, reviewer: str) -> ReviewRecord:
        reason = " ".join((reason or "").split())
        if not reason:
            raise ReviewError("say why the record is rejected (a reason is required)")
        return self._set_status(record_id, "rejected", reason, version, reviewer)

    def reset(self, record_id: int, *, version: int, reviewer: str) -> ReviewRecord:
        """Back to pending (the corrections stay)."""
        return self._set_status(record_id, "pending", None, version, reviewer)

    def _set_status(self, record_id: int, status: str, reason: str | None, version: int, reviewer: str,
                    while_flagged: bool = False) -> ReviewRecord:
        action = {"accepted": "accept", "rejected": "reject", "pending": "reset"}[status]
        with self._transaction() as connection:
            record = self._get(connection, record_id)
            after: dict[str, Any] = {"status": status, "reason": reason}
            self._check_version(connection, record, version, action, None, after, reviewer)
            if status == "accepted" and record.flagged:
                if not while_flagged:
                    raise StillFlagged(record)
                after["while_flagged"] = record.flagged
            now = _utc_now()
            connection.execute(
                "UPDATE records SET status = ?, reason = ?, version = ?, reviewer = ?, updated_at = ? "
                "WHERE id = ? AND version = ?",
                (status, reason, record.version + 1, reviewer, now, record_id, record.version),
            )
            before = {"status": record.status, "reason": record.reason}
            self._append(connection, record_id, action, None, before, after, reviewer, now, record.version + 1)
            return self._get(connection, record_id)

    def _check_version(self, connection, record: ReviewRecord, version: int, action: str, path, attempted, reviewer):
        if int(version) == record.version:
            return
        # The refused attempt is logged (and committed) so that nothing a reviewer typed is lost.
        self._append(connection, record.id, "conflict", path, None, {"action": action, "value": attempted},
                     reviewer, _utc_now(), int(version))
        connection.execute("COMMIT")
        connection.execute("BEGIN IMMEDIATE")  # the caller's transaction ends with its own ROLLBACK
        raise VersionConflict(record, int(version))

    @staticmethod
    def _locate(current: dict[str, Any], path: list[str | int]) -> tuple[Any, str | int]:
        parent: Any = current
        for depth, key in enumerate(path):
            exists = (
                isinstance(parent, dict) and isinstance(key, str) and key in parent
            ) or (isinstance(parent, list) and isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(parent))
            if not exists:
                raise ReviewError(f"the record has no field {field_label(list(path[: depth + 1]))}")
            if depth == len(path) - 1:
                return parent, key
            parent = parent[key]
        raise AssertionError("unreachable")

    @staticmethod
    def _append(connection, record_id, action, path, before, after, reviewer, at, version) -> None:
        connection.execute(
            "INSERT INTO log (record_id, action, field, path, before, after, reviewer, at, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, action, field_label(path) if path else None, _dumps(path) if path else None, _dumps(before),
             _dumps(after), reviewer, at, version),
        )
