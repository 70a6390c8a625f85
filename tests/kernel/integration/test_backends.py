"""The kernel's contract, one suite on every backend: SQLite (WAL) and a real PostgreSQL.

Migrations, the group-commit writer, idempotent requests, the audit chain, the outbox and the
inbox behave the same on both, so a backend can never drift (after pyeventsourcing's shared
test cases). The other contexts' parts of the contract: tests/*/integration/*_backends.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Engine, Integer, Table, event, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.common.v1 import auth_pb2
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.common.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
)
from services.common.identity.tables import app_user
from services.common.messaging.bus import Bus
from services.common.messaging.events import ReceivedEvent, new_event
from services.common.messaging.subjects import event_subject
from services.common.persistence.audit import AuditChange, chain_length, verify_chain
from services.common.persistence.database import (
    MIGRATIONS,
    migrate,
    read_session,
)
from services.common.persistence.inbox import first_time, new_events
from services.common.persistence.outbox import OutboxRelay
from services.common.persistence.tables import InboxRow
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from tests.support.databases import (
    EVERY_MIGRATION,
    SERVICE_MIGRATIONS,
    SITE,
    T0,
    TABLE_MODULES,
    open_engine,
)

pytestmark = pytest.mark.timeout(60)


def commits_of(engine: Engine) -> list[str]:
    """Grows by one entry each time a transaction on ``engine`` commits."""
    commits: list[str] = []
    event.listen(engine, "commit", lambda _connection: commits.append("commit"))
    return commits


# --- migrations ---------------------------------------------------------------------------

def heads(*locations: Path) -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_locations", " ".join(str(path) for path in locations))
    config.set_main_option("path_separator", "space")
    return set(ScriptDirectory.from_config(config).get_heads())


def schema(engine: Engine) -> dict[str, set[str]]:
    found = inspect(engine)
    return {
        table: {column["name"] for column in found.get_columns(table)}
        for table in found.get_table_names()
    }


def mapped_tables() -> list[Table]:
    """Every table the code maps: the SQLModel tables and the user directory."""
    tables = [app_user]
    for module in TABLE_MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type) and issubclass(value, SQLModel)
                and value.__module__ == module.__name__ and hasattr(value, "__table__")
            ):
                tables.append(value.__table__)
    return tables


def test_migrations_apply_every_head_and_again_change_nothing(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        migrate(engine, *EVERY_MIGRATION)
        first = schema(engine)
        migrate(engine, *EVERY_MIGRATION)
        assert schema(engine) == first
        with read_session(engine) as session:
            applied = set(
                session.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
        assert applied == heads(*EVERY_MIGRATION)
        # The migrations own the schema; the mapped tables must be exactly what they made.
        for table in mapped_tables():
            assert first.get(table.name) == set(table.columns.keys()), (
                f"{table.name}: the migrations and the mapped table differ"
            )
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_one_after_the_other(database_url: str) -> None:
    engines = [open_engine(database_url) for _ in range(2)]
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start_process(engine: Engine) -> None:
        start.wait(timeout=10)
        try:
            migrate(engine, *SERVICE_MIGRATIONS)
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=start_process, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    try:
        assert not any(thread.is_alive() for thread in threads), "a migration hangs"
        assert failures == []
        assert set(schema(engines[0])) >= {"audit_entry", "outbox", "master_batch_record"}
    finally:
        for engine in engines:
            engine.dispose()


# --- the writer ---------------------------------------------------------------------------

def audited(name: str, *, fail: bool = False) -> Callable[[UnitOfWork], bytes]:
    def command(uow: UnitOfWork) -> bytes:
        if fail:
            raise FailedPrecondition("REFUSED", f"{name} refused")
        uow.audit(AuditChange("alice", "x.done", "x", name, "", name))
        return name.encode()

    return command


def audited_ids(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        rows = session.execute(text("SELECT aggregate_id FROM audit_entry ORDER BY sequence"))
        return [row[0] for row in rows]


def sequences(engine: Engine) -> list[int]:
    with read_session(engine) as session:
        return list(session.execute(text("SELECT sequence FROM audit_entry ORDER BY sequence"))
                    .scalars())


def chain_is_intact(engine: Engine) -> bool:
    with read_session(engine) as session:
        return verify_chain(session).intact


async def test_concurrent_commands_commit_together(engine: Engine, writer: Writer) -> None:
    commits = commits_of(engine)
    results = await asyncio.gather(*(writer.run(audited(f"X{i}")) for i in range(8)))
    assert results == [f"X{i}".encode() for i in range(8)]
    assert commits == ["commit"]
    assert audited_ids(engine) == [f"X{i}" for i in range(8)]


async def test_a_failing_command_fails_alone(engine: Engine, writer: Writer) -> None:
    results = await asyncio.gather(
        *(writer.run(audited(f"X{i}", fail=(i == 3))) for i in range(8)),
        return_exceptions=True,
    )
    assert isinstance(results[3], FailedPrecondition)
    assert [result for i, result in enumerate(results) if i != 3] == [
        f"X{i}".encode() for i in range(8) if i != 3
    ]
    assert audited_ids(engine) == [f"X{i}" for i in range(8) if i != 3]
    assert chain_is_intact(engine)


def handled(event_id: str) -> Callable[[UnitOfWork], str]:
    def command(uow: UnitOfWork) -> str:
        uow.session.execute(
            insert(InboxRow),
            {"event_id": event_id, "subject": "s", "stream_sequence": 1, "handled_time": "t"},
        )
        if event_id == "refused":
            raise FailedPrecondition("REFUSED", "refused after writing")
        return event_id

    return command


async def test_what_a_failing_command_wrote_is_rolled_back(engine: Engine, writer: Writer) -> None:
    results = await asyncio.gather(
        writer.run(handled("first")), writer.run(handled("refused")),
        writer.run(handled("third")), return_exceptions=True,
    )
    assert results[0] == "first" and results[2] == "third"
    assert isinstance(results[1], FailedPrecondition)
    with read_session(engine) as session:
        stored = session.execute(select(col(InboxRow.event_id))).scalars()
        assert sorted(stored) == ["first", "third"]


async def test_a_result_is_given_only_after_its_commit(engine: Engine, writer: Writer) -> None:
    taken = new_event(
        subject=event_subject(SITE, "batchrecords", "master_batch_record", "created"),
        payload=mbr_events.MasterBatchRecordCreated(), source="test", ce_subject="x", time=T0,
    )
    await writer.run(lambda uow: uow.publish(taken))

    def republish(uow: UnitOfWork) -> bytes:
        uow.audit(AuditChange("alice", "x.done", "x", "clash", "", "clash"))
        uow.publish(taken)  # the same event id again: this transaction cannot commit
        return b"never committed"

    log: list[str] = []
    event.listen(engine, "commit", lambda _connection: log.append("commit"))

    async def run(command: Callable[[UnitOfWork], bytes]) -> bytes:
        result = await writer.run(command)
        log.append(f"result {result.decode()}")
        return result

    results = await asyncio.gather(
        run(audited("A")), run(republish), run(audited("B")), return_exceptions=True
    )
    assert results[0] == b"A" and results[2] == b"B"
    assert isinstance(results[1], IntegrityError)
    assert audited_ids(engine) == ["A", "B"]
    assert chain_is_intact(engine)
    # The group could not commit, so A and B committed alone; only then came their results.
    assert log == ["commit", "commit", "result A", "result B"]


async def test_a_request_id_gets_its_first_answer_back(engine: Engine, writer: Writer) -> None:
    request = auth_pb2.LoginRequest(username="same")
    other = auth_pb2.LoginRequest(username="different")

    def call(
        name: str, sent: auth_pb2.LoginRequest = request, request_id: str = "r-1"
    ) -> Awaitable[bytes]:
        return writer.run_idempotent(
            request_id=request_id, method="m", principal="alice", request=sent,
            command=audited(name),
        )

    answers = await asyncio.gather(
        *(call(f"call-{i}") for i in range(5)), call("reused", other), return_exceptions=True
    )
    assert answers[:5] == [b"call-0"] * 5
    assert isinstance(answers[5], InvalidArgument)
    # Later, from the stored answer rather than from the same group.
    assert await call("retry") == b"call-0"
    with pytest.raises(InvalidArgument):
        await call("reused later", other)
    assert await call("another", request_id="r-2") == b"another"
    assert audited_ids(engine) == ["call-0", "another"]


# --- the audit chain ----------------------------------------------------------------------

async def test_the_chain_is_appended_in_order_and_an_edit_is_found(
    engine: Engine, writer: Writer
) -> None:
    for i in range(1, 6):
        await writer.run(audited(f"E{i}"))
    assert audited_ids(engine) == [f"E{i}" for i in range(1, 6)]
    with read_session(engine) as session:
        read: list[int] = []
        # Pages of two: the chain is followed across page ends, and progress told per page.
        verification = verify_chain(session, chunk=2, on_progress=read.append)
        assert chain_length(session) == 5
    assert verification.intact and verification.entries_checked == 5
    assert read == [2, 4, 5]

    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET new_value = 'E9' WHERE sequence = 3"))
    with read_session(engine) as session:
        verification = verify_chain(session)
    assert not verification.intact
    assert verification.first_broken_sequence == 3


def mbr_created(resource: str) -> mbr_events.MasterBatchRecordCreated:
    return mbr_events.MasterBatchRecordCreated(
        master_batch_record=pb.MasterBatchRecord(name=resource)
    )


def changed(name: str) -> Callable[[UnitOfWork], None]:
    """A change with its audit entry and its event, as a use case records it."""

    def command(uow: UnitOfWork) -> None:
        uow.record_change(
            actor="alice", service="batch_records", context="batchrecords",
            aggregate="master_batch_record", event="created", aggregate_id=name,
            resource_name=name, old_value="", new_value=name, payload=mbr_created(name),
        )

    return command


async def test_two_writers_on_one_database_never_fork_the_chain(database_url: str) -> None:
    """Two processes' writers on one database: PostgreSQL needs the chain lock for this."""
    engines = [open_engine(database_url) for _ in range(2)]
    migrate(engines[0], *SERVICE_MIGRATIONS)
    writers = [Writer(engine, SITE) for engine in engines]
    each = 30

    async def changes(writer: Writer, process: str) -> None:
        for i in range(each):  # one at a time: as many transactions as can race
            await writer.run(changed(f"{process}-{i:02}"))

    for writer in writers:
        writer.start()
    try:
        await asyncio.gather(changes(writers[0], "A"), changes(writers[1], "B"))
    finally:
        for writer in writers:
            await writer.stop()
    try:
        engine = engines[0]
        assert chain_is_intact(engine)
        assert sequences(engine) == list(range(1, 2 * each + 1))
        chain = audited_ids(engine)
        for process in "AB":
            assert [name for name in chain if name[0] == process] == [
                f"{process}-{i:02}" for i in range(each)
            ]
        # The outbox holds the events in the order their changes entered the chain.
        relay = OutboxRelay(engine, writers[0], Bus("nats://127.0.0.1:1", name="unused"))
        assert [row.headers["ce-subject"] for row in relay._unpublished()] == chain
    finally:
        for engine in engines:
            engine.dispose()


