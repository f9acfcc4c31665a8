"""Checks across the parts of a spec (every reference names a known column, backend or criterion; validator
options suit their kind), and the order columns run in. Each problem is one line naming its key path."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from perpetuum.pipeline.spec_models import (
    CategorySampler,
    ExpressionFilter,
    JudgeColumn,
    ScoreFilter,
    SubcategorySampler,
    ValidatorColumn,
    ValidatorFilter,
)
from perpetuum.pipeline.spec_repair import order_preferences, placement_problems, repair_problems

if TYPE_CHECKING:
    from perpetuum.pipeline.spec import DatasetSpec

__all__ = ["SemanticErrors", "semantic_problems", "dependency_order", "reads_graph"]


class SemanticErrors(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _column_reads(column) -> dict[str, set[str]]:
    """Key path -> names read, for templates and explicit references. Raises TemplateProblem on bad syntax."""
    from perpetuum.pipeline.templates import referenced_names

    reads: dict[str, set[str]] = {}
    for path, source in column.templates().items():
        reads[path] = set(referenced_names(source))
    for path, names in column.references().items():
        reads.setdefault(path, set()).update(names)
    return reads


def semantic_problems(spec: DatasetSpec) -> list[str]:
    from perpetuum.pipeline.templates import TemplateProblem, referenced_names

    problems: list[str] = []
    names = [column.name for column in spec.columns]
    seen: set[str] = set()
    graph: dict[str, set[str]] | None = {}
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"columns[{i}].name: column {name!r} is defined twice; names must be unique")
        seen.add(name)

    for i, column in enumerate(spec.columns):
        try:
            reads = _column_reads(column)
        except TemplateProblem:
            graph = None  # reads are unknown, so checks that follow reads (repair) wait until the templates parse
            for path, source in column.templates().items():
                try:
                    referenced_names(source)
                except TemplateProblem as error:
                    problems.append(f"columns[{i}].{path}: {error}")
            continue
        if graph is not None:
            graph[column.name] = set().union(*reads.values())
        for path, read in reads.items():
            for reference in sorted(read):
                if reference == column.name:
                    problems.append(f"columns[{i}].{path}: column {column.name!r} cannot read itself")
                elif reference not in seen:
                    problems.append(f"columns[{i}].{path}: unknown column {reference!r}{_suggest(reference, names)}")
        for path, backend in column.backends().items():
            if backend is not None and backend not in spec.backends:
                problems.append(
                    f"columns[{i}].{path}: unknown backend {backend!r}{_suggest(backend, list(spec.backends))}; "
                    f"the spec's backends are {', '.join(spec.backends)}"
                )
        if isinstance(column, ValidatorColumn):
            problems.extend(_validator_problems(i, column))
        if isinstance(column, SubcategorySampler):
            parent = next((c for c in spec.columns if c.name == column.parent), None)
            if isinstance(parent, CategorySampler):
                missing = [str(value) for value, weight in parent.weighted if weight > 0]
                missing = [value for value in missing if value not in column.values]
                if missing:
                    problems.append(
                        f"columns[{i}].values: no sub-categories for {column.parent} "
                        f"{', '.join(map(repr, missing))}; add a list for each value of the parent"
                    )

    if graph is not None:
        problems.extend(repair_problems(spec, graph))
    problems.extend(_backend_problems(spec))

    by_name = {column.name: column for column in spec.columns}
    for i, rule in enumerate(spec.filters):
        if isinstance(rule, ExpressionFilter):
            try:
                for reference in sorted(referenced_names(rule.template)):
                    if reference not in by_name:
                        problems.append(
                            f"filters[{i}].template: unknown column {reference!r}{_suggest(reference, names)}"
                        )
            except TemplateProblem as error:
                problems.append(f"filters[{i}].template: {error}")
            continue
        target = by_name.get(rule.column)
        if target is None:
            problems.append(f"filters[{i}].column: unknown column {rule.column!r}{_suggest(rule.column, names)}")
        elif isinstance(rule, ScoreFilter):
            if not isinstance(target, JudgeColumn):
                problems.append(f"filters[{i}].column: {rule.column!r} is not an llm_judge column")
            elif rule.criterion is not None and rule.criterion not in {c.name for c in target.rubric}:
                known = [c.name for c in target.rubric]
                problems.append(
                    f"filters[{i}].criterion: {rule.column!r} has no criterion {rule.criterion!r}"
                    f"{_suggest(rule.criterion, known)}; it has {', '.join(known)}"
                )
        elif isinstance(rule, ValidatorFilter) and not isinstance(target, ValidatorColumn):
            problems.append(f"filters[{i}].column: {rule.column!r} is not a validator column")

    if spec.dedup is not None:
        for j, name in enumerate(spec.dedup.columns):
            if name not in by_name:
                problems.append(f"dedup.columns[{j}]: unknown column {name!r}{_suggest(name, names)}")

    for key in spec.prices:
        if not key:
            problems.append("prices: a price needs a backend or model name as its key")
    return problems


def _backend_problems(spec: DatasetSpec) -> list[str]:
    try:
        from perpetuum.llm.registry import available_backends
    except ImportError:  # the llm package is optional at spec-check time; get_backend reports it later
        return []
    known = list(available_backends())
    problems = []
    for name, config in spec.backends.items():
        if config.kind not in known:
            suggestion = _suggest(config.kind, known)
            problems.append(f"backends.{name}.kind: unknown backend kind {config.kind!r}{suggestion}; "
                            f"available: {', '.join(known)}")
        else:
            problems += [f"backends.{name}.{key}: {message} ({config.kind} backend option)"
                         for key, message in _backend_option_problems(config.kind, config.options)]
    return problems


def _backend_option_problems(kind: str, options: dict) -> list[tuple[str, str]]:
    from perpetuum.errors import PerpetuumError
    from perpetuum.llm.options import option_problems
    from perpetuum.llm.registry import get_backend_class

    try:
        backend_class = get_backend_class(kind)
    except PerpetuumError:  # its module cannot be imported here; creating the backend will say why
        return []
    return option_problems(backend_class, options)


def _validator_problems(i: int, column: ValidatorColumn) -> list[str]:
    from perpetuum.pipeline.columns.validators import ValidatorSetupError, build_validator

    try:
        build_validator(column.validator, column.options)
    except ValidatorSetupError as error:
        return [f"columns[{i}].{path or 'validator'}: {message}" for path, message in error.problems]
    return []


def dependency_order(spec: DatasetSpec) -> list[str]:
    """Kahn's algorithm, ties broken by spec order so the order is stable; a cycle names its columns.

    Besides what each column reads, the order keeps the preferences of `repair` keys (spec_repair) wherever they
    add no cycle."""
    needs = reads_graph(spec)
    order = _kahn(spec, needs)
    preferences = order_preferences(spec, needs)
    if not preferences:
        return order
    preferred = {name: set(reads) for name, reads in needs.items()}
    for before, after in preferences:
        if after not in _reachable(preferred, before):  # `before` must not already need `after`
            preferred[after].add(before)
    order = _kahn(spec, preferred)
    problems = placement_problems(spec, needs, order)
    if problems:
        raise SemanticErrors(problems)
    return order


def reads_graph(spec: DatasetSpec) -> dict[str, set[str]]:
    """Column name -> the names of the columns it reads (in templates and references)."""
    graph: dict[str, set[str]] = {}
    for column in spec.columns:
        graph[column.name] = set().union(*_column_reads(column).values())
    return graph


def _reachable(needs: dict[str, set[str]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        for other in needs[stack.pop()]:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def _kahn(spec: DatasetSpec, needs: dict[str, set[str]]) -> list[str]:
    position = {column.name: i for i, column in enumerate(spec.columns)}
    order: list[str] = []
    remaining = dict(needs)
    while remaining:
        ready = [name for name, reads in remaining.items() if not (reads & remaining.keys())]
        if not ready:
            cycle = _find_cycle({name: reads & remaining.keys() for name, reads in remaining.items()})
            first = min(cycle, key=position.__getitem__)
            path = " -> ".join(cycle + [cycle[0]])
            raise SemanticErrors(
                [f"columns[{position[first]}]: dependency cycle {path}; break it by removing one of these reads"]
            )
        ready.sort(key=position.__getitem__)
        order.append(ready[0])
        del remaining[ready[0]]
    return order


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    start = min(graph)
    path: list[str] = []
    node = start
    while node not in path:
        path.append(node)
        node = min(graph[node])
    return path[path.index(node):]
