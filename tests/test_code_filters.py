"""The spec filters that pull Python out of model answers: `code`, `asserts`, `definitions`, `python_stub`,
`function_name`."""

from __future__ import annotations

import pytest

from perpetuum.pipeline.code_filters import (
    assert_statements,
    function_name,
    python_definitions,
    python_stub,
    strip_code_fences,
)
from perpetuum.pipeline.templates import render

FUNCTION = "def f(x):\n    return x"


@pytest.mark.parametrize(
    "answer, expected",
    [
        (f"```python\n{FUNCTION}\n```", FUNCTION),
        (f"Here it is:\n```py\n{FUNCTION}\n```\nIt returns x.", FUNCTION),
        (f"```\n{FUNCTION}\n```", FUNCTION),
        (f"```\n```python\n{FUNCTION}\n```", FUNCTION),  # an empty fence opened first
        (f"{FUNCTION}\n```\nThis returns x.", FUNCTION),  # code first, then only a closing fence
        (f"Solution\n```python\n{FUNCTION}\n```", FUNCTION),  # one word of prose is not taken for code
        ("no code here", "no code here"),
        (None, ""),
    ],
)
def test_code_takes_what_is_inside_the_fences(answer, expected):
    assert strip_code_fences(answer) == expected


def test_code_joins_every_block_unless_asked_for_the_first():
    answer = f"```python\n{FUNCTION}\n```\nExample:\n```python\nprint(f(1))\n```"
    assert strip_code_fences(answer) == FUNCTION + "\n\nprint(f(1))"
    assert strip_code_fences(answer, first=True) == FUNCTION
    assert render("{{ answer | code(first=true) }}", {"answer": answer}) == FUNCTION


def test_a_block_cut_by_max_tokens_keeps_its_complete_lines():
    cut = f"```python\n{FUNCTION}\n\ndef g(y):\n    return (y +"
    assert strip_code_fences(cut) == FUNCTION
    # a closed block is never trimmed: its syntax error is the model's, and the sandbox must report it
    broken = f"```python\n{FUNCTION}\n\ndef g(y):\n    return (y +\n```"
    assert strip_code_fences(broken) == f"{FUNCTION}\n\ndef g(y):\n    return (y +"


def test_asserts_keeps_only_top_level_assert_statements():
    tests = "```python\ndef f(x):\n    assert x\n    return 0\n\nassert f(1) == 1\nprint('ok')\nassert f(2) == 2\n```"
    assert assert_statements(tests) == "assert f(1) == 1\nassert f(2) == 2"
    # an answer that does not parse (cut mid-line) keeps the unindented assert lines that do
    cut = "assert f(1) == 1\n    assert inside\nassert f(2) == 2\nassert f(3) =="
    assert assert_statements(cut) == "assert f(1) == 1\nassert f(2) == 2"
    assert assert_statements("no tests") == ""


def test_python_stub_and_function_name_read_the_first_function():
    solution = 'import math\n\ndef area(r: float) -> float:\n    """Area of a circle."""\n    return math.pi * r ** 2\n'
    assert python_stub(solution) == 'def area(r: float) -> float:\n    """Area of a circle."""'
    assert function_name(solution) == "area"
    assert python_stub(FUNCTION) == "def f(x):\n    ..."  # no docstring: the body is elided
    assert python_stub("x = 1") == python_stub("def (") == ""
    assert function_name("not python") == ""
    assert render("{{ s | function_name }}: {{ s | python_stub }}", {"s": FUNCTION}) == "f: def f(x):\n    ..."


EXERCISE = """Here is the exercise:
```python
import math

@functools.cache
def area(r):
    \"\"\"Area of a circle of radius r.\"\"\"
    return math.pi * r ** 2

UNIT = "cm"
example = area(2)
print(area(1))
assert round(area(1), 2) == 3.14
assert area(0) == 0.0
assert area(2) == area(2)
assert area(3) == 3 * 3 * math.pi
assert not area(0)
assert isinstance(area(1), float)
assert [0.0] == [area(0)]
assert math.pi > 3
if __name__ == "__main__":
    print(area(5))
```"""


def test_asserts_calling_a_function_keep_only_tests_against_a_fixed_expected_value():
    kept = assert_statements(EXERCISE, calling="area")
    assert kept.splitlines() == ["assert round(area(1), 2) == 3.14", "assert area(0) == 0.0", "assert not area(0)",
                                 "assert [0.0] == [area(0)]"]
    # computed expectations (which may restate the solution), type checks and asserts on other code are dropped
    assert "area(2) == area(2)" not in kept and "3 * 3 * math.pi" not in kept and "isinstance" not in kept
    assert render('{{ a | asserts(calling="area") }}', {"a": EXERCISE}) == kept
    assert assert_statements(EXERCISE, calling="volume") == ""


def test_asserts_calling_a_function_also_come_from_test_functions_and_the_main_block_never_the_solution():
    answer = ("def half(x):\n    assert half(4) == 2\n    return x / 2\n\n"
              "def test_half():\n    assert half(4) == 2\n    value = 3\n\n"
              "if __name__ == '__main__':\n    assert half(1) == 0.5\n    print(half(2))\n")
    assert assert_statements(answer, calling="half") == "assert half(4) == 2\nassert half(1) == 0.5"
    assert assert_statements(answer) == ""  # without `calling`, only top-level asserts, as before


def test_definitions_keep_imports_functions_and_constants_as_written():
    assert python_definitions(EXERCISE) == (
        'import math\n\n@functools.cache\ndef area(r):\n    """Area of a circle of radius r."""\n'
        '    return math.pi * r ** 2\n\nUNIT = "cm"'
    )
    assert render("{{ a | definitions }}", {"a": EXERCISE}) == python_definitions(EXERCISE)
    assert python_definitions("def broken(:\n    pass") == "def broken(:\n    pass"  # the sandbox reports it
