"""A durable pull consumer of a site's stream that takes events in through the writer.

One durable consumer on ``TWINLINE_<SITE>``, which holds this site's own events and those
sourced from the other sites, filtered to the subjects a context follows. A fetched batch is
taken in with one transaction and acked after it commits: a crash between the two redelivers
the batch, and the inbox (which the ``apply`` of each context goes through) drops what was
done. The site view, conjugation's batch projection and batch_records' exceptions use it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.common.messaging.bus import Bus
from services.common.messaging.events import ReceivedEvent, decode
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer

log = logging.getLogger(__name__)
T = TypeVar("T")
Item = TypeVar("Item")

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


def consumer_config(durable: str, subjects: Sequence[str]) -> ConsumerConfig:
    one = len(subjects) == 1
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=subjects[0] if one else None,
        filter_subjects=None if one else list(subjects),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
        # Never give up on an event: the inbox makes a redelivery harmless, a drop is not.
        max_deliver=-1,
    )


class StreamConsumer(Generic[Item]):
    """Takes events in until stopped; waits out NATS outages with backoff.

    ``take`` turns an event into what ``apply`` takes in (None: not for us, acked); it raises
    one of UNDECODABLE for a message that is not one of our events (acked and logged: retrying
    cannot make it readable). ``apply`` runs in one writer transaction per fetched batch.
    """

    def __init__(
        self, *, bus: Bus, writer: Writer, stream: str, durable: str, subjects: Sequence[str],
        take: Callable[[ReceivedEvent], Item | None],
        apply: Callable[[UnitOfWork, list[Item]], object],
    ) -> None:
        self._bus = bus
        self._writer = writer
        self._stream = stream
        self._durable = durable
        self._subjects = tuple(subjects)
        self._take = take
        self._apply = apply
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # True while the task waits on NATS or a backoff, where cancelling leaves nothing half-done.
        self._waiting = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"consumer-{self._durable}"
        )

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
                log.warning("consumer %s: %r; retrying in %.2f s", self._durable, exc, delay)
                await self._wait(asyncio.sleep(delay))
                delay = min(delay * 2, RETRY_MAX_S)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        js = await self._bus.jetstream()
        # Create-or-update: the consumer and its position survive from the previous run.
        await js.add_consumer(self._stream, consumer_config(self._durable, self._subjects))
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
        batch: list[tuple[Msg, Item]] = []
        poison: list[Msg] = []
        for msg in messages:
            sequence = msg.metadata.sequence.stream
            try:
                item = self._take(decode(msg.subject, msg.headers, msg.data, sequence))
                if item is None:
                    poison.append(msg)  # not for us: nothing to take in
                else:
                    batch.append((msg, item))
            except UNDECODABLE as exc:
                # Retrying cannot make it readable; holding it would stall the view.
                log.error(
                    "poison message %s (stream sequence %d) acked and skipped: %r",
                    msg.subject, sequence, exc,
                )
                poison.append(msg)
        done = list(poison)
        if batch:
            items = [item for _, item in batch]
            try:
                await self._writer.run(lambda uow: self._apply(uow, items))
                done += [msg for msg, _ in batch]
            except Exception as exc:
                log.warning("a batch of %d events failed (%r); one at a time", len(batch), exc)
                done += await self._take_in_one_by_one(batch)
        for msg in done:
            await msg.ack()

    async def _take_in_one_by_one(self, batch: list[tuple[Msg, Item]]) -> list[Msg]:
        """So that one event that cannot be applied does not hold back every other one."""
        done = []
        for msg, item in batch:
            try:
                await self._writer.run(functools.partial(_apply_one, self._apply, item))
                done.append(msg)
            except Exception:
                log.exception(
                    "consumer %s: the event on %s (stream sequence %d) not applied; offered "
                    "again in %.1f s",
                    self._durable, msg.subject, msg.metadata.sequence.stream, REDELIVERY_DELAY_S,
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


def _apply_one(
    apply: Callable[[UnitOfWork, list[Item]], object], item: Item, uow: UnitOfWork
) -> object:
    return apply(uow, [item])


async def _unsubscribe(subscription: JetStreamContext.PullSubscription) -> None:
    try:
        await subscription.unsubscribe()
    except Exception as exc:  # the connection is gone: so is the subscription
        log.debug("unsubscribe of a pull subscription: %r", exc)
