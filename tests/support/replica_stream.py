"""A stream of a few thousand events about many lots of both sites, as the site view's
consumer would take it in, for the tests of WatchChanges and the view's checksum."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from twinline.batchrecords.v1 import batch_pb2 as batch_pb
from twinline.conjugation.v1 import run_pb2
from twinline.releasetesting.v1 import disposition_pb2 as disposition_pb
from twinline.releasetesting.v1 import sample_pb2 as sample_pb

from services.common.messaging.events import OutboxEvent, decode
from services.common.persistence.writer import Writer
from services.site_view import handlers
from tests.support.replica_events import (
    T0,
    batch_at,
    batch_created,
    created,
    disposition_decided,
    disposition_of_batch,
    latest_reading,
    run_at,
    run_created,
    sample_at,
    sample_changed,
)

FETCHED = 256  # events per transaction, as the live consumer fetches them


@dataclass(frozen=True)
class Published:
    """One event as the stream holds it: its sequence, and whether it is a change."""

    sequence: int
    event: OutboxEvent
    change: bool


def events_of_lot(number: int) -> Iterator[tuple[OutboxEvent, bool]]:
    """Six events about one batch (of Syracuse or Songdo): five changes and a latest reading,
    which is none."""
    site, code = ("syracuse", "SYR") if number % 2 == 0 else ("songdo", "SDO")
    batch_id = f"{code}-B-2026-{number:05d}"
    at = T0 + timedelta(seconds=number)
    yield created(1, at, record_id=f"SYR-MBR-{number:06d}"), True
    yield batch_created(batch_at(1, batch_pb.BATCH_STATE_CREATED, [], batch_id=batch_id,
                                 home_site=site), at), True
    run = run_at(1, run_pb2.PHASE_SETUP, run_id=f"{code}-CR-{number:06d}", home_site=site,
                 batch_id=batch_id)
    yield run_created(run, at), True
    yield latest_reading(number, 21.5, run_id=run.run_id, site=site, time=at), False
    yield sample_changed(sample_at(1, sample_pb.RESULT_STATE_ENTERED,
                                   sample_id=f"{code}-S-2026-{number:05d}", home_site=site,
                                   batch_id=batch_id), time=at), True
    yield disposition_decided(disposition_of_batch(1, disposition_pb.DISPOSITION_DECISION_RELEASED,
                                                   batch_id=batch_id, home_site=site), at), True


def stream_of(lots: int, first_sequence: int = 1, first_lot: int = 0) -> list[Published]:
    """Every lot's events in sequence; every tenth lot's batch event delivered twice (the
    second copy is no change: the inbox drops it)."""
    published: list[Published] = []
    sequence = first_sequence
    for number in range(first_lot, first_lot + lots):
        for event, change in events_of_lot(number):
            published.append(Published(sequence, event, change))
            sequence += 1
        if number % 10 == 0:
            published.append(Published(sequence, published[-5].event, False))
            sequence += 1
    return published


async def apply(
    writer: Writer, published: Sequence[Published], *, pause: float = 0.0, fetched: int = FETCHED
) -> None:
    """Takes ``published`` in as the live consumer would, ``fetched`` events per transaction."""
    for start in range(0, len(published), fetched):
        items = [
            handlers.replica_event(decode(p.event.subject, p.event.headers, p.event.payload,
                                          p.sequence))
            for p in published[start:start + fetched]
        ]
        await writer.run(lambda uow, items=items: handlers.apply_events(uow, items))
        if pause:
            await asyncio.sleep(pause)


def tokens(published: Sequence[Published]) -> list[str]:
    return [str(p.sequence) for p in published if p.change]
