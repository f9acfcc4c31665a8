"""What the record page shows for each field: a view per value shape (dialogue, validator, judge, object, text, code).

Code is highlighted on the server with Pygments (a dependency of rich, so always installed), which escapes every
token; the page itself loads no script but our own. Everything else reaches the templates as plain data, and
Jinja's autoescaping turns it into text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

from perpetuum.review.dataset import (
    ColumnInfo,
    column_references,
    is_dialogue_value,
    is_judge_value,
    is_repair_value,
    is_validator_value,
    turn_flags,
)
from perpetuum.review.diff import word_diff
from perpetuum.review.store import field_label

__all__ = ["field_views", "highlight_code", "text_html", "looks_like_code", "claim_spans", "anchor_for",
           "metadata_strip"]

_CODE_KEY = re.compile(r"(code|solution|tests?|program|snippet|script|function|implementation|source)", re.IGNORECASE)
_CODE_START = re.compile(r"^\s*(def |class |import |from \S+ import |async def |@\w|assert |#!)")
_FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def looks_like_code(key: str, value: Any) -> bool:
    """A code field: text under a code-like name (solution, tests, code...), or text that starts like Python."""
    if not isinstance(value, str) or not value.strip():
        return False
    if _CODE_KEY.search(key) and ("\n" in value.strip() or "(" in value or "=" in value):
        return True
    return "\n" in value.strip() and bool(_CODE_START.match(value))


def highlight_code(code: str, language: str = "python") -> Markup:
    """Escaped, highlighted HTML for the inside of a <pre>."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language or "python", stripnl=False)
    except ClassNotFound:
        lexer = PythonLexer(stripnl=False)
    return Markup(highlight(code, lexer, HtmlFormatter(nowrap=True)))


def text_html(text: Any, marks: list[tuple[int, int]] | None = None) -> Markup:
    """Text escaped, with ```fenced``` code blocks highlighted (models often answer with them) and the character
    spans in `marks` (outside code blocks) wrapped in <mark>."""
    text = "" if text is None else str(text)
    parts: list[str] = []
    position = 0
    for match in _FENCE.finditer(text):
        parts.append(_marked(text, position, match.start(), marks or []))
        parts.append(f'<pre class="code">{highlight_code(match.group(2), match.group(1))}</pre>')
        position = match.end()
    parts.append(_marked(text, position, len(text), marks or []))
    return Markup("".join(parts))


def _marked(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> str:
    parts, position = [], start
    for mark_start, mark_end in sorted(marks):
        if mark_start < position or mark_end > end:
            continue
        parts.append(str(escape(text[position:mark_start])))
        parts.append(f'<mark class="wrong-claim">{escape(text[mark_start:mark_end])}</mark>')
        position = mark_end
    parts.append(str(escape(text[position:end])))
    return "".join(parts)


_NUMBER = re.compile(r"\d+(?:[.,/]\d+)?")


def claim_spans(text: str, claims: list[str]) -> list[tuple[int, int]]:
    """Where each claim is said in `text`. A checker writes a claim normalised ("7 + 5 = 13" for "7 + 5 is 13"), so
    it is found by its numbers, in order, within one sentence; a claim not found that way is not marked."""
    spans: list[tuple[int, int]] = []
    for claim in claims:
        numbers = _NUMBER.findall(claim or "")
        if not numbers:
            continue
        gap = r"[^\n.!?]{0,60}?"
        pattern = gap.join(rf"(?<![\d.]){re.escape(number)}(?![\d])" for number in numbers)
        match = re.search(pattern, text)
        if match and not any(match.start() < end and start < match.end() for start, end in spans):
            spans.append((match.start(), match.end()))
    return spans


def anchor_for(path: list[str | int], record: dict[str, Any]) -> str:
    """The page's element id for a field: a dialogue turn is "lesson-turn-3", anything else "field-" and its path."""
    if len(path) >= 2 and isinstance(path[1], int) and is_dialogue_value(record.get(path[0])):
        return f"{path[0]}-turn-{path[1]}"
    return _field_anchor(path)


def _field_anchor(path: list[str | int]) -> str:
    return "field-" + "-".join(re.sub(r"[^\w-]", "_", str(part)) for part in path)


def _path(path: list[str | int]) -> str:
    return json.dumps(path, ensure_ascii=False)


def _at(value: Any, path: list[str | int]) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, (str, int, float, bool)) or item is None for item in value
    )


