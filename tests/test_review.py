"""The review desk's store, export and web app (without a browser; tests/test_review_browser.py drives Chromium).

The dataset folders are written here in the generator's layout (data.jsonl, card.json, card.md, dropped.jsonl,
failures.jsonl), with the math-dialogue recipe's claim_check value shape, so no model is needed.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.review import ReviewError, ReviewStore, VersionConflict, create_app, export_reviewed
from perpetuum.review.render import field_views, looks_like_code, text_html

HOSTILE = '<script>window.__perpetuumInjected = 1</script><img src="x" onerror="window.__perpetuumImage = 1">'
WRONG_TURN = "Good start! 7 + 5 is 13, so you have 13 apples."
SOLUTION = 'def add(a, b):\n    """Sum of two numbers."""\n    return a + b  # simple\n'


def _record(index: int, *, lesson: list[dict], claim_ok: bool = True, flags=None, scores=(5, 4), title="Apples",
            solution=SOLUTION, tests_ok=True) -> dict:
    return {
        "student": {"first_name": f"Kid{index}", "age": 9},
        "operation": "addition",
        "a": 7,
        "b": 5,
        "answer": 12,
        "problem": {"title": title, "question": "Mia has 7 apples and gets 5 more. How many apples does she have?"},
        "lesson": lesson,
        "claim_check": {
            "passed": claim_ok,
            "message": "all claims hold" if claim_ok else f"{len(flags or [])} wrong claim(s)",
            "flags": flags or [],
        },
        "quality": {
            "scores": {"correctness": scores[0], "pedagogy": scores[1]},
            "reasons": {"correctness": "The arithmetic is right.", "pedagogy": "Gives hints, not the answer."},
        },
        "solution": solution,
        "tests_pass": {"passed": tests_ok, "message": "3 tests passed" if tests_ok else "AssertionError: add(2, 2) == 5"},
    }


def _lesson(teacher_reply: str, closing: str = "Well done, 12 is right!") -> list[dict]:
    return [
        {"role": "student", "content": "Mia has 7 apples and gets 5 more. I am not sure how to start."},
        {"role": "teacher", "content": teacher_reply},
        {"role": "student", "content": "Is it 12?"},
        {"role": "teacher", "content": closing},
    ]


def dataset_records() -> list[dict]:
    """Four records: 0 has a wrong teacher claim (flagged), 1 is fine, 2 holds hostile markup, 3 scores low and
    fails its code tests."""
    return [
        _record(
            0,
            lesson=_lesson(WRONG_TURN),
            claim_ok=False,
            flags=[{"turn": 1, "role": "teacher", "claim": "7 + 5 = 13", "reason": "7 + 5 is 12, not 13", "expected": "12"}],
            scores=(2, 4),
        ),
        _record(1, lesson=_lesson("What do you get when you put 7 and 5 together?")),
        _record(2, lesson=_lesson(HOSTILE), title=HOSTILE),
        _record(3, lesson=_lesson("Count on from 7."), scores=(1, 2), solution="def add(a, b):\n    return a - b\n",
                tests_ok=False),
    ]


REPAIRED_TURN = "Good start! 7 + 5 is 12, so Mia has 12 apples."
ORIGINAL_TURN = "Good start! 7 + 5 is 13, so Mia has 13 apples."


def repaired_records() -> list[dict]:
    """Two records whose teacher turn 1 was repaired automatically (verify-and-repair): the turn holds the repair,
    and `repair` the original with the claim checker's verdict on it."""
    records = []
    for index in range(2):
        record = _record(index, lesson=_lesson(REPAIRED_TURN))
        record["lesson"][1]["repair"] = {
            "original": ORIGINAL_TURN, "validator": "claim_check", "attempts": 1,
            "verdict": {"passed": False, "message": "1 of 1 claims wrong: turn 1: 7 + 5 = 13",
                        "flags": [{"turn": 1, "role": "teacher", "claim": "7 + 5 = 13", "reason": "7 + 5 is 12, not 13",
                                   "expected": "12"}]},
        }
        records.append(record)
    return records


MATH_COLUMNS = {
    "student": {"kind": "sampler"}, "operation": {"kind": "sampler"}, "a": {"kind": "sampler"},
    "b": {"kind": "sampler"}, "answer": {"kind": "expression"}, "problem": {"kind": "llm_json"},
    "lesson": {"kind": "dialogue"},
    "claim_check": {"kind": "validator", "validator": "python", "target": "lesson",
                    "function": "perpetuum.recipes.math_claims:check_claims"},
    "quality": {"kind": "llm_judge"}, "solution": {"kind": "llm_text"},
    "tests_pass": {"kind": "validator", "validator": "python", "template": "{{ solution }}", "function": "t:run"},
}


