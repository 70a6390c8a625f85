"""The one use case of the site view: take in a fetched batch of events from the site's stream.

A transfer package has two writers: the sending site's part comes from its ``package.*``
events only, the receipt from the receiving site's ``receipt.*`` events only, each kept when
its own etag is newer. A master record version is effective at its home site while its own
events say so, and at each site whose ``effective_by_transfer`` event names it.

Specifications and certificates of analysis are not replicated (yet): their events only move
their site's watermark.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, timedelta
from typing import Any

from google.protobuf import message
from sqlalchemy import Executable, bindparam, delete, insert, select, update
from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.conjugation.v1 import run_pb2
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import conjugation_events_pb2 as conjugation_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.events.v1 import release_testing_events_pb2 as release_testing_events
from twinline.events.v1 import site_events_pb2 as site_events
from twinline.events.v1 import tech_transfer_events_pb2 as tech_transfer_events
from twinline.releasetesting.v1 import disposition_pb2, investigation_pb2, sample_pb2
from twinline.techtransfer.v1 import transfer_pb2

from services.batch_records.master.names import parse_name, version_key
from services.common.domain.clock import to_text
from services.common.domain.errors import InvalidArgument
from services.common.messaging.events import ReceivedEvent
from services.common.persistence.inbox import new_events
from services.common.persistence.unit_of_work import UnitOfWork
from services.conjugation.runs.names import run_id_of
from services.release_testing.dispositions.names import disposition_of
from services.release_testing.investigations.names import investigation_id_of
from services.release_testing.samples.names import sample_id_of
from services.site_view import domain
from services.site_view.queries import watermark_of
from services.site_view.tables import (
    ChangeLogRow,
    ReplicaBatchMaterialRow,
    ReplicaBatchRow,
    ReplicaDispositionRow,
    ReplicaInvestigationRow,
    ReplicaLatestRow,
    ReplicaMasterBatchRecordRow,
    ReplicaMasterEffectivityRow,
    ReplicaRunRow,
    ReplicaSampleRow,
    ReplicaTransferPackageRow,
    WatermarkRow,
)
from services.site_view.translate import (
    batch_state_text,
    decision_text,
    investigation_state_text,
    phase_text,
    receipt_state_text,
    record_state_text,
    transfer_state_value,
)
from services.tech_transfer.packages.names import package_id_of

REPLICA = ReplicaMasterBatchRecordRow.__table__  # type: ignore[attr-defined]
UPDATE_REPLICA = (
    update(REPLICA)
    .where(REPLICA.c.key == bindparam("row_key"))
    .values({column: bindparam(column) for column in (
        "record_id", "version", "home_site", "state", "revision", "document",
        "last_event_time", "stream_sequence",
    )})
)

# Statements built once: SQLAlchemy then reuses their compiled form without re-deriving it.
STORED_REPLICAS = select(
    REPLICA.c.key, REPLICA.c.record_id, REPLICA.c.version, REPLICA.c.home_site, REPLICA.c.state,
    REPLICA.c.revision,
).where(REPLICA.c.key.in_(bindparam("keys", expanding=True)))
INSERT_REPLICA = insert(REPLICA)

WATERMARK = WatermarkRow.__table__  # type: ignore[attr-defined]
WATERMARKS = select(
    WATERMARK.c.site, WATERMARK.c.last_event_time, WATERMARK.c.stream_sequence,
    WATERMARK.c.events_applied, WATERMARK.c.last_heartbeat_time,
    WATERMARK.c.origin_last_sequence, WATERMARK.c.heartbeat_interval_us,
)
INSERT_WATERMARK = insert(WATERMARK)
UPDATE_WATERMARK = (
    update(WATERMARK)
    .where(WATERMARK.c.site == bindparam("row_site"))
    .values({column: bindparam(column) for column in (
        "last_event_time", "stream_sequence", "events_applied", "last_heartbeat_time",
        "origin_last_sequence", "heartbeat_interval_us",
    )})
)

BATCH = ReplicaBatchRow.__table__  # type: ignore[attr-defined]
BATCH_MATERIAL = ReplicaBatchMaterialRow.__table__  # type: ignore[attr-defined]
UPDATE_BATCH = (
    update(BATCH)
    .where(BATCH.c.batch_id == bindparam("row_batch_id"))
    .values({column: bindparam(column) for column in (
        "home_site", "state", "revision", "master_batch_record", "document",
        "last_event_time", "stream_sequence",
    )})
)

EFFECTIVE_BY_TRANSFER_TYPE = mbr_events.MasterBatchRecordEffectiveByTransfer.DESCRIPTOR.full_name
# Every other master batch record event carries, from the record's home site, its full state
# after the change. "effective_by_transfer" comes from the receiving site and carries the
# version as it was sent: it says where the version is effective, not what it holds.
REPLICATED_EVENT_TYPES = frozenset(
    message.full_name for message in mbr_events.DESCRIPTOR.message_types_by_name.values()
) - {EFFECTIVE_BY_TRANSFER_TYPE}
# Every batch event but the equipment register's carries the batch's full state after the
# change; the equipment register is not part of the view.
BATCH_EVENT_TYPES = frozenset(
    message.full_name
    for message in batch_events.DESCRIPTOR.message_types_by_name.values()
    if "batch" in message.fields_by_name
)
HEARTBEAT_TYPE = site_events.SiteHeartbeat.DESCRIPTOR.full_name
# Longest batch id the replica's key column holds.
MAX_BATCH_ID = 64

RUN = ReplicaRunRow.__table__  # type: ignore[attr-defined]
STORED_RUNS = select(
    RUN.c.run_id, RUN.c.home_site, RUN.c.batch_id, RUN.c.phase, RUN.c.revision
).where(RUN.c.run_id.in_(bindparam("run_ids", expanding=True)))
INSERT_RUN = insert(RUN)
UPDATE_RUN = (
    update(RUN)
    .where(RUN.c.run_id == bindparam("row_run_id"))
    .values({column: bindparam(column) for column in (
        "home_site", "batch_id", "phase", "revision", "document", "last_event_time",
        "stream_sequence",
    )})
)
LATEST = ReplicaLatestRow.__table__  # type: ignore[attr-defined]
STORED_LATEST = select(
    LATEST.c.run_id, LATEST.c.tag, LATEST.c.time_us, LATEST.c.value, LATEST.c.unit
).where(LATEST.c.run_id.in_(bindparam("run_ids", expanding=True)))
INSERT_LATEST = insert(LATEST)
UPDATE_LATEST = (
    update(LATEST)
    .where(LATEST.c.run_id == bindparam("row_run_id"), LATEST.c.tag == bindparam("row_tag"))
    .values({column: bindparam(column) for column in ("time_us", "value", "unit")})
)
# Every conjugation run event carries the run's full state after the change, in "run".
RUN_EVENT_TYPES = frozenset(
    message.full_name
    for message in conjugation_events.DESCRIPTOR.message_types_by_name.values()
    if "run" in message.fields_by_name
    and message.fields_by_name["run"].message_type is run_pb2.Run.DESCRIPTOR
)
LATEST_TYPE = conjugation_events.LatestReading.DESCRIPTOR.full_name
# Longest run id the replica's key column holds.
MAX_RUN_ID = 64
BATCH_PREFIX = "batches/"

SAMPLE = ReplicaSampleRow.__table__  # type: ignore[attr-defined]
STORED_SAMPLES = select(
    SAMPLE.c.sample_id, SAMPLE.c.home_site, SAMPLE.c.batch_id, SAMPLE.c.revision
).where(SAMPLE.c.sample_id.in_(bindparam("sample_ids", expanding=True)))
INSERT_SAMPLE = insert(SAMPLE)
UPDATE_SAMPLE = (
    update(SAMPLE)
    .where(SAMPLE.c.sample_id == bindparam("row_sample_id"))
    .values({column: bindparam(column) for column in (
        "home_site", "batch_id", "revision", "document", "last_event_time", "stream_sequence",
    )})
)
INVESTIGATION = ReplicaInvestigationRow.__table__  # type: ignore[attr-defined]
STORED_INVESTIGATIONS = select(
    INVESTIGATION.c.investigation_id, INVESTIGATION.c.home_site, INVESTIGATION.c.batch_id,
    INVESTIGATION.c.state, INVESTIGATION.c.revision,
).where(INVESTIGATION.c.investigation_id.in_(bindparam("investigation_ids", expanding=True)))
INSERT_INVESTIGATION = insert(INVESTIGATION)
UPDATE_INVESTIGATION = (
    update(INVESTIGATION)
    .where(INVESTIGATION.c.investigation_id == bindparam("row_investigation_id"))
    .values({column: bindparam(column) for column in (
        "home_site", "batch_id", "state", "revision", "document", "last_event_time",
        "stream_sequence",
    )})
)
DISPOSITION = ReplicaDispositionRow.__table__  # type: ignore[attr-defined]
STORED_DISPOSITIONS = select(DISPOSITION.c.batch_id, DISPOSITION.c.number).where(
    DISPOSITION.c.batch_id.in_(bindparam("batch_ids", expanding=True))
)
INSERT_DISPOSITION = insert(DISPOSITION)
EFFECTIVITY = ReplicaMasterEffectivityRow.__table__  # type: ignore[attr-defined]
STORED_EFFECTIVITY = select(EFFECTIVITY.c.name, EFFECTIVITY.c.site).where(
    EFFECTIVITY.c.name.in_(bindparam("names", expanding=True))
)
INSERT_EFFECTIVITY = insert(EFFECTIVITY)
DELETE_EFFECTIVITY = delete(EFFECTIVITY).where(
    EFFECTIVITY.c.name == bindparam("row_name"), EFFECTIVITY.c.site == bindparam("row_site")
)
PACKAGE = ReplicaTransferPackageRow.__table__  # type: ignore[attr-defined]
STORED_PACKAGES = select(PACKAGE).where(
    PACKAGE.c.package_id.in_(bindparam("package_ids", expanding=True))
)
INSERT_PACKAGE = insert(PACKAGE)
UPDATE_PACKAGE = (
    update(PACKAGE)
    .where(PACKAGE.c.package_id == bindparam("row_package_id"))
    .values({column: bindparam(column) for column in (
        "sending_site", "receiving_site", "state", "sender_version", "revision", "sent",
        "receipt_version", "receipt_revision", "receipt_state", "document",
        "sender_event_time", "receipt_event_time", "stream_sequence",
    )})
)
PACKAGE_EVENT_TYPE = tech_transfer_events.TransferPackageChanged.DESCRIPTOR.full_name
# The aggregate in a tech transfer subject (twinline.<site>.tech_transfer.<aggregate>.<event>):
# which part of the package its site wrote.
TECH_TRANSFER, SENDER_PART, RECEIPT_PART = "tech_transfer", "package", "receipt"
CHANGE_LOG = ChangeLogRow.__table__  # type: ignore[attr-defined]
INSERT_CHANGES = insert(CHANGE_LOG)
# The kinds of resource a change is of: what WatchChanges may filter on.
CHANGE_KINDS = (
    "master_batch_record", "batch", "run", "sample", "investigation", "disposition",
    "transfer_package",
)


def _carrying(field: str, resource: type[message.Message]) -> frozenset[str]:
    """The release testing events whose payload carries ``resource`` in ``field``."""
    return frozenset(
        event.full_name
        for event in release_testing_events.DESCRIPTOR.message_types_by_name.values()
        if field in event.fields_by_name
        and event.fields_by_name[field].message_type is resource.DESCRIPTOR
    )


# Each carries the whole sample (with its results) or investigation after the change, and
# each disposition event the decision, made once.
SAMPLE_EVENT_TYPES = _carrying("sample", sample_pb2.Sample)
INVESTIGATION_EVENT_TYPES = _carrying("investigation", investigation_pb2.Investigation)
DISPOSITION_EVENT_TYPES = _carrying("disposition", disposition_pb2.Disposition)


@dataclass(frozen=True)
class ReplicaEvent:
    """An event read from the stream, with the record version or the batch it carries (if
    it carries one)."""

    event: ReceivedEvent
    record: pb.MasterBatchRecord | None = None
    replica: domain.ReplicaVersion | None = None
    batch: batch_pb2.Batch | None = None
    replica_batch: domain.ReplicaBatch | None = None
    heartbeat: site_events.SiteHeartbeat | None = None
    run: run_pb2.Run | None = None
    replica_run: domain.ReplicaRun | None = None
    latest: domain.LatestReading | None = None
    sample: sample_pb2.Sample | None = None
    replica_sample: domain.ReplicaSample | None = None
    investigation: investigation_pb2.Investigation | None = None
    replica_investigation: domain.ReplicaInvestigation | None = None
    disposition: disposition_pb2.Disposition | None = None
    replica_disposition: domain.ReplicaDisposition | None = None
    # A transfer package event: the package as its site knows it, who sends and receives it,
    # and the one part that site writes.
    package: transfer_pb2.TransferPackage | None = None
    replica_package: domain.ReplicaPackage | None = None
    # "effective_by_transfer": the version as sent, and the site it became effective at.
    effectivity: domain.Effectivity | None = None


def replica_event(event: ReceivedEvent) -> ReplicaEvent:
    """The record version or batch an event carries; ValueError if it carries a malformed one.

    Events of other kinds still move their site's watermark: the view has seen that far.
    """
    if event.event_type in BATCH_EVENT_TYPES:
        return _batch_event(event)
    if event.event_type == HEARTBEAT_TYPE:
        return ReplicaEvent(event, heartbeat=event.payload)  # type: ignore[arg-type]
    if event.event_type in RUN_EVENT_TYPES:
        return _run_event(event)
    if event.event_type == LATEST_TYPE:
        return _latest_event(event)
    if event.event_type in SAMPLE_EVENT_TYPES:
        return _sample_event(event)
    if event.event_type in INVESTIGATION_EVENT_TYPES:
        return _investigation_event(event)
    if event.event_type in DISPOSITION_EVENT_TYPES:
        return _disposition_event(event)
    if event.event_type == PACKAGE_EVENT_TYPE:
        return _package_event(event)
    if event.event_type == EFFECTIVE_BY_TRANSFER_TYPE:
        return _effective_by_transfer_event(event)
    if event.event_type not in REPLICATED_EVENT_TYPES:
        return ReplicaEvent(event)
    record: pb.MasterBatchRecord = event.payload.master_batch_record  # type: ignore[attr-defined]
    if not record.record_id or record.version < 1 or not record.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the record has no id/version/site")
    replica = domain.ReplicaVersion(
        record_id=record.record_id,
        version=record.version,
        home_site=record.home_site,
        # A state this release does not know (a newer origin) is kept, not refused.
        state=record_state_text(record.state),
        revision=domain.revision_of(record.etag, record.version),
    )
    return ReplicaEvent(event, record, replica)


def _batch_event(event: ReceivedEvent) -> ReplicaEvent:
    batch: batch_pb2.Batch = event.payload.batch  # type: ignore[attr-defined]
    if not batch.batch_id or not batch.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the batch has no id/site")
    if len(batch.batch_id) > MAX_BATCH_ID:
        raise ValueError(f"{event.subject} {event.event_id}: batch id longer than {MAX_BATCH_ID}")
    replica = domain.ReplicaBatch(
        batch_id=batch.batch_id,
        home_site=batch.home_site,
        state=batch_state_text(batch.state),
        revision=domain.batch_revision_of(batch.etag),
    )
    return ReplicaEvent(event, batch=batch, replica_batch=replica)


def _run_event(event: ReceivedEvent) -> ReplicaEvent:
    run: run_pb2.Run = event.payload.run  # type: ignore[attr-defined]
    if not run.run_id or not run.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the run has no id/site")
    if len(run.run_id) > MAX_RUN_ID:
        raise ValueError(f"{event.subject} {event.event_id}: run id longer than {MAX_RUN_ID}")
    replica = domain.ReplicaRun(
        run_id=run.run_id,
        home_site=run.home_site,
        batch_id=_batch_id_named(event, run.batch, "run"),
        # A phase this release does not know (a newer origin) is kept, not refused.
        phase=phase_text(run.phase),
        revision=domain.run_revision_of(run.etag),
    )
    return ReplicaEvent(event, run=run, replica_run=replica)


def _batch_id_named(event: ReceivedEvent, batch: str, what: str) -> str:
    """The id in "batches/{batch_id}" that a replicated resource names; ValueError if none."""
    batch_id = batch.removeprefix(BATCH_PREFIX)
    if not batch.startswith(BATCH_PREFIX) or not batch_id or len(batch_id) > MAX_BATCH_ID:
        raise ValueError(f"{event.subject} {event.event_id}: the {what} names no batch")
    return batch_id


def _sample_event(event: ReceivedEvent) -> ReplicaEvent:
    sample: sample_pb2.Sample = event.payload.sample  # type: ignore[attr-defined]
    try:
        sample_id = sample_id_of(sample.name)
    except InvalidArgument:
        raise ValueError(f"{event.subject} {event.event_id}: names no sample") from None
    if not sample.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the sample has no site")
    replica = domain.ReplicaSample(
        sample_id=sample_id,
        home_site=sample.home_site,
        batch_id=_batch_id_named(event, sample.batch, "sample"),
        revision=domain.release_testing_revision_of(sample.etag),
    )
    return ReplicaEvent(event, sample=sample, replica_sample=replica)


def _investigation_event(event: ReceivedEvent) -> ReplicaEvent:
    found: investigation_pb2.Investigation = event.payload.investigation  # type: ignore[attr-defined]
    try:
        investigation_id = investigation_id_of(found.name)
    except InvalidArgument:
        raise ValueError(f"{event.subject} {event.event_id}: names no investigation") from None
    if not found.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the investigation has no site")
    replica = domain.ReplicaInvestigation(
        investigation_id=investigation_id,
        home_site=found.home_site,
        batch_id=_batch_id_named(event, found.batch, "investigation"),
        # A state this release does not know (a newer origin) is kept, not refused.
        state=investigation_state_text(found.state),
        revision=domain.release_testing_revision_of(found.etag),
    )
    return ReplicaEvent(event, investigation=found, replica_investigation=replica)


def _disposition_event(event: ReceivedEvent) -> ReplicaEvent:
    decided: disposition_pb2.Disposition = event.payload.disposition  # type: ignore[attr-defined]
    try:
        batch_id, number = disposition_of(decided.name)
    except InvalidArgument:
        raise ValueError(f"{event.subject} {event.event_id}: names no disposition") from None
    if _batch_id_named(event, decided.batch, "disposition") != batch_id:
        raise ValueError(f"{event.subject} {event.event_id}: its name is of another batch")
    if not decided.home_site:
        raise ValueError(f"{event.subject} {event.event_id}: the disposition has no site")
    replica = domain.ReplicaDisposition(
        batch_id=batch_id, number=number, home_site=decided.home_site,
        # A decision this release does not know (a newer origin) is kept, not refused.
        decision=decision_text(decided.decision),
    )
    return ReplicaEvent(event, disposition=decided, replica_disposition=replica)


def _package_event(event: ReceivedEvent) -> ReplicaEvent:
    """The part of a transfer package that the event's site writes: the sender's from a
    ``package.*`` event of the sending site, the receipt from a ``receipt.*`` event of the
    receiving site. The rest of what it carries (the other part, as that site knows it) is
    not taken: it comes from the other site's own events."""
    package: transfer_pb2.TransferPackage = event.payload.package  # type: ignore[attr-defined]
    where = f"{event.subject} {event.event_id}"
    try:
        package_id = package_id_of(package.name)
    except InvalidArgument:
        raise ValueError(f"{where}: names no transfer package") from None
    if package.package_id != package_id:
        raise ValueError(f"{where}: its package_id is not its name's")
    sites = (package.sending_site, package.receiving_site)
    if not all(sites) or len(set(sites)) != 2 or any(len(site) > 64 for site in sites):
        raise ValueError(f"{where}: the package has no sending and other receiving site")
    parts = event.subject.split(".")
    part = parts[3] if len(parts) == 5 and parts[2] == TECH_TRANSFER else ""
    identity = domain.ReplicaPackage(package_id, package.sending_site, package.receiving_site)
    if part == SENDER_PART:
        if event.origin_site != package.sending_site:
            raise ValueError(f"{where}: a sender's part from another site than the sender")
        sender = domain.SenderPart(
            version=domain.decimal_version_of(package.etag), revision=package.revision,
            # As tech transfer reads its own stored packages: any state but draft was sent.
            sent=package.state != transfer_pb2.TRANSFER_STATE_DRAFT,
        )
        replica = replace(identity, sender=sender)
    elif part == RECEIPT_PART:
        if event.origin_site != package.receiving_site:
            raise ValueError(f"{where}: a receipt from another site than the receiving one")
        if not package.HasField("receipt"):
            raise ValueError(f"{where}: a receipt event without a receipt")
        receipt = domain.ReceiptPart(
            version=domain.decimal_version_of(package.receipt.etag),
            revision=package.receipt.revision,
            # A state this release does not know (a newer origin) is kept, not refused.
            state=receipt_state_text(package.receipt.state),
        )
        replica = replace(identity, receipt=receipt)
    else:
        raise ValueError(f"{where}: neither a package nor a receipt subject")
    return ReplicaEvent(event, package=package, replica_package=replica)