def _leaves(value: Any, path: list[str | int], depth: int = 0) -> list[tuple[list[str | int], Any]]:
    """(path, value) of each scalar inside nested objects and lists of scalars (a list of tests: one leaf per test);
    deeper structures stay one JSON leaf."""
    if isinstance(value, dict) and depth < 3 and value:
        found = []
        for key, item in value.items():
            found.extend(_leaves(item, path + [key], depth + 1))
        return found
    if _is_scalar_list(value) and depth < 3:
        return [(path + [index], item) for index, item in enumerate(value)]
    return [(path, value)]


def field_views(
    record: dict[str, Any], original: dict[str, Any], columns: list[ColumnInfo], threshold: float | None
) -> list[dict[str, Any]]:
    """One view dict per column, in the card's column order, for the record template."""
    names = [column.name for column in columns]
    flags_by_turn = turn_flags(record, columns)
    dialogue_of = {
        flag["validator"]: dialogue
        for dialogue, turns in flags_by_turn.items()
        for flags in turns.values()
        for flag in flags
    }
    # Which validators speak about which column: a code field shows the test result of a validator that read it.
    checks: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        value = record.get(column.name)
        if is_validator_value(value):
            for name in column_references(column.spec, names):
                checks.setdefault(name, []).append({"name": column.name, **value})
    views = []
    for column in columns:
        if column.name not in record:
            continue
        value = record[column.name]
        view: dict[str, Any] = {
            "name": column.name,
            "kind": column.kind,
            "editable": column.kind != "validator",  # a verdict is overridden with a reason instead
            "anchor": _field_anchor([column.name]),
            "path": _path([column.name]),
            "json": json.dumps(value, ensure_ascii=False, indent=2),
            "edited": value != original.get(column.name),
            "checks": checks.get(column.name, []),
        }
        if is_dialogue_value(value):
            roles = list(dict.fromkeys(turn["role"] for turn in value))
            view["shape"] = "dialogue"
            view["turns"] = []
            for index, turn in enumerate(value):
                flags = flags_by_turn.get(column.name, {}).get(index, [])
                content = turn.get("content")
                marks = claim_spans(content, [flag.get("claim") for flag in flags]) if isinstance(content, str) else []
                view["turns"].append({
                    "index": index,
                    "anchor": f"{column.name}-turn-{index}",
                    "role": turn["role"],
                    "side": "left" if roles.index(turn["role"]) % 2 == 0 else "right",
                    "content": content,
                    "content_html": text_html(content, marks),
                    "is_text": isinstance(content, str),
                    "path": _path([column.name, index, "content"]),
                    "turn_path": _path([column.name, index]),
                    "flags": flags,
                    "edited": content != _at(original, [column.name, index, "content"]),
                    "change": _change(_at(original, [column.name, index, "content"]), content),
                    "repair": _repair_view(turn),
                })
        elif is_validator_value(value):
            view["shape"] = "validator"
            view["passed"] = value["passed"]
            view["message"] = value.get("message")
            view["flags"] = [flag for flag in value.get("flags") or [] if isinstance(flag, dict)]
            view["dialogue"] = dialogue_of.get(column.name)
            view["override"] = value.get("override") if isinstance(value.get("override"), dict) else None
            view["extra"] = {key: item for key, item in value.items()
                             if key not in {"passed", "message", "flags", "override"}}
        elif is_judge_value(value):
            view["shape"] = "judge"
            rubric = {item.get("name"): item for item in column.spec.get("rubric", []) if isinstance(item, dict)}
            view["rows"] = [
                {
                    "criterion": criterion,
                    "score": score,
                    "scale": _scale(rubric.get(criterion)),
                    "reason": value["reasons"].get(criterion, ""),
                    "low": _is_low(score, threshold, rubric.get(criterion)),
                }
                for criterion, score in value["scores"].items()
            ]
        elif isinstance(value, dict) or _is_scalar_list(value):
            view["shape"] = "object"
            view["leaves"] = [
                _leaf_view(column.name, path, leaf, original, [])  # the column's checks show once, above
                for path, leaf in _leaves(value, [column.name])
            ]
        elif isinstance(value, str):
            view["shape"] = "text"
            view.update(_leaf_view(column.name, [column.name], value, original, checks.get(column.name, [])))
        else:
            view["shape"] = "scalar"
            view["display"] = json.dumps(value, ensure_ascii=False)
        views.append(view)
    return views


