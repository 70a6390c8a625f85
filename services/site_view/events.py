"""What the site view consumes: every site's events, from this site's stream.

The kernel's durable pull consumer (services/common/messaging/consumer.py) on
``TWINLINE_<SITE>``, which holds this site's own events and those sourced from the other
sites, taken in through the view's inbox.
"""

from __future__ import annotations

from services.common.messaging.bus import Bus
from services.common.messaging.consumer import StreamConsumer
from services.common.messaging.subjects import all_subjects, stream_name
from services.common.persistence.writer import Writer
from services.common.sites import Site
from services.site_view import handlers

CONSUMER_NAME = "site_view"
# Every origin site's subjects: the view lists this site's own records beside the others'.
ALL_SITES_SUBJECTS = all_subjects()


class SiteViewConsumer(StreamConsumer[handlers.ReplicaEvent]):
    """Feeds the view from the stream until stopped."""

    def __init__(
        self, *, bus: Bus, writer: Writer, site: Site, durable: str = CONSUMER_NAME
    ) -> None:
        super().__init__(
            bus=bus, writer=writer, stream=stream_name(site.id), durable=durable,
            subjects=(ALL_SITES_SUBJECTS,), take=handlers.replica_event,
            apply=handlers.apply_events,
        )
