"""Creates each site's JetStream stream and the durable sourcing that copies it to the other sites.

Every site's stream holds its own subjects and sources every other site's stream across the
JetStream domain boundary, through a durable push consumer that the ORIGIN site creates on its
own stream (ADR-58 "durable sourcing"). Ephemeral cross-domain sourcing can stall ~40 s after a
restart or a long link cut (nats-server issue #6454); durable sourcing mostly resumes in ~0.2 s,
and SourceWatchdog covers the rest. Both halves are local to the site that creates them, so a
site starts and takes writes while the link or the other site is down, and the sourcing picks
up when both are back.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ExternalStream,
    StorageType,
    StreamConfig,
    StreamConsumerSource,
    StreamSource,
)
from nats.js.errors import BadRequestError

from services.common.messaging.periodic import Periodic
from services.common.messaging.subjects import site_subjects, source_consumer_name, stream_name
from services.common.sites import Site, SiteRegistry

DUPLICATE_WINDOW_S = 120.0
# The origin sends a heartbeat (and a flow-control ack point) this often when idle.
SOURCE_HEARTBEAT_S = 1.0
STREAM_NAME_IN_USE = 10058  # JetStream error: exists with a different configuration


def source_deliver_subject(origin: Site, target: Site) -> str:
    """Where the origin's sourcing consumer pushes to; fixed, so both sides agree on it."""
    # Outside twinline.> so the stream never captures its own sourcing traffic.
    return f"_TWINLINE.source.{origin.id}.{target.id}"


def domain_api(site: Site) -> str:
    return f"$JS.{site.nats_domain}.API"


def source_consumer_config(origin: Site, target: Site) -> ConsumerConfig:
    """The durable push consumer on the origin's stream that feeds the target's stream."""
    name = source_consumer_name(origin.id, target.id)
    return ConsumerConfig(
        name=name,
        durable_name=name,
        deliver_subject=source_deliver_subject(origin, target),
        deliver_policy=DeliverPolicy.ALL,
        # Only the origin's own events: what it sourced from others must not travel on.
        filter_subject=site_subjects(origin.id),
        # Durable sourcing requires this ack policy, flow control, a heartbeat and no limit on
        # redeliveries; the target's flow-control replies are the acks.
        ack_policy=AckPolicy.FLOW_CONTROL,
        flow_control=True,
        idle_heartbeat=SOURCE_HEARTBEAT_S,
        max_deliver=-1,
    )


def site_stream_config(site: Site, registry: SiteRegistry) -> StreamConfig:
    sources = [
        StreamSource(
            name=stream_name(origin.id),
            external=ExternalStream(api=domain_api(origin)),
            # No filter_subject here: with a named consumer the filter lives on the consumer.
            consumer=StreamConsumerSource(
                name=source_consumer_name(origin.id, site.id),
                deliver_subject=source_deliver_subject(origin, site),
            ),
        )
        for origin in registry.others(site.id)
    ]
    return StreamConfig(
        name=stream_name(site.id),
        subjects=[site_subjects(site.id)],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        sources=sources or None,
    )


async def ensure_site_stream(nc: Client, site: Site, registry: SiteRegistry) -> None:
    """Creates or updates `site`'s stream, its sources and the consumers other sites source from.

    `nc` is connected to `site`'s own nats-server. Safe to call at every start, concurrently.
    """
    js = nc.jetstream()
    config = site_stream_config(site, registry)
    try:
        # Creating a stream that exists with the same config is a no-op on the server.
        await js.add_stream(config)
    except BadRequestError as error:
        if error.err_code != STREAM_NAME_IN_USE:
            raise
        await js.update_stream(config)
    for target in registry.others(site.id):
        # Consumer create without an action is create-or-update on the server.
        await js.add_consumer(stream_name(site.id), source_consumer_config(site, target))


async def source_status(nc: Client, site: Site) -> list[dict[str, Any]]:
    """Per source of `site`'s stream: name, api, active (ms since last contact, -1 never), lag."""
    # Raw request: nats-py's StreamSourceInfo drops the `external` block.
    reply = await nc.request(f"$JS.API.STREAM.INFO.{stream_name(site.id)}", b"", timeout=2.0)
    info = json.loads(reply.data)
    if "error" in info:
        raise RuntimeError(f"stream info of {stream_name(site.id)}: {info['error']}")
    status = []
    for source in info.get("sources") or []:
        active_ns = source.get("active", -1)
        status.append(
            {
                "name": source["name"],
                "api": (source.get("external") or {}).get("api"),
                "active": -1 if active_ns < 0 else active_ns // 1_000_000,
                "lag": source.get("lag", 0),
                "error": source.get("error"),
            }
        )
    return status


