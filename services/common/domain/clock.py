"""Time in one place: UTC, aware, and settable in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds, the form stored and hashed."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


TEXT_LENGTH = len("2026-01-01T00:00:00.000000Z")


def from_text(text: str) -> datetime:
    """The moment ``to_text`` wrote; ValueError for any other form."""
    # fromisoformat is an order of magnitude cheaper than strptime (this runs per event taken
    # in), but accepts more forms: the shape is checked first.
    if len(text) != TEXT_LENGTH or text[10] != "T" or text[19] != "." or text[-1] != "Z":
        raise ValueError(f"{text!r} is not a UTC time in the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return datetime.fromisoformat(text)
