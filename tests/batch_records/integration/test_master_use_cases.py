"""The master record's use cases below gRPC: handlers on the service's own writer and a real
SQLite database, with signatures made as the servicer makes them. What a use case returns is
the domain object; what it leaves behind is the stored record, its audit entries and its
events, all in one transaction or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from services.batch_records.__main__ import MIGRATIONS
from services.batch_records.master import handlers, repository
from services.batch_records.master.domain import (
    MasterBatchRecord,
    MbrState,
)
from services.common.domain.errors import FailedPrecondition, PermissionDenied
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.writer import Writer
from tests.support.recipes import conjugation_content

SITE = "syracuse"
T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
AUTHOR = Principal("syracuse.author", "Ana Author", frozenset({Role.PROCESS_ENGINEER}), SITE)
REVIEWER = Principal("syracuse.reviewer", "Rae Reviewer", frozenset({Role.SUPERVISOR}), SITE)
QA = Principal("syracuse.qa", "Quinn QA", frozenset({Role.QA}), SITE)
CONTENT = conjugation_content()


def signature(principal: Principal, meaning: SignatureMeaning, role: Role) -> SignatureRecord:
    return SignatureRecord(
        signer=principal.username, printed_name=principal.printed_name, meaning=meaning,
        sign_time=T0, reason="", role=role.value,
    )


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[tuple[Writer, Engine]]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'batch_records.db'}")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, SITE, clock=lambda: T0)
    writer.start()
    yield writer, engine
    await writer.stop()
    engine.dispose()


def trail(engine: Engine) -> tuple[list[str], list[str]]:
    """The audit actions and the event subjects' last tokens, in commit order."""
    with read_session(engine) as session:
        actions = [row[0] for row in session.execute(
            text("SELECT action FROM audit_entry ORDER BY sequence")
        )]
        subjects = [row[0].rsplit(".", 1)[1] for row in session.execute(
            text("SELECT subject FROM outbox ORDER BY position")
        )]
    return actions, subjects


def stored(engine: Engine, record: MasterBatchRecord) -> MasterBatchRecord:
    with read_session(engine) as session:
        return repository.get(session, record.key)


async def test_a_record_goes_from_draft_to_effective_through_its_use_cases(
    records: tuple[Writer, Engine],
) -> None:
    run, engine = records[0].run, records[1]
    draft = await run(lambda uow: handlers.create(
        uow, principal=AUTHOR, site_code="SYR", content=CONTENT
    ))
    assert (draft.record_id, draft.version, draft.state) == ("SYR-MBR-000001", 1, MbrState.DRAFT)
    submitted = await run(lambda uow: handlers.submit(
        uow, principal=AUTHOR, key=draft.key, etag=draft.etag
    ))
    reviewed = await run(lambda uow: handlers.review(
        uow, principal=REVIEWER, key=draft.key, etag=submitted.etag,
        signature=signature(REVIEWER, SignatureMeaning.REVIEWED, Role.SUPERVISOR),
    ))
    approved = await run(lambda uow: handlers.approve(
        uow, principal=QA, key=draft.key, etag=reviewed.etag,
        signature=signature(QA, SignatureMeaning.APPROVED, Role.QA),
    ))
    effective, superseded = await run(lambda uow: handlers.make_effective(
        uow, principal=QA, key=draft.key, etag=approved.etag,
        signature=signature(QA, SignatureMeaning.APPROVED, Role.QA),
    ))

    assert effective.state == MbrState.EFFECTIVE and superseded is None
    assert stored(engine, draft) == effective
    assert [s.signer for s in effective.signatures] == [
        REVIEWER.username, QA.username, QA.username
    ]
    assert trail(engine) == (
        [f"master_batch_record.{event}" for event in (
            "created", "submitted", "reviewed", "approved", "made_effective"
        )],
        ["created", "submitted", "reviewed", "approved", "made_effective"],
    )


async def test_a_refused_use_case_writes_nothing(records: tuple[Writer, Engine]) -> None:
    run, engine = records[0].run, records[1]
    draft = await run(lambda uow: handlers.create(
        uow, principal=AUTHOR, site_code="SYR", content=CONTENT
    ))
    submitted = await run(lambda uow: handlers.submit(
        uow, principal=AUTHOR, key=draft.key, etag=draft.etag
    ))
    before = trail(engine)

    with pytest.raises(PermissionDenied) as own:
        await run(lambda uow: handlers.review(
            uow, principal=AUTHOR, key=draft.key, etag=submitted.etag,
            signature=signature(AUTHOR, SignatureMeaning.REVIEWED, Role.PROCESS_ENGINEER),
        ))
    assert own.value.reason == "AUTHOR_CANNOT_SIGN"
    with pytest.raises(FailedPrecondition) as unreviewed:
        await run(lambda uow: handlers.approve(
            uow, principal=QA, key=draft.key, etag=submitted.etag,
            signature=signature(QA, SignatureMeaning.APPROVED, Role.QA),
        ))
    assert unreviewed.value.reason == "REVIEW_REQUIRED"

    assert trail(engine) == before
    assert stored(engine, draft) == submitted
