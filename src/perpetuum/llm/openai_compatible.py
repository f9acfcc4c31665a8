"""Any OpenAI-compatible server (vLLM, llama.cpp's server, llama-cpp-python's server, Ollama, OpenAI) through the
async `openai` client.

Configuration comes from arguments, else the environment: PERPETUUM_OPENAI_BASE_URL / OPENAI_BASE_URL,
PERPETUUM_OPENAI_API_KEY / OPENAI_API_KEY, PERPETUUM_OPENAI_MODEL (else the server's first listed model).

Failures that may pass (timeouts, connection resets, 408/409/429, 5xx, a garbled response) become
`TransientBackendError`, which the executor retries with backoff; the client's own retries are off by default so
that one policy decides. A server's Retry-After header (seconds or an HTTP date; also `retry-after-ms`) travels as
the error's `retry_after`, and the executor waits at least that long. Other refusals (400, 401, 404, ...) become
`GenerationError`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time

from perpetuum.errors import GenerationError, ParameterError, TransientBackendError
from perpetuum.llm.base import Backend, Completion, GenerationParams, plain_messages
from perpetuum.llm.registry import register_backend

OPENAI_URL = "https://api.openai.com/v1"
JSON_SCHEMA_MODES = ("validate", "json_schema", "json_object")
TRANSIENT_STATUS = {408, 409, 425, 429}


@register_backend("openai")
class OpenAICompatibleBackend(Backend):
    """A model behind an OpenAI-compatible HTTP API.

    `json_schema_mode`: "validate" (default; the schema is only checked afterwards, see `structured.py`),
    "json_schema" (OpenAI's `response_format={"type": "json_schema", ...}`, as OpenAI and vLLM accept), or
    "json_object" (`{"type": "json_object", "schema": ...}`, what llama-cpp-python's server turns into a grammar).
    `send_seed=False` for servers that reject the `seed` field. `extra_body` is merged into every request.
    `max_concurrency` is the server's capacity for the run: on a Ray cluster the workers share it.
    """

    remote = True

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_concurrency: int = 8,
        json_schema_mode: str = "validate",
        send_seed: bool = True,
        max_retries: int = 0,
        extra_body: dict | None = None,
    ):
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.json_schema_mode = json_schema_mode
        self.send_seed = send_seed
        self.max_retries = max_retries
        self.extra_body = extra_body
        self.model_name = model or os.environ.get("PERPETUUM_OPENAI_MODEL", "")
        self.constrains_json = json_schema_mode != "validate"
        self._clients: dict[int, object] = {}  # one client per event loop: httpx pools are bound to their loop
        self._model_lock: asyncio.Lock | None = None

    def cache_identity(self) -> dict:
        """The base identity plus `extra_body`, which reaches the server with every request."""
        return {**super().cache_identity(), "extra_body": self.extra_body}

    # --- the Backend API -------------------------------------------------------------------------------------

    async def chat(self, messages, params, json_schema=None) -> Completion:
        client = await self._client()
        request = dict(model=self.model_name, messages=plain_messages(messages), **self._sampling(params.check()))
        if json_schema is not None and self.json_schema_mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": json_schema},
            }
        elif json_schema is not None and self.json_schema_mode == "json_object":
            request["response_format"] = {"type": "json_object", "schema": json_schema}
        started = time.perf_counter()
        response = await self._call(client.chat.completions.create, request)
        choice = self._first_choice(response)
        text = (choice.message.content if choice.message is not None else None) or ""
        return self._completion(response, choice, text, time.perf_counter() - started)

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        if not isinstance(prompt, str):
            raise ParameterError(f"prompt must be a string, got {type(prompt).__name__}")
        client = await self._client()
        request = dict(model=self.model_name, prompt=prompt, **self._sampling(params.check()))
        started = time.perf_counter()
        response = await self._call(client.completions.create, request)
        choice = self._first_choice(response)
        return self._completion(response, choice, choice.text or "", time.perf_counter() - started)

    async def list_models(self) -> list[str]:
        """Model ids the server offers."""
        client = await self._client()
        page = await self._call(client.models.list, {})
        return [model.id for model in page.data]

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            try:
                await client.close()
            except RuntimeError:  # its event loop is already closed; nothing left to release
                pass

    # --- internals -------------------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.json_schema_mode not in JSON_SCHEMA_MODES:
            raise ParameterError(
                f"json_schema_mode must be one of {', '.join(JSON_SCHEMA_MODES)}, got {self.json_schema_mode!r}"
            )
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise ParameterError(f"max_concurrency must be a positive integer, got {self.max_concurrency!r}")
        if not self.timeout or self.timeout <= 0:
            raise ParameterError(f"timeout must be a positive number of seconds, got {self.timeout!r}")

    async def _client(self):
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._clients:
            self._check_params()
            import openai

            base_url = (
                self.base_url
                or os.environ.get("PERPETUUM_OPENAI_BASE_URL")
                or os.environ.get("OPENAI_BASE_URL")
                or OPENAI_URL
            )
            api_key = self.api_key or os.environ.get("PERPETUUM_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
            if not api_key:
                if base_url.rstrip("/") == OPENAI_URL:
                    raise ParameterError(
                        "the openai backend needs an API key for api.openai.com: pass api_key= or set "
                        "OPENAI_API_KEY (or point base_url / PERPETUUM_OPENAI_BASE_URL at your own server)"
                    )
                api_key = "not-needed"  # local servers ignore it, the client insists on one
            self._clients[loop_id] = openai.AsyncOpenAI(
                base_url=base_url, api_key=api_key, timeout=self.timeout, max_retries=self.max_retries
            )
        if not self.model_name:
            await self._discover_model(self._clients[loop_id])
        return self._clients[loop_id]

    async def _discover_model(self, client) -> None:
        page = await self._call(client.models.list, {})
        ids = [model.id for model in page.data]
        if not ids:
            raise GenerationError(f"the server at {client.base_url} lists no models; pass model=")
        self.model_name = ids[0]

    def _sampling(self, params: GenerationParams) -> dict:
        sampling = dict(temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens)
        if params.stop:
            sampling["stop"] = list(params.stop)
        if params.seed is not None and self.send_seed:
            sampling["seed"] = params.seed
        if self.extra_body:
            sampling["extra_body"] = dict(self.extra_body)
        return sampling

    async def _call(self, method, request: dict):
        import openai

        try:
            return await method(**request)
        except openai.APIStatusError as error:  # the server answered with an error status
            status = error.status_code
            if status in TRANSIENT_STATUS or status >= 500:
                retry_after = retry_after_seconds(getattr(error.response, "headers", None))
                raise TransientBackendError(
                    f"server answered {status}: {_short(error)}", retry_after=retry_after
                ) from error
            raise GenerationError(f"server refused the request ({status}): {_short(error)}") from error
        except openai.APITimeoutError as error:
            raise TransientBackendError(f"no answer within {self.timeout} s: {_short(error)}") from error
        except openai.APIConnectionError as error:
            raise TransientBackendError(f"connection failed: {_short(error)}") from error
        except (openai.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise TransientBackendError(f"garbled response from the server: {_short(error)}") from error

    def _first_choice(self, response):
        choices = getattr(response, "choices", None)
        if not choices:
            raise TransientBackendError(f"the server's response has no choices: {str(response)[:200]}")
        return choices[0]

    def _completion(self, response, choice, text: str, seconds: float) -> Completion:
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            model=getattr(response, "model", None) or self.model_name,
            finish_reason=choice.finish_reason or "stop",
            seconds=seconds,
        )


def retry_after_seconds(headers) -> float | None:
    """The wait a response asks for: `retry-after-ms`, else `Retry-After` as seconds or an HTTP date; None when
    absent or unreadable."""
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _short(error: BaseException) -> str:
    text = str(error).replace("\n", " ")
    return text[:300] + ("..." if len(text) > 300 else "")
