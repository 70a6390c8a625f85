"""The event catalog: every event on the bus, in one place, and its AsyncAPI document.

``python -m services.devstack.event_catalog`` rewrites docs/asyncapi.json; a test keeps it, the
payload protos and the producers in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from google.protobuf import descriptor
from twinline.events.v1 import site_events_pb2 as site_events

from services.batch_records.batches import events as batch_events
from services.batch_records.equipment import events as equipment_events
from services.batch_records.master import events as master_events
from services.common.messaging.subjects import ROOT
from services.common.persistence.event_spec import EventSpec as DeclaredEvent
from services.conjugation.readings import events as readings_events
from services.conjugation.runs import events as run_events
from services.release_testing.certificates import events as certificate_events
from services.release_testing.dispositions import events as disposition_events
from services.release_testing.investigations import events as investigation_events
from services.release_testing.samples import events as sample_events
from services.release_testing.specifications import events as specification_events
from services.tech_transfer.packages import events as package_events

ASYNCAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


@dataclass(frozen=True)
class EventSpec:
    context: str
    aggregate: str
    event: str
    payload: descriptor.Descriptor
    producer: str
    meaning: str

    def subject(self, site: str = "{site}") -> str:
        return f"{ROOT}.{site}.{self.context}.{self.aggregate}.{self.event}"


def _listed(declared: tuple[DeclaredEvent, ...]) -> tuple[EventSpec, ...]:
    """The events a service declares (each aggregate in its ``events.py``), as listed here."""
    return tuple(
        EventSpec(spec.context, spec.aggregate, spec.event,
                  cast(descriptor.Descriptor, spec.payload.DESCRIPTOR), spec.producer,
                  spec.meaning)
        for spec in declared
    )


CATALOG: tuple[EventSpec, ...] = (
    *_listed(master_events.DECLARED),
    *_listed(batch_events.DECLARED),
    *_listed(equipment_events.DECLARED),
    *_listed(run_events.DECLARED),
    *_listed(readings_events.DECLARED),
    *_listed(specification_events.DECLARED),
    *_listed(sample_events.DECLARED),
    *_listed(investigation_events.DECLARED),
    *_listed(certificate_events.DECLARED),
    *_listed(disposition_events.DECLARED),
    *_listed(package_events.DECLARED),
    EventSpec("siteview", "site", "heartbeat", site_events.SiteHeartbeat.DESCRIPTOR,
              "site_view", "The site is up; its stream held everything before this up to "
              "last_sequence. Sent every few seconds: a remote view that hears none for three "
              "intervals reads the site stale (decision 0009)."),
)

CLOUDEVENT_HEADERS = {
    "ce-specversion": "CloudEvents version, always 1.0",
    "ce-id": "event id (UUID); also Nats-Msg-Id for de-duplication",
    "ce-source": "twinline/<site>/<service>",
    "ce-type": "full protobuf name of the payload",
    "ce-subject": "resource name the event is about",
    "ce-time": "UTC time of the change, ISO 8601 with microseconds",
    "content-type": "application/protobuf",
    "traceparent": "W3C trace context",
    "Nats-Msg-Id": "the event id: JetStream drops a republished event",
}


def asyncapi() -> dict[str, object]:
    """The catalog as an AsyncAPI 3.0 document (payloads named by their protobuf type)."""
    channels: dict[str, object] = {}
    operations: dict[str, object] = {}
    messages: dict[str, object] = {}
    for spec in CATALOG:
        name = spec.payload.name
        channel = f"{spec.aggregate}.{spec.event}"
        messages.setdefault(name, {
            "name": name,
            "summary": spec.meaning,
            "contentType": "application/protobuf",
            "payload": {
                "schemaFormat": "application/vnd.google.protobuf;version=3",
                "schema": {"$ref": f"protos/{spec.payload.file.name}#{spec.payload.full_name}"},
            },
            "headers": {
                "type": "object",
                "properties": {
                    header: {"type": "string", "description": meaning}
                    for header, meaning in CLOUDEVENT_HEADERS.items()
                },
            },
        })
        channels[channel] = {
            "address": spec.subject(),
            "parameters": {"site": {"description": "origin site id, e.g. syracuse"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{spec.event}_{spec.aggregate}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{spec.producer}: {spec.meaning}",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Twinline events",
            "version": "1.0.0",
            "description": "Every change of every Twinline service, per site, on NATS "
            "JetStream (stream TWINLINE_<SITE>, holding its own and the other sites' events).",
        },
        "defaultContentType": "application/protobuf",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return json.dumps(asyncapi(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    ASYNCAPI_FILE.write_text(render())
    print(f"wrote {ASYNCAPI_FILE}")
