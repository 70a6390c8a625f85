"""Samples with their results, OOS investigations and dispositions of both sites in the site
view: events taken in by the view's handler on a real SQLite file (newest revision kept, a
repeat or a late older revision changing nothing, a disposition written once), then listed and
got through the real servicer on a grpc.aio server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from twinline.events.v1 import release_testing_events_pb2 as release_testing_events
from twinline.releasetesting.v1 import disposition_pb2 as disposition_pb
from twinline.releasetesting.v1 import investigation_pb2 as investigation_pb
from twinline.releasetesting.v1 import sample_pb2 as sample_pb
from twinline.siteview.v1 import site_view_service_pb2 as api

from services.common.grpc.paging import encode_token
from services.common.grpc.status import details_of
from services.common.messaging.events import OutboxEvent
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.writer import Writer
from services.site_view import handlers
from services.site_view.__main__ import MIGRATIONS
from services.site_view.tables import ReplicaDispositionRow, WatermarkRow
from tests.support.replica_events import (
    BATCH_ID,
    INVESTIGATION_ID,
    SAMPLE_ID,
    SITE,
    T0,
    disposition_decided,
    disposition_of_batch,
    investigation_at,
    investigation_changed,
    received,
    release_testing_event,
    sample_at,
    sample_changed,
)
from tests.support.site_view import ViewClient, serving

pytestmark = pytest.mark.timeout(60)

OTHER = "songdo"
OTHER_BATCH = "SDO-B-2026-00007"
# Songdo's lab tests a sample of the Syracuse batch, and one of its own batch.
OTHER_SAMPLE, OTHER_OWN_SAMPLE = "SDO-S-2026-00001", "SDO-S-2026-00002"
OTHER_INVESTIGATION = "SDO-OOS-2026-00001"
ENTERED, REVIEWED = sample_pb.RESULT_STATE_ENTERED, sample_pb.RESULT_STATE_REVIEWED
RELEASED = disposition_pb.DISPOSITION_DECISION_RELEASED
ON_HOLD = disposition_pb.DISPOSITION_DECISION_ON_HOLD
at = [T0 + timedelta(minutes=minute) for minute in range(10)]

# The sample: created, a result entered, reviewed. The investigation: opened, phase II, closed.
SAMPLE_REVISIONS = {
    1: sample_changed(sample_at(1), "created", at[0]),
    2: sample_changed(sample_at(2, ENTERED), "result_entered", at[1]),
    3: sample_changed(sample_at(3, REVIEWED), "result_reviewed", at[2]),
}
INVESTIGATION_REVISIONS = {
    1: investigation_changed(
        investigation_at(1, investigation_pb.INVESTIGATION_STATE_PHASE_ONE), "opened", at[1]
    ),
    2: investigation_changed(
        investigation_at(2, investigation_pb.INVESTIGATION_STATE_PHASE_TWO),
        "phase_one_concluded", at[2],
    ),
    3: investigation_changed(
        investigation_at(3, investigation_pb.INVESTIGATION_STATE_CLOSED_CONFIRMED), "closed",
        at[3],
    ),
}
ON_HOLD_FIRST = disposition_decided(
    disposition_of_batch(1, ON_HOLD, reason="awaiting the OOS investigation"), at[4]
)
RELEASED_SECOND = disposition_decided(disposition_of_batch(2, RELEASED), at[5])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_database_engine(
        f"sqlite:///{tmp_path / 'site_view.db'}", sqlite_synchronous="NORMAL"
    )
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def writer(engine: Engine) -> AsyncIterator[Writer]:
    writer = Writer(engine, SITE, clock=lambda: T0)
    writer.start()
    yield writer
    await writer.stop()


def taken(events: Sequence[OutboxEvent]) -> list[handlers.ReplicaEvent]:
    """The events as the consumer reads them from the stream, each at its own sequence."""
    return [handlers.replica_event(received(event)) for event in events]


async def apply(writer: Writer, events: Sequence[handlers.ReplicaEvent]) -> int:
    return await writer.run(lambda uow: handlers.apply_events(uow, events))


@pytest_asyncio.fixture
async def view(engine: Engine, writer: Writer) -> AsyncIterator[ViewClient]:
    """Both sites' samples, investigations and dispositions taken in, newest first then late
    older revisions, then served."""
    first = taken([
        SAMPLE_REVISIONS[1], SAMPLE_REVISIONS[3], INVESTIGATION_REVISIONS[1],
        INVESTIGATION_REVISIONS[3], ON_HOLD_FIRST,
        sample_changed(sample_at(1, home_site=OTHER, sample_id=OTHER_SAMPLE), "created", at[0]),
        sample_changed(
            sample_at(2, ENTERED, home_site=OTHER, sample_id=OTHER_OWN_SAMPLE,
                      batch_id=OTHER_BATCH),
            "result_entered", at[1],
        ),
        investigation_changed(investigation_at(
            1, investigation_pb.INVESTIGATION_STATE_PHASE_ONE, home_site=OTHER,
            investigation_id=OTHER_INVESTIGATION, batch_id=OTHER_BATCH,
            sample_id=OTHER_OWN_SAMPLE,
        ), "opened", at[2]),
        disposition_decided(disposition_of_batch(
            1, disposition_pb.DISPOSITION_DECISION_REJECTED, batch_id=OTHER_BATCH,
            home_site=OTHER,
        ), at[3]),
    ])
    assert await apply(writer, first) == len(first)
    late = taken([SAMPLE_REVISIONS[2], INVESTIGATION_REVISIONS[2], RELEASED_SECOND])
    assert await apply(writer, late) == len(late)
    async with serving(engine) as client:
        yield client


async def test_a_sample_is_got_at_its_newest_revision_with_its_results(view: ViewClient) -> None:
    client, auth = view
    got = await client.GetSample(api.GetSampleRequest(name=f"samples/{SAMPLE_ID}"), metadata=auth)
    # Revision 2 came late: it did not take the view back.
    assert (got.sample.etag, got.sample.home_site, got.sample.batch) == (
        "3", SITE, f"batches/{BATCH_ID}"
    )
    assert [result.state for result in got.sample.assignments[0].results] == [REVIEWED]


async def test_a_repeated_or_older_event_changes_nothing(
    view: ViewClient, writer: Writer
) -> None:
    client, auth = view
    # The same events again (a redelivery): the inbox knows them.
    again = taken([SAMPLE_REVISIONS[3], INVESTIGATION_REVISIONS[3], ON_HOLD_FIRST])
    assert await apply(writer, again) == 0
    # New events (a copy republished under another id) carrying older states, and another
    # decision under a number the view already holds: none is applied over what it holds.
    replayed = [
        sample_changed(sample_at(1), "created", at[6]),
        investigation_changed(
            investigation_at(2, investigation_pb.INVESTIGATION_STATE_PHASE_TWO), "closed", at[6]
        ),
        disposition_decided(disposition_of_batch(1, RELEASED), at[6]),
    ]
    assert await apply(writer, taken(replayed)) == 3
    sample = await client.GetSample(
        api.GetSampleRequest(name=f"samples/{SAMPLE_ID}"), metadata=auth
    )
    investigations = await client.ListInvestigations(
        api.ListInvestigationsRequest(site=SITE), metadata=auth
    )
    dispositions = await client.ListDispositions(
        api.ListDispositionsRequest(batch=f"batches/{BATCH_ID}"), metadata=auth
    )
    assert sample.sample.etag == "3"
    assert [(i.etag, i.state) for i in investigations.investigations] == [
        ("3", investigation_pb.INVESTIGATION_STATE_CLOSED_CONFIRMED)
    ]
    assert [(d.name, d.decision, d.reason) for d in dispositions.dispositions] == [
        (f"batches/{BATCH_ID}/dispositions/1", ON_HOLD, "awaiting the OOS investigation"),
        (f"batches/{BATCH_ID}/dispositions/2", RELEASED, ""),
    ]


async def test_samples_are_listed_by_site_and_batch_a_page_at_a_time(view: ViewClient) -> None:
    client, auth = view
    everything = await client.ListSamples(api.ListSamplesRequest(), metadata=auth)
    # By home site ("songdo" before "syracuse"), then sample id.
    assert [s.name for s in everything.samples] == [
        f"samples/{OTHER_SAMPLE}", f"samples/{OTHER_OWN_SAMPLE}", f"samples/{SAMPLE_ID}",
    ]
    assert everything.next_page_token == ""

    paged, request = [], api.ListSamplesRequest(page_size=1)
    for _ in range(4):
        page = await client.ListSamples(request, metadata=auth)
        paged += [s.name for s in page.samples]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert paged == [s.name for s in everything.samples]

    # The Syracuse batch's samples, from both sites' labs; then Songdo's lab alone.
    of_batch = await client.ListSamples(
        api.ListSamplesRequest(batch=f"batches/{BATCH_ID}"), metadata=auth
    )
    assert [s.name for s in of_batch.samples] == [f"samples/{OTHER_SAMPLE}", f"samples/{SAMPLE_ID}"]
    of_site = await client.ListSamples(
        api.ListSamplesRequest(site=OTHER, batch=f"batches/{BATCH_ID}"), metadata=auth
    )
    assert [s.name for s in of_site.samples] == [f"samples/{OTHER_SAMPLE}"]
    nowhere = await client.ListSamples(api.ListSamplesRequest(site="boston"), metadata=auth)
    assert list(nowhere.samples) == []


async def test_investigations_are_listed_by_site_and_batch_a_page_at_a_time(
    view: ViewClient,
) -> None:
    client, auth = view
    first = await client.ListInvestigations(
        api.ListInvestigationsRequest(page_size=1), metadata=auth
    )
    rest = await client.ListInvestigations(
        api.ListInvestigationsRequest(page_size=1, page_token=first.next_page_token),
        metadata=auth,
    )
    assert [i.name for i in [*first.investigations, *rest.investigations]] == [
        f"investigations/{OTHER_INVESTIGATION}", f"investigations/{INVESTIGATION_ID}",
    ]
    assert rest.next_page_token == ""
    of_batch = await client.ListInvestigations(
        api.ListInvestigationsRequest(batch=f"batches/{OTHER_BATCH}"), metadata=auth
    )
    assert [(i.name, i.home_site) for i in of_batch.investigations] == [
        (f"investigations/{OTHER_INVESTIGATION}", OTHER)
    ]


async def test_dispositions_are_listed_by_site_and_batch_a_page_at_a_time(
    view: ViewClient, engine: Engine
) -> None:
    client, auth = view
    paged, request = [], api.ListDispositionsRequest(page_size=2)
    for _ in range(3):
        page = await client.ListDispositions(request, metadata=auth)
        paged += [(d.name, d.decision) for d in page.dispositions]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert paged == [
        (f"batches/{OTHER_BATCH}/dispositions/1", disposition_pb.DISPOSITION_DECISION_REJECTED),
        (f"batches/{BATCH_ID}/dispositions/1", ON_HOLD),
        (f"batches/{BATCH_ID}/dispositions/2", RELEASED),
    ]
    of_site = await client.ListDispositions(
        api.ListDispositionsRequest(site=SITE, page_size=1), metadata=auth
    )
    assert [d.name for d in of_site.dispositions] == [f"batches/{BATCH_ID}/dispositions/1"]
    with read_session(engine) as session:
        row = session.get(ReplicaDispositionRow, (BATCH_ID, 2))
    assert row is not None and (row.home_site, row.decision) == (SITE, "released")


async def test_specification_and_certificate_events_are_counted_but_not_replicated(
    view: ViewClient, writer: Writer, engine: Engine
) -> None:
    with read_session(engine) as session:
        before = session.get(WatermarkRow, SITE)
    assert before is not None
    events = taken([
        release_testing_event(
            release_testing_events.CertificateIssued(), "certificate", "issued", at[7], site=SITE,
            ce_subject=f"samples/{SAMPLE_ID}/certificate",
        ),
    ])
    assert await apply(writer, events) == 1
    with read_session(engine) as session:
        after = session.get(WatermarkRow, SITE)
    assert after is not None and after.events_applied == before.events_applied + 1


@pytest.mark.parametrize(
    ("method", "request_", "code", "reason"),
    [
        ("GetSample", api.GetSampleRequest(name="samples/SYR-S-2026-00009"),
         grpc.StatusCode.NOT_FOUND, "SAMPLE_NOT_FOUND"),
        ("GetSample", api.GetSampleRequest(name="SYR-S-2026-00001"),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListSamples", api.ListSamplesRequest(batch=BATCH_ID),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListSamples", api.ListSamplesRequest(page_size=-1),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListInvestigations", api.ListInvestigationsRequest(page_token="not-ours"),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListDispositions", api.ListDispositionsRequest(page_token=encode_token(["a", "b"])),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("ListDispositions", api.ListDispositionsRequest(site="s" * 1000),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ],
    ids=["unknown sample", "bad name", "bad batch", "negative page size", "bad token",
         "token of another listing", "site too long"],
)
async def test_release_testing_reads_are_refused(
    view: ViewClient, method: str, request_: object, code: grpc.StatusCode, reason: str
) -> None:
    client, auth = view
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(client, method)(request_, metadata=auth)
    assert refused.value.code() == code
    assert details_of(refused.value)["reason"] == reason
