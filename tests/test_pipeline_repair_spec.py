"""The `repair` key: where it may stand, the errors that name what to fix, and the run order it asks for."""

from __future__ import annotations

import pytest

import test_pipeline_support  # noqa: F401  (registers the test-echo backend kind)
from perpetuum.pipeline import SpecError, load_spec

TOPIC = {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["space", "sea"]}
STORY = {"name": "story", "kind": "llm_text", "prompt": "A story about {{ topic }}",
         "repair": {"validator": "has_moon"}}
HAS_MOON = {"name": "has_moon", "kind": "validator", "validator": "regex", "target": "story", "pattern": "moon"}


def spec_with(*columns) -> dict:
    return {"name": "t", "backends": {"default": {"kind": "test-echo"}}, "columns": list(columns)}


def error_of(data) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(data)
    return str(caught.value)


def test_repair_on_an_llm_column_defaults_to_two_attempts():
    spec = load_spec(spec_with(TOPIC, STORY, HAS_MOON))
    assert spec.column("story").repair.validator == "has_moon"
    assert spec.column("story").repair.attempts == 2


def test_repair_on_an_llm_json_column_and_on_a_dialogue_role_load():
    facts = {"name": "facts", "kind": "llm_json", "prompt": "Facts about {{ topic }}",
             "json_schema": {"type": "object"}, "repair": {"validator": "facts_ok", "attempts": 5}}
    facts_ok = {"name": "facts_ok", "kind": "validator", "validator": "regex", "target": "facts", "pattern": "x"}
    chat = {"name": "chat", "kind": "dialogue", "turns": 4, "roles": [
        {"name": "teacher", "system_prompt": "Teach {{ topic }}", "repair": {"validator": "chat_ok"}},
        {"name": "student", "system_prompt": "Learn"}]}
    chat_ok = {"name": "chat_ok", "kind": "validator", "validator": "regex", "template": "{{ chat }}", "pattern": "x"}
    spec = load_spec(spec_with(TOPIC, facts, facts_ok, chat, chat_ok))
    assert spec.column("facts").repair.attempts == 5
    assert spec.column("chat").roles[0].repair.validator == "chat_ok"
    assert spec.column("chat").roles[1].repair is None


@pytest.mark.parametrize(("attempts", "fragment"), [(0, "greater than or equal to 1"), (6, "less than or equal to 5")])
def test_attempts_lie_between_one_and_five(attempts, fragment):
    message = error_of(spec_with(TOPIC, {**STORY, "repair": {"validator": "has_moon", "attempts": attempts}},
                                 HAS_MOON))
    assert "columns[1].repair.attempts" in message and fragment in message


def test_repair_has_no_other_keys_and_judges_have_no_repair():
    assert "columns[1].repair.tries: unknown key" in error_of(
        spec_with(TOPIC, {**STORY, "repair": {"validator": "has_moon", "tries": 2}}, HAS_MOON))
    judge = {"name": "grade", "kind": "llm_judge", "prompt": "{{ topic }}", "repair": {"validator": "x"},
             "rubric": [{"name": "quality", "description": "good"}]}
    assert "columns[1].repair: unknown key" in error_of(spec_with(TOPIC, judge))


def test_an_unknown_validator_is_named_with_a_suggestion_and_the_known_validators():
    message = error_of(spec_with(TOPIC, {**STORY, "repair": {"validator": "has_mon"}}, HAS_MOON))
    assert "columns[1].repair.validator: unknown column 'has_mon' (did you mean 'has_moon'?)" in message
    assert "the spec's validator columns are has_moon" in message


def test_the_named_column_must_be_a_validator():
    length = {"name": "length", "kind": "expression", "template": "{{ story | length }}"}
    message = error_of(spec_with(TOPIC, {**STORY, "repair": {"validator": "length"}}, length))
    assert "columns[1].repair.validator: 'length' is not a validator column (its kind is expression)" in message


def test_a_validator_that_does_not_read_the_repaired_column_is_an_error():
    about_topic = {"name": "about_topic", "kind": "validator", "validator": "regex", "target": "topic",
                   "pattern": "sea"}
    message = error_of(spec_with(TOPIC, {**STORY, "repair": {"validator": "about_topic"}}, about_topic))
    assert "columns[1].repair.validator: validator 'about_topic' does not read 'story'" in message


