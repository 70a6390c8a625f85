"""What every command shares: a record's site from its id, --output's values, pages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import typer

from services.cli.common import checked_output, owning_site, pages


@pytest.mark.parametrize(("identifier", "site"), [
    ("SYR-B-2026-00042", "syracuse"),
    ("batches/SDO-B-2026-00001", "songdo"),
    ("masterBatchRecords/SDO-MBR-000001/versions/2", "songdo"),
    ("SYR-MBR-000001@2", "syracuse"),
    ("XYZ-B-2026-00001", None),  # no site has that code: the service says what is wrong
    ("latest", None),
    ("", None),
])
def test_a_records_site_is_the_one_its_id_code_names(identifier: str, site: str | None) -> None:
    assert owning_site(identifier) == site


def test_output_is_text_or_json() -> None:
    assert checked_output("json") == "json"
    with pytest.raises(typer.BadParameter):
        checked_output("yaml")


@dataclass
class Listed:
    items: list[int]
    next_page_token: str


def test_pages_follow_the_tokens_to_the_last_page() -> None:
    book = {"": Listed([1, 2], "b"), "b": Listed([3], "c"), "c": Listed([], "")}
    asked: list[str] = []

    async def fetch(token: str) -> Listed:
        asked.append(token)
        return book[token]

    async def every() -> list[int]:
        return [item async for page in pages(fetch) for item in page.items]

    assert asyncio.run(every()) == [1, 2, 3]
    assert asked == ["", "b", "c"]
