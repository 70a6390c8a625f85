"""Events as batch_records, conjugation, release testing and tech transfer publish them, built by
hand for the site view's tests: master record, batch, run, sample and investigation revisions,
latest readings, dispositions, transfer packages and their receipts, a version effective by a
transfer, and the received form the view's handler takes in."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf import message
from twinline.batchrecords.v1 import batch_pb2 as batch_pb
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.common.v1 import quantity_pb2, signature_pb2
from twinline.conjugation.v1 import run_pb2
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import conjugation_events_pb2 as conjugation_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.events.v1 import release_testing_events_pb2 as release_testing_events
from twinline.events.v1 import tech_transfer_events_pb2 as tech_transfer_events
from twinline.releasetesting.v1 import disposition_pb2 as disposition_pb
from twinline.releasetesting.v1 import investigation_pb2 as investigation_pb
from twinline.releasetesting.v1 import sample_pb2 as sample_pb
from twinline.techtransfer.v1 import transfer_pb2 as transfer_pb

from services.common.messaging.events import OutboxEvent, ReceivedEvent, decode, new_event
from services.common.messaging.subjects import event_subject
from services.conjugation.runs.names import run_name
from services.release_testing.investigations.names import investigation_name
from services.release_testing.samples.names import sample_name

SITE = "syracuse"
RECORD_ID = "SYR-MBR-000001"
T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def record(
    revision: int, state: pb.MasterBatchRecordState.ValueType, *, record_id: str = RECORD_ID,
    version: int = 1, home_site: str = SITE,
) -> pb.MasterBatchRecord:
    return pb.MasterBatchRecord(
        name=f"masterBatchRecords/{record_id}/versions/{version}", record_id=record_id,
        version=version, home_site=home_site, state=state, etag=f"{version}-{revision}",
        product="ADC-7 drug substance", title="Conjugation of mAb-7 with vcMMAE",
    )


def mbr_event(
    payload: message.Message, suffix: str, time: datetime, *, site: str = SITE
) -> OutboxEvent:
    name = payload.master_batch_record.name  # type: ignore[attr-defined]
    return new_event(
        subject=event_subject(site, "batchrecords", "master_batch_record", suffix),
        payload=payload, source=f"twinline/{site}/batch_records", ce_subject=name, time=time,
    )


def created(
    revision: int, time: datetime, *, record_id: str = RECORD_ID, version: int = 1
) -> OutboxEvent:
    draft = record(
        revision, pb.MASTER_BATCH_RECORD_STATE_DRAFT, record_id=record_id, version=version
    )
    payload = mbr_events.MasterBatchRecordCreated(master_batch_record=draft)
    return mbr_event(payload, "created", time)


counter = itertools.count(1)


def received(event: OutboxEvent) -> ReceivedEvent:
    return decode(event.subject, event.headers, event.payload, next(counter))


BATCH_ID = "SYR-B-2026-00042"
MASTER = "masterBatchRecords/SYR-MBR-000001/versions/2"
TCEP, BUFFER, BUFFER_CORRECTED, MAB = "L-2026-0113", "L-2026-0200", "L-2026-0201", "L-2026-0300"


def quantity(value: str, unit: str) -> quantity_pb2.Quantity:
    return quantity_pb2.Quantity(value=value, unit=unit)


def signed(
    signer: str, meaning: signature_pb2.SignatureMeaning.ValueType
) -> signature_pb2.Signature:
    return signature_pb2.Signature(signer=signer, printed_name=signer.title(), meaning=meaning)


def step(
    step_id: str, *lots: tuple[str, str, str, str], verified: bool = False
) -> batch_pb.StepExecution:
    """A step executed by syr.op, adding each (material, lot, value, unit)."""
    return batch_pb.StepExecution(
        step_id=step_id,
        status=batch_pb.STEP_STATUS_COMPLETE if verified else batch_pb.STEP_STATUS_EXECUTED,
        materials=[
            batch_pb.MaterialAddition(material=material, lot_id=lot, quantity=quantity(value, unit))
            for material, lot, value, unit in lots
        ],
        executed=signed("syr.op", signature_pb2.SIGNATURE_MEANING_EXECUTED),
        verified=signed("syr.op2", signature_pb2.SIGNATURE_MEANING_VERIFIED) if verified else None,
    )


def batch_at(
    revision: int, state: batch_pb.BatchState.ValueType, steps: list[batch_pb.StepExecution], *,
    batch_id: str = BATCH_ID, home_site: str = SITE,
    exceptions: Sequence[batch_pb.BatchException] = (),
    deviations: Sequence[batch_pb.Deviation] = (),
) -> batch_pb.Batch:
    return batch_pb.Batch(
        name=f"batches/{batch_id}", batch_id=batch_id, home_site=home_site,
        master_batch_record=MASTER, state=state, steps=steps, exceptions=exceptions,
        deviations=deviations, planned_quantity=quantity("200", "L"), etag=str(revision),
    )


def batch_event(payload: message.Message, suffix: str, time: datetime) -> OutboxEvent:
    found: batch_pb.Batch = payload.batch  # type: ignore[attr-defined]
    return new_event(
        subject=event_subject(found.home_site, "batchrecords", "batch", suffix), payload=payload,
        source=f"twinline/{found.home_site}/batch_records", ce_subject=found.name, time=time,
    )


def batch_created(found: batch_pb.Batch, time: datetime = T0) -> OutboxEvent:
    return batch_event(batch_events.BatchCreated(batch=found), "created", time)


def step_recorded(found: batch_pb.Batch, time: datetime) -> OutboxEvent:
    step_ids = [found.steps[-1].step_id] if found.steps else []
    payload = batch_events.BatchStepRecorded(batch=found, step_ids=step_ids)
    return batch_event(payload, "step_recorded", time)


EXCEPTION = batch_pb.BatchException(
    id="EX-1", kind=batch_pb.EXCEPTION_KIND_OUT_OF_LIMITS, severity=batch_pb.SEVERITY_MAJOR,
    step_id="S2",
    description="temperature 36 Cel outside 20..30 Cel (critical process parameter)",
)


def deviation(investigation: str = "") -> batch_pb.Deviation:
    return batch_pb.Deviation(
        id="DEV-1", classification=batch_pb.SEVERITY_MAJOR, title="Conjugation over temperature",
        exception_ids=["EX-1"], investigation=investigation, state=batch_pb.DEVIATION_STATE_OPEN,
    )


TCEP_ADDED = ("TCEP-0.5M", TCEP, "12.5", "mL")
BUFFER_ADDED = ("PBS", BUFFER, "150", "L")
MAB_ADDED = ("MAB-7", MAB, "4.000", "kg")
REVISIONS = {
    1: batch_at(1, batch_pb.BATCH_STATE_CREATED, []),
    2: batch_at(2, batch_pb.BATCH_STATE_IN_PROGRESS, [step("S1", TCEP_ADDED, BUFFER_ADDED)]),
    3: batch_at(
        3, batch_pb.BATCH_STATE_ON_HOLD,
        [step("S1", TCEP_ADDED, BUFFER_ADDED), step("S2", MAB_ADDED)],
        exceptions=[EXCEPTION], deviations=[deviation()],
    ),
    # The buffer addition of S1 now names another lot: the view must forget the first one.
    4: batch_at(
        4, batch_pb.BATCH_STATE_ON_HOLD,
        [step("S1", TCEP_ADDED, ("PBS", BUFFER_CORRECTED, "150", "L"), verified=True),
         step("S2", MAB_ADDED)],
        exceptions=[EXCEPTION], deviations=[deviation("chiller setpoint drift")],
    ),
}


# --- conjugation runs ----------------------------------------------------------------------

RUN_ID = "SYR-CR-000001"
TAG = "R201.TT01"


def run_at(
    revision: int, phase: run_pb2.Phase.ValueType, *, run_id: str = RUN_ID,
    home_site: str = SITE, batch_id: str = BATCH_ID,
) -> run_pb2.Run:
    return run_pb2.Run(
        name=run_name(run_id), run_id=run_id, home_site=home_site, batch=f"batches/{batch_id}",
        product="ADC-7 drug substance", phase=phase, etag=str(revision),
        charge_tolerance_percent="2", created_by="syr.op",
    )


def conjugation_event(
    payload: message.Message, aggregate: str, suffix: str, time: datetime, *, site: str,
    ce_subject: str,
) -> OutboxEvent:
    return new_event(
        subject=event_subject(site, "conjugation", aggregate, suffix), payload=payload,
        source=f"twinline/{site}/conjugation", ce_subject=ce_subject, time=time,
    )


def run_event(payload: message.Message, suffix: str, time: datetime = T0) -> OutboxEvent:
    run: run_pb2.Run = payload.run  # type: ignore[attr-defined]
    return conjugation_event(
        payload, "run", suffix, time, site=run.home_site, ce_subject=run.name
    )


def run_created(run: run_pb2.Run, time: datetime = T0) -> OutboxEvent:
    return run_event(conjugation_events.RunCreated(run=run), "created", time)


def phase_started(run: run_pb2.Run, time: datetime) -> OutboxEvent:
    payload = conjugation_events.RunPhaseStarted(run=run, phase=run.phase)
    return run_event(payload, "phase_started", time)


def latest_reading(
    time_us: int, value: float, *, tag: str = TAG, unit: str = "Cel", run_id: str = RUN_ID,
    site: str = SITE, time: datetime = T0,
) -> OutboxEvent:
    payload = conjugation_events.LatestReading(
        run=run_name(run_id), tag=tag, time_us=time_us, value=value, unit=unit
    )
    return conjugation_event(
        payload, "readings", "latest", time, site=site, ce_subject=run_name(run_id)
    )


# --- release testing -----------------------------------------------------------------------

SAMPLE_ID = "SYR-S-2026-00001"
INVESTIGATION_ID = "SYR-OOS-2026-00001"


def release_testing_event(
    payload: message.Message, aggregate: str, suffix: str, time: datetime, *, site: str,
    ce_subject: str,
) -> OutboxEvent:
    return new_event(
        subject=event_subject(site, "release_testing", aggregate, suffix), payload=payload,
        source=f"twinline/{site}/release_testing", ce_subject=ce_subject, time=time,
    )


def sample_at(
    revision: int, *results: sample_pb.ResultState.ValueType, sample_id: str = SAMPLE_ID,
    home_site: str = SITE, batch_id: str = BATCH_ID,
) -> sample_pb.Sample:
    """A sample of one assignment (pH), with a result in each of ``results``, in order."""
    name = sample_name(sample_id)
    assignment = sample_pb.Assignment(
        assignment_id="A1", attribute="pH", method_id="USP-791", unit="[pH]",
        results=[
            sample_pb.Result(
                name=f"{name}/results/{number}", assignment_id="A1", replicates=["7.1"],
                unit="[pH]", state=state,
            )
            for number, state in enumerate(results, start=1)
        ],
    )
    return sample_pb.Sample(
        name=name, batch=f"batches/{batch_id}", product="ADC-7 drug substance",
        home_site=home_site, assignments=[assignment], etag=str(revision),
    )


def sample_changed(
    sample: sample_pb.Sample, suffix: str = "created", time: datetime = T0
) -> OutboxEvent:
    payload = release_testing_events.SampleChanged(sample=sample)
    return release_testing_event(
        payload, "sample", suffix, time, site=sample.home_site, ce_subject=sample.name
    )


def investigation_at(
    revision: int, state: investigation_pb.InvestigationState.ValueType, *,
    investigation_id: str = INVESTIGATION_ID, home_site: str = SITE, batch_id: str = BATCH_ID,
    sample_id: str = SAMPLE_ID,
) -> investigation_pb.Investigation:
    return investigation_pb.Investigation(
        name=investigation_name(investigation_id), sample=sample_name(sample_id),
        result=f"{sample_name(sample_id)}/results/1", batch=f"batches/{batch_id}",
        state=state, home_site=home_site, etag=str(revision),
    )


def investigation_changed(
    investigation: investigation_pb.Investigation, suffix: str = "opened", time: datetime = T0
) -> OutboxEvent:
    payload = release_testing_events.InvestigationChanged(investigation=investigation)
    return release_testing_event(
        payload, "investigation", suffix, time, site=investigation.home_site,
        ce_subject=investigation.name,
    )


def disposition_of_batch(
    number: int, decision: disposition_pb.DispositionDecision.ValueType, *,
    batch_id: str = BATCH_ID, home_site: str = SITE, reason: str = "",
) -> disposition_pb.Disposition:
    return disposition_pb.Disposition(
        name=f"batches/{batch_id}/dispositions/{number}", batch=f"batches/{batch_id}",
        decision=decision, reason=reason, home_site=home_site,
    )


def disposition_decided(
    disposition: disposition_pb.Disposition, time: datetime = T0
) -> OutboxEvent:
    payload = release_testing_events.DispositionDecided(disposition=disposition)
    return release_testing_event(
        payload, "disposition", "decided", time, site=disposition.home_site,
        ce_subject=disposition.name,
    )


# --- tech transfer -------------------------------------------------------------------------

PACKAGE_ID = "SYR-TP-000001"
RECEIVING_SITE = "songdo"


def package_at(
    version: int, revision: int, state: transfer_pb.TransferState.ValueType, *,
    receipt: transfer_pb.Receipt | None = None, package_id: str = PACKAGE_ID,
    sending_site: str = SITE, receiving_site: str = RECEIVING_SITE, notes: str = "",
    master: pb.MasterBatchRecord | None = None,
) -> transfer_pb.TransferPackage:
    """A package as one site knows it: the sender's part at etag ``version``, with the
    receipt that site holds (if any)."""
    sent = master or record(4, pb.MASTER_BATCH_RECORD_STATE_EFFECTIVE, version=2)
    package = transfer_pb.TransferPackage(
        name=f"transferPackages/{package_id}", package_id=package_id,
        sending_site=sending_site, receiving_site=receiving_site, revision=revision,
        state=state, master_batch_record=sent, method_ids=["USP-791"], notes=notes,
        author="syr.pe", etag=str(version),
    )
    if receipt is not None:
        package.receipt.CopyFrom(receipt)
    return package


def receipt_at(
    version: int, revision: int, state: transfer_pb.ReceiptState.ValueType, comments: str = ""
) -> transfer_pb.Receipt:
    return transfer_pb.Receipt(
        revision=revision, state=state, comments=comments, etag=str(version)
    )


def transfer_event(
    package: transfer_pb.TransferPackage, aggregate: str, suffix: str, time: datetime = T0, *,
    site: str | None = None,
) -> OutboxEvent:
    """A tech transfer event: ``aggregate`` "package" from the sending site, "receipt" from
    the receiving site (unless ``site`` says otherwise)."""
    origin = site or (package.sending_site if aggregate == "package" else package.receiving_site)
    return new_event(
        subject=event_subject(origin, "tech_transfer", aggregate, suffix),
        payload=tech_transfer_events.TransferPackageChanged(package=package),
        source=f"twinline/{origin}/tech_transfer", ce_subject=package.name, time=time,
    )


def effective_by_transfer(
    sent: pb.MasterBatchRecord, package: str, time: datetime, *, site: str = RECEIVING_SITE
) -> OutboxEvent:
    """The receiving site's batch_records: the sent version effective there."""
    payload = mbr_events.MasterBatchRecordEffectiveByTransfer(
        master_batch_record=sent, package=package,
        signature=signed("sdo.qa", signature_pb2.SIGNATURE_MEANING_APPROVED),
    )
    return mbr_event(payload, "effective_by_transfer", time, site=site)
