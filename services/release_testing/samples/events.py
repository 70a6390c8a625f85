"""The events of samples and their results."""

from __future__ import annotations

from twinline.events.v1 import release_testing_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.release_testing.event_spec import declare

CREATED = declare("sample", "created", events.SampleChanged,
                  "A sample of a batch (of any site) was drawn for the lab of this site, its "
                  "tests assigned from the product's effective specifications.")
RESULT_ENTERED = declare("sample", "result_entered", events.SampleChanged,
                         "An analyst entered a result (e-signed), judged against every "
                         "applicable specification; `result` names it.")
RESULT_REVIEWED = declare("sample", "result_reviewed", events.SampleChanged,
                          "A second analyst reviewed a result (e-signed).")
RESULT_INVALIDATED = declare("sample", "result_invalidated", events.SampleChanged,
                             "An OOS investigation invalidated a result: it is kept, marked, "
                             "with the reason.")

DECLARED: tuple[EventSpec, ...] = (CREATED, RESULT_ENTERED, RESULT_REVIEWED, RESULT_INVALIDATED)
