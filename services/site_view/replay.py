"""Replay: rebuilds a site's view from the start of its stream into a fresh database, through
the same handlers as the live view, and gives the rebuilt view's checksum.

An ephemeral pull consumer (nothing durable is left behind) reads the stream from its first
sequence up to its last one when the replay began; each fetched batch is applied in one writer
transaction, as the live consumer does. Run by ``twinline view rebuild``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Engine, func, select

from services.common.messaging.consumer import UNDECODABLE
from services.common.messaging.events import decode
from services.common.messaging.subjects import all_subjects, stream_name
from services.common.persistence.database import (
    KERNEL_MIGRATIONS,
    create_database_engine,
    migrate,
    read_session,
)
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.site_view import handlers
from services.site_view.checksum import ViewChecksum, view_checksum
from services.site_view.tables import ChangeLogRow, WatermarkRow

log = logging.getLogger(__name__)

# The view's schema (the same migrations as services/site_view/__main__.py applies).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FETCH_BATCH = 256
FETCH_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 5.0
# The ephemeral consumer goes away this long after the replay stops pulling (a crash included).
INACTIVE_THRESHOLD_S = 30.0
# Told (messages read, messages to read) after each batch.
OnProgress = Callable[[int, int], None]


class NotFresh(Exception):
    """The database already holds a view: a rebuild writes into an empty one only."""


@dataclass
class Replayed:
    """What a rebuild read and applied, and the rebuilt view's checksum."""

    first_sequence: int = 0
    last_sequence: int = 0  # the stream's last sequence when the replay began
    to_read: int = 0  # messages in the stream then
    read: int = 0
    applied: int = 0  # events taken in through the inbox (heartbeats and readings not counted)
    undecodable: int = 0  # not one of our events: skipped, as the live view skips them
    failed: list[int] = field(default_factory=list)  # stream sequences not applied
    checksum: ViewChecksum | None = None


def open_fresh_view(database_url: str) -> Engine:
    """The view's schema in a database that holds no view yet; NotFresh if it holds one."""
    engine = create_database_engine(database_url, sqlite_synchronous="NORMAL")
    migrate(engine, KERNEL_MIGRATIONS, MIGRATIONS)
    with read_session(engine) as session:
        held = session.execute(select(func.count()).select_from(WatermarkRow)).scalar_one()
        held += session.execute(select(func.count()).select_from(ChangeLogRow)).scalar_one()
    if held:
        engine.dispose()
        raise NotFresh(f"{database_url} already holds a site view")
    return engine


async def rebuild(
    *, nats_url: str, site: str, database_url: str, on_progress: OnProgress = lambda _r, _t: None,
) -> Replayed:
    """Reads ``site``'s stream from its first sequence to its last at the start, applies every
    event to a fresh view at ``database_url``, and checksums it."""
    engine = open_fresh_view(database_url)
    writer = Writer(engine, site)
    client = await asyncio.wait_for(
        nats.connect(nats_url, connect_timeout=CONNECT_TIMEOUT_S, max_reconnect_attempts=3),
        CONNECT_TIMEOUT_S * 2,
    )
    writer.start()
    try:
        replayed = await _replay(client.jetstream(), writer, site, on_progress)
    finally:
        await writer.stop()
        await client.close()
    try:
        with read_session(engine) as session:
            replayed.checksum = view_checksum(session)
    finally:
        engine.dispose()
    return replayed


async def _replay(
    js: JetStreamContext, writer: Writer, site: str, on_progress: OnProgress
) -> Replayed:
    stream = stream_name(site)
    state = (await js.stream_info(stream)).state
    replayed = Replayed(
        first_sequence=state.first_seq, last_sequence=state.last_seq, to_read=state.messages
    )
    if state.first_seq > 1:
        log.warning("the stream %s begins at sequence %d: what its limits dropped is not "
                    "replayed", stream, state.first_seq)
    on_progress(0, replayed.to_read)
    if state.messages == 0:
        return replayed
    subscription = await js.pull_subscribe(
        all_subjects(), stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE,
            inactive_threshold=INACTIVE_THRESHOLD_S, mem_storage=True,
        ),
    )
    try:
        reached = 0
        while reached < state.last_seq:
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
            except TimeoutError:
                info = await subscription.consumer_info()
                if info.num_pending == 0:
                    break  # nothing left (the last messages were deleted meanwhile)
                continue
            reached = await _take_in(writer, messages, replayed, state.last_seq)
            on_progress(replayed.read, replayed.to_read)
    finally:
        await subscription.unsubscribe()
    return replayed


async def _take_in(
    writer: Writer, messages: list[Msg], replayed: Replayed, last_sequence: int
) -> int:
    """Applies the batch's events up to ``last_sequence`` in one transaction (one at a time
    should that fail, like the live consumer); returns the highest sequence seen."""
    items: list[tuple[int, handlers.ReplicaEvent]] = []
    reached = 0
    for msg in messages:
        sequence = msg.metadata.sequence.stream
        reached = max(reached, sequence)
        if sequence > last_sequence:
            continue  # published after the replay began: the live view's, not ours
        replayed.read += 1
        try:
            items.append(
                (sequence, handlers.replica_event(decode(msg.subject, msg.headers, msg.data,
                                                         sequence)))
            )
        except UNDECODABLE as exc:
            log.error("poison message %s (stream sequence %d) skipped: %r", msg.subject,
                      sequence, exc)
            replayed.undecodable += 1
    if not items:
        return reached
    events = [item for _, item in items]
    try:
        replayed.applied += await writer.run(lambda uow: handlers.apply_events(uow, events))
    except Exception as exc:
        log.warning("a batch of %d events failed (%r); one at a time", len(items), exc)
        for sequence, item in items:
            try:
                replayed.applied += await writer.run(functools.partial(_apply_one, item))
            except Exception:
                log.exception("the event at stream sequence %d not applied", sequence)
                replayed.failed.append(sequence)
    return reached


def _apply_one(item: handlers.ReplicaEvent, uow: UnitOfWork) -> int:
    return handlers.apply_events(uow, [item])
