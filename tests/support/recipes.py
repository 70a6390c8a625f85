"""Recipes for the tests below gRPC: the domain form of the recipes that
services/devstack/recipes.py builds for the demo, the benchmarks and the end-to-end tests."""

from __future__ import annotations

from services.batch_records.master.domain import RecipeContent
from services.batch_records.master.translate import content_from_proto
from services.devstack.recipes import conjugation_recipe


def conjugation_content(product: str = "TWX-101") -> RecipeContent:
    return content_from_proto(conjugation_recipe(product))
