"""The math-dialogue claim checker: which sentences hold checkable claims, and whether sympy finds them right."""

from __future__ import annotations

import pytest

from perpetuum.recipes.math_claims import check_claims, find_claims, normalise


def verdicts(text: str) -> list[tuple[str, bool | None]]:
    return [(claim.kind, claim.correct) for claim in find_claims(text)]


# ---------------------------------------------------------------------------------------------- true claims

@pytest.mark.parametrize(
    "sentence",
    [
        "3/4 + 1/8 = 7/8",
        "So 1/2 + 1/3 = 3/6 + 2/6 = 5/6.",
        "2/4 = 1/2 = 0.5",
        "5 - 7 = -2",
        "10 / 4 = 2.5",
        "0.1 + 0.2 = 0.3",
        "3 x 4 = 12",
        "3 × 4 = 12 and 12 ÷ 3 = 4",
        "3 * (2 + 4) = 18",
        "2^3 = 8",
        "5² = 25",
        "1 1/2 = 3/2",
        "1,000 + 1 = 1001",
    ],
)
def test_true_arithmetic_is_checked_and_holds(sentence):
    found = verdicts(sentence)
    assert found, f"no claim found in {sentence!r}"
    assert all(verdict == ("numeric", True) for verdict in found)


@pytest.mark.parametrize(
    "sentence",
    [
        "sin(30°) = 1/2",
        "sin(30 degrees) = 1/2",
        "cos(60°) = 0.5",
        "sin(90°) = 1",
        "tan 45 = 1",
        "sin(30) = 1/2",  # a whole number >= 7 inside a trig function reads as degrees
        "sin(45°) = 0.707",  # compared to the three decimals written
        "cos(30°) = √3/2",
        "In a triangle 60° + 60° + 60° = 180°.",
        "$\\sin(30^\\circ) = \\frac{1}{2}$",
    ],
)
def test_true_trigonometry_in_degrees_holds(sentence):
    assert verdicts(sentence) == [("numeric", True)] * len(verdicts(sentence)) and verdicts(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "3 plus 4 is 7",
        "three plus four is seven",
        "6 times 7 equals 42",
        "12 divided by 4 is 3",
        "The square root of 16 is 4.",
        "half of 10 is 5",
        "25% of 80 is 20",
        "5 squared is 25",
        "3/4 is bigger than 2/3",
        "0.5 > 0.45",
        "1/3 ≈ 0.33",
        "7 - 3 is greater than 3",
        "3/4 + 1/8 is not 4/12",
        "\\frac{3}{4} + \\frac{1}{8} = \\frac{7}{8}",
        "**Step 1:** 2 + 2 = 4",
    ],
)
def test_words_latex_and_relations_are_read(sentence):
    found = verdicts(sentence)
    assert found and all(correct is True for _, correct in found), (sentence, normalise(sentence), found)


# ---------------------------------------------------------------------------------------------- false claims

@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("1/2 + 1/3 = 2/5", "1/2 + 1/3 = 5/6"),
        ("3 × 5 = 16", "3 * 5 = 15"),
        ("sin(30°) = 1", "sin(30°) = 1/2"),
        ("cos(0°) = 0", "cos(0°) = 1"),
        ("10% of 50 = 6", "10% * 50 = 5"),
        ("three plus four is eight", "3 + 4 = 7"),
        ("2/3 is bigger than 3/4", "2/3 ≤ 3/4"),
        ("sin(45°) = 0.8", "sin(45°) = sqrt(2)/2 ≈ 0.7071"),
    ],
)
def test_false_arithmetic_is_wrong_with_the_right_value(sentence, expected):
    claims = find_claims(sentence)
    assert len(claims) == 1
    assert claims[0].correct is False and claims[0].flagged
    assert claims[0].expected == expected


def test_a_wrong_link_in_a_chain_is_found():
    claims = find_claims("1/2 + 1/4 = 2/6 = 1/3")
    assert [claim.correct for claim in claims] == [False, True]


# ---------------------------------------------------------------------------------------------- solutions

