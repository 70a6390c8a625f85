"""Release testing's persistence on both backends (SQLite and PostgreSQL), through its use
cases and its projection: batches known from their events, a specification made effective,
a sample judged, reviewed and charted, another site's records replicated (newest revision
wins), and a disposition decided on what the database holds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from twinline.batchrecords.v1 import batch_pb2
from twinline.events.v1 import batch_events_pb2, release_testing_events_pb2

from services.common.domain.errors import PreconditionFailed, Violations
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.database import read_session
from services.common.persistence.tables import OutboxRow
from services.common.persistence.writer import Writer
from services.devstack.recipes import conjugation_recipe
from services.release_testing.dispositions import handlers as dispositions
from services.release_testing.dispositions.domain import Decision
from services.release_testing.investigations import handlers as investigations
from services.release_testing.projection import handlers as projection
from services.release_testing.projection import repository as projected
from services.release_testing.samples import repository as sample_repository
from services.release_testing.samples.domain import Entry, Result, Sample
from services.release_testing.samples.handlers import create as create_sample
from services.release_testing.samples.handlers import review_result
from services.release_testing.samples.translate import sample_to_proto
from services.release_testing.specifications import handlers as specifications
from services.release_testing.specifications import repository as spec_repository
from services.release_testing.specifications.domain import Purpose
from services.release_testing.specifications.translate import (
    tests_from_proto as specification_tests,
)
from tests.support.databases import SITE, T0
from tests.support.specifications import release_tests

pytestmark = pytest.mark.timeout(60)
ANALYST = Principal("syracuse.analyst", "Tomás Herrera", frozenset({Role.QC_ANALYST}), SITE)
SECOND = Principal("syracuse.analyst2", "Aisha Rahman", frozenset({Role.QC_ANALYST}), SITE)
QA = Principal("syracuse.qa", "Priya Raman", frozenset({Role.QA}), SITE)
BATCH = "SYR-B-2026-00001"


def signed(who: Principal, meaning: SignatureMeaning) -> SignatureRecord:
    return SignatureRecord(who.username, who.printed_name, meaning, T0)


def batch_event(state: int, revision: int, *, deviation_open: bool = False) -> ReceivedEvent:
    batch = batch_pb2.Batch(name=f"batches/{BATCH}", batch_id=BATCH, home_site=SITE,
                            state=state, etag=str(revision))  # type: ignore[arg-type]
    if revision == 1:
        batch.control_recipe.CopyFrom(conjugation_recipe())
    if deviation_open:
        batch.deviations.add(id="DEV-1", state=batch_pb2.DEVIATION_STATE_OPEN)
    payload = batch_events_pb2.BatchCreated(batch=batch)
    return ReceivedEvent(str(uuid.uuid4()), f"twinline.{SITE}.batchrecords.batch.x",
                         payload.DESCRIPTOR.full_name, T0, SITE, payload, revision)


async def take_in(writer: Writer, *events: ReceivedEvent) -> object:
    seen = [projection.seen(event) for event in events]
    return await writer.run(lambda uow: projection.apply(uow, [i for i in seen if i]))


async def effective_specification(writer: Writer) -> str:
    tests = specification_tests(release_tests(), Violations())
    draft = await writer.run(lambda uow: specifications.create(
        uow, principal=ANALYST, site_code="SYR", product="TWX-101", purpose=Purpose.RELEASE,
        market="", title="release", tests=tests))
    key = (draft.spec_id, draft.version)
    approved = await writer.run(lambda uow: specifications.approve(
        uow, principal=QA, key=key, etag=draft.etag,
        signature=signed(QA, SignatureMeaning.APPROVED)))
    effective, _ = await writer.run(lambda uow: specifications.make_effective(
        uow, principal=QA, key=key, etag=approved.etag,
        signature=signed(QA, SignatureMeaning.MADE_EFFECTIVE)))
    return effective.name


async def entered_and_reviewed(writer: Writer, sample: Sample,
                               entry: Entry) -> tuple[Sample, Result]:
    entered = await writer.run(lambda uow: investigations.enter_result(
        uow, principal=ANALYST, site_code="SYR", sample_id=sample.sample_id, etag=sample.etag,
        entry=entry, signature=signed(ANALYST, SignatureMeaning.EXECUTED)))
    return await writer.run(lambda uow: review_result(
        uow, principal=SECOND, key=(sample.sample_id, entered.result.number),
        etag=entered.sample.etag, signature=signed(SECOND, SignatureMeaning.REVIEWED)))


ENTRIES = {
    "A1": Entry("A1", ("4.02", "3.98"), (Decimal("4.02"), Decimal("3.98")), "", False, "1",
                "HPLC-07", ""),
    "A2": Entry("A2", ("98.7",), (Decimal("98.7"),), "", False, "%", "SEC-02", ""),
    "A3": Entry("A3", (), (), "", True, "%", "RP-03", ""),
    "A4": Entry("A4", (), (), "conforms", False, "", "", ""),
}


async def test_a_sample_of_a_known_batch_judged_reviewed_charted_and_released(
    engine: Engine, writer: Writer,
) -> None:
    # Delivered out of order and twice: the newest revision wins, the product is kept.
    approved = batch_event(batch_pb2.BATCH_STATE_APPROVED, 3, deviation_open=True)
    await take_in(writer, approved, batch_event(batch_pb2.BATCH_STATE_CREATED, 1), approved)
    with read_session(engine) as session:
        known = projected.known_batch(session, BATCH)
    assert known is not None and (known.product, known.state, known.open_issues) == (
        "TWX-101", "approved", ("DEV-1",))

    spec_name = await effective_specification(writer)
    sample = await writer.run(lambda uow: create_sample(
        uow, principal=ANALYST, site_code="SYR", batch_id=BATCH, description="2 mL"))
    for assignment_id, entry in ENTRIES.items():
        sample, result = await entered_and_reviewed(writer, sample, entry)
        assert result.assignment_id == assignment_id
    assert sample.complete

    with read_session(engine) as session:
        assert [s.name for s in spec_repository.effective_for(session, "TWX-101")] == [spec_name]
        history = sample_repository.trend_history(
            session, product="TWX-101", attribute="monomer", method_id="SEC-002",
            other_than="SYR-B-2026-00099")
    assert history == [Decimal("98.7")]

    with pytest.raises(PreconditionFailed) as refused:
        await writer.run(lambda uow: dispositions.dispose(
            uow, principal=QA, batch_id=BATCH, decision=Decision.RELEASED,
            signature=signed(QA, SignatureMeaning.RELEASED)))
    assert [(c.type, c.subject) for c in refused.value.conditions] == [
        ("DEVIATION_OPEN", f"batches/{BATCH} DEV-1")]
    await take_in(writer, batch_event(batch_pb2.BATCH_STATE_APPROVED, 4))
    released = await writer.run(lambda uow: dispositions.dispose(
        uow, principal=QA, batch_id=BATCH, decision=Decision.RELEASED,
        signature=signed(QA, SignatureMeaning.RELEASED)))
    assert len(released.results) == 4
    with read_session(engine) as session:
        subjects = list(session.execute(select(OutboxRow.subject)).scalars())
    assert subjects.count(f"twinline.{SITE}.release_testing.disposition.decided") == 1
    assert subjects.count(f"twinline.{SITE}.release_testing.sample.result_reviewed") == 4


async def test_another_sites_sample_is_replicated_at_its_newest_revision(
    engine: Engine, writer: Writer,
) -> None:
    await take_in(writer, batch_event(batch_pb2.BATCH_STATE_IN_PROGRESS, 1))
    await effective_specification(writer)
    sample = await writer.run(lambda uow: create_sample(
        uow, principal=ANALYST, site_code="SYR", batch_id=BATCH, description=""))
    document = sample_to_proto(sample)
    document.name, document.home_site = "samples/SDO-S-2026-00001", "songdo"

    def event(revision: int, description: str) -> ReceivedEvent:
        copy = type(document)()
        copy.CopyFrom(document)
        copy.etag, copy.description = str(revision), description
        copy.update_time.FromDatetime(T0 + timedelta(seconds=revision))
        payload = release_testing_events_pb2.SampleChanged(sample=copy)
        return ReceivedEvent(str(uuid.uuid4()), "twinline.songdo.release_testing.sample.x",
                             payload.DESCRIPTOR.full_name, T0, "songdo", payload, revision)

    await take_in(writer, event(2, "newer"), event(1, "older"))
    with read_session(engine) as session:
        replicas = [s for s in sample_repository.of_batch(session, BATCH)
                    if s.home_site == "songdo"]
    assert [(s.name, s.description, s.etag) for s in replicas] == [
        ("samples/SDO-S-2026-00001", "newer", "2")]
