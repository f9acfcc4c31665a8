"""A local OpenAI-compatible server (llama-cpp-python's `llama_cpp.server`) for tests and benchmarks.

    with LocalServer() as server:                       # the embedded SmolLM2 model on a free 127.0.0.1 port
        backend = server.backend()                      # an `openai` backend pointed at it
        ...

The server answers one request at a time: its app holds one global lock around the model, and neither its
command-line settings nor its config file have a parallel-slot option (checked in llama-cpp-python 0.3.36), so
`n_parallel` above 1 is refused rather than silently ignored. It is started through `perpetuum.llm.llama_server`,
which reuses the prompt cache only where that cannot change an answer, so that a seeded request gets the same
answer whatever came before it (see `prompt_cache.py`). It needs `pip install "llama-cpp-python[server]"` (part of Perpetuum's `test` extra).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from perpetuum.errors import ParameterError, PerpetuumError


class ServerStartError(PerpetuumError, RuntimeError):
    """The local model server exited or did not answer in time; the message holds the end of its log."""


class LocalServer:
    """Start llama-cpp-python's server on 127.0.0.1 (through `perpetuum.llm.llama_server`) and stop it again
    (terminate, then kill). `seed` is the server's seed for requests that bring none."""

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

    def start(self) -> "LocalServer":
        """Start the server and wait until /v1/models answers; raises ServerStartError with its log otherwise."""
        if self.process is not None:
            return self
        if self.n_parallel != 1:
            raise ParameterError(
                "llama-cpp-python's server decodes one request at a time (no parallel slots); use n_parallel=1, "
                "or the embedded backend's n_parallel for batched decoding"
            )
        from perpetuum.llm.embedded import default_threads

        model = self._model_file()
        if self.port is None:
            self.port = free_port()
        if self.log_path is None:
            self.log_path = Path(tempfile.mkdtemp(prefix="perpetuum-llama-server-")) / "server.log"
        threads = str(self.n_threads or default_threads())
        command = [
            sys.executable, "-m", "perpetuum.llm.llama_server",
            "--model", str(model),
            "--model_alias", model.stem,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", threads,
            "--n_threads_batch", threads,  # its default is every core, whatever n_threads says
            "--seed", str(self.seed),
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_tail()
                self.stop()
                raise ServerStartError(f"the llama-cpp-python server exited at start-up; its log ends:\n{log}")
            if self._answers():
                return self
            time.sleep(0.2)
        log = self.log_tail()
        self.stop()
        raise ServerStartError(f"the server gave no answer within {self.startup_timeout} s; its log ends:\n{log}")

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
        """An `openai` backend for this server (config goes to OpenAICompatibleBackend; no parallel requests)."""
        from perpetuum.llm.openai_compatible import OpenAICompatibleBackend

        config.setdefault("max_concurrency", self.n_parallel)
        config.setdefault("json_schema_mode", "json_object")
        return OpenAICompatibleBackend(base_url=self.base_url, model=self.model_name, **config)

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-characters:]
        except (OSError, TypeError):
            return ""

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
