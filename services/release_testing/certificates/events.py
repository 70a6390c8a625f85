"""The events of certificates of analysis."""

from __future__ import annotations

from twinline.events.v1 import release_testing_events_pb2 as events

from services.common.persistence.event_spec import EventSpec
from services.release_testing.event_spec import declare

ISSUED = declare("certificate", "issued", events.CertificateIssued,
                 "QA issued a sample's certificate of analysis, e-signed (its data and the "
                 "PDF's SHA-256; the PDF itself is served by GetCertificate).")

DECLARED: tuple[EventSpec, ...] = (ISSUED,)