def _card(folder: Path, records: list[dict], formats: list[str], columns: dict[str, dict]) -> dict:
    """A card with the keys and shapes pipeline/card.py writes."""
    kinds = [(name, options["kind"]) for name, options in columns.items()]
    spec_columns = [{"name": name, "depends_on": [], "drop": False, **options} for name, options in columns.items()]
    files = {"jsonl": str(folder / "data.jsonl"), "dropped": str(folder / "dropped.jsonl"),
             "failures": str(folder / "failures.jsonl")}
    if "parquet" in formats:
        files["parquet"] = str(folder / "data.parquet")
    return {
        "name": "math_dialogues",
        "description": "Teacher-student dialogues with checked arithmetic.",
        "created_at": "2026-11-25T18:18:13+0000",
        "perpetuum_version": "0.1.0",
        "seed": 7,
        "records": {"requested": len(records) + 1, "generated": len(records) + 1, "failed": 0, "kept": len(records),
                    "dropped": 1, "dropped_by_reason": {"validator claim_check failed": 1}, "failed_by_reason": {}},
        "validators": {
            name: {"validator": options["validator"], "checked": len(records),
                   "passed": sum(record[name]["passed"] for record in records),
                   "pass_rate": round(sum(record[name]["passed"] for record in records) / len(records), 4),
                   "failure_reasons": {}}
            for name, options in columns.items() if options["kind"] == "validator"
        },
        "warnings": [],
        "columns": [{"name": name, "kind": kind} | ({"sampler": "person"} if kind == "sampler" else {})
                    for name, kind in kinds],
        "column_order": [name for name, _ in kinds],
        "backends": {"default": {"kind": "embedded", "model": "SmolLM2-135M-Instruct.Q4_1", "max_concurrency": 8}},
        "tokens": {"prompt": 100, "completion": 50,
                   "by_backend": {"default": {"calls": 4, "prompt_tokens": 100, "completion_tokens": 50}}},
        "wall_seconds": 1.5,
        "sessions": 1,
        "completion_tokens_per_second": 33.3,
        "cost_usd": {"total": 0.0, "by_backend": {"default": 0.0}},
        "prices": {},
        "files": files,
        "parquet_json_columns": [],
        "spec": {"name": "math_dialogues", "seed": 7, "columns": spec_columns, "output": {"formats": formats}},
    }


def write_dataset(folder: Path, records: list[dict] | None = None, formats: tuple[str, ...] = ("jsonl",),
                  columns: dict[str, dict] | None = None) -> Path:
    """A folder as `perpetuum generate` leaves it (by default the math dialogues of `dataset_records`)."""
    from perpetuum.pipeline.card import render_markdown
    from perpetuum.pipeline.output import write_outputs

    records = dataset_records() if records is None else records
    folder.mkdir(parents=True, exist_ok=True)
    write_outputs(records, folder, list(formats), list(records[0]))
    (folder / "dropped.jsonl").write_text("", encoding="utf-8")
    (folder / "failures.jsonl").write_text("", encoding="utf-8")
    card = _card(folder, records, list(formats), columns or MATH_COLUMNS)
    (folder / "card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    (folder / "card.md").write_text(render_markdown(card), encoding="utf-8")
    return folder


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_dataset(tmp_path / "out")


@pytest.fixture
def store(folder) -> ReviewStore:
    return ReviewStore.open(folder)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- the store ---------------------------------------------------------------------------------------------------


def test_opening_a_folder_imports_every_record_as_pending(store):
    assert len(store) == 4
    assert store.counts() == {"records": 4, "pending": 4, "reviewed": 0, "accepted": 0, "rejected": 0, "edited": 0,
                              "flagged": 2}
    assert store.get(0).current == dataset_records()[0]
    assert (store.dataset.folder / "review.sqlite").exists()


def test_queue_filters_flagged_low_scores_and_pending(store):
    assert [item["id"] for item in store.queue(flagged=True)] == [0, 3]
    assert [item["id"] for item in store.queue(below=3)] == [0, 3]
    assert [item["id"] for item in store.queue(below=2)] == [3]
    assert store.queue(flagged=True)[0]["flagged"] == ["claim_check"]
    store.accept(1, version=1, reviewer="ana")
    assert [item["id"] for item in store.queue(status="pending")] == [0, 2, 3]
    assert [item["id"] for item in store.queue(status="reviewed")] == [1]


def test_queue_sort_orders(store):
    assert [item["id"] for item in store.queue(sort="score")] == [3, 0, 1, 2]
    assert [item["id"] for item in store.queue(sort="flags")] == [0, 3, 1, 2]
    store.accept(2, version=1, reviewer="ana")
    store.accept(1, version=1, reviewer="ana")
    assert [item["id"] for item in store.queue(sort="recent")][:2] == [1, 2]
    with pytest.raises(ParameterError, match="unknown sort"):
        store.queue(sort="random")


def test_editing_a_dialogue_turn_changes_only_that_turn_and_logs_before_and_after(store):
    record = store.edit(0, ["lesson", 1, "content"], "Good start! 7 + 5 is 12.", version=1, reviewer="ana")
    assert record.version == 2 and record.edited
    assert record.current["lesson"][1] == {"role": "teacher", "content": "Good start! 7 + 5 is 12."}
    assert record.original["lesson"][1]["content"] == WRONG_TURN
    assert record.current["lesson"][0] == record.original["lesson"][0]
    entry, recheck = store.log(0)
    assert entry["action"] == "edit" and entry["field"] == "lesson[1].content"
    assert entry["path"] == ["lesson", 1, "content"]
    assert (entry["before"], entry["after"], entry["reviewer"]) == (WRONG_TURN, "Good start! 7 + 5 is 12.", "ana")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["at"])
    # the claim checker reads the lesson, so it ran again: the corrected claim no longer flags the record
    assert (recheck["action"], recheck["field"], recheck["version"]) == ("recheck", "claim_check", 2)
    assert recheck["before"]["passed"] is False and recheck["after"] == record.current["claim_check"]
    assert record.current["claim_check"]["passed"] is True and "claim_check" not in record.flagged


