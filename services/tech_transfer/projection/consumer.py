"""Tech transfer's consumer: this site's master records, every site's packages."""

from __future__ import annotations

from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.subjects import event_subject, stream_name
from services.common.persistence.writer import Writer
from services.common.sites import Site
from services.tech_transfer.event_spec import CONTEXT
from services.tech_transfer.projection import handlers

CONSUMER_NAME = "tech_transfer"


def subjects(site: Site) -> tuple[str, ...]:
    return (
        event_subject(site.id, "batchrecords", "master_batch_record", ">"),
        event_subject("*", CONTEXT, "package", ">"),
        event_subject("*", CONTEXT, "receipt", ">"),
        event_subject("*", "release_testing", "sample", "result_reviewed"),
        event_subject("*", "release_testing", "sample", "result_invalidated"),
    )


class ProjectionConsumer(StreamConsumer[handlers.Seen]):
    def __init__(self, *, bus: Bus, writer: Writer, site: Site) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=CONSUMER_NAME,
            subjects=subjects(site), take=handlers.seen, apply=handlers.apply,
        )
