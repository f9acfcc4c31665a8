"""Jinja filters that pull Python code out of a model's answer, for specs whose columns hold programs.

    {{ answer | code }}          the code inside the answer's Markdown fences (or the answer, when it has none)
    {{ answer | asserts }}       only the answer's `assert` statements that parse, one per line
    {{ answer | asserts(calling="f") }}  only those that test f against a fixed expected value
    {{ answer | definitions }}   the code's imports, functions, classes and constants, without asserts or calls
    {{ solution | python_stub }} the first function's signature and docstring: the exercise without its solution
    {{ solution | function_name }} the first function's name

Small models wrap code in prose, leave a fence unclosed when max_tokens cuts them, or repeat the function under
test inside their tests; these filters keep what a sandbox can run and what a reader needs.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Any

__all__ = ["strip_code_fences", "assert_statements", "python_definitions", "python_stub", "function_name"]

# A fenced block, optionally tagged python. An unclosed fence (an answer cut by max_tokens or by a stop string on
# the closing fence) runs to the end of the answer.
_FENCE = re.compile(r"```[ \t]*(?:python3|python|py)?[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL | re.IGNORECASE)
_CLOSING_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)
# An empty fence pair opened twice in a row ("```\n```python\n..."), which small models write.
_EMPTY_FENCE = re.compile(r"^[ \t]*```[ \t]*\n(?=[ \t]*```)", re.MULTILINE)


def strip_code_fences(text: Any, first: bool = False) -> str:
    """The code inside Markdown fences (every fenced block joined, or only the first with `first=True`), or the text
    itself when it has none.

    An answer that starts with code and only closes a fence ("def f(): ...\n```\nprose") gives the code before
    that fence. A block whose fence was never closed was cut short (by max_tokens), so when it does not parse its
    last, unfinished lines are dropped down to the longest start that does."""
    text = "" if text is None else str(text)
    first_fence = _CLOSING_FENCE.search(text)
    if first_fence and _is_program(text[: first_fence.start()]):
        return text[: first_fence.start()].strip("\n")
    blocks = [
        (match.group(1).strip("\n"), match.group(0).rstrip().endswith("```"))
        for match in _FENCE.finditer(_EMPTY_FENCE.sub("", text))
        if match.group(1).strip()
    ]
    if not blocks:
        return text
    if first:
        blocks = blocks[:1]
    code = [block if closed else _complete_start(block) for block, closed in blocks]
    return "\n\n".join(code)


def _complete_start(code: str) -> str:
    """`code` itself if it parses, else its longest run of first lines that parses (or `code` when none does)."""
    if _parses(code):
        return code
    lines = code.splitlines()
    for end in range(len(lines) - 1, 0, -1):
        start = "\n".join(lines[:end]).rstrip()
        if _is_program(start):
            return start
    return code


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return bool(source.strip())


def _is_program(source: str) -> bool:
    """Code that parses and does something: a lone word of prose ("Solution") parses as an expression too."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(not isinstance(node, ast.Expr) for node in tree.body)


def assert_statements(text: Any, calling: str | None = None) -> str:
    """The `assert` statements in `text` (fences removed first) that parse on their own, one per line, in order.

    Everything else (a copy of the function under test, prints, prose) is left out, so the tests cannot replace
    the solution they are meant to check. With `calling`, only the asserts that test that function against a fixed
    expected value are kept: `assert f(2) == 4`, `assert f([]) is None`, `assert not f(3)` (the call on one side, a
    literal on the other, or the call's truth alone). An expected value computed by code (`assert f(3) == 3 * 2 + 1`)
    could restate the solution instead of the task, and an assert that never calls the function tests nothing.
    Asserts in `def test_*()` functions and in an `if __name__ == "__main__":` block count too, lifted to the top
    level."""
    code = strip_code_fences(text)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # e.g. cut by max_tokens: keep the top-level assert lines that parse
        nodes = [ast.parse(line).body[0] for line in code.splitlines() if line.startswith("assert ") and _parses(line)]
    else:
        nodes = [node for node in tree.body if isinstance(node, ast.Assert)]
        if calling:
            nodes = _test_asserts(tree.body)
    if calling:
        nodes = [node for node in nodes if _tests_against_a_literal(node.test, calling)]
    return "\n".join(ast.unparse(node) for node in nodes)


def _test_asserts(body: list[ast.stmt]) -> list[ast.Assert]:
    """The asserts where tests live, in order: at the top level, in `def test_*()` functions and in an
    `if __name__ == "__main__":` block (never inside the solution, where an assert checks its own input)."""
    found = []
    for node in body:
        if isinstance(node, ast.Assert):
            found.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            found += [inner for inner in node.body if isinstance(inner, ast.Assert)]
        elif isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            found += _test_asserts(node.body)
    return found


def _calls(node: ast.AST, name: str) -> bool:
    return any(isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == name
               for inner in ast.walk(node))


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _tests_against_a_literal(test: ast.expr, name: str) -> bool:
    """`f(...) <op> literal` (either way round), or `f(...)` / `not f(...)` alone, with f called exactly there."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    if isinstance(test, ast.Call):
        return isinstance(test.func, ast.Name) and test.func.id == name
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right = test.left, test.comparators[0]
        return (_calls(left, name) and _is_literal(right)) or (_calls(right, name) and _is_literal(left))
    return False


_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def python_definitions(text: Any) -> str:
    """The code in `text` (fences removed first) reduced to what defines things: imports, functions, classes and
    assignments that call nothing, as written. Top-level asserts, prints, example calls and `if __name__ ==
    "__main__"` blocks are left out, so running the result only defines the solution. Code that does not parse is
    returned as it is (running it reports the syntax error)."""
    code = strip_code_fences(text)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.splitlines()
    kept: list[str] = []
    previous_end = None
    for node in tree.body:
        is_constant = isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
            isinstance(inner, ast.Call) for inner in ast.walk(node))
        if not (isinstance(node, _DEFINITIONS) or is_constant):
            continue
        start = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
        if previous_end is not None and start - 1 > previous_end and not lines[start - 2].strip():
            kept.append("")
        kept.extend(lines[start - 1 : node.end_lineno])
        previous_end = node.end_lineno
    return "\n".join(kept)


def _first_function(text: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        tree = ast.parse(strip_code_fences(text))
    except (SyntaxError, ValueError):
        return None
    return next((node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), None)


def python_stub(text: Any) -> str:
    """The first top-level function of `text` (fences removed first) reduced to its signature and docstring, or ""
    when the code does not parse or defines no function."""
    function = _first_function(text)
    if function is None:
        return ""
    stub = copy.copy(function)
    has_docstring = ast.get_docstring(function, clean=False) is not None
    stub.body = [function.body[0]] if has_docstring else [ast.Expr(ast.Constant(...))]
    return ast.unparse(stub)


def function_name(text: Any) -> str:
    """The name of the first top-level function of `text`, or "" when there is none."""
    function = _first_function(text)
    return function.name if function is not None else ""
