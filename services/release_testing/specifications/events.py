"""The events of specifications."""

from __future__ import annotations

from twinline.events.v1 import release_testing_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.release_testing.event_spec import declare

CREATED = declare("specification", "created", events.SpecificationChanged,
                  "A specification version was drafted (a new specification, or a new "
                  "version of one).")
UPDATED = declare("specification", "updated", events.SpecificationChanged,
                  "A draft version's title or tests changed.")
APPROVED = declare("specification", "approved", events.SpecificationChanged,
                   "QA (not the author) approved a version, e-signed; it never changes again.")
EFFECTIVE = declare("specification", "effective", events.SpecificationChanged,
                    "An approved version became effective: samples of the product are tested "
                    "against it from now on.")
SUPERSEDED = declare("specification", "superseded", events.SpecificationChanged,
                     "A newer version became effective in its place.")

DECLARED: tuple[EventSpec, ...] = (CREATED, UPDATED, APPROVED, EFFECTIVE, SUPERSEDED)
