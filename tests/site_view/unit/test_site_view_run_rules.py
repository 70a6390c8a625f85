"""The view's rules for conjugation runs and their latest readings: which revision and which
point it keeps, how it reads a run or reading event, and the text it stores a phase as."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from twinline.conjugation.v1 import run_pb2
from twinline.events.v1 import conjugation_events_pb2 as conjugation_events

from services.site_view import domain, handlers
from services.site_view.translate import phase_text
from tests.support.replica_events import (
    BATCH_ID,
    RUN_ID,
    SITE,
    T0,
    TAG,
    conjugation_event,
    latest_reading,
    phase_started,
    received,
    run_at,
)


def run(revision: int, phase: str = "reduction") -> domain.ReplicaRun:
    return domain.ReplicaRun(RUN_ID, SITE, BATCH_ID, phase, revision)


def point(time_us: int, value: float = 25.0) -> domain.LatestReading:
    return domain.LatestReading(RUN_ID, TAG, time_us, value, "Cel")


def test_a_newer_run_revision_replaces_the_stored_one() -> None:
    assert domain.supersedes(run(3), run(2))
    assert domain.supersedes(run(1), None)


@pytest.mark.parametrize("revision", [1, 2])
def test_a_stale_or_repeated_run_revision_is_ignored(revision: int) -> None:
    assert not domain.supersedes(run(revision), run(2))


def test_a_run_revision_is_its_decimal_etag() -> None:
    assert domain.run_revision_of("17") == 17


@pytest.mark.parametrize("etag", ["", "1-2", "x", "٣"])
def test_a_malformed_run_etag_is_refused(etag: str) -> None:
    with pytest.raises(ValueError):
        domain.run_revision_of(etag)


def test_only_a_later_point_replaces_the_latest_reading() -> None:
    assert domain.is_later_reading(point(2), point(1))
    assert domain.is_later_reading(point(1), None)
    # The same point again (a redelivery), or an earlier one arriving late, changes nothing.
    assert not domain.is_later_reading(point(2, 99.0), point(2))
    assert not domain.is_later_reading(point(1), point(2))


def test_an_event_that_skips_the_inbox_moves_the_watermark_but_is_not_counted() -> None:
    mark = domain.advance(domain.Watermark(SITE), event_time=T0, stream_sequence=4)
    later = T0 + timedelta(seconds=5)
    after = domain.advance(mark, event_time=later, stream_sequence=9, applied=0)
    assert (after.last_event_time, after.stream_sequence, after.events_applied) == (later, 9, 1)


def test_a_phase_is_stored_as_plain_text_and_an_unknown_one_kept() -> None:
    assert phase_text(run_pb2.PHASE_CONJUGATION) == "conjugation"
    assert phase_text(42) == "unknown_42"
    assert phase_text(run_pb2.PHASE_UNSPECIFIED) == "unknown_0"


def test_every_run_event_of_conjugation_is_replicated() -> None:
    run_events = {
        message.full_name
        for name, message in conjugation_events.DESCRIPTOR.message_types_by_name.items()
        if name.startswith("Run")
    }
    assert run_events and handlers.RUN_EVENT_TYPES == run_events


def test_a_run_event_carries_the_run_its_batch_phase_and_revision() -> None:
    taken = handlers.replica_event(received(phase_started(run_at(3, run_pb2.PHASE_QUENCH), T0)))
    assert taken.replica_run == domain.ReplicaRun(RUN_ID, SITE, BATCH_ID, "quench", 3)
    assert taken.run is not None and taken.run.name == f"conjugationRuns/{RUN_ID}"
    assert taken.latest is None and taken.replica_batch is None


@pytest.mark.parametrize(
    "change",
    [
        {"run_id": ""}, {"home_site": ""}, {"etag": "v1"}, {"batch": "SYR-B-2026-00042"},
        {"batch": "batches/"}, {"run_id": "X" * 65},
    ],
)
def test_a_malformed_run_is_refused(change: dict[str, str]) -> None:
    malformed = run_at(1, run_pb2.PHASE_SETUP)
    for field, value in change.items():
        setattr(malformed, field, value)
    event = conjugation_event(
        conjugation_events.RunCreated(run=malformed), "run", "created", T0, site=SITE,
        ce_subject=malformed.name,
    )
    with pytest.raises(ValueError):
        handlers.replica_event(received(event))


def test_a_latest_reading_names_its_run_tag_time_and_value() -> None:
    taken = handlers.replica_event(received(latest_reading(1_000_000, 24.5)))
    assert taken.latest == domain.LatestReading(RUN_ID, TAG, 1_000_000, 24.5, "Cel")
    assert taken.replica_run is None


@pytest.mark.parametrize(
    "event",
    [
        latest_reading(1, math.nan), latest_reading(1, math.inf), latest_reading(1, 2.0, tag=""),
        latest_reading(1, 2.0, run_id="not-a-run"),
    ],
    ids=["nan", "infinite", "no tag", "no run"],
)
def test_a_malformed_latest_reading_is_refused(event: object) -> None:
    with pytest.raises(ValueError):
        handlers.replica_event(received(event))  # type: ignore[arg-type]
