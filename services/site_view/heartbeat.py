"""Publishes this site's heartbeat into its own stream, so every other site can tell an idle
but current link from a cut one (decision 0009).

The heartbeat goes into the site's stream like an event, on twinline.<site>.siteview.site.
heartbeat; the stream's sourcing carries it to the other sites in order behind the site's
events, so a replica that took it in holds everything the site had published before it.
It is no change of a record: it bypasses the outbox (nothing to keep atomic with) and is
simply skipped while NATS is down; the next one says as much as any missed one would have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from twinline.events.v1 import site_events_pb2 as site_events

from services.common.domain.clock import utc_now
from services.common.messaging.bus import Bus
from services.common.messaging.events import OutboxEvent, new_event
from services.common.messaging.periodic import Periodic
from services.common.messaging.subjects import event_subject, stream_name
from services.common.sites import Site

log = logging.getLogger(__name__)

CONTEXT = "siteview"
AGGREGATE = "site"
EVENT = "heartbeat"
# A publish that gets no ack this long is given up; the next heartbeat tries again.
PUBLISH_TIMEOUT_S = 2.0


def heartbeat_subject(site_id: str) -> str:
    return event_subject(site_id, CONTEXT, AGGREGATE, EVENT)


def is_heartbeat_subject(subject: str) -> bool:
    """True for any site's heartbeat subject."""
    parts = subject.split(".")
    return len(parts) == 5 and parts[2:] == [CONTEXT, AGGREGATE, EVENT]


def heartbeat_event(
    site: Site, *, last_sequence: int, interval: timedelta, time: datetime
) -> OutboxEvent:
    payload = site_events.SiteHeartbeat(site=site.id, last_sequence=last_sequence)
    payload.interval.FromTimedelta(interval)
    return new_event(
        subject=heartbeat_subject(site.id), payload=payload,
        source=f"twinline/{site.id}/site_view", ce_subject=f"sites/{site.id}", time=time,
    )


class HeartbeatPublisher:
    """Every ``interval``, publishes the site's heartbeat with its stream's last sequence."""

    def __init__(
        self, *, bus: Bus, site: Site, interval: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError("the heartbeat interval must be positive")
        self._bus = bus
        self._site = site
        self._interval = interval
        self._clock = clock
        self._beats = Periodic(
            self._beat, interval.total_seconds(), name=f"heartbeat-{site.id}",
            on_error=self._not_sent,
        )
        self.sent = 0

    def start(self) -> None:
        self._beats.start()

    async def stop(self) -> None:
        await self._beats.stop()

    async def publish_once(self) -> None:
        js = await self._bus.jetstream()
        info = await js.stream_info(stream_name(self._site.id))
        event = heartbeat_event(
            self._site, last_sequence=info.state.last_seq, interval=self._interval,
            time=self._clock(),
        )
        await js.publish(
            event.subject, event.payload, headers=event.headers, timeout=PUBLISH_TIMEOUT_S
        )
        self.sent += 1

    async def _beat(self) -> None:
        async with asyncio.timeout(self._interval.total_seconds() * 2):
            await self.publish_once()

    def _not_sent(self, error: Exception) -> None:
        # NATS down or restarting: the next beat tries again.
        log.debug("heartbeat of %s not sent: %r", self._site.id, error)
