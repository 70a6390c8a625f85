"""The events of master batch records."""

from __future__ import annotations

from twinline.events.v1 import master_batch_record_events_pb2 as events

from services.batch_records.event_spec import EventSpec

AGGREGATE = "master_batch_record"

CREATED = EventSpec(
    AGGREGATE, "created", events.MasterBatchRecordCreated,
    "A new draft: version 1 of a record, or its next version.",
)
UPDATED = EventSpec(AGGREGATE, "updated", events.MasterBatchRecordUpdated, "A draft changed.")
SUBMITTED = EventSpec(
    AGGREGATE, "submitted", events.MasterBatchRecordSubmitted, "A draft went to review."
)
REVIEWED = EventSpec(
    AGGREGATE, "reviewed", events.MasterBatchRecordReviewed,
    "The review was e-signed (reviewer is not the author).",
)
APPROVED = EventSpec(
    AGGREGATE, "approved", events.MasterBatchRecordApproved,
    "QA approval was e-signed (not the author, not the reviewer).",
)
REJECTED = EventSpec(
    AGGREGATE, "rejected", events.MasterBatchRecordRejected,
    "Sent back to draft with a signed reason.",
)
MADE_EFFECTIVE = EventSpec(
    AGGREGATE, "made_effective", events.MasterBatchRecordMadeEffective,
    "In force at its home site; batches may follow it.",
)
SUPERSEDED = EventSpec(
    AGGREGATE, "superseded", events.MasterBatchRecordSuperseded,
    "A later version became effective.",
)

DECLARED: tuple[EventSpec, ...] = (
    CREATED, UPDATED, SUBMITTED, REVIEWED, APPROVED, REJECTED, MADE_EFFECTIVE, SUPERSEDED,
)