def test_an_edit_that_makes_a_wrong_claim_flags_it_and_unreadable_validators_are_marked_stale(store):
    record = store.edit(1, ["lesson", 1, "content"], "Easy: 7 + 5 = 13.", version=1, reviewer="ana")
    check = record.current["claim_check"]
    assert check["passed"] is False and [flag["claim"] for flag in check["flags"]] == ["7 + 5 = 13"]
    assert check["flags"][0]["turn"] == 1 and "claim_check" in record.flagged
    # tests_pass reads the solution through a function that does not import here: its verdict is kept, marked stale
    record = store.edit(1, ["solution"], "def add(a, b):\n    return b + a\n", version=2, reviewer="ana")
    stale = record.current["tests_pass"]
    assert stale["passed"] is True and "not re-checked after the edit" in stale["recheck_error"]
    assert [entry["action"] for entry in store.log(1)] == ["edit", "recheck", "edit", "recheck"]
    # editing a column no validator reads re-runs nothing
    store.edit(1, ["problem", "title"], "Pears", version=3, reviewer="ana")
    assert [entry["action"] for entry in store.log(1)][-1] == "edit"


def test_editing_back_to_the_original_clears_the_edited_mark(store):
    store.edit(1, ["problem", "title"], "Pears", version=1, reviewer="ana")
    record = store.edit(1, ["problem", "title"], "Apples", version=2, reviewer="ana")
    assert not record.edited and store.counts()["edited"] == 0
    assert len(store.log(1)) == 2


def test_a_whole_field_can_be_replaced_with_any_json_but_text_stays_text(store):
    record = store.edit(1, ["student"], {"first_name": "Ana", "age": 10}, version=1, reviewer="ana")
    assert record.current["student"] == {"first_name": "Ana", "age": 10} and record.edited
    with pytest.raises(ReviewError, match="holds text"):
        store.edit(1, ["solution"], 42, version=2, reviewer="ana")
    with pytest.raises(ReviewError, match="no field lesson\\[9\\]"):
        store.edit(1, ["lesson", 9, "content"], "x", version=2, reviewer="ana")
    with pytest.raises(ReviewError, match="no record 99"):
        store.get(99)


def test_a_verdict_is_not_edited_by_hand_but_overridden_with_a_reason(store):
    with pytest.raises(ReviewError, match="claim_check is a validator's verdict"):
        store.edit(0, ["claim_check"], {"passed": True, "message": "fine"}, version=1, reviewer="ana")
    with pytest.raises(ReviewError, match="validator's verdict"):
        store.edit(0, ["claim_check", "passed"], True, version=1, reviewer="ana")
    with pytest.raises(ReviewError, match="reason is required"):
        store.override(0, "claim_check", True, "  ", version=1, reviewer="ana")
    record = store.override(0, "claim_check", True, "13 is the count of all fruit in the story", version=1,
                            reviewer="ana")
    verdict = record.current["claim_check"]
    assert verdict["passed"] is True and record.flagged == []
    assert verdict["override"] == {"passed_before": False, "reason": "13 is the count of all fruit in the story",
                                   "reviewer": "ana"}
    assert verdict["flags"] == dataset_records()[0]["claim_check"]["flags"]  # what the checker said stays readable
    [entry] = store.log(0)
    assert (entry["action"], entry["field"], entry["before"]["passed"]) == ("override", "claim_check", False)
    with pytest.raises(ReviewError, match="not a validator column"):
        store.override(0, "quality", True, "fine", version=2, reviewer="ana")


def test_accepting_a_flagged_record_needs_the_reviewer_to_say_so(store):
    from perpetuum.review.store import StillFlagged

    with pytest.raises(StillFlagged, match="still flagged by claim_check"):
        store.accept(0, version=1, reviewer="ana")
    assert store.get(0).status == "pending" and store.log(0) == []
    record = store.accept(0, version=1, reviewer="ana", while_flagged=True)
    assert record.status == "accepted"
    assert store.log(0)[0]["after"] == {"status": "accepted", "reason": None, "while_flagged": ["claim_check"]}


def test_a_stale_version_is_a_conflict_and_the_attempt_is_kept_in_the_log(store):
    store.edit(0, ["lesson", 1, "content"], "Ana's fix: 12.", version=1, reviewer="ana")
    with pytest.raises(VersionConflict) as caught:
        store.edit(0, ["lesson", 1, "content"], "Ben's fix: twelve.", version=1, reviewer="ben")
    assert caught.value.current.current["lesson"][1]["content"] == "Ana's fix: 12."
    assert caught.value.current.version == 2 and caught.value.attempted_version == 1
    assert store.get(0).current["lesson"][1]["content"] == "Ana's fix: 12."
    conflict = store.log(0)[-1]
    assert conflict["action"] == "conflict" and conflict["reviewer"] == "ben"
    assert conflict["after"] == {"action": "edit", "value": "Ben's fix: twelve."}
    with pytest.raises(VersionConflict):
        store.accept(0, version=1, reviewer="ben")


