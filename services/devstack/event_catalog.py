"""The event catalog: every event on the bus, in one place, and its AsyncAPI document.

``python -m services.devstack.event_catalog`` rewrites docs/asyncapi.json; a test keeps it, the
payload protos and the producers in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor
from twinline.events.v1 import batch_events_pb2 as batch_events
from twinline.events.v1 import master_batch_record_events_pb2 as mbr_events
from twinline.events.v1 import site_events_pb2 as site_events

from services.common.messaging.subjects import ROOT

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


def _mbr(event: str, payload: descriptor.Descriptor, meaning: str) -> EventSpec:
    return EventSpec("batchrecords", "master_batch_record", event, payload, "batch_records",
                     meaning)


CATALOG: tuple[EventSpec, ...] = (
    _mbr("created", mbr_events.MasterBatchRecordCreated.DESCRIPTOR,
         "A new draft: version 1 of a record, or its next version."),
    _mbr("updated", mbr_events.MasterBatchRecordUpdated.DESCRIPTOR, "A draft changed."),
    _mbr("submitted", mbr_events.MasterBatchRecordSubmitted.DESCRIPTOR,
         "A draft went to review."),
    _mbr("reviewed", mbr_events.MasterBatchRecordReviewed.DESCRIPTOR,
         "The review was e-signed (reviewer is not the author)."),
    _mbr("approved", mbr_events.MasterBatchRecordApproved.DESCRIPTOR,
         "QA approval was e-signed (not the author, not the reviewer)."),
    _mbr("rejected", mbr_events.MasterBatchRecordRejected.DESCRIPTOR,
         "Sent back to draft with a signed reason."),
    _mbr("made_effective", mbr_events.MasterBatchRecordMadeEffective.DESCRIPTOR,
         "In force at its home site; batches may follow it."),
    _mbr("superseded", mbr_events.MasterBatchRecordSuperseded.DESCRIPTOR,
         "A later version became effective."),
)



def _batch(event: str, payload: descriptor.Descriptor, meaning: str) -> EventSpec:
    return EventSpec("batchrecords", "batch", event, payload, "batch_records", meaning)


CATALOG += (
    _batch("created", batch_events.BatchCreated.DESCRIPTOR,
           "A batch was created from a master record effective at its site."),
    _batch("step_recorded", batch_events.BatchStepRecorded.DESCRIPTOR,
           "One or more steps were recorded and signed (with the exceptions they raised)."),
    _batch("step_verified", batch_events.BatchStepVerified.DESCRIPTOR,
           "A step was verified by a second person."),
    _batch("value_corrected", batch_events.BatchValueCorrected.DESCRIPTOR,
           "A recorded value was corrected with a signed reason; the original is kept."),
    _batch("exception_dispositioned", batch_events.BatchExceptionDispositioned.DESCRIPTOR,
           "A supervisor or QA decided an exception; a hold may be released."),
    _batch("deviation_raised", batch_events.BatchDeviationChanged.DESCRIPTOR,
           "A deviation was raised against the batch."),
    _batch("deviation_updated", batch_events.BatchDeviationChanged.DESCRIPTOR,
           "A deviation's investigation or CAPA reference changed."),
    _batch("deviation_closed", batch_events.BatchDeviationChanged.DESCRIPTOR,
           "QA closed a deviation with an e-signature."),
    _batch("completed", batch_events.BatchStateChanged.DESCRIPTOR,
           "Execution ended; missing verifications became exceptions."),
    _batch("submitted", batch_events.BatchStateChanged.DESCRIPTOR,
           "The batch record went to QA for review by exception."),
    _batch("approved", batch_events.BatchStateChanged.DESCRIPTOR,
           "QA approved the batch record with an e-signature."),
    _batch("rejected", batch_events.BatchStateChanged.DESCRIPTOR,
           "QA rejected the batch record with a signed reason."),
    EventSpec("batchrecords", "equipment", "set", batch_events.EquipmentSet.DESCRIPTOR,
              "batch_records", "The equipment register changed (added, or status changed)."),
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
