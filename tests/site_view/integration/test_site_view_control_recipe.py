"""Decision 0008 at the view: a batch event after "created" names the control recipe instead of
carrying it; the view keeps the one "created" brought, or takes its replica of that master
record version, so GetBatch shows the batch whole either way."""

from __future__ import annotations

from pathlib import Path

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events

from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.writer import Writer
from services.site_view import handlers, queries
from services.site_view.__main__ import MIGRATIONS
from tests.support.replica_events import (
    MASTER,
    SITE,
    T0,
    batch_at,
    batch_created,
    mbr_event,
    received,
    record,
    step,
    step_recorded,
)

OTHER_BATCH = "SYR-B-2026-00043"


def control_recipe() -> pb.MasterBatchRecord:
    recipe = record(4, pb.MASTER_BATCH_RECORD_STATE_EFFECTIVE, version=2)
    recipe.unit_procedures.add(id="UP1", name="Conjugation")
    return recipe


async def test_the_view_keeps_or_finds_the_control_recipe_a_later_event_only_names(
    tmp_path: Path,
) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'site_view.db'}")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    writer = Writer(engine, SITE)
    writer.start()
    recipe = control_recipe()
    assert recipe.name == MASTER
    created = batch_at(1, 1, [])
    created.control_recipe.CopyFrom(recipe)
    events = [
        mbr_event(mbr_events.MasterBatchRecordMadeEffective(master_batch_record=recipe),
                  "made_effective", T0),
        batch_created(created),
        step_recorded(batch_at(2, 2, [step("S1")]), T0),  # names MASTER, carries no recipe
        # A batch whose "created" this view never saw: the recipe comes from the replica.
        step_recorded(batch_at(2, 2, [step("S1")], batch_id=OTHER_BATCH), T0),
    ]
    try:
        applied = [handlers.replica_event(received(event)) for event in events]
        await writer.run(lambda uow: handlers.apply_events(uow, applied[:2]))
        await writer.run(lambda uow: handlers.apply_events(uow, applied[2:]))
        with read_session(engine) as session:
            kept = queries.get_batch(session, "SYR-B-2026-00042")
            found = queries.get_batch(session, OTHER_BATCH)
    finally:
        await writer.stop()
        engine.dispose()
    assert kept.etag == "2" and [s.step_id for s in kept.steps] == ["S1"]
    assert kept.control_recipe == recipe
    assert found.control_recipe == recipe
