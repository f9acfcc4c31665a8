"""Run untrusted Python (generated solutions and their tests) in a throw-away sandbox.

    from perpetuum.sandbox import run_python, SandboxLimits, SandboxPool
    result = run_python("def add(a, b):\\n    return a + b", tests="assert add(2, 3) == 5")
    result.passed, result.status, result.reason          # True, "ok", ""
    with SandboxPool(workers=4) as pool:                 # many runs at once, each in its own sandbox
        results = pool.map([(code, tests), ...])

Isolation modes (`isolation="auto"` takes the first that works, strongest first):

- `namespaces` (the process runs as root, as in containers): new mount, network, pid, ipc and uts namespaces. The
  run sees a new root holding only /usr, the interpreter's folders and a few /etc files, all read-only, a fresh
  /proc, an empty private /tmp (tmpfs of `disk_bytes`, the working directory, gone when the run ends) and no
  network (only a loopback device that is down). The code runs as uid 65534 (nobody) inside a user namespace of
  its own, with every capability dropped and no_new_privs set, so it can neither read nor write host files, nor
  signal host processes, nor undo the mounts.
- `user_namespaces` (an unprivileged user where the kernel allows user namespaces): the same new root, /tmp and
  network namespace, built inside a user namespace; the code keeps the caller's uid on the host, which matters
  only for what the read-only binds show.
- `rlimits_only` (the kernel refuses namespaces): resource limits, a temporary working directory, a stripped
  environment, uid 65534 when started as root, and an audit hook refusing sockets and signals to other processes.
  Weaker: an audit hook can be bypassed (ctypes, C extensions), the file system is visible to what uid 65534 (or
  the caller) may read, and a process that leaves its process group can outlive the run.

Every mode applies the resource limits of `SandboxLimits`: wall clock (the host kills the run), CPU time, address
space, file size, process count (RLIMIT_NPROC, counted per run in the namespace modes), open files; output beyond
`output_bytes` stops the run. In the namespace modes the run's init is pid 1 of its pid namespace: when the run
ends, or the host kills it, the kernel kills every process it started (a fork bomb leaves nothing behind). Every
mode also refuses, through an audit hook, signals to processes other than the run's own; a refused action fails
the run even if the code catches the error.

The verdict: the code and its tests run in one interpreter, after the sandbox has dropped its privileges; the
verdict goes back on a pipe with a random token the code is not given. Exiting early (sys.exit, os._exit) or
writing a verdict of its own fails the run. A determined solution can still fake a pass (rewrite the test
functions, or dig the token out of the interpreter's memory): the verdict is as strong as the tests, the
containment does not depend on it.
"""

from perpetuum.sandbox.limits import ISOLATION_MODES, STATUSES, SandboxLimits, SandboxResult
from perpetuum.sandbox.pool import SandboxPool, run_many
from perpetuum.sandbox.runner import isolation_mode, run_python

__all__ = [
    "SandboxLimits",
    "SandboxResult",
    "SandboxPool",
    "STATUSES",
    "ISOLATION_MODES",
    "run_python",
    "run_many",
    "isolation_mode",
]
