"""The stored form of a moment: written by to_text, read back by from_text, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.common.domain.clock import from_text, to_text


def test_a_moment_reads_back_as_written_in_utc() -> None:
    moment = datetime(2026, 11, 25, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=9)))
    text = to_text(moment)
    assert text == "2026-11-25T14:59:58.123456Z"
    assert from_text(text) == moment
    assert from_text(text).tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25 14:59:58.123456Z",  # space for T
        "2026-11-25T14:59:58.123456+00:00",  # offset instead of Z
        "2026-11-25T14:59:58Z",  # no microseconds
        "2026-11-25T14:59:58.123456",  # no zone
        "2026-13-25T14:59:58.123456Z",  # no such month
        "",
    ],
)
def test_any_other_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        from_text(text)
