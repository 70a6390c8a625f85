"""The board's HTML, from Jinja2 templates with autoescaping on: every value shown comes from
a user somewhere (a product name, a signer's printed name) and is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from services.board.picture import LinkRow, SitePicture, now_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)


def page(template: str, **context: Any) -> str:
    return ENVIRONMENT.get_template(template).render(**context)


def column(picture: SitePicture) -> str:
    """One site's column (its body): what an update replaces."""
    return page("_column.html", picture=picture)


def link(links: Sequence[LinkRow]) -> str:
    """The header's link state and lag per site."""
    return page("_link.html", links=links, refreshed=now_text())
