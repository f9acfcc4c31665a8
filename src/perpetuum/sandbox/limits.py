"""What a sandboxed run may use (`SandboxLimits`) and what it did (`SandboxResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from perpetuum.errors import ParameterError

__all__ = ["SandboxLimits", "SandboxResult", "STATUSES", "ISOLATION_MODES"]

MiB = 1024 * 1024

# ok: tests passed. failed: the code or its tests raised, or it exited before the tests finished. timeout: wall-clock
# or CPU-time limit. memory: MemoryError under the address-space limit. output_limit: stdout or stderr grew past the
# cap (the run is stopped). file_limit: killed for writing past the file-size limit. crashed: killed by a fatal
# signal (segfault from runaway recursion, abort). killed: any other signal (SIGKILL from the CPU hard limit or the
# kernel's OOM killer, or the code killing itself). error: the sandbox itself could not be set up.
STATUSES = ("ok", "failed", "timeout", "memory", "output_limit", "file_limit", "crashed", "killed", "error")
ISOLATION_MODES = ("auto", "namespaces", "user_namespaces", "rlimits_only")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one run. Sizes are bytes; `processes` counts every process of the run, itself included."""

    wall_seconds: float = 10.0
    cpu_seconds: float = 5.0
    memory_bytes: int = 512 * MiB  # address space (RLIMIT_AS) of each process
    file_size_bytes: int = 16 * MiB  # largest file it may write (RLIMIT_FSIZE)
    disk_bytes: int = 64 * MiB  # size of its private /tmp (namespace modes)
    processes: int = 16  # RLIMIT_NPROC, counted per run inside its own user namespace
    open_files: int = 128
    output_bytes: int = 64 * 1024  # per stream; beyond it the run is stopped and its status is output_limit

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"SandboxLimits.{name} must be > 0 seconds; got {getattr(self, name)!r}")
        for name in ("memory_bytes", "file_size_bytes", "disk_bytes", "processes", "open_files", "output_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"SandboxLimits.{name} must be a positive integer; got {value!r}")
        if self.memory_bytes < 64 * MiB:
            raise ParameterError("SandboxLimits.memory_bytes below 64 MiB leaves Python no room to start")
        if self.processes < 2:
            raise ParameterError("SandboxLimits.processes must be at least 2 (the code and one child of it)")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SandboxResult:
    """The outcome of one run. `passed` is True only when status is "ok": the code ran and every test passed."""

    passed: bool
    status: str
    reason: str  # why it did not pass ("" when it did): the failing test and line, or the limit reached
    returncode: int | None
    stdout: str
    stderr: str
    duration_seconds: float
    isolation: str  # the mode that ran it: namespaces, user_namespaces or rlimits_only
    tests_run: int = 0
    tests_failed: int = 0
    error_type: str = ""  # the exception that failed it (AssertionError, NameError, MemoryError, ...), if any
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    violations: list[str] = field(default_factory=list)  # refused actions (rlimits_only mode's audit hook)

    def as_dict(self) -> dict:
        return asdict(self)
