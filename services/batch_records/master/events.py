"""The events of master batch records."""

from __future__ import annotations

from twinline.events.v1 import master_batch_record_events_pb2 as events

from services.batch_records.event_spec import declare
from services.common.persistence.event_spec import EventSpec

AGGREGATE = "master_batch_record"

CREATED = declare(
    AGGREGATE, "created", events.MasterBatchRecordCreated,
    "A new draft: version 1 of a record, or its next version.",
)
UPDATED = declare(AGGREGATE, "updated", events.MasterBatchRecordUpdated, "A draft changed.")
SUBMITTED = declare(
    AGGREGATE, "submitted", events.MasterBatchRecordSubmitted, "A draft went to review."
)
REVIEWED = declare(
    AGGREGATE, "reviewed", events.MasterBatchRecordReviewed,
    "The review was e-signed (reviewer is not the author).",
)
APPROVED = declare(
    AGGREGATE, "approved", events.MasterBatchRecordApproved,
    "QA approval was e-signed (not the author, not the reviewer).",
)
REJECTED = declare(
    AGGREGATE, "rejected", events.MasterBatchRecordRejected,
    "Sent back to draft with a signed reason.",
)
MADE_EFFECTIVE = declare(
    AGGREGATE, "made_effective", events.MasterBatchRecordMadeEffective,
    "In force at its home site; batches may follow it.",
)
EFFECTIVE_BY_TRANSFER = declare(
    AGGREGATE, "effective_by_transfer", events.MasterBatchRecordEffectiveByTransfer,
    "Another site's version became effective at this site: this site's QA accepted its "
    "transfer package. Batches of this site may follow it from now on.",
)
SUPERSEDED = declare(
    AGGREGATE, "superseded", events.MasterBatchRecordSuperseded,
    "A later version became effective.",
)

DECLARED: tuple[EventSpec, ...] = (
    CREATED, UPDATED, SUBMITTED, REVIEWED, APPROVED, REJECTED, MADE_EFFECTIVE,
    EFFECTIVE_BY_TRANSFER, SUPERSEDED,
)
