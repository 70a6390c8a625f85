"""The event catalog lists every payload and every event a producer declares, and the
committed AsyncAPI document is what the catalog renders."""

from __future__ import annotations

import importlib
import pkgutil

import twinline.events.v1
from twinline.events.v1 import conjugation_events_pb2
from twinline.events.v1 import site_events_pb2 as site_events

from services.batch_records.batches import events as batch_events
from services.batch_records.batches import handlers as batch_handlers
from services.batch_records.equipment import events as equipment_events
from services.batch_records.equipment import handlers as equipment_handlers
from services.batch_records.master import events as master_events
from services.batch_records.master import handlers as master_handlers
from services.common.persistence.event_spec import EventSpec as DeclaredEvent
from services.conjugation.readings import events as readings_events
from services.conjugation.readings import handlers as readings_handlers
from services.conjugation.runs import events as run_events
from services.conjugation.runs import handlers as run_handlers
from services.devstack.event_catalog import ASYNCAPI_FILE, CATALOG, render
from services.site_view import heartbeat

# Each aggregate of batch_records and the handlers that publish its events.
DECLARING = (
    (master_events, master_handlers),
    (batch_events, batch_handlers),
    (equipment_events, equipment_handlers),
    (run_events, run_handlers),
    (readings_events, readings_handlers),
)


def test_every_payload_message_is_in_the_catalog() -> None:
    listed = {spec.payload.full_name for spec in CATALOG}
    # ProcessException is a part of the events that raise one, not an event of its own.
    parts = {conjugation_events_pb2.ProcessException.DESCRIPTOR.full_name}
    modules = [
        importlib.import_module(f"twinline.events.v1.{found.name}")
        for found in pkgutil.iter_modules(twinline.events.v1.__path__)
        if found.name.endswith("_events_pb2")
    ]
    assert {module.__name__.rsplit(".", 1)[1] for module in modules} == {
        "batch_events_pb2", "conjugation_events_pb2", "master_batch_record_events_pb2",
        "release_testing_events_pb2", "site_events_pb2", "tech_transfer_events_pb2",
    }
    for module in modules:
        defined = {m.full_name for m in module.DESCRIPTOR.message_types_by_name.values()}
        assert defined - parts <= listed


def test_each_aggregate_declares_its_events_once_in_its_list() -> None:
    for module, handlers in DECLARING:
        named = [value for value in vars(module).values() if isinstance(value, DeclaredEvent)]
        assert set(named) == set(module.DECLARED), module.__name__
        assert len({(spec.aggregate, spec.event) for spec in module.DECLARED}) == len(
            module.DECLARED
        ), module.__name__
        # The handlers publish through these declarations, and no others.
        assert handlers.events is module, handlers.__name__


def test_the_catalog_lists_exactly_what_the_services_declare() -> None:
    declared = {
        (spec.context, spec.aggregate, spec.event, spec.payload.DESCRIPTOR.full_name,
         spec.producer, spec.meaning)
        for module, _ in DECLARING for spec in module.DECLARED
    }
    listed = {
        (spec.context, spec.aggregate, spec.event, spec.payload.full_name, spec.producer,
         spec.meaning)
        for spec in CATALOG if spec.producer in ("batch_records", "conjugation")
    }
    assert declared == listed
    assert {(producer, aggregate) for _, aggregate, _, _, producer, _ in listed} == {
        ("batch_records", "master_batch_record"), ("batch_records", "batch"),
        ("batch_records", "equipment"), ("conjugation", "run"), ("conjugation", "readings"),
    }


def test_every_subject_is_listed_once() -> None:
    subjects = [spec.subject() for spec in CATALOG]
    assert len(subjects) == len(set(subjects))


def test_the_heartbeat_the_site_view_publishes_is_in_the_catalog() -> None:
    specs = [spec for spec in CATALOG if spec.producer == "site_view"]
    assert [spec.subject("songdo") for spec in specs] == [heartbeat.heartbeat_subject("songdo")]
    assert specs[0].payload.full_name == site_events.SiteHeartbeat.DESCRIPTOR.full_name


def test_the_committed_asyncapi_document_is_current() -> None:
    assert ASYNCAPI_FILE.read_text() == render(), "run: python -m services.devstack.event_catalog"