def _effective_by_transfer_event(event: ReceivedEvent) -> ReplicaEvent:
    """Where the event's site made another site's version effective, and by which package."""
    payload: mbr_events.MasterBatchRecordEffectiveByTransfer = event.payload  # type: ignore[assignment]
    record, where = payload.master_batch_record, f"{event.subject} {event.event_id}"
    try:
        record_id, version = parse_name(record.name)
        package_id_of(payload.package, "package")
    except InvalidArgument:
        raise ValueError(f"{where}: names no master record version or no package") from None
    if (record_id, version) != (record.record_id, record.version) or not record.home_site:
        raise ValueError(f"{where}: the record's id/version/site do not match its name")
    if record.home_site == event.origin_site:
        raise ValueError(f"{where}: a transfer to the version's own home site")
    domain.revision_of(record.etag, record.version)
    effectivity = domain.Effectivity(
        name=record.name, site=event.origin_site, package=payload.package
    )
    return ReplicaEvent(event, record=record, effectivity=effectivity)


def _latest_event(event: ReceivedEvent) -> ReplicaEvent:
    reading: conjugation_events.LatestReading = event.payload  # type: ignore[assignment]
    try:
        run_id = run_id_of(reading.run)
    except InvalidArgument:
        raise ValueError(f"{event.subject} {event.event_id}: names no run") from None
    if not reading.tag or not math.isfinite(reading.value):
        raise ValueError(f"{event.subject} {event.event_id}: no tag or a value not a number")
    latest = domain.LatestReading(
        run_id=run_id, tag=reading.tag, time_us=reading.time_us, value=reading.value,
        unit=reading.unit,
    )
    return ReplicaEvent(event, latest=latest)


