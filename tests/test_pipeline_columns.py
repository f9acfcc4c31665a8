"""Column kinds, each seen through `preview` (the same records `generate` makes), on the deterministic test backend."""

from __future__ import annotations

from collections import Counter

import pytest

from perpetuum.pipeline import ValidationOutcome, Validator, preview, register_validator
from perpetuum.pipeline.seeds import model_seed
from perpetuum.pipeline.spec import SpecError
from test_pipeline_support import EchoBackend


def spec_with(*columns, **top) -> dict:
    return {"name": "t", "seed": 5, "backends": {"default": {"kind": "test-echo"}}, "columns": list(columns), **top}


def sampler(name, kind, **options) -> dict:
    return {"name": name, "kind": "sampler", "sampler": kind, **options}


# ---------------------------------------------------------------------------------------------- samplers


def test_categories_follow_their_weights():
    rows = preview(spec_with(sampler("pet", "category", values={"cat": 3, "dog": 1, "eel": 0})), n=2000)
    counts = Counter(row["pet"] for row in rows)
    assert set(counts) == {"cat", "dog"}
    assert counts["cat"] / 2000 == pytest.approx(0.75, abs=0.04)


def test_subcategories_come_from_their_parent_value():
    rows = preview(
        spec_with(
            sampler("animal", "category", values=["bird", "fish"]),
            sampler("kind", "subcategory", parent="animal", values={"bird": ["owl", "crow"], "fish": {"cod": 1}}),
        ),
        n=200,
    )
    for row in rows:
        assert row["kind"] in ({"owl", "crow"} if row["animal"] == "bird" else {"cod"})
    assert {row["kind"] for row in rows} == {"owl", "crow", "cod"}


def test_numbers_stay_in_their_ranges():
    rows = preview(
        spec_with(
            sampler("dice", "integer", low=1, high=6),
            sampler("share", "uniform", low=0.2, high=0.4, decimals=2),
            sampler("height", "normal", mean=170, std=10, min=160, max=175),
        ),
        n=500,
    )
    assert {row["dice"] for row in rows} == {1, 2, 3, 4, 5, 6}
    assert all(0.2 <= row["share"] <= 0.4 and round(row["share"], 2) == row["share"] for row in rows)
    assert all(160 <= row["height"] <= 175 for row in rows)


def test_sampling_without_replacement_never_repeats_and_refuses_too_many_records():
    column = sampler("ticket", "integer", low=10, high=59, without_replacement=True)
    rows = preview(spec_with(column), n=50)
    assert sorted(row["ticket"] for row in rows) == list(range(10, 60))
    words = sampler("code", "words", words=["a", "b", "c"], without_replacement=True)
    assert sorted(row["code"] for row in preview(spec_with(words), n=3)) == ["a", "b", "c"]
    with pytest.raises(SpecError, match=r"columns\[0\].without_replacement: column 'ticket' has 50 distinct values"):
        preview(spec_with(column), n=51)


def test_word_lists_give_one_word_or_several_distinct_ones():
    rows = preview(spec_with(sampler("tags", "words", words=list("abcdef"), count=3)), n=50)
    assert all(len(row["tags"]) == 3 == len(set(row["tags"])) for row in rows)


def test_personas_are_seeded_per_record():
    spec = spec_with(sampler("who", "person", fields=["first_name", "job", "age"], age_range=[30, 40]))
    first, again = preview(spec, n=20), preview(spec, n=20)
    assert first == again
    assert len({row["who"]["first_name"] + row["who"]["job"] for row in first}) > 15
    assert all(30 <= row["who"]["age"] <= 40 for row in first)
    with pytest.raises(SpecError, match="Faker has no field 'shoe_size'"):
        preview(spec_with(sampler("who", "person", fields=["shoe_size"])), n=1)


# ---------------------------------------------------------------------------------------------- model columns


def test_llm_text_renders_its_prompts_and_uses_a_seed_per_record_and_column():
    backend = EchoBackend(echo_only=True)
    spec = spec_with(
        sampler("topic", "category", values=["otters"]),
        {
            "name": "story",
            "kind": "llm_text",
            "system_prompt": "You like {{ topic }}.",
            "prompt": "Write about {{ topic }}.",
            "params": {"temperature": 0.2, "max_tokens": 40},
        },
    )
    rows = preview(spec, n=3, backends={"default": backend})
    assert [row["story"] for row in rows] == ["Write about otters."] * 3
    request = backend.requests[0]
    assert request["messages"] == [
        {"role": "system", "content": "You like otters."},
        {"role": "user", "content": "Write about otters."},
    ]
    assert request["params"].temperature == 0.2 and request["params"].max_tokens == 40
    seeds = sorted(r["params"].seed for r in backend.requests)
    assert seeds == sorted(model_seed(5, index, "story") for index in range(3))


