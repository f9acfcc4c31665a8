"""JSON that matches a JSON Schema, from any backend.

Where the backend can constrain decoding (llama.cpp grammar, a server's `response_format`), the model cannot leave
the schema's shape; the answer is still validated, because a grammar does not enforce every keyword and a
`max_tokens` cut leaves JSON unfinished. Otherwise the answer is validated with `jsonschema`, and the model is
shown its error and asked again, up to `max_attempts` times.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import jsonschema

from perpetuum.errors import GenerationError, ParameterError
from perpetuum.llm.base import Backend, Completion, GenerationParams, plain_messages

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


async def generate_json(
    backend: Backend,
    messages: list[dict],
    json_schema: dict,
    params: GenerationParams,
    max_attempts: int = 3,
    show_schema: bool = True,
) -> tuple[dict, list[Completion]]:
    """The first answer that parses as JSON and validates against `json_schema`, and every completion it took.

    `show_schema` appends the schema to the last user message (small models need to see it even under a
    grammar). A retry with a fixed seed uses seed + attempt, so a constrained backend does not repeat the same
    cut-off answer. Raises GenerationError (with `.completions`) after `max_attempts` invalid answers; backend
    errors pass through.
    """
    validator = _validator(json_schema)
    if max_attempts < 1:
        raise ParameterError(f"max_attempts must be >= 1, got {max_attempts!r}")
    conversation = plain_messages(messages)
    if show_schema:
        conversation = _with_schema(conversation, json_schema)
    constraint = json_schema if backend.constrains_json else None
    completions: list[Completion] = []
    problem = ""
    for attempt in range(max_attempts):
        attempt_params = params if params.seed is None else replace(params, seed=params.seed + attempt)
        completion = await backend.chat(conversation, attempt_params, constraint)
        completions.append(completion)
        value, problem = parse_and_validate(completion.text, validator)
        if not problem:
            return value, completions
        conversation = conversation + [
            {"role": "assistant", "content": completion.text},
            {
                "role": "user",
                "content": f"That answer is not valid: {problem}. "
                "Reply again with only a JSON value that matches the schema, nothing else.",
            },
        ]
    error = GenerationError(
        f"{backend.name} model {backend.model_name!r} gave no JSON matching the schema in {max_attempts} attempts; "
        f"last problem: {problem}. Raise max_attempts or max_tokens, simplify the schema, or use a backend with "
        "constrained decoding."
    )
    error.completions = completions  # token usage still counts towards the run's cost
    raise error


def parse_and_validate(text: str, validator: jsonschema.protocols.Validator) -> tuple[object, str]:
    """(value, "") when `text` holds JSON valid under `validator`, else (None, a one-line problem)."""
    try:
        value = extract_json(text)
    except ValueError as error:
        return None, str(error)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        return None, f"at {where}: {error.message}"
    return value, ""


def extract_json(text: str):
    """The JSON value in `text`: the whole text, a ```json fence, or the first {...} / [...] span."""
    candidates = [text.strip()]
    candidates += [match.strip() for match in _FENCE.findall(text)]
    for opener, closer in ("{}", "[]"):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    preview = text.strip().replace("\n", " ")
    preview = preview[:120] + ("..." if len(preview) > 120 else "")
    raise ValueError(f"the answer is not JSON (it reads: {preview!r})")


def _validator(json_schema: dict) -> jsonschema.protocols.Validator:
    if not isinstance(json_schema, dict):
        raise ParameterError(f"json_schema must be a dict (a JSON Schema), got {type(json_schema).__name__}")
    cls = jsonschema.validators.validator_for(json_schema)
    try:
        cls.check_schema(json_schema)
    except jsonschema.exceptions.SchemaError as error:
        raise ParameterError(f"json_schema is not a valid JSON Schema: {error.message}") from error
    return cls(json_schema)


def _with_schema(conversation: list[dict], json_schema: dict) -> list[dict]:
    instruction = (
        "\n\nAnswer with only a JSON value that matches this JSON Schema:\n" + json.dumps(json_schema, indent=None)
    )
    conversation = [dict(message) for message in conversation]
    for message in reversed(conversation):
        if message["role"] == "user":
            message["content"] += instruction
            return conversation
    return conversation + [{"role": "user", "content": instruction.strip()}]
