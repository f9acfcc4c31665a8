"""The sandbox's child side: run as `python -I -B _child.py`, reads one JSON payload on stdin, never imports perpetuum.

Process tree with namespaces (the host sees only the first process):

    launcher (host pid namespace)   unshare(mount, network, pid, ipc, uts [, user]); fork; wait
      └─ init, pid 1                builds a new root (tmpfs + read-only binds of /usr and the interpreter), fresh
         │                          /proc, pivot_root, detaches the host tree; fork; reap everything; exit with the
         │                          runner's status (the kernel then kills whatever is left in the pid namespace)
         └─ runner, pid 2           drops to an unprivileged uid, enters its own user namespace (so RLIMIT_NPROC
                                    counts only this sandbox's processes), drops every capability, sets rlimits,
                                    runs the code and its tests, writes the verdict line to the verdict pipe

Without namespaces (mode "rlimits_only") the launcher forks the runner directly in a host temp dir and an audit hook
refuses sockets and signals to other processes: weaker, see sandbox/__init__.py.
"""

import ctypes
import json
import os
import platform
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 24, 28, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
NOBODY = 65534
# Modules imported before privileges drop in the rlimits-only mode (the interpreter may be unreadable to nobody).
PRELOAD = (
    "collections", "itertools", "functools", "math", "re", "string", "random", "heapq", "bisect", "dataclasses",
    "typing", "fractions", "decimal", "statistics", "datetime", "json", "unittest", "enum", "copy", "operator",
    "textwrap", "abc", "contextlib", "io", "time", "array", "struct", "hashlib", "base64", "csv", "pathlib",
    "socket", "subprocess", "threading", "signal", "encodings.idna", "unittest.mock", "doctest",
)

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(errno)}")


def _unshare(flags, what):
    _check(libc.unshare(ctypes.c_int(flags)), f"unshare({what})")


def _mount(source, target, fstype, flags, data=None):
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _check(
        libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
        f"mount {source} on {target}",
    )


def _write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def _verdict(fd, token, **fields):
    line = json.dumps({"token": token, **fields}).encode() + b"\n"
    try:
        os.write(fd, line)
    except OSError:
        pass


# ------------------------------------------------------------------------------------------------ file system