# --- outbox and inbox ---------------------------------------------------------------------

async def test_the_outbox_is_read_in_commit_order(engine: Engine, writer: Writer) -> None:
    relay = OutboxRelay(engine, writer, Bus("nats://127.0.0.1:1", name="unused"))
    assert relay._unpublished() == [] and relay.pending_count() == 0
    await asyncio.gather(*(writer.run(changed(f"G{i}")) for i in range(4)))
    for i in range(3):
        await writer.run(changed(f"S{i}"))
    rows = relay._unpublished()
    assert [row.headers["ce-subject"] for row in rows] == [
        "G0", "G1", "G2", "G3", "S0", "S1", "S2"
    ]
    assert [row.position for row in rows] == sorted(row.position for row in rows)
    assert mbr_events.MasterBatchRecordCreated.FromString(rows[0].payload) == mbr_created("G0")
    assert rows[0].event_type == "twinline.events.v1.MasterBatchRecordCreated"

    await relay._mark_published([row.position for row in rows[:5]])
    assert [row.headers["ce-subject"] for row in relay._unpublished()] == ["S1", "S2"]
    assert relay.pending_count() == 1  # "some": the relay only asks whether any is left


def received(event_id: str, sequence: int) -> ReceivedEvent:
    return ReceivedEvent(
        event_id=event_id, subject=event_subject("songdo", "batchrecords", "batch", "created"),
        event_type="twinline.events.v1.BatchCreated", time=T0, origin_site="songdo",
        payload=batch_events.BatchCreated(), stream_sequence=sequence,
    )


