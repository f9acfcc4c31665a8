"""The gold-answer check of recipe:math_dialogues: reading a final answer the way GSM8K and teachers write it, and
comparing it with the gold answer as a number."""

from __future__ import annotations

import gzip
import json
from fractions import Fraction

import pytest

from perpetuum.recipes import RECIPES_FOLDER
from perpetuum.recipes.final_answers import (
    check_final_answer,
    final_answer,
    gold_answer,
    parse_number,
    same_number,
    teacher_answer,
)


def gsm8k_problems() -> list[dict]:
    text = gzip.decompress((RECIPES_FOLDER / "data" / "gsm8k_train.jsonl.gz").read_bytes()).decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


@pytest.mark.parametrize(
    ("written", "value"),
    [("18", 18), ("1,080", 1080), ("$18.00", 18), ("18.0", 18), ("-3", -3), ("3/4", Fraction(3, 4)), ("25%", 25),
     ("**42**", 42), ("$1,080.", 1080), (".5", Fraction(1, 2)), ("\\$5", 5), (7, 7)],
)
def test_numbers_are_read_with_commas_currency_trailing_zeros_and_fractions(written, value):
    assert parse_number(written) == value


@pytest.mark.parametrize("written", ["", "eighteen", "1,2", "12,34", "3/0", "x = 5", None, True])
def test_what_is_not_one_number_is_none(written):
    assert parse_number(written) is None


def test_same_number_compares_values_not_spelling():
    assert same_number("$1,080.00", "1080") and same_number("18", "18.0")
    assert not same_number("18", "19") and not same_number("eighteen", "18")


def test_the_gold_answer_is_the_number_after_gsm8k_s_last_marker():
    assert gold_answer("Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day.\n#### 18") == "18"
    assert gold_answer("so 1,000 + 80 = 1,080\n#### 1,080") == "1,080"
    assert gold_answer("no marker here") is None


def test_every_shipped_gsm8k_answer_is_found_in_its_own_formats():
    problems = gsm8k_problems()
    assert all(same_number(gold_answer(f"{p['solution']}\n#### {p['answer']}"), p["answer"]) for p in problems)
    stated = [f"{p['solution']}\nThe answer is {p['answer']}." for p in problems]
    assert all(same_number(final_answer(text), p["answer"]) for text, p in zip(stated, problems))
    # With no stated answer at all, the last calculation's result still finds almost every one (the module says
    # 7,385 of 7,469; the rest end on a unit conversion or a comparison).
    found = sum(same_number(final_answer(p["solution"]), p["answer"]) for p in problems)
    assert found == 7385


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("She makes 9 * 2 = $18 a day.\n#### 18", "18"),
        ("So the answer is $1,080.", "$1,080"),
        ("Final answer: **42** apples. Try 3 + 4 next!", "42"),
        ("The answer is that she has 18 eggs. Then 3 more.", "18"),
        ("We get \\boxed{7}, then 9 more.", "7"),
        ("Answer = 12 hours", "12"),
        ("16 - 3 - 4 = 9 eggs, and 9 x 2 = $18. Now try: what is 5 + 3?", "$18"),  # the last calculation's result
        ("She needs 20 + 5 = 25ml of oil.", "25"),
        ("You have 3 apples and 4 pears.", "4"),  # no calculation: the last number
        ("Well done, that is right!", None),
    ],
)
def test_a_final_answer_is_read_from_stated_answers_then_calculations_then_numbers(text, answer):
    assert final_answer(text) == answer


LESSON = [
    {"role": "student", "content": "Hi, I'm Ana. Janet's ducks lay 16 eggs. How much does she make? I think 20?"},
    {"role": "teacher", "content": "She sells 16 - 3 - 4 = 9 eggs, and 9 * $2 = $18. The answer is $18."},
    {"role": "student", "content": "Oh, so 9 eggs times 2 dollars. Is it 19?"},
    {"role": "teacher", "content": "Not quite: count again with me. Can you try another one: 5 + 3?"},
]


def test_the_teacher_s_latest_stated_answer_counts_not_the_student_s_numbers():
    assert teacher_answer(LESSON) == {"answer": "$18", "turn": 1, "how": "the answer is"}
    assert teacher_answer(LESSON[:1]) == {"answer": None, "turn": None, "how": "none"}
    unstated = [LESSON[0], {"role": "teacher", "content": "First 16 - 3 - 4 = 9. Then 9 * 2 = 18 dollars."}]
    assert teacher_answer(unstated) == {"answer": "18", "turn": 1, "how": "last result"}


def test_the_validator_passes_a_matching_answer_and_explains_a_wrong_one():
    verdict = check_final_answer(LESSON, {"gold_answer": "18"})
    assert verdict["passed"] is True and verdict["message"] == "final answer $18 matches 18"
    wrong = check_final_answer(LESSON, {"gold_answer": "1,080"})
    assert wrong["passed"] is False
    assert wrong["message"] == ('wrong final answer: the teacher says $18, but the correct answer is 1,080. End with '
                                '"The answer is 1,080."')
    assert (wrong["answer"], wrong["gold"], wrong["turn"]) == ("$18", "1,080", 1)


def test_the_validator_fails_without_a_teacher_number_or_without_a_gold_answer():
    silent = [{"role": "teacher", "content": "Let us think about it together."}]
    assert check_final_answer(silent, {"gold_answer": "5"})["message"] == (
        "wrong final answer: the teacher never gives a number; the answer is 5")
    missing = check_final_answer(LESSON, {})
    assert missing["passed"] is False and "no gold answer to compare with" in missing["message"]
