"""What the site view consumes: every site's events, from this site's stream.

One durable pull consumer on ``TWINLINE_<SITE>``, which holds this site's own events and those
sourced from the other sites. A fetched batch is taken in with one transaction and acked after
it commits: a crash between the two redelivers the batch, and the inbox drops what was done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.common.messaging.bus import Bus
from services.common.messaging.events import decode
from services.common.messaging.subjects import all_subjects, stream_name
from services.common.persistence.writer import Writer
from services.common.sites import Site
from services.site_view import handlers

log = logging.getLogger(__name__)
T = TypeVar("T")

CONSUMER_NAME = "site_view"
# Every origin site's subjects: the view lists this site's own records beside the others'.
ALL_SITES_SUBJECTS = all_subjects()
FETCH_BATCH = 256
# The fetch returns as soon as one message is there; this only bounds an idle wait, and so how
# soon a pull request lost in a server restart is replaced.
FETCH_TIMEOUT_S = 0.5
# How long stop() waits for a cancelled consumer before it leaves it behind.
STOP_TIMEOUT_S = 2.0
# Unacked this long (the process died mid-batch), a message is delivered again.
ACK_WAIT_S = 10.0
# An event whose transaction failed is offered again after this long, not at once.
REDELIVERY_DELAY_S = 1.0
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
# What a message that is not one of our events raises on decoding.
UNDECODABLE = (ValueError, KeyError, DecodeError)


def consumer_config(durable: str = CONSUMER_NAME) -> ConsumerConfig:
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=ALL_SITES_SUBJECTS,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
        # Never give up on an event: the inbox makes a redelivery harmless, a drop is not.
        max_deliver=-1,
    )


class SiteViewConsumer:
    """Feeds the view from the stream until stopped; waits out NATS outages with backoff."""

    def __init__(
        self, *, bus: Bus, writer: Writer, site: Site, durable: str = CONSUMER_NAME
    ) -> None:
        self._bus = bus
        self._writer = writer
        self._stream = stream_name(site.id)
        self._durable = durable
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # True while the task waits on NATS or a backoff, where cancelling leaves nothing half-done.
        self._waiting = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="site-view-consumer")

    async def stop(self) -> None:
        """Lets the pull in flight end and its batch be taken in and acked, then ends the task.

        A pull cut short stays open at the server until its expiry: a message delivered to
        it then would wait for ACK_WAIT_S to be delivered again. So the pull is let run out
        (FETCH_TIMEOUT_S); only a longer wait (a backoff, a stuck call) is cancelled.
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=FETCH_TIMEOUT_S + 1.0)
        if not done:
            # Cancelling cannot lose an event: a batch committed but not acked comes again
            # and the inbox drops it.
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stopping:
            try:
                subscription = await self._wait(self._subscribe())
                delay = RETRY_FIRST_S
                try:
                    await self._consume(subscription)
                finally:
                    await _unsubscribe(subscription)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down or restarting: keep trying until stopped
                log.warning("site view consumer: %r; retrying in %.2f s", exc, delay)
                await self._wait(asyncio.sleep(delay))
                delay = min(delay * 2, RETRY_MAX_S)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        js = await self._bus.jetstream()
        # Create-or-update: the consumer and its position survive from the previous run.
        await js.add_consumer(self._stream, consumer_config(self._durable))
        return await js.pull_subscribe_bind(durable=self._durable, stream=self._stream)

    async def _consume(self, subscription: JetStreamContext.PullSubscription) -> None:
        delay = RETRY_FIRST_S
        while not self._stopping:
            if not self._bus.is_connected:
                # The client reconnects and resubscribes by itself; pulling meanwhile would
                # only queue stale pull requests.
                await self._wait(asyncio.sleep(delay))
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_FIRST_S
            try:
                messages = await self._wait(
                    subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
                )
            except TimeoutError:
                continue  # nothing new
            await self._take_in(messages)

    async def _take_in(self, messages: list[Msg]) -> None:
        batch: list[tuple[Msg, handlers.ReplicaEvent]] = []
        poison: list[Msg] = []
        for msg in messages:
            sequence = msg.metadata.sequence.stream
            try:
                event = decode(msg.subject, msg.headers, msg.data, sequence)
                batch.append((msg, handlers.replica_event(event)))
            except UNDECODABLE as exc:
                # Retrying cannot make it readable; holding it would stall the view.
                log.error(
                    "poison message %s (stream sequence %d) acked and skipped: %r",
                    msg.subject, sequence, exc,
                )
                poison.append(msg)
        done = list(poison)
        if batch:
            events = [item for _, item in batch]
            try:
                await self._writer.run(lambda uow: handlers.apply_events(uow, events))
                done += [msg for msg, _ in batch]
            except Exception as exc:
                log.warning("a batch of %d events failed (%r); one at a time", len(batch), exc)
                done += await self._take_in_one_by_one(batch)
        for msg in done:
            await msg.ack()

    async def _take_in_one_by_one(
        self, batch: list[tuple[Msg, handlers.ReplicaEvent]]
    ) -> list[Msg]:
        """So that one event that cannot be applied does not hold back every other one."""
        done = []
        for msg, item in batch:
            try:
                await self._writer.run(functools.partial(handlers.apply_events, events=[item]))
                done.append(msg)
            except Exception:
                log.exception(
                    "event %s on %s not applied; offered again in %.1f s",
                    item.event.event_id, item.event.subject, REDELIVERY_DELAY_S,
                )
                await msg.nak(delay=REDELIVERY_DELAY_S)
        return done

    async def _wait(self, waiting: Coroutine[Any, Any, T]) -> T:
        """Awaits NATS or a backoff; ``stop()`` may cancel the task only while it is here."""
        if self._stopping:
            waiting.close()
            raise asyncio.CancelledError  # as if stop() had cancelled us here
        self._waiting = True
        try:
            return await waiting
        finally:
            self._waiting = False


async def _unsubscribe(subscription: JetStreamContext.PullSubscription) -> None:
    try:
        await subscription.unsubscribe()
    except Exception as exc:  # the connection is gone: so is the subscription
        log.debug("unsubscribe of the site view's pull subscription: %r", exc)
