"""The board's end-to-end floor: both sites with batch records, the site view and the board,
and a master record effective at Syracuse (its reactor clean), shared by a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from services.devstack.topology import BATCH_RECORDS, BOARD, SITE_VIEW
from tests.support.batches import effective_master
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack, write_default_registry

BOARD_SERVICES = (BATCH_RECORDS.name, SITE_VIEW.name, BOARD.name)


@dataclass
class BoardFloor:
    stack: Stack
    master: str  # the name of the master record version effective at Syracuse

    def url(self, site: str) -> str:
        return f"http://{self.stack.address(site, BOARD.name)}/"


def board_floor_fixture(name: str = "floor") -> Callable[..., Any]:
    """A module-scoped floor: a module assigns it to ``floor`` and marks its tests
    ``pytest.mark.asyncio(loop_scope="module")``."""

    @pytest_asyncio.fixture(name=name, loop_scope="module", scope="module")
    async def floor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BoardFloor]:
        base = tmp_path_factory.mktemp("board")
        registry = write_default_registry(base / "sites.toml")
        stack = Stack(base, registry, NatsSites(base / "nats", registry), BOARD_SERVICES)
        try:
            await stack.start()
            yield BoardFloor(stack, await effective_master(stack, "syracuse"))
        finally:
            await stack.close()

    return floor
