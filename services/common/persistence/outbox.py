"""The outbox relay: publishes committed events to JetStream in commit order.

A row is marked published only after JetStream's ack; ``Nats-Msg-Id`` = event id makes a
republish after a crash (published, not yet marked) a no-op inside the stream's duplicate
window. While NATS is down the relay keeps retrying; nothing is lost.

Two ways to find what to publish. The outbox table is the truth: the relay reads it at start,
after any failure, and when idle for a second. Once a read has found everything published,
the relay takes the entries the writer hands over after each commit (``committed``) and
publishes them at once, without reading them back: the cheap, fast path of a healthy system.
It goes back to reading the table whenever it may have missed an entry (a failed publish, too
many entries held in memory, an idle second).

On PostgreSQL, several processes may write one database (decision 0004), each with its own
relay. Then no relay can know from memory what the others committed, so the relays take turns
instead: a round holds a transaction-level advisory lock (``RELAY_TURN``) while it reads the
table, publishes and marks. Events go out in commit order across all the processes, each once;
the fast path is not used there.

A relay that cannot publish the head of its outbox (the server down, the stream refusing the
event) keeps trying, in order: nothing may overtake it. It says since when it has been trying
and why it failed (``stall``), so the service can report NOT_SERVING and the backlog by RPC.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update
from sqlmodel import col

from services.common.domain.clock import from_text, to_text
from services.common.messaging.bus import Bus
from services.common.messaging.events import OutboxEntry
from services.common.persistence.database import read_session
from services.common.persistence.tables import OutboxRow
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer

log = logging.getLogger(__name__)
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
BATCH = 500
PUBLISH_TIMEOUT = 2.0
# With nothing committed for this long, the relay reads the table again (a safety net).
IDLE_READ_S = 1.0
# Entries held for the fast path; beyond this (NATS slow or down) the table is read instead.
MAX_HELD = 4 * BATCH
# PostgreSQL: the relay whose round holds this lock is the only one reading, publishing and
# marking (the key differs from the writer's CHAIN_LOCK). Taken with "try": a relay that finds
# it held comes back after RELAY_TURN_RETRY_S, since the round in progress may have read the
# table before its own commit.
RELAY_TURN = text("SELECT pg_try_advisory_xact_lock(8392292353614376550)")
RELAY_TURN_RETRY_S = 0.05
# Built once (Core, not an ORM bulk update): the relay marks every batch it publishes.
MARK_PUBLISHED = (
    update(OUTBOX)
    .where(OUTBOX.c.position.in_(bindparam("positions", expanding=True)))
    .values(published_time=bindparam("published_time"))
)


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds unpublished: how many events, and the oldest one's commit time."""

    unpublished: int
    oldest_created: datetime | None


@dataclass(frozen=True)
class Stall:
    """How long the relay has tried to publish the outbox's head without success."""

    # Seconds since the relay began trying to publish what it now holds; 0 when not trying.
    trying_seconds: float
    # The last publish failure since the last success ("" when none, e.g. waiting to connect).
    last_error: str

    def stalled(self, bound_seconds: float) -> bool:
        return self.trying_seconds > bound_seconds


BACKLOG = select(
    func.count(OUTBOX.c.position), func.min(OUTBOX.c.created_time)
).where(OUTBOX.c.published_time.is_(None))


def backlog(engine: Engine) -> Backlog:
    with read_session(engine) as session:
        unpublished, oldest = session.execute(BACKLOG).one()
    return Backlog(int(unpublished), from_text(oldest) if oldest else None)


