"""The kernel's contract, one suite on every backend: SQLite (WAL) and a real PostgreSQL.

Migrations, the group-commit writer, idempotent requests, the audit chain, the outbox and the
inbox, the batch records repository, the site view's handler and the user directory behave
the same on both, so a backend can never drift (after pyeventsourcing's shared test cases).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from sqlalchemy import BigInteger, Engine, Integer, Table, event, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.common.v1 import auth_pb2, quantity_pb2
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

import services.batch_records.tables
import services.common.persistence.tables
import services.site_view.tables
from services.batch_records.__main__ import MIGRATIONS as BATCH_RECORDS_MIGRATIONS
from services.batch_records.master import repository
from services.batch_records.master.domain import (
    ListFilter,
    MbrState,
    Operation,
    RecipeContent,
    Step,
    StepKind,
    UnitProcedure,
    create_draft,
)
from services.batch_records.master.translate import record_to_proto
from services.common.domain.clock import to_text
from services.common.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from services.common.domain.roles import Principal, Role
from services.common.identity import directory as identity
from services.common.identity.tables import app_user
from services.common.messaging.bus import Bus
from services.common.messaging.events import OutboxEvent, ReceivedEvent, decode, new_event
from services.common.messaging.subjects import event_subject
from services.common.persistence.audit import AuditChange, chain_length, verify_chain
from services.common.persistence.database import (
    IDENTITY_MIGRATIONS,
    KERNEL_MIGRATIONS,
    MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.inbox import first_time, new_events
from services.common.persistence.outbox import OutboxRelay
from services.common.persistence.tables import InboxRow
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.site_view import handlers, queries
from services.site_view.__main__ import MIGRATIONS as SITE_VIEW_MIGRATIONS

pytestmark = pytest.mark.timeout(60)

SITE = "syracuse"
T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
SERVICE_MIGRATIONS = (KERNEL_MIGRATIONS, BATCH_RECORDS_MIGRATIONS, SITE_VIEW_MIGRATIONS)
EVERY_MIGRATION = (*SERVICE_MIGRATIONS, IDENTITY_MIGRATIONS)
TABLE_MODULES = (
    services.common.persistence.tables, services.batch_records.tables, services.site_view.tables
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend; PostgreSQL's server starts only when asked for."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'twinline.db'}"
    return str(request.getfixturevalue("postgres_database"))


def open_engine(url: str) -> Engine:
    return create_database_engine(url, sqlite_synchronous="NORMAL")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A service database: kernel, batch records and site view tables."""
    engine = open_engine(database_url)
    migrate(engine, *SERVICE_MIGRATIONS)
    yield engine
    engine.dispose()


@pytest.fixture
async def writer(engine: Engine) -> AsyncIterator[Writer]:
    writer = Writer(engine, SITE, clock=lambda: T0)
    writer.start()
    yield writer
    await writer.stop()


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

CONTENT = RecipeContent(
    product="TWX-101", process="cysteine conjugation, 200 L", title="TWX-101 conjugation",
    unit_procedures=(
        UnitProcedure("UP1", "Conjugation", (
            Operation("OP1", "Partial reduction", (
                Step("S1", "Add TCEP", "Add 2.5 molar eq. TCEP; hold 90 min.",
                     StepKind.INSTRUCTION),
            )),
        )),
    ),
)


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

def origin_event(payload: object, site: str, aggregate: str, suffix: str, name: str,
                 time: datetime) -> OutboxEvent:
    return new_event(
        subject=event_subject(site, "batchrecords", aggregate, suffix), payload=payload,  # type: ignore[arg-type]
        source=f"twinline/{site}/batch_records", ce_subject=name, time=time,
    )


def mbr_at(revision: int, state: pb.MasterBatchRecordState.ValueType, record_id: str,
           site: str = SITE) -> pb.MasterBatchRecord:
    return pb.MasterBatchRecord(
        name=f"masterBatchRecords/{record_id}/versions/1", record_id=record_id, version=1,
        home_site=site, state=state, etag=f"1-{revision}", product="TWX-101",
    )


def batch_at(revision: int, state: batch_pb2.BatchState.ValueType, *lots: str) -> batch_pb2.Batch:
    step = batch_pb2.StepExecution(
        step_id="S1",
        materials=[
            batch_pb2.MaterialAddition(material="TCEP", lot_id=lot,
                                       quantity=quantity_pb2.Quantity(value="1.25", unit="kg"))
            for lot in lots
        ],
    )
    return batch_pb2.Batch(
        name="batches/SDO-B-2026-00001", batch_id="SDO-B-2026-00001", home_site="songdo",
        master_batch_record="masterBatchRecords/SDO-MBR-000001/versions/1", state=state,
        steps=[step], etag=str(revision),
    )