async def test_the_inbox_lets_each_event_through_once(engine: Engine, writer: Writer) -> None:
    batch = [received("e1", 11), received("e2", 12), received("e1", 11)]
    fresh = await writer.run(lambda uow: new_events(uow, batch, lambda item: item))
    assert [item.event_id for item in fresh] == ["e1", "e2"]
    again = [received("e2", 12), received("e3", 13)]
    fresh = await writer.run(lambda uow: new_events(uow, again, lambda item: item))
    assert [item.event_id for item in fresh] == ["e3"]
    assert await writer.run(lambda uow: first_time(uow, received("e4", 14)))
    assert not await writer.run(lambda uow: first_time(uow, received("e4", 14)))
    assert inbox(engine) == {"e1": 11, "e2": 12, "e3": 13, "e4": 14}


def inbox(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        rows = session.execute(select(col(InboxRow.event_id), col(InboxRow.stream_sequence)))
        return {event_id: sequence for event_id, sequence in rows}


async def test_stream_sequences_beyond_32_bits_are_kept(
    engine: Engine, writer: Writer
) -> None:
    big = 2**31 + 5  # a stream's sequence outgrows 32 bits; the columns are BIGINT
    assert await writer.run(lambda uow: first_time(uow, received("e1", big)))
    assert inbox(engine) == {"e1": big}


# psycopg's dialect casts every bound value to the mapped type ("%(x)s::INTEGER"), so a
# BIGINT column mapped as Integer in tables.py would refuse values beyond 32 bits.
def test_mapped_integer_widths_match_the_migrations(database_url: str) -> None:
    engine = open_engine(database_url)
    migrate(engine, *EVERY_MIGRATION)
    found = inspect(engine)
    engine.dispose()
    differing = []
    for table in mapped_tables():
        reflected = {column["name"]: column["type"] for column in found.get_columns(table.name)}
        for column in table.columns:
            if isinstance(column.type, Integer) and isinstance(reflected[column.name], Integer):
                if isinstance(column.type, BigInteger) != isinstance(
                    reflected[column.name], BigInteger
                ):
                    differing.append(f"{table.name}.{column.name}")
    assert differing == [], f"mapped as Integer, migrated as BIGINT (or back): {differing}"


# --- batch records repository -------------------------------------------------------------

