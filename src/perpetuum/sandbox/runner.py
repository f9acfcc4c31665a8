"""`run_python`: start the child process (`_child.py`), feed it the code, watch the clock and the output, and turn
what came back into a `SandboxResult`."""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from perpetuum.errors import ParameterError
from perpetuum.sandbox.limits import ISOLATION_MODES, SandboxLimits, SandboxResult

__all__ = ["run_python", "isolation_mode"]

CHILD = Path(__file__).with_name("_child.py")
NOBODY = 65534
VERDICT_CAP = 1024 * 1024
SETUP_FAILED = 70  # the child's exit code when its sandbox could not be built
ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/tmp/work",
               "PYTHONHASHSEED": "0", "TMPDIR": "/tmp"}

_mode_lock = threading.Lock()
_working_mode: str | None = None
_failed_modes: dict[str, str] = {}


def _candidate_modes() -> list[str]:
    modes = ["namespaces"] if os.geteuid() == 0 else []
    return modes + ["user_namespaces", "rlimits_only"]


def isolation_mode() -> str:
    """The strongest isolation this machine allows, found by trying each mode once (cached for the process)."""
    global _working_mode
    with _mode_lock:
        if _working_mode is not None:
            return _working_mode
    run_python("pass")
    return _working_mode or "rlimits_only"


