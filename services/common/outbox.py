"""The outbox relay: publishes committed events to JetStream in commit order.

A row is marked published only after JetStream's ack; ``Nats-Msg-Id`` = event id makes a
republish after a crash (published, not yet marked) a no-op inside the stream's duplicate
window. While NATS is down the relay keeps retrying; nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from sqlalchemy import Engine, select, update
from sqlmodel import col

from services.common.bus import Bus
from services.common.clock import to_text
from services.common.database import read_session
from services.common.tables import OutboxRow
from services.common.unit_of_work import UnitOfWork, Writer

log = logging.getLogger(__name__)
BATCH = 500
PUBLISH_TIMEOUT = 2.0


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

    def notify(self) -> None:
        """Called after every commit: there may be something to publish."""
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
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()

    def pending_count(self) -> int:
        with read_session(self._engine) as session:
            rows = session.execute(
                select(col(OutboxRow.position)).where(col(OutboxRow.published_time).is_(None)).limit(1)
            ).all()
            return len(rows)

    def _unpublished(self) -> list[OutboxRow]:
        with read_session(self._engine) as session:
            return list(
                session.execute(
                    select(OutboxRow)
                    .where(col(OutboxRow.published_time).is_(None))
                    .order_by(col(OutboxRow.position))
                    .limit(BATCH)
                ).scalars()
            )

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                published = await self._publish_pending()
                backoff = 0.05
            except Exception as exc:
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
        rows = await asyncio.to_thread(self._unpublished)
        if not rows:
            return 0
        js = await self._bus.jetstream()
        # Pipelined: every row goes out before the first ack is awaited. One connection keeps
        # them in order, and acks are taken in order, so only a contiguous prefix is marked.
        acks = [
            await js.publish_async(
                row.subject, row.payload, wait_stall=PUBLISH_TIMEOUT,
                headers=json.loads(row.headers),
            )
            for row in rows
        ]
        done: list[int] = []
        try:
            for row, ack in zip(rows, acks, strict=True):
                await asyncio.wait_for(ack, PUBLISH_TIMEOUT)
                if self._exit_after_publish:
                    os._exit(17)  # fault injection: the ack arrived, the mark never will
                assert row.position is not None
                done.append(row.position)
        finally:
            for ack in acks[len(done):]:
                ack.cancel()  # republished next round; JetStream drops what it already has
            if done:
                await self._mark_published(done)
        return len(done)

    async def _mark_published(self, positions: list[int]) -> None:
        def mark(uow: UnitOfWork) -> None:
            uow.session.execute(
                update(OutboxRow)
                .where(col(OutboxRow.position).in_(positions))
                .values(published_time=to_text(uow.now))
            )

        await self._writer.run(mark)