async def test_the_site_view_takes_in_events_once_and_keeps_the_newest(
    engine: Engine, writer: Writer
) -> None:
    sequence = iter(range(1, 100))
    outgoing = [
        origin_event(mbr_events.MasterBatchRecordCreated(
            master_batch_record=mbr_at(1, pb.MASTER_BATCH_RECORD_STATE_DRAFT, "SYR-MBR-000001")),
            SITE, "master_batch_record", "created", "m1", T0),
        origin_event(mbr_events.MasterBatchRecordApproved(
            master_batch_record=mbr_at(3, pb.MASTER_BATCH_RECORD_STATE_APPROVED, "SYR-MBR-000001")),
            SITE, "master_batch_record", "approved", "m1", T0 + timedelta(seconds=2)),
        # Late: must not take the view back.
        origin_event(mbr_events.MasterBatchRecordSubmitted(master_batch_record=mbr_at(
            2, pb.MASTER_BATCH_RECORD_STATE_IN_REVIEW, "SYR-MBR-000001")),
            SITE, "master_batch_record", "submitted", "m1", T0 + timedelta(seconds=1)),
        origin_event(batch_events.BatchCreated(
            batch=batch_at(1, batch_pb2.BATCH_STATE_CREATED)),
            "songdo", "batch", "created", "b1", T0),
        origin_event(batch_events.BatchStepRecorded(
            batch=batch_at(2, batch_pb2.BATCH_STATE_IN_PROGRESS, "L-1", "L-2"), step_ids=["S1"]),
            "songdo", "batch", "step_recorded", "b1", T0 + timedelta(seconds=3)),
    ]
    replicas = [
        handlers.replica_event(decode(item.subject, item.headers, item.payload, next(sequence)))
        for item in outgoing
    ]
    assert await writer.run(lambda uow: handlers.apply_events(uow, replicas[:2])) == 2
    assert await writer.run(lambda uow: handlers.apply_events(uow, replicas)) == 3
    assert await writer.run(lambda uow: handlers.apply_events(uow, replicas)) == 0
    # A correction drops a lot: the batch's genealogy rows are rewritten with it.
    corrected = origin_event(batch_events.BatchValueCorrected(
        batch=batch_at(3, batch_pb2.BATCH_STATE_IN_PROGRESS, "L-2")),
        "songdo", "batch", "value_corrected", "b1", T0 + timedelta(seconds=4))
    replica = handlers.replica_event(
        decode(corrected.subject, corrected.headers, corrected.payload, next(sequence))
    )
    assert await writer.run(lambda uow: handlers.apply_events(uow, [replica])) == 1

    with read_session(engine) as session:
        held = queries.get(session, "SYR-MBR-000001", None)
        assert held.state == pb.MASTER_BATCH_RECORD_STATE_APPROVED and held.etag == "1-3"
        batch = queries.get_batch(session, "SDO-B-2026-00001")
        assert batch.etag == "3" and batch.state == batch_pb2.BATCH_STATE_IN_PROGRESS
        assert [c.batch_id for _, c in queries.lot_consumptions(session, "L-1")] == []
        assert [(c.batch_id, c.quantity, c.unit, c.batch_state)
                for _, c in queries.lot_consumptions(session, "L-2")] == [
            ("SDO-B-2026-00001", "1.25", "kg", "in_progress")
        ]
        pages = queries.page(session, queries.RecordFilter(), after=None, size=10)
        assert [position for position, _ in pages] == [(SITE, "SYR-MBR-000001", 1)]
        marks = {mark.site: mark for mark in queries.watermarks(session, [SITE, "songdo"])}
    assert (marks[SITE].stream_sequence, marks[SITE].events_applied) == (3, 3)
    assert (marks["songdo"].stream_sequence, marks["songdo"].events_applied) == (6, 3)
    assert marks["songdo"].last_event_time == T0 + timedelta(seconds=4)


# --- the user directory -------------------------------------------------------------------

def test_the_user_directory_adds_and_authenticates(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        migrate(engine, IDENTITY_MIGRATIONS)
        directory = identity.UserDirectory(
            engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
            clock=lambda: T0,
        )
        added = directory.add_user("qa.lee", "Dana Lee", "correct horse", ["qa", "supervisor"],
                                   SITE)
        assert added.roles == frozenset({Role.QA, Role.SUPERVISOR})
        with pytest.raises(AlreadyExists):
            directory.add_user("qa.lee", "Someone Else", "another password", ["qa"], SITE)
        principal = directory.authenticate("qa.lee", "correct horse")
        assert principal == Principal(
            "qa.lee", "Dana Lee", frozenset({Role.QA, Role.SUPERVISOR}), SITE
        )
        for username, password in (("qa.lee", "wrong horse"), ("nobody", "correct horse")):
            with pytest.raises(Unauthenticated):
                directory.authenticate(username, password)
        stored = directory.get("qa.lee")
        assert stored is not None and stored.created_time == T0 and stored.active
        directory.set_active("qa.lee", False)
        with pytest.raises(Unauthenticated):
            directory.authenticate("qa.lee", "correct horse")
        assert [account.username for account in directory.list_users()] == ["qa.lee"]
        assert to_text(directory.list_users()[0].password_changed_time) == to_text(T0)
    finally:
        engine.dispose()


def test_adding_one_user_twice_at_once_adds_it_once(database_url: str) -> None:
    """PostgreSQL lets the second add past the existence check; its insert must still say
    ALREADY_EXISTS, as SQLite's serialised writers do."""
    engine = open_engine(database_url)
    try:
        migrate(engine, IDENTITY_MIGRATIONS)
        directory = identity.UserDirectory(
            engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )
        outcomes: list[str] = []

        def add(username: str, start: threading.Barrier) -> None:
            start.wait(timeout=10)
            try:
                directory.add_user(username, "Op", "password 1", ["operator"], SITE)
                outcomes.append("added")
            except AlreadyExists:
                outcomes.append("exists")
            except Exception as failure:
                outcomes.append(repr(failure))

        for n in range(10):  # the race is narrow: run it often enough to be met
            start = threading.Barrier(2)
            threads = [
                threading.Thread(target=add, args=(f"op.{n:02}", start)) for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=20)
        assert sorted(outcomes) == ["added"] * 10 + ["exists"] * 10
    finally:
        engine.dispose()
