"""Downsampling into buckets, checked against figures worked by hand."""

from __future__ import annotations

import pytest

from services.conjugation.readings.domain.buckets import Bucket, buckets

S = 1_000_000


def test_buckets_of_ten_seconds_by_hand() -> None:
    # 0 s: 1, 2, 6 -> count 3, min 1, max 6, mean 3
    # 10 s: (none)  -> no bucket
    # 20 s: 4, -2   -> count 2, min -2, max 4, mean 1
    # 30 s: 7.5     -> count 1
    times = [0, 3 * S, 9 * S + 999_999, 20 * S, 29 * S, 30 * S]
    values = [1.0, 2.0, 6.0, 4.0, -2.0, 7.5]
    # Given in two runs (two chunks), split inside the 20 s bucket.
    found = list(buckets([(times[:4], values[:4]), (times[4:], values[4:])], 10 * S))
    assert found == [
        Bucket(0, 3, 1.0, 6.0, 3.0), Bucket(20 * S, 2, -2.0, 4.0, 1.0),
        Bucket(30 * S, 1, 7.5, 7.5, 7.5),
    ]


def test_buckets_align_on_the_origin() -> None:
    found = list(buckets([([5 * S, 14 * S, 15 * S], [1.0, 3.0, 5.0])], 10 * S, origin_us=5 * S))
    assert found == [Bucket(5 * S, 2, 1.0, 3.0, 2.0), Bucket(15 * S, 1, 5.0, 5.0, 5.0)]


def test_a_bucket_has_a_positive_width() -> None:
    with pytest.raises(ValueError, match="positive"):
        list(buckets([], 0))
