"""Verify and repair at run time: a failed answer is asked for again with the failure shown, every attempt is kept
and counted, seeds are derived, a resumed run is the same, and a flagged dialogue turn is repaired in place."""

from __future__ import annotations

import json

import test_pipeline_support  # noqa: F401  (registers the test-echo backend kind)
from perpetuum.llm.base import Backend, Completion
from perpetuum.pipeline import generate, preview
from perpetuum.pipeline.repair import failure_feedback, flags_turn, repair_request
from perpetuum.pipeline.seeds import model_seed

REPAIR_MARKERS = ("Your answer did not pass the check", "Your last message did not pass the check")


class ScriptedBackend(Backend):
    """Answers from a script: `script[0]` first, and to a repair request (a previous answer shown with the failure)
    the line after the one that answer came from (the last line repeats). `{seed}` in a line is replaced by the
    call's seed. A call costs one prompt token per word sent and one completion token per word answered."""

    name = "scripted"
    model_name = "scripted-1"
    max_concurrency = 4

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.requests: list[dict] = []

    def _line_after(self, previous: str) -> int:
        heads = [line.split("{seed}")[0] for line in self.script]
        matches = [i for i, head in enumerate(heads) if previous.startswith(head)]
        line = max(matches, key=lambda i: len(heads[i]))
        return min(line + 1, len(self.script) - 1)

    async def chat(self, messages, params, json_schema=None) -> Completion:
        self.requests.append({"messages": messages, "seed": params.seed, "json_schema": json_schema})
        asked_again = messages[-1]["role"] == "user" and messages[-1]["content"].startswith(REPAIR_MARKERS)
        line = self._line_after(messages[-2]["content"]) if asked_again else 0
        text = self.script[line].replace("{seed}", str(params.seed))
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(text, prompt_tokens, len(text.split()), self.model_name, "stop", 0.0)

    async def complete(self, prompt, params):
        return await self.chat([{"role": "user", "content": prompt}], params)


TOPIC = {"name": "topic", "kind": "sampler", "sampler": "category", "values": ["space", "sea"]}
HAS_MOON = {"name": "has_moon", "kind": "validator", "validator": "regex", "target": "story", "pattern": "moon"}


def story_spec(attempts: int = 2, **story) -> dict:
    column = {"name": "story", "kind": "llm_text", "prompt": "A story about {{ topic }}",
              "repair": {"validator": "has_moon", "attempts": attempts}, **story}
    return {"name": "stories", "seed": 5, "backends": {"default": {"kind": "test-echo"}},
            "columns": [TOPIC, column, HAS_MOON], "filters": [{"kind": "validator", "column": "has_moon"}]}


def test_a_failed_answer_is_asked_for_again_with_the_failure_and_the_first_pass_is_kept(tmp_path):
    backend = ScriptedBackend(["A tale of the sea. {seed}", "A tale of the moon. {seed}"])
    result = generate(story_spec(), 2, tmp_path, progress=False, backends={"default": backend})
    assert result.n_kept == 2
    assert all("moon" in record["story"] and record["has_moon"]["passed"] for record in result.records)
    repair_call = backend.requests[1]["messages"]
    assert repair_call[-2]["role"] == "assistant" and repair_call[-2]["content"].startswith("A tale of the sea.")
    assert repair_call[-1]["role"] == "user"
    request = repair_call[-1]["content"]
    assert "`has_moon`" in request and "nothing in the text matches /moon/" in request
    assert repair_call[:-2] == backend.requests[0]["messages"]  # the column's own messages come first
    assert len(backend.requests) == 4  # one first answer and one repair per record: it stops at the first pass


def test_a_repair_request_keeps_the_worked_examples_before_the_prompt(tmp_path):
    backend = ScriptedBackend(["A tale of the sea. {seed}", "A tale of the moon. {seed}"])
    examples = [{"user": "A story about stars", "assistant": "The moon rose over the stars."}]
    generate(story_spec(examples=examples), 1, tmp_path, progress=False, backends={"default": backend})
    first, repair = (request["messages"] for request in backend.requests)
    assert first[:2] == [{"role": "user", "content": "A story about stars"},
                         {"role": "assistant", "content": "The moon rose over the stars."}]
    assert repair[:-2] == first and repair[-2]["content"].startswith("A tale of the sea.")