def test_llm_text_examples_come_before_the_prompt_as_earlier_turns_rendered_with_the_record():
    backend = EchoBackend(echo_only=True)
    spec = spec_with(
        {
            "name": "answer",
            "kind": "llm_text",
            "system_prompt": "Answer with one word.",
            "examples": [
                {"user": "Colour of {{ fruit }}?", "assistant": "{{ colour }}"},
                {"user": "Colour of snow?", "assistant": "White"},
            ],
            "prompt": "Colour of grass?",
        },
        sampler("fruit", "category", values=["lemons"]),  # read by an example only, yet made before the column
        sampler("colour", "category", values=["Yellow"]),
    )
    preview(spec, n=1, backends={"default": backend})
    assert backend.requests[0]["messages"] == [
        {"role": "system", "content": "Answer with one word."},
        {"role": "user", "content": "Colour of lemons?"},
        {"role": "assistant", "content": "Yellow"},
        {"role": "user", "content": "Colour of snow?"},
        {"role": "assistant", "content": "White"},
        {"role": "user", "content": "Colour of grass?"},
    ]


def test_llm_columns_with_when_call_the_model_only_for_the_records_that_need_it():
    backend = EchoBackend(echo_only=True)
    spec = spec_with(
        sampler("mood", "category", values=["calm", "angry"]),
        {"name": "apology", "kind": "llm_text", "prompt": "Apologise", "when": "{{ mood == 'angry' }}"},
        {"name": "form", "kind": "llm_json", "prompt": "Fill", "when": "{{ mood == 'angry' }}",
         "json_schema": {"type": "object"}},
    )
    rows = preview(spec, n=40, backends={"default": backend})
    angry = sum(row["mood"] == "angry" for row in rows)
    assert 0 < angry < 40
    assert all((row["apology"] != "") == (row["mood"] == "angry") for row in rows)
    assert all((row["form"] is None) == (row["mood"] == "calm") for row in rows)
    assert len(backend.requests) == 2 * angry


def test_a_when_that_is_neither_true_nor_false_is_named_in_the_error():
    spec = spec_with({"name": "apology", "kind": "llm_text", "prompt": "Apologise", "when": "{{ 'perhaps' }}"})
    rows = preview(spec, n=2)
    assert all(row["_column"] == "apology" for row in rows)
    assert all("`when` rendered 'perhaps', which is neither true nor false" in row["_error"] for row in rows)


def test_llm_json_values_follow_the_schema():
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "stars": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["title", "stars"],
    }
    rows = preview(spec_with({"name": "review", "kind": "llm_json", "prompt": "Review", "json_schema": schema}), n=5)
    assert all(set(row["review"]) == {"title", "stars"} and 1 <= row["review"]["stars"] <= 5 for row in rows)


def test_judges_give_a_score_and_a_reason_per_criterion_within_its_range():
    rows = preview(
        spec_with(
            {"name": "text", "kind": "expression", "template": "hello"},
            {
                "name": "quality",
                "kind": "llm_judge",
                "prompt": "Text: {{ text }}",
                "rubric": [
                    {"name": "clarity", "description": "Is it clear?", "min": 1, "max": 3},
                    {"name": "tone", "description": "Is it kind?", "min": 0, "max": 10},
                ],
            },
        ),
        n=20,
    )
    for row in rows:
        assert set(row["quality"]) == {"scores", "reasons"}
        assert 1 <= row["quality"]["scores"]["clarity"] <= 3 and 0 <= row["quality"]["scores"]["tone"] <= 10
        assert row["quality"]["reasons"]["clarity"]


def test_dialogues_alternate_roles_each_with_its_own_prompt_and_backend():
    student, teacher = EchoBackend(model="small"), EchoBackend(model="big")
    spec = spec_with(
        sampler("subject", "category", values=["fractions"]),
        {
            "name": "lesson",
            "kind": "dialogue",
            "turns": 5,
            "roles": [
                {"name": "student", "system_prompt": "You are learning {{ subject }}."},
                {"name": "teacher", "system_prompt": "You teach {{ subject }}.", "backend": "tutor"},
            ],
        },
        backends={"default": {"kind": "test-echo"}, "tutor": {"kind": "test-echo", "model": "big"}},
    )
    [row] = preview(spec, n=1, backends={"default": student, "tutor": teacher})
    transcript = row["lesson"]
    assert [m["role"] for m in transcript] == ["student", "teacher", "student", "teacher", "student"]
    assert len(student.requests) == 3 and len(teacher.requests) == 2
    # The teacher sees the student's messages as the user's, under its own system prompt.
    last_teacher = teacher.requests[-1]["messages"]
    assert last_teacher[0] == {"role": "system", "content": "You teach fractions."}
    assert [m["role"] for m in last_teacher[1:]] == ["user", "assistant", "user"]
    assert [m["content"] for m in last_teacher[1:]] == [m["content"] for m in transcript[:3]]


