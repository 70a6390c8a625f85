"""The events of OOS investigations."""

from __future__ import annotations

from twinline.events.v1 import release_testing_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.release_testing.event_spec import declare

OPENED = declare("investigation", "opened", events.InvestigationChanged,
                 "A result outside its criterion opened an OOS investigation (phase I).")
PHASE_ONE_CONCLUDED = declare(
    "investigation", "phase_one_concluded", events.InvestigationChanged,
    "The laboratory investigation concluded, e-signed: an assignable cause (the result is "
    "invalidated, a retest allowed) or none (phase II).",
)
FOLLOW_UP_RECORDED = declare(
    "investigation", "follow_up_recorded", events.InvestigationChanged,
    "A retest or resample result was entered under the investigation.",
)
MANUFACTURING_REVIEWED = declare(
    "investigation", "manufacturing_reviewed", events.InvestigationChanged,
    "Phase II: QA recorded the manufacturing review, e-signed.",
)
PLAN_APPROVED = declare("investigation", "plan_approved", events.InvestigationChanged,
                        "Phase II: QA approved the retest or resample plan, e-signed.")
CLOSED = declare("investigation", "closed", events.InvestigationChanged,
                 "The investigation closed: the OOS confirmed (the batch cannot be released) "
                 "or the original result invalidated.")

DECLARED: tuple[EventSpec, ...] = (
    OPENED, PHASE_ONE_CONCLUDED, FOLLOW_UP_RECORDED, MANUFACTURING_REVIEWED, PLAN_APPROVED,
    CLOSED,
)
