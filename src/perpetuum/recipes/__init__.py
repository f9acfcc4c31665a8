"""Ready dataset specs, shipped with the package and run by name: `recipe:NAME` is `recipes/NAME.yaml`.

    perpetuum generate recipe:tinystories -n 50 -o out/stories
    perpetuum preview recipe:math_dialogues -n 1
    perpetuum recipes                                    # the names and what each makes

    from perpetuum.pipeline import generate
    generate("recipe:tinystories", n=50, output_dir="out/stories")

This package registers the `recipe:` spec source with the pipeline (`perpetuum.pipeline.spec_sources`). A recipe
is an ordinary spec file: copy it (`recipe_path("tinystories")` says where it is) to change it. The
validators a recipe calls live beside it (`stories.py`, `math_claims.py`, `final_answers.py`), its word lists under
`vocabulary/`, and the real data it draws from or checks against under `data/` (see data/SOURCE.md).
"""

from __future__ import annotations

from pathlib import Path

from perpetuum.pipeline.spec import DatasetSpec, SpecError, load_spec
from perpetuum.pipeline.spec_sources import register_spec_source

__all__ = ["RECIPE_PREFIX", "RecipeError", "available_recipes", "describe_recipes", "load_recipe", "recipe_path"]

RECIPE_PREFIX = "recipe:"
RECIPES_FOLDER = Path(__file__).resolve().parent


class RecipeError(SpecError):
    """No recipe has the name asked for; the message lists the ones that exist."""


def available_recipes() -> list[str]:
    """The names of the shipped recipes, sorted."""
    return sorted(path.stem for path in RECIPES_FOLDER.glob("*.yaml"))


@register_spec_source("recipe")
def recipe_path(name: str) -> Path:
    """The spec file of recipe `name` ("tinystories" or "recipe:tinystories"); RecipeError if there is none."""
    bare = name[len(RECIPE_PREFIX):] if name.startswith(RECIPE_PREFIX) else name
    bare = bare.strip()
    path = RECIPES_FOLDER / f"{bare}.yaml"
    # A name is a plain file stem: "../x" or "a/b" never leaves the recipes folder.
    if not bare or "/" in bare or "\\" in bare or bare.startswith(".") or not path.is_file():
        known = ", ".join(f"recipe:{recipe}" for recipe in available_recipes()) or "(none installed)"
        raise RecipeError(f"unknown recipe {bare!r}; available recipes: {known}. `perpetuum recipes` describes them.")
    return path


def load_recipe(name: str) -> DatasetSpec:
    """The validated spec of recipe `name`."""
    return load_spec(recipe_path(name))


def describe_recipes() -> list[dict[str, str]]:
    """[{"name": "recipe:NAME", "description": ..., "path": ...}] for every shipped recipe."""
    import yaml

    found = []
    for name in available_recipes():
        path = recipe_path(name)
        try:
            description = str((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("description", ""))
        except yaml.YAMLError:
            description = "(the spec file is not valid YAML)"
        found.append({"name": RECIPE_PREFIX + name, "description": description, "path": str(path)})
    return found
