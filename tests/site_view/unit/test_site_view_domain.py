"""The site view's rules: the newest revision of a record version or of a batch wins;
watermarks only move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.site_view import domain

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def version(revision: int, state: str = "draft") -> domain.ReplicaVersion:
    return domain.ReplicaVersion(
        record_id="SYR-MBR-000001", version=1, home_site="syracuse", state=state,
        revision=revision,
    )


def test_the_first_state_of_a_version_is_taken() -> None:
    assert domain.supersedes(version(1), None)


def test_a_newer_revision_replaces_the_stored_one() -> None:
    assert domain.supersedes(version(3, "approved"), version(2, "in_review"))


@pytest.mark.parametrize("revision", [1, 2], ids=["stale", "duplicate"])
def test_a_stale_or_repeated_revision_is_ignored(revision: int) -> None:
    assert not domain.supersedes(version(revision), version(2, "in_review"))


def test_events_in_any_order_leave_the_newest_state() -> None:
    stored: domain.ReplicaVersion | None = None
    for incoming in [version(2, "in_review"), version(4, "effective"), version(1), version(3)]:
        if domain.supersedes(incoming, stored):
            stored = incoming
    assert stored == version(4, "effective")


def test_revision_is_read_from_the_etag() -> None:
    assert domain.revision_of("2-7", 2) == 7


@pytest.mark.parametrize("etag", ["", "7", "2-", "-7", "2-x", "3-7"])
def test_a_malformed_etag_is_refused(etag: str) -> None:
    with pytest.raises(ValueError):
        domain.revision_of(etag, 2)


def batch(revision: int, state: str = "in_progress") -> domain.ReplicaBatch:
    return domain.ReplicaBatch(
        batch_id="SYR-B-2026-00042", home_site="syracuse", state=state, revision=revision
    )


def test_the_first_state_of_a_batch_is_taken() -> None:
    assert domain.supersedes(batch(1, "created"), None)


def test_a_newer_batch_revision_replaces_the_stored_one() -> None:
    assert domain.supersedes(batch(8, "on_hold"), batch(7))


@pytest.mark.parametrize("revision", [6, 7], ids=["stale", "duplicate"])
def test_a_stale_or_repeated_batch_revision_is_ignored(revision: int) -> None:
    assert not domain.supersedes(batch(revision), batch(7))


def test_batch_events_in_any_order_leave_the_newest_state() -> None:
    stored: domain.ReplicaBatch | None = None
    arrivals = [batch(2), batch(10, "approved"), batch(9, "in_review"), batch(1, "created")]
    for incoming in arrivals:
        if domain.supersedes(incoming, stored):
            stored = incoming
    assert stored == batch(10, "approved")


def test_revisions_compare_as_numbers_not_text() -> None:
    # "10" < "9" as text: the etag must be read as a number.
    assert domain.batch_revision_of("10") > domain.batch_revision_of("9")


@pytest.mark.parametrize("etag", ["", "-1", "1-7", "7.0", " 7", "x", "\u0667"])
def test_a_malformed_batch_etag_is_refused(etag: str) -> None:
    with pytest.raises(ValueError):
        domain.batch_revision_of(etag)


def test_watermark_counts_and_moves_to_the_event() -> None:
    mark = domain.advance(domain.Watermark("songdo"), event_time=T0, stream_sequence=5)
    mark = domain.advance(mark, event_time=T0 + timedelta(seconds=1), stream_sequence=9)
    assert mark == domain.Watermark("songdo", T0 + timedelta(seconds=1), 9, 2)


def test_watermark_never_moves_back_for_a_late_event() -> None:
    mark = domain.Watermark("songdo", T0, 9, 2)
    later = domain.advance(mark, event_time=T0 - timedelta(seconds=5), stream_sequence=4)
    assert (later.last_event_time, later.stream_sequence, later.events_applied) == (T0, 9, 3)


def test_age_is_none_before_any_event_and_never_negative() -> None:
    assert domain.age(domain.Watermark("songdo"), T0) is None
    mark = domain.Watermark("songdo", T0, 1, 1)
    assert domain.age(mark, T0 + timedelta(milliseconds=40)) == timedelta(milliseconds=40)
    # The origin's clock ahead of ours.
    assert domain.age(mark, T0 - timedelta(milliseconds=3)) == timedelta(0)


INTERVAL = timedelta(seconds=5)


def beat(mark: domain.Watermark, at: datetime, sequence: int = 7) -> domain.Watermark:
    return domain.heard(mark, sent_time=at, last_sequence=sequence, interval=INTERVAL)


def test_an_idle_site_that_sends_heartbeats_reads_current() -> None:
    mark = domain.advance(domain.Watermark("syracuse"), event_time=T0, stream_sequence=3)
    mark = beat(mark, T0 + timedelta(hours=2))
    now = T0 + timedelta(hours=2, seconds=4)
    assert domain.age(mark, now) == timedelta(hours=2, seconds=4)
    assert domain.lag(mark, now) == timedelta(seconds=4)
    assert domain.is_current(mark, now)


def test_a_site_silent_for_more_than_its_staleness_reads_stale_and_lag_grows() -> None:
    mark = beat(domain.Watermark("songdo"), T0)
    later = T0 + INTERVAL * domain.STALE_AFTER_INTERVALS + timedelta(seconds=1)
    assert not domain.is_current(mark, later)
    assert domain.lag(mark, later + timedelta(minutes=1)) > domain.lag(mark, later)  # type: ignore[operator]


def test_without_a_heartbeat_a_view_is_not_current() -> None:
    mark = domain.advance(domain.Watermark("syracuse"), event_time=T0, stream_sequence=3)
    assert domain.lag(mark, T0) == timedelta(0)
    assert not domain.is_current(mark, T0)
    assert domain.lag(domain.Watermark("syracuse"), T0) is None


def test_an_older_heartbeat_does_not_take_the_mark_back_and_is_no_event() -> None:
    mark = beat(domain.Watermark("syracuse"), T0 + timedelta(seconds=10), sequence=9)
    assert beat(mark, T0, sequence=4) == mark
    assert mark.events_applied == 0 and mark.origin_last_sequence == 9