def test_dialogues_stop_after_the_stop_phrase_and_can_open_with_a_fixed_message():
    spec = spec_with(
        {
            "name": "chat",
            "kind": "dialogue",
            "turns": 10,
            "stop_phrase": "goodbye",
            "opening": "Hello there",
            "roles": [{"name": "a", "system_prompt": "A"}, {"name": "b", "system_prompt": "B"}],
        }
    )
    [row] = preview(spec, n=1, backends={"default": EchoBackend(goodbye_after=3)})
    assert row["chat"][0] == {"role": "a", "content": "Hello there"}
    assert "GOODBYE" in row["chat"][-1]["content"]
    assert len(row["chat"]) < 10


# ---------------------------------------------------------------------------------------------- expressions, validators


def test_expressions_render_and_cast():
    rows = preview(
        spec_with(
            sampler("a", "integer", low=1, high=9),
            {"name": "double", "kind": "expression", "template": "{{ a * 2 }}", "cast": "int"},
            {"name": "big", "kind": "expression", "template": "{{ a > 4 }}", "cast": "bool"},
            {"name": "obj", "kind": "expression", "template": '{"a": {{ a }}}', "cast": "json"},
            {"name": "text", "kind": "expression", "template": "a={{ a }}"},
        ),
        n=30,
    )
    for row in rows:
        assert row["double"] == 2 * row["a"] and row["big"] == (row["a"] > 4) and row["obj"] == {"a": row["a"]}
        assert row["text"] == f"a={row['a']}"


def test_a_value_that_does_not_cast_fails_only_its_record_naming_the_column():
    [row] = preview(spec_with({"name": "n", "kind": "expression", "template": "many", "cast": "int"}), n=1)
    assert row["_column"] == "n" and "not a valid int" in row["_error"]


def has_vowel(value):
    return any(letter in value for letter in "aeiou")


def longer_than_topic(value, record):
    if value == "boom":
        raise RuntimeError("exploded")
    return len(value) > len(record["topic"]), f"{len(value)} characters"


def test_python_validators_are_found_by_import_path_and_may_read_the_record():
    rows = preview(
        spec_with(
            sampler("topic", "category", values=["sky", "boom", "ocean"]),
            {"name": "vowel", "kind": "validator", "validator": "python", "target": "topic",
             "function": "test_pipeline_columns:has_vowel"},
            {"name": "digits", "kind": "validator", "validator": "python", "target": "topic",
             "function": "builtins:str.isdigit"},
            {"name": "long", "kind": "validator", "validator": "python", "template": "{{ topic }}!",
             "function": "test_pipeline_columns.longer_than_topic"},
        ),
        n=30,
    )
    for row in rows:
        assert row["vowel"]["passed"] == (row["topic"] != "sky")
        assert row["digits"] == {"passed": False, "message": ""}
        if row["topic"] == "boom":
            assert row["long"] == {"passed": True, "message": "5 characters"}
        else:
            assert row["long"]["passed"] and row["long"]["message"].endswith("characters")


def test_a_validator_function_that_raises_fails_the_check_not_the_record():
    [row] = preview(
        spec_with(
            {"name": "v", "kind": "expression", "template": "boom"},
            {"name": "check", "kind": "validator", "validator": "python", "target": "v",
             "function": "test_pipeline_columns:longer_than_topic"},
        ),
        n=1,
    )
    assert row["check"] == {"passed": False, "message": "RuntimeError: exploded"}


def test_regex_validators_search_or_fullmatch():
    rows = preview(
        spec_with(
            {"name": "code", "kind": "expression", "template": "AB-123"},
            {"name": "has_digits", "kind": "validator", "validator": "regex", "target": "code", "pattern": r"\d+"},
            {"name": "exact", "kind": "validator", "validator": "regex", "target": "code", "pattern": r"[a-z]{2}-\d{3}",
             "mode": "fullmatch", "ignore_case": True},
            {"name": "strict", "kind": "validator", "validator": "regex", "target": "code", "pattern": r"\d",
             "mode": "fullmatch"},
        ),
        n=1,
    )
    assert rows[0]["has_digits"] == {"passed": True, "message": "matched '123'"}
    assert rows[0]["exact"]["passed"] and not rows[0]["strict"]["passed"]


def test_new_validator_kinds_plug_in_by_name():
    from pydantic import BaseModel

    @register_validator("max_words")
    class MaxWords(Validator):
        class Options(BaseModel):
            limit: int

        async def check(self, value, record):  # async kinds (a sandbox) are awaited
            words = len(str(value).split())
            return ValidationOutcome(words <= self.options.limit, f"{words} words")

    rows = preview(
        spec_with(
            {"name": "text", "kind": "expression", "template": "one two three"},
            {"name": "short", "kind": "validator", "validator": "max_words", "target": "text", "limit": 2},
        ),
        n=1,
    )
    assert rows[0]["short"] == {"passed": False, "message": "3 words"}
