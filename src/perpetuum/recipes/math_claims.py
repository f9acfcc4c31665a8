"""Find the arithmetic and algebra a teacher states in a dialogue, and check each claim with sympy.

    claims = find_claims("3/4 + 1/8 = 7/8, and sin(30°) = 1/2. Solve 2x + 3 = 7: 2x = 4, so x = 2.")
    [claim.correct for claim in claims]         # [True, True, True, True]
    check_claims(dialogue)                        # the `claim_check` validator of recipe:math_dialogues

What counts as a claim (after words and symbols are normalised: "plus" +, "times" and "x" between numbers *,
"divided by" /, "is"/"equals" =, "is bigger than" >, "half of" 1/2 *, "squared" ^2, "the square root of" sqrt,
LaTeX \\frac, \\times, \\sqrt, unicode × ÷ − √ π ° ² ³):

- **numeric** relations: every side a number expression, e.g. "3/4 + 1/8 = 7/8", "sin(30°) = 1/2",
  "25% of 80 is 20", "3/4 > 2/3", chains "1/2 + 1/4 = 2/4 + 1/4 = 3/4" (each link is checked);
- **solutions**: an equation in x (or y, z, n, m, t) followed in the same message by "x = value", e.g.
  "2x + 3 = 7 so x = 2": the value must satisfy the equation (and every step before it);
- **identities**: an equation in a variable with no stated solution that holds for every value,
  e.g. "(x + 1)^2 = x^2 + 2x + 1" (recorded as correct; one that does not hold is not flagged, since it may be an
  equation posed to solve).

Not claims: a bare assignment ("x = 2"), an equation with no stated solution, "the answer is 5" (a side that is
not mathematics), numbered steps ("Step 1 is ...": "is" becomes "=" only after an operation, a function or a
variable), times and ratios ("3:30"), lists ("1, 2, 3"), a side cut off by words ("18 pink - 6 = 12"), a share said
to be an amount ("40% is 240 students"). A sentence that quotes or denies a wrong answer ("you said", "not",
"wrong", "mistake", ...), a clause that supposes one ("if", "suppose", "would", ... before the claim in its own
clause) and a question can hold a false equation on purpose: their wrong claims are kept as `hedged` and not
flagged ("If you multiply them, you get 7*8 = 54" is flagged: the claim is outside the "if" clause).
Trigonometric functions of a whole number of at least 7 read it in degrees (sin(30) is read as sin(30°)), as a
school lesson means; "%" and "°" may also be units ("5 * 10 = 50 degrees" holds). A claim with a decimal number is
compared rounded to the decimal places written (sin(45°) = 0.707 holds; 0.5 = 0.45 and 2/3 = 0.66 do not); "≈"
allows 1 %.

Measured false alarms: on GSM8K's 1,319 reference solutions (correct final answers; calculator annotations
removed) 3,637 claims are checked and 10 flagged. Four are real slips in GSM8K's worked text ("3.65 divided by .05
equals 69", "$32 - $20 = $300", "x = 0.42 + .3x" for 4.2 + .3x, flagged with its step and its solution x = 6);
three are running totals written as one chain ("$3/2 = $1.50+$3.00=$4.50"); three equate units or shares with
numbers ("Drop 8 degrees = 2 - 8", "48 = 100% + 20%"): false as written, though not what the author meant.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

__all__ = ["Claim", "check_claims", "find_claims", "normalise"]

VARIABLES = "xyznmt"
_FUNCTIONS = ("sqrt", "sin", "cos", "tan", "log", "ln")
_RELATION = re.compile(r"(<=|>=|!=|≤|≥|≠|≈|=|<|>)")
# Words that mark a sentence as quoting or denying a claim ("you said ...", "... is wrong") ...
_QUOTING = re.compile(
    r"\b(not|isn't|wasn't|aren't|doesn't|wrong|incorrect|mistake|mistakes|error|you said|you wrote|you think|"
    r"you thought|you got|you might|you may|some people|instead|careful|common|trap|misconception|never)\b",
    re.IGNORECASE,
)
# ... and words that make the claim's own clause a supposition ("if we added tops and bottoms we would get ...").
_SUPPOSING = re.compile(r"\b(if|suppose|what if|let's say|guess|try|would|could|might)\b", re.IGNORECASE)
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}


@dataclass
class Claim:
    """One checkable statement. `correct` is None when sympy could not decide it (then it is not flagged)."""

    text: str  # the claim in normalised notation, e.g. "3/4 + 1/8 = 7/8" or "2x + 3 = 7 ... x = 2"
    kind: str  # numeric, solution or identity
    correct: bool | None
    reason: str  # why it is wrong (or "holds")
    expected: str  # what is right, e.g. "3/4 + 1/8 = 7/8" or "x = 2"
    hedged: bool = False  # said in a sentence that quotes or supposes a wrong answer: never flagged

    @property
    def flagged(self) -> bool:
        return self.correct is False and not self.hedged


# ---------------------------------------------------------------------------------------------- normalising

_PHRASES = [
    # Longest first: each is replaced only as whole words.
    (r"is not equal to|does not equal|doesn't equal|is not|isn't", " ≠ "),
    (r"is greater than or equal to|is at least", " ≥ "),
    (r"is less than or equal to|is at most", " ≤ "),
    (r"is (?:greater|bigger|larger|more) than|(?:greater|bigger|larger|more) than", " > "),
    (r"is (?:less|smaller|fewer) than|(?:less|smaller|fewer) than", " < "),
    (r"is equal to|is the same as|equals|equal to|is equivalent to|gives us|gives|makes|is", " = "),
    (r"multiplied by|times", " * "),
    (r"divided by", " / "),
    (r"plus|added to", " + "),
    (r"minus|take away", " - "),
    (r"to the power of", " ^ "),
    (r"squared", " ^2 "),
    (r"cubed", " ^3 "),
    (r"(?:the )?square root of", " sqrt "),
    (r"half of", " 1/2 * "),
    (r"a third of|one third of", " 1/3 * "),
    (r"a quarter of|one quarter of", " 1/4 * "),
    (r"twice|double", " 2 * "),
    (r"degrees|degree", "°"),
    (r"percent", "%"),
    (r"pi", "π"),
]
_PHRASE_PATTERNS = [(re.compile(rf"\b(?:{words})\b", re.IGNORECASE), symbol) for words, symbol in _PHRASES]
_RELATION_WORDS = {" ≠ ", " ≥ ", " ≤ ", " > ", " < ", " = "}
_LATEX = [
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\sqrt\s*\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\^\s*\{?\\circ\}?"), "°"),
    (re.compile(r"\\(?:times|cdot)"), "*"),
    (re.compile(r"\\div"), "/"),
    (re.compile(r"\\pi"), "π"),
    (re.compile(r"\\(?:le|leq)\b"), "≤"),
    (re.compile(r"\\(?:ge|geq)\b"), "≥"),
    (re.compile(r"\\(?:ne|neq)\b"), "≠"),
    (re.compile(r"\\approx"), "≈"),
    (re.compile(r"\\(?:sin|cos|tan|log|ln)"), lambda match: match.group(0)[1:]),
    (re.compile(r"\\left|\\right|\\[()\[\]]|\$"), " "),
    (re.compile(r"\^\{([^{}]*)\}"), r"^(\1)"),
]
_UNICODE = str.maketrans({"×": "*", "·": "*", "⋅": "*", "÷": "/", "−": "-", "–": "-", "∕": "/", "²": "^2", "³": "^3",
                          "√": " sqrt ", "π": "π", "⁄": "/"})


def normalise(text: str) -> str:
    """`text` with mathematics written in plain notation: LaTeX, unicode operators and operation words replaced."""
    for pattern, replacement in _LATEX:
        text = pattern.sub(replacement, text)
    text = text.translate(_UNICODE).replace("\xa0", " ")
    text = re.sub(r"(?<!\d)\*\*|\*\*(?!\d)", " ", text)  # markdown bold, not 2**3
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000
    text = re.sub(r"(?<![\w.])\.(?=\d)", "0.", text)  # .5
    text = re.sub(r"(?<=\d)\s*[xX]\s*(?=\d)", " * ", text)  # 3 x 4
    number_word = "|".join(_NUMBER_WORDS)
    # Number words next to an operation word become digits ("three plus four"); alone they stay words.
    operation = r"plus|minus|times|multiplied by|divided by"
    pattern = re.compile(rf"\b({number_word})\s+({operation})\s+({number_word})\b", re.IGNORECASE)
    text = pattern.sub(lambda m: f"{_NUMBER_WORDS[m[1].lower()]} {m[2]} {_NUMBER_WORDS[m[3].lower()]}", text)
    text = re.sub(
        rf"(\d\s+(?:{operation})\s+\d+\s+(?:is|equals|makes)\s+)({number_word})\b",
        lambda m: m[1] + str(_NUMBER_WORDS[m[2].lower()]),
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"(\d+(?:\.\d+)?\s*%|\d+/\d+)\s+of\b", r"\1 *", text)  # 25% of 80, 3/4 of 12
    # Operations first, so that "3 plus 4 is 7" has become "3 + 4 is 7" when "is" is judged.
    for pattern, symbol in _PHRASE_PATTERNS:
        if symbol not in _RELATION_WORDS:
            text = pattern.sub(symbol, text)
    for pattern, symbol in _PHRASE_PATTERNS:
        if symbol in _RELATION_WORDS:
            text = pattern.sub(lambda m, s=symbol: _relation_if_mathematical(m, s), text)
    text = re.sub(r"==+", "=", text)
    return re.sub(r"[ \t]+", " ", text)


_MATH_BEFORE = re.compile(r"[\d)°%πxyznmt]\s*$")


def _relation_if_mathematical(match: re.Match, symbol: str) -> str:
    """A relation word becomes a symbol only after a mathematical expression that is more than a bare number
    ("3 + 4 is 7", "x is 2", "sin 30° is 1/2"; not "Step 1 is" or "the answer is")."""
    before = match.string[: match.start()]
    if not _MATH_BEFORE.search(before):
        return match.group(0)
    span = _SPAN_TAIL.search(before)
    expression = span.group(0) if span else ""
    if re.search(r"[+\-*/^π]|sqrt|sin|cos|tan|log|ln", expression) or _VARIABLE.search(expression):
        return symbol
    return match.group(0)


# ---------------------------------------------------------------------------------------------- spans

_TOKEN = (
    r"(?:\d+(?:\.\d+)?|sqrt|sin|cos|tan|log|ln|π|"
    rf"(?<![A-Za-z'’])[{VARIABLES}](?![A-Za-z'’])|"
    r"<=|>=|!=|[+\-*/^()=<>≤≥≠≈°%])"
)
_SPAN = re.compile(rf"{_TOKEN}(?:[ \t]*{_TOKEN})*")
_SPAN_TAIL = re.compile(rf"{_TOKEN}(?:[ \t]*{_TOKEN})*[ \t]*$")
_VARIABLE = re.compile(rf"(?<![A-Za-z'’])[{VARIABLES}](?![A-Za-z'’])")
_SENTENCE_END = re.compile(r"(?<=[.!?;\n])\s+|\n")


@dataclass
class _Relation:
    sides: list  # sympy expressions, left to right
    operators: list[str]
    texts: list[str]  # each side as written (normalised)
    start: int
    end: int
    hedged: bool


def _split_numbers(span: str) -> list[str]:
    """Two numbers with only a space between them are two things ("page 2 3 + 4"), unless they form a mixed
    number ("1 1/2"), which becomes (1 + 1/2)."""
    span = re.sub(r"(?<![\d/.])(\d{1,3}) (\d{3})(?![\d/.])", r"\1\2", span)  # 350 000, a thousands group
    span = re.sub(r"(?<![\d/.])(\d+) (\d+)/(\d+)(?![\d.])", r"(\1 + \2/\3)", span)
    return re.split(r"(?<=\d) +(?=\d)", span)


@functools.lru_cache(maxsize=4096)
def _parse(text: str):
    """A sympy expression for a normalised side, or None when it is not one."""
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    source = text.strip()
    if not source or not (re.search(r"\d|π", source) or _VARIABLE.search(source)):
        return None
    # Ambiguous as written: "1 1/2 / 1/2" (divided by a fraction or by 1, then by 2?), "30/100%1000".
    if re.search(r"/\s*\d+\s*/\s*\d", source) or re.search(r"%\s*[\d(]", source):
        return None
    source = re.sub(r"(\d+(?:\.\d+)?)\s*°", r"(\1*pi/180)", source)
    source = re.sub(r"(\d+(?:\.\d+)?)\s*%", r"(\1/100)", source)
    source = source.replace("π", " pi ")
    if re.search(r"[°%]", source) or not re.fullmatch(r"[0-9a-z+\-*/^(). ]+", source):
        return None
    names = set(re.findall(r"[a-z]+", source))
    if not names <= set(_FUNCTIONS) | {"pi"} | set(VARIABLES):
        return None
    local = {name: sympy.Symbol(name) for name in VARIABLES}
    local.update(sqrt=sympy.sqrt, sin=sympy.sin, cos=sympy.cos, tan=sympy.tan, log=sympy.log, ln=sympy.log,
                 pi=sympy.pi)
    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    try:
        expression = parse_expr(source, local_dict=local, global_dict={"Integer": sympy.Integer,
                                "Float": sympy.Float, "Rational": sympy.Rational, "Symbol": sympy.Symbol,
                                "Function": sympy.Function}, transformations=transformations)
    except Exception:  # sympy raises many kinds for malformed input; none of them is a claim
        return None
    if not isinstance(expression, sympy.Expr):
        return None
    return _degrees(expression)


def _degrees(expression):
    """sin(30) means sin(30°) in a lesson: a trigonometric function of a whole number >= 7 reads degrees."""
    import sympy

    def is_degree_call(node) -> bool:
        return (isinstance(node, (sympy.sin, sympy.cos, sympy.tan)) and node.args[0].is_Integer
                and abs(int(node.args[0])) >= 7)

    return expression.replace(is_degree_call, lambda node: node.func(node.args[0] * sympy.pi / 180))


def _relations(text: str, start_offset: int, sentence: str) -> list[_Relation]:
    found = []
    # A question ("1/2 + 1/3 = 2/5?") asks rather than claims.
    quoting = bool(_QUOTING.search(sentence)) or sentence.rstrip().endswith("?")
    for match in _SPAN.finditer(text):
        clause = re.split(r"[,;:]", text[: match.start()])[-1]
        hedged = quoting or bool(_SUPPOSING.search(clause))
        pieces = _split_numbers(match.group(0))
        for number, piece in enumerate(pieces):
            parts = _RELATION.split(piece)
            if len(parts) < 3:
                continue
            texts = [part.strip() for part in parts[0::2]]
            operators = parts[1::2]
            # A span that a word cuts is not the whole expression: "18 pink - 6 = 12", "2L + 8 = 22",
            # "4s + 16 = 2s + 32". Its cut side is left out, so only whole sides are compared.
            before = text[: match.start()].rstrip(" \t")
            if number == 0 and (re.search(r"[A-Za-z0-9)]$", before) and re.match(r"[+\-*/^]", texts[0])
                                or re.search(r"[A-Za-z]$", text[: match.start()])
                                or re.search(r"[+\-*/^]\s*[A-Za-z][A-Za-z' ]*$", before)):  # "25 + shoe size 5"
                texts[0] = ""
            if number == len(pieces) - 1 and re.match(r"[A-Za-z(]", text[match.end():]):
                texts[-1] = ""
            # Trim a leading or trailing side that is not mathematics ("= 5" after "the answer").
            sides = [_parse(side) for side in texts]
            while sides and sides[0] is None:
                sides, texts, operators = sides[1:], texts[1:], operators[1:]
            while sides and sides[-1] is None:
                sides, texts, operators = sides[:-1], texts[:-1], operators[:-1]
            if len(sides) < 2 or any(side is None for side in sides):
                continue
            found.append(_Relation(sides, operators, texts, start_offset + match.start(), start_offset + match.end(),
                                   hedged))
    return found


# ---------------------------------------------------------------------------------------------- checking


def _decimals(text: str) -> int | None:
    places = [len(fraction) for fraction in re.findall(r"\d\.(\d+)", text)]
    return max(places) if places else None


def _holds(left, right, operator: str, written: str) -> bool | None:
    import sympy

    try:
        difference = sympy.nsimplify(left - right) if not (left.has(sympy.Float) or right.has(sympy.Float)) \
            else left - right
        value = complex(sympy.N(difference, 30))
        left_value, right_value = float(sympy.N(left, 30)), float(sympy.N(right, 30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if abs(value.imag) > 1e-12 or any(v != v or v in (float("inf"), float("-inf")) for v in (left_value, right_value)):
        return None
    places = _decimals(written)
    tolerance = 1e-9 * max(1.0, abs(left_value), abs(right_value))
    if places is not None and operator in ("=", "≈", "≠", "!="):
        # A decimal is as precise as it is written (rounded): sin(45°) = 0.707 and 2/3 = 0.67 hold; 0.5 = 0.45,
        # sin(45°) = 0.8 and 2/3 = 0.66 do not.
        tolerance = max(tolerance, 0.5 * 10.0 ** (-places) * (1 + 1e-9))
    if operator == "≈":
        tolerance = max(tolerance, 0.01 * max(abs(left_value), abs(right_value)), 10.0 ** (-(places or 2)))
    equal = abs(left_value - right_value) <= tolerance
    if operator in ("=", "≈"):
        return equal
    if operator in ("≠", "!="):
        return not equal
    if operator == "<":
        return left_value < right_value and not equal
    if operator == ">":
        return left_value > right_value and not equal
    if operator in ("≤", "<="):
        return left_value < right_value or equal
    return left_value > right_value or equal  # ≥, >=


def _show(value, decimals: bool = False) -> str:
    """A value for a message: exact ("5/6", "sqrt(2)/2 ≈ 0.7071"), a decimal as a short number ("0.3"), and a
    fraction with its decimal too when the claim was written in decimals ("2/3 ≈ 0.6667")."""
    import sympy

    simple = sympy.simplify(sympy.nsimplify(value) if not value.has(sympy.Float) else value)
    if simple.is_Float:
        return f"{float(simple):.10g}"
    exact = sympy.sstr(simple)
    number = sympy.N(simple, 6)
    if number.is_real and not simple.is_Integer and (decimals or not simple.is_Rational):
        return f"{exact} ≈ {float(number):.4g}"
    return exact


_OPPOSITE = {"<": "≥", ">": "≤", "≤": ">", "≥": "<", "<=": ">", ">=": "<", "=": "≠", "≈": "≉", "≠": "=", "!=": "="}


_BARE_SHARE = re.compile(r"^\(?\s*\d+(?:\.\d+)?\s*(?:/\s*\d+|%)\s*\)?$")


def _share_of_an_amount(left_text: str, left, right_text: str, right) -> bool:
    """ "2/5 is equal to 12.8 hectares", "40% = 240 students": a share of a whole said to correspond to an amount,
    not an equality of numbers."""
    try:
        for share_text, share, amount in ((left_text, left, right), (right_text, right, left)):
            if _BARE_SHARE.match(share_text) and not amount.free_symbols and 0 < float(share) < 1 <= float(amount):
                return True
    except (TypeError, ValueError):
        return False
    return False


def _numeric_claims(relation: _Relation) -> list[Claim]:
    claims = []
    for i, operator in enumerate(relation.operators):
        left, right = relation.sides[i], relation.sides[i + 1]
        written = f"{relation.texts[i]} {operator} {relation.texts[i + 1]}"
        result = _holds(left, right, operator, written)
        if result is False and re.search(r"[%°]", written):
            # "% " and "°" can be units ("5 * 10 = 50 degrees", "0.25 * 100 = 25%"): wrong only if wrong both ways.
            plain = [_parse(re.sub(r"[%°]", "", side)) for side in (relation.texts[i], relation.texts[i + 1])]
            if None not in plain and _holds(plain[0], plain[1], operator, written):
                result = True
        if result is False and _share_of_an_amount(relation.texts[i], left, relation.texts[i + 1], right):
            continue
        if result is None:
            claims.append(Claim(written, "numeric", None, "could not be evaluated", "", relation.hedged))
            continue
        if result:
            claims.append(Claim(written, "numeric", True, "holds", written, relation.hedged))
            continue
        if operator in ("=", "≈"):
            decimals = _decimals(written) is not None
            reason = f"the left side is {_show(left, decimals)}, not {_show(right)}"
            expected = f"{relation.texts[i]} = {_show(left, decimals)}"
        else:
            reason = f"{_show(left)} {_OPPOSITE.get(operator, 'vs')} {_show(right)}"
            expected = f"{relation.texts[i]} {_OPPOSITE.get(operator, '?')} {relation.texts[i + 1]}"
        claims.append(Claim(written, "numeric", False, reason, expected, relation.hedged))
    return claims


def _assignment(relation: _Relation):
    """(symbol, value) for "x = 2" or "2 = x"; None otherwise."""
    import sympy

    if len(relation.sides) != 2 or relation.operators[0] != "=":
        return None
    left, right = relation.sides
    for symbol, value in ((left, right), (right, left)):
        if isinstance(symbol, sympy.Symbol) and not value.free_symbols:
            return symbol, value
    return None


def _solution_claim(equation: _Relation, values: dict, text: str) -> Claim:
    import sympy

    left, right = equation.sides[0], equation.sides[-1]
    stated = ", ".join(f"{symbol} = {_show(value)}" for symbol, value in sorted(values.items(), key=str))
    written = f"{equation.texts[0]} = {equation.texts[-1]} ... {stated}"
    holds = _holds(left.subs(values), right.subs(values), "=", text)
    if holds is None:
        return Claim(written, "solution", None, "could not be evaluated", "", equation.hedged)
    if holds:
        return Claim(written, "solution", True, "holds", stated, equation.hedged)
    expected = ""
    if len(values) == 1:
        symbol = next(iter(values))
        try:
            roots = sympy.solve(sympy.Eq(left, right), symbol)
        except (NotImplementedError, TypeError, ValueError):
            roots = []
        real_roots = [root for root in roots if root.is_real is not False]
        expected = " or ".join(f"{symbol} = {_show(root)}" for root in real_roots) or "no solution"
    substituted = _show(left.subs(values)) + " ≠ " + _show(right.subs(values))
    return Claim(written, "solution", False, f"{stated} does not satisfy the equation ({substituted})", expected,
                 equation.hedged)


def find_claims(text: str) -> list[Claim]:
    """Every checkable claim in one message, in order of appearance, each checked."""
    normalised = normalise(text)
    relations: list[_Relation] = []
    position = 0
    for sentence in _SENTENCE_END.split(normalised):
        offset = normalised.find(sentence, position)
        relations.extend(_relations(sentence, max(offset, 0), sentence))
        position = max(offset, 0) + len(sentence)
    claims: list[Claim] = []
    pending: list[_Relation] = []  # equations in a variable waiting for a stated solution
    for relation in relations:
        free = set().union(*(side.free_symbols for side in relation.sides))
        if not free:
            claims.extend(_numeric_claims(relation))
            continue
        assignment = _assignment(relation)
        if assignment is not None:
            symbol, value = assignment
            if relation.hedged:  # "if x = 1 ..." tries a value; it states no solution
                continue
            resolved = [eq for eq in pending if set().union(*(s.free_symbols for s in eq.sides)) == {symbol}]
            for equation in resolved:
                claims.append(_solution_claim(equation, {symbol: value}, normalised[equation.start:relation.end]))
                pending.remove(equation)
            continue
        if len(relation.sides) == 2 and relation.operators[0] == "=":
            pending.append(relation)
    for equation in pending:  # no stated solution: an identity is a (correct) claim; anything else is posed
        import sympy

        left, right = equation.sides
        try:
            identity = sympy.simplify(sympy.expand(left - right)) == 0
        except (TypeError, ValueError):
            identity = False
        if identity:
            claims.append(Claim(f"{equation.texts[0]} = {equation.texts[1]}", "identity", True, "holds for every "
                                "value", "", equation.hedged))
    return claims


def check_claims(dialogue: list[dict], record: dict | None = None, *, roles: tuple[str, ...] = ("teacher",)) -> dict:
    """The `claim_check` validator: every claim in the messages of `roles`, checked; wrong ones flagged. `record`
    (the rest of the record, passed by the `python` validator kind) is not used.

    Returns {"passed": no claim is wrong, "message": a one-line summary, "flags": [{"turn": index into the
    dialogue, "role", "claim", "reason", "expected"}], "checked": the number of claims checked}. Wrong claims in
    hedged sentences ("you said 1/2 + 1/3 = 2/5") are counted but not flagged.
    """
    if not isinstance(dialogue, list):
        raise TypeError(f"expected a dialogue (a list of role/content messages), got {type(dialogue).__name__}")
    flags, checked, hedged_wrong = [], 0, 0
    for turn, message in enumerate(dialogue):
        if message.get("role") not in roles:
            continue
        for claim in find_claims(str(message.get("content", ""))):
            if claim.correct is None:
                continue
            checked += 1
            if claim.flagged:
                flags.append({"turn": turn, "role": message["role"], "claim": claim.text, "reason": claim.reason,
                              "expected": claim.expected})
            elif claim.correct is False:
                hedged_wrong += 1
    if flags:
        shown = "; ".join(_flag_text(flag) for flag in flags[:3])
        more = f"; and {len(flags) - 3} more" if len(flags) > 3 else ""
        message = f"{len(flags)} of {checked} claims wrong: {shown}{more}"
    else:
        message = f"{checked} claims checked, none wrong" if checked else "no checkable claims"
    if hedged_wrong:
        message += f" ({hedged_wrong} wrong in quoting or supposing sentences, not flagged)"
    return {"passed": not flags, "message": message, "flags": flags, "checked": checked}


def _flag_text(flag: dict) -> str:
    """A wrong claim for a message: where, what, why and what is right ("turn 3: sin(30°) = 1 is wrong, the left
    side is 1/2, not 1 (correct: sin(30°) = 1/2)")."""
    text = f"turn {flag['turn']}: {flag['claim']} is wrong, {flag['reason']}"
    return text + (f" (correct: {flag['expected']})" if flag["expected"] else "")


def claim_as_dict(claim: Claim) -> dict:
    return {**asdict(claim), "flagged": claim.flagged}
