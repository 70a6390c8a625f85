"""The event catalog lists every payload and every event a producer publishes, and the
committed AsyncAPI document is what the catalog renders."""

from __future__ import annotations

import inspect
import re

from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.events.v1 import site_events_pb2 as site_events

from services.batch_records.batches import handlers as batch_handlers
from services.batch_records.master.handlers import AGGREGATE, CONTEXT, EVENT_PAYLOADS
from services.devstack.event_catalog import ASYNCAPI_FILE, CATALOG, render
from services.site_view import heartbeat


def test_every_payload_message_is_in_the_catalog() -> None:
    listed = {spec.payload.full_name for spec in CATALOG}
    for module in (mbr_events, batch_events, site_events):
        defined = {m.full_name for m in module.DESCRIPTOR.message_types_by_name.values()}
        assert defined <= listed


def test_every_event_a_batch_handler_publishes_is_in_the_catalog() -> None:
    source = inspect.getsource(batch_handlers)
    published = set(re.findall(r'event="([a-z_]+)"', source))
    listed = {
        spec.event for spec in CATALOG if spec.aggregate in (batch_handlers.AGGREGATE, "equipment")
    }
    assert published == listed


def test_every_event_batch_records_publishes_is_in_the_catalog() -> None:
    published = {
        (CONTEXT, AGGREGATE, event, payload.DESCRIPTOR.full_name)
        for event, payload in EVENT_PAYLOADS.items()
    }
    listed = {
        (spec.context, spec.aggregate, spec.event, spec.payload.full_name) for spec in CATALOG
    }
    assert published == {item for item in listed if item[1] == AGGREGATE}


def test_the_heartbeat_the_site_view_publishes_is_in_the_catalog() -> None:
    specs = [spec for spec in CATALOG if spec.producer == "site_view"]
    assert [spec.subject("songdo") for spec in specs] == [heartbeat.heartbeat_subject("songdo")]
    assert specs[0].payload.full_name == site_events.SiteHeartbeat.DESCRIPTOR.full_name


def test_the_committed_asyncapi_document_is_current() -> None:
    assert ASYNCAPI_FILE.read_text() == render(), "run: python -m services.devstack.event_catalog"
