"""The final answer of a worked maths text, and whether it matches a known (gold) answer: the `answer_check`
validator of `recipe:math_dialogues`, beside the claim checker (`math_claims`), which checks the steps.

    gold_answer("Janet sells 16 - 3 - 4 = 9 duck eggs ...\\n#### 18")    # "18": the number after "####" (GSM8K)
    final_answer("So she makes $18 a day. The answer is $18.")            # "18"
    same_number("$1,080.00", "1080")                                      # True
    check_final_answer(dialogue, record)                                  # the validator: the teacher's answer

Where a text states its answer, in order of trust: a "#### N" line (GSM8K's own format), `\\boxed{N}`, then a phrase
"the answer is N" / "final answer: N" / "answer = N" (the last one in the text wins). A text that states none gives
the result of its last calculation (the number after its last "=") or else its last number: on GSM8K's worked
solutions with the "####" line removed, that finds the gold answer in 7,385 of 7,469 (98.9 %; the last number alone,
97 %). Numbers may carry thousands commas, a currency sign, a percent sign, trailing zeros ("18.00") or be
fractions ("3/4"); they are compared as exact rationals, so "1,080", "$1080" and "1080.0" are the same number.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["check_final_answer", "final_answer", "gold_answer", "parse_number", "same_number", "teacher_answer"]

# A number inside running text: -1,234.50, $18, 3/4, .5, 25ml, $7200/year (not x2, or a part of 3.5.1 or 1,080).
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.,/])(-?(?:\$\s?)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\$?\.\d+)(?![\d,./]\d|\d)"
)
# One number on its own, once signs, units and emphasis are removed.
_WHOLE_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+|(?=\.\d))(?:\.\d+)?(?:/\d+)?")
_IGNORED = re.compile(r"[\s$€£%*_`\\]")
_GSM8K_FINAL = re.compile(r"####\s*([^\n]+)")
_BOXED = re.compile(r"\\boxed\{([^{}]+)\}")
# "the answer is 18", "Final answer: $18", "answer = 18": what follows the phrase, up to the end of its line.
_STATED = re.compile(r"\banswer\s*(?:is|was|will be|would be|:|=)([^\n]{0,40})", re.IGNORECASE)


def parse_number(text: object) -> Fraction | None:
    """The number `text` writes, as an exact fraction: "1,080" 1080, "$18.00" 18, "3/4" 3/4, "25%" 25, "-5" -5;
    None when it is not one number."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        return Fraction(str(text))
    cleaned = _IGNORED.sub("", str(text)).rstrip(".!,;:)")
    if not _WHOLE_NUMBER.fullmatch(cleaned):
        return None
    try:
        return Fraction(cleaned.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def same_number(given: object, gold: object) -> bool:
    """Whether two written numbers are equal ("$1,080.00" and "1080" are); False if either is not a number."""
    left, right = parse_number(given), parse_number(gold)
    return left is not None and right is not None and left == right


def gold_answer(worked_solution: str) -> str | None:
    """The final answer of a GSM8K-style solution: what follows its last "####", or None if it has none."""
    found = _GSM8K_FINAL.findall(worked_solution or "")
    return found[-1].strip() if found else None


def _stated_answer(text: str) -> tuple[str, str] | None:
    """(the answer a text states, how it states it) from "####", \\boxed{} or "the answer is"; None if none does."""
    for pattern, how in ((_GSM8K_FINAL, "####"), (_BOXED, "boxed"), (_STATED, "the answer is")):
        for candidate in reversed(pattern.findall(text)):
            token = _NUMBER_TOKEN.search(candidate)
            if token and parse_number(token.group(1)) is not None:
                return token.group(1), how
    return None


def _last_result(text: str) -> str | None:
    """The first number after the text's last "=" that has one before the line ends: the result of its last
    calculation ("= 5 hours", "7 = x, so x is 7")."""
    for equals in reversed(list(re.finditer(r"=[^=\n]*", text))):
        token = _NUMBER_TOKEN.search(equals.group(0))
        if token and parse_number(token.group(1)) is not None:
            return token.group(1)
    return None


def _last_number(text: str) -> str | None:
    numbers = [token for token in _NUMBER_TOKEN.findall(text) if parse_number(token) is not None]
    return numbers[-1] if numbers else None


def _unstated_answer(text: str) -> tuple[str, str] | None:
    """(the result of the last calculation, else the last number, how it was found) for a text that states no
    answer; None if it holds no number."""
    result = _last_result(text)
    if result is not None:
        return result, "last result"
    number = _last_number(text)
    return (number, "last number") if number is not None else None


def final_answer(text: str) -> str | None:
    """The final answer a text gives: the answer it states, else the result of its last calculation ("= N"), else
    its last number, else None."""
    found = _stated_answer(text or "") or _unstated_answer(text or "")
    return found[0] if found else None


def teacher_answer(dialogue: list[dict], role: str = "teacher") -> dict:
    """The final answer `role` gives in a dialogue ([{role, content}, ...]): the answer stated in its latest message
    that states one; if no message states one, the result of the last calculation (else the last number) of its
    latest message holding a number. Returns {"answer": str | None, "turn": index in the dialogue | None, "how":
    "####", "boxed", "the answer is", "last result", "last number" or "none"}."""
    turns = [(i, message.get("content") or "") for i, message in enumerate(dialogue or [])
             if isinstance(message, dict) and message.get("role") == role]
    for turn, content in reversed(turns):
        stated = _stated_answer(content)
        if stated:
            return {"answer": stated[0], "turn": turn, "how": stated[1]}
    for turn, content in reversed(turns):
        found = _unstated_answer(content)
        if found is not None:
            return {"answer": found[0], "turn": turn, "how": found[1]}
    return {"answer": None, "turn": None, "how": "none"}


def check_final_answer(dialogue: list[dict], record: dict) -> dict:
    """Validator: the teacher's final answer (`teacher_answer`) equals the record's `gold_answer` as a number.
    Returns {"passed", "message", "answer", "gold", "turn", "how"}; the message is what a repair shows the model."""
    gold = record.get("gold_answer")
    if parse_number(gold) is None:
        return {"passed": False, "message": f"no gold answer to compare with: gold_answer is {gold!r}",
                "answer": None, "gold": gold, "turn": None, "how": "none"}
    found = teacher_answer(dialogue)
    details = {"answer": found["answer"], "gold": str(gold), "turn": found["turn"], "how": found["how"]}
    if found["answer"] is None:
        message = f"wrong final answer: the teacher never gives a number; the answer is {gold}"
        return {"passed": False, "message": message, **details}
    if same_number(found["answer"], gold):
        return {"passed": True, "message": f"final answer {found['answer']} matches {gold}", **details}
    return {"passed": False, "message": f"wrong final answer: the teacher says {found['answer']}, but the correct "
            f"answer is {gold}. End with \"The answer is {gold}.\"", **details}
