"""The events of executed batch records."""

from __future__ import annotations

from twinline.events.v1 import batch_events_pb2 as events

from services.batch_records.event_spec import declare
from services.common.persistence.event_spec import EventSpec

AGGREGATE = "batch"

CREATED = declare(
    AGGREGATE, "created", events.BatchCreated,
    "A batch was created from a master record effective at its site.",
)
STEP_RECORDED = declare(
    AGGREGATE, "step_recorded", events.BatchStepRecorded,
    "One or more steps were recorded and signed (with the exceptions they raised).",
)
STEP_VERIFIED = declare(
    AGGREGATE, "step_verified", events.BatchStepVerified,
    "A step was verified by a second person.",
)
VALUE_CORRECTED = declare(
    AGGREGATE, "value_corrected", events.BatchValueCorrected,
    "A recorded value was corrected with a signed reason; the original is kept.",
)
EXCEPTION_DISPOSITIONED = declare(
    AGGREGATE, "exception_dispositioned", events.BatchExceptionDispositioned,
    "A supervisor or QA decided an exception; a hold may be released.",
)
EXCEPTION_RAISED = declare(
    AGGREGATE, "exception_raised", events.BatchExceptionRaised,
    "Another context's event raised an exception on the batch (kind PROCESS, e.g. a "
    "conjugation charge out of tolerance); a major one puts the batch on hold.",
)
DISPOSITIONED = declare(
    AGGREGATE, "dispositioned", events.BatchDispositioned,
    "QA's disposition of the batch (released, rejected or on hold), decided in release "
    "testing at the batch's home site, recorded on the batch once.",
)
DEVIATION_RAISED = declare(
    AGGREGATE, "deviation_raised", events.BatchDeviationChanged,
    "A deviation was raised against the batch.",
)
DEVIATION_UPDATED = declare(
    AGGREGATE, "deviation_updated", events.BatchDeviationChanged,
    "A deviation's investigation or CAPA reference changed.",
)
DEVIATION_CLOSED = declare(
    AGGREGATE, "deviation_closed", events.BatchDeviationChanged,
    "QA closed a deviation with an e-signature.",
)
COMPLETED = declare(
    AGGREGATE, "completed", events.BatchStateChanged,
    "Execution ended; missing verifications became exceptions.",
)
SUBMITTED = declare(
    AGGREGATE, "submitted", events.BatchStateChanged,
    "The batch record went to QA for review by exception.",
)
APPROVED = declare(
    AGGREGATE, "approved", events.BatchStateChanged,
    "QA approved the batch record with an e-signature.",
)
REJECTED = declare(
    AGGREGATE, "rejected", events.BatchStateChanged,
    "QA rejected the batch record with a signed reason.",
)

DECLARED: tuple[EventSpec, ...] = (
    CREATED, STEP_RECORDED, STEP_VERIFIED, VALUE_CORRECTED, EXCEPTION_DISPOSITIONED,
    EXCEPTION_RAISED, DISPOSITIONED, DEVIATION_RAISED, DEVIATION_UPDATED, DEVIATION_CLOSED,
    COMPLETED,
    SUBMITTED, APPROVED, REJECTED,
)