def _bind(source, target, writable=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        # A read-only bind needs a second, remounting call; locked flags (nosuid, nodev, noexec) must be kept.
        kept = os.statvfs(source).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _build_root(payload):
    """A new root holding only what Python needs, read-only; /tmp (the work dir) and /dev/shm are small tmpfs."""
    limits = payload["limits"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    new_root = "/tmp"  # shadowed by our tmpfs in this mount namespace only; the host's /tmp is untouched
    _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), new_root + host)
        elif os.path.isdir(host):
            _bind(host, new_root + host)
    _bind("/usr", new_root + "/usr")
    for path in payload["read_only_paths"]:
        if os.path.exists(path) and not os.path.exists(new_root + path):
            _bind(path, new_root + path)
    os.makedirs(new_root + "/etc")
    for name in ("passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", "ld.so.conf"):
        if os.path.isfile("/etc/" + name):
            _bind("/etc/" + name, new_root + "/etc/" + name)
    if os.path.islink("/etc/localtime"):
        os.symlink(os.readlink("/etc/localtime"), new_root + "/etc/localtime")
    os.makedirs(new_root + "/dev")
    for name in ("null", "zero", "full", "random", "urandom"):
        _bind("/dev/" + name, new_root + "/dev/" + name, writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, new_root + "/dev/" + name)
    os.makedirs(new_root + "/dev/shm")
    _mount("tmpfs", new_root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=1777")
    os.makedirs(new_root + "/tmp")
    _mount("tmpfs", new_root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={limits['disk_bytes']},mode=1777")
    os.makedirs(new_root + "/proc")
    # Mounted while the host's /proc is still visible: a user namespace may mount proc only then.
    _mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, new_root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if SYS_PIVOT_ROOT is None:
        raise SetupError(f"pivot_root: unknown syscall number on {platform.machine()}")
    os.chdir(new_root)
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no way back to the host tree.
    _check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detach the host root")
    os.chdir("/")
    work = "/tmp/work"
    os.mkdir(work, 0o700)
    if payload["mode"] == "namespaces" and os.geteuid() == 0:
        os.chown(work, payload["uid"], payload["gid"])
    return work


# ------------------------------------------------------------------------------------------------ privileges


def _drop_capabilities():
    for capability in range(64):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    # noroot | noroot_locked | no_setuid_fixup | no_setuid_fixup_locked: execve never grants capabilities back
    libc.prctl(PR_SET_SECUREBITS, 0x0F, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    empty = (ctypes.c_uint32 * 6)()
    libc.capset(ctypes.byref(Header(0x20080522, 0)), empty)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _become_unprivileged(mode, uid, gid):
    if os.geteuid() == 0 and mode in ("namespaces", "rlimits_only"):
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if mode != "rlimits_only":
        # A user namespace of its own: RLIMIT_NPROC then counts this sandbox's processes only, and the mount and
        # network namespaces above belong to a parent namespace, so no capability gained here reaches them.
        _unshare(CLONE_NEWUSER, "user")
    _drop_capabilities()


def _set_limits(limits):

    cpu = max(1, int(limits["cpu_seconds"] + 0.999))
    pairs = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: (limits["memory_bytes"],) * 2,
        resource.RLIMIT_FSIZE: (limits["file_size_bytes"],) * 2,
        resource.RLIMIT_NPROC: (limits["processes"],) * 2,
        resource.RLIMIT_NOFILE: (limits["open_files"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, values in pairs.items():
        resource.setrlimit(which, values)
    # A write past the file-size limit then fails with EFBIG (an exception the tests see) instead of a signal.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _install_policy_hook(violations, block_network):
    """Refuse signals to processes other than the run's own (in every mode: with user namespaces the sandbox's init
    shares the caller's uid, so the kernel accepts and silently drops such a signal) and, in rlimits-only mode,
    network use. A refused action fails the run even if the code catches the error. An audit hook is advisory
    (ctypes or a C extension can bypass it): namespaces are the real boundary, this makes attempts visible."""
    own = os.getpid()

    def hook(event, args):
        if block_network and event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
            violations.append(f"network use blocked ({event})")
            raise PermissionError(f"the sandbox allows no network ({event})")
        if event in ("os.kill", "os.killpg"):
            target = args[0]
            if event == "os.killpg" or target <= 1 or (target != own and target == os.getppid()):
                violations.append(f"signal to another process blocked ({event}({target}))")
                raise PermissionError("the sandbox allows signals to its own processes only")

    sys.addaudithook(hook)


# ------------------------------------------------------------------------------------------------ running tests


def _register_source(name, text):
    import linecache

    linecache.cache[name] = (len(text), None, text.splitlines(True), name)


def _failure_text(error, label):
    """One line for a failure: where in the tests it happened (the test's line, and for an assert comparing a call
    with a value, what the call gave), where in the solution it was raised, and the error's message."""
    import linecache

    test_step, code_step = None, None
    step = error.__traceback__
    while step is not None:
        name = step.tb_frame.f_code.co_filename
        if name == "tests.py":
            test_step, code_step = step, None
        elif name == "solution.py":
            code_step = step
        step = step.tb_next
    parts = []
    for where in (test_step, code_step):
        if where is not None:
            name = where.tb_frame.f_code.co_filename
            line = linecache.getline(name, where.tb_lineno).strip()
            parts.append(f"{name}:{where.tb_lineno}" + (f": {line}" if line else ""))
    text = f"{label}{type(error).__name__}"
    if parts:
        text += " at " + parts[0]
        if isinstance(error, AssertionError) and test_step is not None:
            text += _assert_actual(linecache.getline("tests.py", test_step.tb_lineno), test_step.tb_frame)
        if len(parts) > 1:
            text += ", raised at " + parts[1]
    message = str(error).strip()
    text += f" ({message})" if message else ""
    return text[:500]


def _assert_actual(line, frame):
    """For a failed `assert LEFT <op> RIGHT` on one line: " (LEFT gave VALUE)", what a model fixing the code needs
    most; empty when the line is not such an assert or LEFT cannot be evaluated again."""
    import ast
    import reprlib

    try:
        statement = ast.parse(line.strip()).body[0]
    except (SyntaxError, IndexError, ValueError):
        return ""
    if not (isinstance(statement, ast.Assert) and isinstance(statement.test, ast.Compare)):
        return ""
    left = statement.test.left
    if isinstance(left, ast.Constant):
        return ""
    try:
        value = eval(compile(ast.Expression(left), "tests.py", "eval"), frame.f_globals, dict(frame.f_locals))
    except BaseException:  # noqa: BLE001  (evaluating it again failed: say nothing rather than something wrong)
        return ""
    shown = reprlib.Repr()
    shown.maxstring, shown.maxother, shown.maxlist = 80, 80, 8
    return f" ({ast.unparse(left)} gave {shown.repr(value)})"


def _run_code(code, tests):
    """(passed, tests_run, tests_failed, reason, error_type)."""
    import types

    for name, text in (("solution.py", code), ("tests.py", tests or "")):
        with open(name, "w") as handle:
            handle.write(text)
        _register_source(name, text)
    module = types.ModuleType("solution")
    module.__file__ = os.path.abspath("solution.py")
    sys.modules["solution"] = module
    try:
        exec(compile(code, "solution.py", "exec"), module.__dict__)
    except SystemExit as error:
        return False, 0, 0, f"the solution called sys.exit({error.code!r})", "SystemExit"
    except BaseException as error:  # noqa: BLE001  (the verdict names whatever the code raised)
        return False, 0, 0, _failure_text(error, "the solution raised "), type(error).__name__
    if not tests:
        return True, 0, 0, "", ""
    namespace = dict(module.__dict__)
    namespace["__name__"] = "tests"
    before = set(namespace)
    try:
        exec(compile(tests, "tests.py", "exec"), namespace)
    except SystemExit as error:
        return False, 0, 1, f"the tests called sys.exit({error.code!r})", "SystemExit"
    except BaseException as error:  # noqa: BLE001
        return False, 1, 1, _failure_text(error, "tests: "), type(error).__name__
    run, failures = 1, []  # the module-level asserts count as one test
    import unittest

    for name, value in list(namespace.items()):
        if name in before and namespace.get(name) is module.__dict__.get(name):
            continue
        if name.startswith("test") and callable(value) and not isinstance(value, type):
            run += 1
            try:
                value()
            except SystemExit as error:
                failures.append((f"{name} called sys.exit({error.code!r})", "SystemExit"))
            except BaseException as error:  # noqa: BLE001
                failures.append((_failure_text(error, f"{name}: "), type(error).__name__))
        elif isinstance(value, type) and issubclass(value, unittest.TestCase) and value is not unittest.TestCase:
            import io

            suite = unittest.defaultTestLoader.loadTestsFromTestCase(value)
            outcome = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
            run += outcome.testsRun
            for case, text in outcome.failures + outcome.errors:
                last = text.strip().splitlines()[-1] if text.strip() else "failed"
                failures.append((f"{case.id().split('.')[-1]}: {last}"[:500], last.split(":")[0][:60]))
    if failures:
        return False, run, len(failures), failures[0][0], failures[0][1]
    return True, run, 0, "", ""


def _runner(payload, mode, work, verdict_fd):
    token = payload.pop("token")
    limits = payload["limits"]
    violations = []
    if mode == "rlimits_only":
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
    try:
        _become_unprivileged(mode, payload["uid"], payload["gid"])
        os.chdir(work)
        _set_limits(limits)
    except (SetupError, OSError, ValueError) as error:
        _verdict(verdict_fd, token, setup_error=f"dropping privileges: {type(error).__name__}: {error}")
        os._exit(70)
    _install_policy_hook(violations, block_network=mode == "rlimits_only")
    code, tests = payload.pop("code"), payload.pop("tests")
    sys.argv = ["solution.py"]
    try:
        passed, run, failed, reason, error_type = _run_code(code, tests)
    except BaseException as error:  # noqa: BLE001  (e.g. MemoryError while reporting)
        passed, run, failed, reason, error_type = False, 0, 0, f"{type(error).__name__} in the harness", "Harness"
    if violations and passed:
        passed, reason, error_type = False, violations[0], "PolicyViolation"
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    _verdict(verdict_fd, token, passed=passed, tests_run=run, tests_failed=failed, reason=reason,
             error_type=error_type, violations=violations[:10])
    os._exit(0)


def _exit_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _init(payload, mode, verdict_fd):
    """Pid 1 of the new pid namespace: set up the file system, run the runner, reap, exit with its status."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        work = _build_root(payload)
        libc.sethostname(b"sandbox", 7)
    except (SetupError, OSError) as error:
        _verdict(verdict_fd, payload["token"], setup_error=f"{type(error).__name__}: {error}")
        os._exit(70)
    runner = os.fork()
    if runner == 0:
        _runner(payload, mode, work, verdict_fd)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(70)
        if pid == runner:
            os._exit(_exit_code(status))


def main():
    payload = json.loads(sys.stdin.buffer.read())
    os.close(0)
    os.open("/dev/null", os.O_RDONLY)
    verdict_fd = payload["verdict_fd"]
    mode = payload["mode"]
    try:
        if mode == "namespaces":
            _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS, "namespaces")
        elif mode == "user_namespaces":
            uid, gid = os.geteuid(), os.getegid()
            _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS,
                     "user namespaces")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
    except (SetupError, OSError) as error:
        _verdict(verdict_fd, payload["token"], setup_error=str(error))
        sys.exit(70)
    child = os.fork()
    if child == 0:
        if mode == "rlimits_only":
            _runner(payload, mode, payload["work_dir"], verdict_fd)
        _init(payload, mode, verdict_fd)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _, status = os.waitpid(child, 0)
    sys.exit(_exit_code(status))


if __name__ == "__main__":
    main()
