"""The batch records repository on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from services.batch_records.master import repository
from services.batch_records.master.domain import (
    ListFilter,
    MbrState,
    create_draft,
)
from services.batch_records.master.translate import record_to_proto
from services.common.domain.errors import (
    NotFound,
)
from services.common.persistence.database import (
    read_session,
)
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from tests.support.databases import (
    SITE,
    T0,
)
from tests.support.recipes import conjugation_content

pytestmark = pytest.mark.timeout(60)


CONTENT = conjugation_content()


def create(record_id: str, version: int = 1) -> Callable[[UnitOfWork], int]:
    """Stores a new draft under the next record number; returns the number."""

    def command(uow: UnitOfWork) -> int:
        number = (
            repository.next_record_number(uow.session, uow.group_memo) if version == 1
            else repository.record_number_of(uow.session, record_id)
        )
        record = dataclasses.replace(
            create_draft(record_id=record_id, home_site=SITE, content=CONTENT, author="pe",
                         now=uow.now),
            version=version,
        )
        repository.add(uow.session, record, record_to_proto(record), record_number=number)
        return number

    return command


async def test_the_batch_records_repository(engine: Engine, writer: Writer) -> None:
    numbers = await asyncio.gather(*(writer.run(create(f"SYR-MBR-00000{i}")) for i in (1, 2, 3)))
    assert sorted(numbers) == [1, 2, 3]  # one group: counted on from one read
    assert await writer.run(create("SYR-MBR-000004")) == 4
    assert await writer.run(create("SYR-MBR-000001", version=2)) == numbers[0]

    def submit(uow: UnitOfWork) -> None:
        record = repository.get(uow.session, "SYR-MBR-000001/v2")
        submitted = dataclasses.replace(
            record, state=MbrState.IN_REVIEW, revision=2, update_time=uow.now + timedelta(hours=1)
        )
        repository.replace(uow.session, submitted, record_to_proto(submitted))

    await writer.run(submit)
    with read_session(engine) as session:
        first = repository.get(session, "SYR-MBR-000001/v1")
        assert (first.record_id, first.version) == ("SYR-MBR-000001", 1)
        assert first.state == MbrState.DRAFT
        assert first.content == CONTENT and first.create_time == T0
        newest = repository.latest(session, "SYR-MBR-000001")
        assert (newest.version, newest.state, newest.revision) == (2, MbrState.IN_REVIEW, 2)
        assert newest.update_time == T0 + timedelta(hours=1)
        assert repository.effective(session, "SYR-MBR-000001") is None
        with pytest.raises(NotFound):
            repository.get(session, "SYR-MBR-000009/v1")
        with pytest.raises(NotFound):
            repository.latest(session, "SYR-MBR-000009")

        everything = repository.page(session, ListFilter(), after=None, size=10)
        keys = [(repository.record_number_of(session, r.record_id), r.version) for r in everything]
        assert keys == sorted(keys) and len(keys) == 5
        after = repository.page(session, ListFilter(), after=keys[1], size=2)
        assert [(r.record_id, r.version) for r in after] == [
            (r.record_id, r.version) for r in everything[2:4]
        ]
        in_review = repository.page(session, ListFilter(state=MbrState.IN_REVIEW), after=None,
                                    size=10)
        assert [r.key for r in in_review] == ["SYR-MBR-000001/v2"]
        one = repository.page(session, ListFilter(record_id="SYR-MBR-000001"), after=None, size=10)
        assert [r.version for r in one] == [1, 2]


# --- the site view ------------------------------------------------------------------------

