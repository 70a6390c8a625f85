"""The one writer per service, which commits concurrent units of work together.

A use case runs as a command on a ``UnitOfWork``: it reads and changes state through the
session and declares its audit entries and events; the writer appends the entries to the
hash chain and the events to the outbox in the same transaction. Concurrent requests queue
on one writer, which commits them in one transaction (group commit): the audit chain stays
strictly ordered and SQLite's single write lock is never contended.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from google.protobuf import message
from sqlalchemy import Engine, insert, text
from sqlmodel import Session

from services.common.domain.clock import Clock, to_text, utc_now
from services.common.domain.errors import DomainError
from services.common.messaging.event_size import EventSizeLimit
from services.common.messaging.events import OutboxEntry, OutboxEvent, with_audit_head
from services.common.persistence.audit import AuditChange, chain_entries, chain_head
from services.common.persistence.idempotency import (
    INSERT_REQUEST,
    RequestKey,
    earlier_answer,
    earlier_answers,
    request_fingerprint,
    request_row,
)
from services.common.persistence.tables import AuditEntryRow, OutboxRow
from services.common.persistence.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BATCH = 256
# Told after each group commit which outbox entries it wrote, in commit order (maybe none).
OnCommit = Callable[[Sequence[OutboxEntry]], None]
# PostgreSQL only: every group transaction first takes this transaction-level advisory lock, so
# writers on one database (two processes, or two services sharing it) commit one at a time:
# each reads the chain head only after the one before it committed (READ COMMITTED takes a new
# snapshot per statement), so the chain never forks, and outbox positions follow commit order.
# An advisory lock rather than LOCK TABLE audit_entry: it also covers groups that append no
# audit entry (outbox, inbox), leaves the table to readers and to DDL, and ends with the
# transaction. SQLite needs none: BEGIN IMMEDIATE already admits one writer at a time.
CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(8392292353614376549)")  # b"twinline"


@dataclass
class _Job(Generic[T]):
    command: Callable[[UnitOfWork], T]
    future: asyncio.Future[T]
    request: RequestKey | None = None
    result: Any = None
    error: BaseException | None = None


class Writer:
    """Runs commands one at a time, commits them in groups, and tells who waits after commit."""

    def __init__(
        self, engine: Engine, site: str, *, clock: Clock = utc_now,
        on_commit: OnCommit | None = None, event_limit: EventSizeLimit | None = None,
    ) -> None:
        self._engine = engine
        self._site = site
        self.event_limit = event_limit or EventSizeLimit()
        self._clock = clock
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Job[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="writer")

    async def stop(self) -> None:
        """Finishes what is queued, then stops."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    def set_on_commit(self, on_commit: OnCommit) -> None:
        self._on_commit = on_commit

    async def run(self, command: Callable[[UnitOfWork], T]) -> T:
        """Runs ``command`` in a transaction; returns its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(command, future))
        return await future

    async def run_idempotent(
        self, *, request_id: str, method: str, principal: str, request: message.Message,
        command: Callable[[UnitOfWork], bytes],
    ) -> bytes:
        """Like ``run``, but a retry with the same ``request_id`` gets the first answer back."""
        key = RequestKey(request_id, method, principal, request_fingerprint(method, request))
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(command, future, key))
        return await future

    async def _run(self) -> None:
        while True:
            queued = [await self._queue.get()]
            while len(queued) < MAX_BATCH and not self._queue.empty():
                queued.append(self._queue.get_nowait())
            # A caller that left before its turn (deadline passed, call cancelled, shutdown)
            # is not served: its command never runs, so its call has had no effect.
            jobs = [job for job in queued if not job.future.cancelled()]
            for _ in range(len(queued) - len(jobs)):
                self._queue.task_done()
            if not jobs:
                continue
            committed: list[OutboxEntry] = []
            try:
                await asyncio.to_thread(self._execute, jobs, committed)
            except Exception as exc:  # the thread itself failed: every waiter learns it
                for job in jobs:
                    if job.error is None and job.result is None:
                        job.error = exc
            # Before the waiters resume: the relay's publish goes out ahead of their answers.
            if self._on_commit is not None:
                try:
                    self._on_commit(committed)
                except Exception:  # the outbox still holds the entries: the relay finds them
                    log.exception("on_commit failed")
            for job in jobs:
                if not job.future.done():
                    if job.error is not None:
                        job.future.set_exception(job.error)
                    else:
                        job.future.set_result(job.result)
                self._queue.task_done()

    def _execute(self, jobs: list[_Job[Any]], committed: list[OutboxEntry]) -> None:
        """Commits ``jobs`` together; a failing job is split off so it fails alone.

        ``committed`` receives the outbox entries of every part that committed, in order.
        """
        failure = self._try(jobs, committed)
        if failure is None:
            return
        index, error = failure
        if len(jobs) == 1:
            jobs[0].error = error
            return
        if index is None:  # the commit itself failed: no job to blame, so run each alone
            for job in jobs:
                self._execute([job], committed)
            return
        if index > 0:
            self._execute(jobs[:index], committed)
        self._execute([jobs[index]], committed)
        if index + 1 < len(jobs):
            self._execute(jobs[index + 1 :], committed)

    def _try(
        self, jobs: list[_Job[Any]], committed: list[OutboxEntry]
    ) -> tuple[int | None, BaseException] | None:
        now = self._clock()
        with Session(self._engine, expire_on_commit=False) as session:
            changes: list[AuditChange] = []
            events: list[OutboxEvent] = []
            # Per event: how many of the group's audit entries precede its change (its anchor).
            anchors: list[int] = []
            results: list[Any] = []
            memo: dict[str, Any] = {}
            try:
                with session.begin():
                    if self._engine.dialect.name == "postgresql":
                        session.execute(CHAIN_LOCK)
                    answered = earlier_answers(
                        session, [job.request for job in jobs if job.request is not None]
                    )
                    requests: list[dict[str, object]] = []
                    for index, job in enumerate(jobs):
                        uow = UnitOfWork(
                            session, now, self._site, memo, event_limit=self.event_limit
                        )
                        try:
                            earlier = earlier_answer(job.request, answered)
                            if earlier is not None:
                                results.append(earlier)
                                continue
                            results.append(job.command(uow))
                        except Exception as exc:
                            if not isinstance(exc, DomainError):
                                log.warning("command failed; retrying it alone", exc_info=exc)
                            # Raised, not returned: leaving the block by an exception rolls
                            # the whole group back; a return would commit it.
                            raise _CommandFailed(index, exc) from exc
                        if job.request is not None:
                            answered[job.request.request_id] = (job.request, results[-1])
                            requests.append(request_row(job.request, results[-1], now))
                        changes.extend(uow.changes)
                        events.extend(uow.events)
                        anchors.extend([len(changes)] * len(uow.events))
                    if requests:
                        session.execute(INSERT_REQUEST, requests)
                    entries = self._append(session, changes, events, anchors, now)
            except _CommandFailed as failed:
                return failed.index, failed.error
            except Exception as exc:
                log.warning("group commit of %d failed", len(jobs), exc_info=exc)
                return None, exc
        for job, result in zip(jobs, results, strict=True):
            job.result = result
        committed.extend(entries)
        return None

    def _append(
        self, session: Session, changes: list[AuditChange], events: list[OutboxEvent],
        anchors: list[int], now: datetime,
    ) -> list[OutboxEntry]:
        """Appends the audit entries to the chain and the events to the outbox; returns the
        outbox entries written. Each event carries the chain head as of its change."""
        session.flush()
        stamp = to_text(now)
        if not changes and not events:
            return []
        # Read the head inside the write transaction: several writers never fork the chain.
        head = chain_head(session)
        rows: list[dict[str, object]] = []
        if changes:
            rows, _ = chain_entries(head, changes, site=self._site, occur_time=stamp)
            session.execute(INSERT_AUDIT, rows)
        if not events:
            return []
        events = [
            with_audit_head(event, head.sequence, head.entry_hash) if count == 0
            else with_audit_head(event, int(rows[count - 1]["sequence"]),  # type: ignore[call-overload]
                                 str(rows[count - 1]["entry_hash"]))
            for event, count in zip(events, anchors, strict=True)
        ]
        positions = session.execute(
            INSERT_OUTBOX,
            [
                {
                    "event_id": event.event_id,
                    "subject": event.subject,
                    "event_type": event.event_type,
                    "headers": _headers_text(event.headers),
                    "payload": event.payload,
                    "created_time": stamp,
                    "published_time": None,
                }
                for event in events
            ],
        ).scalars().all()
        return [
            OutboxEntry(
                position, event.event_id, event.subject, event.event_type, event.headers,
                event.payload,
            )
            for position, event in zip(positions, events, strict=True)
        ]


class _CommandFailed(Exception):
    """A command of a group failed: the group is rolled back and split around it."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


# Core statements on the tables, built once: no ORM bookkeeping, compiled form reused.
INSERT_AUDIT = insert(AuditEntryRow.__table__)  # type: ignore[attr-defined]
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
# The positions the database gives the new rows, in the order of the rows sent.
INSERT_OUTBOX = insert(OUTBOX).returning(OUTBOX.c.position, sort_by_parameter_order=True)


def _headers_text(headers: dict[str, str]) -> str:
    return json.dumps(headers, sort_keys=True)
