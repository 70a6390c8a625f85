"""Conjugation runs and their projection on both backends (SQLite and PostgreSQL): batches
known from their events, a run created, changed and listed, trend points of every site."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from twinline.batchrecords.v1 import batch_pb2
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.events.v1 import batch_events_pb2, conjugation_events_pb2

from services.common.domain.errors import FailedPrecondition, Violations
from services.common.domain.roles import Principal, Role
from services.common.grpc.translate import timestamp
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.database import read_session
from services.common.persistence.tables import OutboxRow
from services.common.persistence.writer import Writer
from services.conjugation.projection import handlers as projection
from services.conjugation.projection import repository as projected
from services.conjugation.runs import domain, handlers, repository
from services.conjugation.runs.translate import inputs_from_proto, lots_from_proto
from services.devstack.recipes import conjugation_recipe
from tests.support.databases import SITE, T0
from tests.support.runs import inputs

pytestmark = pytest.mark.timeout(60)
ENGINEER = Principal("syracuse.author", "Dana Whitfield", frozenset({Role.PROCESS_ENGINEER}),
                     SITE)
OPERATOR = Principal("syracuse.operator", "Jin-woo Park", frozenset({Role.OPERATOR}), SITE)
TOLERANCES = (Decimal("2"), Decimal("0.005"), Decimal("0.05"))


def batch_event(state: int, revision: int, with_recipe: bool) -> ReceivedEvent:
    batch = batch_pb2.Batch(
        name="batches/SYR-B-2026-00001", batch_id="SYR-B-2026-00001", home_site=SITE,
        state=state, etag=str(revision),
    )
    if with_recipe:
        batch.control_recipe.CopyFrom(conjugation_recipe())
    payload = batch_events_pb2.BatchCreated(batch=batch)
    return ReceivedEvent(str(uuid.uuid4()), f"twinline.{SITE}.batchrecords.batch.x",
                         payload.DESCRIPTOR.full_name, T0, SITE, payload, revision)


def results_event(site: str, run_id: str, value: str, second: int) -> ReceivedEvent:
    run = pb.Run(run_id=run_id, home_site=site, product="TWX-101", batch="batches/X-B-2026-00001")
    run.results.values.add(attribute=pb.ATTRIBUTE_YIELD).value.value = value
    run.results.record_time.CopyFrom(timestamp(T0.replace(second=second)))
    payload = conjugation_events_pb2.RunResultsRecorded(run=run)
    return ReceivedEvent(str(uuid.uuid4()), f"twinline.{site}.conjugation.run.results_recorded",
                         payload.DESCRIPTOR.full_name, T0, site, payload, second)


def take_in(writer: Writer, *events: ReceivedEvent) -> object:
    seen = [projection.seen(event) for event in events]
    return writer.run(lambda uow: projection.apply(uow, [item for item in seen if item]))


async def create(writer: Writer) -> domain.Run:
    violations = Violations()
    lots = lots_from_proto(inputs(), violations)
    return await writer.run(lambda uow: handlers.create(
        uow, principal=ENGINEER, site_code="SYR", batch_id="SYR-B-2026-00001",
        inputs=inputs_from_proto(inputs()), lots=lots,
        phase_steps=[pb.PhaseStep(phase=pb.PHASE_REDUCTION, step_id="S1")], acceptance=[],
        tolerances=TOLERANCES,
    ))


async def test_a_run_for_a_batch_known_from_its_events(engine: Engine, writer: Writer) -> None:
    with pytest.raises(FailedPrecondition, match="not known here"):
        await create(writer)
    # "created" (with the recipe), then "step_recorded" (in progress), delivered out of order
    # and one of them twice: the newest revision wins, the recipe is kept.
    in_progress = batch_event(batch_pb2.BATCH_STATE_IN_PROGRESS, 2, with_recipe=False)
    await take_in(writer, in_progress)
    await take_in(writer, batch_event(batch_pb2.BATCH_STATE_CREATED, 1, with_recipe=True),
                  in_progress)
    with read_session(engine) as session:
        known = projected.known_batch(session, "SYR-B-2026-00001")
    assert known is not None and (known.state, known.revision) == ("in_progress", 2)
    assert known.product == "TWX-101" and known.recipe

    run = await create(writer)
    assert run.run_id == "SYR-CR-000001"
    assert run.phase_steps[domain.Phase.REDUCTION].limits["temperature"].high == Decimal("30")
    started = await writer.run(lambda uow: handlers.start_phase(
        uow, principal=OPERATOR, run_id=run.run_id, etag=run.etag, phase=domain.Phase.REDUCTION,
    ))
    second = await create(writer)
    with read_session(engine) as session:
        assert repository.get(session, run.run_id) == started
        listed = repository.page(session, batch_id="SYR-B-2026-00001", after=None, size=10)
        subjects = list(session.execute(select(OutboxRow.subject)).scalars())
    assert [message.run_id for _, message in listed] == [run.run_id, second.run_id]
    assert subjects.count(f"twinline.{SITE}.conjugation.run.created") == 2
    assert subjects.count(f"twinline.{SITE}.conjugation.run.phase_started") == 1


async def test_trend_points_of_every_site_in_record_order(engine: Engine, writer: Writer) -> None:
    songdo = results_event("songdo", "SDO-CR-000001", "88.0", 5)
    await take_in(writer, results_event(SITE, "SYR-CR-000002", "91.0", 9), songdo, songdo,
                  results_event(SITE, "SYR-CR-000001", "90.5", 1))
    with read_session(engine) as session:
        points = projected.trend(session, "TWX-101", "yield")
    assert [(point.site, point.run_id, point.value) for point in points] == [
        (SITE, "SYR-CR-000001", "90.5"), ("songdo", "SDO-CR-000001", "88.0"),
        (SITE, "SYR-CR-000002", "91.0"),
    ]
