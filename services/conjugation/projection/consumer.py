"""The conjugation service's consumer: this site's batch events, every site's results."""

from __future__ import annotations

from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.writer import Writer
from services.common.sites import Site
from services.conjugation.event_spec import CONTEXT
from services.conjugation.projection import handlers

CONSUMER_NAME = "conjugation"


def subjects(site: Site) -> tuple[str, ...]:
    """This site's batch events (a run is for a batch of its own site) and every site's
    results (the trends compare the sites)."""
    return (
        event_subject(site.id, "batchrecords", "batch", ">"),
        event_subject("*", CONTEXT, "run", "results_recorded"),
    )


class ProjectionConsumer(StreamConsumer[handlers.Seen]):
    def __init__(self, *, bus: Bus, writer: Writer, site: Site) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=CONSUMER_NAME,
            subjects=subjects(site), take=handlers.seen, apply=handlers.apply,
        )
