"""Shipped recipes: manifests selected by name (`migrate.py vibesdk
CHECKOUT`), whose relative roots are read against the checkout."""

from __future__ import annotations

import os

RECIPES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes")


def recipe_names() -> list[str]:
    """Every shipped recipe's name."""
    try:
        return sorted(n[:-5] for n in os.listdir(RECIPES_DIR) if n.endswith(".json"))
    except OSError:
        return []


def recipe_path(name: str) -> str | None:
    """The manifest file of a recipe, or None when there is no such recipe."""
    return os.path.join(RECIPES_DIR, name + ".json") if name in recipe_names() else None
