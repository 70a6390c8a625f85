"""The group-commit writer on a real SQLite database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from twinline.common.v1 import auth_pb2

from services.common.audit import AuditChange, verify_chain
from services.common.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.unit_of_work import UnitOfWork, Writer


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_database_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine, KERNEL_MIGRATIONS)
    yield engine
    engine.dispose()


def audited(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
    def command(uow: UnitOfWork) -> bytes:
        if fail:
            raise FailedPrecondition("NOPE", f"{name} refused")
        uow.audit(AuditChange("alice", "x.done", "x", name, "", name))
        return name.encode()

    return command


def entries(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        rows = session.execute(text("SELECT aggregate_id FROM audit_entry ORDER BY sequence"))
        return [row[0] for row in rows]


async def test_a_group_commits_together_and_a_failing_command_fails_alone(engine) -> None:  # type: ignore[no-untyped-def]
    writer = Writer(engine, "syracuse")
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.run(audited(f"X{i}", fail=(i == 3))) for i in range(8)),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert isinstance(results[3], FailedPrecondition)
    assert [r for i, r in enumerate(results) if i != 3] == [
        f"X{i}".encode() for i in range(8) if i != 3
    ]
    assert entries(engine) == [f"X{i}" for i in range(8) if i != 3]
    with read_session(engine) as session:
        assert verify_chain(session).intact


async def test_the_same_request_id_in_one_group_has_one_effect(engine) -> None:  # type: ignore[no-untyped-def]
    writer = Writer(engine, "syracuse")
    writer.start()
    request = auth_pb2.LoginRequest(username="same")
    other = auth_pb2.LoginRequest(username="different")
    try:
        answers = await asyncio.gather(
            *(
                writer.run_idempotent(
                    request_id="r-1", method="m", principal="alice", request=request,
                    command=audited(f"call-{i}"),
                )
                for i in range(5)
            ),
            writer.run_idempotent(
                request_id="r-1", method="m", principal="alice", request=other,
                command=audited("reused"),
            ),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert answers[:5] == [b"call-0"] * 5
    assert isinstance(answers[5], InvalidArgument)
    assert entries(engine) == ["call-0"]


async def test_a_failing_command_leaves_nothing_of_its_group_behind(engine) -> None:  # type: ignore[no-untyped-def]
    def half_written(uow: UnitOfWork) -> bytes:
        uow.session.execute(
            text("INSERT INTO inbox VALUES ('half', 's', 1, '2026-11-25T00:00:00.000000Z')")
        )
        raise FailedPrecondition("NOPE", "refused after writing")

    writer = Writer(engine, "syracuse")
    writer.start()
    try:
        results = await asyncio.gather(
            writer.run(audited("before")), writer.run(half_written), writer.run(audited("after")),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert isinstance(results[1], FailedPrecondition)
    assert entries(engine) == ["before", "after"]
    with read_session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM inbox")).scalar() == 0