def test_every_attempt_is_kept_in_the_record_history_with_its_verdict_and_tokens(tmp_path):
    backend = ScriptedBackend(["sea {seed}", "still the sea {seed}", "the moon {seed}"])
    generate(story_spec(attempts=3), 1, tmp_path, progress=False, backends={"default": backend})
    entry = json.loads(next((tmp_path / "checkpoint").glob("shard-*.jsonl")).read_text().splitlines()[0])
    (summary,) = entry["repairs"]
    assert summary["column"] == "story" and summary["validator"] == "has_moon"
    assert (summary["first_passed"], summary["passed"], summary["attempts"]) == (False, True, 2)
    history = summary["history"]
    assert [item["attempt"] for item in history] == [0, 1, 2]
    assert history[0]["value"].startswith("sea") and not history[0]["verdict"]["passed"]
    assert history[1]["value"].startswith("still the sea") and not history[1]["verdict"]["passed"]
    assert history[2]["value"] == entry["record"]["story"] and history[2]["verdict"]["passed"]
    for item, request in zip(history[1:], backend.requests[1:]):
        assert item["completion_tokens"] == len(item["value"].split())
        assert item["prompt_tokens"] == sum(len(m["content"].split()) for m in request["messages"])
    assert summary["completion_tokens"] == sum(item["completion_tokens"] for item in history[1:])
    repairs_file = [json.loads(line) for line in (tmp_path / "repairs.jsonl").read_text().splitlines()]
    assert repairs_file == [{"index": 0, "outcome": "kept", "repairs": [summary]}]


def test_when_the_attempts_run_out_the_last_answer_stays_and_the_record_is_flagged(tmp_path):
    backend = ScriptedBackend(["sea one", "sea two", "sea three", "the moon, too late"])
    result = generate(story_spec(attempts=2), 1, tmp_path, progress=False, backends={"default": backend})
    assert len(backend.requests) == 3
    assert result.n_kept == 0 and result.dropped == {"filters[0]: has_moon passed": 1}
    dropped = json.loads((tmp_path / "dropped.jsonl").read_text())
    assert dropped["record"]["story"] == "sea three"
    (line,) = [json.loads(text) for text in (tmp_path / "repairs.jsonl").read_text().splitlines()]
    assert line["outcome"] == "dropped"
    assert (line["repairs"][0]["passed"], line["repairs"][0]["attempts"]) == (False, 2)


def test_repair_tokens_count_in_the_run_totals_and_in_the_card(tmp_path):
    backend = ScriptedBackend(["sea {seed}", "moon {seed}"])
    result = generate(story_spec(), 3, tmp_path, progress=False, backends={"default": backend},
                      prices={"default": {"input_per_million": 1e6, "output_per_million": 2e6}})
    sent = sum(sum(len(m["content"].split()) for m in request["messages"]) for request in backend.requests)
    answered = 2 * len(backend.requests)  # every answer here is two words
    card = result.card
    assert card["tokens"]["prompt"] == sent and card["tokens"]["completion"] == answered
    repairs = card["repairs"]["story"]
    repair_requests = backend.requests[1::2]
    assert repairs["tokens"] == {"prompt": sum(sum(len(m["content"].split()) for m in r["messages"])
                                               for r in repair_requests),
                                 "completion": 2 * len(repair_requests)}
    assert repairs["cost_usd"] == repairs["tokens"]["prompt"] + 2 * repairs["tokens"]["completion"]
    assert card["cost_usd"]["total"] == sent + 2 * answered