def _interpreter_paths() -> list[str]:
    """Folders the child needs read-only inside its new root: the interpreter's prefixes and their site-packages."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for entry in sys.path:
        if entry and "site-packages" in entry and os.path.isdir(entry):
            paths.add(entry)
    usr = ("/usr/", "/bin/", "/lib/", "/lib64/")
    return sorted(path for path in paths if not (path + "/").startswith(usr) and path not in ("/", ""))


def run_python(
    code: str,
    *,
    tests: str | None = None,
    limits: SandboxLimits | None = None,
    isolation: str = "auto",
    read_only_paths: tuple[str, ...] | list[str] = (),
) -> SandboxResult:
    """Run untrusted `code`, then `tests` against it, in a throw-away sandbox; never raises for what the code does.

    tests: Python source run after the code in the same namespace: module-level asserts, `test_*` functions and
    unittest.TestCase classes all count. isolation: "auto" picks the strongest mode that works here (see
    `perpetuum.sandbox`). read_only_paths: extra host folders the code may read (namespace modes show nothing else
    but the system's /usr and the interpreter).
    """
    if not isinstance(code, str):
        raise ParameterError(f"code must be Python source text; got {type(code).__name__}")
    if tests is not None and not isinstance(tests, str):
        raise ParameterError(f"tests must be Python source text or None; got {type(tests).__name__}")
    limits = limits or SandboxLimits()
    if isolation not in ISOLATION_MODES:
        raise ParameterError(f"isolation must be one of {', '.join(ISOLATION_MODES)}; got {isolation!r}")
    if isolation != "auto":
        return _run_once(code, tests, limits, isolation, list(read_only_paths))
    global _working_mode
    for mode in [_working_mode] if _working_mode else _candidate_modes():
        result = _run_once(code, tests, limits, mode, list(read_only_paths))
        if result.status != "error" or mode == "rlimits_only":
            with _mode_lock:
                if result.status != "error":
                    _working_mode = _working_mode or mode
            return result
        _failed_modes[mode] = result.reason
    return result


def _run_once(code, tests, limits: SandboxLimits, mode: str, read_only_paths: list[str]) -> SandboxResult:
    token = secrets.token_hex(16)
    started = time.monotonic()
    work_dir = None
    if mode == "rlimits_only":
        work_dir = tempfile.mkdtemp(prefix="perpetuum-sandbox-")
        if os.geteuid() == 0:
            os.chown(work_dir, NOBODY, NOBODY)
    verdict_read, verdict_write = os.pipe()
    payload = {
        "code": code,
        "tests": tests,
        "token": token,
        "mode": mode,
        "limits": limits.as_dict(),
        "verdict_fd": verdict_write,
        "uid": NOBODY,
        "gid": NOBODY,
        "work_dir": work_dir,
        "read_only_paths": _interpreter_paths() + [os.path.abspath(path) for path in read_only_paths],
    }
    environment = dict(ENVIRONMENT, HOME=work_dir or "/tmp/work", TMPDIR=work_dir or "/tmp")
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(verdict_write,),
            start_new_session=True,  # its own process group, so the whole run can be killed at once
            env=environment,
            cwd="/",
        )
    finally:
        os.close(verdict_write)
    try:
        watched = _watch(process, verdict_read, json.dumps(payload).encode(), limits, started)
    finally:
        os.close(verdict_read)
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    return _result(watched, token, limits, mode, time.monotonic() - started)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _watch(process: subprocess.Popen, verdict_read: int, payload: bytes, limits: SandboxLimits, started: float):
    """Feed the payload, collect the streams (capped) until they close or a limit is hit, then reap the process."""
    try:
        process.stdin.write(payload)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    deadline = started + limits.wall_seconds
    buffers = {"stdout": bytearray(), "stderr": bytearray(), "verdict": bytearray()}
    truncated = {"stdout": False, "stderr": False}
    caps = {"stdout": limits.output_bytes, "stderr": limits.output_bytes, "verdict": VERDICT_CAP}
    stopped_for = None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "stdout")
    selector.register(process.stderr, selectors.EVENT_READ, "stderr")
    selector.register(verdict_read, selectors.EVENT_READ, "verdict")
    try:
        while selector.get_map() and stopped_for is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped_for = "timeout"
                break
            for key, _ in selector.select(timeout=min(remaining, 0.5)):
                name = key.data
                fd = key.fd if name == "verdict" else key.fileobj.fileno()
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                room = caps[name] - len(buffers[name])
                buffers[name] += chunk[: max(room, 0)]
                if len(chunk) > room and name in truncated:
                    truncated[name] = True
                    stopped_for = "output_limit"
    finally:
        selector.close()
    if stopped_for is not None:
        _kill(process)
    try:
        returncode = process.wait(timeout=max(deadline - time.monotonic(), 0) + 1.0)
    except subprocess.TimeoutExpired:
        stopped_for = stopped_for or "timeout"
        _kill(process)
        returncode = process.wait()
    _kill(process)  # whatever of the run is left in its process group (rlimits_only mode)
    process.stdout.close()
    process.stderr.close()
    return {"buffers": buffers, "truncated": truncated, "stopped_for": stopped_for, "returncode": returncode}


def _verdict(raw: bytes, token: str) -> dict | None:
    """The last verdict line carrying our token (the code may write to the pipe, but cannot know the token)."""
    found = None
    for line in raw.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("token") == token:
            found = data
    return found


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _result(watched: dict, token: str, limits: SandboxLimits, mode: str, duration: float) -> SandboxResult:
    buffers, returncode, stopped_for = watched["buffers"], watched["returncode"], watched["stopped_for"]
    verdict = _verdict(bytes(buffers["verdict"]), token)
    status, reason, passed = "failed", "", False
    signal_number = returncode - 128 if returncode > 128 else (-returncode if returncode < 0 else 0)
    if stopped_for == "timeout":
        status, reason = "timeout", f"wall-clock limit of {limits.wall_seconds:g} s reached"
    elif stopped_for == "output_limit":
        status, reason = "output_limit", f"output exceeded {limits.output_bytes:,} bytes on one stream"
    elif verdict is not None and "setup_error" in verdict:
        status, reason = "error", f"sandbox setup failed ({mode}): {verdict['setup_error']}"
    elif verdict is not None:
        passed = bool(verdict.get("passed"))
        status = "ok" if passed else ("memory" if verdict.get("error_type") == "MemoryError" else "failed")
        reason = "" if passed else verdict.get("reason") or "failed"
    elif signal_number == signal.SIGXCPU:
        status, reason = "timeout", f"CPU-time limit of {limits.cpu_seconds:g} s reached"
    elif signal_number == signal.SIGXFSZ:
        status, reason = "file_limit", f"wrote past the file-size limit of {limits.file_size_bytes:,} bytes"
    elif signal_number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
        status, reason = "crashed", f"crashed with {_signal_name(signal_number)} (runaway recursion or a native fault)"
    elif signal_number:
        status = "killed"
        reason = f"killed by {_signal_name(signal_number)}" + (
            " (CPU hard limit, out-of-memory killer, or the code itself)" if signal_number == signal.SIGKILL else ""
        )
    else:
        reason = f"exited with code {returncode} before its tests finished (sys.exit or os._exit in the code)"
    if verdict is None and returncode == SETUP_FAILED and status == "failed":
        status, reason = "error", f"sandbox setup failed ({mode}): " + _tail(buffers["stderr"])
    stdout = bytes(buffers["stdout"]).decode("utf-8", "replace")
    stderr = bytes(buffers["stderr"]).decode("utf-8", "replace")
    return SandboxResult(
        passed=passed,
        status=status,
        reason=reason,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        duration_seconds=round(duration, 4),
        isolation=mode,
        tests_run=int(verdict.get("tests_run", 0)) if verdict else 0,
        tests_failed=int(verdict.get("tests_failed", 0)) if verdict else 0,
        error_type=str(verdict.get("error_type") or "") if verdict and not passed else "",
        stdout_truncated=watched["truncated"]["stdout"],
        stderr_truncated=watched["truncated"]["stderr"],
        violations=list(verdict.get("violations", [])) if verdict else [],
    )


def _tail(raw: bytearray) -> str:
    lines = bytes(raw).decode("utf-8", "replace").strip().splitlines()
    return lines[-1][:300] if lines else "no message"