class OutboxRelay:
    def __init__(
        self, engine: Engine, writer: Writer, bus: Bus, *, exit_after_publish: bool = False
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._bus = bus
        self._exit_after_publish = exit_after_publish
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Entries handed over by the writer since the last read of the table began.
        self._held: deque[OutboxEntry] = deque()
        # True while _held has every entry committed since the last read of the table began.
        self._held_complete = False
        # True once a read found the table's entries all published: _held is then the rest.
        self._caught_up = False
        self._published_through = 0
        # Other processes may write this outbox: take turns, read the table every round.
        self._shared = engine.dialect.name == "postgresql"
        # Monotonic time the relay began trying to publish rows it holds with no ack since.
        self._trying_since: float | None = None
        self._last_error = ""

    def stall(self) -> Stall:
        """Since when the head of the outbox waits for the bus, and why."""
        if self._trying_since is None:
            return Stall(0.0, "")
        return Stall(time.monotonic() - self._trying_since, self._last_error)

    def committed(self, entries: Sequence[OutboxEntry]) -> None:
        """Called after every group commit with the outbox entries it wrote, in order."""
        if not entries:
            return
        if self._shared:
            self._wake.set()  # the table has them, in order with the other processes' entries
            return
        if len(self._held) + len(entries) > MAX_HELD:
            self._held.clear()  # the table still has them: the relay reads it instead
            self._held_complete = self._caught_up = False
        else:
            self._held.extend(entries)
        self._wake.set()

    def start(self) -> None:
        self._wake.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def flush(self, timeout: float) -> bool:
        """Waits until the outbox is empty (True) or ``timeout`` passes (False)."""
        self._wake.set()
        try:
            await asyncio.wait_for(self._drained(), timeout)
            return True
        except TimeoutError:
            return False

    async def _drained(self) -> None:
        while self.pending_count() > 0:
            # What is left may not be in memory (another process's commits): read the table.
            self._caught_up = False
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()

    def pending_count(self) -> int:
        with read_session(self._engine) as session:
            rows = session.execute(
                select(col(OutboxRow.position)).where(col(OutboxRow.published_time).is_(None)).limit(1)
            ).all()
            return len(rows)

    def _unpublished(self) -> list[OutboxEntry]:
        """The oldest unpublished entries of the table, in commit order (at most BATCH)."""
        with read_session(self._engine) as session:
            rows = session.execute(
                select(
                    OUTBOX.c.position, OUTBOX.c.event_id, OUTBOX.c.subject,
                    OUTBOX.c.event_type, OUTBOX.c.headers, OUTBOX.c.payload,
                )
                .where(OUTBOX.c.published_time.is_(None))
                .order_by(OUTBOX.c.position)
                .limit(BATCH)
            ).all()
        return [
            OutboxEntry(
                row.position, row.event_id, row.subject, row.event_type, json.loads(row.headers),
                row.payload,
            )
            for row in rows
        ]

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=IDLE_READ_S)
            except TimeoutError:
                self._caught_up = False  # idle: read the table again, in case
            self._wake.clear()
            try:
                published = await self._publish_pending()
                backoff = 0.05
            except Exception as exc:
                self._caught_up = False
                self._last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("outbox relay: publish failed (%s); retrying in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                self._wake.set()
                continue
            if published:
                self._wake.set()  # there may be more than one batch
            else:
                self._idle.set()

    async def _publish_pending(self) -> int:
        if self._shared:
            return await self._publish_in_turn()
        if self._caught_up:
            rows = [entry for entry in self._held if entry.position > self._published_through]
            self._held.clear()
            return await self._publish(rows)
        self._held_complete = True  # from here on, _held misses nothing committed
        rows = await asyncio.to_thread(self._unpublished)
        published = await self._publish(rows)
        if published == len(rows) < BATCH and self._held_complete:
            # Everything committed before the read is published, and _held has the rest.
            self._caught_up = True
        return published

    async def _publish_in_turn(self) -> int:
        """One round under RELAY_TURN: read the table, publish, mark; the lock ends with it."""
        turn = await asyncio.to_thread(self._take_turn)
        if turn is None:  # another process's relay is in its round: come back shortly
            await asyncio.sleep(RELAY_TURN_RETRY_S)
            self._wake.set()
            return 0
        try:
            rows = await asyncio.to_thread(self._unpublished)
            return await self._publish(rows)
        finally:
            await asyncio.to_thread(turn.close)  # rolls back the empty transaction: unlocked

    def _take_turn(self) -> Connection | None:
        """A connection in a transaction holding RELAY_TURN, or None if another holds it."""
        connection = self._engine.connect()
        try:
            connection.begin()
            if connection.execute(RELAY_TURN).scalar_one():
                return connection
        except BaseException:
            connection.close()
            raise
        connection.close()
        return None

    async def _publish(self, rows: list[OutboxEntry]) -> int:
        if not rows:
            return 0
        if self._trying_since is None:
            self._trying_since = time.monotonic()
        js = await self._bus.jetstream()
        # Pipelined: every row goes out before the first ack is awaited. One connection keeps
        # them in order, and acks are taken in order, so only a contiguous prefix is marked.
        acks = [
            await js.publish_async(
                row.subject, row.payload, wait_stall=PUBLISH_TIMEOUT, headers=row.headers
            )
            for row in rows
        ]
        done: list[int] = []
        try:
            for row, ack in zip(rows, acks, strict=True):
                await asyncio.wait_for(ack, PUBLISH_TIMEOUT)
                if self._exit_after_publish:
                    os._exit(17)  # fault injection: the ack arrived, the mark never will
                done.append(row.position)
        finally:
            for ack in acks[len(done):]:
                ack.cancel()  # republished next round; JetStream drops what it already has
            if done:
                self._trying_since = None  # the head moved: whatever is left starts afresh
                self._last_error = ""
                self._published_through = max(self._published_through, done[-1])
                await self._mark_published(done)
        return len(done)

    async def _mark_published(self, positions: list[int]) -> None:
        def mark(uow: UnitOfWork) -> None:
            uow.session.execute(
                MARK_PUBLISHED, {"positions": positions, "published_time": to_text(uow.now)}
            )

        await self._writer.run(mark)
