"""A run whose output folder is in an object store (s3://bucket/prefix): the checkpoint works in a local folder and
is copied there as it grows, and the finished files go there at the end.

S3 cannot append to an object, so the local checkpoint format fits it as it is: a session's entries go to numbered
JSONL shards, and a shard that is closed never changes again. A shard is closed (and uploaded whole) every
`execution.shard_size` records or `SYNC_SECONDS`, whichever comes first; then the run's state (meta and sessions,
without the per-record index, which resume rebuilds from the shards) is uploaded beside it. A driver killed mid-run
therefore loses at most the records of its open shard, and `--resume` makes them again, the same: the shards
already uploaded are whole objects, so no record is lost or doubled. Resume downloads the checkpoint into a fresh
local folder and goes on as a local run does.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from perpetuum.storage import OutputFolder, open_folder

__all__ = ["CheckpointMirror", "SYNC_SECONDS"]

# How stale the copy in the object store may get while records keep coming: what a killed driver can lose.
SYNC_SECONDS = 10.0


class CheckpointMirror:
    """The remote output folder of a run and the local working folder its files are made in."""

    def __init__(self, folder: OutputFolder, work: Path) -> None:
        self.folder = folder
        self.work = work
        self._pushed_at = time.monotonic()

    @classmethod
    def open(cls, location: str, checkpoint_folder: str) -> CheckpointMirror:
        """Check that `location` can be reached and download its checkpoint (if any) into a new local folder."""
        folder = open_folder(location)
        mirror = cls(folder, Path(tempfile.mkdtemp(prefix="perpetuum-run-")))
        for name in folder.names(under=checkpoint_folder):
            folder.download(f"{checkpoint_folder}/{name}", mirror.work / checkpoint_folder / name)
        return mirror

    def due(self) -> bool:
        return time.monotonic() - self._pushed_at >= SYNC_SECONDS

    def push(self, *paths: Path) -> None:
        """Upload files of the working folder (a closed shard, the state) under the same names."""
        for path in paths:
            self.folder.upload(path, self.name(path))
        self._pushed_at = time.monotonic()

    def name(self, path: str | Path) -> str:
        return Path(path).resolve().relative_to(self.work.resolve()).as_posix()

    def locations(self, files: dict[str, str]) -> dict[str, str]:
        """Where the working folder's files will be once published (URIs in the remote folder)."""
        return {kind: self.folder.location(self.name(path)) for kind, path in files.items()}

    def publish(self, files: dict[str, str]) -> dict[str, str]:
        """Upload finished output files (data, card, ...) from the working folder; returns their locations."""
        return {kind: self.folder.upload(path, self.name(path)) for kind, path in files.items()}

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