def test_an_equation_with_a_stated_solution_is_checked():
    claims = find_claims("Solve 2x + 3 = 7: take 3 from both sides, 2x = 4, so x = 2.")
    assert [(c.kind, c.correct) for c in claims] == [("solution", True), ("solution", True)]


def test_a_wrong_solution_is_flagged_with_the_real_one():
    [claim] = find_claims("2x + 3 = 7 so x = 3.")
    assert claim.kind == "solution" and claim.flagged
    assert claim.expected == "x = 2"
    assert "9 ≠ 7" in claim.reason


def test_a_wrong_step_is_caught_by_the_final_answer():
    claims = find_claims("2x + 3 = 7, so 2x = 10, so x = 5.")
    assert [claim.correct for claim in claims] == [False, True]


def test_quadratic_solution_and_its_roots():
    assert verdicts("x^2 = 9 so x = 3") == [("solution", True)]
    [claim] = find_claims("x^2 = 9 so x = 4")
    assert claim.correct is False and claim.expected == "x = -3 or x = 3"


def test_a_solution_written_in_words():
    assert verdicts("3x = 12, so x is 4.") == [("solution", True)]


def test_an_identity_is_a_true_claim():
    assert verdicts("(x + 1)^2 = x^2 + 2x + 1") == [("identity", True)]


# ---------------------------------------------------------------------------------------------- not claims

@pytest.mark.parametrize(
    "sentence",
    [
        "The answer is 5.",
        "Step 1 is to add the numbers.",
        "It is 3:30 now.",
        "I have 1, 2, 3 apples.",
        "In 2023 there were 12 months.",
        "x = 2",  # a bare assignment states nothing checkable
        "Solve 2x + 3 = 7.",  # an equation posed, with no solution given
        "The equation is y = 2x + 1.",
        "(x + 1)^2 = x^2 + 1",  # not an identity, no solution stated: could be posed, so not flagged
        "Question 3 = hard.",
        "One day is 24 hours.",
        "The first one is 3.",
        "the probability of rolling a 6 is 1/6",
        "x is a number and y is 5 apples.",
        "I don't know. Don't worry, it's fine!",
        "Page 2 3 + 4",
        "7 is greater than 3",  # a bare number before "is" is not read as mathematics (see the module docstring)
    ],
)
def test_things_that_are_not_claims(sentence):
    assert not [claim for claim in find_claims(sentence) if claim.correct is not None], normalise(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "You said 1/2 + 1/3 = 2/5, but that is wrong.",
        "A common mistake is to write 1/2 + 1/3 = 2/5.",
        "If we added tops and bottoms we would get 1/2 + 1/3 = 2/5.",
        "Is 1/2 + 1/3 = 2/5?",
        "Let's try x = 1: 2(1) + 3 = 5, which is not 7.",
    ],
)
def test_quoted_supposed_or_asked_wrong_claims_are_not_flagged(sentence):
    assert not [claim for claim in find_claims(sentence) if claim.flagged]


@pytest.mark.parametrize(
    "sentence",
    ["If you multiply both numbers together, you get 7*8 = 54.", "Don't worry, 2 - 3 = 0."],
)
def test_a_condition_or_comfort_in_another_clause_does_not_hide_a_wrong_claim(sentence):
    [claim] = find_claims(sentence)
    assert claim.flagged


def test_a_supposed_value_is_not_a_stated_solution():
    assert find_claims("If x = 1, then 2x + 3 = 5.") == []
    assert not [c for c in find_claims("Solve 2x + 3 = 7. Suppose x = 1. Then it does not work.") if c.flagged]


# ---------------------------------------------------------------------------------------------- the validator

