"""Tech transfer's projection and comparability on both backends (SQLite and PostgreSQL):
both sites' reviewed results arrive by their sample events, and a package's attribute is
compared between the sites' batches (TOST), closing the gap it names."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.events.v1 import release_testing_events_pb2 as events
from twinline.releasetesting.v1 import sample_pb2
from twinline.techtransfer.v1 import transfer_pb2 as pb

from services.common.grpc.translate import timestamp
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.database import read_session
from services.common.persistence.writer import Writer
from services.tech_transfer.packages import handlers, repository
from services.tech_transfer.packages.comparability import Verdict
from services.tech_transfer.projection import handlers as projection
from tests.support.databases import T0

pytestmark = pytest.mark.timeout(60)
CODES = {"syracuse": "SYR", "songdo": "SDO"}
# The worked example of tests/tech_transfer/unit/test_comparability.py.
SENDING = ("3.9", "4.0", "4.1", "4.0", "3.95")
RECEIVING = ("4.05", "4.0", "4.1", "3.98", "4.02")


def sample_event(site: str, number: int, value: str, *, valid: bool = True) -> ReceivedEvent:
    code = CODES[site]
    name = f"samples/{code}-S-2026-{number:05d}"
    sample = sample_pb2.Sample(name=name, batch=f"batches/{code}-B-2026-{number:05d}",
                               product="TWX-101", home_site=site, etag="3")
    assignment = sample.assignments.add(assignment_id="A1", attribute="average DAR",
                                        method_id="HIC-001", unit="1")
    result = assignment.results.add(
        name=f"{name}/results/1", assignment_id="A1",
        state=sample_pb2.RESULT_STATE_REVIEWED if valid else
        sample_pb2.RESULT_STATE_INVALIDATED)
    result.judgements.add(reportable=value, verdict=sample_pb2.VERDICT_PASS)
    sample.update_time.CopyFrom(timestamp(T0))
    payload = events.SampleChanged(sample=sample, result=result.name)
    return ReceivedEvent(str(uuid.uuid4()), f"twinline.{site}.release_testing.sample.x",
                         payload.DESCRIPTOR.full_name, T0, site, payload, number)


def package() -> pb.TransferPackage:
    return pb.TransferPackage(
        name="transferPackages/SYR-TP-000001", package_id="SYR-TP-000001",
        sending_site="syracuse", receiving_site="songdo", revision=1,
        state=pb.TRANSFER_STATE_ACCEPTED, etag="2",
        master_batch_record=mbr_pb.MasterBatchRecord(
            name="masterBatchRecords/SYR-MBR-000001/versions/1", product="TWX-101"),
        comparability=[pb.ComparabilityCriterion(attribute="average DAR", margin="0.2",
                                                 batches=3)],
        gaps=[pb.GapItem(gap_id="G1", description="smaller skid", risk="medium",
                         closed_by="average DAR"),
              pb.GapItem(gap_id="G2", description="new operators", risk="low")],
        update_time=timestamp(T0),
    )


async def test_the_sites_batches_compared_by_tost_close_the_gap_they_name(
    engine: Engine, writer: Writer,
) -> None:
    arrived = [sample_event("syracuse", n, v) for n, v in enumerate(SENDING, start=1)]
    arrived += [sample_event("songdo", n, v) for n, v in enumerate(RECEIVING, start=1)]
    # An invalidated result never counts; a repeated event changes nothing.
    arrived += [sample_event("songdo", 9, "9.99", valid=False), arrived[0]]
    seen = [projection.seen(event) for event in arrived]
    await writer.run(lambda uow: projection.apply(uow, [item for item in seen if item]))
    await writer.run(lambda uow: repository.put(uow.session, package()))

    with read_session(engine) as session:
        compared, gaps = handlers.comparability(
            session, package="transferPackages/SYR-TP-000001", site_codes=CODES)
    [dar] = compared
    assert (dar.sending_n, dar.receiving_n, dar.sending_mean, dar.receiving_mean) == (
        5, 5, Decimal("3.9900"), Decimal("4.0300"))
    assert (dar.lower, dar.upper, dar.p_value, dar.verdict) == (
        Decimal("-0.0330"), Decimal("0.1130"), Decimal("0.0018"), Verdict.EQUIVALENT)
    assert gaps == [("G1", "average DAR", True), ("G2", "", False)]
