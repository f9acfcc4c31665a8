"""The openai backend against a real llama-cpp-python server on 127.0.0.1, and its error mapping against small
local HTTP servers that answer with errors."""

import asyncio
import email.utils
import http.server
import json
import threading
import time

import pytest

from perpetuum.errors import GenerationError, TransientBackendError
from perpetuum.llm import GenerationParams, generate_json, get_backend
from perpetuum.llm.openai_compatible import retry_after_seconds
from perpetuum.llm.server import LocalServer, free_port

QUESTION = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server] (the test extra)")
    # One thread: on a shared 2-core machine llama.cpp's spin barriers make two threads far slower when a core is busy.
    with LocalServer(n_ctx=1024, n_threads=1) as running:
        yield running


def test_chat_through_a_real_server_reports_usage(server):
    backend = server.backend()
    answer = asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=16, seed=1)))
    assert answer.text.strip() and answer.prompt_tokens > 5 and 1 <= answer.completion_tokens <= 16
    assert answer.model == server.model_name


def test_seeded_requests_repeat_over_http(server):
    backend = server.backend()
    params = GenerationParams(temperature=1.0, max_tokens=16, seed=4)
    assert asyncio.run(backend.chat(QUESTION, params)).text == asyncio.run(backend.chat(QUESTION, params)).text


def test_the_model_is_discovered_when_not_given(server):
    backend = get_backend("openai", base_url=server.base_url)
    answer = asyncio.run(backend.complete("Once upon a time", GenerationParams(max_tokens=8)))
    assert backend.model_name == server.model_name and answer.completion_tokens >= 1


def test_content_parts_are_sent_as_plain_strings(server):
    parts = [{"role": "user", "content": [{"type": "text", "text": "Name a colour."}]}]
    answer = asyncio.run(server.backend().chat(parts, GenerationParams(max_tokens=8)))
    assert answer.text


def test_server_side_grammar_gives_valid_json(server):
    backend = server.backend(json_schema_mode="json_object")
    schema = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 15}}, "required": ["colour"]}
    value, completions = asyncio.run(
        generate_json(backend, [{"role": "user", "content": "Pick a colour."}], schema, GenerationParams(max_tokens=32))
    )
    assert isinstance(value["colour"], str) and len(completions) >= 1


def test_validate_and_retry_shows_the_model_its_error_and_gives_up_after_max_attempts(server):
    backend = server.backend(json_schema_mode="validate")
    impossible = {"type": "object", "properties": {"code": {"const": "zq-7731"}}, "required": ["code"]}
    with pytest.raises(GenerationError, match="3 attempts") as caught:
        asyncio.run(
            generate_json(backend, QUESTION, impossible, GenerationParams(max_tokens=24, seed=2), max_attempts=3)
        )
    completions = caught.value.completions
    assert len(completions) == 3
    # Each retry carries the earlier answer and the error message, so the prompt grows.
    assert completions[0].prompt_tokens < completions[1].prompt_tokens < completions[2].prompt_tokens


def test_validate_and_retry_accepts_a_valid_answer(server):
    backend = server.backend(json_schema_mode="validate")
    schema = {"type": "object"}
    # The 135M model copies the shown schema's shape unless told "object"; 64 tokens leave room for a longer answer.
    messages = [{"role": "user", "content": 'Reply with exactly this JSON object and nothing else: {"ok": true}'}]
    value, completions = asyncio.run(
        generate_json(backend, messages, schema, GenerationParams(temperature=0, max_tokens=64), max_attempts=4)
    )
    assert isinstance(value, dict) and 1 <= len(completions) <= 4


# --- error mapping against tiny local servers ---------------------------------------------------------------------


class _Scripted(http.server.BaseHTTPRequestHandler):
    status = 500
    body = b'{"error": {"message": "scripted failure"}}'
    delay = 0.0
    headers_out: dict = {}

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.delay)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        for key, value in self.headers_out.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _serve(status, body=_Scripted.body, delay=0.0, headers=None):
    handler = type("Handler", (_Scripted,), dict(status=status, body=body, delay=delay, headers_out=headers or {}))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_rate_limits_and_server_errors_are_transient(status):
    httpd = _serve(status)
    try:
        backend = get_backend("openai", base_url=f"http://127.0.0.1:{httpd.server_port}/v1", model="m")
        with pytest.raises(TransientBackendError, match=str(status)):
            asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=4)))
    finally:
        httpd.shutdown()


@pytest.mark.parametrize(
    ("headers", "expected"), [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)]
)
def test_a_429_carries_the_servers_retry_after(headers, expected):
    httpd = _serve(429, headers=headers)
    try:
        backend = get_backend("openai", base_url=f"http://127.0.0.1:{httpd.server_port}/v1", model="m")
        with pytest.raises(TransientBackendError) as caught:
            asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=4)))
        assert caught.value.retry_after == expected
    finally:
        httpd.shutdown()


def test_retry_after_is_read_as_seconds_or_an_http_date():
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after_seconds({"retry-after": in_a_minute}) <= 60
    assert retry_after_seconds({"retry-after": email.utils.formatdate(0, usegmt=True)}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds(None) is None


def test_a_garbled_response_is_transient():
    httpd = _serve(200, body=b'{"choices": [{"message": {"content": "half')
    try:
        backend = get_backend("openai", base_url=f"http://127.0.0.1:{httpd.server_port}/v1", model="m")
        with pytest.raises(TransientBackendError, match="garbled|choices"):
            asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=4)))
    finally:
        httpd.shutdown()


def test_a_timeout_is_transient():
    httpd = _serve(200, delay=2.0)
    try:
        backend = get_backend("openai", base_url=f"http://127.0.0.1:{httpd.server_port}/v1", model="m", timeout=0.3)
        with pytest.raises(TransientBackendError, match="no answer within"):
            asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=4)))
    finally:
        httpd.shutdown()


def test_a_refused_connection_is_transient():
    backend = get_backend("openai", base_url=f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(TransientBackendError, match="connection"):
        asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=4)))


def test_a_bad_request_is_a_generation_error_not_retried():
    httpd = _serve(400, body=json.dumps({"error": {"message": "context length exceeded"}}).encode())
    try:
        backend = get_backend("openai", base_url=f"http://127.0.0.1:{httpd.server_port}/v1", model="m")
        with pytest.raises(GenerationError, match="400"):
            asyncio.run(backend.chat(QUESTION, GenerationParams(max_tokens=4)))
    finally:
        httpd.shutdown()