def test_each_attempt_has_its_own_derived_seed_and_runs_repeat(tmp_path):
    first = ScriptedBackend(["sea {seed}", "sea again {seed}", "moon {seed}"])
    again = ScriptedBackend(["sea {seed}", "sea again {seed}", "moon {seed}"])
    one = generate(story_spec(attempts=3), 2, tmp_path / "a", progress=False, backends={"default": first})
    two = generate(story_spec(attempts=3), 2, tmp_path / "b", progress=False, backends={"default": again})
    assert one.records == two.records
    seeds = sorted(request["seed"] for request in first.requests)
    expected = sorted(model_seed(5, index, "story", *salt) for index in range(2)
                      for salt in [(), ("repair", 1), ("repair", 2)])
    assert seeds == expected and len(set(seeds)) == 6


def test_a_resumed_run_gives_the_same_records_and_repair_figures(tmp_path):
    script = ["sea {seed}", "moon {seed}"]
    whole = generate(story_spec(), 4, tmp_path / "whole", progress=False, backends={"default": ScriptedBackend(script)})
    generate(story_spec(), 2, tmp_path / "parts", progress=False, backends={"default": ScriptedBackend(script)})
    resumed = generate(story_spec(), 4, tmp_path / "parts", resume=True, progress=False,
                       backends={"default": ScriptedBackend(script)})
    assert resumed.records == whole.records
    assert resumed.card["repairs"] == whole.card["repairs"]
    assert resumed.card["repairs"]["story"]["records_repaired"] == 4


def test_columns_between_are_made_again_from_the_repair_but_model_columns_keep_their_value(tmp_path):
    spec = story_spec()
    spec["columns"] = [
        TOPIC,
        {"name": "story", "kind": "llm_text", "prompt": "A story about {{ topic }}",
         "repair": {"validator": "checked"}},
        {"name": "shout", "kind": "expression", "template": "{{ story | upper }}"},
        {"name": "critique", "kind": "llm_text", "prompt": "Critique: {{ story }}"},
        {"name": "title", "kind": "llm_text", "prompt": "A title for: {{ story }}"},
        {"name": "checked", "kind": "validator", "validator": "regex", "template": "{{ shout }} | {{ critique }}",
         "pattern": "MOON"},
    ]
    spec["filters"] = []
    backend = ScriptedBackend(["sea", "moon"])
    (record,) = generate(spec, 1, tmp_path, progress=False, backends={"default": backend}).records
    assert record["story"] == "moon" and record["shout"] == "MOON" and record["checked"]["passed"]
    prompts = [request["messages"][0]["content"] for request in backend.requests]
    assert prompts.count("Critique: sea") == 1 and not any(p == "Critique: moon" for p in prompts)
    # `title` reads the story but the check does not need it: it runs after the repair and sees the final story.
    assert "A title for: moon" in prompts and "A title for: sea" not in prompts


