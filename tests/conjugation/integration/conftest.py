"""A conjugation run to hang readings on: its batch known from a batch event, the run created
through its use case, on each backend's writer."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from twinline.batchrecords.v1 import batch_pb2
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.events.v1 import batch_events_pb2

from services.common.domain.errors import Violations
from services.common.domain.roles import Principal, Role
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.writer import Writer
from services.conjugation.projection import handlers as projection
from services.conjugation.runs import handlers as runs
from services.conjugation.runs.translate import inputs_from_proto, lots_from_proto
from services.devstack.recipes import conjugation_recipe
from tests.support.databases import SITE, T0
from tests.support.runs import inputs

BATCH_ID = "SYR-B-2026-00001"
ENGINEER = Principal("syracuse.author", "Dana Whitfield", frozenset({Role.PROCESS_ENGINEER}),
                     SITE)


async def create_run(writer: Writer) -> str:
    """A run (its id) for a batch in progress at this site, known from its event."""
    batch = batch_pb2.Batch(name=f"batches/{BATCH_ID}", batch_id=BATCH_ID, home_site=SITE,
                            state=batch_pb2.BATCH_STATE_IN_PROGRESS, etag="2")
    batch.control_recipe.CopyFrom(conjugation_recipe())
    payload = batch_events_pb2.BatchCreated(batch=batch)
    event = ReceivedEvent(str(uuid.uuid4()), f"twinline.{SITE}.batchrecords.batch.created",
                          payload.DESCRIPTOR.full_name, T0, SITE, payload, 2)
    seen = projection.seen(event)
    assert seen is not None
    await writer.run(lambda uow: projection.apply(uow, [seen]))
    lots = lots_from_proto(inputs(), Violations())
    run = await writer.run(lambda uow: runs.create(
        uow, principal=ENGINEER, site_code="SYR", batch_id=BATCH_ID,
        inputs=inputs_from_proto(inputs()), lots=lots,
        phase_steps=[pb.PhaseStep(phase=pb.PHASE_REDUCTION, step_id="S1")], acceptance=[],
        tolerances=(Decimal("2"), Decimal("0.005"), Decimal("0.05")),
    ))
    return run.run_id


@pytest.fixture
async def run_id(writer: Writer) -> str:
    return await create_run(writer)