class SourceWatchdog:
    """Re-adds a source of `site`'s stream that stays quiet although its origin answers.

    Durable sourcing usually resumes in ~0.2 s after a heal or restart, but in about one of four
    link cuts over ~10 s (and on a first deployment) the server retries only on its own ~5 s
    timer. Removing and re-adding the source restarts it at once, from the durable consumer's
    position, so nothing is lost or duplicated. A healthy source is never quiet for long: the
    origin's consumer sends a heartbeat every SOURCE_HEARTBEAT_S.
    """

    def __init__(
        self,
        nc: Client,
        site: Site,
        registry: SiteRegistry,
        *,
        interval_s: float = 0.5,
        stalled_after_ms: int = 2500,
        holdoff_s: float = 3.0,
    ) -> None:
        self.nc = nc
        self.site = site
        self.registry = registry
        self.interval_s = interval_s
        self.stalled_after_ms = stalled_after_ms
        self.holdoff_s = holdoff_s
        self.readded = 0
        self._origins = {stream_name(origin.id): origin for origin in registry.others(site.id)}
        self._last_readd: dict[str, float] = {}
        # When each origin stream was created, as last seen: a new time means the origin lost
        # its store and made the stream anew, with sequences from 1 again.
        self._origin_created: dict[str, str] = {}
        # Our own server restarting: look again next round.
        self._rounds = Periodic(
            self.check_once, interval_s, name=f"source-watchdog-{site.id}",
            tolerated=(TimeoutError, NatsError, RuntimeError),
        )

    def start(self) -> None:
        # A grace period first: a source just created gets its own chance to connect.
        self._last_readd = dict.fromkeys(self._origins, time.monotonic())
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def check_once(self) -> list[str]:
        """Re-adds the stalled sources whose origin consumer answers; returns their names."""
        config = site_stream_config(self.site, self.registry)
        status = await source_status(self.nc, self.site)
        now = time.monotonic()
        stalled = []
        for source in status:
            quiet = source["active"] < 0 or source["active"] > self.stalled_after_ms
            last = self._last_readd.get(source["name"])
            recently = last is not None and now - last < self.holdoff_s
            if quiet and not recently and await self._origin_answers(source["name"]):
                stalled.append(source["name"])
            elif await self._origin_recreated(source["name"]):
                # The source would skip the new stream's first sequences as seen already
                # (heartbeats keep it active, so it never reads quiet): restart it.
                stalled.append(source["name"])
        js = self.nc.jetstream()
        if stalled:
            kept = [source for source in config.sources or [] if source.name not in stalled]
            await js.update_stream(config.evolve(sources=kept or None))
            self.readded += len(stalled)
            self._last_readd.update(dict.fromkeys(stalled, now))
        if stalled or len(status) != len(config.sources or []):
            # Also repairs a stream left without a source by an update that failed half-way.
            await js.update_stream(config)
        return stalled

    async def _origin_answers(self, source_stream: str) -> bool:
        """True when the origin's sourcing consumer for this site answers over the link."""
        origin = self._origins.get(source_stream)
        if origin is None:
            return False  # a source this registry no longer lists; the next update drops it
        consumer = source_consumer_name(origin.id, self.site.id)
        subject = f"{domain_api(origin)}.CONSUMER.INFO.{source_stream}.{consumer}"
        try:
            reply = await self.nc.request(subject, b"", timeout=0.5)
        except (TimeoutError, NatsError):
            return False
        return "error" not in json.loads(reply.data)

    async def _origin_recreated(self, source_stream: str) -> bool:
        """True when the origin stream's creation time changed since the last look."""
        origin = self._origins.get(source_stream)
        if origin is None:
            return False
        try:
            reply = await self.nc.request(
                f"{domain_api(origin)}.STREAM.INFO.{source_stream}", b"", timeout=0.5
            )
        except (TimeoutError, NatsError):
            return False
        created = json.loads(reply.data).get("created")
        if not isinstance(created, str):
            return False
        before = self._origin_created.get(source_stream)
        self._origin_created[source_stream] = created
        return before is not None and before != created
