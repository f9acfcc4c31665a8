"""Dataset specs: what a valid spec looks like, the order columns run in, and errors that name the key to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import test_pipeline_support  # noqa: F401  (registers the test-echo backend kind)
from perpetuum.pipeline import SpecError, load_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "specs"


def spec_with(*columns, **top) -> dict:
    return {"name": "t", "backends": {"default": {"kind": "test-echo"}}, "columns": list(columns), **top}


TOPIC = {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["space", "sea"]}


def error_of(data) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(data)
    return str(caught.value)


def test_unknown_column_in_a_prompt_names_the_key_path_and_suggests_the_close_name():
    message = error_of(spec_with(TOPIC, {"name": "story", "kind": "llm_text", "prompt": "About {{ topci }}"}))
    assert "columns[1].prompt: unknown column 'topci' (did you mean 'topic'?)" in message


def test_an_unknown_column_in_an_example_turn_names_the_example_and_the_turn():
    column = {"name": "story", "kind": "llm_text", "prompt": "About {{ topic }}",
              "examples": [{"user": "About the sea", "assistant": "{{ topci }} waves"}]}
    message = error_of(spec_with(TOPIC, column))
    assert "columns[1].examples[0].assistant: unknown column 'topci' (did you mean 'topic'?)" in message


def test_every_problem_is_listed_not_just_the_first():
    message = error_of(
        spec_with(
            TOPIC,
            {"name": "a", "kind": "llm_text", "prompt": "{{ nope }}", "backend": "missing"},
            {"name": "b", "kind": "expression", "template": "{{ also_nope }}"},
        )
    )
    assert "columns[1].prompt: unknown column 'nope'" in message
    assert "columns[1].backend: unknown backend 'missing'" in message
    assert "columns[2].template: unknown column 'also_nope'" in message
    assert "3 problems" in message


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ({"name": "x", "kind": "llm_txt", "prompt": "hi"}, "columns[1].kind: unknown column kind 'llm_txt'"),
        ({"name": "x", "kind": "sampler", "sampler": "gaussian"}, "columns[1].sampler: unknown sampler 'gaussian'"),
        ({"name": "x", "kind": "llm_text"}, "columns[1].prompt: required key is missing"),
        ({"name": "x", "kind": "llm_text", "prompt": "hi", "temperature": 1}, "columns[1].temperature: unknown key"),
        ({"name": "x", "kind": "llm_text", "prompt": "hi", "params": {"top_p": 2}}, "columns[1].params.top_p:"),
        ({"name": "x-y", "kind": "expression", "template": "1"}, "columns[1].name:"),
        ({"name": "x", "kind": "expression", "template": "{{ topic "}, "columns[1].template: template error"),
        ({"name": "x", "kind": "sampler", "sampler": "uniform", "low": 5, "high": 1}, "high (1.0) must be >= low"),
        ({"name": "x", "kind": "sampler", "sampler": "category", "values": {"a": -1}}, "columns[1].values:"),
        ({"name": "x", "kind": "llm_json", "prompt": "hi", "json_schema": {"type": "nope"}}, "columns[1].json_schema"),
        (
            {"name": "x", "kind": "validator", "validator": "regex", "target": "topic", "pattern": "("},
            "columns[1].pattern: not a valid regular expression",
        ),
        (
            {"name": "x", "kind": "validator", "validator": "regex", "target": "topic", "patern": "a"},
            "columns[1].patern: unknown key for a 'regex' validator",
        ),
        (
            {"name": "x", "kind": "validator", "validator": "python", "target": "topic", "function": "nosuchmod:f"},
            "columns[1].function: cannot import 'nosuchmod'",
        ),
        (
            {"name": "x", "kind": "validator", "validator": "lint", "target": "topic"},
            "columns[1].validator: unknown validator kind 'lint'",
        ),
        (
            {"name": "x", "kind": "validator", "validator": "code", "target": "topic", "limits": {"wall_secs": 3}},
            "columns[1].limits: SandboxLimits.__init__() got an unexpected keyword argument 'wall_secs'",
        ),
        (
            {"name": "x", "kind": "sampler", "sampler": "subcategory", "parent": "topik", "values": {"a": ["b"]}},
            "columns[1].parent: unknown column 'topik'",
        ),
        (
            {"name": "x", "kind": "sampler", "sampler": "subcategory", "parent": "topic", "values": {"sea": ["a"]}},
            "columns[1].values: no sub-categories for topic 'space'",
        ),
        (
            {"name": "x", "kind": "dialogue", "roles": [{"name": "a", "system_prompt": "s"}]},
            "columns[1].roles: List should have at least 2 items",
        ),
    ],
)
def test_column_errors_name_the_offending_key(column, expected):
    assert expected in error_of(spec_with(TOPIC, column))


def test_spec_level_errors_name_their_keys():
    judge = {"name": "q", "kind": "llm_judge", "prompt": "{{ topic }}", "rubric": [{"name": "clear", "description": "d"}]}
    message = error_of(
        spec_with(
            TOPIC,
            judge,
            TOPIC,
            filters=[
                {"kind": "score", "column": "topic", "min": 3},
                {"kind": "score", "column": "q", "criterion": "clean", "min": 3},
                {"kind": "ranking", "column": "q"},
            ],
            dedup={"columns": ["storie"]},
            backends={"default": {"kind": "opneai"}},
        )
    )
    assert "filters[2].kind: unknown filter kind 'ranking'" in message
    # References between parts are checked once every part is well-formed on its own.
    message = error_of(
        spec_with(
            TOPIC,
            judge,
            TOPIC,
            filters=[
                {"kind": "score", "column": "topic", "min": 3},
                {"kind": "score", "column": "q", "criterion": "clean", "min": 3},
            ],
            dedup={"columns": ["storie"]},
            backends={"default": {"kind": "opneai"}},
        )
    )
    assert "columns[2].name: column 'topic' is defined twice" in message
    assert "backends.default.kind: unknown backend kind 'opneai' (did you mean 'openai'?)" in message
    assert "filters[0].column: 'topic' is not an llm_judge column" in message
    assert "filters[1].criterion: 'q' has no criterion 'clean' (did you mean 'clear'?)" in message
    assert "dedup.columns[0]: unknown column 'storie'" in message


def test_a_dependency_cycle_is_an_error_naming_its_columns():
    message = error_of(
        spec_with(
            {"name": "a", "kind": "expression", "template": "{{ c }}"},
            {"name": "b", "kind": "expression", "template": "{{ a }}"},
            {"name": "c", "kind": "llm_text", "prompt": "x", "depends_on": ["b"]},
        )
    )
    assert "dependency cycle a -> c -> b -> a" in message
    assert "columns[0]:" in message


def test_a_column_reading_itself_is_an_error():
    assert "columns[0].template: column 'a' cannot read itself" in error_of(
        spec_with({"name": "a", "kind": "expression", "template": "{{ a }}"})
    )


def test_columns_run_after_every_column_they_read_and_otherwise_in_spec_order():
    spec = load_spec(
        spec_with(
            {"name": "summary", "kind": "llm_text", "prompt": "Summarise {{ story }}"},
            {"name": "story", "kind": "llm_text", "system_prompt": "Be {{ mood }}", "prompt": "About {{ topic }}"},
            {"name": "mood", "kind": "sampler", "sampler": "category", "values": ["calm"]},
            TOPIC,
            {"name": "audit", "kind": "expression", "template": "ok", "depends_on": ["summary"]},
            {"name": "free", "kind": "sampler", "sampler": "integer", "low": 1, "high": 3},
            {
                "name": "chat",
                "kind": "dialogue",
                "opening": "{{ person.first_name }} asks",
                "roles": [{"name": "a", "system_prompt": "s"}, {"name": "b", "system_prompt": "{{ free }}"}],
            },
            {"name": "person", "kind": "sampler", "sampler": "person"},
        )
    )
    order = spec.column_order()
    assert order.index("story") < order.index("summary") < order.index("audit")
    assert order.index("mood") < order.index("story") and order.index("topic") < order.index("story")
    assert order.index("free") < order.index("chat") and order.index("person") < order.index("chat")
    assert order == ["mood", "topic", "story", "summary", "audit", "free", "person", "chat"]


def test_yaml_text_and_files_load_and_bad_yaml_says_where(tmp_path):
    text = "name: t\nbackends: {default: {kind: test-echo}}\ncolumns:\n  - {name: n, kind: sampler, sampler: integer, low: 1, high: 2}\n"
    assert load_spec(text).column_order() == ["n"]
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    assert load_spec(path).name == "t"
    path.write_text("name: t\ncolumns: [\n")
    assert "is not valid YAML at line" in error_of(path)
    assert "does not exist" in error_of(tmp_path / "missing.yaml")


def test_word_files_are_read_relative_to_the_spec(tmp_path):
    (tmp_path / "words.txt").write_text("alpha\nbeta\n")
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: t\nbackends: {default: {kind: test-echo}}\ncolumns:\n"
        "  - {name: w, kind: sampler, sampler: words, file: words.txt}\n"
    )
    assert load_spec(path).columns[0].file == str(tmp_path / "words.txt")
    path.write_text(path.read_text().replace("words.txt", "nope.txt"))
    assert "columns[0].file: word list" in error_of(path)


def test_no_backends_means_the_embedded_model():
    spec = load_spec({"name": "t", "columns": [{"name": "s", "kind": "llm_text", "prompt": "hi"}]})
    assert spec.backends["default"].kind == "embedded"
    assert spec.backend_for(None) == "default"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_specs_are_valid(path):
    spec = load_spec(path)
    assert spec.column_order()
