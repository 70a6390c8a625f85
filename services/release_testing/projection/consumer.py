"""Release testing's consumer: every site's batch events and release-testing events."""

from __future__ import annotations

from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.writer import Writer
from services.common.sites import Site
from services.release_testing.event_spec import CONTEXT
from services.release_testing.projection import handlers

CONSUMER_NAME = "release_testing"


def subjects() -> tuple[str, ...]:
    """Every site's batches (a lab tests any site's batch; a disposition reads its own) and
    every site's specifications, samples and investigations (this site's own are skipped
    when applied)."""
    return (
        event_subject("*", "batchrecords", "batch", ">"),
        event_subject("*", CONTEXT, "specification", ">"),
        event_subject("*", CONTEXT, "sample", ">"),
        event_subject("*", CONTEXT, "investigation", ">"),
    )


class ProjectionConsumer(StreamConsumer[handlers.Seen]):
    def __init__(self, *, bus: Bus, writer: Writer, site: Site) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=CONSUMER_NAME,
            subjects=subjects(), take=handlers.seen, apply=handlers.apply,
        )
