"""Chunks of one tag: packing round trip, merge by time, deduplication, boundaries."""

from __future__ import annotations

import itertools
import random

from services.conjugation.readings.domain.chunks import (
    CHUNK_POINTS,
    CHUNK_SPAN_US,
    Chunk,
    Packed,
    TagChunks,
    decode_qualities,
    decode_times,
    decode_values,
    encode_qualities,
    encode_times,
    encode_values,
)

T0 = 1_772_614_800_000_000  # 2026-03-04T09:00:00Z in µs


def stored(chunks: list[Packed]) -> list[tuple[int, float, int]]:
    """Every point the packed chunks hold, in order."""
    points = []
    for packed in sorted(chunks, key=lambda chunk: chunk.start_us):
        points += list(zip(decode_times(packed.times), decode_values(packed.values),
                           decode_qualities(packed.qualities), strict=True))
    return points


def merge_into(existing: list[Packed], times: list[int], values: list[float]) -> tuple[
    list[Packed], int, int
]:
    """Merges, then returns every chunk as it is afterwards (changed or not)."""
    merged = TagChunks(existing).merge(times, values, [1] * len(times))
    changed = {chunk.start_us: chunk.packed() for chunk in merged.chunks}
    kept = [chunk for chunk in existing if chunk.start_us not in changed]
    return kept + list(changed.values()), merged.stored, merged.duplicates


def test_packed_arrays_round_trip_with_delta_encoded_times() -> None:
    times = [T0, T0 + 1, T0 + 1_000_000, T0 + 1_000_000, -5, 2**62]
    assert list(decode_times(encode_times(times))) == times
    # Deltas, little-endian: the second 8 bytes hold 1, not the absolute time.
    assert encode_times([T0, T0 + 1])[8:] == (1).to_bytes(8, "little")
    values = [0.0, -1.5, 1e300, 25.125]
    assert list(decode_values(encode_values(values))) == values
    assert list(decode_qualities(encode_qualities([0, 1, 2, 3]))) == [0, 1, 2, 3]


def test_points_stored_once_whatever_the_order_and_resends() -> None:
    random.seed(7)
    times = [T0 + index * 100_000 for index in range(10_000)]  # 10 per second, 1,000 s
    values = [float(index) for index in range(10_000)]
    shuffled = list(zip(times, values, strict=True))
    random.shuffle(shuffled)
    chunks: list[Packed] = []
    total_stored = 0
    for start in range(0, len(shuffled), 700):
        part = shuffled[start:start + 700]
        chunks, stored_now, duplicates = merge_into(
            chunks, [time for time, _ in part], [value for _, value in part]
        )
        total_stored += stored_now
        assert duplicates == 0
    assert total_stored == 10_000
    assert stored(chunks) == [(time, value, 1) for time, value in zip(times, values, strict=True)]
    # The same points again: every one a duplicate, nothing changes.
    again, stored_again, duplicates = merge_into(chunks, times, values)
    assert (stored_again, duplicates) == (0, 10_000)
    assert stored(again) == stored(chunks)
    # Every chunk within its bounds, none overlapping the next.
    ordered = sorted(chunks, key=lambda chunk: chunk.start_us)
    for chunk, following in itertools.pairwise(ordered):
        assert chunk.count <= CHUNK_POINTS
        assert chunk.end_us - chunk.start_us < CHUNK_SPAN_US
        assert chunk.end_us < following.start_us


def test_a_time_given_twice_in_one_merge_is_one_point_and_one_duplicate() -> None:
    merged = TagChunks([]).merge([T0, T0, T0 + 1], [1.0, 2.0, 3.0], [1, 1, 1])
    assert (merged.stored, merged.duplicates) == (2, 1)
    assert stored([chunk.packed() for chunk in merged.chunks]) == [(T0, 1.0, 1), (T0 + 1, 3.0, 1)]


def test_a_chunk_is_4096_points_or_10_minutes_of_one_tag() -> None:
    one_khz = [T0 + index * 1000 for index in range(CHUNK_POINTS + 10)]
    merged = TagChunks([]).merge(one_khz, [0.0] * len(one_khz), [1] * len(one_khz))
    assert [len(chunk) for chunk in merged.chunks] == [CHUNK_POINTS, 10]
    assert merged.chunks[1].start_us == one_khz[CHUNK_POINTS]
    slow = [T0, T0 + CHUNK_SPAN_US - 1, T0 + CHUNK_SPAN_US]  # the third is 10 minutes later
    merged = TagChunks([]).merge(slow, [0.0] * 3, [1] * 3)
    assert [(chunk.start_us, len(chunk)) for chunk in merged.chunks] == [
        (T0, 2), (T0 + CHUNK_SPAN_US, 1)
    ]


def test_a_late_point_inside_a_full_chunk_splits_it() -> None:
    times = [T0 + index * 10 for index in range(CHUNK_POINTS)]
    full = Chunk(T0)
    for time in times:
        full.insert(time, 1.0, 1)
    packed = full.packed()
    merged = TagChunks([packed]).merge([T0 + 5], [2.0], [1])
    assert merged.stored == 1
    after = [chunk.packed() for chunk in merged.chunks]
    assert sorted(chunk.count for chunk in after) == [CHUNK_POINTS // 2, CHUNK_POINTS // 2 + 1]
    assert [time for time, _, _ in stored(after)] == sorted([*times, T0 + 5])
    # The first half keeps its start (its row is updated); the second is a new chunk.
    assert {chunk.start_us for chunk in merged.chunks if chunk.before is not None} == {T0}


def test_a_point_before_every_chunk_starts_one_of_its_own() -> None:
    first = TagChunks([]).merge([T0 + 1000], [1.0], [1]).chunks[0].packed()
    merged = TagChunks([first]).merge([T0, T0 + 1000], [0.5, 9.0], [1, 1])
    assert (merged.stored, merged.duplicates) == (1, 1)
    assert [chunk.start_us for chunk in merged.chunks] == [T0]  # the old one is unchanged


def test_digest_is_sha256_of_the_packed_arrays() -> None:
    import hashlib

    packed = TagChunks([]).merge([T0, T0 + 5], [1.0, 2.0], [1, 3]).chunks[0].packed()
    assert packed.digest == hashlib.sha256(
        encode_times([T0, T0 + 5]) + encode_values([1.0, 2.0]) + encode_qualities([1, 3])
    ).hexdigest()
    assert (packed.low, packed.high, packed.count, packed.end_us) == (1.0, 2.0, 2, T0 + 5)
