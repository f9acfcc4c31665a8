"""The sandbox: honest code passes, failing code says why, and hostile code is contained and reported as a failure
without harming the host or this test process.

The hostile corpus runs once, all snippets at the same time through a SandboxPool (module fixture); each test then
checks one snippet's result and the host's state. Where this machine allows namespaces (root here), they are used.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from perpetuum.errors import ParameterError
from perpetuum.sandbox import SandboxLimits, SandboxPool, isolation_mode, run_many, run_python

SECRET = "PERPETUUM-PLANTED-SECRET-7f3a"
CORPUS_LIMITS = SandboxLimits(wall_seconds=8, cpu_seconds=2, memory_bytes=256 * 1024 * 1024, processes=12,
                              file_size_bytes=4 * 1024 * 1024, output_bytes=16 * 1024)


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                pass
    return found


@pytest.fixture(scope="module")
def host():
    """Things on the host the snippets try to reach: planted secrets, a writable folder, a listening socket."""
    folder = Path(tempfile.mkdtemp(prefix="perpetuum-sandbox-test-"))
    folder.chmod(0o777)  # world-writable and world-readable: only the sandbox stands between the code and it
    public = folder / "public_secret.txt"
    public.write_text(SECRET)
    public.chmod(0o644)
    private = folder / "private_secret.txt"
    private.write_text(SECRET)
    private.chmod(0o600)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    yield {"folder": folder, "public": public, "private": private, "server": server,
           "port": server.getsockname()[1]}
    server.close()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def hostile_corpus(host) -> dict[str, str]:
    outside = host["folder"] / "written_by_sandbox.txt"
    return {
        "infinite_loop": "while True:\n    pass",
        "sleep_forever": "import time\ntime.sleep(3600)",
        "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "memory_bomb": "hoard = []\nwhile True:\n    hoard.append(bytearray(50 * 1024 * 1024))",
        "huge_file": "with open('huge.bin', 'wb') as f:\n    for _ in range(1000):\n        f.write(b'x' * 1024 * 1024)",
        "write_outside": f"open({str(outside)!r}, 'w').write('escaped')",
        "write_host_tmp": "open('/tmp/perpetuum-sandbox-escape.txt', 'w').write('x')\n"
                          "open('/etc/perpetuum-sandbox-escape.txt', 'w').write('x')",
        "read_public_secret": f"print(open({str(host['public'])!r}).read())",
        "read_private_secret": f"print(open({str(host['private'])!r}).read())",
        "list_host_folder": f"import os\nprint(os.listdir({str(host['folder'])!r}))",
        "network_local": f"import socket\nsocket.create_connection(('127.0.0.1', {host['port']}), timeout=2)",
        "network_remote": "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)",
        "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "kill_everything": "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "deep_recursion": "def down(n):\n    return down(n + 1)\ndown(0)",
        "unbounded_recursion": "import sys\nsys.setrecursionlimit(10**8)\ndef down(n):\n    return down(n + 1)\ndown(0)",
        "os_exit_zero": "import os\nos._exit(0)",
        "sys_exit_zero": "import sys\nsys.exit(0)",
        "stdout_flood": "while True:\n    print('x' * 1000)",
        "stderr_flood": "import sys\nwhile True:\n    sys.stderr.write('y' * 1000)",
        # Writes a verdict claiming success to every descriptor, then exits: it cannot know the verdict token.
        "forged_verdict": "import json, os\nfor fd in range(3, 64):\n    try:\n"
                          "        os.write(fd, json.dumps({'passed': True, 'token': 'guess'}).encode() + b'\\n')\n"
                          "    except OSError:\n        pass\nos._exit(0)",
    }


@pytest.fixture(scope="module")
def corpus(host):
    snippets = hostile_corpus(host)
    parent = os.getppid()  # before the corpus runs: the parent may legitimately be init already (a detached run)
    started = time.monotonic()
    with SandboxPool(workers=4, limits=CORPUS_LIMITS) as pool:
        futures = {name: pool.submit(code, "assert True") for name, code in snippets.items()}
        results = {name: future.result() for name, future in futures.items()}
    return {"results": results, "seconds": time.monotonic() - started, "parent_before": parent}


# ---------------------------------------------------------------------------------------------- honest code


def test_a_correct_solution_passes_its_asserts_test_functions_and_unittest_cases():
    code = "def add(a, b):\n    return a + b\n"
    tests = textwrap.dedent(
        """
        import unittest
        assert add(2, 3) == 5
        def test_negative():
            assert add(-1, -1) == -2
        class AddTests(unittest.TestCase):
            def test_zero(self):
                self.assertEqual(add(0, 0), 0)
        """
    )
    result = run_python(code, tests=tests)
    assert (result.passed, result.status, result.reason) == (True, "ok", "")
    assert result.tests_run == 3 and result.tests_failed == 0
    assert result.isolation in ("namespaces", "user_namespaces", "rlimits_only")


def test_a_failing_test_is_reported_with_its_name_and_line():
    result = run_python("def add(a, b):\n    return a - b\n", tests="def test_add():\n    assert add(2, 3) == 5\n")
    assert not result.passed and result.status == "failed"
    assert result.error_type == "AssertionError"
    assert "test_add" in result.reason and "tests.py:2" in result.reason and "assert add(2, 3) == 5" in result.reason


def test_a_failing_unittest_case_is_reported():
    tests = "import unittest\nclass T(unittest.TestCase):\n    def test_one(self):\n        self.assertEqual(f(), 2)\n"
    result = run_python("def f():\n    return 1\n", tests=tests)
    assert result.status == "failed" and "test_one" in result.reason and result.tests_failed == 1


def test_a_solution_that_does_not_compile_fails_with_the_syntax_error():
    result = run_python("def broken(:\n    pass", tests="assert True")
    assert result.status == "failed" and result.error_type == "SyntaxError"


def test_tests_can_import_the_solution_as_a_module_and_output_is_captured():
    result = run_python("def hello():\n    print('hi from the sandbox')\n", tests="from solution import hello\nhello()")
    assert result.passed and result.stdout == "hi from the sandbox\n"


def test_the_environment_is_stripped(monkeypatch):
    monkeypatch.setenv("PERPETUUM_TEST_TOKEN", SECRET)
    result = run_python("import os\nprint(sorted(os.environ))\nprint(os.environ.get('PERPETUUM_TEST_TOKEN'))")
    assert result.passed and SECRET not in result.stdout and "PERPETUUM_TEST_TOKEN" not in result.stdout


def test_the_working_directory_starts_empty_and_is_gone_afterwards():
    code = "import os\nprint(os.getcwd())\nprint(os.listdir('.'))\nopen('left_behind.txt', 'w').write('x')"
    result = run_python(code)
    cwd, listing = result.stdout.splitlines()[:2]
    assert result.passed and set(eval(listing)) <= {"solution.py", "tests.py"}
    if result.isolation == "rlimits_only":
        assert not Path(cwd).exists()
    else:  # a tmpfs private to the run's mount namespace; nothing of it exists on the host
        assert not Path(cwd, "left_behind.txt").exists()


def test_limits_are_checked_with_a_message_naming_the_field():
    with pytest.raises(ParameterError, match="wall_seconds"):
        SandboxLimits(wall_seconds=0)
    with pytest.raises(ParameterError, match="memory_bytes"):
        SandboxLimits(memory_bytes=1024)
    with pytest.raises(ParameterError, match="isolation"):
        run_python("pass", isolation="docker")


def test_this_machine_uses_namespaces():
    if os.geteuid() != 0:
        pytest.skip("the namespaces mode needs root; user namespaces are covered below")
    assert isolation_mode() == "namespaces"


# ---------------------------------------------------------------------------------------------- hostile corpus


def result_of(corpus, name):
    result = corpus["results"][name]
    assert not result.passed, f"{name} passed: {result}"
    return result


def test_infinite_loop_is_stopped_by_the_cpu_limit(corpus):
    result = result_of(corpus, "infinite_loop")
    assert result.status == "timeout" and "limit" in result.reason


def test_sleeping_forever_is_stopped_by_the_wall_clock(corpus):
    result = result_of(corpus, "sleep_forever")
    assert result.status == "timeout" and "wall-clock" in result.reason
    assert result.duration_seconds < CORPUS_LIMITS.wall_seconds + 5


def test_fork_bomb_is_contained_and_leaves_no_process_behind(corpus):
    result = result_of(corpus, "fork_bomb")
    assert result.status in ("timeout", "killed")
    time.sleep(0.5)
    assert _processes_of(65534) == []


def test_process_count_is_limited_per_run():
    code = textwrap.dedent(
        """
        import os, time
        children = 0
        while children < 100:
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
        print(children)
        """
    )
    result = run_python(code, limits=SandboxLimits(processes=6))
    assert result.passed and int(result.stdout) <= 5  # the run itself plus at most 5 children
    time.sleep(0.5)
    assert _processes_of(65534) == []  # the sleeping children died with the run


def test_memory_bomb_hits_the_memory_limit(corpus):
    result = result_of(corpus, "memory_bomb")
    assert result.status == "memory" and result.error_type == "MemoryError"


def test_huge_file_write_hits_the_file_size_limit(corpus):
    result = result_of(corpus, "huge_file")
    assert result.status in ("failed", "file_limit") and "File too large" in result.reason + result.stderr


def test_writing_outside_the_work_dir_does_not_reach_the_host(corpus, host):
    assert result_of(corpus, "write_outside").status == "failed"
    assert result_of(corpus, "write_host_tmp").status == "failed"
    assert not (host["folder"] / "written_by_sandbox.txt").exists()
    assert not Path("/etc/perpetuum-sandbox-escape.txt").exists()
    assert not Path("/tmp/perpetuum-sandbox-escape.txt").exists()


def test_planted_secrets_cannot_be_read(corpus):
    for name in ("read_private_secret", "list_host_folder"):
        result = corpus["results"][name]
        assert SECRET not in result.stdout + result.stderr and "private_secret" not in result.stdout
    assert result_of(corpus, "read_private_secret").status == "failed"
    public = corpus["results"]["read_public_secret"]
    if public.isolation != "rlimits_only":  # without namespaces a world-readable file is readable (documented)
        assert not public.passed and SECRET not in public.stdout + public.stderr


def test_network_connections_fail_and_never_arrive(corpus, host):
    assert result_of(corpus, "network_local").status == "failed"
    assert result_of(corpus, "network_remote").status == "failed"
    with pytest.raises(socket.timeout):
        host["server"].accept()


def test_killing_the_parent_or_everything_fails_and_harms_nobody(corpus):
    assert result_of(corpus, "kill_parent").status == "failed"
    assert result_of(corpus, "kill_everything").status == "failed"
    os.kill(os.getpid(), 0)  # this test process is alive (it would not reach here otherwise)
    assert os.getppid() == corpus["parent_before"]  # and its parent was not killed (we would be re-parented)


def test_deep_recursion_fails_without_harm(corpus):
    assert result_of(corpus, "deep_recursion").error_type == "RecursionError"
    assert result_of(corpus, "unbounded_recursion").status in ("crashed", "memory", "timeout", "killed", "failed")


def test_exiting_early_is_a_failure_even_with_exit_code_zero(corpus):
    early = result_of(corpus, "os_exit_zero")
    assert early.status == "failed" and "before its tests finished" in early.reason and early.returncode == 0
    assert "sys.exit(0)" in result_of(corpus, "sys_exit_zero").reason


def test_a_forged_verdict_is_not_believed(corpus):
    assert result_of(corpus, "forged_verdict").status == "failed"


def test_output_floods_are_cut_off(corpus):
    for name, stream in (("stdout_flood", "stdout"), ("stderr_flood", "stderr")):
        result = result_of(corpus, name)
        assert result.status == "output_limit"
        assert getattr(result, f"{stream}_truncated")
        assert len(getattr(result, stream).encode()) <= CORPUS_LIMITS.output_bytes


def test_the_corpus_ran_in_parallel(corpus):
    # 21 snippets, four at a time; three of them run to the 8 s wall clock, the rest finish in about a second.
    assert corpus["seconds"] < 60


def test_many_honest_runs_in_parallel_all_pass_next_to_hostile_ones():
    good = [(f"def square(x):\n    return x * x\n", f"assert square({i}) == {i * i}") for i in range(10)]
    bad = [("while True:\n    pass", None), ("import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", None)]
    results = run_many(good + bad, workers=4, limits=SandboxLimits(wall_seconds=6, cpu_seconds=2))
    assert [r.status for r in results[:10]] == ["ok"] * 10
    assert all(not r.passed for r in results[10:])


# ---------------------------------------------------------------------------------------------- other modes


def _mode_or_skip(mode: str):
    probe = run_python("pass", isolation=mode)
    if probe.status == "error":
        pytest.skip(f"{mode} is not available here: {probe.reason}")


def test_user_namespaces_mode_contains_the_same_snippets(host):
    _mode_or_skip("user_namespaces")
    snippets = hostile_corpus(host)
    names = ["read_private_secret", "read_public_secret", "write_outside", "network_local", "kill_parent"]
    results = run_many([(snippets[name], "assert True") for name in names], workers=3, isolation="user_namespaces",
                       limits=CORPUS_LIMITS)
    for name, result in zip(names, results):
        assert result.status == "failed" and SECRET not in result.stdout, (name, result)
    assert not (host["folder"] / "written_by_sandbox.txt").exists()
    assert run_python("assert 1 + 1 == 2", isolation="user_namespaces").passed


def test_rlimits_only_fallback_blocks_network_and_signals_with_an_audit_hook(host):
    snippets = hostile_corpus(host)
    network = run_python(snippets["network_local"], isolation="rlimits_only")
    assert network.status == "failed" and any("network" in v for v in network.violations)
    # Even when the code swallows the refusal, the refused action fails the run.
    swallowed = run_python("import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n"
                           "    pass", tests="assert True", isolation="rlimits_only")
    assert swallowed.status == "failed" and "signal" in swallowed.reason
    assert run_python("def f():\n    return 1", tests="assert f() == 1", isolation="rlimits_only").passed
    with pytest.raises(socket.timeout):
        host["server"].accept()


def test_rlimits_only_fallback_still_limits_memory_time_and_files():
    limits = SandboxLimits(wall_seconds=6, cpu_seconds=1, memory_bytes=256 * 1024 * 1024,
                           file_size_bytes=1024 * 1024)
    results = run_many(
        ["while True:\n    pass", "x = bytearray(1024 ** 3)", "open('f', 'wb').write(b'x' * 4 * 1024 * 1024)"],
        workers=3, limits=limits, isolation="rlimits_only",
    )
    assert [r.status for r in results[:2]] == ["timeout", "memory"]
    assert "File too large" in results[2].reason


def test_signal_module_of_the_host_is_untouched():
    # The sandbox never installs handlers in the calling process.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler) or callable(
        signal.getsignal(signal.SIGTERM)
    )
