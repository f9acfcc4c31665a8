"""`perpetuum recipes`: list the shipped recipes (`perpetuum.recipes.describe_recipes`)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

__all__ = ["recipes_command", "register_commands"]

console = Console(soft_wrap=True)


def recipes_command() -> None:
    """List the shipped recipes: ready specs that `perpetuum generate recipe:NAME` runs.

    [bold]Example[/bold]

      perpetuum recipes
    """
    from perpetuum.recipes import describe_recipes

    for recipe in describe_recipes():
        console.print(f"[bold]{recipe['name']}[/bold]  {recipe['description']}")
        console.print(f"  {recipe['path']}", markup=False)


def register_commands(app: typer.Typer, wrap: Callable[[Callable], Callable] = lambda command: command) -> None:
    """Add `recipes` to `app`, wrapped by `wrap` (e.g. the CLI's error handler)."""
    app.command("recipes")(wrap(recipes_command))
