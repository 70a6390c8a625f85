"""The view's text for a record's or batch's state, a run's phase, an investigation's state, a
disposition's decision and a transfer package's state: how the replica stores and filters
them."""

from __future__ import annotations

from twinline.batchrecords.v1 import batch_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb2
from twinline.conjugation.v1 import run_pb2
from twinline.releasetesting.v1 import disposition_pb2, investigation_pb2
from twinline.techtransfer.v1 import transfer_pb2

PREFIX = "BATCH_STATE_"
RECORD_PREFIX = "MASTER_BATCH_RECORD_STATE_"
UNKNOWN = "unknown_"


def batch_state_text(value: int) -> str:
    """The text of a state: "in_progress" for BATCH_STATE_IN_PROGRESS; "unknown_<n>" for a
    state of a newer release at the home site, which is kept, not refused."""
    if value not in batch_pb2.BatchState.values():
        return f"{UNKNOWN}{value}"
    name = batch_pb2.BatchState.Name(batch_pb2.BatchState.ValueType(value))
    return name.removeprefix(PREFIX).lower()


def batch_state_value(text: str) -> batch_pb2.BatchState.ValueType:
    """The BatchState that ``batch_state_text`` wrote as ``text``."""
    if text.startswith(UNKNOWN):
        return batch_pb2.BatchState.ValueType(int(text.removeprefix(UNKNOWN)))
    return batch_pb2.BatchState.Value(PREFIX + text.upper())


# The states a filter may name: those this release knows (a replica may still hold newer ones).
KNOWN_BATCH_STATES = {
    value: batch_state_text(value) for value in batch_pb2.BatchState.values() if value
}


def record_state_text(value: int) -> str:
    """The text of a master record's state: "approved" for MASTER_BATCH_RECORD_STATE_APPROVED;
    "unknown_<n>" for one this release does not know (a newer origin): kept, not refused."""
    if not value or value not in mbr_pb2.MasterBatchRecordState.values():
        return f"{UNKNOWN}{value}"
    name = mbr_pb2.MasterBatchRecordState.Name(mbr_pb2.MasterBatchRecordState.ValueType(value))
    return name.removeprefix(RECORD_PREFIX).lower()


PHASE_PREFIX = "PHASE_"


def phase_text(value: int) -> str:
    """The text of a run's phase: "reduction" for PHASE_REDUCTION; "unknown_<n>" for one this
    release does not know (a newer origin): kept, not refused."""
    if not value or value not in run_pb2.Phase.values():
        return f"{UNKNOWN}{value}"
    return run_pb2.Phase.Name(run_pb2.Phase.ValueType(value)).removeprefix(PHASE_PREFIX).lower()


INVESTIGATION_PREFIX = "INVESTIGATION_STATE_"


def investigation_state_text(value: int) -> str:
    """The text of an investigation's state: "phase_one" for INVESTIGATION_STATE_PHASE_ONE;
    "unknown_<n>" for one this release does not know (a newer origin): kept, not refused."""
    if not value or value not in investigation_pb2.InvestigationState.values():
        return f"{UNKNOWN}{value}"
    name = investigation_pb2.InvestigationState.Name(
        investigation_pb2.InvestigationState.ValueType(value)
    )
    return name.removeprefix(INVESTIGATION_PREFIX).lower()


DECISION_PREFIX = "DISPOSITION_DECISION_"


def decision_text(value: int) -> str:
    """The text of a disposition's decision: "released" for DISPOSITION_DECISION_RELEASED;
    "unknown_<n>" for one this release does not know (a newer origin): kept, not refused."""
    if not value or value not in disposition_pb2.DispositionDecision.values():
        return f"{UNKNOWN}{value}"
    name = disposition_pb2.DispositionDecision.Name(
        disposition_pb2.DispositionDecision.ValueType(value)
    )
    return name.removeprefix(DECISION_PREFIX).lower()


RECEIPT_PREFIX = "RECEIPT_STATE_"
TRANSFER_PREFIX = "TRANSFER_STATE_"


def receipt_state_text(value: int) -> str:
    """The text of a receipt's state: "under_review" for RECEIPT_STATE_UNDER_REVIEW;
    "unknown_<n>" for one this release does not know (a newer origin): kept, not refused."""
    if not value or value not in transfer_pb2.ReceiptState.values():
        return f"{UNKNOWN}{value}"
    name = transfer_pb2.ReceiptState.Name(transfer_pb2.ReceiptState.ValueType(value))
    return name.removeprefix(RECEIPT_PREFIX).lower()


def transfer_state_value(text: str) -> transfer_pb2.TransferState.ValueType:
    """The TransferState of a package's state as the view stores it ("sent", or a receipt's
    state); UNSPECIFIED for a receipt state this release does not know."""
    name = TRANSFER_PREFIX + text.upper()
    if name not in transfer_pb2.TransferState.keys():
        return transfer_pb2.TRANSFER_STATE_UNSPECIFIED
    return transfer_pb2.TransferState.Value(name)
