"""A small HTTP proxy on 127.0.0.1 that passes requests to a real OpenAI-compatible server and injects faults.

Faults are planned per request body: the n-th distinct body the proxy sees gets the fault sequence `plan[n %
len(plan)]`, one fault per attempt, and the attempt after the last fault goes through. A retry sends the same body,
so every request gets through once the client has retried past its planned faults, and the test knows how many
retries that takes. Kinds:

- "429": answered at once with 429 and `Retry-After: <retry_after>`;
- "500": answered at once with 500;
- "hang": held open for `hang_seconds` (longer than the client's timeout), then closed without an answer;
- "garbled": passed to the server, whose answer comes back cut in half (200, broken JSON): the server did the work,
  so the retry repeats a prompt the server has just seen.

Every attempt is logged as (body key, attempt number, fault or "pass", monotonic time).
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import urllib.error
import urllib.request

FAULT_KINDS = ("429", "500", "hang", "garbled")


class FaultProxy:
    def __init__(self, upstream: str, plan: list[list[str]], retry_after: float = 1.0, hang_seconds: float = 5.0):
        for faults in plan:
            unknown = set(faults) - set(FAULT_KINDS)
            assert not unknown, f"unknown fault kinds {unknown}"
        self.upstream = upstream.rstrip("/")  # e.g. http://127.0.0.1:8000 (no /v1)
        self.plan = plan
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.log: list[tuple[str, int, str, float]] = []
        self._bodies: dict[str, int] = {}  # body key -> its position among distinct bodies
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                status, headers, body = proxy._forward("GET", self.path, None, dict(self.headers))
                self._reply(status, body, headers.get("Content-Type", "application/json"))

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = proxy._next_fault(body)
                if fault == "429":
                    retry_after = {"Retry-After": str(proxy.retry_after)}
                    self._reply(429, b'{"error": {"message": "slow down"}}', extra=retry_after)
                elif fault == "500":
                    self._reply(500, b'{"error": {"message": "injected server error"}}')
                elif fault == "hang":
                    time.sleep(proxy.hang_seconds)
                    self.close_connection = True
                else:
                    status, headers, answer = proxy._forward("POST", self.path, body, dict(self.headers))
                    if fault == "garbled" and status == 200:
                        answer = answer[: len(answer) // 2]
                    self._reply(status, answer, headers.get("Content-Type", "application/json"))

            def _reply(self, status, body, content_type="application/json", extra=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in (extra or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up first (its timeout)
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def injected(self) -> dict[str, int]:
        """How many times each fault kind was injected."""
        counts = {kind: 0 for kind in FAULT_KINDS}
        for _, _, fault, _ in self.log:
            if fault in counts:
                counts[fault] += 1
        return counts

    def _next_fault(self, body: bytes) -> str:
        key = hashlib.sha256(body).hexdigest()
        with self._lock:
            position = self._bodies.setdefault(key, len(self._bodies))
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            faults = self.plan[position % len(self.plan)] if self.plan else []
            fault = faults[attempt] if attempt < len(faults) else "pass"
            self.log.append((key, attempt, fault, time.monotonic()))
        return fault

    def _forward(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        wanted = {k: v for k, v in headers.items() if k.lower() in ("content-type", "authorization", "accept")}
        request = urllib.request.Request(self.upstream + path, data=body, method=method, headers=wanted)
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()