def apply_events(uow: UnitOfWork, events: Sequence[ReplicaEvent]) -> int:
    """Takes in each event not handled before; returns how many were new.

    Reads and writes per fetched batch of events, not per event: one inbox query, one query
    of the stored revisions per kind of replica, one write per changed record version or
    batch and per origin site.
    """
    # All or nothing: should anything below raise, the Writer rolls back the whole group (and
    # retries the other commands without this one), so the inbox never holds these events as
    # handled with part of the replica missing.
    # Heartbeats and latest readings skip the inbox: taking one in twice is harmless (the mark
    # and the reading only move forward), and one inbox row each, every few seconds per site
    # or per tag, would grow the table without end.
    heartbeats = [item for item in events if item.heartbeat is not None]
    readings = [item for item in events if item.latest is not None]
    fresh = new_events(
        uow, [item for item in events if item.heartbeat is None and item.latest is None],
        lambda item: item.event,
    )
    if not fresh and not heartbeats and not readings:
        return 0
    _advance_watermarks(uow, fresh, heartbeats, readings)
    _log_changes(uow, fresh)
    newest: dict[str, ReplicaEvent] = {}
    newest_batches: dict[str, ReplicaEvent] = {}
    newest_runs: dict[str, ReplicaEvent] = {}
    newest_samples: dict[str, ReplicaEvent] = {}
    newest_investigations: dict[str, ReplicaEvent] = {}
    dispositions: dict[tuple[str, int], ReplicaEvent] = {}
    # In stream order: each part is kept when newer, whatever the order, but the document
    # merges them one at a time.
    packages: list[ReplicaEvent] = []
    transfers: dict[tuple[str, str], ReplicaEvent] = {}
    for item in fresh:
        if item.replica_package is not None:
            packages.append(item)
        elif item.effectivity is not None:
            # Effective once at a site: the first copy stays.
            transfers.setdefault((item.effectivity.name, item.effectivity.site), item)
        elif item.replica is not None:
            key = version_key(item.replica.record_id, item.replica.version)
            held = newest.get(key)
            if held is None or domain.supersedes(item.replica, held.replica):
                newest[key] = item
        elif item.replica_batch is not None:
            held = newest_batches.get(item.replica_batch.batch_id)
            if held is None or domain.supersedes(item.replica_batch, held.replica_batch):
                newest_batches[item.replica_batch.batch_id] = item
        elif item.replica_run is not None:
            held = newest_runs.get(item.replica_run.run_id)
            if held is None or domain.supersedes(item.replica_run, held.replica_run):
                newest_runs[item.replica_run.run_id] = item
        elif item.replica_sample is not None:
            held = newest_samples.get(item.replica_sample.sample_id)
            if held is None or domain.supersedes(item.replica_sample, held.replica_sample):
                newest_samples[item.replica_sample.sample_id] = item
        elif item.replica_investigation is not None:
            key = item.replica_investigation.investigation_id
            held = newest_investigations.get(key)
            if held is None or domain.supersedes(
                item.replica_investigation, held.replica_investigation
            ):
                newest_investigations[key] = item
        elif item.replica_disposition is not None:
            decided = item.replica_disposition
            # Decided once: the first copy stays.
            dispositions.setdefault((decided.batch_id, decided.number), item)
    if newest:
        _apply_records(uow, newest)
    if newest_batches:
        _apply_batches(uow, newest_batches)
    if newest_runs:
        _apply_runs(uow, newest_runs)
    if newest_samples:
        _apply_samples(uow, newest_samples)
    if newest_investigations:
        _apply_investigations(uow, newest_investigations)
    if dispositions:
        _apply_dispositions(uow, dispositions)
    if packages:
        _apply_packages(uow, packages)
    if transfers:
        _apply_transfers(uow, transfers)
    if readings:
        _apply_latest(uow, [item.latest for item in readings if item.latest is not None])
    return len(fresh)


