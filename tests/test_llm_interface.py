"""The backend interface, the registry and JSON extraction: behaviour that needs no model."""

import asyncio

import jsonschema
import pytest

from perpetuum.errors import ParameterError
from perpetuum.llm import Backend, Completion, GenerationParams, available_backends, get_backend, register_backend
from perpetuum.llm.base import cut_at_stop, plain_messages
from perpetuum.llm.structured import extract_json, parse_and_validate


def test_built_in_backends_are_listed_without_importing_them():
    assert {"embedded", "openai", "hf"} <= set(available_backends())


def test_unknown_backend_names_the_choices():
    with pytest.raises(ParameterError, match="embedded"):
        get_backend("no-such-backend")


def test_unknown_configuration_key_names_the_accepted_ones():
    with pytest.raises(ParameterError, match="base_url"):
        get_backend("openai", no_such_option=1)


def test_a_user_backend_registers_by_name_and_gets_default_chat_many():
    @register_backend("echo-for-test")
    class Echo(Backend):
        model_name = "echo"

        async def chat(self, messages, params, json_schema=None):
            return Completion(messages[-1]["content"], 1, 1, self.model_name, "stop", 0.0)

        async def complete(self, prompt, params):
            return Completion(prompt, 1, 1, self.model_name, "stop", 0.0)

    backend = get_backend("echo-for-test")
    assert backend.name == "echo-for-test"
    answers = asyncio.run(backend.chat_many([[{"role": "user", "content": t}] for t in "abc"], GenerationParams()))
    assert [answer.text for answer in answers] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "change, word",
    [({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"), ({"max_tokens": 0}, "max_tokens"),
     ({"seed": -3}, "seed"), ({"stop": [""]}, "stop")],
)
def test_generation_params_name_the_bad_value(change, word):
    with pytest.raises(ParameterError, match=word):
        GenerationParams(**change).check()


def test_content_parts_become_plain_strings():
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "you"}]}]
    assert plain_messages(messages) == [{"role": "user", "content": "Hello you"}]


def test_bad_messages_are_refused_with_the_position():
    with pytest.raises(ParameterError, match="message 1"):
        plain_messages([{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}])


def test_stop_strings_cut_at_the_first_one():
    assert cut_at_stop("one. two! three", [";", "!", "."]) == ("one", True)
    assert cut_at_stop("no stop here", ["#"]) == ("no stop here", False)


def test_json_is_found_in_fences_and_surrounding_prose():
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure:\n```json\n{"a": [1, 2]}\n```') == {"a": [1, 2]}
    assert extract_json('Here it is: {"a": "b"} hope it helps') == {"a": "b"}
    with pytest.raises(ValueError, match="not JSON"):
        extract_json("no json at all")


def test_validation_problems_say_where():
    validator = jsonschema.Draft202012Validator(
        {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    )
    assert parse_and_validate('{"age": 3}', validator) == ({"age": 3}, "")
    value, problem = parse_and_validate('{"age": "three"}', validator)
    assert value is None and "age" in problem and "integer" in problem
