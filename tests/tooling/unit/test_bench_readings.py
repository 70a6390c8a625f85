"""The bench's readings figures: the points a stream writes, and the verdicts drawn from them."""

from __future__ import annotations

import itertools

import pytest

from bench.__main__ import READINGS_CASES, in_echo_calls, readings_case
from bench.conjugation import tag_name
from bench.readings import HIGH_LIMIT, LOW_LIMIT, StreamFigures, TagSource


def test_a_tags_times_rise_strictly_across_its_messages() -> None:
    source = TagSource("conjugationRuns/SYR-R-000001", "bench.s1", start_us=1_000, interval_us=7)
    messages = [source.message(100) for _ in range(5)] + [source.message(1)]
    points = [point for message in messages for point in message.points]
    times = [point.time_us for point in points]
    assert len(points) == source.sent == 501
    assert times[0] == 1_000
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    assert {point.tag for point in points} == {"bench.s1"}
    assert all(LOW_LIMIT < point.value < HIGH_LIMIT and point.unit == "Cel" for point in points)
    assert {message.run for message in messages} == {"conjugationRuns/SYR-R-000001"}


def test_every_stream_of_every_case_and_round_has_its_own_tag() -> None:
    names = [tag_name(round_number, per_message, streams, stream)
             for round_number in (1, 2) for per_message, streams in READINGS_CASES
             for stream in range(1, streams + 1)]
    assert len(set(names)) == len(names) == 20


def test_an_answer_short_of_what_was_written_is_a_mismatch() -> None:
    written = StreamFigures("t", sent=500, received=500, stored=500, duplicates=0)
    assert not written.mismatch
    assert StreamFigures("t", sent=500, received=500, stored=400, duplicates=100).mismatch
    assert StreamFigures("t", sent=500, error="UNAVAILABLE: gone").mismatch


def test_a_streams_figure_is_what_its_answer_says_stored_over_the_calls_life() -> None:
    answered = StreamFigures("t", sent=600, sent_in_window=500, received=600, stored=600,
                             duplicates=0, started=10.0, answered=16.0)
    assert answered.ingested_per_s() == pytest.approx(100.0)  # not 500 written / 5 s
    assert StreamFigures("t", sent=600, started=10.0, error="UNAVAILABLE").ingested_per_s() == 0


def run(target: str, per_message: int, streams: int, points: int, *, mismatches: int = 0,
        cores: float = 1.0) -> dict[str, object]:
    """A run of ``streams`` calls, each storing points / streams in 6 s (1 s of warm-up and a
    5 s window), in which they wrote ``points`` / 2."""
    return {
        "target": target, "points_per_message": per_message, "streams": streams,
        "duration_s": 5.0, "points_stored": points, "ingest_s": 6.0 * streams,
        "ingested_points_per_s_per_stream": points / 6.0 / streams,
        "points_in_window": points // 2, "points_per_s_per_stream": points / 10.0 / streams,
        "mismatches": mismatches, "errors": [],
        "client_cpu_cores": 0.5, "per_stream": [{"answer_s": 0.1}],
        "cpu": {"cores_by_process": {}, "cores_ours": cores, "cores_machine": cores,
                "cores_others": 0.0},
    }


def test_a_batched_case_is_judged_on_its_ratio_and_its_rate_per_stream() -> None:
    runs = [run("sink", 100, 4, 4 * 6 * 150_000), run("service", 100, 4, 4 * 6 * 60_000),
            run("service", 1, 1, 6)]
    case = readings_case(runs, 100, 4)
    assert case["service"]["ingested_points_per_s_per_stream"] == pytest.approx(60_000)
    assert case["service"]["written_points_per_s_per_stream"] == pytest.approx(36_000)
    assert case["sink"]["ingested_points_per_s_per_stream"] == pytest.approx(150_000)
    assert case["ratio"] == pytest.approx(0.4)
    assert case["ratio_met"] is False
    assert case["rate_met"] is True
    # 1 core over 240,000 points/s
    assert case["service"]["cpu_us_per_point"] == pytest.approx(4.17)


def test_one_point_a_message_has_no_rate_target_and_a_mismatch_no_verdict() -> None:
    unbatched = readings_case([run("sink", 1, 1, 60_000), run("service", 1, 1, 36_000)], 1, 1)
    assert unbatched["ratio"] == pytest.approx(0.6)
    assert unbatched["ratio_met"] is True
    assert unbatched["rate_met"] is None
    mismatched = readings_case(
        [run("sink", 1, 1, 60_000), run("service", 1, 1, 36_000, mismatches=1)], 1, 1
    )
    assert mismatched["ratio_met"] is False


def test_a_calls_cpu_in_echo_calls() -> None:
    assert in_echo_calls({"ms_per_request": 2.3, "echo_ms_per_request": 0.46}) == 5.0
    assert in_echo_calls({"ms_per_request": None, "echo_ms_per_request": 0.46}) is None