def _log_changes(uow: UnitOfWork, fresh: Sequence[ReplicaEvent]) -> None:
    """One change log row per replicated event taken in for the first time, in stream order,
    whether or not it superseded what the view held: which rows there are then depends only on
    the stream, never on how its events were fetched together."""
    rows = [row for row in map(_change_row, fresh) if row is not None]
    if rows:
        uow.session.execute(INSERT_CHANGES, rows)


def _change_row(item: ReplicaEvent) -> dict[str, object] | None:
    found: tuple[str, str, str, int, str] | None = None
    if item.record is not None and item.replica is not None:
        found = ("master_batch_record", item.record.name, item.replica.home_site,
                 item.replica.revision, item.record.etag)
    elif item.batch is not None and item.replica_batch is not None:
        found = ("batch", item.batch.name, item.replica_batch.home_site,
                 item.replica_batch.revision, item.batch.etag)
    elif item.run is not None and item.replica_run is not None:
        found = ("run", item.run.name, item.replica_run.home_site, item.replica_run.revision,
                 item.run.etag)
    elif item.sample is not None and item.replica_sample is not None:
        found = ("sample", item.sample.name, item.replica_sample.home_site,
                 item.replica_sample.revision, item.sample.etag)
    elif item.investigation is not None and item.replica_investigation is not None:
        found = ("investigation", item.investigation.name,
                 item.replica_investigation.home_site, item.replica_investigation.revision,
                 item.investigation.etag)
    elif item.disposition is not None and item.replica_disposition is not None:
        # Decided once: no revision, no etag.
        found = ("disposition", item.disposition.name, item.replica_disposition.home_site,
                 0, "")
    elif item.package is not None and item.replica_package is not None:
        # The part the event's site writes: its version, its etag, that site.
        replica = item.replica_package
        if replica.sender is not None:
            found = ("transfer_package", item.package.name, replica.sending_site,
                     replica.sender.version, item.package.etag)
        elif replica.receipt is not None:
            found = ("transfer_package", item.package.name, replica.receiving_site,
                     replica.receipt.version, item.package.receipt.etag)
    elif item.record is not None and item.effectivity is not None:
        found = ("master_batch_record", item.record.name, item.record.home_site,
                 domain.revision_of(item.record.etag, item.record.version), item.record.etag)
    if found is None:
        return None  # not replicated (a specification, a certificate): no change of the view
    kind, name, home_site, revision, etag = found
    return {
        "stream_sequence": item.event.stream_sequence, "kind": kind, "name": name,
        "home_site": home_site, "revision": revision, "etag": etag,
        "event_type": item.event.event_type, "event_time": to_text(item.event.time),
    }