def test_check_claims_contract_flags_the_teacher_only_with_turn_indices():
    dialogue = [
        {"role": "student", "content": "Is 1/2 + 1/3 = 2/5? I think 3 + 3 = 7."},
        {"role": "teacher", "content": "Not quite. 1/2 + 1/3 = 3/6 + 2/6 = 5/6."},
        {"role": "student", "content": "Oh, so 2x + 3 = 7 means x = 2?"},
        {"role": "teacher", "content": "Yes. And sin(30°) = 1, and 2x + 1 = 9 so x = 5."},
    ]
    result = check_claims(dialogue)
    assert result["passed"] is False
    assert result["checked"] == 4
    assert [flag["turn"] for flag in result["flags"]] == [3, 3]
    assert result["flags"][0] == {"turn": 3, "role": "teacher", "claim": "sin(30°) = 1",
                                  "reason": "the left side is 1/2, not 1", "expected": "sin(30°) = 1/2"}
    assert result["flags"][1]["expected"] == "x = 4"
    assert set(result) >= {"passed", "message", "flags"}
    assert "2 of 4 claims wrong" in result["message"]


def test_check_claims_passes_a_correct_or_claimless_dialogue():
    correct = [{"role": "student", "content": "Help!"}, {"role": "teacher", "content": "3/4 + 1/8 = 7/8."}]
    assert check_claims(correct) == {"passed": True, "message": "1 claims checked, none wrong", "flags": [],
                                     "checked": 1}
    assert check_claims([{"role": "teacher", "content": "Fractions are parts of a whole."}])["message"] == (
        "no checkable claims"
    )


def test_check_claims_accepts_the_record_argument_of_python_validators():
    dialogue = [{"role": "teacher", "content": "2 + 2 = 5"}]
    assert check_claims(dialogue, {"topic": "arithmetic"})["flags"][0]["expected"] == "2 + 2 = 4"


def test_check_claims_rejects_a_non_dialogue():
    with pytest.raises(TypeError, match="expected a dialogue"):
        check_claims("2 + 2 = 4")


# ---------------------------------------------------------------------------------------------- real worked text

@pytest.mark.parametrize(
    "sentence",
    [
        "In half an hour he goes 30*.5=15 miles",  # a decimal written without its 0
        "The brokerage fee is $350 000 x 5/100 = $17500.",  # a space between thousands
        "The total cost will be $864\xa0+ $2,592 = $3,456.",
        "5 degrees an hour for 10 hours 5*10=50 degrees",  # degrees as a unit, not an angle
        "so .25 * 100 = 25%",  # percent as a unit
    ],
)
def test_numbers_as_people_write_them_hold(sentence):
    found = verdicts(sentence)
    assert found and all(correct is True for _, correct in found), (normalise(sentence), found)


@pytest.mark.parametrize(
    "sentence",
    [
        "This left 18 pink - 6 = 12 pink flamingos.",  # "18 pink" is cut off by a word: only whole sides count
        "The team played (L+8) + L = 2L + 8 = 22 games.",
        "Their combined size is shoe size 25 + shoe size 5 = 30",
        "Since 40% is equal to 240 students, then 1% is equal to 240/40 = 6 students.",  # a share of an amount
        "Since Carver's age (45) is 5 years less than twice his son's age.",
        "Thus, W = 1 1/2 / 1/2 = 3 episodes.",  # ambiguous as written
    ],
)
def test_cut_or_ambiguous_expressions_are_not_flagged(sentence):
    assert not [claim for claim in find_claims(sentence) if claim.flagged], normalise(sentence)


def test_gsm8k_worked_answers_are_almost_never_flagged():
    """GSM8K's reference solutions (real, correct worked arithmetic) as a false-alarm test: the first 300 answers
    hold about 800 checkable claims; at most 1 % may be flagged (on the whole test split 10 of 3,637 are, among them
    real slips in the dataset such as "3.65 divided by .05 equals 69" and "$32 - $20 = $300")."""
    import gzip
    import json
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "gsm8k" / "test.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")][:300]
    claims = []
    for row in rows:
        worked = re.sub(r"<<[^>]*>>", "", row["answer"]).split("####")[0]
        claims.extend(claim for claim in find_claims(worked) if claim.correct is not None)
    flagged = [claim.text for claim in claims if claim.flagged]
    assert len(claims) > 500
    assert len(flagged) <= 0.01 * len(claims), flagged
