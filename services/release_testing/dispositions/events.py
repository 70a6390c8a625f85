"""The events of dispositions."""

from __future__ import annotations

from twinline.events.v1 import release_testing_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.release_testing.event_spec import declare

DECIDED = declare("disposition", "decided", events.DispositionDecided,
                  "QA of the batch's home site decided, e-signed: released, rejected or on "
                  "hold; batch_records records it on the batch.")

DECLARED: tuple[EventSpec, ...] = (DECIDED,)
