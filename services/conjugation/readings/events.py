"""The events of process readings."""

from __future__ import annotations

from twinline.events.v1 import conjugation_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.conjugation.event_spec import declare

TAG_DECLARED = declare("readings", "tag_declared", events.TagDeclared,
                       "A tag of a run was declared (or its limits changed): its unit, its "
                       "limits and its dwell.")
EXCURSION_STARTED = declare(
    "readings", "excursion_started", events.ExcursionStarted,
    "A tag stayed outside its limits for its dwell; batch_records raises a major exception "
    "on the run's batch.",
)
EXCURSION_ENDED = declare("readings", "excursion_ended", events.ExcursionEnded,
                          "A tag in excursion came back inside its limits: the extreme value "
                          "and the duration.")
LATEST = declare("readings", "latest", events.LatestReading,
                 "A tag's latest point, at most once per tag per 5 s of source time (for "
                 "views), not every point.")

DECLARED: tuple[EventSpec, ...] = (TAG_DECLARED, EXCURSION_STARTED, EXCURSION_ENDED, LATEST)
