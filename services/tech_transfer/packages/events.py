"""The events of transfer packages: the sending site's part and the receiving site's."""

from __future__ import annotations

from twinline.events.v1 import tech_transfer_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.tech_transfer.event_spec import declare

CREATED = declare("package", "created", events.TransferPackageChanged,
                  "The sending site drafted a transfer package of one of its effective master "
                  "record versions.")
SENT = declare("package", "sent", events.TransferPackageChanged,
               "The sending site's QA sent the package (e-signed); the receiving site's "
               "service acknowledges it on arrival.")
REVISED = declare("package", "revised", events.TransferPackageChanged,
                  "A returned package's next revision, a draft again at the sending site.")
RECEIVED = declare("receipt", "received", events.TransferPackageChanged,
                   "The receiving site's service acknowledged a sent package (no one at the "
                   "sending site can).")
REVIEW_STARTED = declare("receipt", "review_started", events.TransferPackageChanged,
                         "The receiving site started its review.")
ACCEPTED = declare("receipt", "accepted", events.TransferPackageChanged,
                   "The receiving site's QA accepted the package (e-signed): its batch_records "
                   "makes the master record version effective there.")
RETURNED = declare("receipt", "returned", events.TransferPackageChanged,
                   "The receiving site returned the package with comments (e-signed).")

DECLARED: tuple[EventSpec, ...] = (CREATED, SENT, REVISED, RECEIVED, REVIEW_STARTED, ACCEPTED,
                                   RETURNED)