def _repair_view(turn: dict[str, Any]) -> dict[str, Any] | None:
    repair = turn.get("repair")
    if not is_repair_value(repair):
        return None
    verdict = repair.get("verdict") if isinstance(repair.get("verdict"), dict) else {}
    claims = [flag.get("claim") for flag in verdict.get("flags") or [] if isinstance(flag, dict)]
    return {
        "original_html": text_html(repair["original"], claim_spans(repair["original"], claims)),
        "diff": word_diff(repair["original"], turn.get("content")),
        "validator": repair.get("validator") or "the check",
        "verdict": verdict,
        "flags": [flag for flag in verdict.get("flags") or [] if isinstance(flag, dict)],
        "attempts": repair.get("attempts"),
        "decision": repair.get("decision"),
    }


_SHORT = 80


def _short(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= _SHORT and "\n" not in value
    return value is None or isinstance(value, (int, float, bool))


def metadata_strip(views: list[dict[str, Any]], record: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the record's short values (samplers, numbers, titles) for the strip above the transcript;
    marks their views `compact` so the page lists them once, at the end."""
    strip: list[tuple[str, str]] = []
    for view in views:
        value = record.get(view["name"])
        if view["shape"] in {"dialogue", "validator", "judge"}:
            continue
        leaves = _leaves(value, [view["name"]]) if isinstance(value, dict) else [([view["name"]], value)]
        if not leaves or not all(_short(leaf) for _, leaf in leaves):
            continue
        view["compact"] = True
        for path, leaf in leaves:
            strip.append((field_label(path), leaf if isinstance(leaf, str) else json.dumps(leaf, ensure_ascii=False)))
    return strip


def _scale(criterion: dict | None) -> str:
    criterion = criterion or {}
    return f"{criterion.get('min', 1)}–{criterion.get('max', 5)}" if criterion else ""


def _is_low(score: Any, threshold: float | None, criterion: dict | None) -> bool:
    """Below the queue's threshold when one is set; otherwise in the lower half of the criterion's scale."""
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        return False
    if threshold is not None:
        return score < threshold
    low, high = (criterion or {}).get("min", 1), (criterion or {}).get("max", 5)
    return score < low + (high - low) / 2


def _leaf_view(column: str, path: list[str | int], value: Any, original: dict, checks: list[dict]) -> dict[str, Any]:
    # An item of a list is named by the list's key ("tests" for tests[2]).
    key = next((str(part) for part in reversed(path) if isinstance(part, str)), column)
    is_code = looks_like_code(key, value)
    return {
        "label": field_label(path[1:]) if len(path) > 1 else column,
        "leaf_anchor": _field_anchor(path) if len(path) > 1 else None,  # a whole column is its section
        "path": _path(path),
        "value": value,
        "is_text": isinstance(value, str),
        "display": value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
        "is_code": is_code,
        "code_html": highlight_code(value) if is_code else None,
        "tests": checks if is_code else [],
        "edited": value != _at(original, path),
        "change": _change(_at(original, path), value),
    }


def _change(original: Any, current: Any) -> dict[str, Any] | None:
    """How a field differs from the record as generated: the word diff, and the original as its editor takes it
    (for "revert this field"); None when unchanged."""
    if original == current or original is None:
        return None
    is_text = isinstance(original, str)
    return {"diff": word_diff(original, current), "kind": "text" if is_text else "json",
            "value": original if is_text else json.dumps(original, ensure_ascii=False, indent=2)}