def test_an_llm_json_column_is_repaired_with_its_previous_object_shown(tmp_path):
    spec = {
        "name": "facts", "seed": 1, "backends": {"default": {"kind": "test-echo"}},
        "columns": [
            {"name": "fact", "kind": "llm_json", "prompt": "A fact", "repair": {"validator": "positive"},
             "json_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
            {"name": "positive", "kind": "validator", "validator": "python", "target": "fact",
             "function": "test_pipeline_repair:positive_n"},
        ],
    }
    backend = ScriptedBackend(['{"n": -3}', '{"n": 4}'])
    (record,) = preview(spec, 1, backends={"default": backend})
    assert record["fact"] == {"n": 4} and record["positive"]["passed"]
    request = backend.requests[1]["messages"]
    assert request[-2] == {"role": "assistant", "content": '{"n": -3}'}
    assert "n is -3, it must be above 0" in request[-1]["content"]
    assert "corrected JSON object only" in request[-1]["content"]
    assert record["_repairs"] == [{"column": "fact", "validator": "positive", "attempts": 1, "passed": True,
                                   "first_verdict": "n is -3, it must be above 0"}]


class ExerciseBackend(Backend):
    """A teacher who writes a buggy `add` first and fixes it when shown the failing assert, and a tester who writes
    the same asserts every time."""

    name = "exercise"
    model_name = "exercise-1"
    max_concurrency = 2

    def __init__(self) -> None:
        self.requests: list[list[dict]] = []

    async def chat(self, messages, params, json_schema=None) -> Completion:
        self.requests.append(messages)
        if messages[0]["content"].startswith("Write asserts"):
            text = "```python\nassert add(2, 3) == 5\nassert add(0, 0) == 0\n```"
        elif "add(2, 3) gave -1" in messages[-1]["content"]:
            text = "```python\ndef add(a, b):\n    return a + b\n```"
        else:
            text = "```python\ndef add(a, b):\n    return a - b\n```"
        return Completion(text, 10, 10, self.model_name, "stop", 0.0)

    async def complete(self, prompt, params):
        return await self.chat([{"role": "user", "content": prompt}], params)


def test_a_solution_is_debugged_with_the_sandbox_error_while_its_tests_stay_as_written(tmp_path):
    spec = {
        "name": "exercises", "seed": 2, "backends": {"default": {"kind": "test-echo"}},
        "columns": [
            {"name": "answer", "kind": "llm_text", "prompt": "Write add(a, b)", "repair": {"validator": "tests_pass"}},
            {"name": "solution", "kind": "expression", "template": "{{ answer | code(first=true) }}"},
            {"name": "tests_answer", "kind": "llm_text", "prompt": "Write asserts for {{ solution | function_name }}"},
            {"name": "tests", "kind": "expression", "template": "{{ tests_answer | asserts }}"},
            {"name": "tests_pass", "kind": "validator", "validator": "code", "target": "solution",
             "tests": "{{ tests }}"},
        ],
    }
    backend = ExerciseBackend()
    (record,) = generate(spec, 1, tmp_path, progress=False, backends={"default": backend}).records
    assert record["tests_pass"]["passed"] and "a + b" in record["solution"]
    assert sum(m[0]["content"].startswith("Write asserts") for m in backend.requests) == 1
    shown = backend.requests[-1][-1]["content"]
    assert "tests.py:1: assert add(2, 3) == 5 (add(2, 3) gave -1)" in shown


def positive_n(value) -> dict:
    return {"passed": value["n"] > 0, "message": f"n is {value['n']}, it must be above 0"}


# ------------------------------------------------------------------------------------------------ dialogues


CLAIM_CHECK = "perpetuum.recipes.math_claims:check_claims"  # the maths recipe's sympy claim checker


def dialogue_spec(validator_function: str = CLAIM_CHECK, attempts: int = 2) -> dict:
    return {
        "name": "lessons", "seed": 9, "backends": {"default": {"kind": "test-echo"}},
        "columns": [
            {"name": "lesson", "kind": "dialogue", "turns": 4, "opening": "Help me add.", "roles": [
                {"name": "student", "system_prompt": "You are a student."},
                {"name": "teacher", "system_prompt": "You are a teacher.",
                 "repair": {"validator": "claims", "attempts": attempts}}]},
            {"name": "claims", "kind": "validator", "validator": "python", "target": "lesson",
             "function": validator_function},
        ],
    }


class ClassroomBackend(ScriptedBackend):
    """A student who always asks, and a teacher scripted like ScriptedBackend."""

    async def chat(self, messages, params, json_schema=None):
        if messages[0]["content"] == "You are a student.":
            self.requests.append({"messages": messages, "seed": params.seed, "student": True})
            return Completion("Why?", 1, 1, self.model_name, "stop", 0.0)
        return await super().chat(messages, params, json_schema)


def test_a_flagged_teacher_turn_is_repaired_before_the_student_answers(tmp_path):
    backend = ClassroomBackend(["So 2 + 2 = 5. {seed}", "So 2 + 2 = 4. {seed}"])
    result = generate(dialogue_spec(), 1, tmp_path, progress=False, backends={"default": backend})
    (record,) = result.records
    lesson = record["lesson"]
    assert [turn["role"] for turn in lesson] == ["student", "teacher", "student", "teacher"]
    for turn in (1, 3):
        assert lesson[turn]["content"].startswith("So 2 + 2 = 4.")
        repair = lesson[turn]["repair"]
        assert set(repair) == {"original", "validator", "verdict", "attempts"}
        assert repair["original"].startswith("So 2 + 2 = 5.") and repair["validator"] == "claims"
        assert repair["attempts"] == 1
        assert repair["verdict"]["passed"] is False and repair["verdict"]["flags"][0]["turn"] == turn
    assert record["claims"]["passed"]
    # The student answered the repaired turn: its view holds the correction, never the wrong statement.
    student_view = [r for r in backend.requests if r.get("student")][0]["messages"]
    assert any("2 + 2 = 4" in m["content"] for m in student_view)
    assert not any("2 + 2 = 5" in m["content"] for m in student_view)
    # The teacher was shown the claim, why it is wrong and the expected value.
    request = backend.requests[1]["messages"][-1]["content"]
    assert "'2 + 2 = 5' is wrong: the left side is 4, not 5 (correct: 2 + 2 = 4)" in request
    (summary,) = json.loads(next((tmp_path / "checkpoint").glob("*.jsonl")).read_text())["repairs"]
    assert summary["role"] == "teacher" and summary["turns_checked"] == 2 and summary["turns_flagged"] == 2
    assert (summary["first_passed"], summary["passed"], summary["attempts"]) == (False, True, 2)
    assert [(item["turn"], item["attempt"]) for item in summary["history"]] == [(1, 0), (1, 1), (3, 0), (3, 1)]


def test_an_unrepaired_turn_keeps_the_last_attempt_and_the_verdict_on_the_original(tmp_path):
    backend = ClassroomBackend(["2 + 2 = 5 {seed}"])
    (record,) = generate(dialogue_spec(attempts=2), 1, tmp_path, progress=False,
                         backends={"default": backend}).records
    turn = record["lesson"][1]
    assert turn["repair"]["attempts"] == 2 and turn["content"] != turn["repair"]["original"]
    assert not record["claims"]["passed"]
    card = json.loads((tmp_path / "card.json").read_text())["repairs"]["lesson.teacher"]
    assert (card["first_try_passed"], card["after_repair_passed"], card["records_fixed"]) == (0, 0, 0)
    assert card["turns_flagged"] == 2


def fails_on_long_dialogues(dialogue) -> dict:
    return {"passed": len(dialogue) < 4, "message": "too long"}


def test_a_failing_validator_without_flags_flags_the_turn_just_spoken(tmp_path):
    backend = ClassroomBackend(["fine {seed}"])
    (record,) = generate(dialogue_spec("test_pipeline_repair:fails_on_long_dialogues", attempts=1), 1, tmp_path,
                         progress=False, backends={"default": backend}).records
    assert "repair" not in record["lesson"][1]
    assert record["lesson"][3]["repair"]["attempts"] == 1
    assert record["lesson"][3]["repair"]["verdict"] == {"passed": False, "message": "too long"}


# ------------------------------------------------------------------------------------------------ messages


def test_the_failure_shown_is_the_flags_of_the_turn_or_else_the_message():
    from perpetuum.recipes.math_claims import check_claims

    verdict = check_claims([{"role": "teacher", "content": "2 + 2 = 5"}, {"role": "student", "content": "ok"},
                               {"role": "teacher", "content": "and 2 + 2 = 5"}])
    assert failure_feedback(verdict, turn=2) == "- '2 + 2 = 5' is wrong: the left side is 4, not 5 (correct: 2 + 2 = 4)"
    assert failure_feedback({"passed": False, "message": "missing noun 'cat'"}) == "missing noun 'cat'"
    assert "`words_used`" in repair_request("words_used", {"passed": False, "message": "missing noun 'cat'"})
    assert flags_turn(verdict, 2) and not flags_turn(verdict, 1)
    assert flags_turn({"passed": False, "message": "no flags"}, 7) and not flags_turn({"passed": True}, 7)


def test_preview_shows_what_was_repaired_and_nothing_when_the_first_answer_passed():
    rows = preview(story_spec(), 2, backends={"default": ScriptedBackend(["moon {seed}"])})
    assert all("_repairs" not in row for row in rows)
    rows = preview(story_spec(), 1, backends={"default": ScriptedBackend(["sea", "moon"])})
    assert rows[0]["_repairs"] == [{"column": "story", "validator": "has_moon", "attempts": 1, "passed": True,
                                    "first_verdict": "nothing in the text matches /moon/"}]


def test_a_run_without_repair_keys_writes_no_repairs_file(tmp_path):
    spec = story_spec()
    del spec["columns"][1]["repair"]
    result = generate(spec, 1, tmp_path, progress=False, backends={"default": ScriptedBackend(["moon"])})
    assert "repairs" not in result.files and not (tmp_path / "repairs.jsonl").exists()
    assert result.card["repairs"] == {}


# ------------------------------------------------------------------------------------------------ validators


def test_the_code_validator_names_the_failing_assert_what_it_gave_and_where_the_solution_raised():
    from perpetuum.pipeline.columns.validators import build_validator, check_column
    from perpetuum.pipeline.spec_models import ValidatorColumn

    column = ValidatorColumn(name="tests_pass", kind="validator", validator="code", target="solution",
                             tests="{{ tests }}")
    validator = build_validator("code", column.options)

    def verdict(solution: str, tests: str) -> dict:
        return test_pipeline_support.run(check_column(column, validator, {"solution": solution, "tests": tests}))

    wrong = verdict("def add(a, b):\n    return a - b\n", "assert add(1, 1) == 2\nassert add(2, 3) == 5\n")
    assert wrong["message"] == ("failed (AssertionError): tests: AssertionError at tests.py:1: assert add(1, 1) == 2 "
                                "(add(1, 1) gave 0)")
    raised = verdict("def inv(a):\n    return 1 / a\n", "assert inv(2) == 0.5\nassert inv(0) == 0\n")
    assert raised["message"] == ("failed (ZeroDivisionError): tests: ZeroDivisionError at tests.py:2: "
                                 "assert inv(0) == 0, raised at solution.py:2: return 1 / a (division by zero)")
    assert verdict("no code here, sorry", "assert True")["message"].startswith("failed (SyntaxError)")


def test_the_recipe_checks_say_what_is_wrong_precisely_enough_to_repair():
    from perpetuum.recipes.math_claims import check_claims
    from perpetuum.recipes.stories import check_required_words

    words = check_required_words("The dog ran home. " * 10, {"noun": "dog", "verb": "swim", "adjective": "purple"})
    assert words["message"] == ("missing words: the story never uses the verb 'swim' or the adjective 'purple'; use "
                                "each of them at least once (any form counts, e.g. plural or past tense)")
    claims = check_claims([{"role": "teacher", "content": "So 1/2 + 1/3 = 2/5."}])
    assert claims["message"] == ("1 of 1 claims wrong: turn 0: 1/2 + 1/3 = 2/5 is wrong, the left side is 5/6, "
                                 "not 2/5 (correct: 1/2 + 1/3 = 5/6)")


def test_the_review_desk_shows_a_generated_repair_beside_its_original(tmp_path):
    from perpetuum.review.dataset import load_dataset
    from perpetuum.review.render import field_views

    generate(dialogue_spec(), 1, tmp_path, progress=False,
             backends={"default": ClassroomBackend(["So 2 + 2 = 5. {seed}", "So 2 + 2 = 4. {seed}"])})
    dataset = load_dataset(tmp_path)
    (record,) = dataset.records
    (lesson,) = [view for view in field_views(record, record, dataset.columns, None) if view["name"] == "lesson"]
    repair = lesson["turns"][1]["repair"]
    assert repair["validator"] == "claims" and repair["attempts"] == 1
    assert "2 + 2 = 5" in str(repair["original_html"]) and repair["flags"][0]["expected"] == "2 + 2 = 4"


# ------------------------------------------------------------------------------------------------ the card


def _entry(index: int, status: str = "ok", **summary) -> dict:
    base = {"column": "story", "validator": "has_moon", "first_passed": True, "passed": True, "attempts": 0,
            "prompt_tokens": 0, "completion_tokens": 0, "history": []}
    return {"index": index, "status": status, "record": {}, "usage": {}, "repairs": [base | summary]}


def test_the_card_gives_first_try_and_after_repair_pass_rates_of_requested_and_made_records():
    from perpetuum.card.repairs import repair_section, repairs_markdown
    from perpetuum.pipeline import load_spec

    spec = load_spec(story_spec(attempts=3))
    entries = [
        _entry(0),                                                           # passed at first
        _entry(1, first_passed=False, attempts=1, prompt_tokens=30, completion_tokens=5),   # fixed
        _entry(2, first_passed=False, attempts=3, prompt_tokens=90, completion_tokens=15),  # fixed at the end
        _entry(3, first_passed=False, passed=False, attempts=3, prompt_tokens=80, completion_tokens=12),  # not
        _entry(4, "failed", first_passed=False, passed=False, attempts=2, prompt_tokens=40, completion_tokens=8),
    ]
    section = repair_section(spec, entries, n_requested=5, dollars_for=lambda usage: usage["default"]["prompt_tokens"])
    story = section["story"]
    assert story["first_try_pass_rate"] == {"of_requested": 0.2, "of_made": 0.25}
    assert story["after_repair_pass_rate"] == {"of_requested": 0.6, "of_made": 0.75}
    assert (story["records_checked"], story["records_repaired"], story["records_fixed"]) == (4, 3, 2)
    assert story["attempts_used"] == 9  # the failed record's two attempts were spent too
    assert story["mean_attempts_per_repaired_record"] == round(7 / 3, 4)
    assert story["tokens"] == {"prompt": 240, "completion": 40} and story["cost_usd"] == 240
    markdown = "\n".join(repairs_markdown(section))
    assert "## Repairs" in markdown
    row = "| story | has_moon | 25.0% / 20.0% | 75.0% / 60.0% | 3 (2) | 9 (up to 3 a record) | 240 / 40 | $240.0000 |"
    assert row in markdown
    assert repairs_markdown({}) == []


def test_the_card_markdown_and_the_generate_summary_show_the_repairs(tmp_path):
    from typer.testing import CliRunner

    from perpetuum.cli import app

    spec_path = tmp_path / "spec.json"
    spec = story_spec()
    spec["columns"][1]["params"] = {"max_tokens": 50}
    spec_path.write_text(json.dumps(spec))
    result = generate(spec, 2, tmp_path / "out", progress=False,
                      backends={"default": ScriptedBackend(["sea {seed}", "moon {seed}"])})
    assert "## Repairs" in (tmp_path / "out" / "card.md").read_text()
    assert result.card["repairs"]["story"]["after_repair_pass_rate"]["of_made"] == 1.0
    # The test-echo backend repeats the prompt: its first story has no moon, its repair echoes the request, which
    # names the /moon/ pattern.
    output = CliRunner().invoke(app, ["generate", str(spec_path), "-n", "2", "-o", str(tmp_path / "cli")]).output
    assert "repaired story (has_moon): 0% passed at first, 100% after repair; 2 repaired with 2 attempts" in output


def test_the_data_files_hold_no_repair_history_and_no_dropped_column(tmp_path):
    spec = story_spec(drop=True)
    spec["columns"].append({"name": "first_word", "kind": "expression", "template": "{{ story.split()[0] }}"})
    result = generate(spec, 2, tmp_path, progress=False, backends={"default": ScriptedBackend(["sea", "moon"])})
    rows = [json.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines()]
    assert rows == result.records and all(set(row) == {"topic", "has_moon", "first_word"} for row in rows)
    assert all(row["first_word"] == "moon" for row in rows)  # made from the repaired story
