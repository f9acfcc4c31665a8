"""Progress bars for long steps, shared by synthesizers, evaluation and the CLI.

    from perpetuum.progress import progress_bar

    with progress_bar("Fitting trees", total=n_trees, verbose=self.verbose) as bar:
        for tree in range(n_trees):
            ...
            bar.advance()            # one step done (advance(5) for five)
        bar.update("Fitting leaves")  # new description; update(total=..., completed=...) also works

A bar is drawn on stderr only when `verbose` is true and stderr is a terminal, so logs, pipes, CI and tests stay
clean; `force=True` (or the environment variable PERPETUUM_PROGRESS=1) draws it anyway, PERPETUUM_PROGRESS=0
never does. When no bar is drawn, the handle's methods do nothing, so callers never branch on it. Bars opened
inside another bar's `with` block join the same display (one line each) instead of fighting over the terminal.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ProgressHandle", "progress_bar", "progress_enabled"]

_ENVIRONMENT_SWITCH = "PERPETUUM_PROGRESS"

# One live display per process: rich allows a single live region per console, so nested bars share it.
_lock = threading.Lock()
_active_display = None
_active_users = 0


def _forced(force: bool | None) -> bool | None:
    """`force`, or else what PERPETUUM_PROGRESS says (None: decide from verbose and the terminal)."""
    if force is not None:
        return force
    switch = os.environ.get(_ENVIRONMENT_SWITCH, "").strip().lower()
    if switch in {"1", "true", "yes", "always"}:
        return True
    if switch in {"0", "false", "no", "never"}:
        return False
    return None


def progress_enabled(verbose: bool = True, force: bool | None = None) -> bool:
    """Whether a bar would be drawn: `force` (or PERPETUUM_PROGRESS) wins, else verbose and stderr is a terminal."""
    forced = _forced(force)
    if forced is not None:
        return forced
    if not verbose:
        return False
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


class ProgressHandle:
    """What `progress_bar` yields: `advance(n)` and `update(description, total=, completed=)`; no-ops when hidden."""

    def __init__(self, display=None, task_id=None) -> None:
        self._display = display
        self._task_id = task_id

    @property
    def shown(self) -> bool:
        """True when a bar is actually on screen."""
        return self._display is not None

    def advance(self, n: float = 1) -> None:
        """Mark `n` more units of work done."""
        if self._display is not None:
            self._display.advance(self._task_id, n)

    def update(
        self, description: str | None = None, *, total: float | None = None, completed: float | None = None
    ) -> None:
        """Change the description, the total (None keeps it) or the amount done so far."""
        if self._display is None:
            return
        changes: dict = {}
        if description is not None:
            changes["description"] = description
        if total is not None:
            changes["total"] = total
        if completed is not None:
            changes["completed"] = completed
        if changes:
            self._display.update(self._task_id, **changes)


def _new_display(force: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True, force_terminal=True if force else None)
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def progress_bar(
    description: str,
    total: float | None = None,
    *,
    verbose: bool = True,
    force: bool | None = None,
) -> Iterator[ProgressHandle]:
    """Show a bar for one long step while the `with` block runs; `total=None` shows an open-ended pulse.

    The bar is completed (if `total` is known) and left on screen when the block ends normally.
    """
    global _active_display, _active_users

    if not progress_enabled(verbose, force):
        yield ProgressHandle()
        return

    with _lock:
        if _active_display is None:
            _active_display = _new_display(force=bool(_forced(force)))
            _active_display.start()
        _active_users += 1
        display = _active_display
        task_id = display.add_task(description, total=total)

    finished = False
    try:
        yield ProgressHandle(display, task_id)
        finished = True
    finally:
        with _lock:
            if finished:
                task = next(task for task in display.tasks if task.id == task_id)
                # An open-ended step shows as complete once it is done.
                display.update(task_id, total=task.total or 1, completed=task.total or 1)
            display.stop_task(task_id)
            _active_users -= 1
            if _active_users == 0:
                display.stop()
                _active_display = None
