"""The package's layers: a module imports only from its own layer or the layers below it, and no two modules import
each other, directly or around a loop. The layers are the README's "Architecture" section, written out here.

Every import counts, also those inside functions (they run as soon as the function does); imports under
`if TYPE_CHECKING:` do not (they never run). A string constant naming a Perpetuum module is a plug-in loaded by
name: registries import such a module when its plug-in is first asked for, and the module then registers itself
with the registry. Those edges must point down the layers too, save the few listed in `LOADED_BY_NAME`; they are
left out of the cycle check, since a plug-in importing the registry that loads it is how registration works.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "perpetuum"

# Bottom to top. Packages in one layer never import each other.
LAYERS: list[tuple[str, ...]] = [
    ("perpetuum", "errors", "progress", "markdown"),  # the root (its version), errors, progress bars, inert Markdown
    ("registry", "storage"),  # the name-to-class registry behind every plug-in; output folders, local or in S3
    ("privacy",),  # personal identifiers, record distances, privacy filters; the ledger of DP releases
    ("datasets", "schema", "llm", "sandbox"),  # shipped tables; reading sources and schemas; model backends; sandbox
    ("tabular", "evaluate", "train"),  # synthesizers; metrics and the evaluation report; the tiny LM and its trainer
    ("card",),  # the dataset card: lineage, collapse signals, the JSON + Markdown writer
    ("pipeline", "collapse", "timeseries"),  # LLM dataset specs and their runner; the model-collapse lab; series
    ("recipes", "workflow"),  # shipped specs and their checks; the table flow (split, fit, sample, card, report)
    ("scale",),  # scale-out on Ray: records on actors, table shards as tasks (executors found by name)
    ("review", "demo", "prove"),  # the review desk; the end-to-end demo; `perpetuum prove` (does the data teach?)
    ("cli",),  # the `perpetuum` command
    ("__main__",),  # `python -m perpetuum`
]

# Plug-ins a lower layer loads by name, as it would load a third-party entry point; the names are strings, so the
# lower layer never imports the higher one's code.
LOADED_BY_NAME = {
    # `recipe:NAME` specs: the recipes package registers this spec source when the pipeline first meets the prefix.
    ("perpetuum.pipeline.spec_sources", "perpetuum.recipes"),
    # `executor="ray"`: scale-out executors register themselves when the pipeline or the table flow first asks.
    ("perpetuum.pipeline.record_executors", "perpetuum.scale.ray_records"),
    ("perpetuum.workflow.shards", "perpetuum.scale.ray_tables"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _unit(module: str) -> str:
    """The layer unit a module belongs to: its top-level package or module under perpetuum ("perpetuum" for the
    root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "perpetuum"


LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str) -> str | None:
    """The Perpetuum module `name` is, or is inside of (an imported class or function); None if not ours."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """The Perpetuum modules `module` imports at run time (the package itself for `from perpetuum import x`,
    unless x is a module), and those it names as strings (plug-ins loaded by name)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    named: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for item in child.orelse:
                    visit(item)
                continue
            if isinstance(child, ast.Import):
                found.update(filter(None, (_known(alias.name) for alias in child.names)))
            elif isinstance(child, ast.ImportFrom):
                source = _resolve(module, child)
                for alias in child.names:
                    target = _known(f"{source}.{alias.name}") or _known(source)
                    if target:
                        found.add(target)
            elif isinstance(child, ast.Constant) and isinstance(child.value, str) and child.value in MODULES:
                named.add(child.value)
            visit(child)

    visit(tree)
    return found - {module}, named - {module}


GRAPH, NAMED = {}, {}
for _module in MODULES:
    GRAPH[_module], NAMED[_module] = imports_of(_module)


def test_every_package_has_a_layer():
    units = {_unit(module) for module in MODULES}
    assert units <= set(LAYER_OF), f"packages missing from LAYERS: {sorted(units - set(LAYER_OF))}"
    assert set(LAYER_OF) - {"__main__"} <= units, f"LAYERS names packages that do not exist: {set(LAYER_OF) - units}"


def _upward(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        for target in sorted(targets):
            source_unit, target_unit = _unit(module), _unit(target)
            if source_unit != target_unit and LAYER_OF[target_unit] >= LAYER_OF[source_unit]:
                found.append(f"{module} -> {target}")
    return found


def test_imports_point_down_the_layers():
    upward = _upward(GRAPH)
    assert not upward, "imports that do not point to a lower layer:\n" + "\n".join(upward)


def test_plugins_loaded_by_name_point_down_the_layers_or_are_listed():
    named = {module: {t for t in targets if (module, t) not in LOADED_BY_NAME} for module, targets in NAMED.items()}
    upward = _upward(named)
    assert not upward, "plug-in modules named by a lower layer:\n" + "\n".join(upward)
    listed = {(module, target) for module, targets in NAMED.items() for target in targets}
    assert LOADED_BY_NAME <= listed, f"LOADED_BY_NAME lists names no module uses: {LOADED_BY_NAME - listed}"


def _own_descendant(module: str, target: str) -> bool:
    """A package's __init__ importing its own submodules exposes them; it is how packages work, not a loop."""
    return MODULES[module].name == "__init__.py" and target.startswith(module + ".")


def test_no_import_cycles():
    edges = {module: {t for t in targets if not _own_descendant(module, t)} for module, targets in GRAPH.items()}
    cycles, state = [], {}

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [module, target]))
            elif target not in state:
                walk(target, path + [module])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            walk(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("upward", ["perpetuum.pipeline.spec -> perpetuum.recipes",
                                    "perpetuum.schema -> perpetuum.cli"])
def test_the_check_sees_an_upward_import(upward, monkeypatch):
    source, target = (name.strip() for name in upward.split("->"))
    monkeypatch.setitem(GRAPH, source, GRAPH[source] | {target})
    with pytest.raises(AssertionError, match="do not point to a lower layer"):
        test_imports_point_down_the_layers()


def test_the_readme_draws_the_same_layers():
    readme = (PACKAGE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1]
    diagram = section.split("```", 2)[1]
    drawn = []
    for line in diagram.splitlines():
        names = re.match(r"\s*((?:\w+(?:/|\.py)\s+)+)", line + " ")  # the names before the description
        if names:
            units = {"perpetuum" if name == "__init__.py" else name.removesuffix("/").removesuffix(".py")
                     for name in names.group(1).split()}
            drawn.append(tuple(sorted(units)))
    expected = [tuple(sorted(units)) for units in LAYERS if units != ("__main__",)]
    assert list(reversed(drawn)) == expected