def test_simultaneous_saves_from_many_threads_let_exactly_one_win(folder):
    import threading

    stores = [ReviewStore.open(folder) for _ in range(6)]
    barrier, outcomes = threading.Barrier(len(stores)), []

    def save(number: int) -> None:
        barrier.wait()
        try:
            stores[number].edit(0, ["lesson", 1, "content"], f"fix {number}", version=1, reviewer=f"r{number}")
            outcomes.append(("saved", number))
        except VersionConflict:
            outcomes.append(("conflict", number))

    threads = [threading.Thread(target=save, args=(number,)) for number in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [(_, winner)] = [outcome for outcome in outcomes if outcome[0] == "saved"]
    assert len(outcomes) == 6
    record = stores[0].get(0)
    assert (record.version, record.current["lesson"][1]["content"]) == (2, f"fix {winner}")
    # the winner's edit re-ran the claim checker on its text, so its verdict changed too
    assert sorted(entry["action"] for entry in stores[0].log(0)) == ["conflict"] * 5 + ["edit", "recheck"]


def test_reject_needs_a_reason_and_reset_returns_to_pending(store):
    with pytest.raises(ReviewError, match="reason"):
        store.reject(2, "  ", version=1, reviewer="ana")
    record = store.reject(2, "contains  markup\n", version=1, reviewer="ana")
    assert (record.status, record.reason) == ("rejected", "contains markup")
    record = store.reset(2, version=record.version, reviewer="ana")
    assert (record.status, record.reason) == ("pending", None)
    assert [entry["action"] for entry in store.log(2)] == ["reject", "reset"]


def test_the_log_is_append_only(store):
    store.accept(1, version=1, reviewer="ana")
    with sqlite3.connect(store.path) as connection:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("UPDATE log SET reviewer = 'mallory'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("DELETE FROM log")


def test_reopening_keeps_the_review_and_refuses_changed_data(folder):
    store = ReviewStore.open(folder)
    store.accept(1, version=1, reviewer="ana")
    assert ReviewStore.open(folder).get(1).status == "accepted"
    with open(folder / "data.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(dataset_records()[1]) + "\n")
    with pytest.raises(DataInputError, match="changed since its review began"):
        ReviewStore.open(folder)


def test_a_store_file_that_is_not_a_review_store_is_refused(folder):
    (folder / "review.sqlite").write_bytes(b"not a database, just some bytes" * 10)
    with pytest.raises(DataInputError, match="cannot open the review store"):
        ReviewStore.open(folder)


def test_a_folder_without_data_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(DataInputError, match="perpetuum generate"):
        ReviewStore.open(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no store file left behind


def test_a_parquet_only_folder_is_read(tmp_path):
    folder = write_dataset(tmp_path / "pq", formats=("parquet",))
    assert not (folder / "data.jsonl").exists()
    store = ReviewStore.open(folder)
    assert store.get(0).current["lesson"][1]["content"] == WRONG_TURN


# -- rendering ---------------------------------------------------------------------------------------------------


def test_flags_land_on_the_dialogue_turn_they_name(store):
    record = store.get(0)
    views = {view["name"]: view for view in field_views(record.current, record.original, store.columns, 3)}
    turns = views["lesson"]["turns"]
    assert [bool(turn["flags"]) for turn in turns] == [False, True, False, False]
    assert turns[1]["flags"][0]["claim"] == "7 + 5 = 13" and turns[1]["flags"][0]["validator"] == "claim_check"
    assert views["quality"]["rows"][0]["low"] and not views["quality"]["rows"][1]["low"]
    assert views["claim_check"]["shape"] == "validator" and views["claim_check"]["dialogue"] == "lesson"


def test_code_is_highlighted_escaped_and_shows_its_test_result(store):
    record = store.get(3)
    views = {view["name"]: view for view in field_views(record.current, record.original, store.columns, None)}
    solution = views["solution"]
    assert solution["is_code"] and '<span class="k">def</span>' in solution["code_html"]
    assert [(test["name"], test["passed"]) for test in solution["tests"]] == [("tests_pass", False)]
    assert looks_like_code("text", "import os\nprint(os.sep)") and not looks_like_code("story", "Once upon a time.")
    html = str(text_html("Try this:\n```python\nx = '<b>'\n```\n<i>done</i>"))
    assert "&lt;i&gt;done&lt;/i&gt;" in html and "'&lt;b&gt;'" in html and '<pre class="code">' in html


EXERCISE_COLUMNS = {
    "topic": {"kind": "sampler"},
    "exercise": {"kind": "llm_json"},
    "tests_pass": {"kind": "validator", "validator": "code", "target": "exercise"},
}


def exercise_records() -> list[dict]:
    """Records shaped like the python_exercises recipe: an llm_json exercise with code and a list of tests."""
    exercise = {
        "function_name": "count_vowels",
        "problem": 'def count_vowels(text: str) -> int:\n    """Return how many vowels are in text."""',
        "solution": "def count_vowels(text: str) -> int:\n    return sum(1 for ch in text.lower() if ch in 'aeiou')",
        "tests": ["assert count_vowels('hello') == 2", "assert count_vowels('') == 0"],
    }
    return [{"topic": "strings", "exercise": exercise,
             "tests_pass": {"passed": False, "message": "failed: AssertionError in test 2", "status": "failed",
                            "tests_run": 2, "duration_seconds": 0.05}}]


def test_exercise_code_and_each_test_are_highlighted_with_the_test_result(tmp_path):
    store = ReviewStore.open(write_dataset(tmp_path / "ex", exercise_records(), columns=EXERCISE_COLUMNS))
    record = store.get(0)
    [_, exercise, tests_pass] = field_views(record.current, record.original, store.columns, None)
    leaves = {leaf["label"]: leaf for leaf in exercise["leaves"]}
    assert list(leaves) == ["function_name", "problem", "solution", "tests[0]", "tests[1]"]
    assert [label for label, leaf in leaves.items() if leaf["is_code"]] == ["problem", "solution", "tests[0]", "tests[1]"]
    assert [(check["name"], check["passed"]) for check in exercise["checks"]] == [("tests_pass", False)]
    assert tests_pass["extra"] == {"status": "failed", "tests_run": 2, "duration_seconds": 0.05}
    edited = store.edit(0, ["exercise", "tests", 1], "assert count_vowels('') == 0  # fixed", version=1, reviewer="ana")
    assert edited.current["exercise"]["tests"][1].endswith("# fixed")
    assert store.log(0)[0]["field"] == "exercise.tests[1]"
    # the edit re-ran the solution against its tests in the sandbox: they pass, so the record is no longer flagged
    assert edited.current["tests_pass"]["passed"] is True and edited.current["tests_pass"]["status"] == "ok"
    assert edited.flagged == [] and store.log(0)[1]["action"] == "recheck"
    broken = store.edit(0, ["exercise", "solution"], "def count_vowels(text):\n    return 0", version=2, reviewer="ana")
    assert broken.current["tests_pass"]["passed"] is False and "AssertionError" in broken.current["tests_pass"]["message"]
    assert broken.flagged == ["tests_pass"]


def test_a_validator_that_depends_on_its_run_is_not_re_run_but_marked_stale(tmp_path):
    columns = {"text": {"kind": "llm_text"},
               "clean": {"kind": "validator", "validator": "decontamination", "target": "text", "n": 3,
                         "references": []}}
    records = [{"text": "a story", "clean": {"passed": False, "message": "contaminated: shares 1 13-gram"}}]
    store = ReviewStore.open(write_dataset(tmp_path / "decon", records, columns=columns))
    record = store.edit(0, ["text"], "another story", version=1, reviewer="ana")
    assert record.current["clean"]["passed"] is False  # kept: the reference files are not known here
    assert "depends on what its generating run was given" in record.current["clean"]["recheck_error"]


# -- export ------------------------------------------------------------------------------------------------------


def _review_some(store: ReviewStore) -> None:
    store.edit(0, ["lesson", 1, "content"], "Good start! 7 + 5 is 12.", version=1, reviewer="ana")
    store.accept(0, version=2, reviewer="ana")
    store.accept(1, version=1, reviewer="ben")
    store.reject(2, "hostile markup", version=1, reviewer="ana")


def test_export_writes_accepted_records_with_corrections_the_log_and_a_card_with_review_figures(folder, store, tmp_path):
    _review_some(store)
    out = tmp_path / "reviewed"
    result = export_reviewed(folder, out)
    assert result.n_exported == 2
    exported = _read_jsonl(out / "data.jsonl")
    assert exported[0]["lesson"][1]["content"] == "Good start! 7 + 5 is 12."
    # each record carries its row in the generated data and the review's decision
    assert {key: value for key, value in exported[1].items() if key not in ("source_index", "review")} == dataset_records()[1]
    assert list(exported[0]) == [*dataset_records()[0], "source_index", "review"]  # the generator's columns first
    assert [row["source_index"] for row in exported] == [0, 1]
    assert exported[0]["review"]["decision"] == "accepted" and exported[0]["review"]["edited"] is True
    assert exported[1]["review"]["reviewer"] == "ben" and exported[1]["review"]["accepted_while_flagged"] == []
    [rejected] = _read_jsonl(out / "rejected.jsonl")
    assert (rejected["index"], rejected["detail"], rejected["record"]["problem"]["title"]) == (2, "hostile markup", HOSTILE)
    log = _read_jsonl(out / "review_log.jsonl")
    assert [(entry["record"], entry["action"]) for entry in log] == [
        (0, "edit"), (0, "recheck"), (0, "accept"), (1, "accept"), (2, "reject")]
    assert set(log[0]) >= {"record", "field", "before", "after", "reviewer", "at"}
    card = json.loads((out / "card.json").read_text())
    review = card["review"]
    assert (review["records"], review["reviewed"], review["accepted"], review["rejected"], review["edited"],
            review["pending"]) == (4, 3, 2, 1, 1, 1)
    assert review["accepted_edited"] == 1 and review["edits_by_column"] == {"lesson": 1}
    assert review["rejection_reasons"] == {"hostile markup": 1}
    assert review["actions_by_reviewer"] == {"ana": 3, "ben": 1}
    assert card["name"] == "math_dialogues" and card["generation"]["records"]["kept"] == 4  # as generated, apart
    assert card["records"]["kept"] == 2
    assert Path(card["files"]["jsonl"]).parent == out
    markdown = (out / "card.md").read_text()
    assert markdown.startswith("# math_dialogues") and "## Review" in markdown
    # flagged: record 3's failing tests; record 0's wrong claim was corrected and its check re-run
    assert "| 4 | 3 | 2 | 1 | 1 | 1 | 1 |" in markdown and "hostile markup" in markdown
    assert review["verdicts_changed_by_recheck"] == 1
    assert (folder / "data.jsonl").read_text() == "".join(json.dumps(r) + "\n" for r in dataset_records())


def test_the_exported_card_describes_the_exported_records_and_keeps_the_generation_apart(folder, store, tmp_path):
    store.reject(0, "wrong sum", version=1, reviewer="ana")
    store.reject(3, "tests fail", version=1, reviewer="ana")
    store.accept(1, version=1, reviewer="ana")
    store.accept(2, version=1, reviewer="ana")
    card = export_reviewed(folder, tmp_path / "reviewed").card
    assert card["records"]["kept"] == 2 and card["records"]["dropped_by_reason"] == {"rejected by a reviewer": 2}
    assert (card["validators"]["claim_check"]["checked"], card["validators"]["claim_check"]["passed"]) == (2, 2)
    assert card["validators"]["tests_pass"]["pass_rate"] == 1.0
    assert card["collapse_signals"]["per_column"]["lesson"]["diversity"]["texts"] == 2
    generation = card["generation"]
    assert generation["records"]["kept"] == 4 and generation["validators"]["claim_check"]["passed"] == 3
    markdown = (tmp_path / "reviewed" / "card.md").read_text()
    assert "| claim_check | python | 2 of 2 | 100.0% |" in markdown
    assert "## As generated, before review" in markdown and "| claim_check | 3 of 4 |" in markdown


def test_markdown_cards_escape_what_reviewers_and_models_wrote(folder, store, tmp_path):
    from markdown_it import MarkdownIt

    hostile = "<img src=x onerror=alert(3)> [click](javascript:alert(4)) | cell"
    store.reject(0, hostile, version=1, reviewer="<b onmouseover=alert(5)>Eve</b>")
    store.accept(1, version=1, reviewer="ana")
    export_reviewed(folder, tmp_path / "reviewed")
    markdown = (tmp_path / "reviewed" / "card.md").read_text()
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    assert "<img" not in html and "<b " not in html and "href" not in html  # no element, no link
    assert "&lt;img src=x onerror=alert(3)&gt;" in html  # shown as text, in one table cell
    assert "| cell" in html

    from perpetuum.pipeline.card import render_markdown

    generated = json.loads((folder / "card.json").read_text())
    generated["description"] = "<script>alert(6)</script>"
    generated["records"]["dropped_by_reason"] = {"<img src=y onerror=alert(7)>": 1}
    generated["validators"]["claim_check"]["failure_reasons"] = {"<svg onload=alert(8)>": 1}
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(render_markdown(generated))
    assert "<script" not in html and "<img" not in html and "<svg" not in html


def test_export_uses_the_generated_formats_and_refuses_the_source_folder(tmp_path):
    folder = write_dataset(tmp_path / "both", formats=("jsonl", "parquet"))
    store = ReviewStore.open(folder)
    _review_some(store)
    out = tmp_path / "reviewed"
    export_reviewed(folder, out)
    import pyarrow.parquet as pq

    table = pq.read_table(out / "data.parquet").to_pylist()
    assert [row["lesson"][1]["content"] for row in table] == [
        "Good start! 7 + 5 is 12.", dataset_records()[1]["lesson"][1]["content"]
    ]
    with pytest.raises(ParameterError, match="new folder"):
        export_reviewed(folder, folder)


# -- the web app, in-process ------------------------------------------------------------------------------------


def _client(folder: Path, **options) -> TestClient:
    return TestClient(create_app(folder, reviewer="tester", **options), base_url="http://127.0.0.1:8765")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


def test_pages_escape_generated_text(folder):
    client = _client(folder)
    html = client.get("/records/2").text
    assert "<script>window.__perpetuumInjected" not in html
    assert "&lt;script&gt;window.__perpetuumInjected = 1&lt;/script&gt;" in html
    assert '<img src="x"' not in html
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]
    assert "<script>window" not in client.get("/").text


def test_a_post_without_the_csrf_token_is_refused(folder):
    client = _client(folder)
    html = client.get("/records/1").text
    response = client.post("/records/1/accept", data={"version": "1"})
    assert response.status_code == 403 and "CSRF" in response.text
    response = client.post("/records/1/accept", data={"version": "1", "csrf": _csrf(html)},
                           headers={"origin": "http://evil.example"})
    assert response.status_code == 403 and "another site" in response.text
    assert ReviewStore.open(folder).get(1).status == "pending"
    response = client.post("/records/1/accept", data={"version": "1", "csrf": _csrf(html)}, follow_redirects=False)
    assert response.status_code == 303 and ReviewStore.open(folder).get(1).status == "accepted"


def test_a_form_from_before_a_restart_is_refused_but_its_text_comes_back(folder):
    before = _client(folder)
    csrf = _csrf(before.get("/records/1").text)
    after = _client(folder)  # the desk restarted: a new CSRF secret, the same browser cookie
    after.cookies.update(before.cookies)
    response = after.post("/records/1/edit", data={"path": '["lesson", 3, "content"]', "value": "A long fix.",
                                                   "version": "1", "kind": "text", "csrf": csrf})
    assert response.status_code == 403 and "loaded before a restart" in response.text
    assert '<textarea readonly rows="8" id="your-text">A long fix.</textarea>' in response.text
    assert ReviewStore.open(folder).get(1).version == 1


def test_without_a_token_only_loopback_host_names_are_served(folder):
    client = _client(folder)
    assert client.get("/").status_code == 200
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200
    assert client.get("/", headers={"host": "attacker.example:8765"}).status_code == 403


def test_with_a_token_every_request_without_it_is_refused(folder):
    client = _client(folder, token="s3cret-token-value")
    for path in ["/", "/records/0", "/log", "/static/review.js"]:
        assert client.get(path).status_code == 401, path
    assert client.post("/records/0/accept", data={"version": "1"}).status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    assert client.get("/", headers={"authorization": "Bearer s3cret-token-value"}).status_code == 200
    response = client.get("/?token=s3cret-token-value&flagged=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/?flagged=1"  # the token leaves the URL
    assert "httponly" in response.headers["set-cookie"].lower()
    assert client.get("/records/0").status_code == 200  # the cookie carries it now


def test_a_second_save_on_the_same_version_gets_a_conflict_page_with_both_versions(folder):
    first, second = _client(folder), _client(folder)
    page_one, page_two = first.get("/records/0").text, second.get("/records/0").text
    form = {"path": '["lesson", 1, "content"]', "version": "1", "kind": "text"}
    assert first.post("/records/0/edit", data={**form, "value": "First fix: 12.", "csrf": _csrf(page_one)},
                      follow_redirects=False).status_code == 303
    response = second.post("/records/0/edit", data={**form, "value": "Second fix: twelve.", "csrf": _csrf(page_two)})
    assert response.status_code == 409
    assert "First fix: 12." in response.text and "Second fix: twelve." in response.text
    assert ReviewStore.open(folder).get(0).current["lesson"][1]["content"] == "First fix: 12."


def test_the_reviewer_form_only_redirects_within_the_app(folder):
    client = _client(folder)
    csrf = _csrf(client.get("/").text)
    for back, expected in [("/records/1?flagged=1", "/records/1?flagged=1"), ("//evil.example/", "/"),
                           ("/\\evil.example/", "/"), ("https://evil.example/", "/")]:
        response = client.post("/reviewer", data={"name": "Ana", "back": back, "csrf": csrf}, follow_redirects=False)
        assert response.headers["location"] == expected, back


def test_invalid_json_is_not_saved_and_the_text_is_given_back(folder):
    client = _client(folder)
    csrf = _csrf(client.get("/records/1").text)
    response = client.post("/records/1/edit", data={"path": '["quality"]', "value": "{broken", "version": "1",
                                                    "kind": "json", "csrf": csrf})
    assert response.status_code == 400 and "{broken" in response.text
    assert ReviewStore.open(folder).get(1).version == 1


def test_queue_page_filters(folder):
    client = _client(folder)
    html = client.get("/?flagged=1").text
    assert re.findall(r'data-id="(\d+)"', html) == ["0", "3"]
    html = client.get("/?below=2&sort=score").text
    assert re.findall(r'data-id="(\d+)"', html) == ["3"]
    assert client.get("/records/99").status_code == 404


def test_errors_are_desk_pages_not_json(folder):
    client = _client(folder)
    for path, status, text in [("/records/abc", 404, "There is no record &#39;abc&#39;: records are numbered 0 to 3"),
                               ("/records/99", 404, "no record 99"), ("/nowhere", 404, "The desk has no page /nowhere")]:
        response = client.get(path)
        assert response.status_code == status and response.headers["content-type"].startswith("text/html"), path
        assert text in response.text and 'data-count="records"' in response.text, path
    response = client.get("/records/0/accept")
    assert response.status_code == 405 and "use the page&#39;s buttons" in response.text
    csrf = _csrf(client.get("/records/1").text)
    response = client.post("/records/1/edit", data={"path": '["lesson", 1, "content"]', "value": "kept text",
                                                     "csrf": csrf})  # no version
    assert response.status_code == 400 and "without a usable version" in response.text and "kept text" in response.text


def test_an_unexpected_failure_is_a_desk_page_too(folder):
    app = create_app(folder, reviewer="tester")
    with sqlite3.connect(app.state.store.path) as connection:  # the store broken under a running desk
        connection.execute("DROP TABLE log")
    response = TestClient(app, base_url="http://127.0.0.1:8765", raise_server_exceptions=False).get("/log")
    assert response.status_code == 500 and "Something went wrong" in response.text
    assert "no such table: log" in response.text and "Traceback" not in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_refused_edit_reopens_its_editor_with_the_text_and_the_reason(folder):
    client = _client(folder)
    csrf = _csrf(client.get("/records/0").text)
    response = client.post("/records/0/edit", data={"path": '["claim_check"]', "value": '{"passed": true}',
                                                    "version": "1", "kind": "json", "csrf": csrf})
    assert response.status_code == 400
    assert "claim_check is a validator&#39;s verdict" in response.text
    response = client.post("/records/0/reject", data={"reason": "  ", "version": "1", "csrf": csrf})
    assert response.status_code == 400 and "Not rejected: say why" in response.text
    response = client.post("/records/0/accept", data={"version": "1", "csrf": csrf})
    assert response.status_code == 200 and 'id="confirm-flagged"' in response.text
    assert ReviewStore.open(folder).get(0).status == "pending"
    response = client.post("/records/0/accept", data={"version": "1", "csrf": csrf, "while_flagged": "1"},
                           follow_redirects=False)
    assert response.status_code == 303 and ReviewStore.open(folder).get(0).status == "accepted"


def test_an_edit_redirects_to_the_edited_field(folder):
    client = _client(folder)
    csrf = _csrf(client.get("/records/1").text)
    for path, value, anchor in [('["lesson", 2, "content"]', "Is it twelve?", "#lesson-turn-2"),
                                ('["problem", "title"]', "Pears", "#field-problem-title"),
                                ('["solution"]', "def add(a, b):\n    return b + a\n", "#field-solution")]:
        version = ReviewStore.open(folder).get(1).version
        response = client.post("/records/1/edit", data={"path": path, "value": value, "version": str(version),
                                                        "csrf": csrf, "query": "flagged=1"}, follow_redirects=False)
        assert response.headers["location"] == f"/records/1?flagged=1{anchor}"


def test_search_finds_records_by_any_words_they_hold(store):
    assert store.queue_ids(search="a - b") == [3]
    assert store.queue_ids(search="SCRIPT perpetuumInjected") == [2]
    assert store.queue_ids(search="100%") == []  # LIKE wildcards are matched as text
    assert store.queue_ids(search="apples", flagged=True) == [0, 3]
    assert store.queue(search="Kid1")[0]["preview"].startswith("addition · Apples · Mia has 7 apples")


def test_the_log_pages_and_filters(store):
    version = 1
    for _ in range(3):
        version = store.accept(1, version=version, reviewer="ana").version
        version = store.reset(1, version=version, reviewer="ben").version
    entries, total = store.log_page(reviewer="ben", limit=2)
    assert total == 3 and [entry["action"] for entry in entries] == ["reset", "reset"]
    assert entries[0]["id"] > entries[1]["id"]  # newest first
    entries, total = store.log_page(action="accept", offset=2, limit=2)
    assert total == 3 and len(entries) == 1
    assert store.log_reviewers() == ["ana", "ben"]


def test_word_diffs_mark_only_the_changed_words_and_escape_them():
    from perpetuum.review.diff import word_diff

    assert str(word_diff("7 + 5 is 13, so 13.", "7 + 5 is 12, so 12.")) == (
        "7 + 5 is <del>13</del><ins>12</ins>, so <del>13</del><ins>12</ins>.")
    assert str(word_diff("a <b>", "a <i>")) == "a &lt;<del>b</del><ins>i</ins>&gt;"
    assert "<ins>" in str(word_diff({"passed": False}, {"passed": True}))


def test_a_claim_is_marked_where_the_text_says_it():
    from perpetuum.review.render import claim_spans

    text = "Good start! 7 + 5 is 13, so you have 13 apples."
    [(start, end)] = claim_spans(text, ["7 + 5 = 13"])
    assert text[start:end] == "7 + 5 is 13"
    assert claim_spans("Half: 1/2 plus 1/3 makes 2/5.", ["1/2 + 1/3 = 2/5"]) != []
    assert claim_spans("seven and five are thirteen", ["7 + 5 = 13"]) == []  # not found: nothing marked
    html = str(text_html("<b>7 + 5 is 13</b>", [(3, 14)]))
    assert html == '&lt;b&gt;<mark class="wrong-claim">7 + 5 is 13</mark>&lt;/b&gt;'


# -- the command line and a killed server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_serves_a_folder_and_nothing_acted_on_is_lost_when_the_server_is_killed(folder):
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "perpetuum", "review", str(folder), "--port", str(port), "--reviewer", "ana"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                page = httpx.get(f"{base}/records/1", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the review server did not start")
        response = httpx.post(f"{base}/records/1/reject", data={"version": "1", "reason": "off topic",
                              "csrf": _csrf(page.text)}, cookies=page.cookies, timeout=5)
        assert response.status_code == 303
    finally:
        server.send_signal(signal.SIGKILL)
        output = server.communicate(timeout=10)[0]
    assert f"Open http://127.0.0.1:{port}/" in output
    record = ReviewStore.open(folder).get(1)
    assert (record.status, record.reason, record.reviewer) == ("rejected", "off topic", "ana")


def test_cli_export_and_a_remote_host_without_token_gets_one(folder, tmp_path):
    from typer.testing import CliRunner

    from perpetuum.cli import app
    from perpetuum.review.cli_commands import is_loopback, required_token

    ReviewStore.open(folder).accept(1, version=1, reviewer="ana")
    result = CliRunner().invoke(app, ["review", "export", str(folder), "-o", str(tmp_path / "reviewed")])
    assert result.exit_code == 0, result.output
    assert "Exported 1 accepted records" in result.output
    assert len(_read_jsonl(tmp_path / "reviewed" / "data.jsonl")) == 1
    result = CliRunner().invoke(app, ["review", "export", str(tmp_path / "missing"), "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "not a folder" in result.output
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert required_token("127.0.0.1", None) is None
    assert len(required_token("0.0.0.0", None)) >= 32  # generated
    assert required_token("0.0.0.0", "given-token") == "given-token"
    with pytest.raises(ParameterError, match="at least 8"):
        required_token("0.0.0.0", "short")


def test_a_taken_port_is_refused_with_the_port_named_and_another_suggested():
    from perpetuum.review.cli_commands import bind_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ParameterError, match=f"port {port} on 127.0.0.1 is already in use.*--port {port + 1}"):
            bind_port("127.0.0.1", port)
    listener = bind_port("127.0.0.1", port)  # free again: bound, listening
    try:
        assert listener.getsockname()[1] == port
    finally:
        listener.close()
