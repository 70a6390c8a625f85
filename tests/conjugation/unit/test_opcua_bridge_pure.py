"""The OPC UA bridge's pure parts: a data change as a point, what each answer of the service
does to the buffer's points, and the configuration's refusals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.conjugation.opcua_bridge.config import ConfigError, load_config
from services.conjugation.opcua_bridge.delivery import Outcome, Verdict, deliver
from services.conjugation.opcua_bridge.points import (
    NotAReading,
    Point,
    PointQuality,
    point_of,
    quality_of,
    time_us_of,
)

T = datetime(2026, 12, 3, 6, 0, 0, 250_001, tzinfo=UTC)
T_US = 1_796_277_600_250_001


@pytest.mark.parametrize(("status_code", "quality"), [
    (0x00000000, PointQuality.GOOD),  # Good
    (0x00A30000, PointQuality.GOOD),  # GoodClamped: severity bits 00
    (0x40000000, PointQuality.UNCERTAIN),  # Uncertain
    (0x408F0000, PointQuality.UNCERTAIN),  # UncertainEngineeringUnitsExceeded
    (0x80000000, PointQuality.BAD),  # Bad
    (0x808A0000, PointQuality.BAD),  # BadNotConnected
    (0xC0000000, PointQuality.BAD),  # severity 11 is reserved: never taken as good
])
def test_quality_is_the_status_codes_severity(status_code: int, quality: PointQuality) -> None:
    assert quality_of(status_code) is quality


def test_source_time_in_microseconds_naive_taken_as_utc() -> None:
    assert time_us_of(T) == T_US
    assert time_us_of(T.replace(tzinfo=None)) == T_US
    assert time_us_of(T.astimezone(ZoneInfo("Asia/Seoul"))) == T_US


def test_numbers_become_points_and_what_is_no_number_is_refused() -> None:
    assert point_of("R201.TT01", "Cel", 21, T, 0) == Point(
        "R201.TT01", T_US, 21.0, "Cel", PointQuality.GOOD)
    assert point_of("R201.TT01", "Cel", None, T, 0x808A0000).quality is PointQuality.BAD
    assert point_of("R201.TT01", "Cel", math.nan, T, 0x40000000) == Point(
        "R201.TT01", T_US, 0.0, "Cel", PointQuality.BAD)
    for value in ("21.5", True, [1.0], math.inf, math.nan, None):
        with pytest.raises(NotAReading, match=r"R201\.TT01"):
            point_of("R201.TT01", "Cel", value, T, 0)


def _held(tags: str) -> list[tuple[int, Point]]:
    """One point per letter: the letter is its tag ("x" is bad), its index its buffer id."""
    return [(index, Point(tag, T_US + index, float(index), "Cel", PointQuality.GOOD))
            for index, tag in enumerate(tags)]


class Service:
    """Refuses every call holding a point of tag "x" (the whole tag, or per point only those
    of odd ids); unreachable after ``up_for`` calls."""

    def __init__(self, *, per_point: bool = False, up_for: int = 1_000) -> None:
        self.calls: list[list[int]] = []
        self.per_point = per_point
        self.up_for = up_for

    async def send(self, points: Sequence[Point]) -> Outcome:
        self.calls.append([int(p.value) for p in points])
        if len(self.calls) > self.up_for:
            return Outcome(Verdict.UNREACHABLE, "UNAVAILABLE: down")
        bad = [p for p in points if p.tag == "x" and (not self.per_point or int(p.value) % 2)]
        if bad:
            return Outcome(Verdict.REFUSED, "FAILED_PRECONDITION: x", of_tag=not self.per_point)
        return Outcome(Verdict.STORED)


async def _deliver(held: list[tuple[int, Point]], service: Service
                   ) -> tuple[bool, list[int], list[int]]:
    acknowledged: list[int] = []
    refused: list[int] = []
    done = await deliver(held, service.send, acknowledged=acknowledged.extend,
                         refused=lambda ids, reason: refused.extend(ids))
    return done, acknowledged, refused


async def test_every_point_stored_in_one_call_when_the_service_takes_them() -> None:
    service = Service()
    assert await _deliver(_held("aabab"), service) == (True, [0, 1, 2, 3, 4], [])
    assert service.calls == [[0, 1, 2, 3, 4]]


async def test_a_refused_tag_is_set_aside_whole_in_one_call_and_each_other_tag_goes_through(
) -> None:
    service = Service()
    done, acknowledged, refused = await _deliver(_held("axbxxa"), service)
    assert (done, sorted(acknowledged), refused) == (True, [0, 2, 5], [1, 3, 4])
    assert service.calls == [[0, 1, 2, 3, 4, 5], [0, 5], [1, 3, 4], [2]]


async def test_points_refused_one_by_one_are_found_by_halving_the_tag() -> None:
    service = Service(per_point=True)
    done, acknowledged, refused = await _deliver(_held("xxxxxxxx"), service)
    assert (done, sorted(acknowledged), sorted(refused)) == (True, [0, 2, 4, 6], [1, 3, 5, 7])
    assert len(service.calls) <= 2 * 8


async def test_an_unreachable_service_stops_the_delivery_keeping_what_was_done() -> None:
    service = Service(up_for=3)
    done, acknowledged, refused = await _deliver(_held("axbc"), service)
    assert (done, acknowledged, refused) == (False, [0], [1])
    assert service.calls[-1] == [2]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return path


GOOD = """run = "conjugationRuns/SYR-CR-000001"
buffer = "bridge.db"
[opcua]
endpoint = "opc.tcp://127.0.0.1:4840"
[service]
address = "127.0.0.1:50061"
username = "syracuse.mes"
[[node]]
node_id = "ns=2;s=R201.TT01"
tag = "R201.TT01"
unit = "Cel"
"""


def test_a_good_file_loads_with_its_defaults(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, GOOD))
    assert (config.run, config.node[0].tag, config.opcua.queue_size) == (
        "conjugationRuns/SYR-CR-000001", "R201.TT01", 1_000)


def test_a_bad_file_is_refused_naming_every_bad_field(tmp_path: Path) -> None:
    bad = (GOOD.replace("conjugationRuns/SYR-CR-000001", "SYR-CR-000001")
           .replace("opc.tcp://", "http://").replace('tag = "R201.TT01"', 'tag = "R 201"')
           + "flush_interval_seconds = 0\n")
    with pytest.raises(ConfigError) as refused:
        load_config(_config(tmp_path, bad))
    message = str(refused.value)
    for field in ("run:", "opcua.endpoint:", "node[0].tag:"):
        assert field in message, message


def test_a_node_or_tag_mapped_twice_is_refused(tmp_path: Path) -> None:
    twice = GOOD + '[[node]]\nnode_id = "ns=2;s=R201.TT01"\ntag = "R201.TT02"\nunit = "Cel"\n'
    with pytest.raises(ConfigError, match=r"each node_id once; repeated: ns=2;s=R201\.TT01"):
        load_config(_config(tmp_path, twice))


def test_a_missing_or_broken_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not TOML"):
        load_config(_config(tmp_path, "run = "))


def test_the_password_comes_from_its_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWINLINE_BRIDGE_PASSWORD", raising=False)
    config = load_config(_config(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="no password"):
        config.password()
    monkeypatch.setenv("TWINLINE_BRIDGE_PASSWORD", "from-env")
    assert config.password() == "from-env"
    (tmp_path / "secret").write_text("from-file\n")
    with_file = GOOD.replace('username = "syracuse.mes"',
                             f'username = "syracuse.mes"\npassword_file = "{tmp_path / "secret"}"')
    assert load_config(_config(tmp_path, with_file)).password() == "from-file"
