"""The `repair` key in a spec: what it repairs, its checks, and the run order it asks for.

`repair: {validator: NAME, attempts: N}` sits on an `llm_text`/`llm_json` column or on a dialogue role. NAME must be
a validator column that reads the repaired column, directly or through other columns, or no repaired answer could
change its verdict. For a column, the repair happens once the validator has run; for a dialogue role, after each of
the role's turns, so the validator may reach the dialogue only through columns that can be recomputed from a
conversation in progress (expressions, validators), and everything else it reads must run before the dialogue.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perpetuum.pipeline.spec_models import DialogueColumn, LLMTextColumn, RepairConfig, ValidatorColumn

if TYPE_CHECKING:
    from perpetuum.pipeline.spec import DatasetSpec

__all__ = [
    "RECOMPUTABLE_KINDS",
    "RepairTarget",
    "repair_targets",
    "ancestors",
    "descendants",
    "repair_problems",
    "order_preferences",
    "placement_problems",
]

# Column kinds whose value is a pure function of the record (and the record's seed): the repair loop recomputes
# these from a repaired value; every other kind (model calls, plug-ins) keeps the value it was first given.
RECOMPUTABLE_KINDS = frozenset({"expression", "validator", "sampler"})


@dataclass(frozen=True)
class RepairTarget:
    """One `repair` key: `path` is its place in the spec, `column` the repaired column (the dialogue for a role)."""

    path: str
    column: str
    role: int | None
    config: RepairConfig

    @property
    def validator(self) -> str:
        return self.config.validator


def repair_targets(spec: DatasetSpec) -> list[RepairTarget]:
    found = []
    for i, column in enumerate(spec.columns):
        if isinstance(column, LLMTextColumn) and column.repair is not None:
            found.append(RepairTarget(f"columns[{i}].repair", column.name, None, column.repair))
        elif isinstance(column, DialogueColumn):
            for j, role in enumerate(column.roles):
                if role.repair is not None:
                    found.append(RepairTarget(f"columns[{i}].roles[{j}].repair", column.name, j, role.repair))
    return found


def ancestors(reads: dict[str, set[str]], name: str) -> set[str]:
    """Every column `name` reads, directly or through other columns (cycles are tolerated)."""
    seen: set[str] = set()
    stack = list(reads.get(name, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(reads.get(current, ()))
    return seen


def descendants(reads: dict[str, set[str]], name: str) -> set[str]:
    """Every column that reads `name`, directly or through other columns."""
    return {other for other in reads if other != name and name in ancestors(reads, other)}


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def repair_problems(spec: DatasetSpec, reads: dict[str, set[str]]) -> list[str]:
    """One line per problem with a `repair` key; `reads` maps each column to the columns it reads."""
    by_name = {column.name: column for column in spec.columns}
    validators = [name for name, column in by_name.items() if isinstance(column, ValidatorColumn)]
    problems: list[str] = []
    repaired_by: dict[str, RepairTarget] = {}
    for target in repair_targets(spec):
        where = f"{target.path}.validator"
        validator = by_name.get(target.validator)
        if validator is None:
            known = f"; the spec's validator columns are {', '.join(validators)}" if validators else (
                "; the spec has no validator column yet: add one that checks " + repr(target.column))
            problems.append(
                f"{where}: unknown column {target.validator!r}{_suggest(target.validator, validators or by_name)}"
                f"{known}"
            )
            continue
        if not isinstance(validator, ValidatorColumn):
            problems.append(
                f"{where}: {target.validator!r} is not a validator column (its kind is {validator.kind}); name a "
                f"`kind: validator` column that checks {target.column!r}"
            )
            continue
        if target.column not in ancestors(reads, target.validator):
            problems.append(
                f"{where}: validator {target.validator!r} does not read {target.column!r}, directly or through other "
                f"columns, so a repaired answer could not change its verdict; point its target or template at "
                f"{target.column!r} or at a column made from it"
            )
            continue
        if target.role is None:
            if not _reached_through_recomputable(reads, by_name, target.column, target.validator):
                through = sorted(name for name in ancestors(reads, target.validator) & descendants(reads, target.column)
                                 if by_name[name].kind not in RECOMPUTABLE_KINDS)
                problems.append(
                    f"{where}: validator {target.validator!r} reads {target.column!r} only through model columns "
                    f"({', '.join(map(repr, through))}), which keep their first values during a repair, so a repaired "
                    f"answer could not change the verdict; let the validator read {target.column!r} directly or "
                    "through expression and validator columns"
                )
                continue
            earlier = repaired_by.get(target.validator)
            if earlier is not None:
                problems.append(
                    f"{where}: validator {target.validator!r} already repairs column {earlier.column!r} "
                    f"({earlier.path}); give each repaired column its own validator column"
                )
                continue
            repaired_by[target.validator] = target
        else:
            problems.extend(_dialogue_reach_problems(target, reads, by_name))
    return problems


def _reached_through_recomputable(reads, by_name, column: str, validator: str) -> bool:
    """Whether some chain of reads leads from `column` to `validator` through recomputable columns only."""
    readers: dict[str, set[str]] = {}
    for name, names in reads.items():
        for read in names:
            readers.setdefault(read, set()).add(name)
    seen, stack = set(), [column]
    while stack:
        for reader in readers.get(stack.pop(), ()):
            if reader == validator:
                return True
            if reader not in seen and reader in by_name and by_name[reader].kind in RECOMPUTABLE_KINDS:
                seen.add(reader)
                stack.append(reader)
    return False


def _dialogue_reach_problems(target: RepairTarget, reads, by_name) -> list[str]:
    """A role's validator runs while the dialogue is in progress: what it reads through the dialogue must be
    recomputable from a partial conversation."""
    between = ancestors(reads, target.validator) & descendants(reads, target.column)
    problems = []
    for name in sorted(between):
        kind = by_name[name].kind
        if kind not in RECOMPUTABLE_KINDS:
            problems.append(
                f"{target.path}.validator: validator {target.validator!r} reads {name!r} (kind {kind}), made from "
                f"the dialogue {target.column!r}, which cannot exist before the dialogue ends; a role's validator may "
                "read the dialogue only directly or through expression and validator columns"
            )
    return problems


def order_preferences(spec: DatasetSpec, reads: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(before, after) pairs the run order should keep when the reads allow it.

    A repaired column's other dependants run after its validator, so they see the final value rather than a
    first answer that was later repaired; for a dialogue role, whatever the validator reads besides the dialogue
    runs before the dialogue, so the validator can check each turn.
    """
    pairs: list[tuple[str, str]] = []
    names = {column.name for column in spec.columns}
    for target in repair_targets(spec):
        if target.validator not in names or target.column not in ancestors(reads, target.validator):
            continue
        needed = ancestors(reads, target.validator)
        made_from = descendants(reads, target.column)
        pairs += [(target.validator, name) for name in sorted(made_from - needed - {target.validator})]
        if target.role is not None:
            pairs += [(name, target.column) for name in sorted(needed - made_from - {target.column})]
    return pairs


def placement_problems(spec: DatasetSpec, reads: dict[str, set[str]], order: list[str]) -> list[str]:
    """After ordering: a role's validator must find everything it reads besides the dialogue already made."""
    position = {name: i for i, name in enumerate(order)}
    problems = []
    for target in repair_targets(spec):
        if target.role is None or target.validator not in position:
            continue
        made_from = descendants(reads, target.column)
        late = [name for name in ancestors(reads, target.validator) - made_from - {target.column}
                if position[name] > position[target.column]]
        if late:
            problems.append(
                f"{target.path}.validator: validator {target.validator!r} reads {', '.join(map(repr, sorted(late)))}, "
                f"which must run after the dialogue {target.column!r} (another repair orders it so); the validator "
                "cannot check the dialogue's turns without it"
            )
    return problems
