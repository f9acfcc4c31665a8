"""Local OpenAI-compatible servers on 127.0.0.1 for tests and benchmarks, started and stopped by Perpetuum.

    with LlamaCppServer(n_parallel=4) as server:        # llama.cpp's llama-server, 4 parallel slots
        backend = server.backend()                      # an `openai` backend pointed at it, 4 requests in flight
    with LocalServer() as server:                       # llama-cpp-python's server, one request at a time
        ...

Both serve the embedded SmolLM2 model (or `model_path`) on a free port and load it with the AMX guard of
`llama_loading.py`.

- `LlamaCppServer` runs llama.cpp's own `llama-server`, built from the llama.cpp source that the pinned
  llama-cpp-python vendors (`scripts/build_llama_server.sh`, run by `dev.sh test`). It serves `n_parallel` requests at
  once with continuous batching; each slot has a context of `n_ctx` tokens. Its answers to seeded requests can
  depend on which requests share a batch (its slots share one KV cache), so it is the fast server, not the exactly
  reproducible one.
- `LocalServer` runs llama-cpp-python's server (`pip install "llama-cpp-python[server]"`, part of the `test` extra).
  It answers one request at a time: its app holds one global lock around the model, and it has no parallel-slot
  option (checked in llama-cpp-python 0.3.36), so `n_parallel` above 1 is refused rather than silently ignored. It is
  started through `perpetuum.llm.llama_server`, which reuses the prompt cache only where that cannot change an answer,
  so that a seeded request gets the same answer whatever came before it (see `prompt_cache.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from perpetuum.errors import ModelFileError, ParameterError, PerpetuumError

LLAMA_SERVER_VARIABLE = "PERPETUUM_LLAMA_SERVER"


class ServerStartError(PerpetuumError, RuntimeError):
    """The local model server exited or did not answer in time; the message holds the end of its log."""


class _ServerProcess:
    """A model server in a child process on 127.0.0.1: start it, wait until it answers, stop it (terminate, then
    kill). `seed` is the server's seed for requests that bring none."""

    label = "server"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        port: int | None = None,
        n_parallel: int = 1,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout: float = 120.0,
        log_path: str | os.PathLike | None = None,
        seed: int = 0,
    ):
        self.model_path = model_path
        self.port = port
        self.n_parallel = n_parallel
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.seed = seed
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_name(self) -> str:
        return self._model_file().stem

    def start(self):
        """Start the server and wait until /v1/models answers; raises ServerStartError with its log otherwise."""
        if self.process is not None:
            return self
        if not isinstance(self.n_parallel, int) or self.n_parallel < 1:
            raise ParameterError(f"n_parallel must be a positive integer, got {self.n_parallel!r}")
        command = self._command(self._model_file(), self._threads())
        if self.port is None:
            self.port = free_port()
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        if self.log_path is None:
            self.log_path = Path(tempfile.mkdtemp(prefix="perpetuum-llm-server-")) / "server.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_tail()
                self.stop()
                raise ServerStartError(f"the {self.label} exited at start-up; its log ends:\n{log}")
            if self._answers():
                return self
            time.sleep(0.2)
        log = self.log_tail()
        self.stop()
        raise ServerStartError(f"the {self.label} gave no answer within {self.startup_timeout} s; its log ends:\n{log}")

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after 10 s."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def backend(self, **config):
        """An `openai` backend for this server, keeping `n_parallel` requests in flight (config goes to
        OpenAICompatibleBackend)."""
        from perpetuum.llm.openai_compatible import OpenAICompatibleBackend

        config.setdefault("max_concurrency", self.n_parallel)
        config.setdefault("json_schema_mode", "json_object")
        return OpenAICompatibleBackend(base_url=self.base_url, model=self.model_name, **config)

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-characters:]
        except (OSError, TypeError):
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _command(self, model: Path, threads: str) -> list[str]:
        raise NotImplementedError

    def _threads(self) -> str:
        from perpetuum.llm.embedded import default_threads

        return str(self.n_threads or default_threads())

    def _model_file(self) -> Path:
        if self.model_path is None:
            from perpetuum.llm.embedded import shipped_model_path

            return shipped_model_path()
        return Path(self.model_path)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                return response.status == 200 and "data" in json.loads(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False


class LocalServer(_ServerProcess):
    """llama-cpp-python's server, started through `perpetuum.llm.llama_server`; one request at a time."""

    label = "llama-cpp-python server"

    def _command(self, model: Path, threads: str) -> list[str]:
        if self.n_parallel != 1:
            raise ParameterError(
                "llama-cpp-python's server decodes one request at a time (no parallel slots); use n_parallel=1, "
                "LlamaCppServer for parallel slots, or the embedded backend's n_parallel for batched decoding"
            )
        return [
            sys.executable, "-m", "perpetuum.llm.llama_server",
            "--model", str(model),
            "--model_alias", model.stem,
            "--n_ctx", str(self.n_ctx),
            "--n_threads", threads,
            "--n_threads_batch", threads,  # its default is every core, whatever n_threads says
            "--seed", str(self.seed),
        ]  # fmt: skip


class LlamaCppServer(_ServerProcess):
    """llama.cpp's own `llama-server` with `n_parallel` slots and continuous batching (see the module docstring);
    `binary` defaults to `llama_server_binary()`."""

    label = "llama-server"

    def __init__(self, *args, binary: str | os.PathLike | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = binary

    def _command(self, model: Path, threads: str) -> list[str]:
        from perpetuum.llm.llama_loading import server_flags

        binary = Path(self.binary) if self.binary is not None else llama_server_binary()
        return [
            str(binary),
            "--model", str(model),
            "--alias", model.stem,
            "--ctx-size", str(self.n_ctx * self.n_parallel),  # shared by the slots: n_ctx each
            "--parallel", str(self.n_parallel),
            "--threads", threads,
            "--threads-batch", threads,
            "--seed", str(self.seed),
            "--no-webui",
            "--metrics",
            *server_flags(),
        ]  # fmt: skip


def llama_server_binary() -> Path:
    """llama.cpp's `llama-server`: $PERPETUUM_LLAMA_SERVER, else the one `scripts/build_llama_server.sh` put in this
    environment's bin folder, else one on PATH."""
    configured = os.environ.get(LLAMA_SERVER_VARIABLE, "").strip()
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(sys.prefix) / "bin" / "llama-server")
    on_path = shutil.which("llama-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = f"${LLAMA_SERVER_VARIABLE} ({configured}) does not name an executable; " if configured else ""
    raise ModelFileError(
        f"{where}llama.cpp's llama-server was not found in {Path(sys.prefix) / 'bin'} or on PATH; build it with "
        "`bash scripts/build_llama_server.sh` (dev.sh test does this) or set $PERPETUUM_LLAMA_SERVER to its path"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