def test_a_validator_reading_the_column_through_an_expression_is_accepted():
    first_line = {"name": "first_line", "kind": "expression", "template": "{{ story.split('.')[0] }}"}
    checked = {"name": "checked", "kind": "validator", "validator": "regex", "target": "first_line", "pattern": "a"}
    spec = load_spec(spec_with(TOPIC, {**STORY, "repair": {"validator": "checked"}}, first_line, checked))
    assert spec.column_order() == ["topic", "story", "first_line", "checked"]


def test_a_validator_reading_the_column_only_through_a_model_column_is_an_error():
    critique = {"name": "critique", "kind": "llm_text", "prompt": "Critique {{ story }}"}
    checked = {"name": "checked", "kind": "validator", "validator": "regex", "target": "critique", "pattern": "ok"}
    message = error_of(spec_with(TOPIC, {**STORY, "repair": {"validator": "checked"}}, critique, checked))
    assert ("columns[1].repair.validator: validator 'checked' reads 'story' only through model columns ('critique'), "
            "which keep their first values during a repair") in message


def test_one_validator_cannot_repair_two_columns():
    other = {"name": "other", "kind": "llm_text", "prompt": "{{ topic }}", "repair": {"validator": "both"}}
    both = {"name": "both", "kind": "validator", "validator": "regex", "template": "{{ story }}{{ other }}",
            "pattern": "x"}
    message = error_of(spec_with(TOPIC, {**STORY, "repair": {"validator": "both"}}, other, both))
    assert "columns[2].repair.validator: validator 'both' already repairs column 'story' (columns[1].repair)" in message


def test_a_role_validator_may_not_read_a_model_column_made_from_the_dialogue():
    chat = {"name": "chat", "kind": "dialogue", "roles": [
        {"name": "teacher", "system_prompt": "Teach", "repair": {"validator": "summary_ok"}},
        {"name": "student", "system_prompt": "Learn"}]}
    summary = {"name": "summary", "kind": "llm_text", "prompt": "Summarise {{ chat }}"}
    summary_ok = {"name": "summary_ok", "kind": "validator", "validator": "regex", "target": "summary",
                  "pattern": "x"}
    message = error_of(spec_with(chat, summary, summary_ok))
    assert ("columns[0].roles[0].repair.validator: validator 'summary_ok' reads 'summary' (kind llm_text), made from "
            "the dialogue 'chat'") in message


def test_dependants_of_a_repaired_column_run_after_its_validator():
    # `title` reads the story but the validator does not need it: it waits for the repaired story.
    title = {"name": "title", "kind": "llm_text", "prompt": "Title for {{ story }}"}
    spec = load_spec(spec_with(TOPIC, STORY, title, HAS_MOON))
    assert spec.column_order() == ["topic", "story", "has_moon", "title"]


def test_what_a_role_validator_reads_besides_the_dialogue_runs_before_the_dialogue():
    chat = {"name": "chat", "kind": "dialogue", "roles": [
        {"name": "teacher", "system_prompt": "Teach", "repair": {"validator": "uses_word"}},
        {"name": "student", "system_prompt": "Learn"}]}
    word = {"name": "word", "kind": "llm_text", "prompt": "Name a word"}
    uses_word = {"name": "uses_word", "kind": "validator", "validator": "regex", "template": "{{ chat }}{{ word }}",
                 "pattern": "x"}
    spec = load_spec(spec_with(chat, word, uses_word))
    assert spec.column_order() == ["word", "chat", "uses_word"]


def test_the_code_validators_tests_template_is_checked_and_runs_after_the_columns_it_reads():
    solution = {"name": "solution", "kind": "llm_text", "prompt": "Write add(a, b)",
                "repair": {"validator": "tests_pass"}}
    tests_pass = {"name": "tests_pass", "kind": "validator", "validator": "code", "target": "solution",
                  "tests": "{{ tests }}"}
    tests = {"name": "tests", "kind": "llm_text", "prompt": "Write asserts for add(a, b)"}
    # Listed after the validator, the tests still run before it, and the solution's repair does not move them.
    spec = load_spec(spec_with(solution, tests_pass, tests))
    assert spec.column_order() == ["solution", "tests", "tests_pass"]
    message = error_of(spec_with(solution, {**tests_pass, "tests": "{{ testz }}"}, tests))
    assert "columns[1].tests: unknown column 'testz' (did you mean 'tests'?)" in message