def _apply_runs(uow: UnitOfWork, newest: dict[str, ReplicaEvent]) -> None:
    stored = {
        row.run_id: domain.ReplicaRun(
            run_id=row.run_id, home_site=row.home_site, batch_id=row.batch_id, phase=row.phase,
            revision=row.revision,
        )
        for row in uow.session.execute(STORED_RUNS, {"run_ids": list(newest)})
    }
    rows: dict[str, dict[str, object]] = {}
    for run_id, item in newest.items():
        assert item.replica_run is not None and item.run is not None
        if not domain.supersedes(item.replica_run, stored.get(run_id)):
            continue  # stale or repeated: the view already holds this state or a newer one
        rows[run_id] = {
            "home_site": item.replica_run.home_site, "batch_id": item.replica_run.batch_id,
            "phase": item.replica_run.phase, "revision": item.replica_run.revision,
            "document": item.run.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
    _upsert(uow, INSERT_RUN, UPDATE_RUN, "run_id", rows, stored)


def _apply_samples(uow: UnitOfWork, newest: dict[str, ReplicaEvent]) -> None:
    stored = {
        row.sample_id: domain.ReplicaSample(
            sample_id=row.sample_id, home_site=row.home_site, batch_id=row.batch_id,
            revision=row.revision,
        )
        for row in uow.session.execute(STORED_SAMPLES, {"sample_ids": list(newest)})
    }
    rows: dict[str, dict[str, object]] = {}
    for sample_id, item in newest.items():
        assert item.replica_sample is not None and item.sample is not None
        if not domain.supersedes(item.replica_sample, stored.get(sample_id)):
            continue  # stale or repeated: the view already holds this state or a newer one
        rows[sample_id] = {
            "home_site": item.replica_sample.home_site,
            "batch_id": item.replica_sample.batch_id, "revision": item.replica_sample.revision,
            "document": item.sample.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
    _upsert(uow, INSERT_SAMPLE, UPDATE_SAMPLE, "sample_id", rows, stored)


def _apply_investigations(uow: UnitOfWork, newest: dict[str, ReplicaEvent]) -> None:
    stored = {
        row.investigation_id: domain.ReplicaInvestigation(
            investigation_id=row.investigation_id, home_site=row.home_site,
            batch_id=row.batch_id, state=row.state, revision=row.revision,
        )
        for row in uow.session.execute(
            STORED_INVESTIGATIONS, {"investigation_ids": list(newest)}
        )
    }
    rows: dict[str, dict[str, object]] = {}
    for investigation_id, item in newest.items():
        assert item.replica_investigation is not None and item.investigation is not None
        if not domain.supersedes(item.replica_investigation, stored.get(investigation_id)):
            continue  # stale or repeated: the view already holds this state or a newer one
        replica = item.replica_investigation
        rows[investigation_id] = {
            "home_site": replica.home_site, "batch_id": replica.batch_id,
            "state": replica.state, "revision": replica.revision,
            "document": item.investigation.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
    _upsert(
        uow, INSERT_INVESTIGATION, UPDATE_INVESTIGATION, "investigation_id", rows, stored
    )


def _apply_dispositions(uow: UnitOfWork, decided: dict[tuple[str, int], ReplicaEvent]) -> None:
    """Inserts the decisions the view holds no copy of; a held one is never rewritten."""
    stored = {
        (row.batch_id, row.number)
        for row in uow.session.execute(
            STORED_DISPOSITIONS, {"batch_ids": sorted({batch_id for batch_id, _ in decided})}
        )
    }
    inserts = []
    for key, item in decided.items():
        assert item.replica_disposition is not None and item.disposition is not None
        if key in stored:
            continue
        inserts.append({
            "batch_id": item.replica_disposition.batch_id,
            "number": item.replica_disposition.number,
            "home_site": item.replica_disposition.home_site,
            "decision": item.replica_disposition.decision,
            "document": item.disposition.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        })
    if inserts:
        uow.session.execute(INSERT_DISPOSITION, inserts)


def _apply_latest(uow: UnitOfWork, readings: Sequence[domain.LatestReading]) -> None:
    """Keeps, per run and tag, the point with the latest source time of those held and new."""
    newest: dict[tuple[str, str], domain.LatestReading] = {}
    for reading in readings:
        key = (reading.run_id, reading.tag)
        if domain.is_later_reading(reading, newest.get(key)):
            newest[key] = reading
    stored = {
        (row.run_id, row.tag): domain.LatestReading(
            run_id=row.run_id, tag=row.tag, time_us=row.time_us, value=row.value, unit=row.unit
        )
        for row in uow.session.execute(
            STORED_LATEST, {"run_ids": sorted({run_id for run_id, _ in newest})}
        )
    }
    later = [
        reading for key, reading in newest.items()
        if domain.is_later_reading(reading, stored.get(key))
    ]
    inserts = [
        {"run_id": reading.run_id, "tag": reading.tag, "time_us": reading.time_us,
         "value": reading.value, "unit": reading.unit}
        for reading in later if (reading.run_id, reading.tag) not in stored
    ]
    updates = [
        {"row_run_id": reading.run_id, "row_tag": reading.tag, "time_us": reading.time_us,
         "value": reading.value, "unit": reading.unit}
        for reading in later if (reading.run_id, reading.tag) in stored
    ]
    if inserts:
        uow.session.execute(INSERT_LATEST, inserts)
    if updates:
        uow.session.execute(UPDATE_LATEST, updates)


def _apply_records(uow: UnitOfWork, newest: dict[str, ReplicaEvent]) -> None:
    stored = {
        row.key: domain.ReplicaVersion(
            record_id=row.record_id, version=row.version, home_site=row.home_site,
            state=row.state, revision=row.revision,
        )
        for row in uow.session.execute(STORED_REPLICAS, {"keys": list(newest)})
    }
    rows: dict[str, dict[str, object]] = {}
    for key, item in newest.items():
        assert item.replica is not None and item.record is not None
        if not domain.supersedes(item.replica, stored.get(key)):
            continue  # stale or repeated: the view already holds this state or a newer one
        rows[key] = {
            "record_id": item.replica.record_id, "version": item.replica.version,
            "home_site": item.replica.home_site, "state": item.replica.state,
            "revision": item.replica.revision,
            "document": item.record.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
    _upsert(uow, INSERT_REPLICA, UPDATE_REPLICA, "key", rows, stored)
    _effective_at_home(uow, [newest[key] for key in rows])


def _effective_at_home(uow: UnitOfWork, written: Sequence[ReplicaEvent]) -> None:
    """Where each version just written is effective at its home site: there while the state
    the view now holds is EFFECTIVE, no longer once it is not (superseded)."""
    if not written:
        return
    uow.session.execute(DELETE_EFFECTIVITY, [
        {"row_name": item.record.name, "row_site": item.record.home_site}
        for item in written if item.record is not None
    ])
    effective = [
        item for item in written
        if item.record is not None and item.replica is not None
        and domain.is_effective_at_home(item.replica.state)
    ]
    if effective:
        uow.session.execute(INSERT_EFFECTIVITY, [
            {
                "name": item.record.name, "site": item.record.home_site,
                "home_site": item.record.home_site, "package": "",
                # As its home site recorded it; the event's time if the record has none.
                "effective_time": to_text(
                    item.record.effective_time.ToDatetime(tzinfo=UTC)
                    if item.record.HasField("effective_time") else item.event.time
                ),
                "stream_sequence": item.event.stream_sequence,
            }
            for item in effective if item.record is not None
        ])


def _apply_transfers(uow: UnitOfWork, transfers: dict[tuple[str, str], ReplicaEvent]) -> None:
    """Inserts each site where a version became effective by a transfer that the view holds
    no row of; a held one is never rewritten (effective once)."""
    stored = {
        (row.name, row.site)
        for row in uow.session.execute(
            STORED_EFFECTIVITY, {"names": sorted({name for name, _ in transfers})}
        )
    }
    inserts = [
        {
            "name": item.effectivity.name, "site": item.effectivity.site,
            "home_site": item.record.home_site, "package": item.effectivity.package,
            "effective_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
        for key, item in transfers.items()
        if key not in stored and item.effectivity is not None and item.record is not None
    ]
    if inserts:
        uow.session.execute(INSERT_EFFECTIVITY, inserts)


@dataclass(frozen=True)
class _HeldPackage:
    replica: domain.ReplicaPackage
    document: transfer_pb2.TransferPackage
    sender_event_time: str | None = None
    receipt_event_time: str | None = None


def _held_package(row: Any) -> _HeldPackage:
    sender = None if not row.sender_version else domain.SenderPart(
        version=row.sender_version, revision=row.revision, sent=row.sent
    )
    receipt = None if not row.receipt_version else domain.ReceiptPart(
        version=row.receipt_version, revision=row.receipt_revision, state=row.receipt_state
    )
    replica = domain.ReplicaPackage(
        row.package_id, row.sending_site, row.receiving_site, sender, receipt
    )
    return _HeldPackage(replica, transfer_pb2.TransferPackage.FromString(row.document),
                        row.sender_event_time, row.receipt_event_time)


def _merged(held: _HeldPackage | None, item: ReplicaEvent) -> _HeldPackage | None:
    """The package with the part ``item`` carries, if newer than the part held; else None."""
    incoming, arrived = item.replica_package, item.package
    assert incoming is not None and arrived is not None
    if held is None:
        identity = domain.ReplicaPackage(
            incoming.package_id, incoming.sending_site, incoming.receiving_site
        )
        held = _HeldPackage(identity, transfer_pb2.TransferPackage(
            name=arrived.name, package_id=arrived.package_id, sending_site=arrived.sending_site,
            receiving_site=arrived.receiving_site,
        ))
    elif (held.replica.sending_site, held.replica.receiving_site) != (
        incoming.sending_site, incoming.receiving_site
    ):
        return None  # an id is its sending site's: another pair of sites is not this package
    document = transfer_pb2.TransferPackage()
    at = to_text(item.event.time)
    if incoming.sender is not None:
        replica = domain.with_sender_part(held.replica, incoming.sender)
        if replica is None:
            return None
        document.CopyFrom(arrived)
        document.ClearField("receipt")
        if held.document.HasField("receipt"):
            document.receipt.CopyFrom(held.document.receipt)
        merged = replace(held, replica=replica, sender_event_time=at)
    else:
        assert incoming.receipt is not None
        replica = domain.with_receipt(held.replica, incoming.receipt)
        if replica is None:
            return None
        document.CopyFrom(held.document)
        document.receipt.CopyFrom(arrived.receipt)
        merged = replace(held, replica=replica, receipt_event_time=at)
    document.state = transfer_state_value(replica.state)
    return replace(merged, document=document)


def _apply_packages(uow: UnitOfWork, items: Sequence[ReplicaEvent]) -> None:
    """Merges each event's part into the package the view holds, in stream order."""
    ids = sorted({item.replica_package.package_id for item in items if item.replica_package})
    stored = {
        row.package_id: _held_package(row)
        for row in uow.session.execute(STORED_PACKAGES, {"package_ids": ids})
    }
    current: dict[str, _HeldPackage] = dict(stored)
    sequences: dict[str, int] = {}
    for item in items:
        assert item.replica_package is not None
        package_id = item.replica_package.package_id
        merged = _merged(current.get(package_id), item)
        if merged is None:
            continue  # stale or repeated: the view already holds this part or a newer one
        current[package_id] = merged
        sequences[package_id] = item.event.stream_sequence
    rows: dict[str, dict[str, object]] = {}
    for package_id, sequence in sequences.items():
        held = current[package_id]
        sender, receipt = held.replica.sender, held.replica.receipt
        rows[package_id] = {
            "sending_site": held.replica.sending_site,
            "receiving_site": held.replica.receiving_site, "state": held.replica.state,
            "sender_version": 0 if sender is None else sender.version,
            "revision": 0 if sender is None else sender.revision,
            "sent": sender is not None and sender.sent,
            "receipt_version": 0 if receipt is None else receipt.version,
            "receipt_revision": 0 if receipt is None else receipt.revision,
            "receipt_state": "" if receipt is None else receipt.state,
            "document": held.document.SerializeToString(deterministic=True),
            "sender_event_time": held.sender_event_time,
            "receipt_event_time": held.receipt_event_time,
            "stream_sequence": sequence,
        }
    _upsert(uow, INSERT_PACKAGE, UPDATE_PACKAGE, "package_id", rows, stored)


def _apply_batches(uow: UnitOfWork, newest: dict[str, ReplicaEvent]) -> None:
    stored = {
        row.batch_id: domain.ReplicaBatch(
            batch_id=row.batch_id, home_site=row.home_site, state=row.state,
            revision=row.revision,
        )
        for row in uow.session.execute(
            select(BATCH.c.batch_id, BATCH.c.home_site, BATCH.c.state, BATCH.c.revision)
            .where(BATCH.c.batch_id.in_(list(newest)))
        )
    }
    _with_control_recipes(uow, [
        item.batch for batch_id, item in newest.items()
        if item.batch is not None and item.replica_batch is not None
        and domain.supersedes(item.replica_batch, stored.get(batch_id))
    ])
    rows: dict[str, dict[str, object]] = {}
    materials: list[dict[str, object]] = []
    for batch_id, item in newest.items():
        assert item.replica_batch is not None and item.batch is not None
        if not domain.supersedes(item.replica_batch, stored.get(batch_id)):
            continue  # stale or repeated: the view already holds this state or a newer one
        rows[batch_id] = {
            "home_site": item.replica_batch.home_site, "state": item.replica_batch.state,
            "revision": item.replica_batch.revision,
            "master_batch_record": item.batch.master_batch_record,
            "document": item.batch.SerializeToString(deterministic=True),
            "last_event_time": to_text(item.event.time),
            "stream_sequence": item.event.stream_sequence,
        }
        materials += _material_rows(item.batch)
    changed = _upsert(uow, insert(BATCH), UPDATE_BATCH, "batch_id", rows, stored)
    if changed:
        # A newer revision may have dropped or corrected an addition: its lots are rewritten.
        uow.session.execute(delete(BATCH_MATERIAL).where(BATCH_MATERIAL.c.batch_id.in_(changed)))
    if materials:
        uow.session.execute(insert(BATCH_MATERIAL), materials)


def _with_control_recipes(uow: UnitOfWork, batches: Sequence[batch_pb2.Batch]) -> None:
    """Fills in the control recipe that a batch event names but does not carry (decision 0008:
    only "created" carries it): from the batch the view holds, else from the view's replica of
    that master record version (the same site's stream delivered it first)."""
    missing = {batch.batch_id: batch for batch in batches if not batch.HasField("control_recipe")}
    if not missing:
        return
    held = {
        row.batch_id: batch_pb2.Batch.FromString(row.document).control_recipe
        for row in uow.session.execute(
            select(BATCH.c.batch_id, BATCH.c.document).where(BATCH.c.batch_id.in_(list(missing)))
        )
    }
    for batch_id, batch in missing.items():
        recipe = held.get(batch_id)
        if recipe is None or not recipe.name:
            recipe = _replica_version(uow, batch.master_batch_record)
        if recipe is not None:
            batch.control_recipe.CopyFrom(recipe)


def _replica_version(uow: UnitOfWork, name: str) -> pb.MasterBatchRecord | None:
    """The view's copy of the record version named ``masterBatchRecords/{id}/versions/{n}``."""
    parts = name.split("/")
    if len(parts) != 4 or not parts[3].isdecimal():
        return None
    document = uow.session.execute(
        select(REPLICA.c.document).where(REPLICA.c.key == version_key(parts[1], int(parts[3])))
    ).scalar_one_or_none()
    return None if document is None else pb.MasterBatchRecord.FromString(document)


def _material_rows(batch: batch_pb2.Batch) -> list[dict[str, object]]:
    """The genealogy rows of a batch: each lot added, in recipe then recorded order."""
    additions = [(step.step_id, added) for step in batch.steps for added in step.materials]
    return [
        {
            "batch_id": batch.batch_id, "line": line, "home_site": batch.home_site,
            "step_id": step_id, "material": added.material, "lot_id": added.lot_id,
            "quantity": added.quantity.value, "unit": added.quantity.unit,
        }
        for line, (step_id, added) in enumerate(additions)
    ]


def _advance_watermarks(
    uow: UnitOfWork, fresh: Sequence[ReplicaEvent], heartbeats: Sequence[ReplicaEvent] = (),
    readings: Sequence[ReplicaEvent] = (),
) -> None:
    stored = {row.site: watermark_of(row) for row in uow.session.execute(WATERMARKS)}
    marks = dict(stored)
    for applied, items in ((1, fresh), (0, readings)):
        for item in items:
            event = item.event
            mark = marks.get(event.origin_site) or domain.Watermark(site=event.origin_site)
            marks[event.origin_site] = domain.advance(
                mark, event_time=event.time, stream_sequence=event.stream_sequence,
                applied=applied,
            )
    for item in heartbeats:
        event, beat = item.event, item.heartbeat
        assert beat is not None
        mark = marks.get(event.origin_site) or domain.Watermark(site=event.origin_site)
        marks[event.origin_site] = domain.heard(
            mark, sent_time=event.time, last_sequence=beat.last_sequence,
            interval=beat.interval.ToTimedelta(),
        )
    rows: dict[str, dict[str, object]] = {}
    for site, mark in marks.items():
        if mark == stored.get(site):
            continue
        rows[site] = {
            "last_event_time": to_text(mark.last_event_time) if mark.last_event_time else None,
            "stream_sequence": mark.stream_sequence, "events_applied": mark.events_applied,
            "last_heartbeat_time": (
                to_text(mark.last_heartbeat_time) if mark.last_heartbeat_time else None
            ),
            "origin_last_sequence": mark.origin_last_sequence,
            "heartbeat_interval_us": (
                None if mark.heartbeat_interval is None
                else mark.heartbeat_interval // timedelta(microseconds=1)
            ),
        }
    _upsert(uow, INSERT_WATERMARK, UPDATE_WATERMARK, "site", rows, stored)


def _upsert(
    uow: UnitOfWork, insert_rows: Executable, update_rows: Executable, key: str,
    rows: dict[str, dict[str, object]], stored: Container[str],
) -> list[str]:
    """Writes ``rows`` (key → values): one insert of those not ``stored``, one update (bound
    as ``row_<key>``) of the others; returns the keys updated."""
    updated = [row_key for row_key in rows if row_key in stored]
    inserts = [{key: k, **values} for k, values in rows.items() if k not in stored]
    if inserts:
        uow.session.execute(insert_rows, inserts)
    if updated:
        uow.session.execute(update_rows, [{f"row_{key}": k, **rows[k]} for k in updated])
    return updated
